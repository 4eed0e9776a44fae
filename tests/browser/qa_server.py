"""Start ``qa serve`` as a real process on a free loopback port, wait until it answers, stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from evals.processes import stop_process

REPO = Path(__file__).resolve().parents[2]
OFFLINE = Path(__file__).resolve().parent / "offline"
STARTUP_SECONDS = 180


def seed_article_count() -> int:
    """How many articles the seed index holds."""
    from qa.corpus import find_article_files

    return len(find_article_files([REPO / "seeds"]))


@dataclass
class RunningServer:
    """A ``qa serve`` process and where to find it."""

    url: str
    port: int
    data_dir: Path
    process: subprocess.Popen
    log_path: Path
    network_log: Path

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def outside_connections(self) -> list[str]:
        """Connections the server tried to open outside loopback (there should be none)."""
        if not self.network_log.exists():
            return []
        return self.network_log.read_text(encoding="utf-8").splitlines()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(work_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without qa's or OpenAI's variables, kept offline."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("QA_", "OPENAI_", "GRADIO_"))}
    python_path = [str(OFFLINE), str(REPO)] + (
        [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    environment.update({
        "PYTHONPATH": os.pathsep.join(python_path),
        "QA_TEST_NETWORK_LOG": str(work_dir / "outside-connections.log"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(work_dir / "gradio-uploads"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    })
    environment.update(extra or {})
    return environment


@contextmanager
def running_server(data_dir: Path, work_dir: Path, *, env: dict[str, str] | None = None,
                   args: tuple[str, ...] = ()) -> Iterator[RunningServer]:
    """``qa --data-dir DATA_DIR serve --port PORT ARGS`` until the block ends."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = work_dir / "qa-serve.log"
    command = [sys.executable, "-m", "qa.cli", "--data-dir", str(data_dir), "serve",
               "--port", str(port), *args]
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, env=server_environment(work_dir, env), cwd=work_dir,
                                   stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(f"http://127.0.0.1:{port}", port, data_dir, process, log_path,
                           work_dir / "outside-connections.log")
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        stop_process(process, grace=20)


def _wait_until_healthy(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"qa serve exited with code {server.process.returncode}:\n"
                               f"{server.log()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"qa serve did not answer /health in {STARTUP_SECONDS} s:\n{server.log()}")
