"""Faults of the index on disk, for real: a read-only and a full data directory (a read-only
remount and a small tmpfs; chmod does not stop root), two ``qa index`` processes at once, and
``kill -9`` during an index of 500 articles. Each ends with the previous index whole and usable.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import pytest

from evals.generated_articles import write_articles
from qa.assistant import Assistant

from .browser.qa_server import running_server
from .conftest import SEEDS
from .test_answering import BLAIR_HOUSE

SEED_IDS = {path.stem for path in SEEDS.glob("*.txt")}
# Room left on the disk: for a page or two of the copies of the new articles (about 60 KB), and
# for the copies but not the index of their ~90 chunks.
SPARE_BYTES = (12 * 1024, 200 * 1024)


def qa(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, **env})


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("qa: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def assert_index_is_whole(data_dir: Path, article_ids: set[str]) -> Assistant:
    """The index holds exactly ``article_ids``, each chunk once, and answers from them."""
    assistant = Assistant(data_dir=data_dir)
    records = {r.article_id: r for r in assistant.articles()}
    assert set(records) == article_ids
    nodes = assistant.index.open_store().all_nodes()
    assert len({n.node_id for n in nodes}) == len(nodes), "a chunk is stored twice"
    per_article = Counter(n.ref_doc_id for n in nodes)
    assert per_article == Counter({i: r.chunks for i, r in records.items() if r.chunks})
    assert "November 7" in assistant.ask(BLAIR_HOUSE).text
    return assistant


# --- a read-only or full data directory ------------------------------------------------------------
@lru_cache(maxsize=1)
def _mount_problem() -> str | None:
    """Why this machine cannot mount a tmpfs for a test (None when it can)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return "mounting a small tmpfs needs root and mount(8)"
    probe = Path(f"/tmp/qa-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            return f"cannot mount a tmpfs here: {result.stderr.strip()}"
        subprocess.run(["umount", str(probe)], check=True)
        return None
    finally:
        probe.rmdir()


@contextmanager
def small_disk(folder: Path) -> Iterator[Disk]:
    """A tmpfs at ``folder`` that can be made read-only, full, or large again."""
    problem = _mount_problem()
    if problem:
        pytest.skip(problem)
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(folder)], check=True)
    try:
        yield Disk(folder)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


class Disk:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def used(self) -> int:
        stats = os.statvfs(self.folder)
        return (stats.f_blocks - stats.f_bfree) * stats.f_frsize

    def remount(self, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(self.folder)], check=True)

    def fill_up_to(self, spare_bytes: int) -> None:
        """Make the disk hold only ``spare_bytes`` more than it holds now."""
        self.remount(f"size={self.used() + spare_bytes}")


def _snapshot(data_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in sorted(data_dir.rglob("*"))
            if p.is_file() and p.name != ".build.lock"}


def test_qa_index_on_a_read_only_or_full_data_directory(seed_index_dir, tmp_path):
    articles = write_articles(tmp_path / "new", 10, sentences_per_article=40)
    with small_disk(tmp_path / "disk") as disk:
        data_dir = disk.folder / "qa-data"
        shutil.copytree(seed_index_dir, data_dir)
        before = _snapshot(data_dir)
        manifest = (data_dir / "index" / "manifest.json").read_bytes()

        disk.remount("ro")
        error = one_line_error(qa(data_dir, "index", str(tmp_path / "new")))
        assert "Read-only file system" in error and "previous index is unchanged" in error
        assert "QA_DATA_DIR" in error
        error = one_line_error(qa(data_dir, "index"))
        assert "Read-only file system" in error
        asked = qa(data_dir, "ask", BLAIR_HOUSE)  # a read-only index still answers
        assert asked.returncode == 0 and "November 7" in asked.stdout, asked.stderr
        disk.remount("rw")
        assert _snapshot(data_dir) == before

        # Full while copying the articles into the library, then full while building the index.
        for spare in SPARE_BYTES:
            disk.fill_up_to(spare)
            error = one_line_error(qa(data_dir, "index", str(tmp_path / "new")))
            assert "No space left on device" in error, error
            assert "previous index is unchanged" in error and "free some space" in error.lower()
            assert (data_dir / "index" / "manifest.json").read_bytes() == manifest
            assert not list((data_dir / "articles").glob("dispatch-*")), \
                "the library keeps articles the index does not hold"
            assert_index_is_whole(data_dir, SEED_IDS)

        disk.remount("size=256m")
        done = qa(data_dir, "index", str(tmp_path / "new"))
        assert done.returncode == 0, done.stderr
        assert f"{len(articles)} added" in done.stdout
        assert_index_is_whole(data_dir, SEED_IDS | {p.stem for p in articles})


