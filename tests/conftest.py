"""Shared fixtures. Tests never need an AWS account, the network or ../shared."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from ecr_drift.aws.clients import AwsClients
from ecr_drift.desired import DesiredState, load_desired_state

# No per-example deadline: CI shares two cores with pytest-xdist workers, and timing is what the benchmark
# measures, not the property tests.
settings.register_profile("ecr-drift", deadline=None)
settings.load_profile("ecr-drift")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PATH = ROOT / "desired_state.json"
EVENTS_DIR = Path(__file__).resolve().parent / "events"
REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
# Operations that destroy images or repositories (or rewrite images): no client of the product may call them.
FORBIDDEN_OPERATIONS = frozenset(
    {"DeleteRepository", "BatchDeleteImage", "PutImage", "UpdateImageStorageClass"}
)


@pytest.fixture(scope="session")
def example_state() -> DesiredState:
    return load_desired_state(EXAMPLE_PATH)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region for every test, so nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.fixture
def aws() -> Iterator[None]:
    """moto in-process, with the project's double for what moto lacks (pull-through cache rules, ...)."""
    from moto import mock_aws

    from ecr_drift.cli.ecr_double import install_ecr_double

    install_ecr_double()
    with mock_aws():
        yield


# ---- never delete, across the whole suite ----------------------------------------------------------------


class ProductCalls:
    """Every operation called by a client the product created (through ``AwsClients``), by test.

    Clients a test builds itself (a human deleting a repository, arranging an account) are not recorded.
    """

    def __init__(self) -> None:
        self.tests_by_operation: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def record(self, model: Any, **_: Any) -> None:
        # pytest keeps the running test's id in the environment: "path::name (call)".
        test = os.environ.get("PYTEST_CURRENT_TEST", "(outside any test)").rsplit(" ", 1)[0]
        with self._lock:
            self.tests_by_operation.setdefault(model.name, set()).add(test)

    def merge(self, tests_by_operation: dict[str, list[str]]) -> None:
        for operation, tests in tests_by_operation.items():
            self.tests_by_operation.setdefault(operation, set()).update(tests)

    def forbidden(self) -> dict[str, set[str]]:
        return {op: tests for op, tests in self.tests_by_operation.items() if op in FORBIDDEN_OPERATIONS}

    def forget(self, test: str) -> None:
        """Drop what ``test`` called (the guard's own test violates it on purpose)."""
        with self._lock:
            for tests in self.tests_by_operation.values():
                tests.discard(test)

    def verdict(self) -> str | None:
        """None when nothing forbidden was called, else what was and by which tests."""
        forbidden = self.forbidden()
        if not any(forbidden.values()):
            return None
        lines = [f"  {op} by {', '.join(sorted(tests))}" for op, tests in sorted(forbidden.items()) if tests]
        return "the product called operations that destroy images or repositories:\n" + "\n".join(lines)


PRODUCT_CALLS = ProductCalls()


def _recording(create: Callable[[AwsClients], Any]) -> Callable[[AwsClients], Any]:
    def client(self: AwsClients) -> Any:
        made = create(self)
        made.meta.events.register("before-call.*.*", PRODUCT_CALLS.record)
        return made

    return client


@pytest.fixture(scope="session", autouse=True)
def _product_calls_recorded() -> Iterator[ProductCalls]:
    """Every client ``AwsClients`` hands out, whatever the service (its lazily created properties), records
    its operations into ``PRODUCT_CALLS``; ``pytest_sessionfinish`` fails the run on a forbidden one."""
    with pytest.MonkeyPatch.context() as patch:
        for name, attribute in list(vars(AwsClients).items()):
            if isinstance(attribute, cached_property):
                recorded = cached_property(_recording(attribute.func))
                recorded.__set_name__(AwsClients, name)
                patch.setattr(AwsClients, name, recorded)
        yield PRODUCT_CALLS


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its exit status is ignored, the controller judges
        workeroutput["product_calls"] = {op: sorted(t) for op, t in PRODUCT_CALLS.tests_by_operation.items()}
        return
    if PRODUCT_CALLS.verdict() is not None:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist: gather what each worker's product clients called."""
    PRODUCT_CALLS.merge(getattr(node, "workeroutput", {}).get("product_calls", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    verdict = PRODUCT_CALLS.verdict()
    if verdict is not None:
        terminalreporter.section("never delete", sep="=", red=True, bold=True)
        terminalreporter.write_line(verdict, red=True)
