"""A news question set in RGB's format, asked through qa: answering news no one here wrote.

    python evals/news_set.py FILE [FILE ...] [--backend extractive] [--half dev|test|all]
        [--out evals/reports/news_set.json]

RGB (Chen, Lin, Han and Sun, "Benchmarking Large Language Models in Retrieval-Augmented
Generation", AAAI 2024) pairs news questions with search snippets that answer them (positive)
and snippets that do not (negative), one JSON object per line: ``id``, ``query``, ``answer``,
``positive``, ``negative``; other fields are ignored. Every snippet of every line becomes one
article of a single library, so each question's distractors are also every other question's,
and each question is asked once. Scoring as RGB's: right when the answer, citation markers
stripped, contains a gold answer (case-insensitive); ``answer`` is a string, a list of
alternatives, or a list of lists, each inner list one part that must be present in one of its
forms. Ids are split by parity, even ids dev and odd ids test, so that rules are designed on dev.

The data is not in the repository (RGB's files are on GitHub, chen700564/RGB): pass their paths.
A line that is not such an object is reported with its line number and skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``evals`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.dataset import percentile
from evals.squad import SquadParagraph, squad_contains, write_articles

HALVES = ("dev", "test", "all")
DEPTHS = (1, 3, 5, 10, 20)  # retrieval depths at which the answer's presence is reported


@dataclass(frozen=True)
class NewsQuestion:
    id: int
    query: str
    answer: tuple[tuple[str, ...], ...]  # parts, each in one of its forms
    positive: tuple[str, ...]
    negative: tuple[str, ...]

    @property
    def half(self) -> str:
        return "dev" if self.id % 2 == 0 else "test"


def load_news(paths: list[Path]) -> tuple[list[NewsQuestion], list[str]]:
    """The questions of RGB-format files, and a problem per line that is not one."""
    questions, problems = [], []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                questions.append(_question(json.loads(line)))
            except (ValueError, TypeError, KeyError) as error:
                problems.append(f"{path.name} line {number}: {error}")
    return questions, problems


def _question(row: dict) -> NewsQuestion:
    for field, kind in (("id", int), ("query", str), ("positive", list), ("negative", list)):
        if not isinstance(row.get(field), kind):
            raise ValueError(f"field {field!r} must be {kind.__name__}")
    answer = row.get("answer")
    if isinstance(answer, str):
        parts = ((answer,),)
    elif isinstance(answer, list) and answer and all(isinstance(a, list) for a in answer):
        parts = tuple(tuple(str(form) for form in part) for part in answer)
    elif isinstance(answer, list) and answer and all(isinstance(a, str) for a in answer):
        parts = (tuple(answer),)
    else:
        raise ValueError("field 'answer' must be a string, a list of strings or a list of lists")
    return NewsQuestion(row["id"], row["query"], parts,
                        tuple(map(str, row["positive"])), tuple(map(str, row["negative"])))


def is_right(text: str, answer: tuple[tuple[str, ...], ...]) -> bool:
    """Every part of the gold answer appears, in one of its forms, in ``text`` (each part by
    SQuAD's containment rule)."""
    return all(squad_contains(text, part).value for part in answer)


def write_library(questions: list[NewsQuestion], folder: Path) -> int:
    """One article per distinct snippet, written as the SQuAD slice's paragraphs are; their
    number."""
    snippets = dict.fromkeys(s for q in questions for s in q.positive + q.negative)
    write_articles([SquadParagraph(f"news-{number:05d}", f"News snippet {number + 1}", snippet)
                    for number, snippet in enumerate(snippets)], folder)
    return len(snippets)


def run(paths: list[Path], backend: str, half: str) -> dict:
    from qa import Assistant

    questions, problems = load_news(paths)
    asked = [q for q in questions if half in ("all", q.half)]
    with tempfile.TemporaryDirectory(prefix="qa-news-set-") as folder:
        articles = write_library(questions, Path(folder) / "articles")
        assistant = Assistant(backend=backend, data_dir=Path(folder) / "data",
                              seeds_dir=Path(folder) / "articles")
        results = []
        for question in asked:
            started = time.perf_counter()
            answer = assistant.ask(question.query)
            elapsed = round(time.perf_counter() - started, 3)
            retrieved = assistant.retrieve(question.query, max(DEPTHS))
            read = assistant.passages_read(question.query)
            results.append({"id": question.id, "half": question.half, "query": question.query,
                            "right": is_right(answer.text, question.answer),
                            "abstained": answer.abstained, "answer": answer.text,
                            "seconds": elapsed,
                            "answer_at": next((rank for rank, p in enumerate(retrieved, start=1)
                                               if is_right(p.text, question.answer)), None),
                            "answer_read_at": next((rank for rank, p in enumerate(read, start=1)
                                                    if is_right(p.text, question.answer)), None)})
    seconds = [r["seconds"] for r in results]
    return {
        "backend": backend, "half": half, "articles": articles, "questions": len(results),
        "accuracy": sum(r["right"] for r in results) / max(1, len(results)),
        "abstained": sum(r["abstained"] for r in results),
        "latency_p50": percentile(seconds, 50) or 0.0,
        "latency_p95": percentile(seconds, 95) or 0.0,
        # Whether a miss is retrieval's or the answer step's: the share of questions whose
        # answer is in one of the first k passages retrieved.
        "answer_in_passages": {k: sum(r["answer_at"] is not None and r["answer_at"] <= k
                                      for r in results) / max(1, len(results)) for k in DEPTHS},
        # ... and in the passages the answer step read (retrieval's, reordered by their best
        # sentences): a miss with the answer there is the answer step's, else the ranking's.
        "answer_in_passages_read": sum(r["answer_read_at"] is not None for r in results)
        / max(1, len(results)),
        "problems": problems, "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="RGB-format JSON-lines files")
    parser.add_argument("--backend", default="extractive")
    parser.add_argument("--half", choices=HALVES, default="dev",
                        help="even ids (dev), odd ids (test: final checks only) or all")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "reports"
                        / "news_set.json")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    report = run(args.files, args.backend, args.half)
    for problem in report["problems"]:
        print(f"skipped: {problem}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"{report['backend']}, {report['half']}: {report['questions']} questions over "
          f"{report['articles']} snippets; accuracy {report['accuracy']:.3f}; abstained "
          f"{report['abstained']}; latency p50 {report['latency_p50']:.2f} s, p95 "
          f"{report['latency_p95']:.2f} s; answers in {args.out}")
    print("answer in the first k passages retrieved: " + ", ".join(
        f"k={k} {share:.2f}" for k, share in report["answer_in_passages"].items()))
    print(f"answer in the passages the answer step read: {report['answer_in_passages_read']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
