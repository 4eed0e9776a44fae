"""Citation quality after ALCE (Gao et al., 2023), with a lexical support test instead of NLI.

ALCE splits an answer into statements and asks an NLI model whether the cited passages entail
each one. We have no judge model offline, so "the quotes support the statement" is this test:

1. every **date** the statement gives is a date the quotes give (written, or a weekday
   resolved against the cited article's publication date, or that publication date itself);
   a year the quotes do not give is unsupported;
2. every **number** (digits) and every **capitalized word** of the statement (names, places,
   organizations; common sentence openers such as "The" or "During" excepted) appears in the
   quotes;
3. at least ``SUPPORT_COVERAGE`` of the statement's other content words (stemmed, stopwords
   removed) appear in the quotes;
4. a bare answer ("The answer is: November 8.", fewer than ``BARE_WORDS`` content words) claims
   nothing without its question, so the quotes must also be about the question: at least
   ``QUESTION_OVERLAP`` of the question's content words appear in them.

A statement is the answer text up to and including a run of markers ``[1][2]`` (our answers
put the markers after the sentence they support); text after the last marker is a statement
with no citation. Citation recall = share of statements whose citations together support
them. Citation precision = share of citations that support their statement (alone, or as a
necessary part of a supporting set) and are not redundant (ALCE's rule: a citation that does
not support alone and whose removal leaves the statement supported is redundant).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

from evals.dataset import Score
from evals.metrics import CalendarDate, find_dates

if TYPE_CHECKING:
    from qa import Answer

__all__ = [
    "BARE_WORDS",
    "QUESTION_OVERLAP",
    "SUPPORT_COVERAGE",
    "Quote",
    "Statement",
    "SupportTest",
    "citation_scores",
    "split_statements",
    "supports",
]

SUPPORT_COVERAGE = 0.6
"""Share of a statement's content words that must appear in its quotes. Chosen before the
hand check (evals/citation_support_check.jsonl), not tuned on it."""

BARE_WORDS = 3
"""A statement with fewer content words (dates and numbers aside) is a bare answer."""

QUESTION_OVERLAP = 0.3
"""Share of the question's content words a bare answer's quotes must contain."""

_QUESTION_FRAME = frozenset("date day year month name kind type many much long".split())

_MARKER_RUN = re.compile(r"(?:\s*\[\d{1,3}\])+")
_MARKER_NUMBER = re.compile(r"\[(\d{1,3})\]")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?!\w)")
_CAPITALIZED = re.compile(r"(?<![\w'’])[A-Z][A-Za-z'’\-]*")
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into
    is it its itself just me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t said says say according furthermore however meanwhile yes
    although additionally finally overall today yesterday
    answer answers article articles passage passages text source sources""".split()
)
# The last lines: sentence openers (a capitalized opener is not a name), and words about the
# answer itself ("The answer is: ...") that state no fact to support.


@dataclass(frozen=True)
class Quote:
    """A cited quote and the publication date of its article (None when unknown)."""

    text: str
    published: date | None = None


@dataclass(frozen=True)
class Statement:
    """A piece of answer text and the markers it carries."""

    text: str
    markers: tuple[int, ...]


def split_statements(text: str) -> list[Statement]:
    """Cut an answer into statements, each ending at a run of markers."""
    statements: list[Statement] = []
    position = 0
    for run in _MARKER_RUN.finditer(text):
        body = text[position : run.start()].strip()
        markers = tuple(int(n) for n in _MARKER_NUMBER.findall(run.group(0)))
        if _WORD.search(body):
            statements.append(Statement(body, markers))
        elif statements:  # markers after punctuation only ("... House. [1] [2]")
            last = statements[-1]
            statements[-1] = Statement(last.text, last.markers + markers)
        position = run.end()
    tail = text[position:].strip()
    if _WORD.search(tail):
        statements.append(Statement(tail, ()))
    return statements


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer, installed with llama-index's BM25 retriever

    return Stemmer.Stemmer("english")


def _content_words(text: str) -> set[str]:
    words = set()
    for word in _WORD.findall(text):
        word = word.lower().replace("’", "'").strip("'-")
        word = word.removesuffix("'s")
        if len(word) > 1 and word not in _STOPWORDS:  # single letters ("[n]") claim nothing
            words.add(_stemmer().stemWord(word))
    return words


def _blank(text: str, spans: Sequence[tuple[int, int]]) -> str:
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _plain_number(text: str) -> str:
    return text.rstrip(",.").replace(",", "")


def _quoted_dates(quotes: Sequence[Quote]) -> list[CalendarDate]:
    dates: list[CalendarDate] = []
    for quote in quotes:
        dates.extend(find_dates(quote.text, quote.published))
        if quote.published:
            p = quote.published
            dates.append(CalendarDate(p.isoformat(), -1, p.month, p.day, p.year))
    return dates


