"""The Lambda deployment package: a deterministic zip, so an unchanged tree never redeploys the function.

Contents: ``handler/`` (the entry point), ``ecr_drift/`` without the CLI, the stack's desired-state file as
``desired_state.json`` at the root (the function reads the copy it was deployed with), and the dependencies
that neither the runtime nor the Powertools layer provide: a pinned boto3/botocore, because the runtime's
bundled SDK lags the ECR API (tag-mutability exclusion filters, repository creation templates). Powertools,
pydantic and aws-xray-sdk come from the layer.

botocore ships the models of every AWS service: 15.6 of the 17 MB the zip would weigh. The zip keeps those of
the services the packaged code creates clients for, read from the code itself (:func:`used_services`), and of
the one client the layer may create (:data:`LAYER_SERVICES`), and all of botocore's service-independent data
(endpoints, partitions, retry and defaults configuration).

No byte code: it is valid only for the runtime's Python minor version, which the deploying interpreter need
not have (the dev venv is 3.11, the runtime 3.13), and shipping it only when the build can make it would give
different zips on different machines. The cost is a cold start compiling what it imports (measured in
BENCHMARKS.md, "Lambda package").
"""

from __future__ import annotations

import ast
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUILD_DIR = ROOT / "infra" / "build"
# The single-account case: the repository root's file. A stack passes its own (`desiredStatePath`).
DEFAULT_DESIRED_STATE = ROOT / "desired_state.json"
# The SDK the tests run against; keep it equal to the project's locked boto3 when upgrading.
LAMBDA_REQUIREMENTS = ("boto3==1.44.5", "botocore==1.44.5")
PIP_PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
# The CLI (typer, rich, moto) never runs in Lambda: ecr_drift/cli/ stays out.
EXCLUDED_PACKAGE_DIRS = ("cli",)
# Console scripts: not importable code.
EXCLUDED_DEPENDENCY_DIRS = ("bin",)
# Clients that the layer's libraries create from this package's botocore (first on the path): Powertools'
# Tracer has aws-xray-sdk make an X-Ray client for its sampling rules at import wherever LAMBDA_TASK_ROOT is
# unset (in Lambda it samples locally). Its model, 24 kB, lets the handler import outside Lambda too.
LAYER_SERVICES = frozenset({"xray"})
# The SDK calls that create a client (or a resource, which also needs boto3/data/<service>) for a service.
SDK_FACTORIES = ("client", "resource")
# Where the SDK keeps one directory of models per service: <package>/data/<service>/<api version>/...
SDK_DATA_DIRS = ("botocore/data/", "boto3/data/")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


class PackageError(Exception):
    """The package cannot be built as the code stands."""


def build_lambda_package(
    out_dir: Path,
    *,
    python_version: str,
    platform: str,
    desired_state: Path = DEFAULT_DESIRED_STATE,
    include_dependencies: bool = True,
) -> Path:
    """Write the function's zip into ``out_dir`` and return its path.

    ``desired_state`` is the stack's file (``desiredStatePath``), packaged as ``desired_state.json``.
    ``platform`` is a pip platform tag (see :data:`PIP_PLATFORMS`). With ``include_dependencies=False`` the
    zip holds only the project's own files (fast and offline, for tests).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = dict(_project_files(desired_state))
    if include_dependencies:
        services = LAYER_SERVICES | used_services(p for name, p in entries.items() if name.endswith(".py"))
        dependencies = _cached_dependencies(out_dir, python_version=python_version, platform=platform)
        entries.update(
            (name, path)
            for name, path in _tree(dependencies, exclude_dirs=EXCLUDED_DEPENDENCY_DIRS)
            if not _is_unused_model(name, services)
        )
    suffix = "" if include_dependencies else "-no-deps"
    # Stacks with different desired states share the build directory: each content gets a zip of its own, so
    # that one stack's build never replaces the zip another's preview or update is about to upload.
    state = hashlib.sha256(desired_state.read_bytes()).hexdigest()[:12]
    archive = out_dir / f"ecr-drift-enforcer-py{python_version}-{platform}{suffix}-{state}.zip"
    _write_zip(archive, entries)
    return archive


def used_services(sources: Iterable[Path]) -> frozenset[str]:
    """The AWS services that the modules ``sources`` create clients or resources for.

    The service named, first argument or ``service_name=``, by every ``<anything>.client(...)`` and
    ``<anything>.resource(...)`` call: boto3's ``Session`` methods and module functions. A name that is not a
    string literal fails the build, rather than ship a package whose client would fail to load in Lambda.
    """
    services: set[str] = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SDK_FACTORIES
            ):
                continue
            keyword = next((k.value for k in node.keywords if k.arg == "service_name"), None)
            service = node.args[0] if node.args else keyword
            if not (isinstance(service, ast.Constant) and isinstance(service.value, str)):
                raise PackageError(
                    f"{path}:{node.lineno}: .{node.func.attr}() without a literal service name: the package "
                    "ships only the SDK models of the services named in the code"
                )
            services.add(service.value)
    return frozenset(services)


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


def _project_files(desired_state: Path) -> Iterator[tuple[str, Path]]:
    for package, excluded in (("handler", ()), ("ecr_drift", EXCLUDED_PACKAGE_DIRS)):
        for name, path in _tree(ROOT / package, exclude_dirs=excluded):
            yield f"{package}/{name}", path
    yield "desired_state.json", desired_state  # whatever the stack's file is called


def _tree(base: Path, *, exclude_dirs: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    """Files under ``base`` by their archive name, without byte code and the excluded top-level dirs."""
    for path in base.rglob("*"):
        name = path.relative_to(base).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if any(name == d or name.startswith(f"{d}/") for d in exclude_dirs):
            continue
        yield name, path


def _is_unused_model(name: str, services: frozenset[str]) -> bool:
    """Whether ``name`` lies in the model directory of a service not in ``services`` (``botocore/data/iam/``).

    The files directly in ``botocore/data`` (endpoints, partitions, retry and defaults configuration) serve
    every client: they are kept.
    """
    for data in SDK_DATA_DIRS:
        if name.startswith(data) and "/" in name[len(data) :]:
            return name[len(data) :].split("/", 1)[0] not in services
    return False


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
