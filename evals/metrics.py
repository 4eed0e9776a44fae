"""The metrics, as plain functions that return a ``Score`` (a value and a reason).

Answers: SQuAD's normalized exact match and token F1, ALCE's STR-EM ("the answer contains the
gold answer"), and calendar-day date matching (dates read by the product's ``qa.dates``).
Retrieval: hit@k and reciprocal rank of the first passage that holds a gold support sentence.
Nothing here calls a model.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from evals.dataset import Score

__all__ = [
    "CalendarDate",
    "SupportSpan",
    "contains_answer",
    "date_match",
    "exact_match",
    "find_dates",
    "gold_dates",
    "locate_support",
    "normalize_answer",
    "passage_hits",
    "retrieval_scores",
    "strip_markers",
    "token_f1",
]

_MARKER = re.compile(r"\s*\[\d{1,3}\]")


def strip_markers(text: str) -> str:
    """The answer text without its citation markers ("... House. [1]" → "... House.")."""
    return _MARKER.sub("", text).strip()


# --- SQuAD / ALCE answer matching -----------------------------------------------------------
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")
_PUNCTUATION = set(string.punctuation) | set("‘’“”–—…")


def normalize_answer(text: str) -> str:
    """SQuAD's normalization: lower case, no punctuation, no articles, single spaces.
    (Curly quotes and dashes count as punctuation too, a possessive 's is dropped, and markers
    are dropped first.)"""
    text = strip_markers(text).lower()
    text = _POSSESSIVE.sub("", text)  # "Mirzoyan’s visit" names Mirzoyan
    text = "".join(" " if ch in "–—" else ch for ch in text)
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: Sequence[str]) -> Score:
    """1 when the normalized prediction equals a normalized accepted answer."""
    predicted = normalize_answer(prediction)
    for answer in answers:
        if predicted == normalize_answer(answer):
            return Score(1.0, f"equals {answer!r}")
    return Score(0.0, f"{_short(prediction)!r} equals none of {len(answers)} accepted answers")


def _f1(prediction: str, answer: str) -> float:
    predicted, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    common = Counter(predicted) & Counter(gold)
    same = sum(common.values())
    if not predicted or not gold:
        return float(predicted == gold)
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, answers: Sequence[str]) -> Score:
    """SQuAD's token F1 against the best accepted answer."""
    if not answers:
        return Score(None, "no accepted answers")
    best = max(answers, key=lambda answer: _f1(prediction, answer))
    value = _f1(prediction, best)
    return Score(value, f"best against {best!r}: {value:.2f}")


def contains_answer(prediction: str, answers: Sequence[str]) -> Score:
    """ALCE's STR-EM: the normalized prediction contains a normalized accepted answer.

    Unlike ALCE we match at word boundaries, so "7" is not found in "17" nor "Iran" in "Iranian".
    """
    padded = f" {normalize_answer(prediction)} "
    for answer in answers:
        wanted = normalize_answer(answer)
        if wanted and f" {wanted} " in padded:
            return Score(1.0, f"contains {answer!r}")
    return Score(0.0, f"contains none of {_quoted(answers)}")


# --- dates ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalendarDate:
    """A date an answer states: ``day`` is None when it names a month only ("April 2023"),
    ``year`` is None when no year is written (and none came from resolving a weekday)."""

    text: str
    start: int
    month: int
    day: int | None
    year: int | None

    def matches(self, gold: CalendarDate) -> bool:
        """Same calendar day (or month, if the gold names only a month); years must agree
        only where both sides give one."""
        if self.month != gold.month:
            return False
        if gold.day is not None and self.day != gold.day:
            return False
        return self.year is None or gold.year is None or self.year == gold.year

    def __str__(self) -> str:
        day = f" {self.day}" if self.day else ""
        year = f", {self.year}" if self.year else " (no year)"
        return f"{date(2000, self.month, 1):%B}{day}{year}"


# "Monday, May 1, 2023" / "Monday (May 1, 2023)": the written date after the weekday says it all.
_BEFORE_A_WRITTEN_DATE = re.compile(r"[\s,(]{1,3}")


def find_dates(text: str, published: date | None = None) -> list[CalendarDate]:
    """Every date ``text`` states, in order, found and parsed by the product's ``qa.dates``
    (so the eval reads dates as the answer step does).

    Calendar days ("November 7", "7 Nov. 2022", "2023-05-04") and months named without a
    day ("April 2023", "in April"); a year is kept only when it is written. A weekday name
    ("on Sunday") becomes a date only when ``published`` (the cited article's publication
    date) is known, resolved as qa resolves it: a day of the week just past, unless the words
    before it look ahead ("will meet on Friday").
    """
    from qa import dates

    found = [
        CalendarDate(m.text, m.start, m.month, m.day, m.year) for m in dates.find_dates(text)
    ]
    found += [
        CalendarDate(m.text, m.start, m.month, None, m.year) for m in dates.find_months(text)
    ]
    starts = {d.start for d in found}
    for weekday in dates.resolved_weekdays(text, published):
        after = _BEFORE_A_WRITTEN_DATE.match(text, weekday.end)
        if after and after.end() in starts:
            continue
        day = weekday.day
        found.append(CalendarDate(weekday.text, weekday.start, day.month, day.day, day.year))
    return sorted(found, key=lambda d: d.start)


