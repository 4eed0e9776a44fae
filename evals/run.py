"""Run the eval: ``python evals/run.py [--backend extractive local openai] [--limit N]``.

Asks every gold question through ``qa.Assistant`` on each backend, scores the answers with the
offline evaluators (and the judge tier when ``--judge-base-url`` is given), runs the llama-index
peer check of retrieval, prints a table and writes ``report.json``, ``report.md`` and
``accuracy_by_category.svg`` to ``--out``. With ``--check`` it exits 1 when the gated backend
falls below ``evals/thresholds.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``evals`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.dataset import Case, Dataset, Outcome, load_cases
from evals.report import (
    BackendRun,
    RunResult,
    accuracy_chart_svg,
    summary,
    terminal_table,
    write_json,
    write_markdown,
)

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_OUT",
    "DEFAULT_THRESHOLDS",
    "EVALS_DIR",
    "check_thresholds",
    "load_thresholds",
    "main",
    "rescore",
    "run_eval",
    "support_check_agreement",
]

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_DATASET = EVALS_DIR / "questions.jsonl"
DEFAULT_THRESHOLDS = EVALS_DIR / "thresholds.json"
DEFAULT_OUT = EVALS_DIR / "reports"
SUPPORT_CHECK = EVALS_DIR / "citation_support_check.jsonl"
BACKENDS = ("extractive", "local", "openai")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _BackendCannotRun(Exception):
    """The backend fails on every question (not installed, misconfigured, server down)."""


@dataclass
class AskAssistant:
    """The task: ask a case's question (after its chat history) and retrieve its passages."""

    assistant: object
    top_k: int
    answered: int = 0

    def __call__(self, case: Case) -> Outcome:
        from evals.peer import retrieval_query
        from qa.errors import BackendConfigError, BackendNotInstalledError, BackendUnavailableError

        query = retrieval_query(case)
        # The retriever is private to the Assistant; the eval reads it to score retrieval alone.
        passages = self.assistant.retrieve(query, self.top_k)
        started = time.perf_counter()
        try:
            if case.history:
                chat = self.assistant.chat()
                for earlier in case.history:
                    chat.ask(earlier)
                started = time.perf_counter()
                answer = chat.ask(case.question)
            else:
                answer = self.assistant.ask(case.question)
        except (BackendNotInstalledError, BackendConfigError) as exc:
            raise _BackendCannotRun(str(exc)) from exc
        except BackendUnavailableError as exc:
            if not self.answered:
                raise _BackendCannotRun(str(exc)) from exc
            return Outcome(
                None, passages, time.perf_counter() - started, f"{type(exc).__name__}: {exc}", query
            )
        except Exception as exc:  # noqa: BLE001 - one failing question is scored, not fatal
            return Outcome(
                None, passages, time.perf_counter() - started, f"{type(exc).__name__}: {exc}", query
            )
        self.answered += 1
        return Outcome(answer, passages, time.perf_counter() - started, None, query)


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict:
    """``{"backend": ..., "minimums": {metric: value}}`` from thresholds.json."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def check_thresholds(result: RunResult, thresholds: dict) -> list[str]:
    """The metrics of the gated backend that fall below their minimum (empty: all met)."""
    run = result.run(thresholds["backend"])
    if run is None or run.report is None:
        return [
            f"backend {thresholds['backend']!r} was not evaluated"
            + (f" ({run.skipped})" if run and run.skipped else "")
        ]
    values = summary(run.report)
    failed = []
    for metric, minimum in thresholds["minimums"].items():
        value = values.get(metric)
        if value is None or value < minimum:
            shown = "n/a" if value is None else f"{value:.3f}"
            failed.append(f"{metric} {shown} < {minimum}")
    return failed


def support_check_agreement(path: Path = SUPPORT_CHECK) -> dict | None:
    """How often the automatic support test agrees with the hand labels in ``path``
    (re-running the test on the stored pairs, so the figure is for the current test)."""
    if not path.exists():
        return None
    from datetime import date

    from evals.citation_support import Quote, supports

    pairs = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    agree = 0
    disagreements = []
    for pair in pairs:
        published = date.fromisoformat(pair["published"]) if pair.get("published") else None
        automatic = bool(
            supports(
                pair["statement"], [Quote(pair["quote"], published)], pair.get("question", "")
            ).value
        )
        if automatic == pair["hand_label"]:
            agree += 1
        else:
            disagreements.append(pair.get("pair_id", ""))
    return {
        "pairs": len(pairs),
        "agree": agree,
        "agreement": agree / len(pairs) if pairs else 0.0,
        "disagreements": disagreements,
    }


def _progress(backend: str, quiet: bool):
    def report(done: int, total: int, item) -> None:
        if quiet:
            return
        if done == total or done % 25 == 0:
            print(f"  {backend}: {done}/{total}", file=sys.stderr, flush=True)

    return report


def run_eval(
    backends: Sequence[str] = ("extractive",),
    dataset: Path = DEFAULT_DATASET,
    limit: int | None = None,
    data_dir: Path | None = None,
    top_k: int = 5,
    peer: bool = True,
    judge_base_url: str | None = None,
    judge_model: str = "judge",
    judge_api_key: str | None = None,
    backend_settings: dict | None = None,
    seeds_dir: Path | None = None,
    quiet: bool = True,
) -> RunResult:
    """Evaluate ``backends`` on ``dataset`` and return everything measured (writes nothing).

    ``data_dir`` holds the index; by default a temporary one is built from the seed articles,
    so the user's own library never leaks into the scores. ``backend_settings`` are extra
    Settings fields for the generative backends (``openai_base_url``, ``openai_model``, …).
    """
    from evals.evaluators import default_evaluators
    from qa.assistant import Assistant
    from qa.corpus import load_articles
    from qa.errors import QAError

    cases, problems = load_cases(dataset)
    if limit is not None:
        cases = cases[:limit]
    notes: list[str] = []
    temporary = None
    if data_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="qa-eval-")
        data_dir = Path(temporary.name)
    try:
        overrides = {"data_dir": data_dir, "top_k": top_k}
        if seeds_dir is not None:
            overrides["seeds_dir"] = seeds_dir
        base = Assistant(backend="extractive", **overrides)
        articles, _ = load_articles([base.settings.seeds_dir])
        bodies = {a.article_id: a.body for a in articles}
        evaluators = default_evaluators(bodies)
        if judge_base_url:
            try:
                from evals.judge import judge_evaluators

                evaluators += judge_evaluators(judge_base_url, judge_model, judge_api_key)
            except ImportError as exc:
                notes.append(f"judge tier skipped: {exc}")
        suite = Dataset(cases, evaluators, problems)
        runs: list[BackendRun] = []
        for backend in backends:
            started = time.perf_counter()
            try:
                assistant = (
                    base
                    if backend == "extractive"
                    else base.using(backend=backend, **(backend_settings or {}))
                )
                report = suite.evaluate(
                    AskAssistant(assistant, top_k), name=backend, progress=_progress(backend, quiet)
                )
            except (_BackendCannotRun, QAError) as exc:
                runs.append(BackendRun(backend, skipped=str(exc)))
                continue
            runs.append(BackendRun(backend, report, seconds=time.perf_counter() - started))
        result = RunResult(str(dataset), runs, problems, notes=notes, bodies=bodies)
        if peer:
            from evals.peer import compare_retrievers

            result.peer = compare_retrievers(base, cases, base.settings.seeds_dir, top_k)
        result.support_check = support_check_agreement()
        return result
    finally:
        if temporary is not None:
            temporary.cleanup()


def _outcome_from_json(saved: dict) -> Outcome:
    from datetime import date

    from qa.answer import Answer, Citation
    from qa.retrieval import Passage

    answer = None
    if saved["answer"] is not None:
        data = saved["answer"]
        citations = [
            Citation(
                c["marker"],
                c["article_id"],
                c["title"],
                date.fromisoformat(c["published"]) if c["published"] else None,
                c["quote"],
                c["start"],
                c["end"],
            )
            for c in data["citations"]
        ]
        answer = Answer(
            data["question"],
            data["text"],
            citations,
            data["abstained"],
            data["backend"],
            data["repaired"],
            list(data["notes"]),
        )
    passages = [
        Passage(
            p["chunk_id"], p["article_id"], "", None, p["text"], p["start"], p["end"], p["score"]
        )
        for p in saved["passages"]
    ]
    return Outcome(
        answer, passages, saved["seconds"], saved["error"], saved.get("retrieval_query", "")
    )


def rescore(
    saved_report: Path,
    dataset: Path = DEFAULT_DATASET,
    seeds_dir: Path | None = None,
    judge_base_url: str | None = None,
    judge_model: str = "judge",
    judge_api_key: str | None = None,
) -> RunResult:
    """Score the answers stored in a report.json again with the current evaluators, without
    asking any backend (a generative run takes the better part of an hour on this machine)."""
    from evals.evaluators import default_evaluators
    from evals.peer import PeerResult
    from qa.corpus import load_articles
    from qa.resources import resource_dir

    saved = json.loads(Path(saved_report).read_text(encoding="utf-8"))
    cases, problems = load_cases(dataset)
    by_id = {case.id: case for case in cases}
    articles, _ = load_articles([seeds_dir or resource_dir("seeds")])
    bodies = {a.article_id: a.body for a in articles}
    evaluators = default_evaluators(bodies)
    notes = [f"re-scored from {saved_report} (answers generated {saved.get('generated_at', '?')})"]
    if judge_base_url:
        try:
            from evals.judge import judge_evaluators

            evaluators += judge_evaluators(judge_base_url, judge_model, judge_api_key)
        except ImportError as exc:
            notes.append(f"judge tier skipped: {exc}")
    runs: list[BackendRun] = []
    for backend, stored in saved["backends"].items():
        if "skipped" in stored:
            runs.append(BackendRun(backend, skipped=stored["skipped"]))
            continue
        outcomes = {c["id"]: _outcome_from_json(c) for c in stored["cases"] if c["id"] in by_id}
        gone = [c["id"] for c in stored["cases"] if c["id"] not in by_id]
        if gone:
            notes.append(
                f"{backend}: {len(gone)} stored case(s) no longer in the dataset: {gone[:5]}"
            )
        suite = Dataset([by_id[i] for i in outcomes], evaluators, problems)
        report = suite.evaluate(lambda case, saved=outcomes: saved[case.id], name=backend)
        runs.append(BackendRun(backend, report, seconds=stored.get("seconds", 0.0)))
    result = RunResult(str(dataset), runs, problems, notes=notes, bodies=bodies)
    peer = saved.get("peer_check")
    if peer:
        result.peer = PeerResult(**peer)
    result.support_check = support_check_agreement()
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evals/run.py", description="Score qa on the gold questions (offline metrics)."
    )
    parser.add_argument(
        "--backend",
        nargs="+",
        choices=BACKENDS,
        default=["extractive"],
        help="backends to evaluate (default: extractive)",
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N cases")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="folder for report.json, report.md and the chart (default: evals/reports)",
    )
    parser.add_argument(
        "--dataset", type=Path, default=DEFAULT_DATASET, help="the JSONL gold dataset"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="qa data directory holding the index (default: a fresh temporary one)",
    )
    parser.add_argument(
        "--seeds-dir", type=Path, help="articles to index (default: qa's seed articles)"
    )
    parser.add_argument("--top-k", type=int, default=5, help="passages retrieved per question")
    parser.add_argument("--openai-base-url", help="OpenAI-compatible server for --backend openai")
    parser.add_argument("--openai-model", help="model name sent to that server")
    parser.add_argument(
        "--openai-api-key", help="API key for that server (default: OPENAI_API_KEY)"
    )
    parser.add_argument(
        "--judge-base-url",
        help="OpenAI-compatible endpoint for the llama-index judge tier (off by default)",
    )
    parser.add_argument(
        "--judge-model", default="judge", help="model name sent to the judge endpoint"
    )
    parser.add_argument("--judge-api-key", help="API key for the judge endpoint")
    parser.add_argument("--no-peer", action="store_true", help="skip the llama-index peer check")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when the gated backend is below evals/thresholds.json",
    )
    parser.add_argument(
        "--thresholds", type=Path, default=DEFAULT_THRESHOLDS, help="minimums for --check"
    )
    parser.add_argument(
        "--rescore",
        type=Path,
        metavar="REPORT_JSON",
        help="score the answers saved in a report.json again; asks no backend",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (0 ok, 1 thresholds not met or nothing ran,
    2 bad arguments)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on bad arguments
        return int(exc.code or 0)
    if args.limit is not None and args.limit < 1:
        print("evals: --limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if not args.dataset.exists():
        print(f"evals: no dataset at {args.dataset}", file=sys.stderr)
        return EXIT_USAGE
    backend_settings = {
        key: value
        for key, value in (
            ("openai_base_url", args.openai_base_url),
            ("openai_model", args.openai_model),
            ("openai_api_key", args.openai_api_key),
        )
        if value
    }
    started = time.perf_counter()
    if args.rescore:
        if not args.rescore.exists():
            print(f"evals: no saved report at {args.rescore}", file=sys.stderr)
            return EXIT_USAGE
        result = rescore(
            args.rescore,
            args.dataset,
            args.seeds_dir,
            args.judge_base_url,
            args.judge_model,
            args.judge_api_key,
        )
    else:
        result = run_eval(
            args.backend,
            args.dataset,
            args.limit,
            args.data_dir,
            args.top_k,
            peer=not args.no_peer,
            judge_base_url=args.judge_base_url,
            judge_model=args.judge_model,
            judge_api_key=args.judge_api_key,
            backend_settings=backend_settings,
            seeds_dir=args.seeds_dir,
            quiet=args.quiet,
        )
    if args.check:
        result.gate = check_thresholds(result, load_thresholds(args.thresholds))
    for problem in result.problems:
        print(f"evals: skipped dataset {problem}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    chart = "accuracy_by_category.svg"
    if any(r.report for r in result.runs):
        (args.out / chart).write_text(accuracy_chart_svg(result.runs), encoding="utf-8")
    write_json(result, args.out / "report.json")
    write_markdown(
        result, args.out / "report.md", chart if any(r.report for r in result.runs) else None
    )
    print(terminal_table(result))
    print(
        f"\nreports: {args.out / 'report.md'}, {args.out / 'report.json'} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    if not any(r.report for r in result.runs):
        return EXIT_FAILED
    return EXIT_FAILED if result.gate else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
