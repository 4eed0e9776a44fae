"""The chat app in a real browser: headless Chromium (Debian's ``chromium`` package) driven by
Playwright, against ``qa serve`` running as a process.

It asks a question, clicks a citation marker, finds the quote highlighted in the sources panel,
and saves a screenshot (evals/reports/ui-screenshot.png, and one in the test's tmp dir).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.browser.qa_server import REPO, running_server, seed_article_count

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
QUESTION = ("On what date did Blinken host the Armenian and Azerbaijani foreign ministers "
            "at Blair House?")
BLAIR_HOUSE_ARTICLE = "003_079379c1789fc1ad"
SCREENSHOT = REPO / "evals" / "reports" / "ui-screenshot.png"
ANSWER_SECONDS = 60

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")


@pytest.fixture
def server(data_dir, tmp_path):
    with running_server(data_dir, tmp_path / "serve") as running:
        yield running
    assert running.outside_connections() == []


@pytest.fixture
def page(server):
    """A browser page on the app; any request outside loopback is blocked and fails the test."""
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    page_errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})

        def only_loopback(route) -> None:
            url = route.request.url
            if url.startswith((server.url, "data:", "blob:")):
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", only_loopback)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page.set_default_timeout(ANSWER_SECONDS * 1000)
        page.goto(server.url + "/")
        page.wait_for_selector("#qa-question textarea")
        yield page
        browser.close()
    assert outside == [], f"the page tried to reach the network: {outside}"
    assert page_errors == [], f"errors in the page: {page_errors}"


def ask(page, question: str) -> None:
    answers = page.locator("#qa-chat .qa-answer, #qa-chat .qa-error").count()
    page.fill("#qa-question textarea", question)
    page.keyboard.press("Enter")
    page.locator("#qa-chat .qa-answer, #qa-chat .qa-error").nth(answers).wait_for()


def citation_data(answer) -> dict:
    return json.loads(answer.locator(".qa-data").text_content())


def words(text: str) -> str:
    return " ".join(text.split())


def save_screenshot(page, tmp_path: Path) -> Path:
    shot = tmp_path / "ui-screenshot.png"
    page.screenshot(path=str(shot))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)
    print(f"\nscreenshot: {SCREENSHOT} (and {shot})")
    return shot


def test_answer_marker_opens_the_highlighted_passage(page, tmp_path):
    ask(page, QUESTION)
    answer = page.locator("#qa-chat .qa-answer").last
    assert "November 7" in answer.locator(".qa-text").inner_text()
    data = citation_data(answer)
    cited = next(c for c in data["citations"] if c["article_id"] == BLAIR_HOUSE_ARTICLE)

    answer.locator(f'.qa-text a.qa-marker[href="#qa-source-{cited["marker"]}"]').click()
    card = page.locator(f"#qa-sources .qa-source.qa-focus#qa-source-{cited['marker']}")
    card.wait_for()
    highlighted = card.locator("blockquote.qa-passage mark")
    assert words(highlighted.inner_text()) == words(cited["quote"])
    assert words(cited["title"]) in words(card.locator(".qa-source-title").inner_text())
    assert "date unknown" in card.locator(".qa-source-meta").inner_text()  # 003 has no date

    card.locator("details.qa-full summary").click()
    article = card.locator(".qa-article")
    article.wait_for()
    assert words(cited["quote"]) in words(article.locator("mark").inner_text())
    assert len(article.inner_text()) > len(cited["quote"])
    save_screenshot(page, tmp_path)


def test_citations_stay_with_their_answers(page):
    ask(page, QUESTION)
    ask(page, "What did Jake Sullivan say about the talks?")
    first, second = page.locator("#qa-chat .qa-answer").all()[:2]
    assert citation_data(first)["question"] == QUESTION

    second.locator("a.qa-marker").first.click()
    page.wait_for_selector("#qa-sources .qa-panel-head >> text=Jake Sullivan")
    first.locator("a.qa-marker").first.click()  # an earlier answer keeps its own sources
    page.wait_for_selector("#qa-sources .qa-panel-head >> text=Blair House")
    assert BLAIR_HOUSE_ARTICLE in page.locator("#qa-sources .qa-source.qa-focus").inner_text()

    page.reload()  # the conversation comes back with its citations
    page.wait_for_selector("#qa-chat .qa-answer >> nth=1")
    page.locator("#qa-chat .qa-answer").first.locator("a.qa-marker").first.click()
    page.wait_for_selector("#qa-sources .qa-source.qa-focus mark")
    assert "Blair House" in page.locator("#qa-sources .qa-panel-head").inner_text()

    page.click("#qa-new-chat")
    page.wait_for_selector("#qa-chat .qa-answer", state="detached")
    page.wait_for_selector("#qa-sources .qa-panel-empty")


def test_bad_question_shows_an_error_and_the_chat_goes_on(page):
    ask(page, "x" * 3_000)
    error = page.locator("#qa-chat .qa-error").last
    assert "limit" in error.inner_text()
    ask(page, QUESTION)
    assert "November 7" in page.locator("#qa-chat .qa-answer").last.inner_text()


def test_uploaded_article_is_answerable_and_shown_as_text(page, tmp_path):
    hostile = tmp_path / "quillon-harbour.txt"
    hostile.write_text(
        "date 2024-03-02\nQuillon Council Approves Harbour\n\n"
        'The council of Quillon approved the new harbour <img src=x onerror="window.pwned=1"> '
        "on March 1 <script>window.pwned=2</script> after a long debate.\n", encoding="utf-8")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 8)

    page.get_by_role("tab", name="Library").click()
    page.locator("#qa-articles").wait_for()
    page.locator("#qa-upload input[type=file]").set_input_files([str(binary)])
    page.wait_for_selector("#qa-upload-status >> text=Not added")
    assert "binary" in page.locator("#qa-upload-status").inner_text()
    page.locator("#qa-upload input[type=file]").set_input_files([str(hostile)])
    page.wait_for_selector("#qa-upload-status >> text=Added 1 article")
    page.wait_for_selector("#qa-articles >> text=Quillon Council Approves Harbour")
    assert f"{seed_article_count() + 1} articles indexed" in page.locator("#qa-header").inner_text()

    page.get_by_role("tab", name="Chat").click()
    ask(page, "When did the council of Quillon approve the new harbour?")
    answer = page.locator("#qa-chat .qa-answer").last
    assert "<img" in answer.locator(".qa-text").inner_text()  # shown as text, not run
    answer.locator("a.qa-marker").first.click()
    card = page.locator("#qa-sources .qa-source.qa-focus")
    card.wait_for()
    assert "Quillon Council Approves Harbour" in card.inner_text()
    assert "2 March 2024" in card.inner_text()
    assert "<script>" in card.locator("blockquote.qa-passage mark").inner_text()
    assert page.evaluate("() => window.pwned") is None


def live_script_hooks(page) -> dict:
    """What in the chat and the sources panel could run script: ``javascript:`` addresses,
    ``on*`` attributes and script elements (all should be absent)."""
    return page.evaluate("""() => {
        const roots = [...document.querySelectorAll('#qa-chat, #qa-sources')];
        const all = roots.flatMap(root => [...root.querySelectorAll('*')]);
        return {
            javascript: all.flatMap(e => ['href', 'src', 'action', 'formaction', 'xlink:href']
                .map(a => e.getAttribute(a)).filter(v => v && /^\\s*javascript:/i.test(v))),
            handlers: all.flatMap(e => [...e.attributes].map(a => a.name)
                .filter(n => n.toLowerCase().startsWith('on')).map(n => e.tagName + ' ' + n)),
            scripts: all.filter(e => ['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED'].includes(e.tagName))
                .length,
        };
    }""")


def test_a_script_carrying_html_article_never_runs_in_the_page(page, tmp_path):
    from evals.hostile_articles import HOSTILE_HTML

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    article = tmp_path / "quillon-harbour.html"
    article.write_text(HOSTILE_HTML, encoding="utf-8")
    page.get_by_role("tab", name="Library").click()
    page.locator("#qa-upload input[type=file]").set_input_files([str(article)])
    page.wait_for_selector("#qa-upload-status >> text=Added 1 article")
    page.wait_for_selector("#qa-articles >> text=Quillon Council Approves Harbour")

    page.get_by_role("tab", name="Chat").click()
    ask(page, "What did the harbour master Ada Fennimore write on the harbour notice board?")
    answer = page.locator("#qa-chat .qa-answer").last
    shown = answer.locator(".qa-text").inner_text()
    assert "<img src=x onerror=window.pwned=1>" in shown  # markup from the article, as text
    assert "<script>window.pwned=2</script>" in shown
    answer.locator("a.qa-marker").first.click()
    card = page.locator("#qa-sources .qa-source.qa-focus")
    card.wait_for()
    assert "<script>window.pwned=2</script>" in card.locator("blockquote.qa-passage").inner_text()
    assert "2 March 2024" in card.inner_text()
    card.locator("details.qa-full summary").click()
    card.locator(".qa-article").wait_for()

    ask(page, "Where can the full harbour plan and the harbour map of Quillon be read?")
    answer = page.locator("#qa-chat .qa-answer").last
    assert "Quillon town hall" in answer.inner_text()
    assert "(javascript:window.pwned='markdown')" in answer.locator(".qa-text").inner_text()
    answer.locator("a.qa-marker").first.click()
    page.locator("#qa-sources .qa-source.qa-focus").wait_for()
    assert live_script_hooks(page) == {"javascript": [], "handlers": [], "scripts": 0}

    page.reload()  # the saved conversation is rendered again from the browser's storage
    page.wait_for_selector("#qa-chat .qa-answer >> nth=1")
    assert live_script_hooks(page) == {"javascript": [], "handlers": [], "scripts": 0}
    assert page.evaluate("() => window.pwned") is None
    assert dialogs == []