def gold_dates(answers: Sequence[str]) -> list[CalendarDate]:
    """The dates among the accepted answers (answers such as "fall of 2020" have none)."""
    dates = []
    for answer in answers:
        found = find_dates(answer)
        if found:
            dates.append(found[0])
    return dates


def date_match(prediction: str, answers: Sequence[str], published: date | None = None) -> Score:
    """1 when the first date the answer states is a gold date (as a calendar day).

    Our answers lead with the date they give, so the first date is the answer's claim; later
    dates are context. ``published`` anchors weekday names (see ``find_dates``). None when no
    accepted answer is a date.
    """
    golds = gold_dates(answers)
    if not golds:
        return Score(None, "no accepted answer is a calendar date")
    stated = find_dates(strip_markers(prediction), published)
    if not stated:
        return Score(0.0, "the answer states no date")
    first = stated[0]
    for gold in golds:
        if first.matches(gold):
            return Score(1.0, f"{first.text!r} → {first} matches {gold.text!r}")
    return Score(0.0, f"first date {first.text!r} → {first}, expected {golds[0]}")


# --- retrieval ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SupportSpan:
    """Where a gold support sentence sits: article id and character span in its body."""

    article_id: str
    start: int
    end: int
    sentence: str


def _find(body: str, sentence: str) -> tuple[int, int] | None:
    start = body.find(sentence)
    if start >= 0:
        return start, start + len(sentence)
    # Tolerate whitespace and quote-style differences between the dataset and the article.
    words = [re.escape(w) for w in re.split(r"\s+", sentence.strip()) if w]
    if not words:
        return None
    pattern = r"\s+".join(words)
    pattern = pattern.replace('"', '["“”]').replace("'", "['’]")
    match = re.search(pattern, body)
    return (match.start(), match.end()) if match else None


def locate_support(
    support: Sequence[str], article_ids: Sequence[str], bodies: dict[str, str]
) -> tuple[list[SupportSpan], list[str]]:
    """The spans of the support sentences in the gold articles, and the sentences not found."""
    spans: list[SupportSpan] = []
    missing: list[str] = []
    for sentence in support:
        found = False
        for article_id in article_ids:
            where = _find(bodies.get(article_id, ""), sentence)
            if where:
                spans.append(SupportSpan(article_id, where[0], where[1], sentence))
                found = True
        if not found:
            missing.append(sentence)
    return spans, missing


def passage_hits(article_id: str, start: int, end: int, spans: Sequence[SupportSpan]) -> bool:
    """A passage hits when it is from a gold article and holds at least half of a support
    sentence (a sentence can straddle two overlapping chunks)."""
    for span in spans:
        if span.article_id != article_id:
            continue
        overlap = min(end, span.end) - max(start, span.start)
        if overlap > 0 and overlap * 2 >= span.end - span.start:
            return True
    return False


def retrieval_scores(
    passages: Sequence,
    spans: Sequence[SupportSpan],
    article_ids: Sequence[str],
    ks: Sequence[int] = (1, 3, 5),
) -> dict[str, Score]:
    """hit@k and reciprocal rank, by gold sentence and (``article_…``) by gold article."""
    sentence_ranks = [
        n
        for n, p in enumerate(passages, start=1)
        if passage_hits(p.article_id, p.start, p.end, spans)
    ]
    article_ranks = [n for n, p in enumerate(passages, start=1) if p.article_id in article_ids]
    scores: dict[str, Score] = {}
    for prefix, ranks, what in (
        ("", sentence_ranks, "a gold sentence"),
        ("article_", article_ranks, "a gold article"),
    ):
        first = ranks[0] if ranks else None
        where = (
            f"first passage with {what} at rank {first}"
            if first
            else f"no passage of {len(passages)} holds {what}"
        )
        for k in ks:
            scores[f"{prefix}hit@{k}"] = Score(float(bool(first and first <= k)), where)
        scores[f"{prefix}mrr"] = Score(1.0 / first if first else 0.0, where)
    return scores


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quoted(answers: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(repr(a) for a in answers[:limit])
    return shown + (f" (+{len(answers) - limit} more)" if len(answers) > limit else "")
