"""Many small articles made of real news sentences, for load and fault tests.

Each article strings together sentences of the seed articles (real reporting, not lorem ipsum),
picked by a fixed rotation so the set is the same on every run, under its own title and date.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

__all__ = ["seed_sentences", "write_articles"]

_REPO = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def seed_sentences() -> tuple[str, ...]:
    """Every sentence of the seed articles, in order."""
    from qa.corpus import find_article_files, read_article
    from qa.sentences import sentence_spans

    sentences: list[str] = []
    for path in find_article_files([_REPO / "seeds"]):
        body = read_article(path).body
        sentences += [body[start:end].strip() for start, end in sentence_spans(body)]
    return tuple(s for s in sentences if len(s.split()) >= 6)


def write_articles(folder: Path, count: int, prefix: str = "dispatch",
                   sentences_per_article: int = 5, first: int = 0) -> list[Path]:
    """Write ``count`` articles ``<prefix>-NNNN.txt`` into ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    pool = seed_sentences()
    paths = []
    for number in range(first, first + count):
        picked = [pool[(number * 7 + k * 11) % len(pool)] for k in range(sentences_per_article)]
        published = date(2022, 1, 1) + timedelta(days=number % 700)
        title = f"Dispatch {number}: " + " ".join(picked[0].split()[:8]).rstrip(".,;:")
        path = folder / f"{prefix}-{number:04d}.txt"
        path.write_text(f"date {published.isoformat()}\n{title}\n\n" + " ".join(picked) + "\n",
                        encoding="utf-8")
        paths.append(path)
    return paths
