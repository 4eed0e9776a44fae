"""The word lists the evidence rules use, read from ``qa/cues.json``.

They are data, not code, so that each entry carries the case that justifies it and an
ablation (``evals/ablate_cues.py``) can remove entries one at a time and measure. The
environment variable ``QA_CUES_FILE`` points at another file; only the ablation uses it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["CUES_FILE", "Cues", "cues", "phrase_pattern"]

CUES_FILE = Path(__file__).resolve().parent / "cues.json"
CUES_FILE_VARIABLE = "QA_CUES_FILE"


@dataclass(frozen=True)
class Cues:
    """Phrases by the kind of answer a question asks for, and the words that show it."""

    answer_types: dict[str, tuple[str, ...]]  # in order: the first type that matches wins
    place_prepositions: tuple[str, ...]
    speech_verbs: tuple[str, ...]
    duration_words: tuple[str, ...]
    generic_focus: frozenset[str]

    @classmethod
    def from_file(cls, path: Path) -> Cues:
        data = json.loads(path.read_text(encoding="utf-8"))

        def words(entries: list[dict]) -> tuple[str, ...]:
            return tuple(entry["cue"] for entry in entries)

        return cls(
            answer_types={kind: words(entries) for kind, entries in data["answer_types"].items()},
            place_prepositions=words(data["place_prepositions"]),
            speech_verbs=words(data["speech_verbs"]),
            duration_words=words(data["duration_words"]),
            generic_focus=frozenset(words(data["generic_focus"])),
        )


@cache
def cues() -> Cues:
    """The cues in use (read once)."""
    return Cues.from_file(Path(os.environ.get(CUES_FILE_VARIABLE) or CUES_FILE))


def phrase_pattern(phrases: tuple[str, ...], flags: int = re.IGNORECASE) -> re.Pattern:
    r"""One regular expression matching any of ``phrases`` as whole words; a trailing ``*``
    stands for any word ending ("spokes*": spokesman, spokeswoman). Longer phrases first, so
    "in what city" wins over "what city"."""
    if not phrases:
        return re.compile(r"(?!x)x")  # matches nothing

    def one(phrase: str) -> str:
        stem, open_ended = (phrase[:-1], True) if phrase.endswith("*") else (phrase, False)
        return r"\s+".join(map(re.escape, stem.split())) + (r"\w*" if open_ended else "")

    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(one(p) for p in ordered) + r")\b", flags)
