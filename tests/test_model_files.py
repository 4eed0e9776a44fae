"""Local model files: real joining and hashing of part files from real (small, made-up) packages
found on sys.path, the errors a damaged install gets, and one real model answering."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import get_args

import pytest

from qa.backends.catalogue import CATALOGUE, LocalModel, ModelPart
from qa.backends.local import system_into_first_user_turn
from qa.backends.model_files import model_path
from qa.errors import BackendConfigError, BackendNotInstalledError, ModelFileError
from qa.settings import DEFAULT_LOCAL_MODEL, LocalModelName

from .conftest import REPO

PACKAGE = "qa-test-model-part"


def make_model(site: Path, part_sizes: list[int], name: str = "fake", seed: int = 0) -> LocalModel:
    """Write one package per part under ``site`` (``qa_test_model_part1/data/part01.bin``, …)
    and return the catalogue entry that pins them."""
    parts, whole = [], hashlib.sha256()
    for n, size in enumerate(part_sizes, start=1):
        folder = site / f"{PACKAGE.replace('-', '_')}{n}"
        (folder / "data").mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("raise RuntimeError('a model package is never imported')\n")
        data = hashlib.shake_256(f"{seed}-{n}".encode()).digest(size) if size < 1 << 20 else os.urandom(size)
        (folder / "data" / f"part{n:02d}.bin").write_bytes(data)
        whole.update(data)
        parts.append(ModelPart(f"{PACKAGE}{n}", f"data/part{n:02d}.bin", size,
                               hashlib.sha256(data).hexdigest()))
    return LocalModel(
        name=name, title="A test model", requirements=tuple(f"{p.package}==1.0" for p in parts),
        parts=tuple(parts), file_name=f"{name}.gguf", size=sum(part_sizes), sha256=whole.hexdigest(),
        upstream="nowhere", license="none", extra=name,
    )


def joined_bytes(site: Path, model: LocalModel) -> bytes:
    return b"".join((site / p.module / p.file).read_bytes() for p in model.parts)


def leftovers(qa_data: Path) -> list[str]:
    return sorted(p.name for p in qa_data.glob(".*.tmp"))


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    """A folder on sys.path where tests install their made-up model packages."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def qa_data(tmp_path) -> Path:
    """The data directory, under which joined models go to ``models/``."""
    return tmp_path / "qa-data"


def test_parts_join_into_one_verified_file(site, qa_data):
    model = make_model(site, [1000, 1000, 337])
    path = model_path("fake", qa_data, {"fake": model})
    assert path == qa_data / "fake.gguf"
    assert path.read_bytes() == joined_bytes(site, model)
    assert (qa_data / "fake.gguf.verified.json").is_file()
    assert leftovers(qa_data) == []


def test_a_one_part_model_is_used_where_it_lies(site, qa_data):
    model = make_model(site, [4096])
    path = model_path("fake", qa_data, {"fake": model})
    assert path == site / "qa_test_model_part1" / "data" / "part01.bin"
    assert not (qa_data / "fake.gguf").exists()


def test_a_missing_package_is_named_with_the_command_that_installs_it(site, qa_data):
    model = make_model(site, [100, 100, 100])
    (site / "qa_test_model_part2" / "__init__.py").unlink()
    (site / "qa_test_model_part2" / "data" / "part02.bin").unlink()
    (site / "qa_test_model_part2" / "data").rmdir()
    (site / "qa_test_model_part2").rmdir()
    with pytest.raises(BackendNotInstalledError) as caught:
        model_path("fake", qa_data, {"fake": model})
    message = str(caught.value)
    assert "qa-test-model-part2" in message and "qa-test-model-part1" not in message
    assert "pip install -e '.[fake]'" in message and "'qa-test-model-part2==1.0'" in message


