"""The Lambda deployment package: a deterministic zip, so an unchanged tree never redeploys the function.

Contents: ``handler/`` without the CLI, ``desired_state.json`` at the root (the function reads the copy it was
deployed with), and the dependencies that neither the runtime nor the Powertools layer provide: a pinned
boto3/botocore, because the runtime's bundled SDK lags the ECR API (tag-mutability exclusion filters,
repository creation templates). Powertools, pydantic and aws-xray-sdk come from the layer.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUILD_DIR = ROOT / "infra" / "build"
# The SDK the tests run against; keep it equal to the project's locked boto3 when upgrading.
LAMBDA_REQUIREMENTS = ("boto3==1.44.5", "botocore==1.44.5")
PIP_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
# The CLI (typer, rich, moto) never runs in Lambda: handler/cli/ stays out.
EXCLUDED_HANDLER_DIRS = ("cli",)
# Console scripts and byte code: not importable code, and byte code is not reproducible.
EXCLUDED_DEPENDENCY_DIRS = ("bin",)
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def build_lambda_package(
    out_dir: Path, *, python_version: str, platform: str, include_dependencies: bool = True
) -> Path:
    """Write the function's zip into ``out_dir`` and return its path.

    ``platform`` is a pip platform tag (see :data:`PIP_PLATFORMS`). With ``include_dependencies=False`` the
    zip holds only the project's own files (fast and offline, for tests).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = dict(_project_files())
    if include_dependencies:
        dependencies = _cached_dependencies(out_dir, python_version=python_version, platform=platform)
        entries.update(_tree(dependencies, exclude_dirs=EXCLUDED_DEPENDENCY_DIRS))
    suffix = "" if include_dependencies else "-no-deps"
    archive = out_dir / f"ecr-drift-enforcer-py{python_version}-{platform}{suffix}.zip"
    _write_zip(archive, entries)
    return archive


def install_dependencies(target: Path, *, python_version: str, platform: str) -> None:
    """``pip install`` the pinned SDK for the Lambda's platform (binary wheels only, no byte code)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(target),
            "--platform",
            platform,
            "--implementation",
            "cp",
            "--python-version",
            python_version,
            "--only-binary=:all:",
            *LAMBDA_REQUIREMENTS,
        ],
        check=True,
    )


def archive_sha256(archive: Path) -> str:
    return hashlib.sha256(archive.read_bytes()).hexdigest()


def _project_files() -> Iterator[tuple[str, Path]]:
    for name, path in _tree(ROOT / "handler", exclude_dirs=EXCLUDED_HANDLER_DIRS):
        yield f"handler/{name}", path
    yield "desired_state.json", ROOT / "desired_state.json"


def _tree(base: Path, *, exclude_dirs: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    """Files under ``base`` by their archive name, without byte code and the excluded top-level dirs."""
    for path in base.rglob("*"):
        name = path.relative_to(base).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if any(name == d or name.startswith(f"{d}/") for d in exclude_dirs):
            continue
        yield name, path


def _cached_dependencies(out_dir: Path, *, python_version: str, platform: str) -> Path:
    """The installed dependencies, reused while the pins, Python version and platform stay the same."""
    key = hashlib.sha256("\n".join((*LAMBDA_REQUIREMENTS, python_version, platform)).encode()).hexdigest()[
        :12
    ]
    cached = out_dir / f"dependencies-{key}"
    if not cached.is_dir():
        # Installed beside the cache and renamed into place: an interrupted install is never reused.
        staging = Path(tempfile.mkdtemp(prefix="dependencies-", dir=out_dir))
        try:
            install_dependencies(staging, python_version=python_version, platform=platform)
            staging.rename(cached)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return cached


def _write_zip(archive: Path, entries: dict[str, Path]) -> None:
    """Sorted entries, a fixed time stamp and fixed permissions: equal inputs give byte-identical zips."""
    partial = archive.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below are honoured
            info.external_attr = 0o100644 << 16
            zf.writestr(info, entries[name].read_bytes(), compresslevel=9)
    partial.replace(archive)
