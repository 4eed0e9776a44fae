"""Draw (statement, citation) pairs from a saved run for hand-checking the citation support test.

    python evals/support_check.py evals/reports/report.json [more.json ...] --pairs 30 > pairs.jsonl

Each line holds the question, the statement, one of its citations (quote and publication
date) and the automatic label; a person adds ``hand_label`` (true/false: does this quote back
what the statement says, read as an answer to the question?) and a ``note``. The labelled
pairs live in ``citation_support_check.jsonl``; ``run.support_check_agreement`` re-runs the
test on them and reports the agreement.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.citation_support import Quote, split_statements, supports

__all__ = ["candidate_pairs", "main", "sample_pairs"]


def candidate_pairs(saved: dict) -> list[dict]:
    """Every (statement, one of its citations) pair in a saved report, with the automatic label."""
    from datetime import date

    pairs = []
    for backend, stored in saved["backends"].items():
        for case in stored.get("cases", []):
            answer = case["answer"]
            if not answer or answer["abstained"]:
                continue
            by_marker = {c["marker"]: c for c in answer["citations"]}
            for number, statement in enumerate(split_statements(answer["text"]), start=1):
                for marker in dict.fromkeys(statement.markers):
                    citation = by_marker.get(marker)
                    if citation is None:
                        continue
                    published = citation["published"]
                    automatic = supports(
                        statement.text,
                        [
                            Quote(
                                citation["quote"],
                                date.fromisoformat(published) if published else None,
                            )
                        ],
                        case["question"],
                    )
                    pairs.append(
                        {
                            "pair_id": f"{backend}/{case['id']}/{number}/{marker}",
                            "backend": backend,
                            "case_id": case["id"],
                            "question": case["question"],
                            "statement": statement.text,
                            "marker": marker,
                            "quote": citation["quote"],
                            "published": published,
                            "auto_label": bool(automatic.value),
                            "auto_reason": automatic.reason,
                        }
                    )
    return pairs


def _is_verbatim(pair: dict) -> bool:
    """The statement is its quote (perhaps with a date lead or resolved weekdays added)."""
    statement = re.sub(r"^[^—]{0,40} — ", "", pair["statement"])
    statement = re.sub(r" \([A-Z][a-z]+ \d{1,2}, \d{4}\)", "", statement)
    return " ".join(statement.split()) in " ".join(pair["quote"].split())


def sample_pairs(saved_reports: list[dict], count: int, seed: int = 3) -> list[dict]:
    """``count`` distinct pairs, two thirds of them generated paraphrases (every one the test
    rejects, then a random draw of the rest) and one third verbatim quotes. A plain random
    draw would be nearly all verbatim pairs, which any test gets right."""
    rng = random.Random(seed)
    seen: set[tuple[str, str]] = set()
    pairs: list[dict] = []
    for saved in saved_reports:
        for pair in candidate_pairs(saved):
            key = (" ".join(pair["statement"].split()), pair["quote"])
            if key not in seen:
                seen.add(key)
                pairs.append(pair)
    paraphrases = [p for p in pairs if not _is_verbatim(p)]
    verbatim = [p for p in pairs if _is_verbatim(p)]
    rejected = [p for p in paraphrases if not p["auto_label"]]
    accepted = [p for p in paraphrases if p["auto_label"]]
    for group in (rejected, accepted, verbatim):
        rng.shuffle(group)
    wanted = count * 2 // 3
    chosen = rejected[:wanted]
    chosen += accepted[: wanted - len(chosen)]
    chosen += verbatim[: count - len(chosen)]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="evals/support_check.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "reports", type=Path, nargs="+", help="report.json files written by evals/run.py"
    )
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    saved = [json.loads(path.read_text(encoding="utf-8")) for path in args.reports]
    for pair in sample_pairs(saved, args.pairs, args.seed):
        print(json.dumps({**pair, "hand_label": None, "note": ""}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
