"""Where the answer sits in a sentence: a name or a date beside the question's anchor word.

"Who won the Masters in 2021?" is answered by a name beside a form of "win" ("Hideki Matsuyama
wins the Masters", "the title was won by Ashleigh Barty"); "Who is the director of X?" by a
name beside "director" or "directed"; "When was X released?" by a date beside "released". A
sentence that restates the question without such a pair ("The 2021 Masters Tournament runs
April 8-11", "Sep 13, 2022 ... Breath of the Wild has been revealed!") holds the question's
words but not its answer. This is the surface-pattern idea of early open-domain QA
(Ravichandran and Hovy, 2002) reduced to proximity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from qa.dates import find_dates
from qa.text import STOPWORDS, content_terms

__all__ = ["AMOUNT", "Anchor", "question_anchor", "new_names", "answers_beside_anchor"]

# The anchor: the verb or role noun right after "who" ("who won", "who is the director"), the
# verb closing "when was X released?", the noun before "date" in "what is the release date of X".
_WHO = re.compile(r"^\W*(?:who|whom)\s+(?:(?:is|was|are|were|has|have|had|will|did|does|do|"
                  r"been|being|currently|now|the|a|an)\s+)*([\w\-]+)", re.IGNORECASE)
_WHO_WORD = re.compile(r"^\W*(?:who|whom)\s+", re.IGNORECASE)
_WHO_IS = re.compile(r"^\W*who\s+(?:is|are)\b", re.IGNORECASE)
# Before a role word, these say that someone held it once ("Eric Schmidt, former CEO of
# Google"): no answer to who holds it now.
_PAST_HOLDER = re.compile(r"^(?:former|ex|then|late|previous|past)\b", re.IGNORECASE)  # "ex-CEO" too
_WHEN = re.compile(r"^\W*(?i:when\s+(?:is|was|are|were|did|does|do|will|has|have|had))\s+.*?"
                   r"\s([a-z][a-z\-]+)\W*$")
_DATE_OF = re.compile(r"^\W*what\s+(?:is|was|will be)\s+the\s+([a-z][a-z\-]+)\s+(?:date|day)\b",
                      re.IGNORECASE)

# Irregular forms of common verbs, which share no prefix with the form a question uses.
_IRREGULAR = [set(forms.split("/")) for forms in (
    "win/won/wins/winning", "lead/led/leads/leading", "buy/bought/buys/buying",
    "sell/sold/sells/selling", "make/made/makes/making", "give/gave/given/gives/giving",
    "take/took/taken/takes/taking", "become/became/becomes/becoming", "begin/began/begun/begins",
    "write/wrote/written/writes/writing", "choose/chose/chosen/chooses", "pay/paid/pays/paying",
    "build/built/builds/building", "meet/met/meets/meeting", "lose/lost/loses/losing",
    "beat/beaten/beats/beating", "find/found/finds/finding", "run/ran/runs/running",
    "sing/sang/sung/sings/singing", "speak/spoke/spoken/speaks", "see/saw/seen/sees",
    "fall/fell/fallen/falls", "bring/brought/brings", "hold/held/holds/holding")]
_MONTHS_AND_DAYS = frozenset(
    "january february march april may june july august september october november december jan "
    "feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday "
    "saturday sunday".split())
_NAME_WORD = re.compile(r"\b[A-Z][\w'’\-]*\.?|\b[A-Z]\.")
# A sentence's end: "...", "!" or "?", or a full stop after a word in lower case (not "U.S.").
_SENTENCE_END = re.compile(r"(?:\.\.\.|…|[!?]|\b[a-z]{2,}\.)$")
# A name right after these prepositions is where something happened, which no "who" asks.
_PLACE_BEFORE = re.compile(r"\b(?:at|in|near|inside|outside|across|throughout)\s+$", re.IGNORECASE)
# Headline style: words that mid-sentence prose writes in lower case ("Google CEO Sees Company's
# Next Trillion in Value From Search"). A run of capitals holding one is a headline, not names.
_FUNCTION_WORDS = frozenset(
    "to of in for with from on at by into onto over after before about as and or but is are "
    "was were be will its their his her".split())
_HEADLINE_RUN = re.compile(r"[A-Z][\w'’\-]*(?:\s+(?:[A-Z][\w'’\-]*|(?:in|of|for|to|on|at|and|the|a|an)\b))+")
# A sum of money or a large number: "$6.3 billion", "€12m", "10.4 billion dollars", "2,000".
AMOUNT = re.compile(r"[$€£¥]\s?\d[\d,.]*(?:\s*(?:million|billion|trillion|[mbk]n?)\b)?"
                    r"|\b\d[\d,.]*\s*(?:million|billion|trillion)\b(?:\s+(?:dollars|euros|pounds))?"
                    r"|\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b", re.IGNORECASE)
_GAP = 3  # the answer is at most this many words from the anchor (two between them)
_TOKEN = re.compile(r"[\w'’\-./]+")


@dataclass(frozen=True)
class Anchor:
    """The word a question's answer hangs on; ``subject``: the answer is the verb's subject
    ("Who won ...?": "Matsuyama won", or "was won by Barty"), not a word after it."""

    word: str
    subject: bool = False
    date: bool = False  # a date is asked for ("when was X released?")
    current: bool = False  # who holds the role now ("who is the CEO"), not who held it
    amount: bool = False  # a sum or number is asked for ("what was X's revenue?")


@lru_cache(maxsize=1024)  # new_names asks it again for every candidate sentence
def question_anchor(question: str) -> Anchor | None:
    """The word a "who" or "when" question's answer hangs on, or None."""
    for pattern in (_WHEN, _DATE_OF):
        dated = pattern.search(question)
        if dated and dated.group(1).lower() not in STOPWORDS:
            return Anchor(dated.group(1).lower(), date=True)
    match = _WHO.search(question)
    if match is None:
        return None
    word = match.group(1)
    if word.lower() in STOPWORDS or (word[0].isupper() and not word.isupper()):
        return None  # "Who is Hideki Matsuyama?": a name is the topic, not a role ("CEO" is)
    # "Who won": the answer is the verb's subject; "who is the director", "who was awarded":
    # a name on either side.
    direct = match.start(1) == _WHO_WORD.match(question).end()
    return Anchor(word.lower(), subject=direct, current=bool(_WHO_IS.match(question)))


