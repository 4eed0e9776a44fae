"""The verifier benchmark: does ``qa.verification`` keep correct generated answers, and does it
stop planted errors?

    python evals/bench_verifier.py                        # score the stored answers (~1-2 min)
    python evals/bench_verifier.py --regenerate --model /tmp/qwen/qwen1.5b.gguf --threads 2

The answers are data (``evals/verifier_answers.jsonl``): raw text a capable local model wrote
for questions of two corpora (the seed articles and the SQuAD 2.0 "Normans" slice), before
any verification, each with the model's name and the sha256 prefix of its GGUF file. Scoring
needs no model: the question's context is rebuilt by the product's own retrieval
(``Answerer._context``, deterministic) and the text goes through ``Answerer._verified``.

- **keep rate**: of the answers that were correct (they contain a gold answer) and not
  abstentions, the share the verifier returns as the model wrote them: not abstained, not
  replaced by the extractive fallback, and still containing the gold answer;
- **reject rate**: each correct answer is copied with one planted error per rule of
  ``evals.verifier_mutations`` (wrong date, number, name, a negation, the other meeting); a
  copy is rejected when the planted text does not reach the user (its sentence dropped, or
  the whole answer replaced by the fallback or an abstention).

Writes ``evals/reports/verifier.md`` (tables, then every failure with the verifier's notes).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``evals`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import BaseModel, ConfigDict

from evals.metrics import contains_answer, strip_markers
from evals.verifier_corpora import CORPORA, corpus_assistant, default_squad_path, load_questions
from evals.verifier_mutations import MUTATION_KINDS, Mutation, contains_token, mutations_of

__all__ = [
    "DEFAULT_ANSWERS",
    "DEFAULT_REPORT",
    "BenchResult",
    "KeepOutcome",
    "RejectOutcome",
    "StoredAnswer",
    "generate_answers",
    "is_abstention",
    "load_answers",
    "main",
    "markdown_report",
    "score_answers",
]

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_ANSWERS = EVALS_DIR / "verifier_answers.jsonl"
DEFAULT_REPORT = EVALS_DIR / "reports" / "verifier.md"
KEEP_TARGET, REJECT_TARGET = 0.90, 0.95

# The model's own ways of saying "not in the passages" (the prompt asks for the first).
_ABSTENTION = re.compile(
    r"articles don'?t say|(?:don'?t|do not|does not|doesn'?t) (?:say|mention|contain|state|"
    r"specify|provide)|no information|not (?:mentioned|provided|stated|specified)|"
    r"can(?:no|')t (?:answer|be determined|determine)|unable to", re.IGNORECASE)


class StoredAnswer(BaseModel):
    """One generated answer, as the model wrote it (before verification)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    corpus: str
    case_id: str
    split: str | None = None
    question: str
    answers: tuple[str, ...]
    generated: str
    correct: bool
    abstained: bool
    model: str
    model_sha256: str
    passages: tuple[str, ...] = ()
    """Chunk ids of the passages shown to the model, to notice when retrieval has changed."""

    @property
    def usable(self) -> bool:
        """A correct, non-abstaining answer: the kind the verifier should keep."""
        return self.correct and not self.abstained


def is_abstention(text: str) -> bool:
    """The model said the passages do not hold the answer."""
    return bool(_ABSTENTION.search(strip_markers(text)))


