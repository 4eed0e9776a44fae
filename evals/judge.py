"""The optional judge tier: llama-index's FaithfulnessEvaluator and CorrectnessEvaluator, asked
of a model behind an OpenAI-compatible endpoint. An LLM judge is just one more evaluator.

Used only when ``--judge-base-url`` is given; it needs ``pip install llama-index-llms-openai-like``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals.dataset import EvaluatorContext, Score
from evals.metrics import strip_markers

__all__ = [
    "JUDGE_INSTALL_HINT",
    "JudgeCorrectness",
    "JudgeFaithfulness",
    "judge_evaluators",
    "judge_llm",
    "parse_verdict",
]

JUDGE_INSTALL_HINT = "the judge tier needs: pip install llama-index-llms-openai-like"


def judge_llm(base_url: str, model: str, api_key: str | None = None, timeout: float = 120.0):
    """A llama-index LLM for the judge; ImportError (with the install hint) when it is missing."""
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError as exc:
        raise ImportError(JUDGE_INSTALL_HINT) from exc
    return OpenAILike(
        model=model,
        api_base=base_url,
        api_key=api_key or "not-needed",
        is_chat_model=True,
        timeout=timeout,
        max_retries=1,
        temperature=0.0,
        max_tokens=256,
    )


def _short(text: str | None, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class JudgeFaithfulness:
    """Does the judge find the answer supported by the quotes it cites? (non-abstained answers)"""

    llm: Any

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        from llama_index.core.evaluation import FaithfulnessEvaluator

        answer = ctx.outcome.answer
        if answer is None or answer.abstained or not answer.citations:
            return {"judge_faithfulness": Score(None, "no cited answer to judge")}
        try:
            result = FaithfulnessEvaluator(llm=self.llm).evaluate(
                query=ctx.case.question,
                response=strip_markers(answer.text),
                contexts=[c.quote for c in answer.citations],
            )
        except Exception as exc:  # noqa: BLE001 - the judge is best-effort: a failure is reported
            return {"judge_faithfulness": Score(None, f"judge failed: {type(exc).__name__}: {exc}")}
        return {"judge_faithfulness": Score(float(bool(result.passing)), _short(result.feedback))}


@dataclass
class JudgeCorrectness:
    """The judge's 1–5 correctness score against the first accepted answer, scaled to 0–1."""

    llm: Any

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        from llama_index.core.evaluation import CorrectnessEvaluator

        answer, case = ctx.outcome.answer, ctx.case
        if not case.answerable or answer is None or answer.abstained:
            return {"judge_correctness": Score(None, "nothing to judge")}
        try:
            result = CorrectnessEvaluator(llm=self.llm, parser_function=parse_verdict).evaluate(
                query=case.question, response=strip_markers(answer.text), reference=case.answers[0]
            )
        except Exception as exc:  # noqa: BLE001 - as above
            return {"judge_correctness": Score(None, f"judge failed: {type(exc).__name__}: {exc}")}
        if result.score is None:
            return {
                "judge_correctness": Score(None, f"unparsable verdict: {_short(result.feedback)}")
            }
        return {
            "judge_correctness": Score(
                (float(result.score) - 1) / 4, f"{result.score}/5: {_short(result.feedback)}"
            )
        }


def parse_verdict(reply: str) -> tuple[float | None, str]:
    """The judge's "score, newline, reasoning" reply as (score, reasoning); (None, reply) when it
    does not start with a score. llama-index's own parser raises on a reply without a newline,
    which small models give."""
    first, _, rest = reply.strip().partition("\n")
    try:
        return float(first.strip()), rest.strip()
    except ValueError:
        return None, reply.strip() or "no reply"


def judge_evaluators(base_url: str, model: str, api_key: str | None = None) -> list:
    """Both judge evaluators over one endpoint."""
    llm = judge_llm(base_url, model, api_key)
    return [JudgeFaithfulness(llm), JudgeCorrectness(llm)]
