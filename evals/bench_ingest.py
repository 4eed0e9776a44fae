"""``qa index`` of a folder of generated articles, end to end, run twice.

    nice -n 19 python evals/bench_ingest.py [--articles 1000] [--work /tmp/qa-ingest]
        [--out evals/reports/bench_ingest.json]

Writes ``--articles`` generated articles (``evals.generated``: real sentences and a made-up
reference code each) as files, then runs the real CLI, ``qa index FOLDER``, in a fresh process
on an empty data directory (which first indexes the five seed articles, as a user's first run
does), and again on the same folder. The first run embeds every chunk with MiniLM; the second
must embed none. Reported: wall time, articles/s, peak memory of the process, what it printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run_index(folder: Path, data_dir: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "RUST_LOG": "error"}
    code = ("import resource, sys; from qa.cli import main; code = main(sys.argv[1:]); "
            "print('peak_mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024); "
            "sys.exit(code)")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, "--data-dir", str(data_dir), "index",
                          str(folder)], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    lines = out.stdout.strip().splitlines()
    summary = next(line for line in lines if "chunks embedded" in line)
    peak = float(next(line for line in lines if line.startswith("peak_mb")).split()[1])
    embedded = int(summary.split("; ")[1].split()[0])
    return {"seconds": elapsed, "peak_mb": peak, "chunks_embedded": embedded, "printed": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-ingest"))
    parser.add_argument("--out", type=Path, default=REPO / "evals" / "reports" / "bench_ingest.json")
    args = parser.parse_args()

    from evals.generated import article_file_text, generated_article

    shutil.rmtree(args.work, ignore_errors=True)
    folder, data_dir = args.work / "articles", args.work / "data"
    folder.mkdir(parents=True)
    for number in range(args.articles):
        article = generated_article(number)
        (folder / f"{article.article_id}.txt").write_text(article_file_text(article), encoding="utf-8")
    first = _run_index(folder, data_dir)
    second = _run_index(folder, data_dir)
    for run in (first, second):
        run["articles_per_s"] = args.articles / run["seconds"]
    result = {"articles": args.articles, "first": first, "second": second,
              "load_average": os.getloadavg(),
              "bench_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
