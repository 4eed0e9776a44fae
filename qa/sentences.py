"""Sentence boundaries with character offsets, for chunking, extractive answers and quotes."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["sentence_spans", "split_sentences"]

# Punkt's English model (the one llama-index ships) splits news text after "U.S." and
# "p.m."; we keep Punkt and teach it the abbreviations news reports use.
_NEWS_ABBREVIATIONS = {
    "u.s", "u.k", "u.n", "e.u", "a.m", "p.m", "d.c", "gen", "sen", "rep", "gov", "lt", "col",
    "sgt", "capt", "adm", "maj", "mr", "mrs", "ms", "dr", "st", "jr", "sr", "no", "vs", "inc",
    "corp", "co", "ltd", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "u.s.a",
}


@lru_cache(maxsize=1)
def _punkt():
    from llama_index.core.utils import globals_helper  # puts llama-index's bundled nltk data on the path
    from nltk.tokenize import PunktTokenizer

    _ = globals_helper.punkt_tokenizer
    tokenizer = PunktTokenizer("english")
    tokenizer._params.abbrev_types.update(_NEWS_ABBREVIATIONS)
    return tokenizer


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``; paragraphs break sentences too."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for paragraph in text.split("\n"):
        if paragraph.strip():
            for start, end in _punkt().span_tokenize(paragraph):
                spans.append((offset + start, offset + end))
        offset += len(paragraph) + 1
    return spans


def split_sentences(text: str) -> list[str]:
    """``text`` cut at sentence starts, whitespace kept, so the pieces join back into ``text``
    (llama-index's chunker needs that to place chunks in the article)."""
    starts = [start for start, _ in sentence_spans(text)] or [0]
    starts[0] = 0
    return [text[start:end] for start, end in zip(starts, starts[1:] + [len(text)])]
