"""Writing the results: a table for the terminal, ``report.json``, ``report.md`` and an SVG bar
chart of accuracy by category per backend (written by hand: it needs no plotting library).

The gold questions are reported per split (dev, test, and both together when both were asked);
the SQuAD slice, when it was evaluated, has its own section.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evals.dataset import DatasetProblem, EvaluationReport, ReportCase
from evals.metrics import locate_support, passage_hits, strip_markers
from evals.squad import CREDIT, SQUAD_CORPUS, SQUAD_METRICS, SquadProblem, squad_summary

__all__ = [
    "HEADLINE_METRICS",
    "BackendRun",
    "RunResult",
    "SquadSection",
    "accuracy_chart_svg",
    "failures",
    "split_reports",
    "summary",
    "terminal_table",
    "write_json",
    "write_markdown",
]

HEADLINE_METRICS = (
    "accuracy",
    "exact_match",
    "f1",
    "str_em",
    "date_match",
    "citation_recall",
    "citation_precision",
    "abstention_precision",
    "abstention_recall",
    "hit@1",
    "hit@3",
    "hit@5",
    "mrr",
    "article_hit@1",
    "article_hit@5",
    "article_mrr",
    "judge_faithfulness",
    "judge_correctness",
)
_LABELS = {
    "accuracy": "accuracy (answerable: STR-EM or date match, no abstention)",
    "exact_match": "exact match (SQuAD)",
    "f1": "token F1 (SQuAD)",
    "str_em": "STR-EM (answer contains gold)",
    "date_match": "date match (calendar day)",
    "citation_recall": "citation recall (ALCE)",
    "citation_precision": "citation precision (ALCE)",
    "abstention_precision": "abstention precision",
    "abstention_recall": "abstention recall",
    "hit@1": "retrieval hit@1 (gold sentence)",
    "hit@3": "retrieval hit@3 (gold sentence)",
    "hit@5": "retrieval hit@5 (gold sentence)",
    "mrr": "retrieval MRR (gold sentence)",
    "article_hit@1": "retrieval hit@1 (gold article)",
    "article_hit@5": "retrieval hit@5 (gold article)",
    "article_mrr": "retrieval MRR (gold article)",
    "judge_faithfulness": "judge: faithfulness (llama-index)",
    "judge_correctness": "judge: correctness (llama-index, 1-5 → 0-1)",
    "relative_date_accuracy": "accuracy on relative_date questions",
    "latency_p50": "latency p50 (s per question)",
    "latency_p95": "latency p95 (s per question)",
    "answerable_accuracy": "answerable accuracy (contains a gold text)",
    "false_abstention": "false abstention (answerable, abstained)",
}
_SQUAD_LABELS = {
    **_LABELS,
    "abstention_recall": "abstention recall (is_impossible, abstained)",
    "abstention_precision": "abstention precision",
}


@dataclass
class BackendRun:
    """One backend's run: its report, or why it was skipped."""

    backend: str
    report: EvaluationReport | None = None
    skipped: str | None = None
    seconds: float = 0.0


@dataclass
class SquadSection:
    """The SQuAD slice's runs (one per backend), the entries skipped, or why it was skipped."""

    source: str
    runs: list[BackendRun] = field(default_factory=list)
    problems: list[SquadProblem] = field(default_factory=list)
    skipped: str | None = None
    paragraphs: int = 0
    questions: int = 0  # asked (after --squad-limit)
    answerable: int = 0  # of those asked
    index_seconds: float = 0.0

    def run(self, backend: str) -> BackendRun | None:
        return next((r for r in self.runs if r.backend == backend), None)

    def describe(self) -> str:
        """One line: what was asked, and the credit the licence asks for."""
        return (
            f"SQuAD 2.0 slice `{SQUAD_CORPUS}`: {self.paragraphs} paragraphs as articles, "
            f"{self.questions} questions ({self.answerable} answerable, "
            f"{self.questions - self.answerable} is_impossible). Source: {CREDIT}"
        )