def load_answers(path: Path = DEFAULT_ANSWERS) -> list[StoredAnswer]:
    if not path.exists():
        return []
    return [StoredAnswer.model_validate_json(line)
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_answers(path: Path, answers: Sequence[StoredAnswer]) -> None:
    order = {corpus: n for n, corpus in enumerate(CORPORA)}
    lines = [a.model_dump_json(exclude_defaults=False)
             for a in sorted(answers, key=lambda a: order.get(a.corpus, 99))]
    temporary = path.with_suffix(".jsonl.tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(path)


def _sha256_prefix(path: Path, chars: int = 16) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()[:chars]


# --- generation (needs the model) ----------------------------------------------------------
def generate_answers(corpora: Sequence[str], model_path: Path, threads: int, per_corpus: int,
                     max_generations: int, squad_path: Path | None, out: Path,
                     seed: int = 7, resume: bool = False, log=print) -> list[StoredAnswer]:
    """Ask questions of each corpus (in a seeded shuffle) with the local model until
    ``per_corpus`` correct answers or ``max_generations`` generations; every generated answer
    is stored (``correct`` / ``abstained`` say which the benchmark uses). Questions the
    product would abstain on before generating (retrieval found no answer) are skipped.
    ``out`` is rewritten after each answer, keeping the other corpora's stored answers; with
    ``resume`` the answers this model already wrote for ``corpora`` are kept and counted."""
    sha = _sha256_prefix(model_path)
    previous = load_answers(out)
    kept = [a for a in previous if a.corpus not in corpora]
    stored: list[StoredAnswer] = [a for a in previous if resume and a.corpus in corpora
                                  and a.model_sha256 == sha]
    with tempfile.TemporaryDirectory(prefix="qa-bench-verifier-") as workdir:
        embed = None
        for corpus in corpora:
            questions = load_questions(corpus, squad_path)
            random.Random(seed).shuffle(questions)
            assistant = corpus_assistant(corpus, Path(workdir), squad_path, embed,
                                         backend="local", local_model_path=model_path,
                                         local_threads=threads)
            embed = assistant.embed_model
            answerer = assistant._answerer
            done = {a.case_id: a for a in stored if a.corpus == corpus}
            correct = sum(a.usable for a in done.values())
            generations, skipped = len(done), 0
            for question in questions:
                if correct >= per_corpus or generations >= max_generations:
                    break
                if question.case_id in done:
                    continue
                context = answerer._context(question.question, [])
                if not context.answerable:
                    skipped += 1
                    continue
                started = time.perf_counter()
                raw = answerer.generator.complete(answerer._messages(context, []))
                generations += 1
                abstained = is_abstention(raw)
                is_correct = bool(contains_answer(raw, question.answers).value)
                correct += is_correct and not abstained
                stored.append(StoredAnswer(
                    id=f"{corpus}/{question.case_id}", corpus=corpus, case_id=question.case_id,
                    split=question.split, question=question.question, answers=question.answers,
                    generated=raw, correct=is_correct, abstained=abstained,
                    model=model_path.name, model_sha256=sha,
                    passages=tuple(p.chunk_id for p in context.passages)))
                _write_answers(out, kept + stored)
                verdict = "abstained" if abstained else "correct" if is_correct else "wrong"
                log(f"{corpus} {generations}/{max_generations} ({correct} correct, {skipped} "
                    f"skipped as unanswerable) {time.perf_counter() - started:.1f}s {verdict}: "
                    f"{question.question[:60]!r} -> {' '.join(raw.split())[:100]!r}")
    return kept + stored


# --- scoring (no model) ----------------------------------------------------------------------
@dataclass
class KeepOutcome:
    """A correct answer through the verifier: kept as written, or not (and why)."""

    answer: StoredAnswer
    kept: bool
    final_text: str
    backend: str
    abstained: bool
    notes: list[str]
    context_changed: bool = False


@dataclass
class RejectOutcome:
    """A correct answer with one planted error through the verifier."""

    answer: StoredAnswer
    mutation: Mutation
    rejected: bool
    original_kept: bool
    final_text: str
    how: str
    notes: list[str]
    planted_in_passages: bool


@dataclass
class BenchResult:
    keeps: list[KeepOutcome] = field(default_factory=list)
    rejects: list[RejectOutcome] = field(default_factory=list)
    skipped_mutations: dict[str, int] = field(default_factory=dict)


def _recorded_answerer(assistant):
    """An Answerer over the assistant's index whose backend is named like a generative one,
    so a fallback to the extractive answer shows in ``Answer.backend``; the benchmark calls
    only its ``_context`` and ``_verified`` (the text is stored, no model runs)."""
    from qa.answering import Answerer
    from qa.backends.base import TextGenerator

    class Recorded(TextGenerator):
        name = "recorded"

        def stream(self, messages) -> Iterator[str]:
            raise RuntimeError("the verifier benchmark replays stored text; it generates nothing")

    product = assistant._answerer
    return Answerer(product.settings, product.retriever, product.embed_model, Recorded(),
                    product.ranker)


def score_answers(answers: Sequence[StoredAnswer], squad_path: Path | None,
                  workdir: Path | None = None, corpus_names: dict | None = None,
                  log=None) -> BenchResult:
    """Run every usable stored answer, and its mutated copies, through the verifier."""
    result = BenchResult()
    usable = [a for a in answers if a.usable]
    with tempfile.TemporaryDirectory(prefix="qa-bench-verifier-", dir=workdir) as tmp:
        embed = None
        for corpus in CORPORA:
            mine = [a for a in usable if a.corpus == corpus]
            if not mine:
                continue
            assistant = corpus_assistant(corpus, Path(tmp), squad_path, embed)
            embed = assistant.embed_model
            answerer = _recorded_answerer(assistant)
            names = (corpus_names or {}).get(corpus) or _corpus_names(assistant)
            for stored in mine:
                context = answerer._context(stored.question, [])
                changed = bool(stored.passages) and \
                    tuple(p.chunk_id for p in context.passages) != stored.passages
                answer = answerer._verified(context, stored.generated)
                kept = (not answer.abstained and answer.backend != "extractive"
                        and bool(contains_answer(answer.text, stored.answers).value))
                result.keeps.append(KeepOutcome(stored, kept, answer.text, answer.backend,
                                                answer.abstained, list(answer.notes), changed))
                shown = "\n".join(p.text for p in context.passages)
                made, skipped = mutations_of(stored.generated, corpus=corpus,
                                             passages_text=shown, question=stored.question,
                                             names=names, seed=stored.id)
                for kind in skipped:
                    result.skipped_mutations[kind] = result.skipped_mutations.get(kind, 0) + 1
                for mutation in made:
                    mutated = answerer._verified(context, mutation.text)
                    if mutated.abstained:
                        rejected, how = True, "abstained"
                    elif mutated.backend == "extractive":
                        rejected, how = True, "fell back to the extractive answer"
                    elif not contains_token(mutated.text, mutation.planted):
                        rejected, how = True, "its sentence was dropped"
                    else:
                        rejected, how = False, "reached the user"
                    result.rejects.append(RejectOutcome(
                        stored, mutation, rejected, kept, mutated.text, how, list(mutated.notes),
                        contains_token(shown, mutation.planted)))
                if log:
                    log(f"{stored.id}: {'kept' if kept else 'NOT kept'}, "
                        f"{sum(r.rejected for r in result.rejects if r.answer is stored)}/"
                        f"{len(made)} planted errors rejected")
    return result


def _corpus_names(assistant) -> list[str]:
    """Proper names written in the corpus (for the wrong-name rule), most frequent first."""
    from evals.verifier_mutations import proper_names

    texts = [record_text for record_text in _article_texts(assistant)]
    return proper_names("\n".join(texts))


def _article_texts(assistant) -> list[str]:
    from qa.corpus import find_article_files, read_article

    return [read_article(path).body
            for path in find_article_files([assistant.settings.seeds_dir])]


# --- report ----------------------------------------------------------------------------------
def _rate(hits: int, total: int) -> str:
    return f"{hits / total:.1%}" if total else "n/a"


def _groups(answers: Sequence[StoredAnswer]) -> list[tuple[str, str | None]]:
    """(corpus, split) groups, splits only where the data has them; (corpus, None) is all."""
    groups: list[tuple[str, str | None]] = []
    for corpus in CORPORA:
        mine = [a for a in answers if a.corpus == corpus]
        if not mine:
            continue
        groups.append((corpus, None))
        splits = sorted({a.split for a in mine if a.split})
        groups += [(corpus, s) for s in splits]
    return groups


def _label(corpus: str, split: str | None) -> str:
    return corpus if split is None else f"{corpus} ({split})"


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def markdown_report(result: BenchResult, answers: Sequence[StoredAnswer]) -> str:
    """Tables (keep rate; reject rate per corpus × error type), then every failure."""
    lines = ["# Verifier benchmark", ""]
    models = sorted({(a.model, a.model_sha256) for a in answers})
    lines.append("Answers written by " + ", ".join(f"`{m}` (sha256 {s}…)" for m, s in models)
                 + "; SQuAD 2.0 dev, article \"Normans\" (Rajpurkar et al., 2018, CC BY-SA 4.0).")
    lines.append("")
    lines += ["## Generated answers", "",
              "| corpus | generated | correct | abstained | wrong | used (correct, not abstained) |",
              "|---|---|---|---|---|---|"]
    for corpus, split in _groups(answers):
        mine = [a for a in answers if a.corpus == corpus and (split is None or a.split == split)]
        lines.append(f"| {_label(corpus, split)} | {len(mine)} | {sum(a.correct for a in mine)} "
                     f"| {sum(a.abstained for a in mine)} "
                     f"| {sum(not a.correct and not a.abstained for a in mine)} "
                     f"| {sum(a.usable for a in mine)} |")
    lines += ["", f"## Keep rate (target ≥ {KEEP_TARGET:.0%})", "",
              "| corpus | n | kept | keep rate | fell back | abstained | kept without the gold |",
              "|---|---|---|---|---|---|---|"]
    for corpus, split in _groups(answers) + [("all", None)]:
        mine = [k for k in result.keeps
                if corpus == "all" or (k.answer.corpus == corpus
                                       and (split is None or k.answer.split == split))]
        fell = sum(k.backend == "extractive" and not k.abstained for k in mine)
        abst = sum(k.abstained for k in mine)
        lost = sum(not k.kept and k.backend != "extractive" and not k.abstained for k in mine)
        lines.append(f"| {_label(corpus, split)} | {len(mine)} | {sum(k.kept for k in mine)} "
                     f"| **{_rate(sum(k.kept for k in mine), len(mine))}** | {fell} | {abst} "
                     f"| {lost} |")
    lines += ["", f"## Reject rate of planted errors (target ≥ {REJECT_TARGET:.0%})", "",
              "Rejected: the planted text does not reach the user. \"of kept\" counts only the "
              "copies of answers the verifier kept unchanged, where a rejection is the "
              "verifier noticing the error rather than dropping the answer anyway.", "",
              "| corpus | error type | n | rejected | n (of kept) | rejected (of kept) |",
              "|---|---|---|---|---|---|"]
    for corpus, split in _groups(answers) + [("all", None)]:
        mine = [r for r in result.rejects
                if corpus == "all" or (r.answer.corpus == corpus
                                       and (split is None or r.answer.split == split))]
        for kind in MUTATION_KINDS + ("all",):
            rows = [r for r in mine if kind == "all" or r.mutation.kind == kind]
            if not rows:
                continue
            of_kept = [r for r in rows if r.original_kept]
            bold = "**" if kind == "all" else ""
            lines.append(
                f"| {_label(corpus, split)} | {kind} | {len(rows)} "
                f"| {bold}{_rate(sum(r.rejected for r in rows), len(rows))}{bold} "
                f"| {len(of_kept)} | {_rate(sum(r.rejected for r in of_kept), len(of_kept))} |")
    if result.skipped_mutations:
        lines += ["", "Rules that did not apply (answers without a date, number, …): "
                  + ", ".join(f"{k} {v}" for k, v in sorted(result.skipped_mutations.items()))
                  + "."]
    changed = [k for k in result.keeps if k.context_changed]
    if changed:
        lines += ["", f"**Retrieval changed since generation for {len(changed)} answers** "
                  "(the passages shown differ from those the model saw): "
                  + ", ".join(k.answer.id for k in changed) + ". Consider `--regenerate`."]
    lines += ["", "## Correct answers not kept", ""]
    for keep in (k for k in result.keeps if not k.kept):
        state = ("abstained" if keep.abstained else "fell back to the extractive answer"
                 if keep.backend == "extractive" else "kept text lost the gold answer")
        lines += [f"- **{keep.answer.id}** ({state}): {keep.answer.question}",
                  f"  - gold: {', '.join(keep.answer.answers[:3])}",
                  f"  - generated: {_one_line(keep.answer.generated)}",
                  f"  - returned: {_one_line(keep.final_text)}"]
        lines += [f"  - note: {_one_line(note, 300)}" for note in keep.notes]
    lines += ["", "## Planted errors that got through", ""]
    for miss in (r for r in result.rejects if not r.rejected):
        where = "; the planted text is in the shown passages" if miss.planted_in_passages else ""
        lines += [f"- **{miss.answer.id}** [{miss.mutation.kind}] {miss.mutation.original!r} → "
                  f"{miss.mutation.planted!r}{where}"
                  + ("" if miss.original_kept else " (original answer not kept either)"),
                  f"  - question: {miss.answer.question}",
                  f"  - mutated: {_one_line(miss.mutation.text)}",
                  f"  - returned: {_one_line(miss.final_text)}"]
        lines += [f"  - note: {_one_line(note, 300)}" for note in miss.notes]
    return "\n".join(lines) + "\n"


def _summary(result: BenchResult) -> str:
    keeps, rejects = result.keeps, result.rejects
    return (f"keep rate {_rate(sum(k.kept for k in keeps), len(keeps))} (n={len(keeps)}), "
            f"reject rate {_rate(sum(r.rejected for r in rejects), len(rejects))} "
            f"(n={len(rejects)})")


def _with_current_splits(answers: Sequence[StoredAnswer]) -> list[StoredAnswer]:
    """The seed answers with the ``split`` their question has in questions.jsonl now (the
    field may have been added after the answers were generated)."""
    from evals.verifier_corpora import seed_questions

    splits = {q.case_id: q.split for q in seed_questions()}
    return [a.model_copy(update={"split": splits.get(a.case_id, a.split)})
            if a.corpus == "seeds" else a for a in answers]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=Path, default=DEFAULT_ANSWERS,
                        help="stored generated answers (JSONL)")
    parser.add_argument("--out", type=Path, default=DEFAULT_REPORT, help="Markdown report")
    parser.add_argument("--squad", type=Path, default=None,
                        help="SQuAD 2.0 Normans slice (default: ../shared/datasets/...)")
    parser.add_argument("--regenerate", action="store_true",
                        help="re-create --answers with the model first (minutes to an hour)")
    parser.add_argument("--resume", action="store_true",
                        help="with --regenerate: keep the answers this model already wrote")
    parser.add_argument("--corpus", nargs="+", choices=CORPORA, default=list(CORPORA),
                        help="corpora to regenerate (the others' stored answers are kept)")
    parser.add_argument("--model", type=Path, help="GGUF file for --regenerate")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--per-corpus", type=int, default=35,
                        help="stop a corpus after this many correct answers")
    parser.add_argument("--max-generations", type=int, default=75,
                        help="stop a corpus after this many generations")
    parser.add_argument("--limit", type=int, help="score only the first N usable answers")
    parser.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    squad = args.squad or default_squad_path()

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    if args.regenerate:
        if args.model is None or not args.model.is_file():
            print("--regenerate needs --model PATH to a GGUF file", file=sys.stderr)
            return 2
        generate_answers(args.corpus, args.model, args.threads, args.per_corpus,
                         args.max_generations, squad, args.answers, resume=args.resume,
                         log=log)
    answers = _with_current_splits(load_answers(args.answers))
    if not answers:
        print(f"no stored answers in {args.answers}; run with --regenerate --model PATH",
              file=sys.stderr)
        return 2
    usable = [a for a in answers if a.usable]
    if args.limit:
        usable = usable[:args.limit]
    result = score_answers(usable, squad, log=log)
    report = markdown_report(result, answers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report.split("\n## Correct answers not kept")[0])
    print(f"{_summary(result)}; every failure in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
