"""plan, audit, enforce, invoke and demo through the CLI on moto: every exit code, JSON against its schema."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from typer.testing import CliRunner

from ecr_drift.aws.clients import CONNECT_TIMEOUT_S, AwsClients
from ecr_drift.cli import account
from ecr_drift.cli.app import app
from ecr_drift.findings import REPOSITORY, UNMANAGED_REPOSITORY, Action, Finding, Report
from ecr_drift.settings import registry_settings, repository_settings
from tests.aws_calls import AwsCalls
from tests.conftest import EXAMPLE_PATH, REGION, ROOT

runner = CliRunner()
REPORT_SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
DESIRED = ["--desired", str(EXAMPLE_PATH)]


@pytest.fixture
def calls(aws: None, monkeypatch: pytest.MonkeyPatch) -> AwsCalls:
    """Every ECR call the CLI makes (recorded on the clients it builds)."""
    recorder = AwsCalls()
    build = account.AccountOptions.clients

    def recorded(self: account.AccountOptions) -> AwsClients:
        clients = build(self)
        recorder.attach(clients.ecr)
        return clients

    monkeypatch.setattr(account.AccountOptions, "clients", recorded)
    return recorder


@pytest.fixture
def baseline(calls: AwsCalls) -> AwsCalls:
    """An account brought to the desired state by `enforce --yes`."""
    result = runner.invoke(app, ["enforce", "--yes", *DESIRED])
    assert result.exit_code == 0, result.output
    calls.clear()
    return calls


def deny_operation(monkeypatch: pytest.MonkeyPatch, operation: str) -> None:
    """Every client the CLI builds from now on gets AccessDenied on ``operation``."""
    build = account.AccountOptions.clients

    def denied(self: account.AccountOptions) -> AwsClients:
        clients = build(self)

        def deny(model: Any, **_: Any) -> None:
            if model.name == operation:
                error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
                raise ClientError(error, model.name)  # type: ignore[arg-type]

        clients.ecr.meta.events.register("before-call.ecr.*", deny)
        return clients

    monkeypatch.setattr(account.AccountOptions, "clients", denied)


def _drift_scan_on_push() -> None:
    boto3.client("ecr", region_name=REGION).put_image_scanning_configuration(
        repositoryName="utila-cosigner", imageScanningConfiguration={"scanOnPush": False}
    )


def test_audit_of_a_compliant_account_exits_0_without_writes(baseline: AwsCalls) -> None:
    result = runner.invoke(app, ["audit", *DESIRED])
    assert result.exit_code == 0, result.output
    assert "compliant" in result.stdout
    assert "0 write calls" in result.stdout
    assert baseline.calls
    assert baseline.writes == []


def test_audit_finds_drift_exits_2_and_json_matches_the_documented_shape(baseline: AwsCalls) -> None:
    _drift_scan_on_push()
    result = runner.invoke(app, ["audit", *DESIRED, "--format", "json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert [
        (f["resource"], f["setting"], f["expected"], f["actual"], f["action"]) for f in report["findings"]
    ] == [("utila-cosigner", "scan_on_push", True, False, "drift")]
    assert baseline.writes == []


def test_plan_shows_the_calls_enforce_would_make_and_writes_nothing(baseline: AwsCalls) -> None:
    _drift_scan_on_push()
    result = runner.invoke(app, ["plan", *DESIRED, "--no-color"])
    assert result.exit_code == 2
    assert "utila-cosigner" in result.stdout
    assert "PutImageScanningConfiguration" in result.stdout
    assert "enforce would" in result.stdout
    assert baseline.writes == []


def test_enforce_fixes_drift_then_a_second_run_writes_nothing(baseline: AwsCalls) -> None:
    _drift_scan_on_push()
    result = runner.invoke(app, ["enforce", "--yes", *DESIRED, "--format", "json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["summary"]["remediated"] == 1
    assert [c.operation for c in baseline.writes] == ["PutImageScanningConfiguration"]
    baseline.clear()
    again = runner.invoke(app, ["enforce", "--yes", *DESIRED])
    assert again.exit_code == 0
    assert baseline.writes == []


def test_enforce_one_repository_only(baseline: AwsCalls) -> None:
    _drift_scan_on_push()
    result = runner.invoke(app, ["enforce", "--yes", *DESIRED, "-r", "admin-dashboard", "--format", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["repositories_checked"] == ["admin-dashboard"]
    assert baseline.writes == []


def test_enforce_without_a_terminal_needs_yes(calls: AwsCalls) -> None:
    result = runner.invoke(app, ["enforce", *DESIRED])
    assert result.exit_code == 1
    assert "pass --yes" in result.stderr
    assert calls.calls == []


def test_enforce_asks_on_a_terminal_and_a_no_writes_nothing(
    baseline: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drift_scan_on_push()
    monkeypatch.setattr(account, "stdin_is_terminal", lambda: True)
    result = runner.invoke(app, ["enforce", *DESIRED], input="n\n")
    assert result.exit_code == 1
    assert "Apply 1 change?" in result.stderr
    assert "nothing written" in result.stderr
    assert baseline.writes == []


def test_enforce_refuses_when_the_desired_state_says_audit(calls: AwsCalls, tmp_path: Any) -> None:
    state = json.loads(EXAMPLE_PATH.read_text())
    state["enforcement"]["mode"] = "audit"
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps(state))
    result = runner.invoke(app, ["enforce", "--yes", "--desired", str(path)])
    assert result.exit_code == 1
    assert "enforcement.mode is `audit`" in result.stderr
    assert calls.calls == []


def test_a_failed_write_exits_1_and_names_the_action(
    baseline: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drift_scan_on_push()
    deny_operation(monkeypatch, "PutImageScanningConfiguration")
    result = runner.invoke(app, ["enforce", "--yes", *DESIRED, "--format", "json"])
    assert result.exit_code == 1
    failed = [f for f in json.loads(result.stdout)["findings"] if f["action"] == "failed"]
    assert len(failed) == 1
    assert "ecr:PutImageScanningConfiguration" in failed[0]["error"]


def test_invalid_desired_state_exits_1_before_any_call(calls: AwsCalls, tmp_path: Any) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"version": 1, "repositories": {"Bad_Name": {}}}')
    for args in (["plan"], ["audit"], ["enforce", "--yes"]):
        result = runner.invoke(app, [*args, "--desired", str(path)])
        command = args[0]
        assert result.exit_code == 1, command
        assert "repositories.Bad_Name: must be a repository name" in result.stderr
    assert calls.calls == []


def test_missing_credentials_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = runner.invoke(app, ["audit", *DESIRED])
    assert result.exit_code == 1
    assert "no AWS credentials found: pass --profile" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_profile_is_explained() -> None:
    result = runner.invoke(app, ["audit", *DESIRED, "--profile", "does-not-exist"])
    assert result.exit_code == 1
    assert "does-not-exist" in result.stderr
    assert "aws configure list-profiles" in result.stderr


@pytest.fixture
def stubbed_lambda(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client("lambda", region_name=REGION)
    stubber = Stubber(client)

    class Session:
        region_name = REGION  # checked against botocore's regions before the client is made

        def __init__(self, **_: Any) -> None:
            pass

        def get_available_partitions(self) -> list[str]:
            return ["aws"]

        def get_available_regions(self, *_: Any, **__: Any) -> list[str]:
            return [REGION]

        def client(self, *_: Any, config: Any = None, **__: Any) -> Any:
            # A sweep can take the function's whole 900 s, and a retried invoke would run it twice; an
            # endpoint that does not answer fails within the usual connect timeout.
            assert config.read_timeout > 900
            # One attempt (botocore adds its default mode to this dict once a real client used it).
            assert config.retries["total_max_attempts"] == 1
            assert config.connect_timeout == CONNECT_TIMEOUT_S
            return client

    monkeypatch.setattr(account.boto3, "Session", Session)
    with stubber:
        yield stubber


def _report(findings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "status": "ok",
        "mode": "audit",
        "trigger": "manual",
        "repositories_checked": ["admin-dashboard"],
        "not_checked": [],
        "findings": findings,
        "summary": {"drift": len(findings), "remediated": 0, "reported": 0, "blocked": 0, "failed": 0},
        "writes": 0,
    }


def test_invoke_prints_the_deployed_enforcers_report(stubbed_lambda: Stubber) -> None:
    finding = {
        "resource": "admin-dashboard",
        "setting": "tags",
        "key": None,
        "expected": {"team": "platform"},
        "actual": {},
        "action": "drift",
        "error": None,
        "message": "",
        "origin": None,
    }
    body = _report([finding])
    stubbed_lambda.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())},  # type: ignore[dict-item]
        {
            "FunctionName": "ecr-drift-enforcer",
            "Payload": b'{"action": "audit", "repositories": ["admin-dashboard"]}',
        },
    )
    result = runner.invoke(app, ["invoke", "--function", "ecr-drift-enforcer", "-r", "admin-dashboard"])
    assert result.exit_code == 2
    assert "admin-dashboard" in result.stdout
    assert "1 finding" in result.stdout


def test_invoke_json_of_a_clean_report(stubbed_lambda: Stubber) -> None:
    body = _report([])
    stubbed_lambda.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())},  # type: ignore[dict-item]
    )
    result = runner.invoke(app, ["invoke", "--function", "f", "--format", "json"])
    assert result.exit_code == 0
    jsonschema.validate(json.loads(result.stdout), REPORT_SCHEMA)


def test_invoke_says_what_a_bounded_response_left_out(stubbed_lambda: Stubber) -> None:
    from ecr_drift.publish.limits import bounded_response

    findings = [
        Finding(f"repo-{n:04}", "tags", {"team": "x" * 2_000}, {}, Action.DRIFT) for n in range(3_000)
    ]
    report = Report("audit", "manual", [f.resource for f in findings], findings)
    body = bounded_response("ok", report, publish_errors=[], extra={}, budget=1_000_000)
    stubbed_lambda.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())},  # type: ignore[dict-item]
    )
    jsonschema.validate(body, REPORT_SCHEMA)

    result = runner.invoke(app, ["invoke", "--function", "f"])

    assert result.exit_code == 2  # drift, as the findings that were kept say
    left_out = body["omitted"]["findings"]["left_out"]
    assert left_out > 0
    assert f"{left_out} of 3000 findings left out of the response" in result.stderr


def test_invoke_reports_a_function_error(stubbed_lambda: Stubber) -> None:
    stubbed_lambda.add_response(
        "invoke",
        {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(b'{"errorMessage": "boom"}')},  # type: ignore[dict-item]
    )
    result = runner.invoke(app, ["invoke", "--function", "f"])
    assert result.exit_code == 1
    assert "did not return a report" in result.stderr


def test_invoke_access_denied_names_the_lambda_action(stubbed_lambda: Stubber) -> None:
    stubbed_lambda.add_client_error(
        "invoke", service_error_code="AccessDeniedException", http_status_code=403
    )
    result = runner.invoke(app, ["invoke", "--function", "f"])
    assert result.exit_code == 1
    assert "grant `lambda:InvokeFunction`" in result.stderr


# ---- a name that is neither managed nor present is an error, not "compliant" ------------------------------


@pytest.mark.parametrize("command", [["audit"], ["plan"], ["enforce", "--yes"]])
def test_a_typo_in_a_repository_name_is_an_error_with_a_suggestion(
    command: list[str], baseline: AwsCalls
) -> None:
    result = runner.invoke(app, [*command, *DESIRED, "-r", "temporal-wroker", "-r", "utila-cosigner"])

    assert result.exit_code == 1
    assert (
        "error: no repository named temporal-wroker: it does not exist and the desired state does not "
        "manage it; did you mean temporal-worker?"
    ) in result.stderr
    assert "compliant" not in result.stdout
    assert baseline.writes == []


def test_a_typo_is_suggested_from_the_accounts_names_too(baseline: AwsCalls) -> None:
    boto3.client("ecr", region_name=REGION).create_repository(repositoryName="payments-api")

    result = runner.invoke(app, ["audit", *DESIRED, "-r", "payments-apl"])

    assert result.exit_code == 1
    assert "did you mean payments-api?" in result.stderr


def test_a_managed_repository_that_is_missing_is_the_repository_finding(baseline: AwsCalls) -> None:
    boto3.client("ecr", region_name=REGION).delete_repository(repositoryName="temporal-worker", force=True)

    result = runner.invoke(app, ["audit", *DESIRED, "-r", "temporal-worker", "--format", "json"])

    assert result.exit_code == 2
    findings = json.loads(result.stdout)["findings"]
    assert [(f["resource"], f["setting"], f["action"]) for f in findings] == [
        ("temporal-worker", REPOSITORY, "drift")
    ]


def test_invoke_says_what_the_enforcer_refused(stubbed_lambda: Stubber) -> None:
    body = {
        "status": "error",
        "error": "no repository named temporal-wroker: it does not exist and the desired state does not "
        "manage it; did you mean temporal-worker?",
        "unknown_repositories": {"temporal-wroker": ["temporal-worker"]},
    }
    stubbed_lambda.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())},  # type: ignore[dict-item]
    )

    result = runner.invoke(app, ["invoke", "--function", "f", "-r", "temporal-wroker"])

    assert result.exit_code == 1
    assert f"error: the enforcer answered: {body['error']}" in result.stderr


# ---- exit codes: audit 0/2/1 (2 on reported findings only with --strict), enforce 0/1 and never 2 ---------


def _stray(name: str = "stray") -> None:
    """A repository nothing in the desired state manages: a finding only reported."""
    boto3.client("ecr", region_name=REGION).create_repository(repositoryName=name)


def test_audit_exits_0_on_a_finding_only_reported_and_2_with_strict(baseline: AwsCalls) -> None:
    _stray()

    result = runner.invoke(app, ["audit", *DESIRED])

    assert result.exit_code == 0
    assert "stray" in result.stdout
    assert runner.invoke(app, ["audit", *DESIRED, "--strict"]).exit_code == 2


def test_enforce_on_a_terminal_with_only_reported_findings_asks_nothing_and_exits_0(
    baseline: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stray()
    monkeypatch.setattr(account, "stdin_is_terminal", lambda: True)

    result = runner.invoke(app, ["enforce", *DESIRED])

    assert result.exit_code == 0, result.output
    assert "Apply" not in result.stderr
    assert baseline.writes == []


def test_enforce_with_only_reported_findings_exits_0(baseline: AwsCalls) -> None:
    _stray()

    result = runner.invoke(app, ["enforce", "--yes", *DESIRED])

    assert result.exit_code == 0
    assert "1 reported only" in result.stdout


@pytest.mark.slow
def test_demo_runs_the_whole_loop_and_ends_clean() -> None:
    result = runner.invoke(app, ["demo", "--no-color", *DESIRED])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for story in (
        "scan on push turned off",
        "tag mutability flipped",
        "overwritten by a CI script",
        "lifecycle policy of admin-dashboard deleted",
        "widened to every AWS principal",
        "removed from",
        "pull-through cache rule `ecr-public` deleted",
        "replication turned off in the console",
        "repository creation template `ecr-public` deleted",
        "managed repository admin-dashboard deleted",
        "ECR created ecr-public/library/nginx",
    ):
        assert story in out, story
    assert "ignored: PutImageScanningConfiguration was made by the enforcer's own role" in out
    # One guard refuses a dangerous change: a repository opened to everyone never reaches AWS.
    assert (
        "refused at start-up, nothing checked or written: repositories.utila-cosigner.policy_statements"
        in out
    )
    assert '"level":"ERROR"' not in out  # the refusal is told once, not also as a raw log line
    assert out.count("remediated") >= 11
    assert "failed" not in out
    assert out.rstrip().endswith(f"match {EXAMPLE_PATH}.")


@pytest.mark.slow
def test_demo_shows_a_registry_policy_when_the_desired_state_has_one(tmp_path: Any) -> None:
    document = json.loads(EXAMPLE_PATH.read_text())
    document["registry"]["policy_statements"] = [
        {
            "Sid": "ReplicationFromOrg",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
            "Resource": "arn:aws:ecr:eu-west-1:123456789012:repository/*",
        }
    ]
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(app, ["demo", "--no-color", "--desired", str(path)])
    assert result.exit_code == 0, result.output
    assert "registry policy deleted" in result.stdout
    assert "registry registry_policy: remediated" in result.stdout


def test_plan_of_a_compliant_account_exits_0(baseline: AwsCalls) -> None:
    result = runner.invoke(app, ["plan", *DESIRED])
    assert result.exit_code == 0
    assert "compliant" in result.stdout


def test_audit_with_a_failed_read_exits_1(baseline: AwsCalls, monkeypatch: pytest.MonkeyPatch) -> None:
    deny_operation(monkeypatch, "GetLifecyclePolicy")
    result = runner.invoke(app, ["audit", *DESIRED, "--format", "json"])
    assert result.exit_code == 1
    failed = {f["resource"] for f in json.loads(result.stdout)["findings"] if f["action"] == "failed"}
    assert failed == {"utila-cosigner", "admin-dashboard", "temporal-worker", "internal-dashboard"}


def test_demo_with_an_invalid_desired_state_exits_1(tmp_path: Any) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"version": 2}')
    result = runner.invoke(app, ["demo", "--desired", str(path)])
    assert result.exit_code == 1
    assert "version: Input should be 1" in result.stderr


def test_report_schema_names_every_setting_a_finding_can_have() -> None:
    settings = {s.name for s in (*repository_settings(), *registry_settings())}
    enum = REPORT_SCHEMA["$defs"]["finding"]["properties"]["setting"]["enum"]
    assert sorted(enum) == sorted({REPOSITORY, UNMANAGED_REPOSITORY} | settings)