@lru_cache(maxsize=65536)  # bounded: a server sees new words all its life
def _same_word(anchor: Anchor, word: str) -> bool:
    """Whether ``word`` is a form of the anchor: of a verb the same stem ("won" of "win",
    "acquires" of "acquired"; "ruler" is not "ruled"), of a noun also a longer or shorter one
    ("directed" of "director")."""
    word = word.lower()
    forms = next((f for f in _IRREGULAR if anchor.word in f), None)
    if forms:
        return word in forms
    a, w = content_terms(anchor.word), content_terms(word)
    if not a or not w:
        return False
    if anchor.subject:
        return a[0] == w[0]
    shorter, longer = sorted((a[0], w[0]), key=len)
    return shorter == longer or (len(shorter) >= 4 and longer.startswith(shorter))


def new_names(text: str, question: str) -> list[tuple[int, int]]:
    """The spans of capitalised words in ``text`` that the question does not use: the names a
    "who" question may be answered with (months, weekdays, a sentence's first word alone and a
    word continuing a name the question uses, "the LEGO Group" for "Lego", are not)."""
    asked = {w.lower().rstrip(".") for w in re.findall(r"[\w'’\-]+", question)}
    anchor = question_anchor(question)
    spans = []
    headlines = _headline_spans(text)
    place_ends = -2  # where the last word of a name after "at", "in"... ends
    named_ends = -2  # where the last word the question names (not its anchor) ends
    for match in _NAME_WORD.finditer(text):
        before = text[max(0, match.start() - 12):match.start()]
        if match.start() == place_ends + 1 or _PLACE_BEFORE.search(before):
            place_ends = match.end()
            continue  # "runs April 8-11 at Augusta National Golf Club": where, not who
        word = match.group(0).rstrip(".").lower().removesuffix("'s").removesuffix("’s")
        if any(start <= match.start() < end for start, end in headlines):
            continue  # capitals of headline style name nothing: "Google CEO Sees Company's ..."
        if word in asked:
            if anchor is None or word != anchor.word:
                named_ends = match.end()
            continue
        if match.start() == named_ends + 1:
            continue  # "the LEGO Group" for "Lego": the name asked about, not a new one
        if word in STOPWORDS or word in _MONTHS_AND_DAYS:
            continue
        if _opens_sentence(text, match.start()) and not _NAME_WORD.match(text, match.end() + 1):
            continue  # "Practice rounds begin": a capital only because it opens a sentence
        spans.append(match.span())
    return spans


