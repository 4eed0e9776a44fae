"""Cold start and per-question latency of each backend, on this machine.

    python evals/bench_latency.py [--backends extractive local openai] [--questions 10]
        [--openai-base-url http://127.0.0.1:8011/v1]

Cold start is timed in a fresh process (``Assistant()`` on an existing index, then on none).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = Path(__file__).with_name("questions.jsonl")
COLD = ("import time; t = time.perf_counter(); from qa import Assistant; "
        "Assistant(data_dir={path!r}); print(time.perf_counter() - t)")


def cold_start(data_dir: Path) -> float:
    result = subprocess.run([sys.executable, "-c", COLD.format(path=str(data_dir))],
                            capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["extractive"])
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--openai-base-url", default=None)
    parser.add_argument("--openai-model", default="smollm2")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    first = cold_start(data_dir)  # builds the seed index
    warm = [cold_start(data_dir) for _ in range(3)]
    print(f"Assistant() with no index (builds it): {first:.2f} s")
    print(f"Assistant() on an existing index:      median {statistics.median(warm):.2f} s "
          f"(runs: {', '.join(f'{w:.2f}' for w in warm)})")

    from qa import Assistant

    cases = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    cases = [c for c in cases if not c["history"]][: args.questions]
    for backend in args.backends:
        extra = {}
        if backend == "openai":
            extra = {"openai_base_url": args.openai_base_url, "openai_model": args.openai_model}
        assistant = Assistant(data_dir=data_dir, backend=backend, **extra)
        assistant.ask(cases[0]["question"])  # warm up
        timings = []
        for case in cases:
            started = time.perf_counter()
            assistant.ask(case["question"])
            timings.append(time.perf_counter() - started)
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(round(0.95 * (len(timings) - 1))))]
        print(f"{backend:<11} {len(timings)} questions: p50 {statistics.median(timings):.2f} s, "
              f"p95 {p95:.2f} s, mean {statistics.mean(timings):.2f} s")


if __name__ == "__main__":
    main()