def test_a_removal_the_index_cannot_take_keeps_the_article(seed_index_dir, tmp_path):
    """The library can drop the article, but the index folder is read-only: the article is put
    back, so the library and the index still agree, and the removal can be made later."""
    article = write_articles(tmp_path / "new", 1, sentences_per_article=20)[0]
    with small_disk(tmp_path / "disk") as disk:
        data_dir = disk.folder / "qa-data"
        shutil.copytree(seed_index_dir, data_dir)
        assert qa(data_dir, "index", str(tmp_path / "new")).returncode == 0
        shutil.move(data_dir / "index", tmp_path / "index-files")
        with small_disk(data_dir / "index") as index_disk:  # the library stays writable
            shutil.copytree(tmp_path / "index-files", data_dir / "index", dirs_exist_ok=True)
            before = _snapshot(data_dir)
            index_disk.remount("ro")
            error = one_line_error(qa(data_dir, "remove", article.stem))
            assert "Read-only file system" in error and "unchanged" in error, error
            assert _snapshot(data_dir) == before
            assert_index_is_whole(data_dir, SEED_IDS | {article.stem})

            index_disk.remount("rw")
            done = qa(data_dir, "remove", article.stem)
            assert done.returncode == 0 and f"removed {article.stem}" in done.stdout, done.stderr
            assert not list((data_dir / "articles").glob(f"{article.stem}.*"))
            assert_index_is_whole(data_dir, SEED_IDS)


def test_upload_to_a_read_only_or_full_data_directory(seed_index_dir, tmp_path):
    from gradio_client import Client, handle_file

    articles = write_articles(tmp_path / "new", 10, sentences_per_article=40)
    with small_disk(tmp_path / "disk") as disk:
        data_dir = disk.folder / "qa-data"
        shutil.copytree(seed_index_dir, data_dir)
        manifest = (data_dir / "index" / "manifest.json").read_bytes()
        with running_server(data_dir, tmp_path / "serve") as server:
            gradio = Client(f"{server.url}/", verbose=False, download_files=False)

            def upload() -> tuple[str, int]:
                status, table, _header, _files = gradio.predict(
                    [handle_file(str(p)) for p in articles], api_name="/add_articles")
                return status, len(table["data"])

            def answered() -> str:
                return gradio.predict(BLAIR_HOUSE, api_name="/ask")["text"]

            disk.remount("ro")
            status, rows = upload()
            assert "Not added" in status and "Read-only file system" in status, status
            assert "previous index is unchanged" in status and rows == len(SEED_IDS)
            assert "November 7" in answered()
            disk.remount("rw")

            for spare in SPARE_BYTES:
                disk.fill_up_to(spare)
                status, rows = upload()
                assert "Not added" in status and "No space left on device" in status, status
                assert "previous index is unchanged" in status and rows == len(SEED_IDS)
                assert (data_dir / "index" / "manifest.json").read_bytes() == manifest
                assert "November 7" in answered()

            disk.remount("size=256m")
            status, rows = upload()
            assert f"Added {len(articles)} articles" in status, status
            assert rows == len(SEED_IDS) + len(articles)
            assert "Traceback" not in server.log()
        assert_index_is_whole(data_dir, SEED_IDS | {p.stem for p in articles})


# --- two indexers at once -------------------------------------------------------------------------
def _wait_for_lock_holder(data_dir: Path, process: subprocess.Popen) -> None:
    lock = data_dir / "index" / ".build.lock"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().strip() == str(process.pid):
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    pytest.fail("the first `qa index` never took the build lock")


@pytest.mark.slow
def test_two_qa_index_processes_at_once_one_waits_for_the_other(data_dir, tmp_path):
    big = write_articles(tmp_path / "big", 500, prefix="big", sentences_per_article=3)
    small = write_articles(tmp_path / "small", 3, prefix="small", first=900)
    command = [sys.executable, "-m", "qa.cli", "--data-dir", str(data_dir), "index"]
    first = subprocess.Popen(command + [str(tmp_path / "big")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    _wait_for_lock_holder(data_dir, first)
    second = subprocess.Popen(command + [str(tmp_path / "small")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    second_out, second_err = second.communicate(timeout=900)
    first_out, first_err = first.communicate(timeout=900)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err
    assert (f"qa: waiting for another `qa index` on {data_dir} to finish (process {first.pid})"
            in second_err), second_err
    assert "500 added" in first_out and "3 added" in second_out
    # The second build read the library after the first had finished: it keeps the first's
    # articles, and adds its own.
    assert f"{len(SEED_IDS) + 503} articles indexed" in second_out
    assert_index_is_whole(data_dir, SEED_IDS | {p.stem for p in big + small})


# --- kill -9 during a large index --------------------------------------------------------------
@pytest.mark.slow
def test_kill_9_during_an_index_of_500_articles_then_a_rerun(data_dir, tmp_path):
    manifest = data_dir / "index" / "manifest.json"
    before = json.loads(manifest.read_text())
    articles = write_articles(tmp_path / "many", 500, sentences_per_article=3)
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "--data-dir", str(data_dir), "index",
         str(tmp_path / "many")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    versions = data_dir / "index" / before["store_dir"] / "chunks.lance" / "_versions"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # wait until the build has stored some of its chunks
        if len(list(versions.glob("*.manifest"))) > before["table_version"] + 2:
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    else:
        pytest.fail("the build never started storing chunks")
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert json.loads(manifest.read_text()) == before
    assistant = assert_index_is_whole(data_dir, SEED_IDS)
    assert not [n for n in assistant.index.open_store().all_nodes()
                if n.ref_doc_id.startswith("dispatch")]

    rerun = qa(data_dir, "index", str(tmp_path / "many"))
    assert rerun.returncode == 0, rerun.stderr
    assert "500 added" in rerun.stdout
    assert_index_is_whole(data_dir, SEED_IDS | {p.stem for p in articles})
    again = qa(data_dir, "index")
    assert "0 added, 0 updated, 0 removed" in again.stdout and "0 chunks embedded" in again.stdout
