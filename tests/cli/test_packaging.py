"""What `pip install ecr-drift-enforcer` gives: a working CLI without moto and its server (the `demo` extra),
the demo anywhere once the extra is there, the version from the package metadata.

The install test builds the wheel and installs it into a fresh venv, dependencies from the package index as
`make install` does: it needs the network (PyPI), and takes about a minute.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecr_drift.cli.app import app
from tests.cli.sandbox_process import running_sandbox
from tests.conftest import EXAMPLE_PATH, ROOT

runner = CliRunner()
PACKAGED_EXAMPLE = ROOT / "ecr_drift" / "cli" / "example_desired_state.json"
# What the `demo` extra brings and a plain install must not (nor the `infra` extra's Pulumi).
EXTRA_ONLY = {"moto", "flask", "flask-cors", "docker", "cfn-lint", "pulumi", "pulumi-aws"}
DEMO_EXTRA_LINE = (
    "error: `ecr-drift demo` needs the demo extra (moto), which is not installed: "
    "pip install 'ecr-drift-enforcer[demo]'"
)


def test_the_packaged_example_is_the_example() -> None:
    assert PACKAGED_EXAMPLE.read_bytes() == EXAMPLE_PATH.read_bytes(), (
        "the demo's packaged example is a copy of desired_state.json: "
        "cp desired_state.json ecr_drift/cli/example_desired_state.json"
    )


def test_version_comes_from_the_package_metadata() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"ecr-drift {metadata.version('ecr-drift-enforcer')}\n"


def test_without_moto_the_demo_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)  # as in an install without the `demo` extra
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [DEMO_EXTRA_LINE]


def _run(
    *args: str | Path, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def _wheel(tmp_path: Path) -> Path:
    """The wheel, built from a copy of what goes into it (the build writes build/ and egg-info beside it)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "ecr_drift", source / "ecr_drift", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", tmp_path / "dist", source)
    assert built.returncode == 0, built.stderr
    assert "Warning" not in built.stderr, built.stderr  # no deprecation printed on every install
    (wheel,) = (tmp_path / "dist").glob("ecr_drift_enforcer-*.whl")
    return wheel


@pytest.mark.slow
@pytest.mark.network
def test_a_plain_install_is_a_working_cli_without_moto_and_the_demo_extra_adds_the_demo(
    tmp_path: Path,
) -> None:
    wheel = _wheel(tmp_path)
    base = tmp_path / "venv"
    venv.create(base, with_pip=True)
    pip, ecr_drift = base / "bin" / "pip", base / "bin" / "ecr-drift"
    empty = tmp_path / "empty"
    empty.mkdir()

    # One top-level package, named for the product: no `handler` to collide with other Lambda code.
    with zipfile.ZipFile(wheel) as zf:
        top_level = {name.split("/")[0] for name in zf.namelist()}
    assert top_level == {"ecr_drift", wheel.name.split("-py")[0] + ".dist-info"}
    installed = _run(pip, "install", "--quiet", wheel)
    assert installed.returncode == 0, installed.stderr
    listed = json.loads(_run(pip, "list", "--format", "json").stdout)
    assert not {p["name"].lower() for p in listed} & EXTRA_ONLY

    assert _run(ecr_drift, "--version").stdout == f"ecr-drift {metadata.version('ecr-drift-enforcer')}\n"
    validated = _run(ecr_drift, "validate", EXAMPLE_PATH, cwd=empty)
    assert validated.returncode == 0, validated.stderr
    with running_sandbox() as sandbox:  # the dev venv's: the plain install has none
        account = ["--endpoint-url", sandbox.url, "--desired", EXAMPLE_PATH]
        enforced = _run(ecr_drift, "enforce", "--yes", *account, cwd=empty)
        audited = _run(ecr_drift, "audit", *account, cwd=empty)
        assert sandbox.stop()[0] == 0
    assert enforced.returncode == 0, enforced.stdout + enforced.stderr
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "compliant" in audited.stdout

    no_demo = _run(ecr_drift, "demo", cwd=empty)
    assert no_demo.returncode == 1
    assert no_demo.stderr.strip().splitlines() == [DEMO_EXTRA_LINE]
    no_sandbox = _run(ecr_drift, "sandbox", cwd=empty)
    assert no_sandbox.returncode == 1
    assert no_sandbox.stderr.strip().splitlines() == [
        DEMO_EXTRA_LINE.replace("`ecr-drift demo`", "`ecr-drift sandbox`")
    ]

    with_demo = _run(pip, "install", "--quiet", f"{wheel}[demo]")
    assert with_demo.returncode == 0, with_demo.stderr
    demo = _run(ecr_drift, "demo", "--no-color", cwd=empty)  # no desired_state.json here: the packaged one
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Audit clean" in demo.stdout
