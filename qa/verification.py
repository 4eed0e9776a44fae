"""Is a generated sentence supported by the passages it cites?

Two kinds of test, both needed:

- hard checks, which a paraphrase cannot excuse: every date, year, number and proper name the
  sentence states is in a cited passage (``qa.citations.unsupported_claims``); it adds no
  negation its supporting quote lacks; a cited passage meets the period the question states
  ("in 2019", "the third quarter": ``qa.constraints``);
- a support test that a faithful paraphrase passes: the sentence is close in meaning to a
  sentence of the cited passage (MiniLM cosine), or the words it adds to the question are
  found there.

We write this rather than use llama-index's ``FaithfulnessEvaluator``: that asks an LLM for a
verdict on every answer (seconds per sentence on a CPU, and only as reliable as the model),
while these checks run in milliseconds and cannot be talked out of a wrong date.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from qa.citations import strip_unsupported_years, unsupported_claims
from qa.constraints import Constraint, unmet_constraints
from qa.dates import annotate_weekdays
from qa.evidence import MIN_COVERAGE, MIN_RELEVANT_SIMILARITY, Evidence, candidate_sentences
from qa.retrieval import Passage
from qa.text import STOPWORDS, content_terms

__all__ = ["SentenceCheck", "check_sentence", "MIN_SEMANTIC_SUPPORT", "MIN_NEW_TERMS_FOUND"]

MIN_SEMANTIC_SUPPORT = 0.55
"""Cosine (MiniLM) between a sentence and its best quote above which it is a paraphrase."""
MIN_NEW_TERMS_FOUND = 0.5
"""Share of the words a sentence adds to the question that must be in its quotes, when the
sentence is not close enough in meaning (a short answer: "France.")."""

_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|none|nothing|without|cannot)\b|n['’]t\b",
                       re.IGNORECASE)

_CLAIM = re.compile(r"\b[A-Z][\w’'\-]+|\b\d[\d,.]*\d\b|\b\d\b")

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class SentenceCheck:
    """The verdict on one generated sentence.

    ``sentence`` is the sentence as it may be kept (an unsupported year removed); ``quotes``
    holds, for each cited passage, the sentence of it that best supports it; ``problems`` is
    empty when the sentence is supported.
    """

    sentence: str
    cited: list[int]
    quotes: list[Evidence]
    semantic_support: float = 0.0
    new_terms_found: float = 1.0
    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)

    @property
    def supported(self) -> bool:
        return not self.problems


def check_sentence(sentence: str, cited: Sequence[int], passages: Sequence[Passage],
                   evidence: Sequence[Evidence], question: str, embed: Embed | None,
                   constraints: Sequence[Constraint] = ()) -> SentenceCheck:
    """Check ``sentence`` (markers removed) against the passages numbered ``cited`` (1-based
    into ``passages``)."""
    shown = [passages[n - 1] for n in cited]
    repairs: list[str] = []
    fixed = strip_unsupported_years(sentence, shown)
    if fixed != sentence:
        repairs.append(f"removed a year the articles do not give from {sentence!r}")
    problems = [f"unsupported {claim.kind} {claim.text!r}"
                for claim in unsupported_claims(fixed, shown, question)]
    quotes, similarities = _best_quotes(fixed, shown, evidence, embed)
    # The user is shown the quote, not the whole passage: a date or number the sentence states
    # must be in its quote (a passage may hold a stray date line that the quote does not).
    reported = {problem.split(" ", 2)[2] for problem in problems}
    problems += [f"{claim.kind} {claim.text!r} is not in its quote"
                 for claim in unsupported_claims(fixed, [replace(q.passage, text=q.text)
                                                         for q in quotes], question)
                 if claim.kind != "name" and repr(claim.text) not in reported]
    if quotes and not any(_about_question(q, evidence) for q in quotes):
        problems.append("its quote is not about the question")
    semantic = max(similarities, default=0.0)
    new_terms = set(content_terms(fixed)) - set(content_terms(question))
    # A weekday the quote names is read as the date it resolves to, as the model was shown it.
    quoted = set(content_terms(" ".join(annotate_weekdays(q.text, q.passage.published)
                                        for q in quotes)))
    found = len(new_terms & quoted) / len(new_terms) if new_terms else 1.0
    if not new_terms and not _states_more(fixed, question):
        problems.append("it only restates the question")
    elif semantic < MIN_SEMANTIC_SUPPORT and found < MIN_NEW_TERMS_FOUND:
        problems.append(f"not supported by the cited passage (similarity {semantic:.2f}, "
                        f"{found:.0%} of its new words found)")
    if not _negations_stated(fixed, [q.text for q in quotes]):
        problems.append("a negation the cited passage does not state")
    problems += _off_question(cited, passages, constraints)
    return SentenceCheck(fixed, list(cited), quotes, semantic, found, problems, repairs)


_NEGATED_TERMS = 3


def _negated(text: str) -> list[set[str]]:
    """For each negation in ``text``, the first few content terms after it: what it negates
    ("did not call the talks ..." -> {"call", "talk", ...})."""
    return [set(content_terms(text[match.end():match.end() + 80])[:_NEGATED_TERMS])
            for match in _NEGATION.finditer(text)]


def _negations_stated(sentence: str, quotes: Sequence[str]) -> bool:
    """Whether each negation of ``sentence`` is one its quotes state: a quote negating
    something else ("not only issue a joint statement") does not support "Price did not call
    it a positive sign"."""
    stated = [terms for quote in quotes for terms in _negated(quote)]
    return all(any(terms & other for other in stated) if terms else bool(stated)
               for terms in _negated(sentence))


