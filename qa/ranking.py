"""Sentence ranking and the answerability decision, behind one small interface.

An ``EvidenceRanker`` orders the candidate sentences of the retrieved passages by how well each
answers the question, and says whether the best of them answers it at all. The answer step
calls only this interface, so a model-based ranker (a cross-encoder, an entailment model) can
replace the feature ranker by adding a class here and a name to ``RankerName``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, get_args

import numpy as np

from qa.evidence import Evidence, QuestionProfile, is_answerable, is_relevant, rank_evidence
from qa.settings import RankerName

__all__ = ["EvidenceRanker", "FeatureRanker", "RankerName", "RANKERS", "build_ranker"]

RANKERS: tuple[str, ...] = get_args(RankerName)


class EvidenceRanker(Protocol):
    """Orders evidence sentences and decides whether to answer."""

    def rank(self, profile: QuestionProfile, candidates: list[Evidence]) -> list[Evidence]:
        """The candidates scored, best first."""
        ...

    def answerable(self, profile: QuestionProfile, ranked: Sequence[Evidence]) -> bool:
        """Whether the best-ranked sentence answers the question well enough to quote it as
        the answer (the extractive answer)."""
        ...

    def relevant(self, profile: QuestionProfile, ranked: Sequence[Evidence]) -> bool:
        """Whether the passages are about the question at all, so that a language model
        reading them may find the answer."""
        ...


class FeatureRanker:
    """Scores each sentence by the question terms it covers (weighted by BM25's IDF), its
    MiniLM similarity to the question, whether it holds the kind of answer asked for (a date
    for "when"), and whether its passage meets the period and names the question states."""

    def __init__(self, term_weight: Callable[[str], float],
                 embed: Callable[[list[str]], np.ndarray] | None) -> None:
        self._term_weight = term_weight
        self._embed = embed

    def rank(self, profile: QuestionProfile, candidates: list[Evidence]) -> list[Evidence]:
        return rank_evidence(profile, candidates, self._term_weight, self._embed)

    def answerable(self, profile: QuestionProfile, ranked: Sequence[Evidence]) -> bool:
        return is_answerable(profile, ranked[0] if ranked else None)

    def relevant(self, profile: QuestionProfile, ranked: Sequence[Evidence]) -> bool:
        return is_relevant(profile, ranked[0] if ranked else None)


def build_ranker(name: str, term_weight: Callable[[str], float],
                 embed: Callable[[list[str]], np.ndarray] | None) -> EvidenceRanker:
    """The ranker called ``name`` (``settings.ranker``)."""
    if name == "features":
        return FeatureRanker(term_weight, embed)
    from qa.errors import SettingsError

    raise SettingsError(f"unknown ranker {name!r}; choose one of {', '.join(RANKERS)} (QA_RANKER)")