def _date_supported(stated: CalendarDate, quoted: Sequence[CalendarDate]) -> bool:
    same = [
        q for q in quoted if q.month == stated.month and (stated.day is None or q.day == stated.day)
    ]
    if not same:
        return False
    return stated.year is None or any(q.year == stated.year for q in same)


def supports(statement: str, quotes: Sequence[Quote], question: str = "") -> Score:
    """1 when ``quotes`` together support ``statement`` (an answer to ``question``) by the
    test in the module docstring."""
    if not quotes:
        return Score(0.0, "no citation")
    text = _MARKER_RUN.sub(" ", statement)
    joined = "\n".join(q.text for q in quotes)
    joined_lower = joined.lower().replace("’", "'")
    problems: list[str] = []

    stated = find_dates(text)
    quoted = _quoted_dates(quotes)
    for mention in stated:
        if not _date_supported(mention, quoted):
            problems.append(f"date {mention.text!r}")
    date_spans = [(d.start, d.start + len(d.text)) for d in stated]
    rest = _blank(text, date_spans)

    # Whole numbers, not substrings: "2" is not supported by "2,000".
    quoted_numbers = {_plain_number(m.group(0)) for m in _NUMBER.finditer(joined)}
    for match in _NUMBER.finditer(rest):
        number = _plain_number(match.group(0))
        if number and number not in quoted_numbers:
            problems.append(f"number {number}")

    for match in _CAPITALIZED.finditer(rest):
        word = match.group(0).replace("’", "'").rstrip("'-")
        word = word.removesuffix("'s")
        if len(word) < 2 or word.lower() in _STOPWORDS:
            continue
        if word.lower() not in joined_lower:
            problems.append(f"name {word!r}")

    words = _content_words(rest)
    quoted_words = _content_words(joined)
    coverage = len(words & quoted_words) / len(words) if words else 1.0
    if coverage < SUPPORT_COVERAGE:
        missing = sorted(words - quoted_words)[:6]
        problems.append(
            f"only {coverage:.0%} of its words are quoted (missing {', '.join(missing)})"
        )
    if len(words) < BARE_WORDS and question:
        asked = {w for w in _content_words(question) if w not in _QUESTION_FRAME}
        overlap = len(asked & quoted_words) / len(asked) if asked else 1.0
        if overlap < QUESTION_OVERLAP:
            problems.append(
                f"a bare answer whose quotes hold only {overlap:.0%} of the question's words"
            )
    if problems:
        return Score(0.0, "unsupported: " + "; ".join(problems))
    return Score(1.0, f"supported ({coverage:.0%} of its words quoted)")


def _quote_of(citation) -> Quote:
    return Quote(citation.quote, citation.published)


SupportTest = Callable[[str, Sequence[Quote], str], Score]
"""``(statement, quotes, question) -> Score``: ``supports`` here, or an LLM judge's
(``evals.support_judge.SupportJudge.supports``)."""


def citation_scores(answer: Answer, support: SupportTest = supports) -> dict[str, Score]:
    """ALCE citation recall and precision of one answer (None for an abstention), with
    ``support`` deciding whether quotes support a statement (the lexical test by default)."""
    if answer.abstained:
        reason = "abstained: no statements to support"
        return {"citation_recall": Score(None, reason), "citation_precision": Score(None, reason)}
    by_marker = {c.marker: c for c in answer.citations}
    statements = split_statements(answer.text)
    if not statements:
        reason = "the answer has no statements"
        return {"citation_recall": Score(None, reason), "citation_precision": Score(None, reason)}
    supported = 0
    precise = 0
    citations = 0
    notes: list[str] = []
    for number, statement in enumerate(statements, start=1):
        markers = list(dict.fromkeys(statement.markers))
        citations += len(markers)
        cited = [by_marker[m] for m in markers if m in by_marker]
        dangling = [m for m in markers if m not in by_marker]
        if dangling:
            notes.append(f"statement {number}: marker(s) {dangling} point at no citation")
        joint = support(statement.text, [_quote_of(c) for c in cited], answer.question)
        if not joint.value:
            notes.append(f"statement {number} {joint.reason}")
            continue
        supported += 1
        if len(cited) == 1:
            precise += 1
            continue
        for citation in cited:
            if support(statement.text, [_quote_of(citation)], answer.question).value:
                precise += 1
                continue
            others = [_quote_of(c) for c in cited if c is not citation]
            if support(statement.text, others, answer.question).value:
                notes.append(f"statement {number}: citation [{citation.marker}] is redundant")
            else:
                precise += 1
    recall = supported / len(statements)
    detail = "; ".join(notes)
    recall_reason = f"{supported}/{len(statements)} statements supported" + (
        f" ({detail})" if detail else ""
    )
    if citations == 0:
        precision = Score(None, "no citations")
    else:
        precision = Score(
            precise / citations,
            f"{precise}/{citations} citations precise" + (f" ({detail})" if detail else ""),
        )
    return {"citation_recall": Score(recall, recall_reason), "citation_precision": precision}
