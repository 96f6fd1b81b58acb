"""The installed `ecr-drift` as a subprocess, against moto_server (with the project's double) on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest

from ecr_drift.cli.ecr_double import serve
from tests.cli.sandbox_process import ECR_DRIFT, cli_environment
from tests.conftest import EXAMPLE_PATH, REGION

pytestmark = pytest.mark.slow


@pytest.fixture
def endpoint() -> Iterator[str]:
    server, url = serve("127.0.0.1", 0)
    # The server keeps moto's in-process state, which outlives a server: start from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield url
    finally:
        server.stop()


def _ecr_drift(*args: str) -> subprocess.CompletedProcess[str]:
    assert ECR_DRIFT, "the ecr-drift console script is installed next to the interpreter"
    return subprocess.run(
        [ECR_DRIFT, *args],
        capture_output=True,
        text=True,
        env=cli_environment(REGION),
        timeout=120,
        check=False,
    )


def test_audit_enforce_audit_against_moto_server(endpoint: str) -> None:
    common = ["--endpoint-url", endpoint, "--desired", str(EXAMPLE_PATH), "--format", "json"]

    first = _ecr_drift("audit", *common)
    assert first.returncode == 2, first.stderr  # an empty account: every managed repository is missing
    missing = {f["resource"] for f in json.loads(first.stdout)["findings"] if f["setting"] == "repository"}
    assert missing == {"utila-cosigner", "admin-dashboard", "temporal-worker", "internal-dashboard"}

    enforced = _ecr_drift("enforce", "--yes", *common)
    assert enforced.returncode == 0, enforced.stderr
    report = json.loads(enforced.stdout)
    assert report["summary"]["failed"] == 0
    assert report["writes"] > 0

    clean = _ecr_drift("audit", *common)
    assert clean.returncode == 0, clean.stdout
    assert json.loads(clean.stdout)["findings"] == []


def test_table_output_when_piped_has_no_colour_codes(endpoint: str) -> None:
    result = _ecr_drift("plan", "--endpoint-url", endpoint, "--desired", str(EXAMPLE_PATH))
    assert result.returncode == 2
    assert "\x1b[" not in result.stdout
    assert "CreateRepository" in result.stdout
    assert "4 repositories checked, 8 findings, 0 fixed, 0 failed, 0 write calls" in result.stdout
