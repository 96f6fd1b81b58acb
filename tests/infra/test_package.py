"""The Lambda package: what goes in, that it is reproducible and lean, and that the handler imports and runs,
and creates every client it can, in an environment holding only the package and what the Powertools layer
provides.

The clean environment is a ``python -I -S`` subprocess (no site-packages, no PYTHON* variables) whose
``sys.path`` is the unpacked zip (Lambda's /var/task, first on the path there too) and a "layer" directory
into which the test copies, from this venv, only the distributions the Powertools v3 layer ships that the
code needs: Powertools, pydantic (and its core, annotated-types, typing-extensions, typing-inspection),
aws-xray-sdk (and wrapt) and jmespath. The runtime's own boto3 is left out on purpose: the zip's pinned
SDK must be the one imported.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_drift.aws.clients import AwsClients
from infra.package import (
    LAMBDA_REQUIREMENTS,
    LAYER_SERVICES,
    PIP_PLATFORMS,
    ROOT,
    PackageError,
    build_lambda_package,
    used_services,
)
from tests.conftest import EVENTS_DIR

PLATFORM = PIP_PLATFORMS["arm64"]
LAYER_DISTRIBUTIONS = (
    "aws-lambda-powertools",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "typing-inspection",
    "aws-xray-sdk",
    "wrapt",
    "jmespath",
)
LAMBDA_ZIP_LIMIT = 50 * 1024 * 1024  # direct upload
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
LEAN_ZIP_LIMIT = 5_000_000  # issue #14: 17 MB with every service's botocore models, 1.8 MB with the used ones
# The project's own directories in the zip: the entry point and the package.
PROJECT_DIRS = ("handler/", "ecr_drift/")


@pytest.fixture(scope="module")
def bare_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bare")
    return build_lambda_package(out, python_version="3.13", platform=PLATFORM, include_dependencies=False)


@pytest.fixture(scope="module")
def full_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real build: pip installs the pinned SDK for arm64 / Python 3.13 (about 3 s with PyPI reachable)."""
    out = tmp_path_factory.mktemp("full")
    return build_lambda_package(out, python_version="3.13", platform=PLATFORM)


