"""Checking an answer against the passages it cites, before it is returned.

A citation's quote must be a verbatim slice of its article (proved against the retrieved
chunk, itself a verified slice of the article), and every date, number and proper name in a
generated sentence must appear in the passages that sentence cites. A year is supported only
where a cited passage states it, or where it comes from resolving a weekday against the
article's publication date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.answer import Citation
from qa.dates import find_dates, resolved_day_offsets, resolved_weekdays
from qa.retrieval import Passage
from qa.text import STOPWORDS

__all__ = [
    "MARKER",
    "quote_is_verbatim",
    "unsupported_claims",
    "strip_unsupported_years",
    "Claim",
]

MARKER = re.compile(r"\s?\[(\d{1,2})\]")
# A number, or an ordinal ("10th century"): a wrong ordinal is as wrong as a wrong number.
_NUMBER = re.compile(r"(?<![\w\[])\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?(?![\w\]])")
_CAPITALIZED = re.compile(r"\b[A-Z][a-zA-Z’'\-]+(?:\.[A-Z]\.?)?")
_YEAR = re.compile(r"\b(19|20)\d\d\b")


@dataclass(frozen=True)
class Claim:
    """A checkable piece of a sentence: a date, a number or a name."""

    kind: str  # date | year | number | name
    text: str


def quote_is_verbatim(citation: Citation, passages: Sequence[Passage]) -> bool:
    """True when ``citation.quote`` is exactly the article text at ``start:end``."""
    for passage in passages:
        if passage.article_id != citation.article_id:
            continue
        if passage.start <= citation.start and citation.end <= passage.end:
            offset = citation.start - passage.start
            if passage.text[offset:offset + len(citation.quote)] == citation.quote \
                    and citation.end - citation.start == len(citation.quote):
                return True
    return False


def _supported_dates(passages: Sequence[Passage]):
    explicit = [m for p in passages for m in find_dates(p.text)]
    explicit += [m for p in passages for _, m in resolved_day_offsets(p.text)]
    resolved = [r.day for p in passages for r in resolved_weekdays(p.text, p.published)]
    published = [p.published for p in passages if p.published]
    return explicit, resolved, published


def unsupported_claims(sentence: str, passages: Sequence[Passage], question: str = "") -> list[Claim]:
    """The dates, years, numbers and names in ``sentence`` that ``passages`` do not support."""
    sentence = MARKER.sub("", sentence)
    joined = "\n".join(p.text for p in passages)
    lowered = joined.lower() + "\n" + question.lower()
    explicit, resolved, published = _supported_dates(passages)
    # A date the question states is its premise, not the answer's claim ("the June 27 meeting").
    explicit = explicit + find_dates(question)
    problems: list[Claim] = []
    date_spans: list[tuple[int, int]] = []
    for mention in find_dates(sentence):
        date_spans.append((mention.start, mention.end))
        same_day = [m for m in explicit if (m.month, m.day) == (mention.month, mention.day)]
        same_resolved = [d for d in resolved + published
                         if (d.month, d.day) == (mention.month, mention.day)]
        if not same_day and not same_resolved:
            problems.append(Claim("date", mention.text))
        elif mention.year is not None and not (
            any(m.year == mention.year for m in same_day)
            or any(d.year == mention.year for d in same_resolved)
        ):
            problems.append(Claim("year", mention.text))
    outside_dates = _blank(sentence, date_spans)
    for match in _YEAR.finditer(outside_dates):
        if match.group(0) not in joined and not any(d.year == int(match.group(0)) for d in resolved):
            problems.append(Claim("year", match.group(0)))
    for match in _NUMBER.finditer(outside_dates):
        number = match.group(0).rstrip(".,")
        if _YEAR.fullmatch(number):
            continue
        if number not in joined and number.replace(",", "") not in joined.replace(",", ""):
            problems.append(Claim("number", number))
    for match in _CAPITALIZED.finditer(outside_dates):
        word = re.sub(r"'s?$", "", match.group(0).rstrip(".").replace("’", "'"))
        if word.lower() in STOPWORDS or len(word) < 3:
            continue
        if word.lower() not in lowered.replace("’", "'"):
            problems.append(Claim("name", word))
    return problems


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def strip_unsupported_years(sentence: str, passages: Sequence[Passage]) -> str:
    """Remove the year from dates whose year the passages do not give ("June 28, 2022" → "June 28")."""
    explicit, resolved, published = _supported_dates(passages)
    result = sentence
    for mention in reversed(find_dates(sentence)):
        if mention.year is None:
            continue
        supported = any((m.month, m.day, m.year) == (mention.month, mention.day, mention.year)
                        for m in explicit) or any(
            (d.month, d.day, d.year) == (mention.month, mention.day, mention.year)
            for d in resolved + published)
        if not supported:
            without_year = re.sub(r",?\s*(19|20)\d\d$", "", mention.text)
            result = result[:mention.start] + without_year + result[mention.end:]
    return result
