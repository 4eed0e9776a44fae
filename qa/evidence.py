"""Finding the sentences that answer a question, and deciding whether any does.

Shared by every backend: the extractive backend answers with the best sentences, the
generative backends get the same abstention decision and use these scores to pick quotes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache

import numpy as np

from qa.constraints import Constraint, question_constraints, unmet_constraints
from qa.cues import cues, phrase_pattern
from qa.dates import find_dates, resolved_weekdays
from qa.retrieval import Passage
from qa.sentences import sentence_spans
from qa.slots import AMOUNT, Anchor, answers_beside_anchor, new_names, question_anchor
from qa.text import STOPWORDS, content_terms

__all__ = [
    "QuestionProfile",
    "Evidence",
    "profile_question",
    "candidate_sentences",
    "rank_evidence",
    "is_answerable",
]

@cache
def _question_types() -> tuple[tuple[str, re.Pattern], ...]:
    """(answer type, the phrases that ask for it), from ``qa/cues.json``, in order."""
    return tuple((kind, phrase_pattern(phrases)) for kind, phrases in cues().answer_types.items())


@cache
def _speech_verbs() -> re.Pattern:
    """Words that report speech ("said", "told"), from ``qa/cues.json``."""
    return phrase_pattern(cues().speech_verbs)


_DURATION = re.compile(r"\b(?:\d[\d,]*|one|two|three|four|five|six|seven|eight|nine|ten|several|"
                       r"few|many)\s*(?:-\s*)?(?:minutes?|hours?|days?|weeks?|months?|years?|"
                       r"decades?)\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r",|\b(?:according to|as (?:described|reported)|in the (?:report|coverage))\b",
                           re.IGNORECASE)
_QUOTED = re.compile(r"[\"“]([^\"”]{6,})[\"”]")
_ASKS = re.compile(r"\?[\s\"”’')\]]*$")  # the sentence is itself a question
_ASKS_WITHIN = re.compile(r"\?[\"”’')\]]*\s")  # a joined span holding a question
_PRONOUN_START = re.compile(r"^(He|She|They|It|His|Her|Their|This|That|These|Those)\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|"
                     r"eleven|twelve|dozen|hundred|thousand|million|billion)\b", re.I)
_YEAR = re.compile(r"\b(1[0-9]|20)\d\d\b")
_PERIOD = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)[\s-]+century\b|\b1?\d{2}0\s*'?s\b", re.I)


@dataclass(frozen=True)
class QuestionProfile:
    """What a question asks for: its answer type, its content terms (stemmed) and its focus:
    the attribute asked about ("population" in "What is the population of Baku?")."""

    question: str
    answer_type: str  # year | duration | time | date | number | name | amount | other
    terms: tuple[str, ...]
    focus: str | None = None
    speaker: str | None = None  # the X of "what did X say"
    counted: str | None = None  # the noun of "how many X"
    context_terms: tuple[str, ...] = ()  # from earlier chat turns; weigh half
    search_text: str = ""  # what retrieval searched for (a follow-up adds the previous turn)
    calendar_day: bool = False  # "on what date": a day is asked for, a bare year will not do
    constraints: tuple[Constraint, ...] = ()  # the years, quarters, names the question states
    anchor: Anchor | None = None  # the word its answer hangs on ("won" in "who won ...")

    @property
    def asks_for_kind(self) -> bool:
        """Whether the answer must be of a kind (a date, a number, a speaker's words, ...)."""
        return self.answer_type != "other" or self.speaker is not None


@dataclass(frozen=True)
class Evidence:
    """A candidate sentence from a retrieved passage, with how well it answers the question."""

    passage: Passage
    text: str
    start: int  # offsets in the article body
    end: int
    rank: int  # rank of its passage in retrieval
    coverage: float = 0.0
    passage_coverage: float = 0.0
    similarity: float = 0.0
    type_match: bool = False
    slot: bool = False  # holds an answer of the asked-for kind beside the question's anchor
    focus_found: bool = True  # its passage mentions the question's focus
    joined: bool = False  # two adjacent sentences
    unmet: tuple[Constraint, ...] = ()  # what the question states that its passage does not
    score: float = 0.0

    @property
    def meets_period(self) -> bool:
        """Its passage meets every year, decade, century and quarter the question states."""
        return not any(c.temporal for c in self.unmet)

    def lies_within(self, quote: Evidence) -> bool:
        """Whether this sentence is part of ``quote`` (the same chunk, inside its span)."""
        return (self.passage.chunk_id == quote.passage.chunk_id
                and quote.start <= self.start and self.end <= quote.end)


def profile_question(question: str) -> QuestionProfile:
    """Classify the question's expected answer and extract its content terms."""
    answer_type = next((name for name, pattern in _question_types()
                        if pattern.search(question)
                        and not (name == "time" and _TIME_OF_YEAR.search(question))), "other")
    anchor = question_anchor(question)
    if answer_type == "amount" and anchor is None:  # "What was Tesla's revenue ...?"
        asked = dict(_question_types())["amount"].search(question)
        anchor = Anchor(asked.group(0).lower(), amount=True)
    terms = tuple(dict.fromkeys(content_terms(question)))
    counted = _COUNTED.search(question)
    speaker = _SPEAKER.search(question)
    return QuestionProfile(question=question, answer_type=answer_type, terms=terms,
                           focus=_focus_of(question),
                           counted=content_terms(counted.group(1))[-1] if counted
                           and content_terms(counted.group(1)) else None,
                           speaker=_speaker_of(speaker),
                           calendar_day=bool(_CALENDAR_DAY.search(question)),
                           constraints=tuple(question_constraints(question)),
                           anchor=anchor)


def _speaker_of(match: re.Match | None) -> str | None:
    """The last word of "what did <speaker> say" (not a pronoun: a follow-up names no one)."""
    if match is None:
        return None
    word = match.group(1).split()[-1]
    return None if word.lower() in STOPWORDS else word


_SPEAKER = re.compile(r"\b[Ww]hat (?:exactly |precisely )?did\s+((?:the\s+|a\s+)?(?:[\w\-]+\s+){1,3}?)"
                      r"(?:say|tell|said|write|tweet|state)\b")
_COUNTED = re.compile(
    r"\bhow many\s+((?:[A-Za-z\-]+\s+){0,3}?[A-Za-z\-]+?)\s+(?:were|was|are|is|did|do|does|"
    r"had|have|has|will|would|could|of|in|at|on|live|lived|died|had)\b", re.IGNORECASE)
_CALENDAR_DAY = re.compile(r"\b(?:what|which) (?:date|day)\b", re.IGNORECASE)
_TIME_OF_YEAR = re.compile(r"\bwhat time of (?:the )?year\b", re.IGNORECASE)
_NUMBER_WORD = (r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                r"dozens?|hundreds?|thousands?|millions?|several|some)")


_FOCUS = re.compile(
    r"\b(?:what|which)\s+(?:is|was|are|were)\s+(?:the\s+|a\s+|an\s+)?([a-z][a-z\-]+)\s+of\b"
    r"|\bhow\s+(?:many|much)\s+([a-z][a-z\-]+)\b",
    re.IGNORECASE,
)


def _focus_of(question: str) -> str | None:
    """The attribute a question asks about ("population" in "What is the population of
    Baku?"), which a passage answering it must mention."""
    for match in _FOCUS.finditer(question):
        word = next(g for g in match.groups() if g).lower()
        if word not in STOPWORDS:
            return word
    return None


def _mentions(text: str, word: str) -> bool:
    """``word`` appears in ``text`` as a word (singular or plural), not merely as a stem."""
    return re.search(rf"\b{re.escape(word.rstrip('s'))}(s|es)?\b", text, re.IGNORECASE) is not None


def candidate_sentences(passages: Sequence[Passage]) -> list[Evidence]:
    """The sentences of the passages, each once, with its span in its article."""
    seen: set[tuple[str, int]] = set()
    found: list[Evidence] = []
    for rank, passage in enumerate(passages):
        for start, end in sentence_spans(passage.text):
            text = passage.text[start:end].strip()
            if len(text) < 12 or not re.search(r"[.!?][\"'”’)]*$", text):
                continue  # headlines and captions without a full stop are not answers
            offset = passage.text.index(text, start)
            key = (passage.article_id, passage.start + offset)
            if key in seen:
                continue
            seen.add(key)
            found.append(Evidence(passage, text, passage.start + offset,
                                  passage.start + offset + len(text), rank))
    return found


def answers_kind(profile: QuestionProfile, text: str, published: date | None) -> bool:
    """Does ``text`` hold the kind of answer asked for: a date for "when", a count of the
    right thing for "how many X", words of the right speaker for "what did X say"?"""
    if profile.answer_type == "name":
        return bool(new_names(text, profile.question))
    if not has_answer_type(profile.answer_type, text, published):
        return False
    if profile.answer_type == "date" and profile.calendar_day and not _names_a_day(text, published):
        return False
    if profile.answer_type == "number" and profile.counted:
        stem = re.escape(profile.counted[:5])
        if not re.search(rf"\b{_NUMBER_WORD}\s+(?:[\w\-]+\s+){{0,2}}{stem}", text, re.IGNORECASE):
            return False
    if profile.speaker:
        name = re.escape(profile.speaker)
        speech = _speech_verbs().pattern
        near = re.search(rf"\b{name}\b(?:\W+\w+){{0,6}}?\W+{speech}"
                         rf"|{speech}(?:\W+\w+){{0,3}}?\W+{name}\b", text, re.IGNORECASE)
        if not near:
            return False
    return True


def _names_a_day(text: str, published: date | None) -> bool:
    """Does ``text`` name a calendar day (not just a year or "weeks ago")?"""
    return bool(find_dates(text)) or bool(resolved_weekdays(text, published)) or bool(
        re.search(r"\b(yesterday|today|tomorrow|(the|a) (next|following|same|previous) day)\b",
                  text, re.I))


def has_answer_type(answer_type: str, text: str, published: date | None) -> bool:
    """Does ``text`` hold something of the kind asked for (a date for "when", ...)?"""
    if answer_type == "year":
        return bool(_YEAR.search(text))
    if answer_type == "duration":
        return bool(_DURATION.search(text))
    if answer_type == "time":
        return bool(re.search(r"\b\d{1,2}(:\d\d)?\s*(a\.m\.|p\.m\.|am\b|pm\b)|\bnoon\b|"
                              r"\bmidnight\b|o'clock", text, re.I))
    if answer_type == "date":
        return _names_a_day(text, published) or bool(
            _YEAR.search(text) or _PERIOD.search(text)
            or re.search(r"\b(weeks?|months?|days?|years?) (ago|later|after|before)\b", text, re.I))
    if answer_type == "number":
        return bool(_NUMBER.search(text))
    if answer_type == "amount":
        return bool(AMOUNT.search(text))
    return True


def rank_evidence(profile: QuestionProfile, candidates: list[Evidence],
                  term_weight: Callable[[str], float],
                  embed: Callable[[list[str]], np.ndarray] | None) -> list[Evidence]:
    """Score every candidate and sort best first.

    The score mixes how much of the question the sentence covers (terms weighted by IDF), how
    much its passage covers (the context a long question pins down), embedding similarity,
    and whether the sentence holds the kind of answer asked for. A sentence lacking that kind
    is joined with a neighbour that has it ("On May 2, ... met. The envoy held ... talks").
    """
    if not candidates:
        return []
    core = set(content_terms(_CLAUSE_BREAK.split(profile.question, maxsplit=1)[0]))
    weights = {term: term_weight(term) * (1.5 if term in core else 1.0) for term in profile.terms}
    own_total = sum(weights.values()) or 1.0
    context = {t: term_weight(t) for t in profile.context_terms if t not in weights}
    if context:  # earlier turns inform a follow-up, but at most half as much as its own words
        scale = min(0.5, 0.5 * own_total / sum(context.values()))
        weights.update({t: w * scale for t, w in context.items()})
    total = sum(weights.values()) or 1.0

    def covered(text: str) -> float:
        present = set(content_terms(text))
        return sum(w for t, w in weights.items() if t in present) / total

    # A quoted phrase in the question's main clause is what to find; one in a later clause
    # ("according to the article about the 'good to host' tweet") only says where to look.
    unquoted = _QUOTED.sub(lambda m: "x" * len(m.group(0)), profile.question)
    core_end = len(_CLAUSE_BREAK.split(unquoted, maxsplit=1)[0])
    quotes = [m.group(1) for m in _QUOTED.finditer(profile.question) if m.start() < core_end]
    candidates = _distinct(candidates + _joined_with_neighbours(profile, candidates)
                           + _with_antecedents(candidates))
    # A sentence that asks ("What is the location of the Super Bowl in 2022?") answers nothing,
    # however closely it restates the question, and adds nothing to the sentence it is joined to.
    candidates = [c for c in candidates
                  if not (_ASKS.search(c.text) or c.joined and _ASKS_WITHIN.search(c.text))]
    similarities = np.zeros(len(candidates))
    if embed is not None:
        # A follow-up is compared with itself and with itself read after the previous question;
        # the closer of the two counts ("Where were they held?" alone says little, while
        # "Until what date ...?" should not be pulled toward what the previous turn asked).
        queries = list(dict.fromkeys([profile.question, profile.search_text or profile.question]))
        vectors = embed(queries + [c.text for c in candidates])
        similarities = (vectors[len(queries):] @ vectors[:len(queries)].T).max(axis=1)
    passage_cover = {c.passage.chunk_id: covered(c.passage.text) for c in candidates}
    unmet = {c.passage.chunk_id: tuple(unmet_constraints(profile.constraints, c.passage.text,
                                                         c.passage.title, c.passage.published))
             for c in candidates}
    # Counted against a passage: what it misses beyond what every passage misses (a question
    # naming two meetings is met by no single passage).
    least_missed = {kind: min(sum(c.temporal == kind for c in m) for m in unmet.values())
                    for kind in (True, False)} if unmet else {True: 0, False: 0}
    typed = profile.asks_for_kind
    scored = []
    for candidate, similarity in zip(candidates, similarities):
        coverage = covered(candidate.text)
        type_match = answers_kind(profile, candidate.text, candidate.passage.published)
        focus_found = profile.focus is None or _mentions(candidate.passage.text, profile.focus)
        # "Who won?": a name beside "won" answers, a restatement naming only a place does not;
        # "When was X released?": a date beside "released", not the date a snippet was written.
        slot = (profile.anchor is not None and type_match
                and bool(answers_beside_anchor(profile.anchor, candidate.text, profile.question)))
        quoted = any(_normalized(q) in _normalized(candidate.text) for q in quotes)
        missing = unmet[candidate.passage.chunk_id]
        # A passage about another year or quarter than the one asked about does not answer,
        # however alike it reads; a missing name counts against it, less.
        penalty = (0.5 * (sum(c.temporal for c in missing) - least_missed[True])
                   + min(0.15, 0.05 * (sum(not c.temporal for c in missing) - least_missed[False])))
        score = (0.40 * coverage + 0.20 * passage_cover[candidate.passage.chunk_id]
                 + 0.40 * max(float(similarity), 0.0) + (0.3 if quoted else 0.0)
                 + (0.08 if type_match else -0.15 if typed else 0.0)
                 + ((0.3 if profile.anchor.date else 0.2) if slot else 0.0)
                 - 0.005 * candidate.rank
                 - (0.06 if candidate.joined else 0.0)
                 - penalty)
        scored.append(replace(candidate, coverage=coverage,
                              passage_coverage=passage_cover[candidate.passage.chunk_id],
                              similarity=float(similarity), type_match=type_match, slot=slot,
                              focus_found=focus_found, unmet=missing, score=score))
    return sorted(scored, key=lambda e: e.score, reverse=True)


def quoted_phrases(question: str) -> list[str]:
    """The phrases in quotation marks in a question."""
    return [match.group(1) for match in _QUOTED.finditer(question)]


def _normalized(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def with_antecedent(best: Evidence, previous_chunk: Passage | None = None) -> Evidence:
    """A sentence opening with a pronoun ("He said ...") joined with the sentence before it,
    so the answer names who "he" is; ``previous_chunk`` (the article's chunk before the
    sentence's own) supplies that sentence when it lies there."""
    if not _PRONOUN_START.match(best.text):
        return best
    passage = _with_previous_chunk(best.passage, previous_chunk)
    earlier = [c for c in candidate_sentences([passage]) if c.end <= best.start]
    if not earlier:
        return best
    previous = max(earlier, key=lambda c: c.end)
    text = passage.text[previous.start - passage.start:best.end - passage.start]
    return replace(best, passage=passage, text=text, start=previous.start)


def _with_previous_chunk(passage: Passage, previous: Passage | None) -> Passage:
    """``passage`` extended back over the chunk before it, which overlaps it or ends where the
    whitespace the chunk records (``gap_before``) begins."""
    if previous is None or previous.article_id != passage.article_id:
        return passage
    if previous.end + len(passage.gap_before) == passage.start:
        text = previous.text + passage.gap_before + passage.text
    elif previous.start < passage.start < previous.end:
        text = previous.text + passage.text[previous.end - passage.start:]
    else:
        return passage  # not contiguous: the text between them is unknown
    return replace(passage, text=text, start=previous.start)


_SHORT_FOLLOW_ON = 90


def with_follow_on(best: Evidence) -> Evidence:
    """A sentence joined with a short next sentence of the same paragraph ("Yerevan denied the
    charges."), which often carries the answer the longer sentence sets up."""
    passage = best.passage
    later = [c for c in candidate_sentences([passage]) if c.start >= best.end]
    if not later:
        return best
    following = min(later, key=lambda c: c.start)
    gap = passage.text[best.end - passage.start:following.start - passage.start]
    if "\n" in gap or len(following.text) > _SHORT_FOLLOW_ON:
        return best
    text = passage.text[best.start - passage.start:following.end - passage.start]
    return replace(best, text=text, end=following.end)


def _joined_with_neighbours(profile: QuestionProfile, candidates: list[Evidence]) -> list[Evidence]:
    """Two-sentence spans (verbatim from the article) pairing a sentence that lacks the asked-for
    kind of answer with an adjacent sentence that has it."""
    if not profile.asks_for_kind:
        return []
    joined = []
    for sentences in _in_passages(candidates):
        kinds = [answers_kind(profile, e.text, e.passage.published) for e in sentences]
        for i, first in enumerate(sentences):
            # The next sentence; or, within one paragraph, the one after that, when only the
            # first of the three has the answer ("On May 2, ... met. The ministry ... .
            # The envoy held ...").
            for j in (i + 1, i + 2):
                if j >= len(sentences) or kinds[i] == kinds[j]:
                    continue
                if j == i + 2 and (not kinds[i] or kinds[i + 1]):
                    continue
                if not _adjacent(first, sentences[j], sentences[i + 1:j]):
                    continue
                pair = _spanning(first, sentences[j])
                if j == i + 2 and "\n" in pair.text:
                    continue
                joined.append(pair)
    return joined


def _with_antecedents(candidates: list[Evidence]) -> list[Evidence]:
    """Each sentence that opens with a pronoun ("They spread a unique Romanesque idiom ..."),
    joined with the sentence before it in its passage ("Norman architecture typically ..."):
    the pronoun's referent is what the question names, so the pair covers the question where
    neither sentence alone does."""
    return [_spanning(previous, sentence)
            for sentences in _in_passages(candidates)
            for previous, sentence in zip(sentences, sentences[1:])
            if _PRONOUN_START.match(sentence.text) and _adjacent(previous, sentence, [])]


def _adjacent(first: Evidence, last: Evidence, between: Sequence[Evidence]) -> bool:
    """Whether only whitespace and the sentences ``between`` separate ``first`` from ``last``:
    a span joining them must not carry text that is no candidate sentence (a headline, a
    "Title:" or "Date:" line, a caption) as if it were part of the quote."""
    passage = first.passage
    gap = passage.text[first.end - passage.start:last.start - passage.start]
    for sentence in between:
        gap = gap.replace(sentence.text, "", 1)
    return not gap.strip()


def _in_passages(candidates: list[Evidence]) -> list[list[Evidence]]:
    """The candidate sentences of each passage, in the passage's order."""
    by_passage: dict[str, list[Evidence]] = {}
    for candidate in candidates:
        by_passage.setdefault(candidate.passage.chunk_id, []).append(candidate)
    return [sorted(sentences, key=lambda e: e.start) for sentences in by_passage.values()]


def _spanning(first: Evidence, last: Evidence) -> Evidence:
    """The verbatim span of ``first``'s passage from ``first`` through ``last``, as a joined
    candidate."""
    passage = first.passage
    return replace(first, text=passage.text[first.start - passage.start:last.end - passage.start],
                   end=last.end, joined=True)


def _distinct(candidates: list[Evidence]) -> list[Evidence]:
    """``candidates`` without repeats of one span of one passage (the first kept)."""
    seen: set[tuple[str, int, int]] = set()
    kept = []
    for candidate in candidates:
        key = (candidate.passage.chunk_id, candidate.start, candidate.end)
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
    return kept


# Thresholds measured on evals/questions.jsonl (see evals/README.md).
MIN_COVERAGE = 0.2
MIN_SCORE = 0.48
MIN_YES_NO_COVERAGE = 0.75
_YES_NO = re.compile(r"\s*(did|does|do|is|was|were|has|have|had|will|can|could|are)\b", re.IGNORECASE)


MIN_RELEVANT_SIMILARITY = 0.35


def is_relevant(profile: QuestionProfile, best: Evidence | None) -> bool:
    """Whether the best sentence is about the question at all: worth showing a language model,
    which then reads the passages and may still find no answer. Looser than ``is_answerable``,
    which decides for the extractive answer, where no model reads the passages."""
    if best is None or not (profile.terms or profile.context_terms):
        return False
    if not best.meets_period:
        return False
    return best.coverage >= MIN_COVERAGE or best.similarity >= MIN_RELEVANT_SIMILARITY


def is_answerable(profile: QuestionProfile, best: Evidence | None) -> bool:
    """Whether the best sentence answers the question well enough to answer at all."""
    if best is None or not (profile.terms or profile.context_terms):
        return False
    if not best.meets_period:
        return False  # nothing retrieved is about the year or quarter asked about
    if profile.asks_for_kind and not best.type_match:
        return False
    if not best.focus_found:
        return False
    if _YES_NO.match(profile.question) and best.coverage < MIN_YES_NO_COVERAGE:
        return False  # a yes/no answer needs a sentence stating nearly all that was asked
    context = max(best.coverage, 0.5 * (best.coverage + best.passage_coverage))
    return context >= MIN_COVERAGE and best.score >= MIN_SCORE
