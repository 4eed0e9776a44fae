"""Soak test of one ``qa serve``: concurrent clients ask mixed questions through the
OpenAI-compatible API (streamed and not) and the Gradio API while articles are uploaded.

    nice -n 19 python evals/soak.py [--clients 16] [--seconds 120] [--upload-every 8]

It starts ``qa serve`` on a free loopback port over a fresh data directory, lets the clients
run for the given time (requests in flight then finish; each has a timeout), and reports to
stdout and ``evals/reports/soak.{md,json}``: requests served, latency p50/p95 per kind,
errors, the server's resident memory at start, peak and end, and three checks on every answer:

- **verbatim**: each citation's quote is the cited article's text at its span, in a version
  of the article the soak uploaded (or a seed);
- **one index version**: the citations of one answer all existed together in one generation
  of the index (generation g = the library after the g-th upload), and every round number an
  answer about the live article states (text and quotes) is the same;
- **answers**: questions about the live article are answered, not abstained, once it exists.

Each upload adds new articles (real sentences of the seeds, ``evals/generated_articles.py``)
and rewrites one "live" article, whose every sentence names the upload's round, so a reader
that mixed two index versions would cite two rounds. Exit code 1 when a check fails or a
request errs. Only loopback is contacted; the run is bounded by ``--seconds``.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(_HERE.parent))

from evals.generated_articles import write_articles  # noqa: E402
from evals.processes import stop_process  # noqa: E402

QUESTIONS = _HERE / "questions.jsonl"
REPORTS = _HERE / "reports"
KINDS = ("openai", "openai-stream", "gradio-ask", "gradio-chat")
LIVE_ID = "quillon-harbour-log"
LIVE_QUESTION = "How many ships did the harbour master of Quillon count at the east pier?"
_ROUND = re.compile(r"\bround (\d+)\b")
_DATA = re.compile(r'<span class="qa-data">(.*?)</span>', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
REQUEST_TIMEOUT = 180.0


def live_text(round_number: int) -> str:
    """The live article as the ``round_number``-th upload writes it: every sentence names it."""
    ships = 10 + round_number
    return (f"date 2024-03-02\nQuillon harbour log, round {round_number}\n\n"
            f"In round {round_number} of the log, the harbour master of Quillon counted {ships} "
            f"ships at the east pier. The Quillon harbour board met for round {round_number} "
            f"and approved the new breakwater. Ada Fennimore, the harbour master, said round "
            f"{round_number} was the busiest of the season.\n")


# --- what the server was given ------------------------------------------------------------------
class Library:
    """Every version of every article the server was given, by index generation."""

    def __init__(self, seeds_dir: Path) -> None:
        from qa.corpus import find_article_files, read_article

        self._lock = threading.Lock()
        # article id -> [(first generation, last generation or None, body)]
        self._versions: dict[str, list[tuple[int, int | None, str]]] = {}
        self.generation = 0
        for path in find_article_files([seeds_dir]):
            self._versions[path.stem] = [(0, None, read_article(path).body)]

    def uploaded(self, paths: list[Path]) -> None:
        """Record that ``paths`` were added (or replaced) by one successful upload."""
        from qa.corpus import read_article

        with self._lock:
            self.generation += 1
            for path in paths:
                versions = self._versions.setdefault(path.stem, [])
                if versions and versions[-1][1] is None:
                    first, _, body = versions[-1]
                    versions[-1] = (first, self.generation - 1, body)
                versions.append((self.generation, None, read_article(path).body))

    def generations_of(self, citation: dict[str, Any]) -> set[int] | None:
        """The index generations in which this citation's quote was its article's text at its
        span; None when it never was (not verbatim)."""
        with self._lock:
            versions = list(self._versions.get(citation["article_id"], []))
            last = self.generation
        found: set[int] = set()
        start, end, quote = citation["start"], citation["end"], citation["quote"]
        for first, until, body in versions:
            if 0 <= start < end <= len(body) and body[start:end] == quote:
                found.update(range(first, (last if until is None else until) + 1))
        return found or None


# --- the clients ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One request: its kind, how long it took, and what came back."""

    kind: str
    question: str
    seconds: float
    error: str | None = None
    text: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    abstained: bool | None = None
    problems: list[str] = field(default_factory=list)


def _questions() -> list[str]:
    cases = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    return [case["question"] for case in cases if not case["history"]]


