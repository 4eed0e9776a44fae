"""The chat app (Gradio): answers that cite their sources, a sources panel, and the library.

Each answer is one chat message holding its own citations: the markers [1], [2] in the text,
a short reference list under it, and the citation data (article id and character span) in
the message's HTML. So a conversation restored from the browser's saved history, or scrolled
back through, still knows what each of its markers cites. Clicking a marker shows the cited
passages in the sources panel beside the chat, each highlighted in its article.

Article text is untrusted: every piece of it is HTML-escaped here, before Gradio sees it.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
from bs4 import BeautifulSoup

from qa.answer import Answer, Citation
from qa.chat import chat_with_history
from qa.citations import MARKER
from qa.corpus import ARTICLE_SUFFIXES, read_article
from qa.errors import ArticleError, QAError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.pool import AssistantPool

__all__ = ["build_ui", "mount_ui", "render_answer", "render_sources", "EXAMPLE_QUESTIONS"]

EXAMPLE_QUESTIONS = [
    "On what date did Blinken host the Armenian and Azerbaijani foreign ministers at Blair House?",
    "Where did Bayramov and Mirzoyan meet on June 27?",
    "What did Jake Sullivan say about the talks?",
    "What did Ned Price say after the November talks?",
]
"""Questions the seed articles answer, offered to a first-time user."""

CONTEXT_CHARS = 280
"""Article text shown on each side of a quote in the sources panel."""

MAX_SOURCES_PAYLOAD = 100_000
"""Largest citation list (JSON characters) the sources panel accepts from the browser."""

_BACKEND_CHOICES = [
    ("Extractive: quotes the best sentences (no model, instant)", "extractive"),
    ("Local model: SmolLM2 on this machine", "local"),
    ("OpenAI-compatible server", "openai"),
]

_EMPTY_PANEL = (
    '<div class="qa-panel-empty"><div class="qa-panel-icon">❝</div>'
    "<p><b>Sources appear here.</b></p>"
    "<p>Every answer cites verbatim passages from the articles. Click a marker such as "
    '<span class="qa-marker-sample">1</span> in an answer to read the passage in its article.</p>'
    "</div>"
)


# --- rendering (pure functions of an answer and the library) -------------------------------------
def _escape(text: str) -> str:
    """Escaped text that keeps its line breaks inside an HTML block (a blank line would end
    the block in the chat's Markdown renderer)."""
    return html.escape(text).replace("\r", "").replace("\n", "<br>")


def _published(value: date | str | None) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if value else None
        except ValueError:
            return value
    return f"{value.day} {value:%B %Y}" if value else "date unknown"


def _citation_data(citation: Citation) -> dict[str, Any]:
    return {"marker": citation.marker, "article_id": citation.article_id, "title": citation.title,
            "published": citation.published.isoformat() if citation.published else None,
            "quote": citation.quote, "start": citation.start, "end": citation.end}


def _short(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def render_answer(answer: Answer) -> str:
    """One chat message: the answer with clickable markers, its references, and its citation
    data (hidden, for the sources panel)."""
    cited = {citation.marker: citation for citation in answer.citations}

    def marker_link(match) -> str:
        number = int(match.group(1))
        citation = cited.get(number)
        if citation is None:
            return match.group(0)
        return (f'<a class="qa-marker" href="#qa-source-{number}" '
                f'title="{html.escape(_short(citation.title, 90))}">{number}</a>')

    text = MARKER.sub(lambda m: m.group(0)[: -len(m.group(0).lstrip())] + marker_link(m),
                      html.escape(answer.text))
    text = text.replace("\r", "").replace("\n", "<br>")
    payload = {"question": answer.question,
               "citations": [_citation_data(c) for c in answer.citations]}
    classes = "qa-answer qa-abstained" if answer.abstained else "qa-answer"
    # The chat sanitizes messages and drops data-* attributes: the citation data rides along
    # as the text of a hidden element instead.
    parts = [f'<div class="{classes}"><div class="qa-text">{text}</div>',
             f'<span class="qa-data">{html.escape(json.dumps(payload, ensure_ascii=False))}</span>']
    if answer.citations:
        items = "".join(
            f'<li><a class="qa-marker qa-ref-marker" href="#qa-source-{c.marker}">{c.marker}</a> '
            f'<span class="qa-ref-title">'
            f"{html.escape(_short(c.title, 90))}</span> "
            f'<span class="qa-ref-date">{_published(c.published)}</span></li>'
            for c in answer.citations
        )
        parts.append(f'<ol class="qa-refs">{items}</ol>')
    notes = []
    if answer.abstained:
        notes.append("None of the indexed articles answers this. Rephrase the question, or add "
                     "articles in the Library tab.")
    if answer.repaired and not answer.warning:
        notes.append("Checked against the sources: claims they do not support were removed.")
    notes.append(f"{answer.backend} backend")
    if answer.warning:
        parts.append(f'<div class="qa-warning">⚠ {_escape(answer.warning)}</div>')
    parts.append(f'<div class="qa-meta">{" · ".join(html.escape(n) for n in notes)}</div>')
    parts.append("</div>")
    return "".join(parts)


def render_draft(text: str) -> str:
    """A generated answer while it streams, before it is checked against the sources."""
    return (f'<div class="qa-draft"><div class="qa-text">{_escape(text)}<span class="qa-cursor">'
            '</span></div><div class="qa-meta">writing… then checking every claim against '
            "the sources</div></div>")


def render_error(error: Exception) -> str:
    """A problem with one question, shown in place of its answer."""
    return (f'<div class="qa-error"><b>Could not answer.</b> {_escape(str(error))}</div>')


class ArticleTexts:
    """Full article bodies by id, read from the library files and cached by content hash."""

    def __init__(self, pool: AssistantPool) -> None:
        self._pool = pool
        self._cache: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def body(self, article_id: str) -> str | None:
        """The article's body (citation offsets index into it), or None if it is not indexed."""
        record = next((r for r in self._pool.articles() if r.article_id == article_id), None)
        if record is None:
            return None
        with self._lock:
            cached = self._cache.get(article_id)
        if cached and cached[0] == record.content_hash:
            return cached[1]
        body = self._pool.default.article_body(record)
        if body is None:
            return None
        with self._lock:
            self._cache[article_id] = (record.content_hash, body)
        return body


@dataclass(frozen=True)
class _Span:
    start: int
    end: int


def _locate(body: str, quote: str, start: int, end: int) -> _Span | None:
    """Where the quote is in the body: at its recorded offsets, or else found by search
    (the article was edited since the answer)."""
    if 0 <= start < end <= len(body) and body[start:end] == quote:
        return _Span(start, end)
    found = body.find(quote) if quote else -1
    return _Span(found, found + len(quote)) if found >= 0 else None


def _context_bounds(body: str, span: _Span, reach: int = CONTEXT_CHARS) -> tuple[int, int]:
    """The article text around the quote: up to ``reach`` characters each side, cut at a word."""
    left = span.start - reach
    if left <= 0:
        left = 0
    else:
        breaks = [body.find(mark, left, span.start) for mark in (" ", "\n")]
        left = min((b + 1 for b in breaks if b >= 0), default=left)
    right = span.end + reach
    if right >= len(body):
        right = len(body)
    else:
        right = max(body.rfind(" ", span.end, right), body.rfind("\n", span.end, right), span.end)
    return left, right


def _marked(body: str, span: _Span, left: int, right: int) -> str:
    return (html.escape(body[left:span.start]) + "<mark>" + html.escape(body[span.start:span.end])
            + "</mark>" + html.escape(body[span.end:right]))


def render_sources(question: str, citations: list[dict[str, Any]], focus: int | None,
                   texts: ArticleTexts) -> str:
    """The sources panel: each cited passage highlighted in its surrounding article text,
    with the article's title and date, and the whole article one click away."""
    if not citations:
        return _EMPTY_PANEL
    cards = []
    for citation in citations:
        marker = int(citation["marker"])
        quote = str(citation.get("quote", ""))
        body = texts.body(str(citation.get("article_id", "")))
        span = _locate(body, quote, int(citation.get("start", -1)), int(citation.get("end", -1))) \
            if body is not None else None
        if span is None:
            passage = f"<mark>{html.escape(quote)}</mark>"
            article = ('<p class="qa-gone">This article has been changed or removed since the '
                       "answer was given.</p>")
        else:
            left, right = _context_bounds(body, span)
            passage = (("…" if left > 0 else "") + _marked(body, span, left, right)
                       + ("…" if right < len(body) else ""))
            article = ('<details class="qa-full"><summary>Read the whole article</summary>'
                       f'<div class="qa-article">{_marked(body, span, 0, len(body))}</div>'
                       "</details>")
        focused = " qa-focus" if marker == focus else ""
        cards.append(
            f'<section class="qa-source{focused}" id="qa-source-{marker}" data-marker="{marker}">'
            f'<div class="qa-source-head"><span class="qa-badge">{marker}</span><div>'
            f'<div class="qa-source-title">{html.escape(str(citation.get("title", "")))}</div>'
            f'<div class="qa-source-meta">{html.escape(_published(citation.get("published")))}'
            f' · <code>{html.escape(str(citation.get("article_id", "")))}</code></div></div></div>'
            f'<blockquote class="qa-passage">{passage}</blockquote>{article}</section>'
        )
    heading = (f'<div class="qa-panel-head">Sources for <q>{html.escape(_short(question, 120))}</q>'
               "</div>") if question else ""
    return f'<div class="qa-panel">{heading}{"".join(cards)}</div>'


# --- conversation ---------------------------------------------------------------------------------
def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content
                       if isinstance(part, dict) and part.get("type", "text") == "text")
    return content if isinstance(content, str) else ""


def _answer_text(content: str) -> str | None:
    """The answer's plain text in a chat message; None for an error or an unfinished draft."""
    if "<" not in content:
        return content
    soup = BeautifulSoup(content, "html.parser")
    if soup.select_one(".qa-error, .qa-draft"):
        return None
    text = soup.select_one(".qa-answer .qa-text")
    return (text or soup).get_text()


def exchanges_from_history(history: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (question, answer text) pairs of a chat box's messages, leaving out failed ones."""
    exchanges: list[tuple[str, str]] = []
    asked: str | None = None
    for message in history:
        if message.get("role") == "user":
            asked = _message_text(message)
        elif message.get("role") == "assistant" and asked is not None:
            answer = _answer_text(_message_text(message))
            if answer is not None:
                exchanges.append((asked, answer))
            asked = None
    return exchanges


# --- the app --------------------------------------------------------------------------------------
_CSS = """
.gradio-container { max-width: 1400px !important; }
#qa-header { padding: 4px 2px 0; }
#qa-header h1 { font-size: 1.6rem; margin: 0; letter-spacing: -0.01em; }
#qa-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); }
.qa-data { display: none !important; }
.qa-answer .qa-text, .qa-draft .qa-text { line-height: 1.55; }
a.qa-marker { display: inline-block; min-width: 1.35em; padding: 0 0.35em; margin: 0 1px;
  border-radius: 0.7em; background: var(--color-accent-soft); color: var(--color-accent) !important;
  font-size: 0.78em; font-weight: 700; line-height: 1.5; text-align: center;
  text-decoration: none !important; vertical-align: 0.15em; cursor: pointer;
  border: 1px solid var(--color-accent); }
a.qa-marker:hover, a.qa-marker:focus { background: var(--color-accent); color: white !important; }
.qa-marker-sample { display: inline-block; padding: 0 0.4em; border-radius: 0.7em;
  border: 1px solid var(--color-accent); color: var(--color-accent); font-size: 0.8em;
  font-weight: 700; }
ol.qa-refs { list-style: none; margin: 0.6em 0 0 !important; padding: 0.5em 0 0 !important;
  border-top: 1px solid var(--border-color-primary); font-size: 0.86em; }
ol.qa-refs li { margin: 0.15em 0; }
.qa-ref-title { font-weight: 600; }
.qa-ref-date, .qa-meta { color: var(--body-text-color-subdued); }
.qa-meta { font-size: 0.78em; margin-top: 0.45em; }
.qa-abstained .qa-text { font-style: italic; }
.qa-draft .qa-text { color: var(--body-text-color-subdued); }
.qa-cursor::after { content: "▍"; animation: qa-blink 1s steps(1) infinite; }
@keyframes qa-blink { 50% { opacity: 0; } }
.qa-warning { font-size: 0.86em; margin-top: 0.5em; padding: 0.35em 0.6em; border-radius: 6px;
  color: var(--body-text-color); background: var(--color-accent-soft);
  border-left: 3px solid var(--error-border-color); }
.qa-error { color: var(--error-text-color); background: var(--error-background-fill);
  border: 1px solid var(--error-border-color); border-radius: 6px; padding: 0.5em 0.7em; }
.qa-answer.qa-active { outline: 2px solid var(--color-accent-soft); outline-offset: 6px;
  border-radius: 4px; }
#qa-sources { position: sticky; top: 8px; max-height: calc(100vh - 24px); overflow-y: auto; }
.qa-panel-head { font-size: 0.9em; color: var(--body-text-color-subdued); margin: 2px 0 10px; }
.qa-panel-head q { color: var(--body-text-color); font-weight: 600; }
.qa-panel-empty { text-align: center; color: var(--body-text-color-subdued); padding: 48px 24px;
  border: 1px dashed var(--border-color-primary); border-radius: 10px; }
.qa-panel-icon { font-size: 2.2rem; line-height: 1; opacity: 0.5; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 12px 14px;
  margin-bottom: 12px; background: var(--block-background-fill); scroll-margin-top: 8px;
  transition: box-shadow 0.3s, border-color 0.3s; }
.qa-source.qa-focus { border-color: var(--color-accent);
  box-shadow: 0 0 0 3px var(--color-accent-soft); }
.qa-source-head { display: flex; gap: 10px; align-items: flex-start; }
.qa-badge { flex: none; width: 1.7em; height: 1.7em; border-radius: 50%;
  background: var(--color-accent); color: white; font-weight: 700; font-size: 0.85em; display: flex;
  align-items: center; justify-content: center; }
.qa-source-title { font-weight: 600; line-height: 1.3; }
.qa-source-meta { font-size: 0.8em; color: var(--body-text-color-subdued); margin-top: 2px; }
.qa-source-meta code { font-size: 0.95em; background: none; padding: 0; }
blockquote.qa-passage { margin: 10px 0 6px !important; padding: 2px 0 2px 12px !important;
  border-left: 3px solid var(--border-color-primary); white-space: pre-wrap; font-size: 0.92em;
  line-height: 1.55; }
.qa-source mark { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.dark .qa-source mark { background: #854d0e; }
details.qa-full summary { cursor: pointer; font-size: 0.85em; color: var(--color-accent); }
.qa-article { position: relative; white-space: pre-wrap; font-size: 0.88em; line-height: 1.55;
  max-height: 420px; overflow-y: auto; margin-top: 6px; padding: 8px 10px; border-radius: 6px;
  background: var(--background-fill-secondary); }
.qa-gone { font-size: 0.85em; color: var(--body-text-color-subdued); }
#qa-chat-bar { align-items: center; }
#qa-articles table, #qa-articles td, #qa-articles th { font-family: var(--font) !important; }
.qa-hint { font-size: 0.85em; color: var(--body-text-color-subdued); }
#qa-upload-status .qa-ok { color: var(--color-accent); }
#qa-upload-status ul { margin: 4px 0; }
"""

# Runs once when the sources panel loads: a click on any marker, in any message, asks the
# server for that answer's sources (``show_sources``) and shows them with the marker's in view.
_PANEL_JS = """
if (window.__qaMarkerClick) document.removeEventListener('click', window.__qaMarkerClick, true);
window.__qaMarkerClick = async (event) => {
  const marker = event.target.closest && event.target.closest('a.qa-marker');
  if (!marker) return;
  const answer = marker.closest('.qa-answer');
  if (!answer) return;
  event.preventDefault();
  event.stopPropagation();
  document.querySelectorAll('.qa-answer.qa-active').forEach((a) => a.classList.remove('qa-active'));
  answer.classList.add('qa-active');
  const focus = Number((marker.getAttribute('href') || '').replace(/^.*-/, ''));
  const data = answer.querySelector('.qa-data');
  props.value = await server.show_sources(data ? data.textContent : '', focus);
  setTimeout(() => {
    const card = element.querySelector('.qa-source.qa-focus');
    if (card) card.scrollIntoView({block: 'nearest', behavior: 'smooth'});
  }, 60);
};
document.addEventListener('click', window.__qaMarkerClick, true);
// Opening a whole article scrolls it to the highlighted quote.
if (!window.__qaArticleToggle) {
  window.__qaArticleToggle = (event) => {
    const details = event.target;
    if (!details.matches || !details.matches('details.qa-full') || !details.open) return;
    const article = details.querySelector('.qa-article');
    const mark = article && article.querySelector('mark');
    if (mark) article.scrollTop = Math.max(0, mark.offsetTop - 24);
  };
  document.addEventListener('toggle', window.__qaArticleToggle, true);
}
"""


def _header(pool: AssistantPool) -> str:
    count = len(pool.articles())
    return ("<h1>qa · ask the news</h1>"
            f"<p>{count} article{'s' if count != 1 else ''} indexed. Answers are short, and every "
            "claim cites a verbatim passage you can check.</p>")


def _settings_label(backend: str, top_k: float) -> str:
    return f"Settings · {backend} backend, {int(top_k)} passages"


def _article_rows(pool: AssistantPool) -> list[list[Any]]:
    return [[record.title, _published(record.published), record.chunks, record.article_id]
            for record in pool.articles()]


def build_ui(pool: AssistantPool) -> gr.Blocks:
    """The Gradio app over ``pool``: Chat (with settings and sources) and Library tabs."""
    settings = pool.settings
    texts = ArticleTexts(pool)

    def show_sources(arguments: list[Any]) -> str:
        """The sources panel for one answer's citation data (from its message), called from
        the page as ``server.show_sources(data, marker)``: Gradio passes the arguments as a list."""
        payload, focus = (list(arguments) + [None, None])[:2] \
            if isinstance(arguments, (list, tuple)) else (arguments, None)
        if not isinstance(payload, str) or len(payload) > MAX_SOURCES_PAYLOAD:
            return _EMPTY_PANEL
        try:
            data = json.loads(payload)
            citations = [c for c in data.get("citations", []) if isinstance(c, dict)]
            return render_sources(str(data.get("question", "")), citations,
                                  int(focus) if focus is not None else None, texts)
        except (ValueError, TypeError, AttributeError, KeyError):
            return _EMPTY_PANEL

    def respond(message: str, history: list[dict[str, Any]], backend: str, top_k: float,
                base_url: str, model: str) -> Iterator[tuple[str, Any]]:
        """Stream the answer to ``message`` in the conversation so far."""
        use_openai = backend == "openai"
        try:
            assistant = pool.get(backend=backend, top_k=int(top_k),
                                 openai_base_url=base_url.strip() if use_openai else None,
                                 openai_model=model.strip() if use_openai else None)
            chat = chat_with_history(assistant, exchanges_from_history(history))
            draft = ""
            for item in chat.stream(message):
                if isinstance(item, Answer):
                    # The panel shows the newest answer's sources; one without keeps the last.
                    payload = [_citation_data(c) for c in item.citations]
                    panel = render_sources(item.question, payload, payload[0]["marker"], texts) \
                        if payload else gr.skip()
                    yield render_answer(item), panel
                else:
                    draft += item
                    yield render_draft(draft), gr.skip()
        except QAError as error:
            yield render_error(error), gr.skip()

    def ask(question: str, backend: str = "", top_k: int = 0) -> dict[str, Any]:
        """Answer one question (no chat history): the answer's text, with markers [1], [2],
        and its citations. ``backend`` and ``top_k`` default to the server's settings."""
        try:
            assistant = pool.get(backend=backend or None, top_k=top_k or None)
            return assistant.ask(question).to_dict()
        except QAError as error:
            raise gr.Error(str(error)) from error

    def add_uploads(files: list[str] | None, progress=gr.Progress()) -> tuple[str, Any, Any, None]:
        """Check the uploaded files and index the good ones."""
        paths = [Path(f) for f in files or []]
        accepted: list[Path] = []
        problems: list[str] = []
        for path in paths:
            name = html.escape(path.name)
            size = path.stat().st_size if path.exists() else 0
            if path.suffix.lower() not in ARTICLE_SUFFIXES:
                problems.append(f"<b>{name}</b>: not an article file; upload "
                                f"{', '.join(ARTICLE_SUFFIXES)} text files")
            elif size > settings.max_upload_bytes:
                problems.append(f"<b>{name}</b>: {size:,} bytes is over the "
                                f"{settings.max_upload_bytes:,}-byte limit (QA_MAX_UPLOAD_BYTES)")
            else:
                try:
                    read_article(path)
                    accepted.append(path)
                except ArticleError as problem:
                    problems.append(f"<b>{name}</b>: {html.escape(problem.reason)}")
        added = 0
        if accepted:
            progress(0, desc="Indexing")

            def embedded(done: int, total: int) -> None:
                progress(done / total if total else 1.0, desc=f"Embedding {done}/{total} chunks")

            try:
                result = pool.add_articles(accepted, progress=embedded)
            except QAError as error:
                problems.append(html.escape(str(error)))
            else:
                problems += [f"<b>{html.escape(Path(p.path).name)}</b>: {html.escape(p.reason)}"
                             for p in result.skipped]
                added = len(result.report.added) + len(result.report.updated)
        lines = []
        if added:
            lines.append(f'<p class="qa-ok">✓ Added {added} article{"s" if added != 1 else ""}. '
                         "You can ask about {} now.</p>".format("it" if added == 1 else "them"))
        elif accepted and not problems:
            lines.append('<p class="qa-ok">✓ Already in the library, unchanged.</p>')
        if problems:
            lines.append("<p><b>Not added:</b></p><ul>" + "".join(f"<li>{p}</li>" for p in problems)
                         + "</ul>")
            gr.Warning(f"{len(problems)} file{'s' if len(problems) != 1 else ''} not added; "
                       "see the Library tab")
        return "".join(lines), _article_rows(pool), _header(pool), None

    with gr.Blocks(title="qa · ask the news", analytics_enabled=False) as app:
        header = gr.HTML(_header(pool), elem_id="qa-header")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row(equal_height=False):
                    chat_column = gr.Column(scale=3, min_width=420)
                    with gr.Column(scale=2, min_width=320):
                        # Rendered before the chat, so that the chat takes them as they are
                        # rather than putting them in an accordion of its own under the box.
                        with gr.Accordion(_settings_label(settings.backend, settings.top_k),
                                          open=False, elem_id="qa-settings") as settings_box:
                            backend = gr.Radio(_BACKEND_CHOICES, value=settings.backend,
                                               label="Answer backend")
                            base_url = gr.Textbox(settings.openai_base_url or "",
                                                  label="OpenAI-compatible base URL",
                                                  placeholder="http://127.0.0.1:8000/v1",
                                                  visible=settings.backend == "openai")
                            model = gr.Textbox(settings.openai_model, label="Model",
                                               visible=settings.backend == "openai")
                            top_k = gr.Slider(1, 20, value=settings.top_k, step=1,
                                              label="Passages retrieved (top_k)",
                                              info="How many passages the answer step reads.")
                        sources = gr.HTML(_EMPTY_PANEL, elem_id="qa-sources", js_on_load=_PANEL_JS,
                                          server_functions=[show_sources])
                    with chat_column:
                        with gr.Row(elem_id="qa-chat-bar"):
                            gr.HTML('<span class="qa-hint">Follow-up questions use the '
                                    "conversation so far.</span>")
                            new_chat = gr.Button("New chat", size="sm", scale=0, min_width=110,
                                                 elem_id="qa-new-chat")
                        # No copy buttons on messages: they would copy a message's HTML.
                        chat = gr.ChatInterface(
                            respond,
                            chatbot=gr.Chatbot(
                                elem_id="qa-chat", show_label=False, height="64vh",
                                placeholder="**Ask a question about the news articles.**<br>"
                                            "Each answer cites its sources; click a marker to "
                                            "read the passage.",
                                latex_delimiters=[], buttons=[], feedback_options=None,
                                sanitize_html=True, render_markdown=True, line_breaks=False),
                            textbox=gr.Textbox(
                                placeholder="Ask about the articles…", show_label=False,
                                submit_btn=True, stop_btn=True, autofocus=True, max_lines=6,
                                elem_id="qa-question"),
                            additional_inputs=[backend, top_k, base_url, model],
                            additional_outputs=[sources],
                            examples=[[question] for question in EXAMPLE_QUESTIONS],
                            api_name="chat",
                            api_description="The chat: a question and the chat history in, the "
                                            "answer as an HTML chat message out.",
                            fill_height=False,
                        )
            with gr.Tab("Library", id="library"):
                gr.Markdown(
                    f"Add news articles as **.txt**, **.md** or **.html** files (up to "
                    f"{settings.max_upload_bytes / 1_048_576:.1f} MB each). They are indexed as "
                    "soon as the upload finishes, and can be asked about right away. A first "
                    "line `date YYYY-MM-DD` in a text file gives its publication date.")
                upload = gr.File(label="Add articles", file_count="multiple", type="filepath",
                                 file_types=list(ARTICLE_SUFFIXES), height=140, elem_id="qa-upload")
                status = gr.HTML(elem_id="qa-upload-status")
                table = gr.Dataframe(_article_rows(pool),
                                     headers=["Title", "Published", "Chunks", "Id"],
                                     datatype=["str", "str", "number", "str"], interactive=False,
                                     wrap=True, label="Indexed articles", elem_id="qa-articles",
                                     column_widths=["58%", "16%", "8%", "18%"])
        backend.change(lambda choice: (gr.update(visible=choice == "openai"),) * 2, backend,
                       [base_url, model], queue=False, api_visibility="undocumented")
        gr.on([backend.change, top_k.change], lambda choice, k: gr.update(
            label=_settings_label(choice, k)), [backend, top_k], settings_box, queue=False,
            api_visibility="undocumented")

        # The conversation is kept in the browser, so a reload brings it back, each answer with
        # its citations (they are part of its message). An empty chat box is not saved: every
        # page shows one before the saved conversation is restored; "New chat" and the chat's
        # clear button empty the saved conversation instead.
        saved = gr.BrowserState([], storage_key="qa-conversation")
        conversation = [chat.chatbot, chat.chatbot_state, chat.chatbot_value]
        app.load(lambda history: (history or [],) * 3, saved, conversation, queue=False,
                 api_visibility="undocumented")
        chat.chatbot.change(lambda history: history if history else gr.skip(), chat.chatbot,
                            saved, queue=False, trigger_mode="always_last",
                            show_progress="hidden", api_visibility="undocumented")
        new_chat.click(lambda: ([], [], [], _EMPTY_PANEL, []), None,
                       conversation + [sources, saved], queue=False, api_visibility="undocumented")
        chat.chatbot.clear(lambda: (_EMPTY_PANEL, []), None, [sources, saved], queue=False,
                           api_visibility="undocumented")

        upload.upload(add_uploads, upload, [status, table, header, upload],
                      api_name="add_articles",
                      api_description="Add article files (.txt, .md, .html) to the library.")
        app.load(lambda: (_article_rows(pool), _header(pool)), None, [table, header],
                 queue=False, api_visibility="undocumented")
        gr.api(ask, api_name="ask")
    app.queue(default_concurrency_limit=8)
    return app


def mount_ui(app: FastAPI, pool: AssistantPool,
             auth: tuple[str, str] | None = None) -> FastAPI:
    """Mount the chat app at ``/`` of ``app``; ``auth`` is a (user, password) login."""
    # Fonts shipped with Gradio (no font CDN). Not its SemiBold: that file lacks most letters.
    font = gr.themes.LocalFont("Source Sans Pro", weights=(400, 700))
    theme = gr.themes.Default(primary_hue="indigo", secondary_hue="blue", neutral_hue="slate",
                              font=[font, "ui-sans-serif", "system-ui", "sans-serif"])
    return gr.mount_gradio_app(
        app, build_ui(pool), path="/", auth=auth,
        auth_message="qa: sign in with the login given to `qa serve --auth`." if auth else None,
        theme=theme, css=_CSS, footer_links=["api"], show_error=True, ssr_mode=False,
        max_file_size=pool.settings.max_upload_bytes, mcp_server=False, pwa=False,
        run_history=False,
    )
