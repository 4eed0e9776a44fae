"""Generated articles and cheaply derived vectors, for benchmarks at scale.

Embedding a million chunks with MiniLM would take about five hours on two cores, so the scale
benchmarks use vectors *derived* from real ones, and say so:

- **Text**: each generated article is a sequence of real sentences (the seed articles and the
  SQuAD "Normans" paragraphs) in a random order, plus one generated sentence carrying a
  made-up reference code (``Ref QX7KPA``), so the vocabulary grows with the corpus the way
  names and numbers do in news, and every article holds a term found nowhere else.
- **Vectors**: the real sentences are embedded once with qa's MiniLM; a chunk's vector is the
  mean of its sentences' real vectors plus Gaussian noise, normalised. Chunks therefore
  cluster like real embeddings do (they share sentences), without two being equal.

``DerivedEmbedding`` is a ``MiniLMEmbedding`` whose ``embed`` returns those vectors, so an
index can be built through qa's own code path (chunking, store, indexes, manifest) at speed.
"""

from __future__ import annotations

import json
import re
import string
import zlib
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.corpus import Article
from qa.embedding import EMBEDDING_DIM, MiniLMEmbedding

REPO = Path(__file__).resolve().parent.parent
SQUAD = REPO.parent / "shared" / "datasets" / "squad2-dev-normans" / "dev-v2.0-normans.json"
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
NOISE = 0.35  # norm of the noise added to a chunk's mean vector (before normalising)


@lru_cache(maxsize=1)
def real_sentences() -> tuple[str, ...]:
    """The real sentences the generated articles are made of (seed articles + SQuAD Normans)."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
    squad = SQUAD if SQUAD.exists() else Path("/work/shared/datasets") / SQUAD.parent.name / SQUAD.name
    if squad.exists():
        for article in json.loads(squad.read_text(encoding="utf-8"))["data"]:
            texts += [paragraph["context"] for paragraph in article["paragraphs"]]
    sentences: list[str] = []
    for text in texts:
        for line in text.splitlines():
            if line.strip().lower().startswith("date"):
                continue
            sentences += [s.strip() for s in _SPLIT.split(line) if len(s.split()) >= 5]
    return tuple(dict.fromkeys(sentences))


def real_questions() -> list[str]:
    """Real questions (qa's eval set and SQuAD's), used as benchmark queries."""
    questions = [json.loads(line)["question"] for line in
                 (REPO / "evals" / "questions.jsonl").read_text().splitlines() if line.strip()]
    squad = SQUAD if SQUAD.exists() else Path("/work/shared/datasets") / SQUAD.parent.name / SQUAD.name
    if squad.exists():
        for article in json.loads(squad.read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                questions += [qa["question"] for qa in paragraph["qas"]]
    return questions


def reference_code(number: int) -> str:
    """A made-up six-letter code, unique per article number (a rare term for keyword search)."""
    letters = string.ascii_uppercase
    code, value = [], number * 7919 + 104729
    for _ in range(6):
        value, digit = divmod(value, 26)
        code.append(letters[digit])
    return "Q" + "".join(code)


def generated_article(number: int, sentences_per_article: int = 12) -> Article:
    """Article ``number`` of the generated corpus (the same every time)."""
    pool = real_sentences()
    rng = np.random.default_rng(number)
    picked = rng.choice(len(pool), size=sentences_per_article, replace=False)
    body = [pool[i] for i in picked]
    day = date(2020, 1, 1) + timedelta(days=int(number % 1500))
    body.insert(int(rng.integers(0, len(body))),
                f"The filing was logged as Ref {reference_code(number)} on {day:%B %-d, %Y}.")
    paragraphs = [" ".join(body[i:i + 3]) for i in range(0, len(body), 3)]
    return Article(article_id=f"gen-{number:07d}", title=f"Generated report {number}",
                   body="\n\n".join(paragraphs), published=day)


def article_file_text(article: Article) -> str:
    """The article as a file ``qa index`` reads (a date header, then the body)."""
    return f"date {article.published:%Y-%m-%d}\n{article.body}\n"


class DerivedEmbedding(MiniLMEmbedding):
    """Vectors derived from real MiniLM vectors of the sentences a text holds (see module doc).

    Only ``embed`` of corpus chunks is derived; questions are embedded by the real model
    (``real_embed``), so queries are real MiniLM vectors.
    """

    def _sentence_vectors(self) -> dict[str, np.ndarray]:
        cache = getattr(self, "_derived_cache", None)
        if cache is None:
            pool = list(real_sentences())
            vectors = super().embed(pool)
            cache = dict(zip(pool, vectors))
            object.__setattr__(self, "_derived_cache", cache)
        return cache

    def real_embed(self, texts: list[str]) -> np.ndarray:
        return super().embed(texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        known = self._sentence_vectors()
        fallback = np.stack(list(known.values()))
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            # Seeded by the text and its position in the build, so that two chunks with the
            # same text (a sentence alone in its paragraph) still get distinct vectors.
            rng = np.random.default_rng((zlib.crc32(text.encode("utf-8")),
                                         self._texts_embedded + row))
            parts = [known[s] for s in _SPLIT.split(text.strip()) if s in known]
            if not parts:
                parts = [fallback[int(rng.integers(0, len(fallback)))]]
            mean = np.mean(parts, axis=0)
            mean /= np.linalg.norm(mean)
            noise = rng.standard_normal(EMBEDDING_DIM).astype(np.float32)
            vector = mean + NOISE * noise / np.linalg.norm(noise)
            out[row] = vector / np.linalg.norm(vector)
        self._texts_embedded += len(texts)
        return out