def test_a_package_without_its_part_file_is_named(site, qa_data):
    model = make_model(site, [100, 100])
    (site / "qa_test_model_part1" / "data" / "part01.bin").unlink()
    with pytest.raises(ModelFileError, match=r"qa-test-model-part1 is installed but has no data/part01\.bin"
                       r".*--force-reinstall --no-deps 'qa-test-model-part1==1\.0'"):
        model_path("fake", qa_data, {"fake": model})


def test_a_truncated_part_is_named_and_leaves_no_file(site, qa_data):
    model = make_model(site, [1000, 1000, 1000])
    part = site / "qa_test_model_part2" / "data" / "part02.bin"
    part.write_bytes(part.read_bytes()[:700])
    with pytest.raises(ModelFileError, match=r"qa-test-model-part2: .*700 bytes, expected 1000.*reinstall"):
        model_path("fake", qa_data, {"fake": model})
    assert not (qa_data / "fake.gguf").exists()
    assert leftovers(qa_data) == []


def test_a_damaged_part_fails_the_join_midway_and_leaves_no_file(site, qa_data):
    model = make_model(site, [1000, 1000, 1000])
    part = site / "qa_test_model_part3" / "data" / "part03.bin"
    damaged = bytearray(part.read_bytes())
    damaged[500] ^= 0xFF
    part.write_bytes(bytes(damaged))
    with pytest.raises(ModelFileError, match=r"qa-test-model-part3: .* not the pinned bytes.*"
                       r"--force-reinstall --no-deps 'qa-test-model-part3==1\.0'"):
        model_path("fake", qa_data, {"fake": model})
    assert not (qa_data / "fake.gguf").exists()
    assert leftovers(qa_data) == []


def test_a_wrong_pinned_hash_is_an_error(site, qa_data):
    model = make_model(site, [1000, 1000])
    wrong = dataclasses.replace(model, sha256="0" * 64)
    with pytest.raises(ModelFileError, match=r"joined fake\.gguf has sha256 .* expected 000000000000"):
        model_path("fake", qa_data, {"fake": wrong})
    assert not (qa_data / "fake.gguf").exists()
    assert leftovers(qa_data) == []


def test_a_damaged_one_part_model_names_its_package(site, qa_data):
    model = make_model(site, [4096])
    (site / "qa_test_model_part1" / "data" / "part01.bin").write_bytes(b"\0" * 4096)
    with pytest.raises(ModelFileError, match="qa-test-model-part1: .* not the pinned bytes"):
        model_path("fake", qa_data, {"fake": model})


def test_the_stamp_spares_the_hash_but_a_changed_file_is_verified_again(site, qa_data):
    model = make_model(site, [1000, 1000])
    catalogue = {"fake": model}
    path = model_path("fake", qa_data, catalogue)
    good = path.read_bytes()

    # Damage the file but keep its size and mtime: the stamp still holds, so no hash is taken
    # and the file is trusted as it is (this is how a later start is spared hashing 1.1 GB).
    status = path.stat()
    path.write_bytes(b"x" + good[1:])
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert model_path("fake", qa_data, catalogue).read_bytes()[:1] == b"x"

    # A changed mtime (or size) voids the stamp: the file is hashed, found wrong, joined again.
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    assert model_path("fake", qa_data, catalogue).read_bytes() == good

    path.write_bytes(good[:-1])
    assert model_path("fake", qa_data, catalogue).read_bytes() == good


def test_an_unknown_model_name_says_what_to_set(qa_data):
    with pytest.raises(BackendConfigError, match="QA_LOCAL_MODEL to one of .*smollm2-135m"):
        model_path("gpt-5", qa_data)


# --- other processes --------------------------------------------------------------------------
_CHILD = """
import json, sys
from pathlib import Path
sys.path.insert(0, {site!r})
from qa.backends.catalogue import LocalModel, ModelPart
from qa.backends.model_files import model_path
entry = json.loads({entry!r})
entry["parts"] = tuple(ModelPart(**p) for p in entry["parts"])
entry["requirements"] = tuple(entry["requirements"])
print(model_path("fake", Path({qa_data!r}), {{"fake": LocalModel(**entry)}}))
"""


