"""The two corpora the verifier benchmark asks about, and an Assistant over each.

- ``seeds``: the answerable questions of ``questions.jsonl`` (chat follow-ups left out: their
  context depends on the answers before them) over the five seed articles;
- ``squad``: the answerable questions of the SQuAD 2.0 dev "Normans" slice, each of its 39
  paragraphs one undated article. The data stays outside the repository: the paragraphs are
  written to a temporary folder and indexed from there.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CORPORA",
    "SQUAD_RELATIVE",
    "Question",
    "corpus_assistant",
    "default_squad_path",
    "load_questions",
    "seed_questions",
    "squad_questions",
    "write_squad_articles",
]

CORPORA = ("seeds", "squad")
EVALS_DIR = Path(__file__).resolve().parent
SEED_QUESTIONS = EVALS_DIR / "questions.jsonl"
SQUAD_RELATIVE = Path("shared/datasets/squad2-dev-normans/dev-v2.0-normans.json")


@dataclass(frozen=True)
class Question:
    """One answerable question of a corpus, with its accepted answers."""

    corpus: str
    case_id: str
    question: str
    answers: tuple[str, ...]
    split: str | None = None


def default_squad_path() -> Path | None:
    """The SQuAD slice in the ``shared/datasets`` folder beside the checkout (None if absent)."""
    for parent in EVALS_DIR.parents:
        candidate = parent / SQUAD_RELATIVE
        if candidate.is_file():
            return candidate
    return None


def seed_questions(path: Path = SEED_QUESTIONS) -> list[Question]:
    """Answerable, single-turn gold questions. Read as plain JSON rather than with
    ``evals.dataset.load_cases`` so that a new field (``split``) does not hide a line."""
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record: dict[str, Any] = json.loads(line)
        if not record.get("answerable") or record.get("history"):
            continue
        questions.append(Question("seeds", record["id"], record["question"],
                                  tuple(record["answers"]), record.get("split")))
    return questions


def _squad_paragraphs(path: Path) -> list[tuple[str, dict]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs = []
    for article in data["data"]:
        for number, paragraph in enumerate(article["paragraphs"]):
            paragraphs.append((f"{article['title'].lower()}_{number:02d}", paragraph))
    return paragraphs


def squad_questions(path: Path) -> list[Question]:
    """The answerable SQuAD questions (``is_impossible`` false), gold texts deduplicated."""
    questions = []
    for _, paragraph in _squad_paragraphs(path):
        for qa in paragraph["qas"]:
            if qa.get("is_impossible"):
                continue
            answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
            questions.append(Question("squad", qa["id"], qa["question"], answers))
    return questions


def write_squad_articles(path: Path, folder: Path) -> Path:
    """Write each SQuAD paragraph as ``<title>_<nn>.txt`` (no date header) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for article_id, paragraph in _squad_paragraphs(path):
        (folder / f"{article_id}.txt").write_text(paragraph["context"] + "\n", encoding="utf-8")
    return folder


def load_questions(corpus: str, squad_path: Path | None) -> list[Question]:
    """The answerable questions of ``corpus``."""
    if corpus == "seeds":
        return seed_questions()
    if squad_path is None:
        raise FileNotFoundError(f"the SQuAD slice is not at ../{SQUAD_RELATIVE}; pass --squad PATH")
    return squad_questions(squad_path)


def corpus_assistant(corpus: str, workdir: Path, squad_path: Path | None = None,
                     embed_model: Any = None, **overrides: Any):
    """An Assistant over ``corpus`` with its index in ``workdir`` (a fresh temporary folder)."""
    from qa.assistant import Assistant

    data_dir = Path(tempfile.mkdtemp(prefix=f"{corpus}-", dir=workdir))
    if corpus == "squad":
        if squad_path is None:
            raise FileNotFoundError(
                f"the SQuAD slice is not at ../{SQUAD_RELATIVE}; pass --squad PATH")
        overrides["seeds_dir"] = write_squad_articles(squad_path, data_dir / "squad-articles")
    return Assistant(data_dir=data_dir / "qa", _embed_model=embed_model, **overrides)
