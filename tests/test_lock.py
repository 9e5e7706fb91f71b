"""The lock (requirements-*.txt) covers what pyproject.toml declares, and this venv is what the lock says."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def _locked(name: str) -> dict[str, str]:
    """Package → version pinned for this interpreter and platform (markers evaluated)."""
    pins: dict[str, str] = {}
    for line in (ROOT / f"requirements-{name}.txt").read_text().splitlines():
        match = PIN.match(line)
        if match and (match[3] is None or Marker(match[3]).evaluate()):
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _declared(*extras: str) -> list[Requirement]:
    """The requirements of Quarry's core and the given extras, self-references (quarry[...]) expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional: dict[str, list[str]] = project["optional-dependencies"]
    found: list[Requirement] = [Requirement(line) for line in project["dependencies"]]
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in optional[extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == "quarry":
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return [r for r in found if r.marker is None or r.marker.evaluate()]


@pytest.mark.parametrize(("lock", "extra"), [("all", "all"), ("dev", "dev")])
def test_the_lock_pins_every_declared_dependency_within_its_range(lock: str, extra: str) -> None:
    pins = _locked(lock)
    for requirement in _declared(extra):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is declared but not in requirements-{lock}.txt: run scripts/lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements-{lock}.txt pins {name}=={pins[name]}, outside {requirement}: run scripts/lock"
        )


def test_all_and_dev_agree_on_every_version_they_share() -> None:
    runtime, dev = _locked("all"), _locked("dev")
    differing = {name: (version, dev[name]) for name, version in runtime.items() if dev.get(name) != version}
    assert differing == {}


def test_this_venv_is_what_the_dev_lock_says() -> None:
    """scripts/test syncs the venv on every run, so CI tests exactly what a fresh install gets."""
    installed = {canonicalize_name(dist.metadata["Name"]): dist.version for dist in importlib.metadata.distributions()}
    wrong = {
        name: (version, installed.get(name))
        for name, version in _locked("dev").items()
        if installed.get(name) != version
    }
    assert wrong == {}
