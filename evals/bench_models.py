"""The local models side by side on this machine, through the real qa pipeline.

    python evals/bench_models.py [--models NAME ...] [--questions 8] [--threads N]
        [--out evals/reports/models.md]

Every catalogue model whose packages are installed runs in a fresh process of its own, so its
load time and memory are its own: ``Assistant(backend="local", local_model=NAME)`` over one seed
index, then N answerable questions from questions.jsonl, each streamed (time to the first
streamed piece, and to the verified Answer). Then the raw speed of llama.cpp on this CPU: a
600-token prompt from a seed article, and 64 generated tokens. Prints a Markdown report and
writes it to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from a checkout

from qa.backends.catalogue import CATALOGUE, LocalModel  # noqa: E402

QUESTIONS = HERE / "questions.jsonl"
RAW_PROMPT_TOKENS = 600
RAW_GENERATED_TOKENS = 64


def installed(model: LocalModel) -> bool:
    """Whether every package of ``model`` is installed."""
    try:
        for package in model.packages:
            metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return False
    return True


def install_bytes(model: LocalModel) -> int:
    """Bytes the model adds to a machine: its packages' files, plus the joined file if any."""
    total = 0
    for package in model.packages:
        for file in metadata.distribution(package).files or []:
            located = Path(str(file.locate()))
            total += located.stat().st_size if located.is_file() else 0
    if len(model.parts) > 1:
        total += model.size
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(name: str, data_dir: Path, questions: int, threads: int) -> dict:
    """Run in the child process: load one model, ask the questions, time the raw speed."""
    import llama_cpp

    from qa import Answer, Assistant
    from qa.backends.model_files import model_path
    from qa.settings import load_settings

    base = Assistant(data_dir=data_dir, local_threads=threads)  # the index and the embedder
    before = rss_mb()
    started = time.perf_counter()
    assistant = base.using(backend="local", local_model=name)
    load = time.perf_counter() - started
    loaded_rss = rss_mb() - before

    cases = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    cases = [c for c in cases if c["answerable"] and not c["history"]][:questions]
    first_piece, total, used, unrepaired, expected = [], [], 0, 0, 0
    for case in cases:
        started = time.perf_counter()
        first = None
        for item in assistant.stream(case["question"]):
            if first is None and isinstance(item, str):
                first = time.perf_counter() - started
        answer: Answer = item
        total.append(time.perf_counter() - started)
        first_piece.append(first if first is not None else total[-1])
        used += answer.backend == "local"
        unrepaired += answer.backend == "local" and not answer.repaired
        expected += any(a.lower() in answer.text.lower() for a in case["answers"])

    # Raw llama.cpp speed, on the same file and threads (the mapped weights are shared).
    path = model_path(name, load_settings().models_dir)
    llama = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=threads,
                            n_threads_batch=threads, verbose=False)
    article = next((HERE.parent / "seeds").glob("*.txt")).read_text(encoding="utf-8")
    tokens = llama.tokenize((article * 4).encode())[:RAW_PROMPT_TOKENS]
    started = time.perf_counter()
    llama.eval(tokens)
    prompt_seconds = time.perf_counter() - started
    started = time.perf_counter()
    generated = 0
    for _ in llama.generate([], temp=0.0, reset=False):
        generated += 1
        if generated == RAW_GENERATED_TOKENS:
            break
    generate_seconds = time.perf_counter() - started
    llama.close()

    return {
        "name": name, "questions": len(cases), "load_s": load, "loaded_rss_mb": loaded_rss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "first_piece_s": first_piece, "total_s": total, "used": used, "unrepaired": unrepaired,
        "expected": expected, "load_average": os.getloadavg()[1],
        "prompt_tok_s": len(tokens) / prompt_seconds, "generate_tok_s": generated / generate_seconds,
        "context": assistant.settings.local_context_tokens,
    }


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "an unknown CPU"


def report(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "# Local models side by side",
        "",
        f"`python evals/bench_models.py --questions {args.questions} --threads {args.threads}` "
        f"on {cpu_name()}, {len(os.sched_getaffinity(0))} cores, "
        f"llama-cpp-python {metadata.version('llama-cpp-python')}, context "
        f"{rows[0]['context'] if rows else '?'} tokens. Latency is per question through "
        "`Assistant.stream` (retrieval, prompt, generation, verification); first piece = the "
        "first streamed text. 'used' = the answer is the model's (possibly repaired by "
        "verification), not the extractive fallback; 'unrepaired' = it passed verification as "
        "written; 'expected' = the text holds an accepted answer (a crude check on few questions; the "
        "eval suite is the real measure). Raw speed: llama.cpp alone, a "
        f"{RAW_PROMPT_TOKENS}-token prompt and {RAW_GENERATED_TOKENS} generated tokens. Load = the "
        "machine's 5-minute load average during the run (other processes share the CPU).",
        "",
        "| model | load s | first piece p50 / p95 s | total p50 / p95 s | used | unrepaired "
        "| expected | prompt tok/s | generate tok/s | RSS after load MB | peak RSS MB | load |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        n = r["questions"]
        lines.append(
            f"| {r['name']} | {r['load_s']:.1f} "
            f"| {statistics.median(r['first_piece_s']):.1f} / {percentile(r['first_piece_s'], .95):.1f} "
            f"| {statistics.median(r['total_s']):.1f} / {percentile(r['total_s'], .95):.1f} "
            f"| {r['used']}/{n} | {r['unrepaired']}/{n} | {r['expected']}/{n} "
            f"| {r['prompt_tok_s']:.0f} | {r['generate_tok_s']:.1f} | {r['loaded_rss_mb']:.0f} "
            f"| {r['peak_rss_mb']:.0f} | {r['load_average']:.1f} |"
        )
    lines += ["", "| model | GGUF | install MB | license | sha256 |", "| --- | --- | ---: | --- | --- |"]
    for r in rows:
        model = CATALOGUE[r["name"]]
        lines.append(f"| {model.name} | {model.title} | {install_bytes(model) / 1e6:.0f} "
                     f"| {model.license.split(' (')[0]} | `{model.sha256}` |")
    skipped = [name for name in args.models if name not in {r["name"] for r in rows}]
    if skipped:
        lines += ["", "Not installed, so not measured: " + ", ".join(skipped) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(CATALOGUE), default=list(CATALOGUE))
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0 = all cores)")
    parser.add_argument("--out", type=Path, default=HERE / "reports" / "models.md")
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(measure(args.child, args.data_dir, args.questions, args.threads)))
        return

    from qa import Assistant
    from qa.backends.model_files import model_path
    from qa.settings import load_settings

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="qa-bench-models-"))
    Assistant(data_dir=data_dir)  # the seed index, once for every model
    rows = []
    for name in args.models:
        model = CATALOGUE[name]
        if not installed(model):
            print(f"{name}: not installed (pip install -e '.[{model.extra}]'), skipped", file=sys.stderr)
            continue
        started = time.perf_counter()
        model_path(name, load_settings().models_dir)  # join and verify outside the timed load
        print(f"{name}: file ready in {time.perf_counter() - started:.1f} s; measuring…", file=sys.stderr)
        result = subprocess.run(
            [sys.executable, __file__, "--child", name, "--data-dir", str(data_dir),
             "--questions", str(args.questions), "--threads", str(args.threads)],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            print(f"{name}: failed\n{result.stderr[-3000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr)
    text = report(rows, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
