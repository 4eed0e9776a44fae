"""Fuzz the HTTP API of a real ``qa serve``: ``python evals/fuzz_api.py [--examples N] [--seed S]``.

Two generators, both bounded by ``--examples`` (per operation, per pass):
1. **schemathesis** reads the server's OpenAPI document (``/v1/openapi.json``) and sends what it
   derives from it (examples, boundary values, random valid and invalid requests) with all its
   checks (no 5xx, status codes and content types as documented, invalid data rejected, auth
   not ignored).
2. **hypothesis, from the request models** (``qa.api.ChatCompletionRequest``): bodies that are
   nearly right, with the real model names, wrong types, odd roles and content parts, lone
   surrogates and NULs, invalid JSON and wrong or missing bearer tokens.

Every response of both passes is checked for: no 500 (a 502/503 only as the documented
"backend unavailable / not configured" error), no stack trace or source path in the body, the
OpenAI error shape on every error, a streamed answer ending in ``data: [DONE]``, and the
server's token never echoed; the server's own log is checked for tracebacks. The report (inputs
tried, statuses, findings) is printed and written to ``evals/reports/fuzz_api.md``. Exit 1 when
anything was found.

The server runs with the extractive backend on a copy of the seed index, QA_API_TOKEN set, the
local model pointed at a missing file (so ``qa-local`` is the 503 it documents, and no model is
loaded) and no OpenAI server (so ``qa-openai`` is that 503 too).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``evals`` and ``tests`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["FuzzReport", "Finding", "check_response", "fuzz", "main"]

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = EVALS_DIR / "reports" / "fuzz_api.md"
TOKEN = "fuzz-token-3b8e1f0c"  # a value no response or log line may contain
# Also inside a JSON string, where the quotes are escaped (File \"/x/qa/api.py\", line 3).
STACK_TRACE = re.compile(r'Traceback \(most recent call last\)|File \\?"[^"\\]+\\?", line \d+|'
                         r'site-packages/|\.py\\?", line')
DESIGNED_5XX = {502: "backend_unavailable", 503: "backend_not_configured"}


@dataclass
class Finding:
    """A response that breaks a rule, with the request that caused it."""

    source: str
    request: str
    status: int
    problem: str

    def line(self) -> str:
        return f"[{self.source}] {self.problem} (HTTP {self.status}) for {self.request[:300]}"


@dataclass
class FuzzReport:
    """What was sent and what was found."""

    inputs: Counter = field(default_factory=Counter)  # by pass
    statuses: Counter = field(default_factory=Counter)  # by "pass status"
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.inputs.values())

    def markdown(self, examples: int, seed: int) -> str:
        rows = [f"| {key} | {count} |" for key, count in sorted(self.statuses.items())]
        found = [f"- {f.line()}" for f in self.findings] or ["none"]
        return "\n".join([
            "# API fuzz", "",
            f"`python evals/fuzz_api.py --examples {examples} --seed {seed}`: "
            f"{self.total} requests in {self.seconds:.0f} s "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(self.inputs.items()))}).", "",
            "| pass, HTTP status | responses |", "| --- | --- |", *rows, "",
            f"## Findings ({len(self.findings)})", "", *found, "",
        ])


def check_response(status: int, content_type: str, body: bytes,
                   secrets: tuple[str, ...] = (TOKEN,), whole_stream: bool = True) -> list[str]:
    """The rules every API response must keep; the broken ones, as text (empty: all kept).
    ``whole_stream``: the body of a streamed answer is all of it (schemathesis records only
    the start of a stream)."""
    problems = []
    text = body.decode("utf-8", errors="replace")
    if status >= 500 and status not in DESIGNED_5XX:
        problems.append(f"server error {status}")
    if STACK_TRACE.search(text):
        problems.append("a stack trace or source path in the response")
    for secret in secrets:
        if secret and secret in text:
            problems.append("a secret echoed in the response")
    if status >= 400:
        try:
            error = json.loads(text)["error"]
            if not isinstance(error.get("message"), str) or not error["message"]:
                raise KeyError("message")
            if status in DESIGNED_5XX and error.get("code") != DESIGNED_5XX[status]:
                problems.append(f"HTTP {status} with code {error.get('code')!r}")
        except (ValueError, KeyError, TypeError, AttributeError):
            problems.append("an error that is not OpenAI-style JSON {'error': {'message': ...}}")
        if not content_type.startswith("application/json"):
            problems.append(f"an error sent as {content_type or 'no content type'}")
    elif status == 200 and content_type.startswith("text/event-stream") and whole_stream:
        if not text.rstrip().endswith("data: [DONE]"):
            problems.append("a stream that does not end with data: [DONE]")
    return problems


# --- pass 1: schemathesis, from the OpenAPI document ------------------------------------------
def run_schemathesis(base_url: str, work: Path, examples: int, seed: int,
                     report: FuzzReport) -> None:
    """``schemathesis run`` with every check, then our rules over every recorded response."""
    har = work / "schemathesis.har"
    junit = work / "schemathesis.xml"
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/v1/openapi.json",
               "--checks", "all", "--max-examples", str(examples), "--seed", str(seed),
               "--workers", "1", "--request-timeout", "60", "--no-color",
               "--header", f"Authorization: Bearer {TOKEN}",
               "--report", "har,junit", "--report-har-path", str(har),
               "--report-junit-path", str(junit)]
    log = work / "schemathesis.log"
    config = work / "schemathesis.toml"
    # A request the schema allows may still be refused with 400 when it cannot be answered
    # (the last message is not the user's, the question is empty): JSON Schema cannot say that.
    config.write_text('[checks.positive_data_acceptance]\n'
                      'expected-statuses = ["2xx", "400", "401", "404", "502", "503"]\n',
                      encoding="utf-8")
    command[3:3] = ["--config-file", str(config)]  # an option of schemathesis, before "run"
    with open(log, "w", encoding="utf-8") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=3600,
                       env={**_environment(), "SCHEMATHESIS_HOOKS": ""})
    if not har.exists():
        report.findings.append(Finding("schemathesis", " ".join(command[3:5]), 0,
                                       f"schemathesis did not run: {log.read_text()[-500:]}"))
        return
    for entry in json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]:
        request, response = entry["request"], entry["response"]
        status = int(response.get("status") or 0)
        body = (response.get("content") or {}).get("text") or ""
        content_type = (response.get("content") or {}).get("mimeType") or ""
        sent = f"{request['method']} {request['url']} {(request.get('postData') or {}).get('text', '')}"
        report.inputs["schemathesis"] += 1
        report.statuses[f"schemathesis {status}"] += 1
        for problem in check_response(status, content_type, body.encode(), whole_stream=False):
            report.findings.append(Finding("schemathesis", sent, status, problem))
    for problem in _junit_failures(junit):
        report.findings.append(Finding("schemathesis check", problem[0], 0, problem[1]))


def _junit_failures(junit: Path) -> list[tuple[str, str]]:
    import xml.etree.ElementTree as ElementTree

    if not junit.exists():
        return []
    failures = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        for problem in list(case.findall("failure")) + list(case.findall("error")):
            message = (problem.get("message") or problem.text or "").strip()
            failures.append((case.get("name", ""), message[:600]))
    return failures


# --- pass 2: hypothesis, from the request models ------------------------------------------------
def request_strategy():
    """Requests (headers, raw body) shaped like ``ChatCompletionRequest``, right and wrong."""
    from hypothesis import strategies as st

    from qa.api import MODELS

    words = st.text(max_size=80)
    tricky = st.sampled_from(["", " ", "\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "[1]",
                              "<script>alert(1)</script>", "x" * 3000, "date 2020-01-01\n",
                              "When did Blinken host the ministers at Blair House?"])
    text = st.one_of(words, tricky, st.builds(lambda a, b: a + b, words, tricky))
    json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | text,
                              lambda inner: st.lists(inner, max_size=3)
                              | st.dictionaries(words, inner, max_size=3), max_leaves=8)
    part = st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "input_audio"])
                                  | words}, optional={"text": text | json_value})
    message = st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "developer", "tool"]) | words},
        optional={"content": text | st.lists(part | json_value, max_size=3) | json_value,
                  "name": words})
    messages = st.lists(message, min_size=1, max_size=4).map(
        lambda ms: ms[:-1] + [{**ms[-1], "role": "user"}]) | st.lists(message, max_size=3) | json_value
    body = st.fixed_dictionaries(
        {"model": st.sampled_from(list(MODELS)) | text | json_value, "messages": messages},
        optional={"stream": st.booleans() | json_value,
                  "top_k": st.integers(-3, 60) | st.none() | json_value,
                  "temperature": json_value, "max_tokens": json_value})
    # Most requests can be answered, so that the answer path is fuzzed too: a real model
    # name, a conversation ending with the user's question, odd text in every message.
    asked = st.builds(lambda start, end: start + end, st.sampled_from(
        ["When did Blinken host the ministers at Blair House? ", "Who is Ned Price? ",
         "What did Jake Sullivan say about the talks? ", "Where were they held? "]), text)
    said = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]),
                                  "content": text})
    question = st.fixed_dictionaries({"role": st.just("user"), "content": asked | st.lists(
        st.fixed_dictionaries({"type": st.just("text"), "text": asked}), min_size=1, max_size=2)})
    answerable = st.fixed_dictionaries(
        {"model": st.sampled_from(["qa", "qa-extractive", "qa", "qa-local", "qa-openai"]),
         "messages": st.builds(lambda earlier, last: earlier + [last],
                               st.lists(said, max_size=3), question)},
        optional={"stream": st.booleans(), "top_k": st.integers(1, 50) | st.none(),
                  "temperature": st.floats(0, 2), "user": words})
    dump = json.dumps  # keeps a lone surrogate as \\ud800, which the server must decode
    answerable_body = answerable.map(lambda b: dump(b).encode())
    encoded = st.one_of(
        answerable_body, answerable_body, answerable_body,  # one_of picks a branch evenly
        st.one_of(body.map(lambda b: dump(b).encode()),
                  json_value.map(lambda v: dump(v).encode()),
                  st.binary(max_size=200),
                  body.map(lambda b: dump(b).encode()[: len(dump(b)) // 2])),
    )
    # What HTTP allows in a header value: visible Latin-1, inner spaces, nothing at the ends.
    header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                        blacklist_characters="\x7f" + "".join(
                                            chr(c) for c in range(0x80, 0xA0))),
                          max_size=40).map(str.strip)
    authorization = st.one_of(  # the right token two times in three
        st.just(f"Bearer {TOKEN}"), st.just(f"Bearer {TOKEN}"),
        st.one_of(st.just(f"bearer  {TOKEN}"), st.just(None), st.just(f"Basic {TOKEN}"),
                  st.just(f"Bearer {TOKEN}x"), header_text.map(lambda t: f"Bearer {t}".strip()),
                  header_text))
    return st.tuples(authorization, encoded)


def run_model_fuzz(base_url: str, examples: int, seed: int, report: FuzzReport) -> None:
    """POST ``examples`` generated requests to /v1/chat/completions and check each response."""
    import httpx
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    # A new connection per request: reusing one the server has just closed as idle (uvicorn
    # keeps one 5 s) fails with "connection reset", a race of the client, not a finding.
    client = httpx.Client(base_url=base_url, timeout=120,
                          limits=httpx.Limits(max_keepalive_connections=0))

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(request_strategy())
    def send(request) -> None:
        authorization, body = request
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization.encode("latin-1")  # as sent on the wire
        try:
            reply = client.post("/v1/chat/completions", content=body, headers=headers)
        except httpx.LocalProtocolError:
            # A header HTTP forbids (leading or trailing blanks): the client will not send it,
            # so no server ever sees it. Counted, not checked.
            report.inputs["hypothesis, not sendable"] += 1
            return
        report.inputs["hypothesis"] += 1
        report.statuses[f"hypothesis {reply.status_code} {_error_code(reply)}".strip()] += 1
        for problem in check_response(reply.status_code, reply.headers.get("content-type", ""),
                                      reply.content):
            report.findings.append(Finding("hypothesis", f"auth={authorization!r} body={body!r}",
                                           reply.status_code, problem))

    try:
        send()
    finally:
        client.close()


def _error_code(reply) -> str:
    try:
        return str(reply.json()["error"]["code"] or "")
    except (ValueError, KeyError, TypeError):
        return ""


# --- the run --------------------------------------------------------------------------------
def _environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}


def fuzz(data_dir: Path, work: Path, examples: int = 100, seed: int = 0,
         passes: tuple[str, ...] = ("schemathesis", "hypothesis")) -> FuzzReport:
    """Start ``qa serve`` over ``data_dir`` and fuzz it; the report of what was found."""
    from tests.browser.qa_server import running_server

    report = FuzzReport()
    started = time.monotonic()
    env = {"QA_API_TOKEN": TOKEN, "QA_BACKEND": "extractive",
           "QA_LOCAL_MODEL_PATH": str(work / "no-such-model.gguf"), "QA_MAX_RETRIES": "0",
           "QA_REQUEST_TIMEOUT": "5"}
    with running_server(data_dir, work / "serve", env=env) as server:
        if "schemathesis" in passes:
            run_schemathesis(server.url, work, examples, seed, report)
        if "hypothesis" in passes:
            run_model_fuzz(server.url, examples, seed, report)
        log = server.log()
    for problem, pattern in (("a traceback in the server log", STACK_TRACE),
                             ("the token in the server log", re.compile(re.escape(TOKEN)))):
        if pattern.search(log):
            excerpt = log[max(0, pattern.search(log).start() - 200):][:1500]
            report.findings.append(Finding("server log", excerpt, 0, problem))
    if server.outside_connections():
        report.findings.append(Finding("server", str(server.outside_connections()), 0,
                                       "the server tried to reach the network"))
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100,
                        help="requests per operation (schemathesis) and in all (hypothesis)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pass", dest="passes", action="append",
                        choices=["schemathesis", "hypothesis"], help="run only this pass")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from qa.assistant import Assistant

    with tempfile.TemporaryDirectory(prefix="qa-fuzz-") as temporary:
        work = Path(temporary)
        Assistant(data_dir=work / "qa-data")  # the seed index
        report = fuzz(work / "qa-data", work, args.examples, args.seed,
                      tuple(args.passes or ("schemathesis", "hypothesis")))
    text = report.markdown(args.examples, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