def _states_more(sentence: str, question: str) -> bool:
    """Whether ``sentence`` states a name or number that ``question`` does not (a sentence
    made only of the question's words answers nothing: "The White House hosted them at the
    White House")."""
    asked = {w.lower() for w in _CLAIM.findall(question)}
    return any(w.lower() not in asked and w.lower() not in STOPWORDS
               for w in _CLAIM.findall(sentence))


def _about_question(quote: Evidence, evidence: Sequence[Evidence]) -> bool:
    """Whether ``quote`` is about the question by the ranker's own measures (the bar
    ``is_relevant`` sets, met by a sentence of the quote or by its passage): a quote of "the
    answer is 42" cannot support an answer, however close the answer's words are to it. A
    quote the ranker did not score counts as about it."""
    scored = [e for e in evidence if not e.joined and e.lies_within(quote)]
    return not scored or any(e.coverage >= MIN_COVERAGE or e.passage_coverage >= MIN_COVERAGE
                             or e.similarity >= MIN_RELEVANT_SIMILARITY for e in scored)


def _off_question(cited: Sequence[int], passages: Sequence[Passage],
                  constraints: Sequence[Constraint]) -> list[str]:
    """A problem when the cited passages' articles meet fewer of the question's stated periods
    and names than another article shown to the model: the sentence is true, but about
    something else (another year's final, the other meeting)."""
    if not constraints:
        return []

    def missing(passage: Passage) -> tuple[int, int, list[Constraint]]:
        # A passage is read with the rest of its article that was shown: the chunk saying
        # "until June 29" belongs to the report that names the June 27 meeting.
        article = "\n".join(p.text for p in passages if p.article_id == passage.article_id)
        unmet = unmet_constraints(constraints, article, passage.title, passage.published)
        return sum(c.temporal for c in unmet), len(unmet), unmet

    best_shown = min(missing(p)[:2] for p in passages)
    cited_best = min((missing(passages[n - 1]) for n in cited), key=lambda m: m[:2])
    if cited_best[:2] <= best_shown:
        return []
    return ["its passage is not about " + ", ".join(c.text for c in cited_best[2])
            + " (another passage is)"]


def _best_quotes(sentence: str, shown: Sequence[Passage], evidence: Sequence[Evidence],
                 embed: Embed | None) -> tuple[list[Evidence], list[float]]:
    """For each passage, its sentence (or pair of adjacent sentences) closest to ``sentence``."""
    options: list[list[Evidence]] = []
    for passage in shown:
        own = [e for e in evidence if e.passage.chunk_id == passage.chunk_id and not e.joined]
        own = sorted(own or candidate_sentences([passage]), key=lambda e: e.start)
        # Adjacent sentences, also across a paragraph break: a sentence may fuse two of them.
        pairs = [replace(a, text=passage.text[a.start - passage.start:b.end - passage.start],
                         end=b.end, joined=True)
                 for a, b in zip(own, own[1:])
                 if not passage.text[a.end - passage.start:b.start - passage.start].strip()]
        options.append(own + pairs)
    flat = [e for group in options for e in group]
    if not flat:
        return [], []
    if embed is not None:
        vectors = embed([sentence] + [e.text for e in flat])
        scores = list(vectors[1:] @ vectors[0])
    else:
        terms = set(content_terms(sentence)) or {""}
        scores = [len(terms & set(content_terms(e.text))) / len(terms) for e in flat]
    claims = {w.lower() for w in _CLAIM.findall(sentence) if w.lower() not in STOPWORDS}

    def states(text: str) -> float:
        """Share of the sentence's names and numbers that ``text`` states."""
        lowered = text.lower()
        return sum(c in lowered for c in claims) / len(claims) if claims else 1.0

    quotes, best_scores, at = [], [], 0
    for group in options:
        if not group:
            continue
        group_scores = scores[at:at + len(group)]
        at += len(group)
        # The quote should state what the sentence claims (a sentence fusing two of the
        # passage's gets both); a single sentence is preferred to a pair unless the pair is
        # clearly closer.
        best = max(range(len(group)),
                   key=lambda i: (group_scores[i] + 0.2 * states(group[i].text)
                                  - (0.03 if group[i].joined else 0.0)))
        quotes.append(group[best])
        best_scores.append(float(group_scores[best]))
    return quotes, best_scores
