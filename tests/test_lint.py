"""Lint is part of the one test command: ruff over the package, the tests and the evals."""

import shutil
import subprocess
import sys

import pytest

from .conftest import REPO


def test_ruff_finds_nothing():
    if shutil.which("ruff") is None and subprocess.run(
            [sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "qa", "tests", "evals"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
