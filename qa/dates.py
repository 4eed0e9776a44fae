"""Dates in article text: explicit mentions, relative weekdays resolved against the publication
date, and the rule that a year is never added when the articles do not give it.

We parse the few date shapes news reports use with regular expressions rather than
``dateparser``: it fills a missing year with the current one, which is the mistake we guard against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "DateMention",
    "MonthMention",
    "find_dates",
    "find_months",
    "resolve_weekday",
    "resolved_weekdays",
    "format_date",
    "annotate_weekdays",
    "dateline",
    "with_year",
    "WEEKDAYS",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12,
    "dec": 12,
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_RANGE_END = r"(?:\s*(?:-|–|—|to|and)\s*(?P<day2>[0-3]?\d)(?:st|nd|rd|th)?)?"
_PATTERNS = [
    re.compile(r"\b(?P<iy>(?:19|20)\d\d)-(?P<im>[01]\d)-(?P<id>[0-3]\d)\b"),
    re.compile(rf"\b{_MONTH}\s+{_DAY}{_RANGE_END}\b(?:,?\s+{_YEAR}\b)?", re.IGNORECASE),
    re.compile(rf"\b{_DAY}{_RANGE_END}\s+{_MONTH}(?:,?\s+{_YEAR}\b)?", re.IGNORECASE),
]
_WEEKDAY = re.compile(
    r"\b(?P<modifier>(?:last|next|this|early|late|on)\s+)?(?P<weekday>"
    + "|".join(WEEKDAYS) + r")(?:'s|’s)?\b",
    re.IGNORECASE,
)
_FUTURE = re.compile(r"\b(will|expected to|scheduled|plans? to|is to|are to)\b", re.I)
_PAST = re.compile(r"\b(since|last|ago|earlier|was|were|had)\b", re.I)
_LOOKBACK_CHARS = 40


@dataclass(frozen=True)
class DateMention:
    """A calendar date written in text; ``year`` is None when the text gives none."""

    text: str
    start: int
    end: int
    month: int
    day: int
    year: int | None = None
    last_day: int | None = None  # for ranges such as "June 27-29"

    def matches(self, other: DateMention) -> bool:
        """Same month and day; years must agree only where both give one."""
        if (self.month, self.day) != (other.month, other.day):
            return False
        return self.year is None or other.year is None or self.year == other.year


def find_dates(text: str) -> list[DateMention]:
    """Every explicit calendar date in ``text`` ("November 7", "7 Nov 2022", "2023-05-04")."""
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            mention = _mention(match)
            if mention is not None:
                found.append(mention)
                taken.append((match.start(), match.end()))
    return sorted(found, key=lambda m: m.start)


@dataclass(frozen=True)
class MonthMention:
    """A month named without a day ("April 2023", "in April"); ``year`` None when none is given."""

    text: str
    start: int
    end: int
    month: int
    year: int | None = None


# A bare month name must be capitalized: "may" is a verb far more often than a month.
_BARE_MONTH = "|".join(name.capitalize() for name in sorted(_MONTHS, key=len, reverse=True))
_MONTH_PATTERNS = [
    re.compile(rf"\b{_MONTH}\s+(?:of\s+)?{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b(?P<month>{_BARE_MONTH})\b\.?(?![\w.])"),
]


def find_months(text: str) -> list[MonthMention]:
    """Months named without a day ("April 2023", "March of 2021", "in April"), leaving out
    those that are part of a calendar date ``find_dates`` finds."""
    taken = [(m.start, m.end) for m in find_dates(text)]
    found: list[MonthMention] = []
    for pattern in _MONTH_PATTERNS:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            year = match.groupdict().get("year")
            found.append(MonthMention(match.group(0), match.start(), match.end(),
                                      _MONTHS[match.group("month").lower().rstrip(".")],
                                      int(year) if year else None))
            taken.append((match.start(), match.end()))
    return sorted(found, key=lambda m: m.start)


def _mention(match: re.Match) -> DateMention | None:
    groups = match.groupdict()
    if groups.get("iy"):
        month, day, year = int(groups["im"]), int(groups["id"]), int(groups["iy"])
        last_day = None
    else:
        month = _MONTHS[groups["month"].lower().rstrip(".")]
        day = int(groups["day"])
        year = int(groups["year"]) if groups.get("year") else None
        last_day = int(groups["day2"]) if groups.get("day2") else None
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: February 29 stays valid
    except ValueError:
        return None
    return DateMention(match.group(0), match.start(), match.end(), month, day, year, last_day)


def resolve_weekday(weekday: str, published: date, preceding: str = "",
                    modifier: str = "") -> date:
    """The calendar day a weekday name means in an article published on ``published``.

    News reports name days of the week that has just passed ("on Monday", in a Thursday
    report, is three days earlier; "Thursday" is the day itself) unless the words just before
    it look ahead ("will meet on Friday", "next Friday"). ``preceding`` is those words.
    """
    target = WEEKDAYS.index(weekday.lower())
    modifier = modifier.strip().lower()
    back = (published.weekday() - target) % 7
    if modifier == "last" and back == 0:
        back = 7
    forward = (target - published.weekday()) % 7
    looks_ahead = modifier == "next" or (
        back != 0 and bool(_FUTURE.search(preceding)) and not _PAST.search(preceding)
    )
    if looks_ahead:
        return published + timedelta(days=forward or 7)
    return published - timedelta(days=back)


@dataclass(frozen=True)
class ResolvedWeekday:
    """A weekday name in text and the calendar day it stands for."""

    text: str
    start: int
    end: int
    day: date


def resolved_weekdays(text: str, published: date | None) -> list[ResolvedWeekday]:
    """Weekday names in ``text`` resolved against the publication date (none if it is unknown)."""
    if published is None:
        return []
    return [
        ResolvedWeekday(
            match.group("weekday"), match.start("weekday"), match.end("weekday"),
            resolve_weekday(match.group("weekday"), published,
                            text[max(0, match.start() - _LOOKBACK_CHARS):match.start()],
                            match.group("modifier") or ""),
        )
        for match in _WEEKDAY.finditer(text)
    ]


_DAY_OFFSET = re.compile(
    r"\b(?:the|a) (?P<which>next|following|same|previous|preceding) day\b|\b(?:a|one) day "
    r"(?P<dir>later|after|before|earlier)\b", re.IGNORECASE)
_OFFSETS = {"next": 1, "following": 1, "same": 0, "previous": -1, "preceding": -1,
            "later": 1, "after": 1, "before": -1, "earlier": -1}


def resolved_day_offsets(text: str, before: str = "") -> list[tuple[str, DateMention]]:
    """"the next day", "on the same day" … resolved against the nearest date written before
    them (in ``before`` + ``text``); the result keeps that date's year, or none."""
    found = []
    context = before + text
    for match in _DAY_OFFSET.finditer(text):
        earlier = [m for m in find_dates(context[:len(before) + match.start()])]
        if not earlier:
            continue
        anchor = earlier[-1]
        offset = _OFFSETS[(match.group("which") or match.group("dir")).lower()]
        day = date(anchor.year or 2001, anchor.month, anchor.day) + timedelta(days=offset)
        label = f"{day:%B} {day.day}" + (f", {day.year}" if anchor.year else "")
        found.append((match.group(0), DateMention(label, match.start(), match.end(), day.month,
                                                  day.day, anchor.year and day.year)))
    return found