class Client:
    """One user: an OpenAI client and a Gradio client, asking in turn by each kind."""

    def __init__(self, url: str, number: int) -> None:
        from gradio_client import Client as GradioClient
        from openai import OpenAI

        self.number = number
        self.openai = OpenAI(base_url=f"{url}/v1", api_key="soak", max_retries=0,
                             timeout=REQUEST_TIMEOUT)
        self.gradio = GradioClient(f"{url}/", verbose=False, download_files=False)

    def ask(self, kind: str, question: str) -> Outcome:
        started = time.monotonic()
        outcome = Outcome(kind, question, 0.0)
        try:
            if kind == "openai":
                reply = self.openai.chat.completions.create(
                    model="qa", messages=[{"role": "user", "content": question}])
                extra = reply.model_extra or {}
                outcome.text = reply.choices[0].message.content or ""
                outcome.citations, outcome.abstained = extra["citations"], extra["abstained"]
            elif kind == "openai-stream":
                stream = self.openai.chat.completions.create(
                    model="qa", messages=[{"role": "user", "content": question}], stream=True)
                pieces, last = [], None
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        pieces.append(chunk.choices[0].delta.content)
                    last = chunk
                extra = (last.model_extra or {}) if last is not None else {}
                if "citations" not in extra:
                    raise RuntimeError("the stream ended without its citations")
                outcome.text = "".join(pieces)
                outcome.citations, outcome.abstained = extra["citations"], extra["abstained"]
            elif kind == "gradio-ask":
                answer = self.gradio.predict(question, api_name="/ask")
                outcome.text, outcome.citations = answer["text"], answer["citations"]
                outcome.abstained = answer["abstained"]
            else:
                message, _sources = self.gradio.predict(question, "extractive", 5, "", "",
                                                        api_name="/chat")
                if "qa-error" in message:
                    raise RuntimeError(html.unescape(_TAG.sub("", message)))
                data = _DATA.search(message)
                if data is None:
                    raise RuntimeError("the chat message carries no citation data")
                outcome.citations = json.loads(html.unescape(data.group(1)))["citations"]
                outcome.text = html.unescape(_TAG.sub(" ", message.split('<span class="qa-data">')[0]))
                outcome.abstained = "qa-abstained" in message
        except Exception as exc:  # a soak counts every failure, whatever its type
            outcome.error = f"{type(exc).__name__}: {str(exc)[:300]}"
        outcome.seconds = time.monotonic() - started
        return outcome


def check(outcome: Outcome, library: Library) -> None:
    """Fill ``outcome.problems``: citations not verbatim, or not from one index version."""
    if outcome.error:
        return
    common: set[int] | None = None
    for citation in outcome.citations:
        generations = library.generations_of(citation)
        if generations is None:
            outcome.problems.append(f"not verbatim: [{citation.get('marker')}] "
                                    f"{citation['article_id']} {citation['start']}-{citation['end']}")
            continue
        common = generations if common is None else common & generations
    if common is not None and not common:
        outcome.problems.append("citations from different index versions: "
                                + ", ".join(c["article_id"] for c in outcome.citations))
    rounds = set(_ROUND.findall(outcome.text))
    for citation in outcome.citations:
        rounds.update(_ROUND.findall(citation["quote"]))
    if len(rounds) > 1:
        outcome.problems.append(f"one answer states rounds {sorted(rounds, key=int)}")


# --- the server -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(data_dir: Path, work_dir: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """``qa serve`` on a free loopback port, offline, until the block ends."""
    port = _free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("QA_", "OPENAI_", "GRADIO_"))}
    env.update({"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                "GRADIO_TEMP_DIR": str(work_dir / "gradio"), "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join([str(_HERE.parent)] + (
                    [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))})
    log = open(work_dir / "qa-serve.log", "w", encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "qa.cli", "--data-dir", str(data_dir),
                                "serve", "--port", str(port)], env=env, cwd=work_dir,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, work_dir / "qa-serve.log")
        yield url, process
    finally:
        stop_process(process)
        log.close()


def wait_until_healthy(url: str, process: subprocess.Popen, log: Path, limit: float = 600) -> None:
    import httpx

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"qa serve did not start in {limit:.0f} s")


