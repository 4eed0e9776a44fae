"""constraints.txt, the tested versions the README's install uses, stays whole: every package
pyproject.toml asks for is pinned there, within the range pyproject.toml allows."""

from __future__ import annotations

import re

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from .conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

CONSTRAINTS = REPO / "constraints.txt"
README = (REPO / "README.md").read_text(encoding="utf-8")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, Version]:
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, equals, version = line.partition("==")
            assert equals, f"constraints.txt: {line!r} is not NAME==VERSION"
            pins[_canonical(name)] = Version(version)
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        wanted += [Requirement(r) for r in extra]
    return [r for r in wanted if _canonical(r.name) != "qa"]


def test_every_dependency_is_pinned_within_its_range():
    pins = _pins()
    unpinned = sorted({r.name for r in _requirements() if _canonical(r.name) not in pins})
    assert unpinned == [], f"not in constraints.txt (run .ci/freeze): {unpinned}"
    outside = [f"{r} but constraints.txt has {pins[_canonical(r.name)]}" for r in _requirements()
               if not r.specifier.contains(pins[_canonical(r.name)], prereleases=True)]
    assert outside == [], f"constraints.txt is outside pyproject.toml's range: {outside}"


def test_the_readme_install_uses_the_constraints():
    install = re.search(r"```bash\n(python3 -m venv .*)\n```", README).group(1)
    assert "-c constraints.txt" in install
    assert "qa" not in _pins()  # qa itself is installed from the checkout, never pinned
