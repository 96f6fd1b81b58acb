"""Fail fast and say why (issue 18): an endpoint that cannot be reached, or a region that does not exist, is
one line on stderr and exit 1 within seconds, in every command that talks to AWS; throttling is still retried.

The endpoint is a port on 127.0.0.1 that was just bound and closed: connections to it are refused.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ProxyConnectionError
from botocore.httpsession import URLLib3Session
from botocore.retries import bucket, standard
from moto.core.botocore_stubber import MockRawResponse
from typer.testing import CliRunner

from ecr_drift.aws.clients import MAX_ATTEMPTS, AwsClients
from ecr_drift.cli import account
from ecr_drift.cli.app import app
from ecr_drift.cli.errors import explain
from tests.cli.sandbox_process import ECR_DRIFT, cli_environment
from tests.conftest import EXAMPLE_PATH, REGION

runner = CliRunner()
ACCEPTED_S = 5.0  # the bound, wall time, for a whole command
DESIRED = ["--desired", str(EXAMPLE_PATH)]
# Every command that talks to AWS, as a person would type it against an endpoint (added by the test).
COMMANDS = {
    "plan": ["plan", *DESIRED],
    "audit": ["audit", *DESIRED],
    "audit -r": ["audit", *DESIRED, "-r", "temporal-worker"],
    "enforce --yes": ["enforce", *DESIRED, "--yes"],
    "enforce (confirmation preview)": ["enforce", *DESIRED],
    "import": ["import", "--output", "-"],
    "init --from-account": ["init", "--from-account", "--output", "{tmp}/desired_state.json"],
    "doctor": ["doctor", *DESIRED],
    "doctor --function": ["doctor", *DESIRED, "--function", "ecr-drift-enforcer"],
    "invoke": ["invoke", "--function", "ecr-drift-enforcer"],
}


@pytest.fixture
def refused() -> str:
    """An endpoint on 127.0.0.1 where nothing listens."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """`enforce` without --yes shows its plan and asks, as on a terminal."""
    monkeypatch.setattr(account, "stdin_is_terminal", lambda: True)


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every HTTP request any botocore client sends (its URL). Sent only to 127.0.0.1: any other host is
    refused here, without a packet leaving the machine."""
    sent: list[str] = []
    send = URLLib3Session.send

    def recorded(self: URLLib3Session, request: AWSPreparedRequest) -> Any:
        sent.append(request.url)
        if not request.url.startswith("http://127.0.0.1:"):
            raise EndpointConnectionError(
                endpoint_url=request.url, error=ConnectionRefusedError(111, "Refused")
            )
        return send(self, request)

    monkeypatch.setattr(URLLib3Session, "send", recorded)
    return sent


