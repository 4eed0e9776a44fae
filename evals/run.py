"""Run the eval: ``python evals/run.py [--backend extractive local openai] [--split dev|test|all]``.

Asks every gold question (of the chosen split) through ``qa.Assistant`` on each backend, scores
the answers with the offline evaluators (and the judge tier when ``--judge-base-url`` is given),
runs the llama-index peer check of retrieval, then asks the SQuAD 2.0 slice over its own
temporary index, prints a table and writes ``report.json``, ``report.md`` and
``accuracy_by_category.svg`` to ``--out``. With ``--check`` it exits 1 when the gated backend
falls below a minimum of ``evals/thresholds.json`` (each minimum names its corpus and split).
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
    SquadSection,
    accuracy_chart_svg,
    summary,
    terminal_table,
    write_json,
    write_markdown,
)
from evals.squad import SQUAD_CORPUS, default_squad_path, squad_summary
from qa.backends.base import BACKENDS as QA_BACKENDS

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_OUT",
    "DEFAULT_SQUAD",
    "DEFAULT_THRESHOLDS",
    "EVALS_DIR",
    "check_thresholds",
    "load_thresholds",
    "main",
    "rescore",
    "run_eval",
    "run_squad",
    "support_check_agreement",
]

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_DATASET = EVALS_DIR / "questions.jsonl"
DEFAULT_THRESHOLDS = EVALS_DIR / "thresholds.json"
DEFAULT_OUT = EVALS_DIR / "reports"
DEFAULT_SQUAD = default_squad_path()
QUESTIONS_CORPUS = "questions.jsonl"
SPLIT_CHOICES = ("dev", "test", "all")
SUPPORT_CHECK = EVALS_DIR / "citation_support_check.jsonl"
BACKENDS = QA_BACKENDS
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
    """thresholds.json: ``{"backend": ..., "gates": [{"corpus": ..., "split": ...,
    "minimums": {metric: value}}]}``; ``corpus`` is ``questions.jsonl`` (split ``dev`` or
    ``test``) or ``squad2-dev-normans`` (split ``all``)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _gated_values(result: RunResult, backend: str, gate: dict) -> dict | str:
    """The measured metrics a gate compares, or why there are none."""
    corpus, split = gate["corpus"], gate.get("split", "all")
    if corpus == SQUAD_CORPUS:
        section = result.squad
        if section is None or section.skipped:
            return "not evaluated" + (
                f" ({section.skipped})" if section else " (the run had no SQuAD section)"
            )
        run = section.run(backend)
        if run is None or run.report is None:
            return f"backend {backend!r} was not evaluated" + (
                f" ({run.skipped})" if run and run.skipped else ""
            )
        return {metric: value for metric, (value, _) in squad_summary(run.report).items()}
    if corpus != QUESTIONS_CORPUS:
        return f"unknown corpus (use {QUESTIONS_CORPUS!r} or {SQUAD_CORPUS!r})"
    run = result.run(backend)
    if run is None or run.report is None:
        return f"backend {backend!r} was not evaluated" + (
            f" ({run.skipped})" if run and run.skipped else ""
        )
    report = run.report.for_split(split)
    if not report.cases:
        return f"no {split} question was asked (run with --split {split} or all)"
    return summary(report)


def check_thresholds(result: RunResult, thresholds: dict) -> list[str]:
    """Each gated metric of the gated backend that falls below its minimum, named with its
    corpus and split ("questions.jsonl/test: accuracy 0.850 < 0.9"); empty: all met."""
    backend = thresholds["backend"]
    failed = []
    for gate in thresholds["gates"]:
        label = f"{gate['corpus']}/{gate.get('split', 'all')}"
        values = _gated_values(result, backend, gate)
        if isinstance(values, str):
            failed.append(f"{label}: {values}")
            continue
        for metric, minimum in gate["minimums"].items():
            value = values.get(metric)
            if value is None or value < minimum:
                shown = "n/a" if value is None else f"{value:.3f}"
                failed.append(f"{label}: {metric} {shown} < {minimum}")
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


def _evaluate_backends(
    base, suite: Dataset, backends: Sequence[str], top_k: int, backend_settings: dict | None,
    quiet: bool, label: str = "",
) -> list[BackendRun]:
    """Run ``suite`` on each backend, over ``base``'s index; a backend that cannot run is
    recorded as skipped."""
    from qa.errors import QAError

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
                AskAssistant(assistant, top_k),
                name=backend,
                progress=_progress(label + backend, quiet),
            )
        except (_BackendCannotRun, QAError) as exc:
            runs.append(BackendRun(backend, skipped=str(exc)))
            continue
        runs.append(BackendRun(backend, report, seconds=time.perf_counter() - started))
    return runs


