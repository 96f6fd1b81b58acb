"""The real handler, in-process, on moto (plus the project's ECR double): one test per kind of event.

Given a baseline (a manual enforce), When an event file arrives (after the drift it describes was made),
Then the response, the live account, the log lines and the EMF metrics say what happened.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_drift import engine
from ecr_drift.cli.lambda_context import FakeLambdaContext
from tests.aws_calls import AwsCalls
from tests.conftest import REGION
from tests.lambda_harness import (
    CONSOLE_SESSION,
    emitted_metrics,
    event_files,
    invoke,
    lambda_environment,
    load_event,
    log_records,
)

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient


@pytest.fixture
def baseline(handler_env: None, ecr_calls: AwsCalls, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The account brought to the desired state by a manual enforce, as the demo does before Pulumi exists."""
    response = invoke({"action": "enforce"})
    assert response["status"] == "ok", response
    assert invoke({"action": "audit"})["findings"] == []
    ecr_calls.clear()
    capsys.readouterr()
    return response


def ecr() -> ECRClient:
    return boto3.client("ecr", region_name=REGION)


def scan_on_push(name: str) -> bool:
    return ecr().describe_repositories(repositoryNames=[name])["repositories"][0][
        "imageScanningConfiguration"
    ]["scanOnPush"]


def repository_names() -> set[str]:
    return {r["repositoryName"] for r in ecr().describe_repositories()["repositories"]}


def turn_scan_on_push_off(name: str = "utila-cosigner") -> None:
    ecr().put_image_scanning_configuration(
        repositoryName=name, imageScanningConfiguration={"scanOnPush": False}
    )


# ---- a change by someone → remediated, with who did it -----------------------------------------------------


