"""The README stays true: every command and every setting it documents exists, and back."""

from __future__ import annotations

import re

from qa.cli import build_parser
from qa.settings import Settings

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _subcommands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)


def test_every_command_is_documented_and_every_documented_command_exists():
    documented = set(re.findall(r"^\| `qa (\w+)", README, re.MULTILINE))
    assert documented == _subcommands()


def test_every_setting_is_documented_and_every_documented_setting_exists():
    documented = set(re.findall(r"`QA_([A-Z_]+)`", README))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields <= documented
    assert documented - fields <= {"OPENAI_API_KEY", "OPENAI_BASE_URL"}


def test_ci_runs_the_readme_commands():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    install = re.search(r"```bash\n(python3 -m venv .*)\n```", README).group(1)
    assert install in ci
    assert ".venv/bin/python -m pytest" in ci and "apt-get install -y -qq chromium" in ci
