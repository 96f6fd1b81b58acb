"""Runs the real Pulumi program (infra/__main__.py) under ``pulumi.runtime.set_mocks``.

Each stack's ``Pulumi.<stack>.yaml`` is loaded into the mocked config the way the Pulumi CLI passes it
(strings; lists and maps as JSON). A recording monitor keeps what the engine would receive for every
resource: inputs, parent, explicit dependencies, ``protect``, ``retainOnDelete`` and the import id. The Lambda
package is built for real, without the pip install of its pinned SDK (``test_package.py`` covers that).
"""

from __future__ import annotations

import json
import re
import runpy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.conftest import ACCOUNT_ID, REGION

INFRA = Path(__file__).resolve().parents[2] / "infra"
PROJECT = "ecr-drift-enforcer"
STACKS = ("dev", "prod")
# The layer version the mocked `/aws/service/powertools/python/<arch>/<runtime>/latest` parameters name.
POWERTOOLS_LATEST_LAYER_VERSION = 31
_POWERTOOLS_PARAMETER = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>arm64|x86_64)/python(?P<major>3)\.(?P<minor>1[0-9])/latest$"
)


@dataclass(frozen=True)
class Registered:
    """One resource as the engine would see it."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    parent: str
    dependencies: tuple[str, ...]
    protect: bool
    retain_on_delete: bool
    import_id: str


@dataclass(frozen=True)
class StackRun:
    stack: str
    resources: list[Registered]
    outputs: dict[str, Any]

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> Registered:
        (match,) = [r for r in self.of_type(type_) if r.name == name]
        return match


class StackMocks(pulumi.runtime.Mocks):
    """Outputs shaped like the provider's: ARNs, URLs and versions the program passes on."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        name = state.get("name") or args.name
        kind = args.typ.split(":")[1].split("/")[0]
        arn = {
            "aws:ecr/repository:Repository": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{name}",
            "aws:iam/role:Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
            "aws:lambda/function:Function": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            "aws:sqs/queue:Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
            "aws:sns/topic:Topic": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}",
            "aws:cloudwatch/eventRule:EventRule": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}",
            "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}",
            "aws:s3/bucket:Bucket": f"arn:aws:s3:::{name}",
        }.get(args.typ, f"arn:aws:{kind}:{REGION}:{ACCOUNT_ID}:{name}")
        state.setdefault("arn", arn)
        state.setdefault("name", name)
        if args.typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{name}"
        elif args.typ == "aws:lambda/function:Function":
            state["version"] = "7"
        elif args.typ == "aws:lambda/alias:Alias":
            state["arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{state['functionName']}:{name}"
        elif args.typ == "aws:sqs/queue:Queue":
            state["url"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
        return f"{name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = f"arn:aws:iam::{ACCOUNT_ID}:user/deployer"
            return {"accountId": ACCOUNT_ID, "arn": arn, "id": ACCOUNT_ID, "userId": "AIDAEXAMPLE"}
        if args.token == "aws:ssm/getParameter:getParameter":
            return _powertools_parameter(args.args["name"])
        raise AssertionError(f"unexpected provider call {args.token}")


def _powertools_parameter(name: str) -> dict[str, Any]:
    """Powertools' public parameter as SSM returns it: a String whose value is the layer version's ARN."""
    match = _POWERTOOLS_PARAMETER.match(name)
    assert match, f"unexpected SSM parameter {name}"
    layer = f"AWSLambdaPowertoolsPythonV3-python{match['major']}{match['minor']}-{match['arch']}"
    arn = f"arn:aws:lambda:{REGION}:017000801446:layer:{layer}:{POWERTOOLS_LATEST_LAYER_VERSION}"
    return {
        "arn": f"arn:aws:ssm:{REGION}::parameter{name}",
        "id": name,
        "name": name,
        "type": "String",
        "value": arn,
        "insecureValue": arn,
        "version": 42,
        "withDecryption": True,
        "region": REGION,
    }


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.requests: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # the engine's RPC name
        response = super().RegisterResource(request)
        self.requests[response.urn] = request
        return response


def stack_yaml(stack: str) -> dict[str, Any]:
    """The ``config`` of ``Pulumi.<stack>.yaml`` as written (typed YAML values)."""
    config: dict[str, Any] = yaml.safe_load((INFRA / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config


def stack_config(stack: str) -> dict[str, str]:
    """``Pulumi.<stack>.yaml`` as the CLI hands it to a program: every value a string."""
    return {key: _config_text(value) for key, value in stack_yaml(stack).items()}


def example_stack_config(stack: str) -> dict[str, str]:
    """``stack_config`` plus ``allowExampleDesiredState``: the tests deploy the shipped example on purpose."""
    return {**stack_config(stack), "ecr-drift-enforcer:allowExampleDesiredState": "true"}


def _config_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)  # true/false, numbers, lists and maps: what Config.get_bool/int/object parse


def run_under_mocks(stack: str, config: dict[str, str], program: Callable[[], object]) -> StackRun:
    """Run ``program`` as a Pulumi program of ``stack`` under mocks; raises what the program raises."""
    monitor = RecordingMonitor(StackMocks())
    pulumi_settings.ROOT.set(None)  # a fresh root stack resource for every run
    pulumi.runtime.set_mocks(StackMocks(), project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config)
    _sync_await(run_pulumi_func(program))
    resources = [
        Registered(
            type=request.type,
            name=request.name,
            urn=urn,
            inputs=monitor.resources[urn].state,
            parent=request.parent,
            dependencies=tuple(request.dependencies),
            protect=request.protect,
            retain_on_delete=request.retainOnDelete,
            import_id=request.importId,
        )
        for urn, request in monitor.requests.items()
        if urn in monitor.resources  # not the root stack
    ]
    root = pulumi_settings.get_root_resource()
    assert root is not None
    outputs = {
        key: _sync_await(pulumi.Output.from_input(value).future()) for key, value in root.outputs.items()
    }
    return StackRun(stack, resources, outputs)


def run_program(stack: str, config: dict[str, str]) -> StackRun:
    """Run infra/__main__.py, the real program, for ``stack``."""
    return run_under_mocks(
        stack, config, lambda: runpy.run_path(str(INFRA / "__main__.py"), run_name="__main__")
    )


@pytest.fixture(scope="module")
def program_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The package lands in a temporary build dir, and its SDK install is skipped (tested on its own)."""
    build_dir = tmp_path_factory.mktemp("infra-build")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("infra.package.DEFAULT_BUILD_DIR", build_dir)
        patch.setattr("infra.package.install_dependencies", lambda target, **_: target.mkdir(exist_ok=True))
        yield build_dir


@pytest.fixture(params=STACKS)
def stack_run(request: pytest.FixtureRequest) -> StackRun:
    """Each stack in turn, for what both must satisfy."""
    run: StackRun = request.getfixturevalue(request.param)
    return run


@pytest.fixture(scope="module")
def dev(program_env: Path) -> StackRun:
    return run_program("dev", example_stack_config("dev"))


@pytest.fixture(scope="module")
def prod(program_env: Path) -> StackRun:
    return run_program("prod", example_stack_config("prod"))