def resident_mb(pid: int) -> float:
    """The process's resident memory (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the run --------------------------------------------------------------------------------------
@dataclass
class SoakResult:
    """What a soak measured."""

    clients: int
    seconds: float
    outcomes: list[Outcome]
    uploads: list[dict[str, Any]]
    memory_mb: dict[str, float]
    articles: dict[str, int]
    alone: list[Outcome] = field(default_factory=list)

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error]

    @property
    def failed_checks(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problems]

    @property
    def live_abstentions(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.question == LIVE_QUESTION and o.abstained]

    @property
    def ok(self) -> bool:
        return not (self.errors or self.failed_checks or self.live_abstentions
                    or any(u["error"] for u in self.uploads)
                    or any(o.error or o.problems for o in self.alone))

    def summary(self) -> dict[str, Any]:
        def stats(times: list[float]) -> dict[str, Any]:
            if not times:
                return {"n": 0}
            ordered = sorted(times)
            return {"n": len(times), "p50_s": round(statistics.median(ordered), 3),
                    "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
                    "max_s": round(ordered[-1], 3)}

        served = [o for o in self.outcomes if not o.error]
        alone = stats([o.seconds for o in self.alone if not o.error])
        loaded = stats([o.seconds for o in served])
        return {
            "clients": self.clients, "seconds": round(self.seconds, 1),
            "requests": len(self.outcomes), "served": len(served), "errors": len(self.errors),
            "per_second": round(len(served) / self.seconds, 2) if self.seconds else 0.0,
            "alone": alone,
            "p50_under_load_over_alone": round(loaded["p50_s"] / alone["p50_s"], 1)
            if alone.get("p50_s") and loaded.get("p50_s") else None,
            "served_per_second_alone": round(1 / statistics.mean(
                [o.seconds for o in self.alone if not o.error]), 2) if alone["n"] else None,
            "load_average": os.getloadavg()[0],
            "latency": {"all": loaded,
                        **{kind: stats([o.seconds for o in served if o.kind == kind])
                           for kind in KINDS}},
            "citations_checked": sum(len(o.citations) for o in served),
            "not_verbatim_or_mixed": len(self.failed_checks),
            "live_questions": sum(1 for o in served if o.question == LIVE_QUESTION),
            "live_abstained": len(self.live_abstentions),
            "uploads": len(self.uploads),
            "uploads_failed": sum(1 for u in self.uploads if u["error"]),
            "upload_seconds": stats([u["seconds"] for u in self.uploads if not u["error"]]),
            "memory_mb": self.memory_mb, "articles": self.articles,
            "error_examples": sorted({o.error for o in self.errors})[:10],
            "check_examples": [p for o in self.failed_checks for p in o.problems][:10],
            "ok": self.ok,
        }


def run_soak(url: str, server_pid: int, work_dir: Path, clients: int = 16,
             seconds: float = 120.0, upload_every: float = 8.0, articles_per_upload: int = 4,
             seeds_dir: Path | None = None, baseline: int = 8) -> SoakResult:
    """Run the soak against the ``qa serve`` at ``url`` (process ``server_pid``)."""
    import httpx
    from gradio_client import Client as GradioClient
    from gradio_client import handle_file

    library = Library(seeds_dir or _HERE.parent / "seeds")
    questions = _questions()
    users = [Client(url, n) for n in range(clients)]
    uploader = GradioClient(f"{url}/", verbose=False, download_files=False)
    users[0].ask("openai", questions[0])  # warm up the answer path before memory is read
    # One client alone, just before the load: the yardstick for the latencies under load on a
    # machine whose speed depends on what else runs on it.
    alone = [users[0].ask(KINDS[n % len(KINDS)], questions[(n * 7919) % len(questions)])
             for n in range(baseline)]
    memory = {"start": resident_mb(server_pid)}
    articles_start = httpx.get(f"{url}/health", timeout=30).json()["articles"]
    peak = [memory["start"]]
    outcomes: list[Outcome] = []
    uploads: list[dict[str, Any]] = []
    lock = threading.Lock()
    stop = threading.Event()
    started = time.monotonic()
    deadline = started + seconds

    def user_loop(user: Client) -> None:
        turn = user.number
        while time.monotonic() < deadline:
            kind = KINDS[turn % len(KINDS)]
            # Every fourth question is about the live article, once it exists.
            question = (LIVE_QUESTION if turn % 4 == 3 and library.generation
                        else questions[(turn * 7919) % len(questions)])
            outcome = user.ask(kind, question)
            check(outcome, library)
            with lock:
                outcomes.append(outcome)
            turn += 1

    def upload_loop() -> None:
        round_number = 0
        upload_dir = work_dir / "uploads"
        while time.monotonic() + upload_every < deadline:
            time.sleep(upload_every)
            round_number += 1
            batch_dir = upload_dir / f"round-{round_number:03d}"
            paths = write_articles(batch_dir, articles_per_upload, prefix="soak",
                                   first=round_number * articles_per_upload)
            live = batch_dir / f"{LIVE_ID}.txt"
            live.write_text(live_text(round_number), encoding="utf-8")
            paths.append(live)
            began = time.monotonic()
            error = None
            try:
                status, *_ = uploader.predict([handle_file(str(p)) for p in paths],
                                              api_name="/add_articles")
                if "Added" not in status:
                    error = f"upload refused: {html.unescape(_TAG.sub(' ', status))[:300]}"
            except Exception as exc:  # counted, not raised: the soak goes on
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
            if error is None:
                library.uploaded(paths)
            uploads.append({"round": round_number, "files": len(paths),
                            "seconds": round(time.monotonic() - began, 3), "error": error})

    def memory_loop() -> None:
        while not stop.wait(1.0):
            peak.append(resident_mb(server_pid))

    threads = [threading.Thread(target=user_loop, args=(user,), daemon=True) for user in users]
    threads.append(threading.Thread(target=upload_loop, daemon=True))
    watcher = threading.Thread(target=memory_loop, daemon=True)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 2 * REQUEST_TIMEOUT)
    elapsed = time.monotonic() - started
    stop.set()
    memory["end"] = resident_mb(server_pid)
    memory["peak"] = max(peak + [memory["end"]])
    memory = {name: round(value, 1) for name, value in memory.items()}
    articles_end = httpx.get(f"{url}/health", timeout=30).json()["articles"]
    return SoakResult(clients, elapsed, list(outcomes), uploads, memory,
                      {"start": articles_start, "end": articles_end}, alone)


# --- the report -----------------------------------------------------------------------------------
def markdown(summary: dict[str, Any]) -> str:
    latency = summary["latency"]
    rows = "\n".join(
        f"| {kind} | {s['n']} | {s.get('p50_s', '–')} | {s.get('p95_s', '–')} | {s.get('max_s', '–')} |"
        for kind, s in latency.items())
    memory = summary["memory_mb"]
    return f"""# Soak of one `qa serve`

