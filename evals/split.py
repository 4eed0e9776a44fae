"""The frozen dev/test split of ``questions.jsonl``: how it was drawn, once.

Each question's ``split`` field ("dev" or "test") is stored in ``questions.jsonl``; this module
records the procedure that chose it, so anyone can check that the stored field is what the
procedure gives (a test does):

1. group the questions into strata by (``category``, ``answerable``), strata in sorted order;
2. inside a stratum, order the questions by ``sha256(SEED + id)`` (a seeded hash of the id:
   no one picks which question lands where, and reordering the file changes nothing);
3. walk the strata one after another and deal the questions alternately to dev and test,
   starting with dev, the alternation carrying over from one stratum to the next.

Every stratum is then split evenly (an odd one gives its extra question to whichever side is
next in line), and the whole set 76 / 75. The split was drawn for the first
``FROZEN_QUESTIONS`` lines; questions added later go to dev, never to test.

Run ``python evals/split.py --write`` only to draw a split for a dataset that has none.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["FROZEN_QUESTIONS", "SEED", "SPLITS", "draw_split"]

SEED = "qa-evals-split-v1:"
"""Prefix hashed with each id; changing it would draw a different split."""

SPLITS = ("dev", "test")
FROZEN_QUESTIONS = 151
"""How many lines of questions.jsonl the split was drawn for (all of them, on 2026-11-28)."""


def _hash(case_id: str) -> str:
    return hashlib.sha256((SEED + case_id).encode("utf-8")).hexdigest()


def draw_split(records: Iterable[Mapping]) -> dict[str, str]:
    """``{id: "dev" | "test"}`` by the procedure in this module's docstring. ``records`` need
    ``id``, ``category`` and ``answerable``."""
    strata: dict[tuple[str, bool], list[str]] = {}
    for record in records:
        strata.setdefault((record["category"], bool(record["answerable"])), []).append(
            record["id"]
        )
    split: dict[str, str] = {}
    dealt = 0
    for key in sorted(strata):
        for case_id in sorted(strata[key], key=_hash):
            split[case_id] = SPLITS[dealt % 2]
            dealt += 1
    return split


def _write(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    if any("split" in record for record in records):
        sys.exit(f"{path} already has a split; the test split is frozen (see evals/README.md)")
    split = draw_split(records)
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            # The field goes after "answerable", before "history", to keep lines readable.
            ordered = {}
            for key, value in record.items():
                if key == "history":
                    ordered["split"] = split[record["id"]]
                ordered[key] = value
            ordered.setdefault("split", split[record["id"]])
            handle.write(json.dumps(ordered, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python evals/split.py --write   (adds a split to a dataset without one)")
    _write(Path(__file__).resolve().parent / "questions.jsonl")
