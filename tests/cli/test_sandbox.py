"""`ecr-drift sandbox` as a subprocess: it serves what plain moto_server lacks and stops cleanly; and an
endpoint that lacks an API (answering with an HTML error page, as plain moto_server does) is explained in
one line, never shown as a page of HTML."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from ecr_drift.aws import clients as aws_clients
from ecr_drift.aws.errors import error_text
from ecr_drift.cli.app import app
from ecr_drift.cli.errors import explain
from tests.cli.sandbox_process import ECR_DRIFT, running_sandbox
from tests.conftest import EXAMPLE_PATH, REGION

runner = CliRunner()
# What plain moto_server (Flask) answers for an API it does not implement.
FLASK_500 = (
    b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
    b"<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to "
    b"complete your request. Either the server is overloaded or there is an error in the application.</p>\n"
)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_sandbox_serves_the_pull_through_cache_api_and_stops_cleanly(signum: signal.Signals) -> None:
    with running_sandbox() as sandbox:
        ecr = boto3.client("ecr", endpoint_url=sandbox.url, region_name=REGION)
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="ecr-public", upstreamRegistryUrl="public.ecr.aws"
        )
        rules = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
        code, out, err = sandbox.stop(signum)

    assert [(r["ecrRepositoryPrefix"], r["upstreamRegistry"]) for r in rules] == [
        ("ecr-public", "ecr-public")
    ]
    assert code == 0, err
    assert "Traceback" not in err
    assert "sandbox stopped" in err
    for line in (
        f"export AWS_ENDPOINT_URL={sandbox.url}",
        "export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox",
        "export AWS_DEFAULT_REGION=eu-west-1",
    ):
        assert line in out


@pytest.mark.slow
def test_the_environment_the_sandbox_prints_points_ecr_drift_at_it() -> None:
    assert ECR_DRIFT
    with running_sandbox() as sandbox:
        assert sandbox.process.stdout is not None
        exports: dict[str, str] = {}
        while "AWS_DEFAULT_REGION" not in exports:
            line = sandbox.process.stdout.readline()
            assert line, "the sandbox printed no AWS_DEFAULT_REGION"
            if line.strip().startswith("export "):
                exports |= dict(pair.split("=", 1) for pair in line.split()[1:])
        # Nothing else: no --endpoint-url, no region, no credentials but the printed ones.
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **exports}
        env |= {"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        audit = subprocess.run(
            [ECR_DRIFT, "audit", "--desired", str(EXAMPLE_PATH), "--format", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert sandbox.stop()[0] == 0

    assert audit.returncode == 2, audit.stderr  # an empty registry: every managed repository is missing
    findings = json.loads(audit.stdout)["findings"]
    assert not [f for f in findings if f["action"] == "failed"]
    assert {f["resource"] for f in findings if f["setting"] == "repository"} == {
        "utila-cosigner",
        "admin-dashboard",
        "temporal-worker",
        "internal-dashboard",
    }


def test_a_port_in_use_is_one_line_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["sandbox", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use: "
        "choose another --port (0 picks a free one)"
    ]


def test_without_moto_the_sandbox_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in an install without the `demo` extra: the double is not imported yet and moto.server is absent.
    monkeypatch.delitem(sys.modules, "ecr_drift.cli.ecr_double", raising=False)
    monkeypatch.setitem(sys.modules, "moto.server", None)
    result = runner.invoke(app, ["sandbox"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: `ecr-drift sandbox` needs the demo extra (moto), which is not installed: "
        "pip install 'ecr-drift-enforcer[demo]'"
    ]


# ---- an endpoint without the API: one line -------------------------------------------------------------


class _Flask500(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(500)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(FLASK_500)))
        self.end_headers()
        self.wfile.write(FLASK_500)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def html_500_endpoint() -> Iterator[str]:
    """An endpoint that answers every call with Flask's HTML error page, as plain moto_server answers the
    APIs it lacks."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flask500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _html_500_error(endpoint: str) -> ClientError:
    ecr = boto3.client(
        "ecr", endpoint_url=endpoint, region_name=REGION, config=Config(retries={"total_max_attempts": 1})
    )
    with pytest.raises(ClientError) as raised:
        ecr.describe_pull_through_cache_rules()
    return raised.value


ONE_LINE = (
    "the endpoint does not implement ecr:DescribePullThroughCacheRules (it answered HTTP 500 with an HTML "
    "page): use `ecr-drift sandbox`"
)


def test_an_html_error_page_is_one_line_in_a_finding_and_in_an_explanation(html_500_endpoint: str) -> None:
    error = _html_500_error(html_500_endpoint)
    assert error_text(error) == ONE_LINE
    assert explain(error) == ONE_LINE


def test_an_audit_against_an_endpoint_without_the_apis_shows_no_html(
    html_500_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aws_clients, "MAX_ATTEMPTS", 1)  # the engine retries a 500 otherwise, for seconds
    result = runner.invoke(
        app,
        ["audit", "--endpoint-url", html_500_endpoint, "--desired", str(EXAMPLE_PATH), "--format", "json"],
    )
    assert result.exit_code == 1  # every read failed
    errors = [f["error"] for f in json.loads(result.stdout)["findings"] if f["action"] == "failed"]
    assert errors
    assert not [e for e in errors if "<" in e or "\n" in e or "does not implement ecr:" not in e]
    assert any("does not implement ecr:DescribePullThroughCacheRules" in e for e in errors)