def test_drift_from_a_console_change_is_remediated_and_reported_with_its_origin(
    baseline: dict[str, Any], ecr_calls: AwsCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("put_image_scanning_configuration_console.json")
    turn_scan_on_push_off()

    response = invoke(event)

    assert response["status"] == "ok"
    assert response["trigger"] == "cloudtrail:PutImageScanningConfiguration"
    assert response["repositories_checked"] == ["utila-cosigner"]
    [finding] = response["findings"]
    assert (finding["setting"], finding["action"], finding["expected"], finding["actual"]) == (
        "scan_on_push",
        "remediated",
        True,
        False,
    )
    assert finding["origin"]["principal_arn"] == CONSOLE_SESSION
    assert finding["origin"]["event_id"] == event["detail"]["eventID"]
    assert response["writes"] == 1
    assert [c.operation for c in ecr_calls.writes] == ["PutImageScanningConfiguration"]
    assert scan_on_push("utila-cosigner") is True

    output = capsys.readouterr().out
    records = log_records(output)
    [line] = [r for r in records if "finding" in r]
    assert line["correlation_id"] == event["id"]
    assert line["finding"]["origin"]["source_ip"] == "198.51.100.23"
    assert line["function_name"] == "ecr-drift-enforcer"
    assert line["service"] == "ecr-drift-enforcer"
    metrics = emitted_metrics(output)
    assert ("DriftRemediated", 1.0) in [(n, v) for n, values in metrics.items() for v, _ in values]
    assert (1.0, {"service": "ecr-drift-enforcer", "Setting": "scan_on_push"}) in metrics["DriftRemediated"]
    assert {"DriftDetected", "RemediationFailed", "RepositoriesChecked"} <= set(metrics)


def test_a_deleted_repository_is_recreated(baseline: dict[str, Any]) -> None:
    ecr().delete_repository(repositoryName="temporal-worker", force=True)

    response = invoke(load_event("delete_repository.json"))

    assert "temporal-worker" in repository_names()
    assert {(f["resource"], f["setting"], f["action"]) for f in response["findings"]} >= {
        ("temporal-worker", "repository", "remediated")
    }


def test_a_pull_through_cache_repository_gets_its_pattern(baseline: dict[str, Any]) -> None:
    ecr().create_repository(repositoryName="ecr-public/library/nginx")  # what ECR does on the first pull

    response = invoke(load_event("service_event_pull_through_cache.json"))

    assert response["status"] == "ok"
    assert response["repositories_checked"] == ["ecr-public/library/nginx"]
    settings_applied = {f["setting"] for f in response["findings"] if f["action"] == "remediated"}
    assert {"lifecycle_policy", "tags"} <= settings_applied
    lifecycle = json.loads(
        ecr().get_lifecycle_policy(repositoryName="ecr-public/library/nginx")["lifecyclePolicyText"]
    )
    assert lifecycle["rules"][0]["selection"]["countNumber"] == 30
    assert all(f["origin"]["principal_arn"] == "ecr.amazonaws.com" for f in response["findings"])


def test_a_registry_event_checks_the_registry_only(baseline: dict[str, Any]) -> None:
    ecr().delete_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")

    response = invoke(load_event("delete_pull_through_cache_rule.json"))

    assert response["repositories_checked"] == []
    [finding] = response["findings"]
    assert (finding["resource"], finding["setting"], finding["key"], finding["action"]) == (
        "registry",
        "pull_through_cache_rule",
        "ecr-public",
        "remediated",
    )
    assert (
        ecr().describe_pull_through_cache_rules()["pullThroughCacheRules"][0]["ecrRepositoryPrefix"]
        == "ecr-public"
    )


def test_a_registry_event_without_a_valid_item_checks_its_whole_setting(
    baseline: dict[str, Any], ecr_calls: AwsCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    ecr().delete_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")
    ecr().create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="public.ecr.aws")
    ecr().put_registry_scanning_configuration(scanType="BASIC", rules=[])  # another setting: not checked
    event = load_event("delete_pull_through_cache_rule.json")
    event["detail"]["requestParameters"] = {"ecrRepositoryPrefix": ["ecr-public"]}

    response = invoke(event)

    assert response["status"] == "ok"
    assert [(f["setting"], f["key"], f["action"]) for f in response["findings"]] == [
        ("pull_through_cache_rule", "ecr-public", "remediated"),
        ("pull_through_cache_rule", "quay", "reported"),
    ]
    assert {c.operation for c in ecr_calls.calls if not c.is_write} == {"DescribePullThroughCacheRules"}
    [warning] = [r for r in log_records(capsys.readouterr().out) if r["level"] == "WARNING"]
    assert warning["reason"] == "DeletePullThroughCacheRule names no valid ecrRepositoryPrefix (a list)"


# ---- events that must not lead to a write ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("own_role_event.json", "made by the enforcer's own role"),
        ("failed_access_denied.json", "failed with AccessDenied"),
        ("pulumi_deploy_role.json", "matches ignore_principals"),
        ("policy_execution_event.json", "PolicyExecutionEvent"),
    ],
)
def test_ignored_events_write_nothing(
    name: str, reason: str, baseline: dict[str, Any], ecr_calls: AwsCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    turn_scan_on_push_off()  # drift the enforcer would fix if it ran

    response = invoke(load_event(name))

    assert response["status"] == "ignored"
    assert reason in response["reason"]
    assert ecr_calls.calls == []
    assert scan_on_push("utila-cosigner") is False
    output = capsys.readouterr().out
    assert [r["level"] for r in log_records(output) if r["message"] == "event ignored"] == ["INFO"]
    assert [v for v, _ in emitted_metrics(output)["EventsIgnored"]] == [1.0]


def test_manual_audit_writes_nothing_and_returns_the_report(
    baseline: dict[str, Any], ecr_calls: AwsCalls
) -> None:
    turn_scan_on_push_off()

    response = invoke(load_event("manual_audit.json"))

    assert response["status"] == "ok"
    assert response["mode"] == "audit"
    assert response["writes"] == 0
    assert ecr_calls.writes == []
    assert [(f["resource"], f["setting"], f["action"]) for f in response["findings"]] == [
        ("utila-cosigner", "scan_on_push", "drift")
    ]
    assert set(response["repositories_checked"]) == {
        "utila-cosigner",
        "admin-dashboard",
        "temporal-worker",
        "internal-dashboard",
    }
    assert scan_on_push("utila-cosigner") is False


def test_audit_mode_from_the_environment_wins_over_a_manual_enforce(
    baseline: dict[str, Any], ecr_calls: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_environment(monkeypatch, ENFORCER_MODE="audit")
    turn_scan_on_push_off()

    response = invoke(load_event("manual_enforce_repositories.json"))

    assert response["mode"] == "audit"
    assert ecr_calls.writes == []
    assert response["repositories_checked"] == ["admin-dashboard", "utila-cosigner"]
    assert [f["action"] for f in response["findings"]] == ["drift"]


def test_manual_enforce_of_named_repositories(baseline: dict[str, Any]) -> None:
    turn_scan_on_push_off()
    turn_scan_on_push_off("temporal-worker")

    response = invoke(load_event("manual_enforce_repositories.json"))

    assert response["trigger"] == "manual"
    assert response["mode"] == "enforce"
    assert [(f["resource"], f["action"]) for f in response["findings"]] == [("utila-cosigner", "remediated")]
    assert scan_on_push("temporal-worker") is False  # not named: left for its own event or the sweep


# ---- the schedule ------------------------------------------------------------------------------------------


def test_schedule_sweeps_every_repository_and_the_registry(baseline: dict[str, Any]) -> None:
    turn_scan_on_push_off()
    ecr().put_image_tag_mutability(repositoryName="internal-dashboard", imageTagMutability="IMMUTABLE")
    ecr().create_repository(repositoryName="scratch/experiment")
    ecr().delete_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")

    response = invoke(load_event("scheduled_event.json"))

    assert response["status"] == "ok"
    assert response["trigger"] == "schedule"
    assert len(response["repositories_checked"]) == 5
    assert {(f["resource"], f["setting"], f["action"]) for f in response["findings"]} == {
        ("utila-cosigner", "scan_on_push", "remediated"),
        ("internal-dashboard", "image_tag_mutability", "remediated"),
        ("scratch/experiment", "unmanaged_repository", "reported"),
        ("registry", "pull_through_cache_rule", "remediated"),
    }
    assert all(f["origin"] is None for f in response["findings"])  # a sweep does not know who changed what
    assert invoke({"action": "audit"})["summary"]["drift"] == 0


# ---- what cannot run ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "malformed_not_object.json",
        "malformed_missing_detail.json",
        "malformed_wrong_types.json",
        "manual_invalid_action.json",
        "manual_repositories_not_list.json",
    ],
)
def test_malformed_events_get_a_clean_response(
    name: str, handler_env: None, ecr_calls: AwsCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    response = invoke(load_event(name))

    assert response == {"status": "ignored", "reason": response["reason"]}
    assert response["reason"]
    assert ecr_calls.calls == []
    records = log_records(capsys.readouterr().out)
    assert [r["level"] for r in records if r["message"] == "event ignored"] == ["WARNING"]


def test_invalid_desired_state_writes_nothing(
    handler_env: None,
    ecr_calls: AwsCalls,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "desired_state.json"
    bad.write_text(
        '{"version": 1, "repositories": {"api": {"scan_on_pusj": true}}, "defaults": {"tags": []}}'
    )
    lambda_environment(monkeypatch, bad)

    response = invoke(load_event("scheduled_event.json"))
    again = invoke({"action": "enforce"})

    assert response["status"] == again["status"] == "error"
    assert response["error"] == f"invalid desired state {bad}"
    assert any("scan_on_pusj" in p for p in response["problems"])
    assert any(p.startswith("defaults.tags") for p in response["problems"])
    assert ecr_calls.calls == []
    assert repository_names() == set()
    output = capsys.readouterr().out
    assert [v for v, _ in emitted_metrics(output)["DesiredStateInvalid"]] == [1.0, 1.0]
    [error] = [r for r in log_records(output) if r["message"].startswith("invalid desired state")][:1]
    assert error["level"] == "ERROR"
    assert error["problems"] == response["problems"]


def test_invalid_environment_writes_nothing(
    handler_env: None,
    ecr_calls: AwsCalls,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lambda_environment(monkeypatch, ENFORCER_MODE="enforcee", ENFORCER_CONCURRENCY="0")

    response = invoke(load_event("scheduled_event.json"))

    assert response["status"] == "error"
    assert len(response["problems"]) == 2
    assert ecr_calls.calls == []
    assert "ConfigInvalid" in emitted_metrics(capsys.readouterr().out)


def test_an_unexpected_error_is_caught_logged_and_counted(
    handler_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(engine, "run", broken)

    response = invoke(load_event("scheduled_event.json"))

    assert response == {"status": "error", "error": "ZeroDivisionError: division by zero"}
    output = capsys.readouterr().out
    [record] = [r for r in log_records(output) if r["level"] == "ERROR"]
    assert "ZeroDivisionError" in record["exception"]
    assert "Traceback" in record["exception"]
    assert [v for v, _ in emitted_metrics(output)["EnforcerErrors"]] == [1.0]


def test_manual_invokes_are_correlated_by_request_id(
    handler_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    context = FakeLambdaContext(aws_request_id="c0ffee00-0000-4000-8000-000000000001")

    invoke({"action": "audit"}, context)

    records = log_records(capsys.readouterr().out)
    assert records
    assert {r["correlation_id"] for r in records} == {context.aws_request_id}


def test_a_run_out_of_time_is_incomplete(baseline: dict[str, Any]) -> None:
    response = invoke({"action": "audit"}, FakeLambdaContext(timeout_ms=1_000))

    assert response["status"] == "incomplete"
    # A manual sweep's page is listed first; then no repository of it had time to start.
    assert len(response["not_checked"]) == 4
    assert response["findings"] == []


# ---- publishing, end to end --------------------------------------------------------------------------------


def test_findings_reach_sns_eventbridge_and_security_hub(
    baseline: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="findings")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="ecr-drift")["TopicArn"]
    boto3.client("sns", region_name=REGION).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="findings", EventPattern=json.dumps({"source": ["ecr-drift-enforcer"]}))
    events.put_targets(Rule="findings", Targets=[{"Id": "q", "Arn": queue_arn}])
    lambda_environment(
        monkeypatch, FINDINGS_TOPIC_ARN=topic, FINDINGS_EVENT_BUS="default", SECURITY_HUB_FINDINGS="true"
    )
    turn_scan_on_push_off()

    response = invoke(load_event("put_image_scanning_configuration_console.json"))

    messages = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    sns_message = next(m for m in messages if m.get("Type") == "Notification")
    event = next(m for m in messages if m.get("source") == "ecr-drift-enforcer")
    assert f"changed by {CONSOLE_SESSION}" in sns_message["Message"]
    assert event["detail"]["action"] == "remediated"
    assert event["detail"]["resource"] == "utila-cosigner"
    hub = boto3.client("securityhub", region_name=REGION).get_findings()["Findings"]
    assert [f["Compliance"]["Status"] for f in hub] == ["PASSED"]
    # moto has no BatchUpdateFindings: resolving the remediated finding is the one publishing error.
    assert [e.split(":", 1)[0] for e in response["publish_errors"]] == ["securityhub"]


# ---- nothing raises, with the real engine ------------------------------------------------------------------

REAL_EVENTS = [
    name for name in event_files() if not name.startswith(("malformed_", "manual_invalid", "manual_repo"))
]


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    event = copy.deepcopy(load_event(draw(st.sampled_from(REAL_EVENTS))))
    detail = event["detail"] if event.get("detail") else event
    key = draw(st.sampled_from(sorted(detail)))
    detail[key] = draw(
        st.none() | st.integers() | st.text(max_size=8) | st.lists(st.text(max_size=4), max_size=2)
    )
    return event


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=mutated())
def test_the_handler_never_raises_on_mutated_events(
    event: Any, baseline: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    response = invoke(event)

    assert response["status"] in {"ok", "ignored", "incomplete"}, response
    capsys.readouterr()
