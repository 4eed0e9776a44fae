"""The local models side by side on this machine, through the real qa pipeline.

    python evals/bench_models.py [--models NAME ...] [--questions 8] [--threads N]
        [--split dev] [--variant NAME:SETTING=VALUE,... ...] [--out evals/reports/models.md]

Every catalogue model whose packages are installed runs in a fresh process of its own, so its
load time and memory are its own: ``Assistant(backend="local", local_model=NAME)`` over one seed
index, then N answerable questions of one split of questions.jsonl (dev by default: the test
split is for final checks), each streamed (time to the first streamed piece, and to the
verified Answer, with the process's CPU time). Each ``--variant`` (settings overrides, e.g.
``before:local_passages=5``) asks the same questions in the same process, interleaved so that
no two consecutive prompts are for the same question (llama.cpp reuses the cached prefix of the
previous prompt: only the shared system prompt may be reused, as in real use). Then the raw
speed of llama.cpp on this CPU: a 600-token prompt from a seed article, and 64 generated tokens.
Prints a Markdown report and writes it to --out.
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

from evals.machine import cpu_name  # noqa: E402
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


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``"before:local_passages=5,max_answer_tokens=200"`` → ``("before", {...})``."""
    name, _, assignments = text.partition(":")
    overrides = dict(a.split("=", 1) for a in assignments.split(",") if a)
    return name, overrides