def _headline_spans(text: str) -> list[tuple[int, int]]:
    """The runs of capitalised words written in headline style: holding a capitalised function
    word ("From", "To", "Of") that does not open a sentence."""
    spans = []
    for run in _HEADLINE_RUN.finditer(text):
        words = list(re.finditer(r"[\w'’\-]+", run.group(0)))
        if any(w.group(0)[0].isupper() and w.group(0).lower() in _FUNCTION_WORDS
               and not _opens_sentence(text, run.start() + w.start()) for w in words[1:]):
            spans.append(run.span())
    return spans


def _opens_sentence(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens the text or a sentence in it ("... The", "begin.
    Practice"), not one after an abbreviation ("Sen. Menendez", "U.S. Ambassador")."""
    before = text[:start].rstrip().rstrip("\"'”’)")
    return not before or _SENTENCE_END.search(before) is not None


def answers_beside_anchor(anchor: Anchor | None, text: str, question: str) -> list[tuple[int, int]]:
    """The spans of the names the question does not use (or, for "when", the dates) in ``text``
    within a few words of the anchor, in the order they appear ("Hideki Matsuyama wins", "won by
    Ashleigh Barty", "directed by Garry Marshall", "premiered on NBC on September 23, 2013")."""
    if anchor is None:
        return []
    if anchor.date:
        answers = [(d.start, d.end) for d in find_dates(text)]
    elif anchor.amount:
        answers = [m.span() for m in AMOUNT.finditer(text)]
    else:
        answers = new_names(text, question)
    if not answers:
        return []
    words = list(_TOKEN.finditer(text))
    spans = [m.span() for m in words]
    anchors = [i for i, m in enumerate(words) if _same_word(anchor, m.group(0))
               and not (anchor.current and _held_once(words, i))]
    gap = _GAP + (1 if anchor.date else 0)  # "premiered on NBC on September 23"
    return [(start, end) for start, end in answers
            if any(_beside(anchor, words, a, _word_at(spans, start), _word_at(spans, end - 1), gap)
                   for a in anchors)]


def _held_once(words: list[re.Match], a: int) -> bool:
    """Whether the role word at ``a`` is one someone held before ("former CEO", "ex-CEO")."""
    return any(_PAST_HOLDER.match(words[i].group(0)) for i in range(max(0, a - 2), a + 1))


def _beside(anchor: Anchor, words: list[re.Match], a: int, first: int, last: int, gap: int) -> bool:
    """Whether the answer spanning words ``first`` to ``last`` stands where it answers the
    anchor at word ``a``."""
    # "won by Barty": the agent of a passive verb follows it, and what precedes it is what was
    # acted on ("the Latin used by the church").
    passive = a + 1 < len(words) and words[a + 1].group(0).lower() == "by"
    if first - gap <= a < first:  # the answer after the anchor
        return passive or not anchor.subject
    if last < a <= last + gap:  # the answer before it
        return not (passive and anchor.subject)
    return False


def _word_at(words: list[tuple[int, int]], offset: int) -> int:
    """The index of the word holding (or next after) character ``offset``."""
    return next((i for i, (_, end) in enumerate(words) if offset < end), len(words))
