"""The evaluators: small dataclasses that score one outcome with the metric functions.

Each returns named ``Score``s; a score of None means the metric does not apply to the case
(EM on an unanswerable question, citation precision of an abstention) and is left out of the
averages.
"""

from __future__ import annotations

from dataclasses import dataclass

from evals.citation_support import citation_scores
from evals.dataset import EvaluatorContext, Score
from evals.metrics import (
    contains_answer,
    date_match,
    exact_match,
    gold_dates,
    locate_support,
    retrieval_scores,
    strip_markers,
    token_f1,
)

__all__ = [
    "Abstention",
    "Accuracy",
    "AnswerMatch",
    "CitationQuality",
    "DateMatch",
    "RetrievalHits",
    "cited_publication_date",
    "default_evaluators",
]

RETRIEVAL_METRICS = (
    "hit@1",
    "hit@3",
    "hit@5",
    "mrr",
    "article_hit@1",
    "article_hit@3",
    "article_hit@5",
    "article_mrr",
)


def _not_applicable(names, reason: str) -> dict[str, Score]:
    return {name: Score(None, reason) for name in names}


def cited_publication_date(answer):
    """The publication date of the first cited article that has one (anchors weekday names)."""
    for citation in answer.citations if answer else []:
        if citation.published:
            return citation.published
    return None


@dataclass
class RetrievalHits:
    """hit@k and MRR of the passages retrieved for the question, against the passages that
    hold a gold support sentence (and, as ``article_…``, against the gold articles)."""

    bodies: dict[str, str]
    ks: tuple[int, ...] = (1, 3, 5)

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        case = ctx.case
        if not case.answerable or not case.support:
            return _not_applicable(RETRIEVAL_METRICS, "unanswerable: no gold passage")
        spans, missing = locate_support(case.support, case.article_ids, self.bodies)
        if not spans:
            return _not_applicable(
                RETRIEVAL_METRICS, f"no support sentence found in articles {list(case.article_ids)}"
            )
        scores = retrieval_scores(ctx.outcome.passages, spans, case.article_ids, self.ks)
        if missing:
            scores = {
                k: Score(v.value, v.reason + f" ({len(missing)} support sentence(s) not found)")
                for k, v in scores.items()
            }
        return scores


@dataclass
class AnswerMatch:
    """SQuAD exact match and token F1, and ALCE's STR-EM, on answerable questions."""

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        names = ("exact_match", "f1", "str_em")
        case, answer = ctx.case, ctx.outcome.answer
        if not case.answerable:
            return _not_applicable(names, "unanswerable question")
        if answer is None:
            return {name: Score(0.0, f"no answer: {ctx.outcome.error}") for name in names}
        if answer.abstained:
            return {name: Score(0.0, "abstained") for name in names}
        text = strip_markers(answer.text)
        return {
            "exact_match": exact_match(text, case.answers),
            "f1": token_f1(text, case.answers),
            "str_em": contains_answer(text, case.answers),
        }


@dataclass
class DateMatch:
    """The answer's date equals the gold date as a calendar day (only where the gold is a date)."""

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        case, answer = ctx.case, ctx.outcome.answer
        if not case.answerable:
            return {"date_match": Score(None, "unanswerable question")}
        if not gold_dates(case.answers):
            return {"date_match": Score(None, "no accepted answer is a calendar date")}
        if answer is None or answer.abstained:
            return {
                "date_match": Score(
                    0.0, "abstained" if answer else f"no answer: {ctx.outcome.error}"
                )
            }
        return {"date_match": date_match(answer.text, case.answers, cited_publication_date(answer))}


@dataclass
class Accuracy:
    """Correct = did not abstain, and STR-EM or the date match holds (answerable questions)."""

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        case, answer = ctx.case, ctx.outcome.answer
        if not case.answerable:
            return {"accuracy": Score(None, "unanswerable question")}
        if answer is None:
            return {"accuracy": Score(0.0, f"no answer: {ctx.outcome.error}")}
        if answer.abstained:
            return {"accuracy": Score(0.0, "abstained on an answerable question")}
        contained = contains_answer(strip_markers(answer.text), case.answers)
        if contained.value:
            return {"accuracy": Score(1.0, contained.reason)}
        dated = date_match(answer.text, case.answers, cited_publication_date(answer))
        if dated.value:
            return {"accuracy": Score(1.0, dated.reason)}
        reason = contained.reason + (f"; {dated.reason}" if dated.applies else "")
        return {"accuracy": Score(0.0, reason)}


@dataclass
class Abstention:
    """Abstaining is the positive class. ``abstention_recall`` applies to unanswerable
    questions (1 when it abstained); ``abstention_precision`` applies to abstentions (1 when
    the question was unanswerable). Their means are recall and precision."""

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        case, answer = ctx.case, ctx.outcome.answer
        abstained = bool(answer and answer.abstained)
        scores: dict[str, Score] = {}
        if case.answerable:
            scores["abstention_recall"] = Score(None, "answerable question")
        else:
            scores["abstention_recall"] = Score(
                float(abstained), "abstained" if abstained else "answered an unanswerable question"
            )
        if abstained:
            scores["abstention_precision"] = Score(
                float(not case.answerable),
                "abstained on an unanswerable question"
                if not case.answerable
                else "abstained on an answerable question",
            )
        else:
            scores["abstention_precision"] = Score(None, "did not abstain")
        return scores


@dataclass
class CitationQuality:
    """ALCE citation recall and precision with our lexical support test (see citation_support)."""

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        answer = ctx.outcome.answer
        if answer is None:
            reason = f"no answer: {ctx.outcome.error}"
            return {
                "citation_recall": Score(None, reason),
                "citation_precision": Score(None, reason),
            }
        return citation_scores(answer)


def default_evaluators(bodies: dict[str, str]) -> list:
    """Every offline evaluator, in report order."""
    return [
        Accuracy(),
        AnswerMatch(),
        DateMatch(),
        CitationQuality(),
        Abstention(),
        RetrievalHits(bodies),
    ]