def measure(name: str, data_dir: Path, questions: int, threads: int, split: str,
            variants: list[tuple[str, dict[str, str]]]) -> list[dict]:
    """Run in the child process: load one model, ask the questions under every variant, time
    the raw speed."""
    import llama_cpp

    from evals.metrics import contains_answer
    from qa import Answer, Assistant
    from qa.backends.model_files import model_path
    from qa.settings import load_settings

    base = Assistant(data_dir=data_dir, local_threads=threads)  # the index and the embedder
    before = rss_mb()
    started = time.perf_counter()
    assistants = {label: base.using(backend="local", local_model=name, **overrides)
                  for label, overrides in variants}
    load = time.perf_counter() - started
    loaded_rss = rss_mb() - before

    cases = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    cases = [c for c in cases if c["answerable"] and not c["history"]
             and (split == "all" or c["split"] == split)]
    # Spread over the file, whose questions come grouped by category.
    cases = [cases[len(cases) * n // min(questions, len(cases))]
             for n in range(min(questions, len(cases)))]
    results = {label: {"first_piece_s": [], "first_piece_cpu_s": [], "total_s": [], "cpu_s": [],
                       "used": 0, "unrepaired": 0, "expected": 0, "correct_raw": 0, "kept": 0,
                       "answers": []}
               for label, _ in variants}
    # Round r asks question r + v * N / V under variant v (of V, N questions): each variant
    # asks every question, and no prompt follows one for the same question, whose passages
    # llama.cpp would still hold in its prefix cache (in real use only the system prompt is).
    labels = [label for label, _ in variants]
    stride = max(1, len(cases) // len(labels))
    for round_ in range(len(cases)):
        for shift, label in enumerate(labels):
            case = cases[(round_ + shift * stride) % len(cases)]
            result = results[label]
            started, cpu_started = time.perf_counter(), time.process_time()
            first, first_cpu, pieces = None, None, []
            for item in assistants[label].stream(case["question"]):
                if isinstance(item, str):
                    if first is None:
                        first = time.perf_counter() - started
                        first_cpu = time.process_time() - cpu_started
                    pieces.append(item)
            answer: Answer = item
            result["total_s"].append(time.perf_counter() - started)
            result["cpu_s"].append(time.process_time() - cpu_started)
            result["first_piece_s"].append(first if first is not None else result["total_s"][-1])
            result["first_piece_cpu_s"].append(first_cpu if first_cpu is not None
                                               else result["cpu_s"][-1])
            generated = "".join(pieces)
            right = bool(contains_answer(answer.text, case["answers"]).value)
            raw_right = bool(contains_answer(generated, case["answers"]).value)
            result["used"] += answer.backend == "local"
            result["unrepaired"] += answer.backend == "local" and not answer.repaired
            result["expected"] += right
            result["correct_raw"] += raw_right
            # The verifier's keep rate (as evals/bench_verifier.py): a right raw answer that
            # reaches the user as the model's, still right.
            result["kept"] += raw_right and answer.backend == "local" and right
            result["answers"].append({"id": case["id"], "generated": generated,
                                      "answer": answer.text, "backend": answer.backend})
            print(f"{label} {case['id']}: first {result['first_piece_s'][-1]:.1f} s (cpu "
                  f"{result['first_piece_cpu_s'][-1]:.1f} s), total "
                  f"{result['total_s'][-1]:.1f} s, cpu {result['cpu_s'][-1]:.1f} s, "
                  f"{answer.backend}, right={right}: {generated!r}", file=sys.stderr, flush=True)

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
    generated_tokens = 0
    for _ in llama.generate([], temp=0.0, reset=False):
        generated_tokens += 1
        if generated_tokens == RAW_GENERATED_TOKENS:
            break
    generate_seconds = time.perf_counter() - started
    llama.close()

    shared = {
        "name": name, "questions": len(cases), "load_s": load, "loaded_rss_mb": loaded_rss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average": os.getloadavg()[1], "prompt_tok_s": len(tokens) / prompt_seconds,
        "generate_tok_s": generated_tokens / generate_seconds,
        "context": next(iter(assistants.values())).settings.local_context_tokens,
    }
    return [{**shared, "variant": label, "overrides": overrides, **results[label]}
            for label, overrides in variants]


def report(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        "# Local models side by side",
        "",
        f"`python evals/bench_models.py --questions {args.questions} --threads {args.threads} "
        f"--split {args.split}"
        + "".join(f" --variant {v}" for v in args.variant) + "` "
        f"on {cpu_name()}, {len(os.sched_getaffinity(0))} cores, "
        f"llama-cpp-python {metadata.version('llama-cpp-python')}, context "
        f"{rows[0]['context'] if rows else '?'} tokens. Latency is per question through "
        "`Assistant.stream` (retrieval, prompt, generation, verification); first piece = the "
        "first streamed text. 'used' = the answer is the model's (possibly repaired by "
        "verification), not the extractive fallback; 'unrepaired' = it passed verification as "
        "written; 'expected' = the text holds an accepted answer (a crude check on few questions; the "
        "eval suite is the real measure); 'kept' = of the raw answers holding an accepted answer, "
        "those that reach the user as the model's, still holding it (the verifier's keep rate). "
        "CPU = the process's CPU time per question (the machine is shared: wall times vary with "
        "other load, CPU time less). Raw speed: llama.cpp alone, a "
        f"{RAW_PROMPT_TOKENS}-token prompt and {RAW_GENERATED_TOKENS} generated tokens. Load = the "
        "machine's 5-minute load average during the run (other processes share the CPU).",
        "",
        "| model | variant | load s | first piece p50 / p95 s | its CPU p50 / p95 s "
        "| total p50 / p95 s | CPU p50 / p95 s "
        "| used | unrepaired | expected | kept | prompt tok/s | generate tok/s | RSS after load MB "
        "| peak RSS MB | load |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | ---: |",
    ]
    for r in rows:
        n = r["questions"]
        lines.append(
            f"| {r['name']} | {r['variant']} | {r['load_s']:.1f} "
            f"| {statistics.median(r['first_piece_s']):.1f} / {percentile(r['first_piece_s'], .95):.1f} "
            f"| {statistics.median(r['first_piece_cpu_s']):.1f} / "
            f"{percentile(r['first_piece_cpu_s'], .95):.1f} "
            f"| {statistics.median(r['total_s']):.1f} / {percentile(r['total_s'], .95):.1f} "
            f"| {statistics.median(r['cpu_s']):.1f} / {percentile(r['cpu_s'], .95):.1f} "
            f"| {r['used']}/{n} | {r['unrepaired']}/{n} | {r['expected']}/{n} "
            f"| {r['kept']}/{r['correct_raw']} "
            f"| {r['prompt_tok_s']:.0f} | {r['generate_tok_s']:.1f} | {r['loaded_rss_mb']:.0f} "
            f"| {r['peak_rss_mb']:.0f} | {r['load_average']:.1f} |"
        )
    lines += ["", "| model | GGUF | install MB | license | sha256 |", "| --- | --- | ---: | --- | --- |"]
    for r in {r["name"]: r for r in rows}.values():
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
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev",
                        help="questions of this split (test: final checks only)")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME:SETTING=VALUE,... settings overrides, asked side by side "
                        "(default: one variant, the current settings)")
    parser.add_argument("--out", type=Path, default=HERE / "reports" / "models.md")
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        variants = [parse_variant(v) for v in args.variant] or [("current", {})]
        print(json.dumps(measure(args.child, args.data_dir, args.questions, args.threads,
                                 args.split, variants)))
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
             "--questions", str(args.questions), "--threads", str(args.threads),
             "--split", args.split, *(f"--variant={v}" for v in args.variant)],
            stdout=subprocess.PIPE, text=True, check=False,
        )
        if result.returncode != 0:
            print(f"{name}: failed (its stderr is above)", file=sys.stderr)
            continue
        rows += json.loads(result.stdout.strip().splitlines()[-1])
    text = report(rows, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