@dataclass
class RunResult:
    """Everything one ``evals/run.py`` invocation measured."""

    dataset: str
    runs: list[BackendRun]
    problems: list[DatasetProblem] = field(default_factory=list)
    peer: Any = None  # evals.peer.PeerResult
    gate: list[str] | None = None  # threshold failures (None: not checked)
    support_check: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    bodies: dict[str, str] = field(default_factory=dict)
    squad: SquadSection | None = None  # None: not asked for (--no-squad)

    def run(self, backend: str) -> BackendRun | None:
        return next((r for r in self.runs if r.backend == backend), None)


def split_reports(report: EvaluationReport) -> dict[str, EvaluationReport]:
    """The report per split asked ("dev", "test"), plus "all" when both were asked."""
    splits = report.splits()
    reports = {split: report.for_split(split) for split in splits}
    if len(splits) > 1:
        reports["all"] = report
    return reports


def summary(report: EvaluationReport) -> dict[str, float | None]:
    """Headline metrics of one backend, with latency and the relative-date slice."""
    averages = report.averages()
    values: dict[str, float | None] = {m: averages[m][0] for m in HEADLINE_METRICS if m in averages}
    relative = [c for c in report.cases if c.case.category == "relative_date"]
    values["relative_date_accuracy"] = report.average("accuracy", relative)[0] if relative else None
    latency = report.latency_percentiles()
    values["latency_p50"], values["latency_p95"] = latency["p50"], latency["p95"]
    return values


def _format(value: float | None, metric: str = "") -> str:
    """Three decimals (shares in [0, 1], latencies in seconds); "–" when nothing was measured."""
    return "–" if value is None else f"{value:.3f}"


def _counts(report: EvaluationReport, metric: str) -> int:
    return report.average(metric)[1]


def _columns(runs: Sequence[BackendRun]) -> list[tuple[str, str, EvaluationReport]]:
    """(backend, split, report) for each column of the tables: every split of every backend."""
    return [
        (r.backend, split, report)
        for r in runs
        if r.report is not None
        for split, report in split_reports(r.report).items()
    ]


def _header(first: str, width: int, columns: Sequence[tuple[str, str, Any]]) -> list[str]:
    """Two header lines: each backend's name over its first column, then the split names."""
    backends, previous = "", None
    for backend, _, _ in columns:
        backends += (backend if backend != previous else "").rjust(12)
        previous = backend
    splits = "".join(split.rjust(12) for _, split, _ in columns)
    top = "".ljust(width) + backends
    bottom = first.ljust(width) + splits
    return [top, bottom, "-" * len(bottom)]


def terminal_table(result: RunResult) -> str:
    """A plain-text table: metrics down, each backend's splits across; then the SQuAD section."""
    columns = _columns(result.runs)
    lines = []
    if columns:
        summaries = [summary(report) for _, _, report in columns]
        metrics = [
            m
            for m in list(HEADLINE_METRICS)
            + ["relative_date_accuracy", "latency_p50", "latency_p95"]
            if any(values.get(m) is not None for values in summaries)
        ]
        width = max(len(_LABELS.get(m, m)) for m in metrics) + 2
        lines.append(f"gold questions ({Path(result.dataset).name}), by split")
        lines += _header("metric", width, columns)
        for metric in metrics:
            row = _LABELS.get(metric, metric).ljust(width)
            row += "".join(_format(values.get(metric), metric).rjust(12) for values in summaries)
            lines.append(row)
        lines.append("")
        categories = sorted({c for _, _, report in columns for c in report.categories()})
        width = max(len(c) for c in categories) + 6
        lines += _header("accuracy by category", width, columns)
        for category in categories:
            row = category.ljust(width)
            for _, _, report in columns:
                metric = "abstention_recall" if category == "unanswerable" else "accuracy"
                value, n = report.by_category().get(category, {}).get(metric, (None, 0))
                row += (_format(value, "") + f" ({n})" if value is not None else "–").rjust(12)
            lines.append(row)
        lines.append("(unanswerable: share abstained)")
    for r in result.runs:
        if r.skipped:
            lines.append(f"{r.backend}: skipped: {r.skipped}")
    if result.squad is not None:
        lines += [""] + _squad_terminal(result.squad)
    if result.peer is not None and not result.peer.skipped:
        lines += [
            "",
            (
                f"peer check: llama-index RetrieverEvaluator, top {result.peer.top_k}, "
                f"{result.peer.queries} questions"
            ),
        ]
        for name, metrics in result.peer.metrics.items():
            lines.append(
                f"  {name:<36} hit rate {metrics['hit_rate']:.3f}   MRR {metrics['mrr']:.3f}"
            )
    for problem in result.problems:
        lines.append(f"dataset {problem}")
    for note in result.notes:
        lines.append(f"note: {note}")
    if result.gate is not None:
        lines.append("")
        lines.append(
            "thresholds: " + ("all met" if not result.gate else "FAILED: " + "; ".join(result.gate))
        )
    return "\n".join(lines)