def format_date(day: date, weekday: bool = True) -> str:
    """"Monday, May 1, 2023" (or "May 1, 2023")."""
    text = f"{day:%B} {day.day}, {day.year}"
    return f"{day:%A}, {text}" if weekday else text


def annotate_weekdays(text: str, published: date | None) -> str:
    """"On Monday, ..." → "On Monday (May 1, 2023), ..." for an article of known date."""
    for weekday in reversed(resolved_weekdays(text, published)):
        text = (text[:weekday.end] + f" ({format_date(weekday.day, weekday=False)})"
                + text[weekday.end:])
    return text


_DATELINE_REACH = 3  # characters a dateline may start after ("\n", a quote mark)
_DATELINE_END = re.compile(r"\s*(?:\.\.\.|…|—|–|-|:|\n)")


def dateline(text: str) -> date | None:
    """The full date a text opens with, set apart from what follows ("Nov 12, 2020 ... The
    fourth season premieres Nov. 15", "June 27, 2023 — The ministers met"): the date a search
    snippet or a dispatch was written. A sentence opening with a date ("On June 27, 2023, the
    ministers met") has none."""
    first = next(iter(find_dates(text[:_DATELINE_REACH + 40])), None)
    if (first is None or first.year is None or first.start > _DATELINE_REACH
            or not _DATELINE_END.match(text, first.end)):
        return None
    return date(first.year, first.month, first.day)


def with_year(mention: DateMention, written: date) -> date:
    """The day a date written without its year means in a text written on ``written``: the
    nearest such day ("premieres Nov. 15", written Nov 12, 2020: November 15, 2020; "on
    December 30", written January 2, 2023: December 30, 2022)."""
    if mention.year is not None:
        return date(mention.year, mention.month, mention.day)
    days = []
    for year in (written.year - 1, written.year, written.year + 1):
        try:
            days.append(date(year, mention.month, mention.day))
        except ValueError:  # February 29 of a year that has none
            continue
    return min(days, key=lambda day: abs((day - written).days))
