"""Faults of the model server behind the ``openai`` backend, for real: a ``llama_cpp.server``
process killed (SIGKILL) or frozen (SIGSTOP) in the middle of a streamed answer, and a server
that accepts connections and never answers. Seen from the Python API, the CLI, the HTTP API and
the chat app: the user gets a clear message, the conversation goes on, and a fallback answer
says that it is one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from qa import Answer, AnswerInterruptedError, Assistant, BackendUnavailableError

from .browser.qa_server import running_server
from .conftest import free_port, running_llama_server
from .model_server_relay import KillingRelay
from .test_answering import BLAIR_HOUSE, assert_citations_are_verbatim

# The passages mention Baku, so a model is asked; no sentence states a population, so there is
# no extractive answer to fall back on.
NOTHING_QUOTABLE = "What is the population of Baku?"
UNANSWERABLE = "What is the capital of Peru?"


def _openai(data_dir, url: str, **settings) -> Assistant:
    return Assistant(data_dir=data_dir, backend="openai", openai_base_url=url,
                     openai_model="smollm2", max_retries=0, **settings)


def _stream_and_signal(assistant_or_chat, question: str, process: subprocess.Popen,
                       sig: signal.Signals, sent: dict | None = None) -> tuple[list[str], Answer]:
    """Stream an answer and send ``sig`` to the model server as its first words arrive
    (``sent["at"]`` is then the monotonic time it was sent)."""
    pieces: list[str] = []
    for item in assistant_or_chat.stream(question):
        if isinstance(item, Answer):
            return pieces, item
        if not pieces:
            process.send_signal(sig)
            if sent is not None:
                sent["at"] = time.monotonic()
        pieces.append(item)
    raise AssertionError("the stream ended without an Answer")


@contextmanager
def _silent_server() -> Iterator[str]:
    """A real loopback server that accepts connections and never answers them."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        listener.close()


# --- killed in the middle of an answer ----------------------------------------------------------
@pytest.mark.slow
def test_a_server_killed_mid_answer_gives_the_extractive_answer_saying_so(seed_index_dir,
                                                                          tmp_path):
    port = free_port()
    with running_llama_server(tmp_path / "llama", port) as (url, process):
        chat = _openai(seed_index_dir, url).chat()
        pieces, answer = _stream_and_signal(chat, BLAIR_HOUSE, process, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    assert pieces, "the model had begun its answer"
    assert answer.warning and "stopped in the middle of its answer" in answer.warning
    assert "extractive answer instead" in answer.warning and url in answer.warning
    assert answer.backend == "extractive" and answer.repaired and not answer.abstained
    assert "November 7" in answer.text
    assert_citations_are_verbatim(answer)
    assert answer.to_dict()["warning"] == answer.warning

    # The conversation goes on: with the server down, a clear error; once it is back (same
    # address), the same chat answers the follow-up with the model.
    with pytest.raises(BackendUnavailableError, match="cannot reach the model server"):
        chat.ask("Where were they held?")
    with running_llama_server(tmp_path / "llama", port):
        follow_up = chat.ask("Where were they held?")
    assert follow_up.warning is None and not follow_up.abstained
    assert any("Blair House" in c.quote for c in follow_up.citations)
    assert [turn.question for turn in chat.history] == [BLAIR_HOUSE, "Where were they held?"]


@pytest.mark.slow
def test_a_server_killed_mid_answer_with_nothing_to_quote_is_a_clear_error(seed_index_dir,
                                                                           tmp_path):
    with running_llama_server(tmp_path / "llama") as (url, process):
        assistant = _openai(seed_index_dir, url)
        with pytest.raises(AnswerInterruptedError, match="stopped in the middle of its answer"):
            _stream_and_signal(assistant, NOTHING_QUOTABLE, process, signal.SIGKILL)
    # Questions that need no model are still answered.
    assert assistant.ask(UNANSWERABLE).abstained


@pytest.mark.slow
def test_a_server_frozen_mid_answer_is_given_up_after_the_timeout(seed_index_dir, tmp_path):
    """SIGSTOP: the connection stays open and nothing more comes; the read timeout ends it."""
    timeout = 15  # above the time SmolLM2 takes to read the prompt on a busy 2-core machine
    with running_llama_server(tmp_path / "llama") as (url, process):
        try:
            assistant = _openai(seed_index_dir, url, request_timeout=timeout)
            stopped: dict = {}
            _, answer = _stream_and_signal(assistant, BLAIR_HOUSE, process, signal.SIGSTOP,
                                           stopped)
            waited = time.monotonic() - stopped["at"]
        finally:
            process.send_signal(signal.SIGCONT)
    assert answer.warning and f"went silent in the middle of its answer for over {timeout} s" \
        in answer.warning and "QA_REQUEST_TIMEOUT" in answer.warning
    assert "November 7" in answer.text and answer.backend == "extractive"
    assert timeout <= waited < 2 * timeout  # given up once, not retried


@pytest.mark.slow
def test_http_api_and_chat_app_when_the_server_dies_mid_answer(data_dir, tmp_path):
    """``qa serve`` reads a model server that is killed half-way through its answer: the API
    returns the fallback answer with a ``warning``, the chat app shows it, and both go on."""
    from gradio_client import Client

    llama_port = free_port()
    with running_llama_server(tmp_path / "llama", llama_port) as (_, process):
        relay = KillingRelay(llama_port, process)
        env = {"QA_OPENAI_BASE_URL": relay.url, "QA_OPENAI_MODEL": "smollm2",
               "QA_MAX_RETRIES": "0", "QA_BACKEND": "openai"}
        try:
            with running_server(data_dir, tmp_path / "serve", env=env) as server:
                body = {"model": "qa", "stream": True,
                        "messages": [{"role": "user", "content": BLAIR_HOUSE}]}
                with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=body,
                                  timeout=120) as reply:
                    assert reply.status_code == 200
                    events = [line for line in reply.iter_lines() if line.startswith("data: ")]
                assert relay.killed.is_set()
                chunks = [json.loads(event[len("data: "):]) for event in events[:-1]]
                last = chunks[-1]
                text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
                assert events[-1] == "data: [DONE]"
                assert "stopped in the middle of its answer" in last["warning"]
                assert last["backend"] == "extractive" and "November 7" in text
                assert last["citations"]

                # The chat app, against a server restarted at the same address.
                process.wait(timeout=10)
                with running_llama_server(tmp_path / "llama", llama_port) as (_, again):
                    relay.retarget(llama_port, again)
                    gradio = Client(f"{server.url}/", verbose=False, download_files=False)
                    message, _sources = gradio.predict(BLAIR_HOUSE, "openai", 5, "", "",
                                                       api_name="/chat")
                    assert relay.killed.is_set()
                    assert 'class="qa-warning"' in message
                    assert "stopped in the middle of its answer" in message
                    assert "November 7" in message and 'class="qa-marker"' in message
                    again.wait(timeout=10)
                    # The conversation goes on, the model server still dead.
                    body["stream"] = False
                    body["messages"] += [{"role": "assistant", "content": text},
                                         {"role": "user", "content": UNANSWERABLE}]
                    follow_up = httpx.post(f"{server.url}/v1/chat/completions", json=body,
                                           timeout=120)
                    assert follow_up.status_code == 200 and follow_up.json()["abstained"]
                    down = httpx.post(f"{server.url}/v1/chat/completions", timeout=120, json={
                        "model": "qa", "messages": [{"role": "user", "content": NOTHING_QUOTABLE}]})
                    assert down.status_code == 502
                    assert "cannot reach the model server" in down.json()["error"]["message"]
                assert "Traceback" not in server.log()
        finally:
            relay.close()


