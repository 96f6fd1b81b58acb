"""Shared fixtures. Tests never need an AWS account, the network or ../shared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from handler.desired import DesiredState, load_desired_state

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PATH = ROOT / "desired_state.json"
EVENTS_DIR = Path(__file__).resolve().parent / "events"
REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account


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

    from handler.cli.ecr_double import install_ecr_double

    install_ecr_double()
    with mock_aws():
        yield
