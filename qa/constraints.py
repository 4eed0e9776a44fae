"""What a question pins down: a year, a decade or century, a quarter, a named entity.

"Who won the 2019 final?" is not answered by the 2018 final, however alike the two passages
read. A constraint is met by a passage that states it, or by its article: its title, or its
publication date for a year. These are general mechanisms (they read the question, not a list
of cues fitted to one corpus), used to rank evidence and to decide whether to answer at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from qa.dates import find_dates, resolved_weekdays
from qa.text import STOPWORDS

__all__ = ["Constraint", "question_constraints", "unmet_constraints"]

_YEAR = re.compile(r"(?<![\d,.$£€])\b(1[0-9]{3}|20\d\d)\b(?!\s*(?:%|percent|people|troops|km|miles))")
_ANY_YEAR = re.compile(r"\b(1[0-9]{3}|20\d\d)\b")
_DECADE = re.compile(r"\b(1[0-9]{2}|20\d)0\s*'?s\b")
_CENTURY = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)[\s-]+century\b", re.IGNORECASE)
_ORDINAL_WORDS = ("first", "second", "third", "fourth")
_QUARTER = re.compile(
    r"\b(?:(first|second|third|fourth|1st|2nd|3rd|4th)[\s-]+quarter|q([1-4]))\b", re.IGNORECASE)
# A capitalised word that is not the first of its sentence, or a run of them: "Wimbledon",
# "Real Madrid". Acronyms count ("NATO"); possessives are dropped.
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w\-]*(?:\.[A-Z]\.?)?(?:\s+(?:of\s+|de\s+)?[A-Z][\w\-]*)*)")
_CALENDAR_WORDS = frozenset("""january february march april may june july august september
    october november december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday
    wednesday thursday friday saturday sunday""".split())
_QUESTION_WORDS = frozenset("""what when where which who whom whose why how did does do is was
    were are has have had will would can could should""".split())


@dataclass(frozen=True)
class Constraint:
    """Something the question states that the answering passage must be about.

    ``kind`` is ``year``, ``decade``, ``century``, ``quarter``, ``day`` or ``name``; ``value``
    is the normalised value (``"2019"``, ``"1990"``, ``"10"``, ``"3"``, ``"11-07"``,
    ``"Wimbledon"``);
    ``text`` is how the question says it.
    """

    kind: str
    value: str
    text: str

    @property
    def temporal(self) -> bool:
        """A year, decade, century or quarter: stated qualifiers that a passage about another
        period cannot meet. A calendar day ("the November 7 talks") is not one: the passage
        answering "what came after the June 27 meeting?" may name only the later day."""
        return self.kind not in ("name", "day")


def question_constraints(question: str) -> list[Constraint]:
    """The years, decades, centuries, quarters and names that ``question`` states."""
    found: list[Constraint] = []
    for match in _DECADE.finditer(question):
        found.append(Constraint("decade", match.group(1) + "0", match.group(0)))
    decade_spans = [m.span() for m in _DECADE.finditer(question)]
    for match in _YEAR.finditer(question):
        if any(start <= match.start() < end for start, end in decade_spans):
            continue
        found.append(Constraint("year", match.group(1), match.group(0)))
    for match in _CENTURY.finditer(question):
        found.append(Constraint("century", str(int(match.group(1))), match.group(0)))
    for match in _QUARTER.finditer(question):
        word = (match.group(1) or match.group(2)).lower()
        number = str(_ORDINAL_WORDS.index(word) + 1) if word in _ORDINAL_WORDS else word[0]
        found.append(Constraint("quarter", number, match.group(0)))
    for mention in find_dates(question):
        found.append(Constraint("day", f"{mention.month:02d}-{mention.day:02d}", mention.text))
    for match in _NAME.finditer(question.strip()):
        name = re.sub(r"['’]s$", "", match.group(1)).strip()
        words = [w for w in name.split()
                 if w.lower() not in STOPWORDS and w.lower().rstrip(".") not in _CALENDAR_WORDS]
        if not words or (len(words) == 1 and words[0].lower() in _QUESTION_WORDS):
            continue
        if _YEAR.fullmatch(name) or _QUARTER.fullmatch(name):
            continue
        found.append(Constraint("name", name, match.group(1)))
    return found


def unmet_constraints(constraints: Sequence[Constraint], text: str, title: str = "",
                      published: date | None = None) -> list[Constraint]:
    """The constraints that neither ``text`` nor its article (``title``, ``published``) meet."""
    return [c for c in constraints if not _meets(c, text, title, published)]


def _meets(constraint: Constraint, text: str, title: str, published: date | None) -> bool:
    where = f"{title}\n{text}"
    value = constraint.value
    if constraint.kind == "year":
        if re.search(rf"\b{value}\b", where) or (published and str(published.year) == value):
            return True
        # An undated article that states no year is not known to be about another one.
        return published is None and not _ANY_YEAR.search(where)
    if constraint.kind == "decade":
        stem = value[:-1]
        return re.search(rf"\b{stem}\d\b|\b{value}\s*'?s\b", where) is not None or (
            published is not None and str(published.year)[:-1] == stem)
    if constraint.kind == "century":
        number = int(value)
        ordinal = _ordinal(number)
        # "the 10th century" or a year inside it ("in 911").
        if re.search(rf"\b{ordinal}[\s-]+centur", where, re.IGNORECASE):
            return True
        low, high = (number - 1) * 100, number * 100 - 1
        return any(low <= int(y) <= high for y in re.findall(r"\b(\d{3,4})\b", where))
    if constraint.kind == "quarter":
        number = int(value)
        word = _ORDINAL_WORDS[number - 1]
        return re.search(rf"\b(?:{word}|{_ordinal(number)})[\s-]+quarter\b|\bQ{number}\b",
                         where, re.IGNORECASE) is not None
    if constraint.kind == "day":
        month, day = (int(part) for part in value.split("-"))
        if published is not None and (published.month, published.day) == (month, day):
            return True  # "the report published May 4"
        return any((m.month, m.day) == (month, day) for m in find_dates(where)) or any(
            (w.day.month, w.day.day) == (month, day) for w in resolved_weekdays(text, published))
    return _mentions_name(value, where)


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _undotted(text: str) -> str:
    """Acronyms without their dots: "U.S." and "US" are one name."""
    return re.sub(r"\b([A-Z])\.(?=[A-Z]\.?)|(?<=\b[A-Z])\.(?!\w)", r"\1", text)


def _mentions_name(name: str, text: str) -> bool:
    """Whether ``text`` names ``name``: every word of it, or its last word for a person's
    full name ("Williams" for "Serena Williams"); word forms that share a stem of five letters
    count ("Azerbaijani" for "Azerbaijan")."""
    words = [w for w in re.split(r"\s+", _undotted(name)) if w.lower() not in STOPWORDS]
    lowered = _undotted(text).lower()

    def found(word: str) -> bool:
        word = word.lower()
        stem = re.escape(word[:5]) if len(word) > 5 else re.escape(word)
        return re.search(rf"\b{stem}", lowered) is not None

    return all(found(w) for w in words) or (len(words) > 1 and found(words[-1]))