def run_squad(
    path: Path = DEFAULT_SQUAD,
    backends: Sequence[str] = ("extractive",),
    limit: int | None = None,
    top_k: int = 5,
    backend_settings: dict | None = None,
    quiet: bool = True,
) -> SquadSection:
    """Ask the questions of a SQuAD 2.0 file (the first ``limit``) on each backend, over a
    fresh temporary index of its paragraphs. A missing file gives a skipped section, not an
    error."""
    from evals.squad import load_squad, squad_evaluators, write_articles
    from qa.assistant import Assistant
    from qa.corpus import load_articles

    path = Path(path)
    if not path.is_file():
        return SquadSection(
            str(path), skipped=f"no SQuAD file at {path} (pass --squad PATH, or --no-squad)"
        )
    squad = load_squad(path)
    cases = squad.cases[:limit] if limit is not None else squad.cases
    section = SquadSection(
        str(path),
        problems=squad.problems,
        paragraphs=len(squad.paragraphs),
        questions=len(cases),
        answerable=sum(1 for case in cases if case.answerable),
    )
    if not cases:
        section.skipped = f"no usable question in {path}"
        return section
    with tempfile.TemporaryDirectory(prefix="qa-eval-squad-") as folder:
        articles_dir = Path(folder) / "articles"
        write_articles(squad.paragraphs, articles_dir)
        started = time.perf_counter()
        base = Assistant(
            backend="extractive",
            data_dir=Path(folder) / "data",
            seeds_dir=articles_dir,
            top_k=top_k,
        )
        section.index_seconds = time.perf_counter() - started
        bodies = {a.article_id: a.body for a in load_articles([articles_dir])[0]}
        suite = Dataset(cases, squad_evaluators(bodies))
        section.runs = _evaluate_backends(
            base, suite, backends, top_k, backend_settings, quiet, label="squad "
        )
    return section


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
    split: str = "all",
    squad: Path | None = DEFAULT_SQUAD,
    squad_limit: int | None = None,
) -> RunResult:
    """Evaluate ``backends`` on ``dataset`` (the cases of ``split``: "dev", "test" or "all")
    and on the SQuAD file ``squad`` (None: not at all), and return everything measured
    (writes nothing).

    ``data_dir`` holds the index; by default a temporary one is built from the seed articles,
    so the user's own library never leaks into the scores. ``backend_settings`` are extra
    Settings fields for the generative backends (``openai_base_url``, ``openai_model``, …).
    """
    from evals.evaluators import default_evaluators
    from qa.assistant import Assistant
    from qa.corpus import load_articles

    cases, problems = load_cases(dataset)
    if split != "all":
        cases = [case for case in cases if case.split == split]
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
        runs = _evaluate_backends(base, suite, backends, top_k, backend_settings, quiet)
        result = RunResult(str(dataset), runs, problems, notes=notes, bodies=bodies)
        if peer:
            from evals.peer import compare_retrievers

            result.peer = compare_retrievers(base, cases, base.settings.seeds_dir, top_k)
        result.support_check = support_check_agreement()
    finally:
        if temporary is not None:
            temporary.cleanup()
    if squad is not None:
        result.squad = run_squad(squad, backends, squad_limit, top_k, backend_settings, quiet)
    return result


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
    squad: Path | None = DEFAULT_SQUAD,
) -> RunResult:
    """Score the answers stored in a report.json again with the current evaluators, without
    asking any backend (a generative run takes the better part of an hour on this machine).
    Saved SQuAD answers are re-scored against the SQuAD file ``squad``."""
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
    if saved.get("squad") and squad is not None:
        result.squad = _rescore_squad(saved["squad"], Path(squad))
    return result


def _rescore_squad(saved: dict, path: Path) -> SquadSection:
    from evals.squad import load_squad, squad_evaluators, write_articles
    from qa.corpus import load_articles

    if saved.get("skipped"):
        return SquadSection(saved.get("source", str(path)), skipped=saved["skipped"])
    if not path.is_file():
        return SquadSection(str(path), skipped=f"saved answers not re-scored: no SQuAD file at {path}")
    squad = load_squad(path)
    by_id = {case.id: case for case in squad.cases}
    with tempfile.TemporaryDirectory(prefix="qa-eval-squad-") as folder:
        write_articles(squad.paragraphs, Path(folder))
        bodies = {a.article_id: a.body for a in load_articles([Path(folder)])[0]}
    evaluators = squad_evaluators(bodies)
    section = SquadSection(
        str(path),
        problems=squad.problems,
        paragraphs=len(squad.paragraphs),
        index_seconds=saved.get("index_seconds", 0.0),
    )
    for backend, stored in saved.get("backends", {}).items():
        if "skipped" in stored:
            section.runs.append(BackendRun(backend, skipped=stored["skipped"]))
            continue
        outcomes = {c["id"]: _outcome_from_json(c) for c in stored["cases"] if c["id"] in by_id}
        suite = Dataset([by_id[i] for i in outcomes], evaluators)
        report = suite.evaluate(lambda case, saved=outcomes: saved[case.id], name=backend)
        section.runs.append(BackendRun(backend, report, seconds=stored.get("seconds", 0.0)))
        section.questions = len(outcomes)
        section.answerable = sum(1 for case in suite.cases if case.answerable)
    return section


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
    parser.add_argument(
        "--split",
        choices=SPLIT_CHOICES,
        default="all",
        help="gold questions to ask: the dev split, the frozen test split, or all (default); "
        "each split is reported separately",
    )
    parser.add_argument("--limit", type=int, help="evaluate only the first N cases (of --split)")
    parser.add_argument(
        "--squad",
        type=Path,
        default=DEFAULT_SQUAD,
        help="SQuAD 2.0 JSON file asked over its own temporary index "
        "(default: <repo>/../shared/datasets/squad2-dev-normans/dev-v2.0-normans.json; "
        "skipped with a note when absent)",
    )
    parser.add_argument(
        "--squad-limit", type=int, metavar="N", help="ask only the first N SQuAD questions"
    )
    parser.add_argument("--no-squad", action="store_true", help="skip the SQuAD section")
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
        help="exit 1 when the gated backend is below a minimum of evals/thresholds.json "
        "(the test split and the SQuAD slice)",
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
    for option, value in (("--limit", args.limit), ("--squad-limit", args.squad_limit)):
        if value is not None and value < 1:
            print(f"evals: {option} must be at least 1", file=sys.stderr)
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
            squad=None if args.no_squad else args.squad,
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
            split=args.split,
            squad=None if args.no_squad else args.squad,
            squad_limit=args.squad_limit,
        )
    if args.check:
        result.gate = check_thresholds(result, load_thresholds(args.thresholds))
        if args.limit or args.squad_limit:
            result.notes.append(
                "--check on a limited run: the minimums were measured on whole corpora"
            )
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
