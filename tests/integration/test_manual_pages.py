"""A manual sweep through the deployed function, a page at a time: each invoke stays within 900 s and
6 MB, and `ecr-drift invoke` follows the pages into one report."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import Any

import boto3
import jsonschema
import pytest
from typer.testing import CliRunner

from ecr_drift.cli import account
from ecr_drift.cli.app import app
from ecr_drift.cli.lambda_context import FakeLambdaContext
from tests.cli.test_account_commands import REPORT_SCHEMA
from tests.conftest import REGION
from tests.lambda_harness import invoke


@pytest.fixture
def repositories(handler_env: None) -> list[str]:
    """The example account enforced, and its repositories in name order."""
    assert invoke({"action": "enforce"})["status"] == "ok"
    ecr = boto3.client("ecr", region_name=REGION)
    return sorted(r["repositoryName"] for r in ecr.describe_repositories()["repositories"])


def test_a_manual_sweep_answers_a_page_at_a_time(repositories: list[str]) -> None:
    ecr = boto3.client("ecr", region_name=REGION)
    last = repositories[-1]
    ecr.put_image_scanning_configuration(
        repositoryName=last, imageScanningConfiguration={"scanOnPush": False}
    )
    pages = [invoke({"action": "audit", "page_size": 2})]
    while "next_page" in pages[-1]:
        pages.append(invoke({"action": "audit", "page_size": 2, "start_after": pages[-1]["next_page"]}))

    assert len(pages) == (len(repositories) + 1) // 2
    assert [page["repositories_checked"] for page in pages] == [
        repositories[i : i + 2] for i in range(0, len(repositories), 2)
    ]
    assert pages[0]["next_page"] == repositories[1]
    # The registry is checked once, on the first page; the drift shows on the page of its repository.
    assert [f["resource"] for page in pages for f in page["findings"]] == [last]


def test_start_after_pages_a_sweep_only(handler_env: None) -> None:
    response = invoke({"action": "audit", "repositories": ["a1"], "start_after": "a0"})

    assert response["status"] == "ignored"
    assert "start_after pages a sweep" in response["reason"]


def test_ecr_drift_invoke_follows_the_pages_into_one_report(
    repositories: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    payloads: list[dict[str, Any]] = []

    class Function:
        """The deployed function, in-process: the CLI's invoke runs the handler itself."""

        def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
            payloads.append(json.loads(Payload))
            answer = invoke(json.loads(Payload), FakeLambdaContext())
            return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    class Session(boto3.Session):
        """A real session (its region is checked against botocore's data) whose clients are the function."""

        def client(self, *_: Any, **__: Any) -> Any:
            return Function()

    # The CLI's boto3 only: the handler it runs makes its own clients of the real (moto) one.
    monkeypatch.setattr(account, "boto3", SimpleNamespace(Session=Session))

    result = CliRunner().invoke(app, ["invoke", "--function", "f", "--page-size", "2", "--format", "json"])

    assert result.exit_code == 0, result.output
    # The in-process function logs to the same stdout: its lines are JSON objects of their own.
    ours = [line for line in result.stdout.splitlines() if not line.startswith(('{"level"', '{"_aws"'))]
    report = json.loads("\n".join(ours))
    assert report["repositories_checked"] == repositories
    assert report["pages"] == len(payloads) == (len(repositories) + 1) // 2
    assert [p.get("start_after") for p in payloads] == [None, *repositories[1:-1:2]]
    assert report["findings"] == []
    jsonschema.validate(report, REPORT_SCHEMA)
    for page in payloads:
        assert page["page_size"] == 2