{summary['clients']} clients for {summary['seconds']} s (extractive backend), while
{summary['uploads']} uploads added articles ({summary['articles']['start']} → {summary['articles']['end']}).

- Requests: {summary['requests']}, served {summary['served']} ({summary['per_second']}/s),
  errors {summary['errors']}
- One client alone, just before: p50 {summary['alone'].get('p50_s', '–')} s,
  {summary['served_per_second_alone']}/s; p50 under load / alone:
  {summary['p50_under_load_over_alone']}× (machine load average at the end:
  {summary['load_average']:.1f} on {os.cpu_count()} cores)
- Citations checked: {summary['citations_checked']}; answers with a citation not verbatim or
  from two index versions: {summary['not_verbatim_or_mixed']}
- Live-article questions: {summary['live_questions']}, abstained {summary['live_abstained']}
- Uploads: {summary['uploads']}, failed {summary['uploads_failed']}, p50
  {summary['upload_seconds'].get('p50_s', '–')} s
- Server resident memory: {memory['start']} MB at start, {memory['peak']} MB peak, {memory['end']} MB at end
- Result: {'**pass**' if summary['ok'] else '**FAIL**'}

| kind | served | p50 s | p95 s | max s |
| --- | ---: | ---: | ---: | ---: |
{rows}

Errors: {summary['error_examples'] or 'none'}

Check failures: {summary['check_examples'] or 'none'}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--upload-every", type=float, default=8.0, help="seconds between uploads")
    parser.add_argument("--articles-per-upload", type=int, default=4)
    parser.add_argument("--report", type=Path, default=REPORTS / "soak")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="qa-soak-") as temporary:
        work = Path(temporary)
        with running_server(work / "qa-data", work) as (url, process):
            result = run_soak(url, process.pid, work, clients=args.clients, seconds=args.seconds,
                              upload_every=args.upload_every,
                              articles_per_upload=args.articles_per_upload)
    summary = result.summary()
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.with_suffix(".json").write_text(json.dumps(
        {"summary": summary, "uploads": result.uploads,
         "failures": [asdict(o) for o in result.outcomes if o.error or o.problems][:50]},
        indent=1), encoding="utf-8")
    report = markdown(summary)
    args.report.with_suffix(".md").write_text(report, encoding="utf-8")
    print(report)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
