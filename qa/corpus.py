"""Articles: read files (.txt, .md, .html) into ``Article`` records.

An article's id is its file name's stem. A leading ``date YYYY-MM-DD`` header is metadata
(the publication date), not body text; an article without one has no date, and none is invented.
Character offsets elsewhere in qa (chunks, citations) index into ``Article.body``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from qa.errors import ArticleError

__all__ = [
    "Article",
    "ARTICLE_SUFFIXES",
    "read_article",
    "parse_article",
    "find_article_files",
    "load_articles",
    "article_from_text",
]

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
MAX_ARTICLE_BYTES = 5_000_000

_DATE_HEADER = re.compile(r"\A\s*date:?[ \t]+(\d{4})-(\d{2})-(\d{2})\b[ \t]*\n?[ \t]*", re.IGNORECASE)
_MAX_TITLE_CHARS = 160
_HTML_BLOCKS = ["p", "div", "section", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol",
                "blockquote", "pre", "table", "tr", "td", "th", "dl", "dt", "dd", "figure",
                "figcaption", "hr", "address"]


@dataclass(frozen=True)
class Article:
    """One news article: its id, title, body text and publication date (None when unknown)."""

    article_id: str
    title: str
    body: str
    published: date | None = None
    source: str = ""
    content_hash: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", _content_hash(self))


def _content_hash(article: Article) -> str:
    """Hash of what the index depends on; file times and paths are left out on purpose."""
    normalized = " ".join(unicodedata.normalize("NFC", article.body).split())
    published = article.published.isoformat() if article.published else ""
    payload = "\x1f".join([article.title, published, normalized])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def article_from_text(article_id: str, text: str, source: str = "", title: str | None = None,
                      published: date | None = None) -> Article:
    """Build an Article from plain text, reading a leading ``date YYYY-MM-DD`` header if present."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    header = _DATE_HEADER.match(body)
    if header:
        try:
            published = published or date(*(int(part) for part in header.groups()))
        except ValueError as exc:
            raise ArticleError(source or article_id, f"bad date header: {exc}") from exc
        body = body[header.end():]
    body = body.strip()
    if not body:
        raise ArticleError(source or article_id, "the article has no text")
    return Article(
        article_id=article_id,
        title=title or _title_of(body),
        body=body,
        published=published,
        source=source,
    )


def _title_of(body: str) -> str:
    """The headline (a short first line without a full stop) or else the first sentence."""
    first_line = body.split("\n", 1)[0].strip().lstrip("#").strip()
    if first_line and len(first_line) <= _MAX_TITLE_CHARS and not first_line.endswith("."):
        return first_line
    from qa.sentences import sentence_spans

    spans = sentence_spans(first_line)
    first_sentence = first_line[spans[0][0]:spans[0][1]].strip() if spans else first_line
    if len(first_sentence) > _MAX_TITLE_CHARS:
        first_sentence = first_sentence[: _MAX_TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return first_sentence


def _decode(path: Path, raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise ArticleError(path, "this is a binary file, not a text article")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArticleError(
            path, f"not valid UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from exc


def _html_article(path: Path, html: str, source: str) -> Article:
    # BeautifulSoup rather than a regex: real pages nest scripts, comments and entities.
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside"]):
        tag.decompose()
    heading = soup.find("h1")
    title_tag = soup.find("title")
    title = (heading or title_tag).get_text(" ", strip=True) if (heading or title_tag) else None
    published = _html_date(soup)
    container = soup.find("article") or soup.body or soup
    # Paragraphs end at block elements only: get_text("\n") would also break at every inline
    # tag, cutting "approved <a>the harbour</a> on March 1" into three paragraphs.
    for line_break in container.find_all("br"):
        line_break.replace_with("\n\n")
    for block in container.find_all(_HTML_BLOCKS):
        block.insert_before("\n\n")
        block.insert_after("\n\n")
    blocks = (" ".join(block.split()) for block in re.split(r"\n\s*\n", container.get_text()))
    paragraphs = "\n\n".join(block for block in blocks if block)
    return article_from_text(path.stem, paragraphs, source=source, title=title or None,
                             published=published)


def _html_date(soup) -> date | None:
    candidates = [
        meta.get("content", "")
        for meta in soup.find_all("meta")
        if meta.get("property") in ("article:published_time", "og:published_time")
        or meta.get("name") in ("date", "pubdate", "publish-date", "article:published_time")
    ]
    candidates += [tag.get("datetime", "") for tag in soup.find_all("time")]
    for value in candidates:
        match = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})", value or "")
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                continue
    return None


def read_article(path: str | Path) -> Article:
    """Read one article file. Raises ArticleError when it is missing, binary or not UTF-8."""
    path = Path(path)
    if not path.exists():
        raise ArticleError(path, "no such file or folder")
    if not path.is_file():
        raise ArticleError(path, "not a file")
    if path.suffix.lower() not in ARTICLE_SUFFIXES:
        raise ArticleError(path, f"unsupported file type; use one of {', '.join(ARTICLE_SUFFIXES)}")
    try:
        size = path.stat().st_size
        if size > MAX_ARTICLE_BYTES:
            raise ArticleError(path, f"{size} bytes is over the {MAX_ARTICLE_BYTES}-byte limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise ArticleError(path, f"cannot be read ({exc.strerror})") from exc
    return parse_article(path, raw)


def parse_article(path: Path, raw: bytes, source: str | None = None) -> Article:
    """An article from a file's bytes: ``path`` gives its id (the stem) and type (the suffix),
    ``source`` where it is kept (default: ``path``). Raises ArticleError for binary or non-UTF-8."""
    text = _decode(path, raw)
    source = str(path) if source is None else source
    if path.suffix.lower() in (".html", ".htm"):
        return _html_article(path, text, source)
    return article_from_text(path.stem, text, source=source)


def find_article_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (searched recursively) into article files, sorted, no duplicates.

    Raises ArticleError for a path that does not exist.
    """
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise ArticleError(path, "no such file or folder")
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in ARTICLE_SUFFIXES \
                        and not child.name.startswith("."):
                    found[child.resolve()] = None
        else:
            found[path.resolve()] = None
    return list(found)


def load_articles(paths: Iterable[str | Path]) -> tuple[list[Article], list[ArticleError]]:
    """Read every article under ``paths``; bad files are returned as errors, not raised."""
    articles: list[Article] = []
    problems: list[ArticleError] = []
    for path in find_article_files(paths):
        try:
            articles.append(read_article(path))
        except ArticleError as problem:
            problems.append(problem)
    return articles, problems
