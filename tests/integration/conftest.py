"""Integration fixtures: moto + the ECR double, the engine's client recorded, faults injected by hooks, and
the Lambda handler's environment with its own clients recorded."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from ecr_drift import engine, lambda_function
from ecr_drift.aws.clients import AwsClients
from ecr_drift.cli.ecr_double import set_aws_document_rewriting
from ecr_drift.desired import DesiredState
from ecr_drift.findings import Report
from ecr_drift.role import required_iam_actions
from ecr_drift.targets import Mode, Target, sweep
from tests.aws_calls import AwsCalls
from tests.conftest import FORBIDDEN_OPERATIONS
from tests.lambda_harness import lambda_environment

# Never called by anything the engine does (checked after every test using `calls`; tests/conftest.py
# checks every product client of the session too).
FORBIDDEN = FORBIDDEN_OPERATIONS
Runner = Callable[..., Report]


_BOTOCORE_SESSION: list[botocore.session.Session] = []


@pytest.fixture
def session(aws: None) -> boto3.Session:
    """A session over one botocore session for all tests: each client then reuses the loaded ECR model
    (a fresh session costs ~0.1 s a client). Created inside the first test, so under its fake environment."""
    if not _BOTOCORE_SESSION:
        _BOTOCORE_SESSION.append(botocore.session.get_session())
    return boto3.Session(botocore_session=_BOTOCORE_SESSION[0])


@pytest.fixture
def clients(session: boto3.Session) -> AwsClients:
    # AWS rewrites the policies it returns; moto does not unless asked to.
    set_aws_document_rewriting(True)
    return AwsClients(session, concurrency=4)


@pytest.fixture
def calls(clients: AwsClients) -> Iterator[AwsCalls]:
    """Every call the engine's ECR client makes. After the test: nothing forbidden, nothing undeclared."""
    recorder = AwsCalls().attach(clients.ecr)
    yield recorder
    operations = set(recorder.operations)
    assert not operations & FORBIDDEN, f"forbidden calls: {sorted(operations & FORBIDDEN)}"
    undeclared = {f"ecr:{op}" for op in operations} - set(required_iam_actions())
    assert not undeclared, f"calls not in required_iam_actions(): {sorted(undeclared)}"


@pytest.fixture
def handler_env(aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The function's environment; ``capsys`` first, so the handler's Logger writes where capsys reads."""
    set_aws_document_rewriting(True)  # AWS rewrites the policies it returns; the handler must see through it
    lambda_environment(monkeypatch)


@pytest.fixture
def ecr_calls(monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    """Every ECR call the handler's own clients make, recorded independently of the engine's counter."""
    recorder = AwsCalls()

    def recording_clients(**kwargs: Any) -> AwsClients:
        clients = AwsClients(**kwargs)
        recorder.attach(clients.ecr)
        return clients

    monkeypatch.setattr(lambda_function, "AwsClients", recording_clients)
    return recorder


@pytest.fixture
def ecr(session: boto3.Session) -> Any:
    """A client of its own for arranging the account: its calls are not the engine's, so not recorded."""
    return session.client("ecr")


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def run(clients: AwsClients, calls: AwsCalls, example_state: DesiredState, sleeps: list[float]) -> Runner:
    """``run(mode, target=sweep, state=example)``: the engine, with sleeps recorded instead of slept."""

    def runner(
        mode: Mode, target: Target | None = None, state: DesiredState | None = None, **kw: Any
    ) -> Report:
        return engine.run(
            target or sweep("test"),
            state=state or example_state,
            mode=mode,
            clients=clients,
            sleep=sleeps.append,
            **kw,
        )

    return runner


@pytest.fixture
def baseline(run: Runner, calls: AwsCalls) -> Report:
    """The example desired state applied to an empty account (as a first enforce does), calls forgotten."""
    report = run(Mode.ENFORCE)
    assert report.summary["failed"] == 0, report.findings
    calls.clear()
    return report


FaultInjector = Callable[..., None]


@pytest.fixture
def fail(clients: AwsClients) -> FaultInjector:
    """``fail(operation, code, repository=None)``: that call raises ``code`` (for that repository only)."""

    def inject(operation: str, code: str, repository: str | None = None) -> None:
        def hook(params: dict[str, Any], **_: Any) -> None:
            request = json.loads(params.get("body") or b"{}")
            named = (
                request.get("repositoryName") or request.get("resourceArn", "").rpartition("repository/")[2]
            )
            if repository is None or named == repository:
                raise ClientError({"Error": {"Code": code, "Message": f"injected for {named}"}}, operation)

        clients.ecr.meta.events.register(f"before-call.ecr.{operation}", hook)

    return inject
