"""The Makefile's install rules and targets, read with `make -n` (what make would run, run nothing) in a copy
of the Makefile and pyproject.toml: `make demo` installs only the demo extra, a dev venv already satisfies it,
`make test-fast` leaves out the slow tests only, and `make help` lists every target."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEMO_INSTALL = "pip install -e '.[demo]'"
DEV_INSTALL = "pip install --quiet -e '.[dev]'"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    return tmp_path


def _make(checkout: Path, *arguments: str) -> str:
    """What `make` prints for ``arguments`` (with -n: the commands it would run)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(
        ["make", *arguments], cwd=checkout, env=environment, capture_output=True, text=True, check=True
    )
    return result.stdout


def _installed(checkout: Path, *stamps: str) -> None:
    """A .venv whose ``stamps`` are newer than pyproject.toml, as an install leaves them."""
    (checkout / ".venv").mkdir()
    later = (checkout / "pyproject.toml").stat().st_mtime + 10
    for stamp in stamps:
        (checkout / ".venv" / stamp).touch()
        os.utime(checkout / ".venv" / stamp, (later, later))


def test_a_first_make_demo_installs_the_demo_extra_only_and_says_so(checkout: Path) -> None:
    commands = _make(checkout, "-n", "demo")

    assert DEMO_INSTALL in commands
    assert "[dev]" not in commands
    assert "--quiet -e" not in commands  # pip's progress shows
    assert "Installing ecr-drift and the demo extra (moto) into .venv, once" in commands
    assert commands.rstrip().endswith(".venv/bin/ecr-drift demo")


def test_a_dev_venv_already_has_what_the_demo_needs(checkout: Path) -> None:
    assert "touch .venv/.installed .venv/.installed-demo" in _make(checkout, "-n", "install")
    _installed(checkout, ".installed", ".installed-demo")

    assert _make(checkout, "-n", "demo").splitlines() == [".venv/bin/ecr-drift demo"]


def test_the_dev_targets_install_the_dev_extra_even_over_a_demo_venv(checkout: Path) -> None:
    _installed(checkout, ".installed-demo")

    for target in ("install", "unit", "test-fast", "lint"):
        assert DEV_INSTALL in _make(checkout, "-n", target), target


def test_make_test_fast_leaves_out_the_slow_tests_only_and_make_test_runs_every_test(checkout: Path) -> None:
    _installed(checkout, ".installed", ".installed-demo")

    assert _make(checkout, "-n", "test-fast").splitlines() == [
        '.venv/bin/python -m pytest -q -n auto -m "not slow"'
    ]
    pytest_runs = [line for line in _make(checkout, "-n", "test").splitlines() if "pytest" in line]
    assert pytest_runs == [".venv/bin/python -m pytest -q -n auto"]


def test_make_help_lists_every_target(checkout: Path) -> None:
    targets = re.findall(r"^([a-z-]+):", (checkout / "Makefile").read_text(), flags=re.MULTILINE)
    listed = re.findall(r"^  make (\S+) ", _make(checkout, "help"), flags=re.MULTILINE)

    assert "test-fast" in targets
    assert listed == targets
