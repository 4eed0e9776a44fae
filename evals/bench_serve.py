"""One ``qa serve`` process under load: questions per second at 1, 4 and 16 concurrent clients.

    nice -n 19 python evals/bench_serve.py [--clients 1 4 16] [--requests 48] [--seconds 120]
        [--out evals/reports/bench_serve.json]

Starts ``qa serve`` (extractive backend, seed index) on a free loopback port, then for each
concurrency sends the eval questions round-robin through the OpenAI-compatible API
(``POST /v1/chat/completions`` with the ``openai`` client), each client one request at a time.
Every level is bounded in count (``--requests``) and time (``--seconds``); the server is
stopped at the end. Latency is per request, as a client sees it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _questions() -> list[str]:
    cases = [json.loads(line) for line in (REPO / "evals" / "questions.jsonl").read_text().splitlines()
             if line.strip()]
    return [c["question"] for c in cases if not c["history"]]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(url: str, clients: int, requests: int, seconds: float, questions: list[str]) -> dict:
    from openai import OpenAI

    client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    next_request = iter(range(requests))
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        while time.perf_counter() < deadline:
            with lock:
                number = next(next_request, None)
            if number is None:
                return
            started = time.perf_counter()
            try:
                client.chat.completions.create(model="qa", messages=[
                    {"role": "user", "content": questions[number % len(questions)]}])
            except Exception as error:  # counted and reported, the run goes on
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"clients": clients, "answered": len(latencies), "errors": len(errors),
            "first_error": errors[0] if errors else None, "seconds": elapsed,
            "questions_per_s": len(latencies) / elapsed,
            "p50_s": statistics.median(ordered) if ordered else None,
            "p95_s": ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
            if ordered else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=48, help="requests per concurrency level")
    parser.add_argument("--seconds", type=float, default=120, help="time limit per level")
    parser.add_argument("--start-timeout", type=float, default=600,
                        help="seconds qa serve may take to start (building the seed index)")
    parser.add_argument("--out", type=Path, default=REPO / "evals" / "reports" / "bench_serve.json")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="qa-serve-bench-"))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "QA_DATA_DIR": str(data_dir),
           "QA_BACKEND": "extractive", "HF_HUB_OFFLINE": "1"}
    log = open(data_dir / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + args.start_timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"qa serve exited with {server.poll()} (or did not start in "
                                     f"time): {(data_dir / 'server.log').read_text()[-2000:]}") from None
                time.sleep(0.5)
        questions = _questions()
        _load(f"{base}/v1", 1, 3, 60, questions)  # warm-up: models loaded, caches filled
        results = []
        for clients in args.clients:
            cpu = _cpu_seconds(server.pid)
            result = _load(f"{base}/v1", clients, args.requests, args.seconds, questions)
            # CPU seconds the server spent per answer: on a shared machine, steadier than wall time
            result["server_cpu_per_question"] = (_cpu_seconds(server.pid) - cpu) / max(
                result["answered"], 1)
            results.append(result)
            print(f"{clients:>2} clients: {result['answered']} answered, {result['errors']} errors, "
                  f"{result['questions_per_s']:.2f} questions/s, p50 {result['p50_s']:.2f} s, "
                  f"p95 {result['p95_s']:.2f} s, "
                  f"server CPU {result['server_cpu_per_question']:.3f} s/question",
                  flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"load_average": os.getloadavg(), "levels": results}, indent=1))


if __name__ == "__main__":
    main()
