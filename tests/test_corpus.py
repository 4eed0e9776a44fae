"""Reading articles: ids, titles, dates, bodies, and the files that must be refused."""

from datetime import date

import pytest

from qa.corpus import find_article_files, load_articles, read_article
from qa.errors import ArticleError

from .conftest import SEEDS


def test_seed_articles_have_ids_titles_and_only_stated_dates():
    articles, problems = load_articles([SEEDS])
    assert problems == []
    by_id = {a.article_id: a for a in articles}
    assert sorted(by_id) == sorted(p.stem for p in SEEDS.glob("*.txt"))
    assert by_id["000_29fca93d9d20ffcf"].published == date(2023, 5, 4)
    assert by_id["004_d9919218ce5d4bde"].published == date(2023, 5, 4)
    for undated in ("001_9ccef687f09b7d79", "002_0320347d69721b41", "003_079379c1789fc1ad"):
        assert by_id[undated].published is None
    assert by_id["002_0320347d69721b41"].title == (
        "Direct Dialogue Between Armenia, Azerbaijan 'Key' To Peace, U.S. Says")
    assert by_id["003_079379c1789fc1ad"].title.startswith(
        "U.S. Secretary of State Antony Blinken has praised Armenia and Azerbaijan")


def test_date_header_is_metadata_not_body():
    article = read_article(SEEDS / "000_29fca93d9d20ffcf.txt")
    assert not article.body.startswith("date")
    assert article.body.startswith("The White House on Wednesday welcomed")
    raw = (SEEDS / "000_29fca93d9d20ffcf.txt").read_text(encoding="utf-8")
    assert article.body in raw


def test_content_hash_ignores_file_time_but_not_text(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Blinken met the ministers on November 7.", encoding="utf-8")
    first = read_article(path).content_hash
    path.touch()
    assert read_article(path).content_hash == first
    path.write_text("Blinken met the ministers on November 8.", encoding="utf-8")
    assert read_article(path).content_hash != first


def test_markdown_and_html_articles(tmp_path):
    (tmp_path / "note.md").write_text("# Talks resume\n\nThe talks resumed in Geneva.\n", encoding="utf-8")
    (tmp_path / "page.html").write_text(
        "<html><head><title>T</title><meta property='article:published_time' "
        "content='2023-06-30T10:00:00Z'></head><body><nav>menu</nav><article><h1>Ministers meet"
        "</h1><p>The ministers met in Arlington &amp; Washington.</p><script>x()</script>"
        "</article></body></html>", encoding="utf-8")
    articles, problems = load_articles([tmp_path])
    assert problems == []
    by_id = {a.article_id: a for a in articles}
    assert by_id["note"].title == "Talks resume"
    page = by_id["page"]
    assert page.title == "Ministers meet"
    assert page.published == date(2023, 6, 30)
    assert "Arlington & Washington" in page.body
    assert "menu" not in page.body and "x()" not in page.body


@pytest.mark.parametrize("content, reason", [
    (b"\xff\xfe\x00b\x00a\x00d", "binary"),
    ("Caf\u00e9 talks".encode("latin-1"), "UTF-8"),
    (b"   \n\n ", "no text"),
])
def test_unreadable_files_are_refused_with_the_reason(tmp_path, content, reason):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ArticleError, match=reason) as caught:
        read_article(path)
    assert str(path) in str(caught.value)


def test_a_bad_file_among_good_ones_is_reported_and_the_rest_load(tmp_path):
    (tmp_path / "good.txt").write_text("The ministers met in Arlington.", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01\x02")
    articles, problems = load_articles([tmp_path])
    assert [a.article_id for a in articles] == ["good"]
    assert len(problems) == 1 and problems[0].path.endswith("bad.txt")


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(ArticleError, match="no such file"):
        find_article_files([tmp_path / "nowhere"])
