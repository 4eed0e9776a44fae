"""The question phrases that say which kind of answer a question asks for, and the verbs that
report speech, read from ``qa/cues.json``.

They are data, not code, so that each group carries the cases that justify it and an ablation
(``evals/ablate_cues.py``) can remove phrases one at a time and measure. The environment
variable ``QA_CUES_FILE`` points at another file; only the ablation uses it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["CUES_FILE", "CUES_FILE_VARIABLE", "Cues", "cues", "phrase_pattern"]

CUES_FILE = Path(__file__).resolve().parent / "cues.json"
CUES_FILE_VARIABLE = "QA_CUES_FILE"


@dataclass(frozen=True)
class Cues:
    answer_types: dict[str, tuple[str, ...]]  # in order: the first type that matches wins
    speech_verbs: tuple[str, ...]  # "what did X say" needs one of these near X

    @classmethod
    def from_file(cls, path: Path) -> Cues:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls({kind: tuple(group["phrases"]) for kind, group in data["answer_types"].items()},
                   tuple(data["speech_verbs"]["phrases"]))


@cache
def cues() -> Cues:
    """The cues in use (read once)."""
    return Cues.from_file(Path(os.environ.get(CUES_FILE_VARIABLE) or CUES_FILE))


def phrase_pattern(phrases: tuple[str, ...], flags: int = re.IGNORECASE) -> re.Pattern:
    """One regular expression matching any of ``phrases`` as whole words (longer first, so
    "in what year" wins over "what year")."""
    if not phrases:
        return re.compile(r"(?!x)x")  # matches nothing
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered)
                      + r")\b", flags)
