"""What installing the wheel gives: a working CLI without moto and its server (the `demo` extra), the demo
anywhere once the extra is there, the version from the package metadata; and the README's first hour.

The install test builds the wheel with `make dist` and installs it into a fresh venv, dependencies from the
package index as `make install` does: it needs the network (PyPI), and takes about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
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
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _wheel(tmp_path: Path) -> Path:
    """The wheel, as the README's `make dist` builds it, in a copy of the checkout's files that go into it."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "ecr_drift", source / "ecr_drift", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE", "Makefile"):
        shutil.copy2(ROOT / name, source / name)
    built = _run("make", "dist", f"PYTHON={sys.executable}", cwd=source)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Warning" not in built.stderr, built.stderr  # no deprecation printed on every install
    (wheel,) = (source / "dist").glob("ecr_drift_enforcer-*.whl")
    # One top-level package, named for the product: no `handler` to collide with other Lambda code.
    with zipfile.ZipFile(wheel) as zf:
        top_level = {name.split("/")[0] for name in zf.namelist()}
    assert top_level == {"ecr_drift", wheel.name.split("-py")[0] + ".dist-info"}
    return wheel


def _sandbox_environment(url: str) -> dict[str, str]:
    """The shell after the export lines `ecr-drift sandbox` prints (the README's walkthrough)."""
    exported = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    return {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **exported}


@pytest.mark.slow
@pytest.mark.network
def test_the_readme_from_an_empty_folder(tmp_path: Path) -> None:
    """The README's newcomer path on the built wheel, each step in an empty folder: install, `init`,
    `validate`, the sandbox walkthrough, the `demo` extra, and the demo twice, with and without the sandbox's
    AWS_ENDPOINT_URL exported (it must not touch it). moto's server is the dev venv's sandbox: the plain
    install has none."""
    wheel = _wheel(tmp_path)
    base = tmp_path / "venv"
    venv.create(base, with_pip=True)
    pip, ecr_drift = base / "bin" / "pip", base / "bin" / "ecr-drift"

    installed = _run(pip, "install", "--quiet", wheel)
    assert installed.returncode == 0, installed.stderr
    listed = json.loads(_run(pip, "list", "--format", "json").stdout)
    assert not {p["name"].lower() for p in listed} & EXTRA_ONLY
    first = _empty(tmp_path, "first")
    assert _run(base / "bin" / "python", "-c", "import handler", cwd=first).returncode == 1  # not installed
    assert _run(ecr_drift, "--version").stdout == f"ecr-drift {metadata.version('ecr-drift-enforcer')}\n"
    missing = _run(ecr_drift, "plan", cwd=first)
    assert missing.returncode == 1
    assert "run `ecr-drift init`" in missing.stderr
    initialised = _run(ecr_drift, "init", cwd=first)
    assert initialised.returncode == 0, initialised.stderr
    assert sorted(p.name for p in first.iterdir()) == ["desired_state.json", "desired_state.schema.json"]
    validated = _run(ecr_drift, "validate", cwd=first)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    no_demo = _run(ecr_drift, "demo", cwd=first)
    assert no_demo.returncode == 1
    assert no_demo.stderr.strip().splitlines() == [DEMO_EXTRA_LINE]
    no_sandbox = _run(ecr_drift, "sandbox", cwd=first)
    assert no_sandbox.returncode == 1
    assert no_sandbox.stderr.strip().splitlines() == [
        DEMO_EXTRA_LINE.replace("`ecr-drift demo`", "`ecr-drift sandbox`")
    ]
    with_demo = _run(pip, "install", "--quiet", f"{wheel}[demo]")
    assert with_demo.returncode == 0, with_demo.stderr

    walkthrough = _empty(tmp_path, "walkthrough")
    with running_sandbox() as sandbox:
        shell = _sandbox_environment(sandbox.url)

        def step(*args: str, cwd: Path = walkthrough, env: dict[str, str] = shell) -> tuple[int, str]:
            done = _run(ecr_drift, *args, cwd=cwd, env=env)
            return done.returncode, done.stdout + done.stderr

        assert step("init", "--mode", "enforce")[0] == 0
        # `aws ecr create-repository ...`: the AWS CLI is not a dependency, boto3 makes the same call.
        ecr = boto3.client("ecr", endpoint_url=sandbox.url, region_name="eu-west-1")
        ecr.create_repository(repositoryName="temporal-worker", imageTagMutability="MUTABLE")
        assert step("plan")[0] == 2
        assert step("enforce", "--yes")[0] == 0
        code, audited = step("audit")
        assert code == 0, audited
        assert "compliant" in audited
        in_sandbox = _repositories(ecr)

        for demo_env in (shell, {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}):
            code, shown = step(
                "demo", "--no-color", cwd=_empty(tmp_path, f"demo-{len(demo_env)}"), env=demo_env
            )
            assert code == 0, shown
            assert "Audit clean" in shown
        assert _repositories(ecr) == in_sandbox  # the demo wrote nothing to the endpoint the shell names
        assert sandbox.stop()[0] == 0


def _empty(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def _repositories(ecr: Any) -> list[dict[str, Any]]:
    return sorted(
        (
            {k: v for k, v in r.items() if k != "createdAt"}
            for r in ecr.describe_repositories()["repositories"]
        ),
        key=lambda r: r["repositoryName"],
    )
