"""Keys and tokens never appear in a response, an error message or a log.

``qa serve`` runs as a process with QA_API_TOKEN, OPENAI_API_KEY, a login password and a base
URL carrying ``user:password`` set to known strings, in front of a model server on loopback
that refuses every request and echoes back the key it was sent (as some servers do). The test
then fails authentication every way it can, sends answers through the refusing and an
unreachable model server (API, Gradio API, CLI), and greps every response, every message and
the server's log for the secrets.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.browser.qa_server import free_port, running_server, server_environment

API_TOKEN = "qa-token-SECRET-7c1d5e"
OPENAI_KEY = "sk-SECRET-key-4e9b2a0d"
URL_PASSWORD = "url-SECRET-pw-81f3"
LOGIN_PASSWORD = "login-SECRET-pw-2b6a"
SECRETS = (API_TOKEN, OPENAI_KEY, URL_PASSWORD, LOGIN_PASSWORD)
QUESTION = "On what date did Blinken host the foreign ministers at Blair House?"


class _Refusing(BaseHTTPRequestHandler):
    """``POST /<status>/v1/chat/completions`` → that status, with the request's key in the
    error message, the way a server may say "Incorrect API key provided: sk-..."."""

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = int(self.path.strip("/").split("/")[0])
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        body = json.dumps({"error": {"message": f"Incorrect API key provided: {key} "
                                                f"(from {self.headers.get('Host')})",
                                     "type": "invalid_request_error"}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def refusing_server():
    """The address (``127.0.0.1:PORT``) of a model server that refuses and echoes the key."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def model_url(address: str, status: int) -> str:
    """A base URL carrying the URL password, on the refusing server (that status)."""
    return f"http://reader:{URL_PASSWORD}@{address}/{status}/v1"


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def secret_environment(address: str, status: int = 403) -> dict[str, str]:
    return {"QA_API_TOKEN": API_TOKEN, "OPENAI_API_KEY": OPENAI_KEY,
            "QA_OPENAI_BASE_URL": model_url(address, status), "QA_OPENAI_MODEL": "gpt-test",
            "QA_MAX_RETRIES": "0", "QA_REQUEST_TIMEOUT": "5"}


def test_no_secret_in_api_responses_or_the_server_log(data_dir, tmp_path, refusing_server):
    from gradio_client import Client

    seen: list[str] = []

    def keep(reply: httpx.Response) -> httpx.Response:
        seen.append(f"{reply.request.method} {reply.request.url} -> {reply.status_code} "
                    f"{dict(reply.headers)} {reply.text}")
        return reply

    env = secret_environment(refusing_server)
    with running_server(data_dir, tmp_path / "serve", env=env,
                        args=("--auth", f"reader:{LOGIN_PASSWORD}")) as server:
        v1 = f"{server.url}/v1"
        ask = {"model": "qa-openai", "messages": [{"role": "user", "content": QUESTION}]}
        for authorization in (None, "Bearer wrong", f"Bearer {API_TOKEN}x", f"Basic {API_TOKEN}",
                              f"Bearer {API_TOKEN[:-1]}", "Bearer", f"Token {API_TOKEN}"):
            headers = {"Authorization": authorization} if authorization else {}
            assert keep(httpx.get(f"{v1}/models", headers=headers, timeout=10)).status_code == 401
            assert keep(httpx.post(f"{v1}/chat/completions", json=ask, headers=headers,
                                   timeout=10)).status_code == 401
        good = {"Authorization": f"Bearer {API_TOKEN}"}
        refused = keep(httpx.post(f"{v1}/chat/completions", json=ask, headers=good, timeout=30))
        assert refused.status_code == 502 and "HTTP 403" in refused.text  # said, not echoed
        for stream in (False, True):
            keep(httpx.post(f"{v1}/chat/completions", json={**ask, "stream": stream},
                            headers=good, timeout=30))
        for body in ('{"model": "qa", "messages": [', "[]", '{"model": 1}'):
            keep(httpx.post(f"{v1}/chat/completions", content=body, headers=good, timeout=10))
        keep(httpx.post(f"{server.url}/login", timeout=10,
                        data={"username": "reader", "password": LOGIN_PASSWORD + "x"}))
        keep(httpx.get(f"{server.url}/config", timeout=10))

        gradio = Client(f"{server.url}/", auth=("reader", LOGIN_PASSWORD), verbose=False,
                        download_files=False)
        closed = f"http://reader:{URL_PASSWORD}@127.0.0.1:{free_port()}/v1"
        for base_url in (model_url(refusing_server, 401), model_url(refusing_server, 500),
                         model_url(refusing_server, 404), closed):
            message, _sources = gradio.predict(QUESTION, "openai", 5, base_url, "gpt-test",
                                               api_name="/chat")
            assert "qa-error" in message
            seen.append(message)
        log = server.log()

    assert any("cannot reach the model server at http://127.0.0.1:" in text for text in seen)
    assert [leaks(text) for text in seen if leaks(text)] == []
    assert leaks(log) == [], log[-3000:]


def run_cli(data_dir, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    environment = server_environment(data_dir.parent, env)
    return subprocess.run([sys.executable, "-m", "qa.cli", "--data-dir", str(data_dir), *args],
                          env=environment, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("status", [401, 403, 404, 500])
def test_no_secret_in_cli_errors(data_dir, refusing_server, status):
    result = run_cli(data_dir, "ask", "--backend", "openai", QUESTION,
                     env=secret_environment(refusing_server, status))
    assert result.returncode != 0
    assert result.stderr.startswith("qa: error:")
    assert leaks(result.stdout + result.stderr) == [], result.stderr


def test_no_secret_when_the_model_server_is_unreachable(data_dir):
    env = {**secret_environment("unused"),
           "QA_OPENAI_BASE_URL": f"http://reader:{URL_PASSWORD}@127.0.0.1:{free_port()}/v1"}
    result = run_cli(data_dir, "ask", "--backend", "openai", QUESTION, env=env)
    assert result.returncode != 0 and "cannot reach the model server" in result.stderr
    assert "http://127.0.0.1:" in result.stderr  # the address is said, without user:password
    assert leaks(result.stdout + result.stderr) == [], result.stderr


def test_no_secret_in_setting_errors(data_dir):
    from qa.errors import SettingsError
    from qa.settings import load_settings

    result = run_cli(data_dir, "ask", QUESTION,
                     env={**secret_environment("unused"), "QA_TOP_K": "many"})
    assert result.returncode != 0 and "QA_TOP_K" in result.stderr
    assert leaks(result.stdout + result.stderr) == []
    # A key passed under a wrong name is refused without being repeated.
    for misspelt in ({"openai_apikey": OPENAI_KEY}, {"api_tokn": API_TOKEN},
                     {"openai_api_key": 12345, "api_token": ["x", API_TOKEN]}):
        with pytest.raises(SettingsError) as refused:
            load_settings(**misspelt)
        assert leaks(str(refused.value)) == [] and "12345" not in str(refused.value)