def _squad_terminal(section: SquadSection) -> list[str]:
    if section.skipped:
        return [f"SQuAD section skipped: {section.skipped}"]
    lines = [section.describe().replace("`", "")]
    runs = [r for r in section.runs if r.report is not None]
    if runs:
        values = {r.backend: squad_summary(r.report) for r in runs}
        metrics = list(SQUAD_METRICS) + ["latency_p50", "latency_p95"]
        width = max(len(_SQUAD_LABELS.get(m, m)) for m in metrics) + 2
        header = "metric (n)".ljust(width) + "".join(r.backend.rjust(14) for r in runs)
        lines += [header, "-" * len(header)]
        for metric in metrics:
            row = _SQUAD_LABELS.get(metric, metric).ljust(width)
            for r in runs:
                value, n = values[r.backend][metric]
                row += (f"{_format(value)} ({n})" if value is not None else "–").rjust(14)
            lines.append(row)
        lines.append(
            f"index {section.index_seconds:.1f} s; wall time "
            + ", ".join(f"{r.backend} {r.seconds:.1f} s" for r in runs)
        )
    for r in section.runs:
        if r.skipped:
            lines.append(f"{r.backend}: skipped on SQuAD: {r.skipped}")
    for problem in section.problems:
        lines.append(f"squad: skipped {problem}")
    return lines


# --- JSON ---------------------------------------------------------------------------------
def _case_json(item: ReportCase) -> dict[str, Any]:
    answer, outcome = item.outcome.answer, item.outcome
    return {
        "id": item.case.id,
        "split": item.case.split,
        "category": item.case.category,
        "answer_type": item.case.answer_type,
        "question": item.case.question,
        "history": list(item.case.history),
        "expected": list(item.case.answers),
        "answerable": item.case.answerable,
        "answer": answer.to_dict() if answer else None,
        "error": outcome.error,
        "seconds": round(outcome.seconds, 4),
        "retrieval_query": outcome.query,
        "passages": [
            {
                "chunk_id": p.chunk_id,
                "article_id": p.article_id,
                "start": p.start,
                "end": p.end,
                "score": p.score,
                "text": p.text,
            }
            for p in outcome.passages
        ],
        "scores": {name: {"value": s.value, "reason": s.reason} for name, s in item.scores.items()},
    }


def to_dict(result: RunResult) -> dict[str, Any]:
    backends = {}
    for run in result.runs:
        if run.report is None:
            backends[run.backend] = {"skipped": run.skipped}
            continue
        report = run.report
        backends[run.backend] = {
            "seconds": round(run.seconds, 2),
            "metrics": summary(report),
            "counts": {m: _counts(report, m) for m in report.metric_names()},
            "splits": {
                split: {
                    "metrics": summary(part),
                    "counts": {m: _counts(part, m) for m in part.metric_names()},
                }
                for split, part in split_reports(report).items()
                if split != "all"
            },
            "by_category": {
                cat: {m: {"value": v, "n": n} for m, (v, n) in metrics.items()}
                for cat, metrics in report.by_category().items()
            },
            "cases": [_case_json(c) for c in report.cases],
        }
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": result.dataset,
        "dataset_problems": [{"line": p.line, "message": p.message} for p in result.problems],
        "backends": backends,
        "peer_check": result.peer.to_dict() if result.peer is not None else None,
        "support_check": result.support_check,
        "squad": _squad_json(result.squad) if result.squad is not None else None,
        "thresholds_failed": result.gate,
        "notes": result.notes,
    }