@pytest.mark.slow
def test_cli_chat_when_the_server_dies_mid_answer(seed_index_dir, tmp_path):
    llama_port = free_port()
    with running_llama_server(tmp_path / "llama", llama_port) as (_, process):
        relay = KillingRelay(llama_port, process)
        try:
            result = subprocess.run(
                [sys.executable, "-m", "qa.cli", "--data-dir", str(seed_index_dir), "chat",
                 "--backend", "openai"],
                input=f"{BLAIR_HOUSE}\n{NOTHING_QUOTABLE}\n{UNANSWERABLE}\n/quit\n",
                capture_output=True, text=True, timeout=300,
                env={**os.environ, "QA_OPENAI_BASE_URL": relay.url, "QA_OPENAI_MODEL": "smollm2",
                     "QA_MAX_RETRIES": "0"})
        finally:
            relay.close()
    assert relay.killed.is_set()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "(The model server at" in result.stdout
    assert "stopped in the middle of its answer" in result.stdout
    assert "This is the extractive answer instead" in result.stdout
    assert "November 7" in result.stdout
    assert "error: cannot reach the model server" in result.stderr  # the next question
    assert "The articles don't say." in result.stdout  # and the one after


# --- a server that never answers ---------------------------------------------------------------
def test_cli_says_the_timeout_of_a_server_that_never_answers(seed_index_dir):
    with _silent_server() as url:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "qa.cli", "--data-dir", str(seed_index_dir), "ask", "--backend",
             "openai", BLAIR_HOUSE],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "QA_OPENAI_BASE_URL": url, "QA_REQUEST_TIMEOUT": "1.5",
                 "QA_MAX_RETRIES": "1"})
        waited = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"qa: error: the model server at {url} did not answer in time")
    assert "within 1.5 s (QA_REQUEST_TIMEOUT), 2 tries (QA_MAX_RETRIES=1)" in lines[0]
    assert waited >= 2 * 1.5  # both tries waited the whole timeout


def test_python_api_says_the_timeout_and_the_tries(seed_index_dir):
    with _silent_server() as url:
        assistant = Assistant(data_dir=seed_index_dir, backend="openai", openai_base_url=url,
                              request_timeout=1, max_retries=0)
        with pytest.raises(BackendUnavailableError, match=r"within 1 s \(QA_REQUEST_TIMEOUT\), "
                                                          r"1 try \(QA_MAX_RETRIES=0\)"):
            assistant.ask(BLAIR_HOUSE)
        # Answers that need no model server are not held up by it.
        assert assistant.ask(UNANSWERABLE).abstained
