"""Cases, evaluators and reports: the data model of the eval, after pydantic_evals.

A ``Case`` is one line of ``questions.jsonl``. A ``Dataset`` holds cases and evaluators;
``Dataset.evaluate(task)`` runs the task (ask the assistant) on every case, lets every
evaluator score the outcome, and returns an ``EvaluationReport``.

We copy pydantic_evals' shape rather than depend on it: the package pulls in pydantic-ai and
its OpenTelemetry stack for what is here a hundred lines of dataclasses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

if TYPE_CHECKING:
    from qa import Answer
    from qa.retrieval import Passage

__all__ = [
    "Case",
    "Dataset",
    "DatasetProblem",
    "EvaluationReport",
    "Evaluator",
    "EvaluatorContext",
    "Outcome",
    "ReportCase",
    "Score",
    "load_cases",
]

AnswerType = Literal["date", "person", "place", "number", "quote", "organization", "other", "none"]
Split = Literal["dev", "test"]


class Case(BaseModel):
    """One gold question: what to ask, the accepted answers and where the answer is written.

    ``support`` holds the verbatim article sentences that answer it; ``history`` the earlier
    questions of the same chat (asked first, in one ``assistant.chat()``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, description="Unique, stable name of the case.")
    question: str = Field(min_length=1)
    answers: tuple[str, ...] = Field(description="Accepted answer forms; empty if unanswerable.")
    answer_type: AnswerType
    category: str = Field(min_length=1, description="The slice the report groups by.")
    article_ids: tuple[str, ...]
    support: tuple[str, ...] = Field(description="Verbatim sentences that hold the answer.")
    answerable: bool
    split: Split = Field(
        description="'dev' (rules may be designed on it) or 'test' (frozen: never design on it)."
    )
    history: tuple[str, ...] = ()
    line: int = Field(default=0, description="Line number in the dataset file (set on load).")

    @model_validator(mode="after")
    def _answers_match_answerable(self) -> Case:
        if self.answerable and not self.answers:
            raise ValueError("an answerable case needs at least one accepted answer")
        if self.answerable and not self.support:
            raise ValueError("an answerable case needs at least one support sentence")
        if not self.answerable and self.answers:
            raise ValueError("an unanswerable case must have no accepted answers")
        return self

    @property
    def name(self) -> str:
        return self.id


@dataclass(frozen=True)
class DatasetProblem:
    """A dataset line that could not be used, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def load_cases(path: str | Path) -> tuple[list[Case], list[DatasetProblem]]:
    """Read a JSONL dataset. Malformed lines are returned as problems (with their line
    numbers), never raised, so the rest of the dataset is still scored."""
    cases: list[Case] = []
    problems: list[DatasetProblem] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(
                    DatasetProblem(number, f"not valid JSON ({exc.msg}, column {exc.colno})")
                )
                continue
            if not isinstance(record, dict):
                problems.append(
                    DatasetProblem(number, f"expected a JSON object, got {type(record).__name__}")
                )
                continue
            try:
                case = Case(**{**record, "line": number})
            except ValidationError as exc:
                problems.append(DatasetProblem(number, _describe(exc)))
                continue
            if case.id in seen:
                problems.append(
                    DatasetProblem(
                        number, f"duplicate id {case.id!r} (first on line {seen[case.id]})"
                    )
                )
                continue
            seen[case.id] = number
            cases.append(case)
    return cases, problems


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "record"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


@dataclass(frozen=True)
class Score:
    """One metric's result for one case: ``value`` in [0, 1] (None: does not apply to this
    case) and a reason a developer can act on."""

    value: float | None
    reason: str = ""

    @property
    def applies(self) -> bool:
        return self.value is not None


@dataclass
class Outcome:
    """What the task produced for a case: the answer, the passages retrieval found for the
    question, the seconds the answer took, and the error if asking failed."""

    answer: Answer | None
    passages: list[Passage] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    query: str = ""


@dataclass(frozen=True)
class EvaluatorContext:
    """What an evaluator sees: the case and the outcome."""

    case: Case
    outcome: Outcome


class Evaluator(Protocol):
    """Scores one outcome; returns named scores (one evaluator may measure several things)."""

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]: ...


@dataclass
class ReportCase:
    """A case, its outcome and every score it got."""

    case: Case
    outcome: Outcome
    scores: dict[str, Score] = field(default_factory=dict)

    def value(self, metric: str) -> float | None:
        score = self.scores.get(metric)
        return score.value if score else None


@dataclass
class EvaluationReport:
    """All scored cases of one run (one backend), with averages overall and by category."""

    name: str
    cases: list[ReportCase]
    problems: list[DatasetProblem] = field(default_factory=list)

    def splits(self) -> list[str]:
        """The splits ("dev", "test") its cases come from, in that order."""
        present = {c.case.split for c in self.cases}
        return [split for split in ("dev", "test") if split in present]

    def for_split(self, split: str) -> EvaluationReport:
        """The same report restricted to one split's cases ("all": every case)."""
        if split == "all":
            return self
        return EvaluationReport(
            f"{self.name} ({split})", [c for c in self.cases if c.case.split == split], self.problems
        )

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for case in self.cases:
            names.update(dict.fromkeys(case.scores))
        return list(names)

    def average(
        self, metric: str, cases: Iterable[ReportCase] | None = None
    ) -> tuple[float | None, int]:
        """Mean of ``metric`` over the cases it applies to, and how many those are."""
        values = [c.value(metric) for c in (self.cases if cases is None else cases)]
        values = [v for v in values if v is not None]
        return (sum(values) / len(values) if values else None), len(values)

    def averages(
        self, cases: Iterable[ReportCase] | None = None
    ) -> dict[str, tuple[float | None, int]]:
        chosen = list(self.cases if cases is None else cases)
        return {metric: self.average(metric, chosen) for metric in self.metric_names()}

    def categories(self) -> list[str]:
        return sorted({c.case.category for c in self.cases})

    def by_category(self) -> dict[str, dict[str, tuple[float | None, int]]]:
        return {
            category: self.averages([c for c in self.cases if c.case.category == category])
            for category in self.categories()
        }

    def latencies(self) -> list[float]:
        return [c.outcome.seconds for c in self.cases if c.outcome.error is None]

    def latency_percentiles(self) -> dict[str, float | None]:
        seconds = self.latencies()
        return {"p50": percentile(seconds, 50), "p95": percentile(seconds, 95)}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


Task = Callable[[Case], Outcome]


@dataclass
class Dataset:
    """Cases plus the evaluators that score them."""

    cases: list[Case]
    evaluators: list[Evaluator]
    problems: list[DatasetProblem] = field(default_factory=list)

    def evaluate(
        self,
        task: Task,
        name: str = "task",
        progress: Callable[[int, int, ReportCase], None] | None = None,
    ) -> EvaluationReport:
        """Run ``task`` on every case and score each outcome with every evaluator."""
        scored: list[ReportCase] = []
        for number, case in enumerate(self.cases, start=1):
            outcome = task(case)
            ctx = EvaluatorContext(case, outcome)
            report_case = ReportCase(case, outcome)
            for evaluator in self.evaluators:
                report_case.scores.update(evaluator.evaluate(ctx))
            scored.append(report_case)
            if progress:
                progress(number, len(self.cases), report_case)
        return EvaluationReport(name, scored, list(self.problems))
