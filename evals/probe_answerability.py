"""Can the local model tell whether qa's best sentence answers the question? (an experiment)

    python evals/probe_answerability.py [--per-class 30] [--seeds 20] [--threads 1]

SQuAD 2.0's unanswerable questions are written to look answered by their paragraph ("Who was
famed for their Christian spirit?" against "famed for their martial spirit and ... Christian
piety"), and lexical features do not tell them apart: over the questions the extractive ranker
answers, the impossible ones cover the question's words as well as the answerable ones. This
probe asks whether a model-based answerability check (a ranker the ``EvidenceRanker`` interface
leaves room for) would: for questions the extractive ranker answers, drawn at random (seeded),
the local model reads the best sentence and the question and says Yes or No; the probe reads
P(Yes) from the next-token logits and reports the AUC and, per threshold, the share of
answerable questions kept and impossible ones refused. The seeds' questions are drawn from the
dev split only. Needs the ``local`` extra and the default model (``QA_LOCAL_MODEL``).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``evals`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.dataset import load_cases
from evals.squad import default_squad_path, load_squad, write_articles
from qa import Assistant
from qa.backends.local import default_model_path

EVALS_DIR = Path(__file__).resolve().parent
PROMPT = (
    "Read the passage and the question. Does the passage state the answer to exactly this "
    "question? Every detail the question gives must match the passage: the same person, thing, "
    "place, time and action. If the question asks about something the passage does not say, or "
    "changes a detail, the answer is No.\n\nPASSAGE: {passage}\n\nQUESTION: {question}\n\n"
    "Answer Yes or No."
)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def answered(assistant: Assistant, questions: list[tuple[str, bool]]) -> list[tuple[str, bool, str]]:
    """(question, answerable, best sentence) for the questions the extractive ranker answers."""
    answerer = assistant._answerer
    kept = []
    for question, answerable in questions:
        context = answerer._context(question, [])
        if context.quotable:
            kept.append((question, answerable, context.evidence[0].text))
    return kept


class YesNo:
    """P(Yes) for a prompt, from the model's logits for its first reply token."""

    def __init__(self, model_path: Path, threads: int) -> None:
        import numpy as np
        from llama_cpp import Llama

        self._np = np
        self._llm = Llama(model_path=str(model_path), n_ctx=1024, n_threads=threads, verbose=False)
        self._yes = self._llm.tokenize(b"Yes", add_bos=False)[0]
        self._no = self._llm.tokenize(b"No", add_bos=False)[0]

    def __call__(self, prompt: str) -> float:
        # Qwen's chat template, written out: create_chat_completion gives log-probabilities
        # only with logits_all, which computes the vocabulary's logits for every prompt token.
        text = (f"<|im_start|>system\nYou are a careful reader.<|im_end|>\n<|im_start|>user\n"
                f"{prompt}<|im_end|>\n<|im_start|>assistant\n")
        self._llm.reset()
        self._llm.eval(self._llm.tokenize(text.encode(), add_bos=False, special=True))
        logits = self._np.ctypeslib.as_array(self._llm._ctx.get_logits(),
                                             shape=(self._llm.n_vocab(),))
        return 1.0 / (1.0 + math.exp(float(logits[self._no] - logits[self._yes])))


def auc(positive: list[float], negative: list[float]) -> float:
    pairs = [(p > n) + 0.5 * (p == n) for p in positive for n in negative]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=30,
                        help="SQuAD questions drawn from each class (answerable, impossible)")
    parser.add_argument("--seeds", type=int, default=20, help="seed dev questions drawn")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=EVALS_DIR / "reports" / "answerability.json")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    squad = load_squad(default_squad_path())
    with tempfile.TemporaryDirectory(prefix="qa-probe-") as folder:
        articles = Path(folder) / "articles"
        write_articles(squad.paragraphs, articles)
        squad_answered = answered(
            Assistant(backend="extractive", data_dir=Path(folder) / "squad", seeds_dir=articles),
            [(c.question, c.answerable) for c in squad.cases])
        cases, _ = load_cases(EVALS_DIR / "questions.jsonl")
        dev = [(c.question, c.answerable) for c in cases
               if c.split == "dev" and c.answerable and not c.history]
        seeds_answered = answered(Assistant(backend="extractive", data_dir=Path(folder) / "seeds"),
                                  dev)
    drawn = {
        "squad answerable": rng.sample([c for c in squad_answered if c[1]], args.per_class),
        "squad impossible": rng.sample([c for c in squad_answered if not c[1]], args.per_class),
        "seeds dev answerable": rng.sample(seeds_answered, min(args.seeds, len(seeds_answered))),
    }
    judge = YesNo(default_model_path(), args.threads)
    scores = {group: [judge(PROMPT.format(passage=sentence, question=question))
                      for question, _, sentence in items] for group, items in drawn.items()}
    report = {
        "model": default_model_path().name,
        "n": {group: len(values) for group, values in scores.items()},
        "auc squad": auc(scores["squad answerable"], scores["squad impossible"]),
        "thresholds": {
            str(t): {"squad answerable kept": sum(p >= t for p in scores["squad answerable"])
                     / len(scores["squad answerable"]),
                     "squad impossible refused": sum(p < t for p in scores["squad impossible"])
                     / len(scores["squad impossible"]),
                     "seeds dev answerable kept": sum(p >= t for p in scores["seeds dev answerable"])
                     / max(1, len(scores["seeds dev answerable"]))}
            for t in THRESHOLDS},
        "scores": scores,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "scores"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