def child(site: Path, qa_data: Path, model: LocalModel) -> subprocess.Popen:
    entry = {**model.__dict__, "parts": [p.__dict__ for p in model.parts]}
    code = _CHILD.format(site=str(site), entry=json.dumps(entry), qa_data=str(qa_data))
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_processes_joining_at_once_both_get_the_whole_file(site, qa_data):
    model = make_model(site, [3 << 20] * 4)
    first, second = child(site, qa_data, model), child(site, qa_data, model)
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert Path(out.strip()) == qa_data / "fake.gguf"
    assert (qa_data / "fake.gguf").read_bytes() == joined_bytes(site, model)
    assert leftovers(qa_data) == []


def test_a_join_killed_midway_leaves_no_file_and_the_next_start_cleans_up(site, qa_data):
    model = make_model(site, [32 << 20] * 4)
    final = qa_data / "fake.gguf"
    process = child(site, qa_data, model)
    deadline = time.monotonic() + 60
    while not leftovers(qa_data) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    if final.exists():
        pytest.skip("the join finished before it could be killed; the machine is faster than assumed")
    assert len(leftovers(qa_data)) == 1, "the killed join's temporary file"

    assert model_path("fake", qa_data, {"fake": model}).read_bytes() == joined_bytes(site, model)
    assert leftovers(qa_data) == [], "an abandoned temporary file is removed by the next join"


# --- the catalogue ----------------------------------------------------------------------------
def test_the_catalogue_and_the_setting_name_the_same_models():
    assert set(get_args(LocalModelName)) == set(CATALOGUE)
    assert DEFAULT_LOCAL_MODEL in CATALOGUE


@pytest.mark.parametrize("model", CATALOGUE.values(), ids=list(CATALOGUE))
def test_each_catalogue_entry_is_consistent_pinned_and_credited(model):
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    extras = pyproject["project"]["optional-dependencies"]
    notice = (REPO / "NOTICE").read_text(encoding="utf-8")

    assert sum(p.size for p in model.parts) == model.size
    assert all(len(p.sha256) == 64 for p in model.parts) and len(model.sha256) == 64
    assert all("==" in r for r in model.requirements)
    assert {p.package for p in model.parts} <= set(model.packages)
    assert set(model.requirements) <= set(extras[model.extra])
    assert model.sha256 in notice and model.parts[0].package in notice
    assert f'extra "{model.extra}"' in notice


def test_the_local_extra_and_all_install_the_default_model():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"]
    default = CATALOGUE[DEFAULT_LOCAL_MODEL]
    assert f"qa[{default.extra}]" in extras["local"]
    assert any("local" in e for e in extras["all"])


def test_models_without_a_system_role_get_the_system_prompt_in_the_first_user_turn():
    messages = [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Q1"},
                {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}]
    assert system_into_first_user_turn(messages) == [
        {"role": "user", "content": "Rules.\n\nQ1"}, {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"}]
    assert messages[1]["content"] == "Q1", "the caller's messages are left as they were"


# --- the real default model -------------------------------------------------------------------
@pytest.mark.slow
def test_the_default_model_answers_with_a_verbatim_quote(seed_index_dir):
    from qa import Assistant

    from .test_answering import BLAIR_HOUSE, assert_citations_are_verbatim

    assistant = Assistant(data_dir=seed_index_dir, backend="local")
    items = list(assistant.stream(BLAIR_HOUSE))
    pieces, answer = items[:-1], items[-1]
    assert len(pieces) > 1, f"{DEFAULT_LOCAL_MODEL} should have streamed its reply"
    assert answer.citations and not answer.abstained
    assert_citations_are_verbatim(answer)
    assert any("Blair House" in c.quote for c in answer.citations)