@pytest.fixture
def no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retry backoff and adaptive rate limiting decide as usual but do not sleep."""
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    monkeypatch.setattr(bucket.TokenBucket, "_sleep_amount", lambda self, amount: 0.0)


def _run(args: list[str], tmp_path: Path) -> tuple[Any, float]:
    started = time.monotonic()
    result = runner.invoke(app, [arg.replace("{tmp}", str(tmp_path)) for arg in args])
    return result, time.monotonic() - started


# ---------------------------------------------------------------------------------------------------------
# An endpoint that cannot be reached


@pytest.mark.parametrize("command", COMMANDS)
def test_a_refused_endpoint_is_one_line_and_exit_1_within_5_s(
    command: str, refused: str, terminal: None, sends: list[str], tmp_path: Path
) -> None:
    result, seconds = _run([*COMMANDS[command], "--endpoint-url", refused], tmp_path)

    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"error: cannot reach {refused}: connection refused; check --endpoint-url and --region"
    ]
    assert seconds <= ACCEPTED_S
    # One request: it is not retried, and no later call of the run tries the endpoint again.
    assert len(sends) == 1
    assert sends[0].startswith(refused)
    assert not (tmp_path / "desired_state.json").exists()  # init wrote nothing


def test_plan_audit_and_import_print_nothing_on_stdout_when_unreachable(refused: str, tmp_path: Path) -> None:
    for command in ("plan", "audit", "import"):
        result, _ = _run([*COMMANDS[command], "--endpoint-url", refused], tmp_path)
        assert result.stdout == "", command  # no table of `failed` rows, no partial desired state


def test_doctor_says_it_once_and_skips_the_checks_that_need_the_endpoint(refused: str) -> None:
    result = runner.invoke(
        app, ["doctor", *DESIRED, "--function", "f", "--endpoint-url", refused, "--format", "json"]
    )

    assert result.exit_code == 1
    checks = {check["check"]: check for check in json.loads(result.stdout)}
    assert checks.pop("connection") == {
        "check": "connection",
        "status": "fail",
        "detail": f"cannot reach {refused}: connection refused; check --endpoint-url and --region",
    }
    assert checks  # every other check, account and function alike
    for check in checks.values():
        assert check["status"] == "skip"
        assert check["detail"] == f"skipped: {refused} cannot be reached (see connection)"


def test_doctor_says_which_endpoint_answered_and_who_the_caller_is(aws: None) -> None:
    result = runner.invoke(app, ["doctor", *DESIRED, "--format", "json"])
    [connection] = [check for check in json.loads(result.stdout) if check["check"] == "connection"]
    assert connection == {
        "check": "connection",
        "status": "pass",
        "detail": f"https://sts.{REGION}.amazonaws.com answered: account 123456789012, "
        "caller arn:aws:sts::123456789012:user/moto",
    }


@pytest.mark.slow
def test_the_installed_command_fails_within_5_s(refused: str) -> None:
    """The same, as a person runs it: a process, its start included."""
    assert ECR_DRIFT, "the ecr-drift console script is installed next to the interpreter"
    started = time.monotonic()
    done = subprocess.run(
        [ECR_DRIFT, "audit", *DESIRED, "--endpoint-url", refused],
        capture_output=True,
        text=True,
        env=cli_environment(REGION),
        timeout=60,
        check=False,
    )
    seconds = time.monotonic() - started

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: cannot reach {refused}: connection refused; check --endpoint-url and --region"
    ]
    assert seconds <= ACCEPTED_S


@pytest.fixture
def lost_connection(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's ECR client reaches moto for the listing, then loses the connection: every later
    GetLifecyclePolicy is refused. Returns the endpoint that then cannot be reached."""
    endpoint = f"https://api.ecr.{REGION}.amazonaws.com"
    build = account.AccountOptions.clients

    def refusing(request: AWSPreparedRequest, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=request.url, error=ConnectionRefusedError(111, "Refused"))

    def clients(self: account.AccountOptions) -> AwsClients:
        made = build(self)
        made.ecr.meta.events.register("before-send.ecr.GetLifecyclePolicy", refusing)
        return made

    monkeypatch.setattr(account.AccountOptions, "clients", clients)
    client = boto3.client("ecr", region_name=REGION)
    for name in ("temporal-worker", "utila-cosigner", "admin-dashboard"):
        client.create_repository(repositoryName=name)
    return endpoint


@pytest.mark.parametrize("command", ["plan", "audit", "enforce --yes", "import"])
def test_a_connection_lost_midway_stops_the_run_with_one_line(
    command: str, lost_connection: str, tmp_path: Path
) -> None:
    result, _ = _run(COMMANDS[command], tmp_path)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: cannot reach {lost_connection}: refused; check --endpoint-url and --region"
    ]
    assert result.stdout == ""  # not a `failed` row per repository


# ---------------------------------------------------------------------------------------------------------
# Retries: connection errors given up in the CLI only; throttling retried everywhere


def _attempts(sends: list[str], call: Callable[[], Any]) -> int:
    before = len(sends)
    with pytest.raises(EndpointConnectionError):
        call()
    return len(sends) - before


def test_the_cli_gives_an_unreachable_endpoint_up_at_once(
    refused: str, sends: list[str], no_waits: None
) -> None:
    clients = AwsClients(endpoint_url=refused, fail_fast=True)
    assert _attempts(sends, clients.ecr.describe_repositories) == 1  # not retried
    # Nor tried again, by any client of the run: each would wait out its own connect timeout.
    assert _attempts(sends, clients.ecr.describe_registry) == 0
    assert _attempts(sends, clients.sts.get_caller_identity) == 0
    assert clients.unreachable is not None
    with pytest.raises(EndpointConnectionError):
        clients.raise_unreachable()


