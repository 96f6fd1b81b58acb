"""`ecr-drift demo` never reaches an endpoint, a profile or credentials of the caller's: it runs on moto
whatever AWS_* the shell holds (`ecr-drift sandbox` asks users to export AWS_ENDPOINT_URL), again and
again, in one process and in new ones, and leaves the caller's environment as it found it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from ecr_drift.cli.app import app
from ecr_drift.cli.demo import demo_environment
from tests.cli.sandbox_process import ECR_DRIFT, running_sandbox
from tests.conftest import REGION, ROOT

runner = CliRunner()
# A desired state small enough for the demo to take a couple of seconds in-process.
SMALL_DESIRED = {"version": 1, "repositories": {"demo": {"scan_on_push": True}}}
# Every kind of AWS setting that could send the demo elsewhere or give it an identity. The URLs are on
# 127.0.0.1 (the in-process test points them at an endpoint that records what reaches it).
ENDPOINT = "http://127.0.0.1:5000"
CALLER_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAREALLOOKING",
    "AWS_SECRET_ACCESS_KEY": "real-secret",
    "AWS_SESSION_TOKEN": "real-session",
    "AWS_SECURITY_TOKEN": "real-session",
    "AWS_PROFILE": "production",
    "AWS_DEFAULT_PROFILE": "production",
    "AWS_CONFIG_FILE": "/home/someone/.aws/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/home/someone/.aws/credentials",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": ENDPOINT,
    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "token",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/token",
    "AWS_ROLE_ARN": "arn:aws:iam::999999999999:role/deployer",
    "AWS_ROLE_SESSION_NAME": "ci",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT": ENDPOINT,
    "AWS_ENDPOINT_URL": ENDPOINT,
    "AWS_ENDPOINT_URL_ECR": ENDPOINT,
    "AWS_ENDPOINT_URL_STS": ENDPOINT,
    "AWS_DEFAULT_REGION": "us-east-1",
}


def test_the_demo_environment_keeps_no_aws_setting_of_the_callers() -> None:
    environment = demo_environment(
        {**CALLER_AWS, "PATH": "/usr/bin", "LANG": "C.UTF-8", "TEST_SERVER_MODE": "true"},
        Path("d.json"),
        False,
    )

    assert "TEST_SERVER_MODE" not in environment

    assert {name: environment[name] for name in ("PATH", "LANG")} == {"PATH": "/usr/bin", "LANG": "C.UTF-8"}
    assert {name: value for name, value in environment.items() if name.startswith("AWS_")} == {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


class _Recorder(BaseHTTPRequestHandler):
    """An endpoint that notes every request it gets and answers each with a 500."""

    requests: list[str]

    def _any(self) -> None:
        self.requests.append(f"{self.command} {self.path} {self.headers.get('X-Amz-Target', '')}")
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = _any

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def recording_endpoint() -> Iterator[tuple[str, list[str]]]:
    """A URL on 127.0.0.1, and the requests it has received."""
    requests: list[str] = []
    handler = type("Handler", (_Recorder,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_demo_runs_twice_in_one_process_reaching_no_endpoint_profile_or_credentials_of_the_callers(
    recording_endpoint: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, requests = recording_endpoint
    # A profile that names the endpoint too, as ~/.aws/config can.
    config = tmp_path / "config"
    config.write_text(f"[profile hostile]\nendpoint_url = {url}\nregion = us-east-1\n")
    for name, value in CALLER_AWS.items():
        monkeypatch.setenv(name, url if value == ENDPOINT else value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.setenv(name, "hostile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    desired = tmp_path / "desired_state.json"
    desired.write_text(json.dumps(SMALL_DESIRED))
    before = dict(os.environ)

    for _ in range(2):
        result = runner.invoke(app, ["demo", "--no-color", "--desired", str(desired)])

        assert result.exit_code == 0, result.output
        assert "Audit clean" in result.stdout
        assert dict(os.environ) == before
    assert requests == []


# ---- as a user runs it: the console script, in new processes ---------------------------------------------


def _demo(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`ecr-drift demo --no-color` in the checkout, as `make demo` runs it, with ``environment`` added."""
    assert ECR_DRIFT
    return subprocess.run(
        [ECR_DRIFT, "demo", "--no-color"],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_clean(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "Audit clean" in demo.stdout
    # The Lambda's JSON log lines show only with --verbose; an unreachable endpoint used to print them.
    raw = [line for line in (demo.stdout + demo.stderr).splitlines() if line.lstrip().startswith("{")]
    assert raw == []


@pytest.mark.slow
def test_the_demo_leaves_the_sandbox_the_shell_points_at_untouched_run_after_run() -> None:
    with running_sandbox() as sandbox:
        exported = {
            "AWS_ENDPOINT_URL": sandbox.url,
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_DEFAULT_REGION": REGION,
        }
        for _ in range(2):
            _assert_clean(_demo(exported))
        ecr = boto3.client(
            "ecr",
            endpoint_url=sandbox.url,
            region_name=REGION,
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
        )
        repositories = ecr.describe_repositories()["repositories"]
        rules = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]

    assert repositories == []
    assert rules == []


@pytest.mark.slow
def test_the_demo_ignores_an_endpoint_nothing_listens_on_and_a_profile_that_does_not_exist() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}"

    # moto's own switch to a server, pointed at the same nothing: the demo answers in-process all the same.
    moto_server = {"TEST_SERVER_MODE": "true", "TEST_SERVER_MODE_ENDPOINT": refused}
    _assert_clean(_demo({"AWS_ENDPOINT_URL": refused, "AWS_PROFILE": "no-such-profile", **moto_server}))
