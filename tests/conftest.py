"""Shared fixtures: every test gets its own data directory, and no test reaches the network.

Building the seed index embeds 26 chunks (about a second); it is built once per session and
copied into each test's data directory that needs it.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evals.processes import stop_process

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
HARBOUR_ARTICLE = ("date 2024-03-02\nQuillon Council Approves Harbour\n\nThe council of Quillon "
                   "approved the new harbour on March 1. The harbour master, Ada Fennimore, said the "
                   "first ships would dock there in 2026.\n")
"""An article no seed resembles, for upload tests."""


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Fail any connection to an address outside loopback."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    def guarded_connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch, tmp_path):
    """Point qa at a fresh data directory and clear every QA_/OPENAI_ variable."""
    import os

    for name in list(os.environ):
        if name.startswith(("QA_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "qa-data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory) -> Path:
    """A data directory holding the seed index, built once per session (do not modify)."""
    from qa.assistant import Assistant

    data_dir = tmp_path_factory.mktemp("seed-index")
    Assistant(data_dir=data_dir)
    return data_dir


@pytest.fixture
def data_dir(seed_index_dir, tmp_path) -> Path:
    """A private copy of the seed index for one test, which may change it."""
    target = tmp_path / "qa-data"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(seed_index_dir, target)
    return target


@pytest.fixture(scope="session")
def shared_assistant(seed_index_dir):
    """One extractive Assistant over the seed index, for tests that only ask questions."""
    from qa.assistant import Assistant

    return Assistant(data_dir=seed_index_dir, backend="extractive")


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_llama_server(folder: Path, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python -m llama_cpp.server`` serving SmolLM2 (the fastest local model, whatever the
    default) on a loopback port: its base URL and its process, stopped when the block ends."""
    from qa.backends.model_files import model_path

    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"server-{port}.log"
    log = open(log_path, "ab")  # a file, not a pipe: the server logs more than a pipe holds
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model",
         str(model_path("smollm2-135m", folder)),
         "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "2048"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    pytest.fail(f"llama_cpp.server did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.3)
        yield url, process
    finally:
        stop_process(process)
        log.close()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """A llama.cpp OpenAI-compatible server serving SmolLM2, for the whole session."""
    with running_llama_server(tmp_path_factory.mktemp("llama-server")) as (url, _process):
        yield url