def _squad_json(section: SquadSection) -> dict[str, Any]:
    backends: dict[str, Any] = {}
    for run in section.runs:
        if run.report is None:
            backends[run.backend] = {"skipped": run.skipped}
            continue
        values = squad_summary(run.report)
        backends[run.backend] = {
            "seconds": round(run.seconds, 2),
            "metrics": {m: v for m, (v, _) in values.items()},
            "counts": {m: n for m, (_, n) in values.items()},
            "cases": [_case_json(c) for c in run.report.cases],
        }
    return {
        "corpus": SQUAD_CORPUS,
        "source": section.source,
        "credit": CREDIT,
        "skipped": section.skipped,
        "paragraphs": section.paragraphs,
        "questions": section.questions,
        "answerable": section.answerable,
        "index_seconds": round(section.index_seconds, 2),
        "problems": [p.to_dict() for p in section.problems],
        "backends": backends,
    }


def write_json(result: RunResult, path: Path) -> None:
    path.write_text(
        json.dumps(to_dict(result), indent=1, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )


# --- failures -----------------------------------------------------------------------------
def failures(report: EvaluationReport) -> list[tuple[ReportCase, str]]:
    """Every case that failed, with what failed: a wrong or missing answer to an answerable
    question, or an answer to an unanswerable one."""
    failed = []
    for item in report.cases:
        if item.value("accuracy") == 0:
            failed.append((item, item.scores["accuracy"].reason))
        elif item.value("abstention_recall") == 0:
            failed.append((item, "answered an unanswerable question"))
    return failed


def suspect_passes(report: EvaluationReport) -> list[ReportCase]:
    """Date questions counted correct by STR-EM although the answer's first date is another
    day: the gold date appears somewhere in the answer, but the answer leads with a wrong one."""
    return [
        c
        for c in report.cases
        if c.value("accuracy") == 1 and c.value("date_match") == 0 and c.value("str_em") == 1
    ]


def citation_failures(report: EvaluationReport) -> list[ReportCase]:
    return [
        c
        for c in report.cases
        if (c.value("citation_recall") is not None and c.value("citation_recall") < 1)
        or (c.value("citation_precision") is not None and c.value("citation_precision") < 1)
    ]


# --- Markdown -----------------------------------------------------------------------------
def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failure_markdown(item: ReportCase, why: str, bodies: dict[str, str]) -> list[str]:
    case, outcome = item.case, item.outcome
    answer = outcome.answer
    where = f"line {case.line}" if case.line else "SQuAD"
    lines = [f"#### `{case.id}` ({case.category}, {case.split}, {where})", ""]
    if case.history:
        lines.append("- **Chat so far:** " + " → ".join(f"“{q}”" for q in case.history))
    lines.append(f"- **Question:** {case.question}")
    lines.append(
        "- **Expected:** " + (" \\| ".join(case.answers) if case.answers else "*(abstain)*")
    )
    if answer is None:
        lines.append(f"- **Answer:** *(error)* {outcome.error}")
    else:
        shown = answer.text + ("  *(abstained)*" if answer.abstained else "")
        lines.append(f"- **Answer:** {_clip(shown, 600)}")
        for citation in answer.citations:
            lines.append(
                f"  - [{citation.marker}] `{citation.article_id}`: “{_clip(citation.quote, 200)}”"
            )
        if answer.notes:
            lines.append("- **Notes:** " + "; ".join(answer.notes))
    lines.append(f"- **Why:** {why}")
    hit = item.scores.get("hit@5")
    if hit and hit.applies:
        lines.append(f"- **Retrieval:** {hit.reason}")
    spans, _ = locate_support(case.support, case.article_ids, bodies) if case.support else ([], [])
    if case.support:
        lines.append(
            "- **Gold support:** " + " / ".join(f"“{_clip(s, 200)}”" for s in case.support)
        )
    lines.append(f"- **Retrieved** (query: “{_clip(outcome.query, 200)}”):")
    for rank, passage in enumerate(outcome.passages, start=1):
        mark = (
            "✅ gold"
            if passage_hits(passage.article_id, passage.start, passage.end, spans)
            else ("gold article" if passage.article_id in case.article_ids else "")
        )
        text = _clip(passage.text, 300)
        lines.append(f"  {rank}. `{passage.chunk_id}` {passage.score:.4f} {mark} — {text}")
    lines.append("")
    return lines


def write_markdown(result: RunResult, path: Path, chart_name: str | None) -> None:
    """The human report: summary, categories, chart, peer check, and every failure explained."""
    runs = [r for r in result.runs if r.report is not None]
    out = [
        "# qa evaluation report",
        "",
        f"Dataset: `{result.dataset}`. Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    for note in result.notes:
        out.append(f"> {note}")
    if result.notes:
        out.append("")
    for run in result.runs:
        if run.skipped:
            out.append(f"**{run.backend}** was skipped: {run.skipped}")
            out.append("")
    if result.problems:
        out += ["## Dataset problems", "", "These lines were not scored; the rest were.", ""]
        out += [f"- line {p.line}: {p.message}" for p in result.problems]
        out.append("")
    if runs:
        columns = _columns(runs)
        summaries = [summary(report) for _, _, report in columns]
        out += [
            "## Summary",
            "",
            (
                "By split: `dev` questions may be looked at while designing rules; `test` is "
                "frozen and must not be (see evals/README.md)."
            ),
            "",
            "| metric | " + " | ".join(f"{b} {split}" for b, split, _ in columns) + " |",
            "|---|" + "---:|" * len(columns),
        ]
        for metric in list(HEADLINE_METRICS) + [
            "relative_date_accuracy",
            "latency_p50",
            "latency_p95",
        ]:
            if all(values.get(metric) is None for values in summaries):
                continue
            cells = []
            for (_, _, report), values in zip(columns, summaries):
                value = values.get(metric)
                n = _counts(report, metric) if metric in report.metric_names() else None
                cells.append(_format(value, metric) + (f" (n={n})" if n else ""))
            out.append(f"| {_LABELS.get(metric, metric)} | " + " | ".join(cells) + " |")
        out += [
            "",
            "Wall time per backend: " + ", ".join(f"{r.backend} {r.seconds:.1f} s" for r in runs),
            "",
        ]

        out += [
            "## By category",
            "",
            (
                "Accuracy per category (for `unanswerable`: the share abstained); citation recall "
                "over the answers given; hit@5 of retrieval, which is the same for every backend. "
                "All questions asked, dev and test together."
            ),
            "",
        ]
        if chart_name:
            out += [f"![accuracy by category]({chart_name})", ""]
        categories = sorted({c for r in runs for c in r.report.categories()})
        columns = ["accuracy", "f1", "citation_recall"]
        out.append(
            "| category | cases | hit@5 | "
            + " | ".join(f"{r.backend} {c}" for r in runs for c in columns)
            + " |"
        )
        out.append("|---|---:|---:|" + "---:|" * (len(runs) * len(columns)))
        for category in categories:
            first = runs[0].report.by_category().get(category, {})
            size = sum(1 for c in runs[0].report.cases if c.case.category == category)
            hit, _ = first.get("hit@5", (None, 0))  # retrieval does not depend on the backend
            cells = [str(size), f"{hit:.2f}" if hit is not None else "–"]
            for r in runs:
                metrics = r.report.by_category().get(category, {})
                for column in columns:
                    key = (
                        "abstention_recall"
                        if (category == "unanswerable" and column == "accuracy")
                        else column
                    )
                    value, n = metrics.get(key, (None, 0))
                    cells.append(f"{value:.2f}" if value is not None else "–")
            out.append(f"| {category} | " + " | ".join(cells) + " |")
        out.append("")

    if result.peer is not None:
        out += ["## Peer check: llama-index RetrieverEvaluator", ""]
        if result.peer.skipped:
            out += [f"Skipped: {result.peer.skipped}", ""]
        else:
            out += [
                (
                    f"Top {result.peer.top_k}, {result.peer.queries} answerable questions; "
                    "expected ids are the chunks holding a gold support sentence."
                ),
                "",
                "| retriever | hit rate | MRR |",
                "|---|---:|---:|",
            ]
            for name, metrics in result.peer.metrics.items():
                out.append(f"| {name} | {metrics['hit_rate']:.3f} | {metrics['mrr']:.3f} |")
            out.append("")
    if result.support_check:
        check = result.support_check
        out += [
            "## Citation support test: hand check",
            "",
            (
                f"{check['pairs']} (sentence, citation) pairs labelled by hand in "
                f"`evals/citation_support_check.jsonl`: the automatic test agrees on "
                f"{check['agree']} ({check['agreement']:.0%})."
            ),
            "",
        ]
    if result.squad is not None:
        out += _squad_markdown(result.squad)
    if result.gate is not None:
        out += [
            "## Thresholds",
            "",
            "All met." if not result.gate else "Below threshold: " + "; ".join(result.gate),
            "",
        ]

    for run in runs:
        report = run.report
        failed = failures(report)
        out += [f"## Failures: {run.backend} ({len(failed)})", ""]
        if not failed:
            out += ["None.", ""]
        for item, why in failed:
            out += _failure_markdown(item, why, result.bodies)
        suspects = suspect_passes(report)
        if suspects:
            out += [
                (
                    f"### Counted correct, but the answer leads with another date: {run.backend} "
                    f"({len(suspects)})"
                ),
                "",
                "STR-EM found the gold date somewhere in the answer; the date match did not.",
                "",
            ]
            for item in suspects:
                answer = item.outcome.answer
                out.append(
                    f"- `{item.case.id}`: {item.case.question} — expected {item.case.answers[0]}; "
                    f"answer: {_clip(strip_markers(answer.text) if answer else '', 240)} "
                    f"({item.scores['date_match'].reason})"
                )
            out.append("")
        cited = citation_failures(report)
        if cited:
            out += [f"### Citation problems: {run.backend} ({len(cited)})", ""]
            for item in cited:
                answer = item.outcome.answer
                reason = item.scores["citation_recall"].reason
                precision = item.scores.get("citation_precision")
                if precision and precision.applies and precision.value < 1:
                    reason += f"; precision: {precision.reason}"
                shown = _clip(answer.text if answer else "", 300)
                out.append(f"- `{item.case.id}`: {shown} — {_cell(reason)}")
                for citation in answer.citations if answer else []:
                    out.append(f"  - [{citation.marker}] “{_clip(citation.quote, 200)}”")
            out.append("")
    if result.squad is not None:
        out += _squad_failures_markdown(result.squad)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _squad_markdown(section: SquadSection) -> list[str]:
    out = ["## SQuAD 2.0 slice (a corpus no one here wrote)", ""]
    if section.skipped:
        return out + [f"Skipped: {section.skipped}", ""]
    out += [section.describe(), ""]
    out += [
        (
            "Scored as in SQuAD: an answerable question is right when the answer (markers "
            "removed) contains a gold answer text, case-insensitively; an `is_impossible` one "
            "when the assistant abstains. Citation scores use our support test (see above)."
        ),
        "",
    ]
    if section.problems:
        out += ["Entries skipped (0-based indices, as in the file):", ""]
        out += [f"- {problem}" for problem in section.problems]
        out.append("")
    runs = [r for r in section.runs if r.report is not None]
    if runs:
        values = {r.backend: squad_summary(r.report) for r in runs}
        out += ["| metric | " + " | ".join(r.backend for r in runs) + " |"]
        out += ["|---|" + "---:|" * len(runs)]
        for metric in list(SQUAD_METRICS) + ["latency_p50", "latency_p95"]:
            cells = []
            for r in runs:
                value, n = values[r.backend][metric]
                cells.append(_format(value) + (f" (n={n})" if value is not None else ""))
            out.append(f"| {_SQUAD_LABELS.get(metric, metric)} | " + " | ".join(cells) + " |")
        out += [
            "",
            f"Index built in {section.index_seconds:.1f} s. Wall time per backend: "
            + ", ".join(f"{r.backend} {r.seconds:.1f} s" for r in runs),
            "",
        ]
    for run in section.runs:
        if run.skipped:
            out += [f"**{run.backend}** was skipped on SQuAD: {run.skipped}", ""]
    return out


def _squad_failures_markdown(section: SquadSection) -> list[str]:
    """One line per SQuAD failure: enough to see the pattern without a page per question."""
    out: list[str] = []
    for run in section.runs:
        if run.report is None:
            continue
        failed = [
            item
            for item in run.report.cases
            if item.value("answerable_accuracy") == 0 or item.value("abstention_recall") == 0
        ]
        out += [f"## SQuAD failures: {run.backend} ({len(failed)})", ""]
        for item in failed:
            answer = item.outcome.answer
            shown = strip_markers(answer.text) if answer else f"(error) {item.outcome.error}"
            expected = " | ".join(item.case.answers) if item.case.answers else "*(abstain)*"
            why = item.scores.get("answerable_accuracy")
            reason = why.reason if why and why.applies else "answered an is_impossible question"
            out.append(
                f"- `{item.case.article_ids[0]}` {_cell(item.case.question)} — expected "
                f"{_cell(expected)}; answer: {_cell(_clip(shown, 240))} ({_cell(reason)})"
            )
        out.append("")
    return out


# --- the chart ----------------------------------------------------------------------------
_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2")


def accuracy_chart_svg(runs: Sequence[BackendRun]) -> str:
    """Horizontal grouped bars: accuracy per category (share abstained for unanswerable)."""
    runs = [r for r in runs if r.report is not None]
    categories = sorted({c for r in runs for c in r.report.categories()})
    bar, gap, left, right, top = 12, 10, 170, 60, 40
    plot = 420
    group = bar * len(runs) + gap
    height = top + group * len(categories) + 30
    width = left + plot + right
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11">'
        ),
        f'<rect width="{width}" height="{height}" fill="white"/>',
        (
            f'<text x="{left}" y="16" font-size="13" font-weight="bold">Accuracy by category '
            "(unanswerable: share abstained)</text>"
        ),
    ]
    for n, run in enumerate(runs):
        x = left + n * 110
        parts.append(
            f'<rect x="{x}" y="24" width="10" height="10" fill="{_COLOURS[n % len(_COLOURS)]}"/>'
        )
        parts.append(f'<text x="{x + 14}" y="33">{html.escape(run.backend)}</text>')
    for tick in range(0, 101, 25):
        x = left + plot * tick / 100
        parts.append(f'<line x1="{x}" y1="{top - 2}" x2="{x}" y2="{height - 25}" stroke="#ddd"/>')
        parts.append(f'<text x="{x}" y="{height - 12}" text-anchor="middle">{tick}%</text>')
    for row, category in enumerate(categories):
        y0 = top + row * group
        parts.append(
            f'<text x="{left - 6}" y="{y0 + group / 2 + 2}" text-anchor="end">'
            f"{html.escape(category)}</text>"
        )
        for n, run in enumerate(runs):
            metrics = run.report.by_category().get(category, {})
            key = "abstention_recall" if category == "unanswerable" else "accuracy"
            value, count = metrics.get(key, (None, 0))
            y = y0 + n * bar
            if value is None:
                continue
            parts.append(
                f'<rect x="{left}" y="{y}" width="{plot * value:.1f}" height="{bar - 2}" '
                f'fill="{_COLOURS[n % len(_COLOURS)]}"><title>{html.escape(run.backend)} '
                f"{html.escape(category)}: {value:.0%} of {count}</title></rect>"
            )
            parts.append(
                f'<text x="{left + plot * value + 3:.1f}" y="{y + bar - 3}" font-size="9">'
                f"{value:.0%}</text>"
            )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