def test_the_lambda_retries_connection_errors(refused: str, sends: list[str], no_waits: None) -> None:
    """Inside AWS a connection error is a blip: the Lambda's clients retry it as botocore's adaptive mode
    does (the first attempt, then MAX_ATTEMPTS retries), and try again on the next call."""
    clients = AwsClients(endpoint_url=refused)
    assert _attempts(sends, clients.ecr.describe_repositories) == MAX_ATTEMPTS + 1
    assert _attempts(sends, clients.ecr.describe_registry) == MAX_ATTEMPTS + 1
    assert clients.unreachable is None
    clients.raise_unreachable()  # nothing to raise


@pytest.mark.parametrize("fail_fast", [True, False])
def test_throttling_is_still_retried(fail_fast: bool, no_waits: None) -> None:
    """ECR answers ThrottlingException twice, then the listing: the call succeeds on its third attempt."""
    clients = AwsClients(endpoint_url="https://ecr.invalid", fail_fast=fail_fast)
    attempts: list[int] = []
    throttled: dict[str, Any] = {"__type": "ThrottlingException", "message": "Rate exceeded"}

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        attempts.append(1)
        status, body = (400, throttled) if len(attempts) <= 2 else (200, {"repositories": []})
        raw = MockRawResponse(json.dumps(body))
        return AWSResponse(request.url, status, {}, raw)  # type: ignore[arg-type]

    # At before-send, inside botocore's retry loop, so that its retry mode really handles the answer.
    clients.ecr.meta.events.register("before-send.ecr.DescribeRepositories", answer)  # type: ignore[arg-type]

    assert clients.ecr.describe_repositories()["repositories"] == []
    assert len(attempts) == 3


# ---------------------------------------------------------------------------------------------------------
# A region that does not exist


@pytest.fixture
def profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A profile whose region is mistyped."""
    config = tmp_path / "config"
    config.write_text("[profile typo]\nregion = eu-wst-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return "typo"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "enforce (confirmation preview)"])
@pytest.mark.parametrize("source", ["--region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile"])
def test_an_unknown_region_is_refused_with_a_suggestion_before_any_request(
    command: str,
    source: str,
    profile: str,
    sends: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    args = [*COMMANDS[command]]
    if source == "--region":
        args += ["--region", "eu-wst-1"]
    elif source == "profile":
        args += ["--profile", profile]
    else:
        monkeypatch.setenv(source, "eu-wst-1")

    result, _ = _run(args, tmp_path)

    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        "error: unknown AWS region eu-wst-1 (did you mean eu-west-1?): check --region, or AWS_REGION, "
        "AWS_DEFAULT_REGION and the profile's region"
    ]
    assert sends == []


def test_a_region_of_another_partition_is_known(aws: None) -> None:
    result = runner.invoke(app, ["audit", *DESIRED, "--region", "cn-north-1", "--format", "json"])
    assert result.stderr == ""
    assert json.loads(result.stdout)["findings"]  # moto's empty registry in China: drift


def test_a_region_far_from_any_has_no_suggestion(sends: list[str]) -> None:
    result = runner.invoke(app, ["audit", *DESIRED, "--region", "xyz"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unknown AWS region xyz: check --region")
    assert sends == []


@pytest.mark.parametrize("how", ["--endpoint-url", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR"])
def test_with_an_endpoint_given_any_region_goes(
    how: str, refused: str, sends: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local double (`ecr-drift sandbox`, LocalStack) takes any region name: it is not refused."""
    args = ["audit", *DESIRED, "--region", "eu-wst-1"]
    if how == "--endpoint-url":
        args += [how, refused]
    else:
        monkeypatch.setenv(how, refused)

    result = runner.invoke(app, args)

    assert result.stderr.splitlines() == [
        f"error: cannot reach {refused}: connection refused; check --endpoint-url and --region"
    ]
    assert sends


# ---------------------------------------------------------------------------------------------------------
# The sentences


def test_a_connect_timeout_and_a_proxy_are_explained_in_one_line() -> None:
    timeout = ConnectTimeoutError(endpoint_url="https://api.ecr.eu-west-1.amazonaws.com/", error="timed out")
    assert explain(timeout) == (
        "cannot reach https://api.ecr.eu-west-1.amazonaws.com: connection timed out; "
        "check --endpoint-url and --region"
    )
    proxy = ProxyConnectionError(proxy_url="http://proxy:3128", error=ConnectionRefusedError(111, "Refused"))
    assert (
        explain(proxy)
        == "cannot reach the proxy http://proxy:3128: refused; check HTTPS_PROXY and HTTP_PROXY"
    )
