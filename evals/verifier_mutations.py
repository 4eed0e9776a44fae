"""Planted errors: copies of a correct generated answer with one thing made wrong.

Each rule is general (no per-case edits) and returns None when it does not apply to an
answer. A ``Mutation`` records what was replaced and the ``planted`` text that must not reach
the user; a rule never plants text the answer already contains, so "the planted text is
absent from what the verifier returns" means exactly "the error was stopped".

- ``date``: the first calendar date moved by one day ("November 7" → "November 8");
- ``number``: the first number outside dates changed by one ("324" → "325", "10th" → "11th",
  "three" → "four");
- ``name``: the first capitalised name the shown passages hold replaced by another proper name
  of the same corpus that neither the shown passages nor the question contain;
- ``negation``: "not" after the first auxiliary ("was" → "was not"), or "did not" before the
  first past-tense verb ("met" → "did not meet"); not applied to an answer that already negates;
- ``meeting`` (seed articles only): the other meeting's month (November → June → April →
  November, May → November) or place (Blair House ↔ Arlington, Washington → Arlington).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from qa.dates import WEEKDAYS, find_dates

__all__ = [
    "MUTATION_KINDS",
    "Mutation",
    "contains_token",
    "mutate_date",
    "mutate_meeting",
    "mutate_name",
    "mutate_negation",
    "mutate_number",
    "mutations_of",
    "proper_names",
]

MUTATION_KINDS = ("date", "number", "name", "negation", "meeting")

_MARKER = re.compile(r"\[\d{1,3}\]")
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")
_NUMBER = re.compile(r"(?<![\w\[.,])(\d[\d,]*(?:\.\d+)?)(st|nd|rd|th)?(?![\w\]])")
_NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve")
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_NAME_WORD = r"[A-Z][a-zA-Z'’\-]*[a-zA-Z]"
_NAME_RUN = re.compile(rf"\b{_NAME_WORD}(?:[ \t]+(?:of[ \t]+|de[ \t]+)?{_NAME_WORD})*")
_NEGATED = re.compile(r"\b(?:not|no|never|neither|nor|cannot)\b|n['’]t\b", re.IGNORECASE)
_AUXILIARY = re.compile(r"\b(is|are|was|were|has|have|had|will|would|can|could|should|does|"
                        r"do|did)\b(?=\s+[a-zA-Z])")
_IRREGULAR = {
    "met": "meet", "held": "hold", "said": "say", "took": "take", "led": "lead",
    "became": "become", "came": "come", "gave": "give", "went": "go", "made": "make",
    "won": "win", "fought": "fight", "began": "begin", "told": "tell", "found": "find",
    "left": "leave", "brought": "bring", "built": "build", "sent": "send", "spoke": "speak",
    "wrote": "write", "saw": "see", "knew": "know", "grew": "grow", "rose": "rise",
    "fell": "fall", "ran": "run", "sought": "seek", "struck": "strike", "swore": "swear",
    "taught": "teach", "thought": "think", "bought": "buy", "paid": "pay", "got": "get",
    "kept": "keep", "lost": "lose", "meant": "mean", "set": "set", "put": "put", "drew": "draw",
    "drove": "drive", "chose": "choose", "broke": "break", "stood": "stand", "bore": "bear",
}
# Words after which an "-ed" word is an adjective or participle, not the sentence's verb.
_NOT_BEFORE_VERB = frozenset(
    "the a an of in on by and or to with for as at from that this these those its their his "
    "her our your very most more be been being".split())
_NOT_VERBS = frozenset("hundred indeed need speed seed feed breed proceed exceed succeed".split())
_MEETING_MONTHS = {"november": "June", "june": "April", "april": "November", "may": "November"}
_MEETING_PLACES = (("Blair House", "Arlington"), ("Arlington", "Blair House"),
                   ("Washington", "Arlington"))


@dataclass(frozen=True)
class Mutation:
    """An answer with one planted error: ``original`` (at ``start``) became ``planted``."""

    kind: str
    text: str
    original: str
    planted: str
    start: int


def contains_token(text: str, token: str) -> bool:
    """``token`` occurs in ``text`` (markers removed) as whole words, ignoring case."""
    bare = _MARKER.sub("", text)
    return re.search(rf"(?<!\w){re.escape(token)}(?!\w)", bare, re.IGNORECASE) is not None


def _replace(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _outside_markers(text: str) -> str:
    """``text`` with markers blanked, offsets unchanged."""
    return _MARKER.sub(lambda m: " " * len(m.group(0)), text)


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


# --- the rules -------------------------------------------------------------------------------
def mutate_date(answer: str) -> Mutation | None:
    """The first calendar date one day later (one day earlier at a month's end)."""
    for mention in find_dates(_outside_markers(answer)):
        year = mention.year or 2000
        for shift in (1, -1):
            day = mention.day + shift
            try:
                date(year, mention.month, day)
            except ValueError:
                continue
            if re.fullmatch(r"\d{4}-\d\d-\d\d", mention.text):
                new = f"{mention.text[:8]}{day:02d}"
                planted = new
            else:
                # The day is the first 1-2 digit number of the mention (never its year).
                day_match = re.search(r"(?<!\d)([0-3]?\d)(st|nd|rd|th)?(?!\d)", mention.text)
                if day_match is None:
                    continue
                suffix = _ordinal(day) if day_match.group(2) else ""
                new = _replace(mention.text, day_match.start(), day_match.end(), f"{day}{suffix}")
                planted = re.sub(r",?\s*(?:19|20)\d\d$", "", new)
            if contains_token(answer, planted):
                continue
            return Mutation("date", _replace(answer, mention.start, mention.end, new),
                            mention.text, planted, mention.start)
    return None


def _date_spans_blanked(answer: str) -> str:
    text = _outside_markers(answer)
    for mention in find_dates(text):
        text = _replace(text, mention.start, mention.end, " " * (mention.end - mention.start))
    return text


def mutate_number(answer: str) -> Mutation | None:
    """The first number outside dates and markers changed by one (+1, else −1, else +2); a
    number word ("three") when the answer has no digits."""
    blanked = _date_spans_blanked(answer)
    for match in _NUMBER.finditer(blanked):
        digits, suffix = match.group(1).rstrip(".,"), match.group(2) or ""
        whole, _, fraction = digits.replace(",", "").partition(".")
        value = int(whole)
        for step in (1, -1, 2):
            new_value = value + step
            if new_value < 0 or (suffix and new_value == 0):
                continue
            new = f"{new_value:,}" if "," in digits else str(new_value)
            new += f".{fraction}" if fraction else ""
            new += _ordinal(new_value) if suffix else ""
            if contains_token(answer, new):
                continue
            end = match.start() + len(digits) + len(suffix)
            return Mutation("number", _replace(answer, match.start(), end, new),
                            answer[match.start():end], new, match.start())
    for match in _NUMBER_WORD.finditer(blanked):
        index = _NUMBER_WORDS.index(match.group(1).lower())
        for new in (_NUMBER_WORDS[(index + 1) % 12], _NUMBER_WORDS[index - 1]):
            if match.group(1)[0].isupper():
                new = new.capitalize()
            if contains_token(answer, new):
                continue
            return Mutation("number", _replace(answer, match.start(), match.end(), new),
                            match.group(1), new, match.start())
    return None


def _is_date_word(word: str) -> bool:
    word = word.lower().rstrip(".")
    return word in _MONTH_NAMES or word in WEEKDAYS


def _name_runs(text: str, stopwords: frozenset[str]) -> list[tuple[int, int, str]]:
    """Capitalised word runs without leading stopwords or date words, at most their last two
    words: (start, end, name)."""
    runs = []
    for match in _NAME_RUN.finditer(text):
        words = list(re.finditer(r"\S+", match.group(0)))
        while words and (words[0].group(0).lower() in stopwords
                         or _is_date_word(words[0].group(0))):
            words.pop(0)
        while words and (_is_date_word(words[-1].group(0))
                         or words[-1].group(0).lower() in ("of", "de")):
            words.pop()
        if not words:
            continue
        if len(words) > 2:  # "Foreign Minister Ararat Mirzoyan": the name is at the end
            words = words[-2:] if words[-2].group(0) not in ("of", "de") else words[-1:]
        start, end = match.start() + words[0].start(), match.start() + words[-1].end()
        name = text[start:end]
        possessive = re.search(r"['’]s$", name)
        if possessive:
            end -= 2
            name = name[:-2]
        if len(name) >= 3 and not any(_is_date_word(w) for w in name.split()):
            runs.append((start, end, name))
    return runs


def _stopwords() -> frozenset[str]:
    from qa.text import STOPWORDS

    return frozenset(STOPWORDS)


def proper_names(corpus_text: str) -> list[str]:
    """Names written in ``corpus_text``: capitalised runs seen at least once in mid-sentence
    (so "Following" at a sentence start is not a name), most frequent first."""
    stopwords = _stopwords()
    counts: Counter[str] = Counter()
    mid_sentence: set[str] = set()
    for start, _, name in _name_runs(corpus_text, stopwords):
        counts[name] += 1
        if not _sentence_start(corpus_text, start):
            mid_sentence.add(name)
    return sorted((n for n in counts if n in mid_sentence), key=lambda n: (-counts[n], n))


def _holds_name(text: str, name: str) -> bool:
    """``name`` written in ``text`` with its capitals, as whole words."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", _MARKER.sub("", text)) is not None


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'“‘(")
    return not before or before[-1] in ".!?\n:"


def mutate_name(answer: str, names: Sequence[str], passages_text: str, question: str,
                rng: random.Random) -> Mutation | None:
    """The first name of the answer that the shown passages hold, replaced by a corpus name
    none of whose words are in the shown passages, the question or the answer (one with the
    same number of words when there is one). A capitalised word opening a sentence counts as
    a name only when the corpus writes it capitalised in mid-sentence too."""
    stopwords = _stopwords()
    bare = _outside_markers(answer)
    known = set(names)

    def foreign(name: str) -> bool:
        return not any(contains_token(text, word) for word in name.split() if word[0].isupper()
                       for text in (passages_text, question, answer))

    for start, end, name in _name_runs(bare, stopwords):
        if _sentence_start(bare, start) and name not in known:
            continue
        if not _holds_name(passages_text, name):
            continue  # an unsupported name already: replacing it plants nothing new
        pool = [n for n in names if foreign(n)]
        if not pool:
            return None
        same_length = [n for n in pool if len(n.split()) == len(name.split())]
        new = rng.choice(same_length or pool)
        return Mutation("name", _replace(answer, start, end, new), name, new, start)
    return None


def _base_form(verb: str) -> str:
    """A rough base form of a past-tense verb ("agreed" → "agree", "planned" → "plan")."""
    lower = verb.lower()
    if lower in _IRREGULAR:
        return _IRREGULAR[lower]
    if lower.endswith("ied"):
        return lower[:-3] + "y"
    if lower.endswith("eed"):
        return lower[:-1]
    stem = lower[:-2]
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsfz":
        return stem[:-1]
    if len(stem) <= 2 or re.search(r"(?:[^aeiou][aeiou](?:v|c|g|z|s|t|d|r|k|l|m|n|p)|"
                                   r"[aeiou]{2}(?:s|v|c|g|z)|[^e]at|u|v|c|g|z|rs|ns|ls)$", stem) \
            and not re.search(r"(?:en|er|on|it|et|el|ol|al)$", stem):
        return stem + "e"
    return stem


def mutate_negation(answer: str) -> Mutation | None:
    """"not" after the first auxiliary, else "did not" + base form for the first past-tense
    verb; None when the answer already negates or has neither."""
    bare = _outside_markers(answer)
    if _NEGATED.search(bare):
        return None
    auxiliary = _AUXILIARY.search(bare)
    words = list(re.finditer(r"[A-Za-z][A-Za-z'’\-]*", bare))
    for index, word in enumerate(words):
        if auxiliary and word.start() > auxiliary.start():
            break
        text = word.group(0)
        lower = text.lower()
        if not text.islower() or lower in _NOT_VERBS or not (
                lower in _IRREGULAR or re.fullmatch(r"[a-z]{3,}ed", lower)):
            continue
        if index == 0 or words[index - 1].group(0).lower() in _NOT_BEFORE_VERB:
            continue
        new = f"did not {_base_form(text)}"
        return Mutation("negation", _replace(answer, word.start(), word.end(), new), text, new,
                        word.start())
    if auxiliary:
        new = f"{auxiliary.group(1)} not"
        return Mutation("negation", _replace(answer, auxiliary.start(), auxiliary.end(), new),
                        auxiliary.group(1), new, auxiliary.start())
    return None


def mutate_meeting(answer: str) -> Mutation | None:
    """The seed articles' other meeting: its month in a date, else its place."""
    for mention in find_dates(_outside_markers(answer)):
        month = re.match(r"[A-Za-z]+", mention.text)
        if month is None:
            continue
        full = _MONTH_NAMES[mention.month - 1]
        if full not in _MEETING_MONTHS:
            continue
        new_month = _MEETING_MONTHS[full]
        new = _replace(mention.text, 0, month.end(), new_month)
        new = re.sub(rf"^{new_month}\.", new_month, new)  # "Nov. 7" → "June 7"
        planted = re.sub(r",?\s*(?:19|20)\d\d$", "", new)
        if contains_token(answer, planted):
            continue
        return Mutation("meeting", _replace(answer, mention.start, mention.end, new),
                        mention.text, planted, mention.start)
    bare = _outside_markers(answer)
    found = []
    for place, other in _MEETING_PLACES:
        match = re.search(rf"\b{place}\b", bare)
        if match and not contains_token(answer, other):
            found.append((match.start(), match.end(), other))
    if not found:
        return None
    start, end, other = min(found)
    return Mutation("meeting", _replace(answer, start, end, other), answer[start:end], other,
                    start)


def mutations_of(answer: str, *, corpus: str, passages_text: str, question: str,
                 names: Sequence[str], seed: str) -> tuple[list[Mutation], list[str]]:
    """Every rule's mutation of ``answer``, and the kinds that did not apply."""
    rng = random.Random(seed)
    rules: dict[str, Callable[[], Mutation | None]] = {
        "date": lambda: mutate_date(answer),
        "number": lambda: mutate_number(answer),
        "name": lambda: mutate_name(answer, names, passages_text, question, rng),
        "negation": lambda: mutate_negation(answer),
    }
    if corpus == "seeds":
        rules["meeting"] = lambda: mutate_meeting(answer)
    made, skipped = [], []
    for kind, rule in rules.items():
        mutation = rule()
        if mutation is None:
            skipped.append(kind)
        else:
            made.append(mutation)
    return made, skipped
