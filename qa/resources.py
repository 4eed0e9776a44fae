"""Locate the files shipped beside the code: seed articles and prompt templates."""

from __future__ import annotations

from pathlib import Path

__all__ = ["resource_dir", "load_prompt"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """The folder ``name`` (``seeds`` or ``prompts``): inside an installed wheel, or at the repo top."""
    bundled = _PACKAGE_DIR / "_resources" / name
    return bundled if bundled.is_dir() else _PACKAGE_DIR.parent / name


def load_prompt(prompts_dir: Path, name: str) -> str:
    """The text of the prompt template ``name`` (a file ``<name>.txt`` in ``prompts_dir``)."""
    path = prompts_dir / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        from qa.errors import SettingsError

        raise SettingsError(
            f"prompt template {path} cannot be read ({exc.strerror}); set QA_PROMPTS_DIR "
            "to a folder holding the templates from the repository's prompts/"
        ) from exc