@pytest.fixture(scope="module")
def lambda_dirs(full_package: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The unpacked zip (Lambda's /var/task) and a "layer" directory with the layer's distributions."""
    task = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(full_package) as zf:
        zf.extractall(task)
    layer = tmp_path_factory.mktemp("layer")
    for distribution in LAYER_DISTRIBUTIONS:
        _copy_distribution(distribution, layer)
    return task, layer


def packaged_services(package: Path) -> frozenset[str]:
    """The services the package's own modules create clients for, as the build reads them."""
    with zipfile.ZipFile(package) as zf:
        modules = [ROOT / n for n in zf.namelist() if n.startswith(PROJECT_DIRS) and n.endswith(".py")]
    return used_services(modules)


def test_package_holds_the_entry_the_code_without_the_cli_and_the_desired_state(
    bare_package: Path,
) -> None:
    with zipfile.ZipFile(bare_package) as zf:
        names = zf.namelist()
        assert zf.read("desired_state.json") == (ROOT / "desired_state.json").read_bytes()
    assert "handler/enforce.py" in names
    assert "handler/__init__.py" in names
    assert "ecr_drift/documents/lifecycle.py" in names
    assert not [n for n in names if n.startswith("ecr_drift/cli/")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    sources = [
        p.relative_to(ROOT).as_posix()
        for package in ("handler", "ecr_drift")
        for p in (ROOT / package).rglob("*")
        if p.is_file()
    ]
    expected = [n for n in sources if "__pycache__" not in n and not n.startswith("ecr_drift/cli/")]
    assert names == sorted([*expected, "desired_state.json"])


def test_package_entries_are_sorted_with_fixed_times_and_modes(bare_package: Path) -> None:
    with zipfile.ZipFile(bare_package) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_package_is_reproducible(bare_package: Path, tmp_path: Path) -> None:
    again = build_lambda_package(
        tmp_path, python_version="3.13", platform=PLATFORM, include_dependencies=False
    )
    assert _sha256(again) == _sha256(bare_package)


@pytest.mark.slow
def test_full_package_bundles_the_pinned_sdk_for_the_lambda_platform(
    full_package: Path, tmp_path: Path
) -> None:
    with zipfile.ZipFile(full_package) as zf:
        names = zf.namelist()
        unzipped = sum(i.file_size for i in zf.infolist())
    for requirement in LAMBDA_REQUIREMENTS:
        name, version = requirement.split("==")
        assert f"{name}-{version}.dist-info/METADATA" in names
    assert "handler/enforce.py" in names
    assert "desired_state.json" in names
    assert not [n for n in names if n.startswith("bin/") or n.endswith(".pyc")]
    assert full_package.stat().st_size < LAMBDA_ZIP_LIMIT
    assert unzipped < LAMBDA_UNZIPPED_LIMIT
    # A build elsewhere installs the SDK afresh and still gives the same bytes. (Only the dependencies are
    # compared: the project's own files may be edited between the two builds while the suite runs.)
    again = build_lambda_package(tmp_path, python_version="3.13", platform=PLATFORM)
    assert _dependency_entries(again) == _dependency_entries(full_package)


@pytest.mark.slow
def test_handler_runs_with_only_the_package_and_the_layer(lambda_dirs: tuple[Path, Path]) -> None:
    task, layer = lambda_dirs
    event = json.loads((EVENTS_DIR / "own_role_event.json").read_text())
    script = f"""
import importlib, json, sys
sys.path[:0] = [{str(task)!r}, {str(layer)!r}]
import boto3
import handler.enforce as enforce

class Context:
    function_name = "ecr-drift-enforcer-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ecr-drift-enforcer-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    def get_remaining_time_in_millis(self):
        return 900_000

missing = []
for name in ("typer", "rich", "moto", "ecr_drift.cli"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        missing.append(name)
response = enforce.lambda_handler(json.loads({json.dumps(event)!r}), Context())
print(json.dumps({{"boto3": boto3.__file__, "version": boto3.__version__, "missing": missing,
                  "response": response, "path": sys.path}}))
"""
    environment = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "DESIRED_STATE_PATH": str(task / "desired_state.json"),
        "ENFORCER_ROLE_ARN": "arn:aws:iam::123456789012:role/ecr-drift-enforcer",
        "POWERTOOLS_SERVICE_NAME": "ecr-drift-enforcer",
        "POWERTOOLS_METRICS_NAMESPACE": "ECRDriftEnforcer",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    report = _run_isolated(script, task, environment)
    assert report["boto3"].startswith(str(task))
    assert f"boto3=={report['version']}" in LAMBDA_REQUIREMENTS
    assert report["missing"] == ["typer", "rich", "moto", "ecr_drift.cli"]
    assert report["response"]["status"] == "ignored"
    assert "own role" in report["response"]["reason"]
    assert not [p for p in report["path"] if "site-packages" in p]


def test_used_services_reads_every_client_and_resource_call(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "import boto3\n"
        "queue = boto3.client('sqs')\n"
        "topic = boto3.Session().client(service_name='sns', region_name='eu-west-1')\n"
        "table = boto3.resource('dynamodb')\n"
        "ecr = session.client('ecr', config=config)\n"
    )
    assert used_services([module]) == {"sqs", "sns", "dynamodb", "ecr"}


@pytest.mark.parametrize(
    ("call", "factory"),
    [
        ("session.client(name)", "client"),
        ("session.client()", "client"),
        ("boto3.resource(service_name=f'{name}')", "resource"),
    ],
)
def test_a_service_name_the_build_cannot_read_fails_it(tmp_path: Path, call: str, factory: str) -> None:
    module = tmp_path / "module.py"
    module.write_text(f"import boto3\n\n{call}\n")
    with pytest.raises(PackageError, match=rf"module\.py:3: \.{factory}\(\) without a literal service name"):
        used_services([module])


def test_the_scan_finds_every_client_the_handler_creates(
    bare_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AwsClients' factories, run with a session that records what they ask for, need no service the scan
    of the packaged code missed."""
    session = boto3.Session(region_name="eu-west-1")
    create: Callable[..., Any] = session.client
    asked: list[str] = []

    def client(service_name: str, **options: Any) -> Any:
        asked.append(service_name)
        return create(service_name, **options)

    monkeypatch.setattr(session, "client", client)
    clients = AwsClients(session)
    factories = [name for name, value in vars(AwsClients).items() if isinstance(value, cached_property)]
    for name in factories:
        getattr(clients, name)
    assert len(asked) == len(factories) > 0
    assert set(asked) <= packaged_services(bare_package)


def test_the_package_keeps_only_the_models_of_the_services_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in SDK install, so that what is kept is checked offline."""
    unused = {"botocore/data/iam/2010-05-08/service-2.json.gz", "boto3/data/ec2/2016-11-15/resources-1.json"}
    kept = {
        "botocore/__init__.py",
        "botocore/data/endpoints.json",
        "botocore/data/partitions.json",
        "botocore/data/ecr/2015-09-21/service-2.json.gz",
        "botocore/data/ecr/2015-09-21/paginators-1.json",
        "botocore/data/xray/2016-04-12/service-2.json.gz",
        "botocore/data_file.py",
        "boto3/data/sqs/2012-11-05/resources-1.json",
    }

    def install(target: Path, **_: str) -> None:
        for name in kept | unused:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_text(name)

    monkeypatch.setattr("infra.package.install_dependencies", install)
    archive = build_lambda_package(tmp_path, python_version="3.13", platform="stand-in")
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert names & (kept | unused) == kept


@pytest.mark.slow
def test_full_package_is_lean(full_package: Path) -> None:
    with zipfile.ZipFile(full_package) as zf:
        names = zf.namelist()
    models = {n.split("/")[2] for n in names if n.startswith("botocore/data/") and n.count("/") > 2}
    assert models == LAYER_SERVICES | packaged_services(full_package)
    assert {"botocore/data/endpoints.json", "botocore/data/partitions.json"} <= set(names)
    assert full_package.stat().st_size <= LEAN_ZIP_LIMIT


@pytest.mark.slow
def test_every_client_the_function_creates_loads_from_the_package(
    full_package: Path, lambda_dirs: tuple[Path, Path]
) -> None:
    """Each service's client, with all its paginators and waiters (the code picks some by name at run time),
    then the handler's import and AwsClients' clients, in Lambda's environment (tracing active)."""
    task, layer = lambda_dirs
    services = sorted(LAYER_SERVICES | packaged_services(full_package))
    script = f"""
import json, sys
from functools import cached_property
sys.path[:0] = [{str(task)!r}, {str(layer)!r}]
import boto3, botocore
from botocore import xform_name
import handler.enforce
from ecr_drift.aws.clients import AwsClients

session = boto3.Session(region_name="eu-west-1")
models = {{}}
for name in {services!r}:
    client = session.client(name)
    operations = [xform_name(o) for o in client.meta.service_model.operation_names]
    paginators = [client.get_paginator(o) for o in operations if client.can_paginate(o)]
    waiters = [client.get_waiter(w) for w in client.waiter_names]
    models[name] = [len(operations), len(paginators), len(waiters)]
clients = AwsClients(session)
factories = [n for n, v in vars(AwsClients).items() if isinstance(v, cached_property)]
created = [getattr(clients, n).meta.service_model.service_name for n in factories]
print(json.dumps({{"sdk": [boto3.__file__, botocore.__file__], "models": models, "created": created,
                  "path": sys.path}}))
"""
    environment = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "LAMBDA_TASK_ROOT": str(task),  # as in Lambda: Powertools' Tracer traces
        "POWERTOOLS_SERVICE_NAME": "ecr-drift-enforcer",
    }
    report = _run_isolated(script, task, environment)
    assert all(path.startswith(str(task)) for path in report["sdk"])
    assert sorted(report["models"]) == services
    assert all(operations > 0 for operations, _, _ in report["models"].values())
    assert report["models"]["ecr"][1] > 0  # ecr_drift.aws.observe pages through ECR's reads
    assert report["created"]
    assert set(report["created"]) <= set(services)
    assert not [p for p in report["path"] if "site-packages" in p]


def _copy_distribution(name: str, target: Path) -> None:
    """Copy one installed distribution's files (code and metadata) from this venv into ``target``."""
    distribution = metadata.distribution(name)
    for file in distribution.files or ():
        if ".." in file.parts or "__pycache__" in file.parts:
            continue  # console scripts outside site-packages; byte code
        destination = target / file
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(str(distribution.locate_file(file))), destination)


def _dependency_entries(archive: Path) -> list[tuple[str, int, int]]:
    with zipfile.ZipFile(archive) as zf:
        return [
            (i.filename, i.CRC, i.external_attr)
            for i in zf.infolist()
            if not i.filename.startswith(PROJECT_DIRS) and i.filename != "desired_state.json"
        ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run_isolated(script: str, task: Path, environment: dict[str, str]) -> Any:
    """``script``'s last line of output, as JSON, from a ``python -I -S`` run in ``task``: as in Lambda, it
    sees only the paths the script puts on ``sys.path`` (the unzipped package and the layer's packages)."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        cwd=task,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
