"""Finding the sentences that answer a question, and deciding whether any does.

Shared by every backend: the extractive backend answers with the best sentences, the
generative backends get the same abstention decision and use these scores to pick quotes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Callable, Sequence

import numpy as np

from qa.dates import find_dates, resolved_weekdays
from qa.retrieval import Passage
from qa.sentences import sentence_spans

__all__ = [
    "QuestionProfile",
    "Evidence",
    "profile_question",
    "candidate_sentences",
    "rank_evidence",
    "is_answerable",
    "content_terms",
]

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    whose s t tell say said says told according article articles report reported mention
    mentioned happen happened take took place held hold name named did""".split()
)
_QUESTION_TYPES: list[tuple[str, re.Pattern]] = [
    ("date", re.compile(r"\b(when|what (?:date|day)|which (?:date|day)|on what (?:date|day)|"
                        r"what time|since when)\b", re.I)),
    ("number", re.compile(r"\b(how (?:many|much|long|old)|what (?:number|percentage|share)|"
                          r"how large|what size)\b", re.I)),
    ("place", re.compile(r"\b(where|what (?:place|city|country|venue|location|facility|building)|"
                         r"which (?:place|city|country|venue|location|facility|building)|"
                         r"in what (?:city|place|country))\b", re.I)),
    ("person", re.compile(r"\b(who|whom|whose|which (?:official|minister|spokes\w*|diplomat|"
                          r"secretary|person|leader|president)|what (?:official|minister|"
                          r"spokes\w*|is the name))\b", re.I)),
]
_PLACE_CUE = re.compile(r"\b(?:at|in|near|outside|across from|to)\s+(?:the\s+)?[A-Z][a-z]+", )
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|"
                     r"eleven|twelve|dozen|hundred|thousand|million|billion)\b", re.I)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+")


@dataclass(frozen=True)
class QuestionProfile:
    """What a question asks for: its answer type and its content terms (stemmed)."""

    question: str
    answer_type: str  # date | number | place | person | other
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    """A candidate sentence from a retrieved passage, with how well it answers the question."""

    passage: Passage
    text: str
    start: int  # offsets in the article body
    end: int
    rank: int  # rank of its passage in retrieval
    coverage: float = 0.0
    similarity: float = 0.0
    type_match: bool = False
    score: float = 0.0


def _stem():
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWord


_STEM: Callable[[str], str] | None = None


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of ``text`` without stopwords (numbers kept)."""
    global _STEM
    if _STEM is None:
        _STEM = _stem()
    terms = []
    for word in _WORD.findall(text):
        word = word.lower().strip("'’-").replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if word and word not in _STOPWORDS:
            terms.append(_STEM(word))
    return terms


def profile_question(question: str) -> QuestionProfile:
    """Classify the question's expected answer and extract its content terms."""
    answer_type = next((name for name, pattern in _QUESTION_TYPES if pattern.search(question)),
                       "other")
    terms = tuple(dict.fromkeys(content_terms(question)))
    return QuestionProfile(question=question, answer_type=answer_type, terms=terms)


def candidate_sentences(passages: Sequence[Passage]) -> list[Evidence]:
    """The sentences of the passages, each once, with its span in its article."""
    seen: set[tuple[str, int]] = set()
    found: list[Evidence] = []
    for rank, passage in enumerate(passages):
        for start, end in sentence_spans(passage.text):
            text = passage.text[start:end].strip()
            if len(text) < 12:
                continue
            offset = passage.text.index(text, start)
            key = (passage.article_id, passage.start + offset)
            if key in seen:
                continue
            seen.add(key)
            found.append(Evidence(passage, text, passage.start + offset,
                                  passage.start + offset + len(text), rank))
    return found


def has_answer_type(answer_type: str, text: str, published: date | None) -> bool:
    """Does ``text`` hold something of the kind asked for (a date for "when", ...)?"""
    if answer_type == "date":
        return bool(find_dates(text)) or bool(resolved_weekdays(text, published)) or bool(
            re.search(r"\b(19|20)\d\d\b|\b(weeks?|months?|days?|years?) (ago|later|after|before)\b"
                      r"|\b(yesterday|today|tomorrow|the next day)\b", text, re.I))
    if answer_type == "number":
        return bool(_NUMBER.search(text))
    if answer_type == "place":
        return bool(_PLACE_CUE.search(text))
    if answer_type == "person":
        return bool(_NAME.search(text))
    return True


def rank_evidence(profile: QuestionProfile, candidates: list[Evidence],
                  term_weight: Callable[[str], float],
                  embed: Callable[[list[str]], np.ndarray] | None) -> list[Evidence]:
    """Score every candidate (term coverage, embedding similarity, answer type) and sort best first."""
    if not candidates:
        return []
    weights = {term: term_weight(term) for term in profile.terms}
    total = sum(weights.values()) or 1.0
    similarities = np.zeros(len(candidates))
    if embed is not None:
        vectors = embed([profile.question] + [c.text for c in candidates])
        similarities = vectors[1:] @ vectors[0]
    scored = []
    for candidate, similarity in zip(candidates, similarities):
        sentence_terms = set(content_terms(candidate.text))
        coverage = sum(w for t, w in weights.items() if t in sentence_terms) / total
        type_match = has_answer_type(profile.answer_type, candidate.text,
                                     candidate.passage.published)
        score = (0.55 * coverage + 0.45 * max(float(similarity), 0.0)
                 + (0.08 if type_match else -0.15 if profile.answer_type != "other" else 0.0)
                 - 0.01 * candidate.rank)
        scored.append(replace(candidate, coverage=coverage, similarity=float(similarity),
                              type_match=type_match, score=score))
    return sorted(scored, key=lambda e: e.score, reverse=True)


# Thresholds measured on evals/questions.jsonl (see evals/README.md).
MIN_COVERAGE = 0.5
MIN_SCORE = 0.45


def is_answerable(profile: QuestionProfile, best: Evidence | None) -> bool:
    """Whether the best sentence answers the question well enough to answer at all."""
    if best is None or not profile.terms:
        return False
    if profile.answer_type != "other" and not best.type_match:
        return False
    return best.coverage >= MIN_COVERAGE and best.score >= MIN_SCORE


def idf_weight(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency; a term found nowhere weighs most."""
    return math.log(1.0 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))
