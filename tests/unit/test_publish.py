"""Publishing on moto: log lines, EMF metrics, SNS (read through an SQS subscription), EventBridge (a rule
with an SQS target), Security Hub (moto's BatchImportFindings and GetFindings; BatchUpdateFindings, which moto
lacks, through a small double: tests/securityhub_double.py), and failures that never raise."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from aws_lambda_powertools import Logger, Metrics

from ecr_drift.aws.clients import AwsClients
from ecr_drift.config import EnforcerConfig
from ecr_drift.findings import REGISTRY, Action, Finding, Origin, Report
from ecr_drift.publish import (
    DRIFT_DETECTED,
    DRIFT_REMEDIATED,
    PUBLISH_FAILURES,
    PUBLISH_IAM_ACTIONS,
    REMEDIATION_FAILED,
    REPOSITORIES_CHECKED,
    REPOSITORIES_NOT_CHECKED,
    eventbridge,
    publish,
    securityhub,
    sns,
)
from ecr_drift.targets import WHOLE_REGISTRY, RegistryPart, RegistryScope
from tests.conftest import ACCOUNT_ID, REGION
from tests.lambda_harness import NAMESPACE, emitted_metrics
from tests.securityhub_double import BatchUpdateFindingsDouble, FakeTime

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

CONSOLE = Origin(
    principal_arn=f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/AWSReservedSSO_Admin_0123abcd/jane.doe@example.com",
    source_ip="198.51.100.23",
    user_agent="Mozilla/5.0",
    event_time="2025-11-20T09:14:03Z",
    event_id="8d1b5800-7b81-5bc6-997b-50f2057869be",
    event_name="PutImageScanningConfiguration",
)
REMEDIATED = Finding("utila-cosigner", "scan_on_push", True, False, Action.REMEDIATED, origin=CONSOLE)
DRIFT = Finding("temporal-worker", "lifecycle_policy", {"rules": []}, None, message="no lifecycle policy")
FAILED = Finding(
    "admin-dashboard", "repository_policy", {"Statement": []}, None, Action.FAILED, error="AccessDenied"
)
UNMANAGED = Finding("scratch", "unmanaged_repository", None, "scratch", Action.REPORTED)
CACHE_RULE = Finding(
    REGISTRY, "pull_through_cache_rule", {"upstream": "public.ecr.aws"}, None, key="ecr-public"
)


def report(*findings: Finding, checked: Sequence[str] = (), mode: str = "enforce") -> Report:
    return Report(
        mode=mode,
        trigger="cloudtrail:PutImageScanningConfiguration",
        repositories_checked=list(checked),
        findings=list(findings),
        writes=sum(f.action is Action.REMEDIATED for f in findings),
    )


FULL = report(
    REMEDIATED,
    DRIFT,
    FAILED,
    UNMANAGED,
    CACHE_RULE,
    checked=("utila-cosigner", "temporal-worker", "admin-dashboard", "scratch"),
)


class Output:
    """A Logger writing into a buffer, and Metrics whose EMF blobs reach capsys."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        # Loggers of one service share their handler: a fresh service per test gets a fresh stream.
        self.logger = Logger(
            service=f"publish-test-{uuid.uuid4()}", logger_handler=logging.StreamHandler(self.stream)
        )
        self.metrics = Metrics(namespace=NAMESPACE, service="ecr-drift-enforcer")
        self.metrics.clear_metrics()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


@pytest.fixture
def out() -> Output:
    return Output()


@pytest.fixture
def clients(aws: None) -> AwsClients:
    return AwsClients()


@pytest.fixture
def sqs(aws: None) -> SQSClient:
    return boto3.client("sqs", region_name=REGION)


def queue(sqs: SQSClient, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain(sqs: SQSClient, url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in messages]
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


@pytest.fixture
def topic(sqs: SQSClient) -> tuple[str, str]:
    """An SNS topic with an SQS subscription: (topic ARN, queue URL)."""
    client = boto3.client("sns", region_name=REGION)
    arn = client.create_topic(Name="ecr-drift-findings")["TopicArn"]
    url, queue_arn = queue(sqs, "sns-findings")
    client.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    return arn, url


@pytest.fixture
def bus(sqs: SQSClient) -> tuple[str, str]:
    """A rule on the default bus for the enforcer's events, with an SQS target: (bus, queue URL)."""
    client = boto3.client("events", region_name=REGION)
    url, queue_arn = queue(sqs, "finding-events")
    pattern = {"source": [eventbridge.SOURCE], "detail-type": [eventbridge.DETAIL_TYPE]}
    client.put_rule(Name="ecr-drift-findings", EventPattern=json.dumps(pattern))
    client.put_targets(Rule="ecr-drift-findings", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return "default", url


def hub_findings() -> dict[str, dict[str, Any]]:
    client = boto3.client("securityhub", region_name=REGION)
    return {f["Id"]: dict(f) for f in client.get_findings()["Findings"]}


def config(**variables: str) -> EnforcerConfig:
    return EnforcerConfig.from_env(variables)


def hub_id(resource: str, setting: str, key: str | None = None) -> str:
    return securityhub.finding_id(securityhub.Account(ACCOUNT_ID, "aws", REGION), resource, str(setting), key)


# ---- IAM ---------------------------------------------------------------------------------------------------


def test_iam_actions_are_exact_and_cover_every_call(
    aws: None, topic: tuple[str, str], bus: tuple[str, str], out: Output
) -> None:
    session = boto3.Session(region_name=REGION)
    calls: set[str] = set()
    session.events.register(
        "before-call.*.*", lambda model, **_: calls.add(f"{model.service_model.signing_name}:{model.name}")
    )
    clients = AwsClients(session)
    BatchUpdateFindingsDouble(clients)
    everything = config(FINDINGS_TOPIC_ARN=topic[0], FINDINGS_EVENT_BUS=bus[0], SECURITY_HUB_FINDINGS="true")

    publish(
        FULL,
        config=everything,
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
        registry_checked=WHOLE_REGISTRY,
    )
    publish(
        report(checked=FULL.repositories_checked),
        config=everything,
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
        registry_checked=WHOLE_REGISTRY,
    )

    assert all("*" not in action and action.count(":") == 1 for action in PUBLISH_IAM_ACTIONS)
    assert calls == set(PUBLISH_IAM_ACTIONS)


# ---- logs and metrics --------------------------------------------------------------------------------------


def test_one_log_line_per_finding_at_its_level(clients: AwsClients, out: Output) -> None:
    publish(FULL, config=config(), clients=clients, logger=out.logger, metrics=out.metrics)

    records = out.records()
    lines = [r for r in records if "finding" in r]
    assert [(r["level"], r["finding"]["resource"], r["finding"]["action"]) for r in lines] == [
        ("INFO", "utila-cosigner", "remediated"),
        ("WARNING", "temporal-worker", "drift"),
        ("ERROR", "admin-dashboard", "failed"),
        ("INFO", "scratch", "reported"),
        ("WARNING", "registry", "drift"),
    ]
    assert lines[0]["finding"]["origin"]["principal_arn"] == CONSOLE.principal_arn
    assert lines[0]["message"] == "utila-cosigner / scan_on_push: remediated"
    assert records[-1]["message"] == "run finished"
    assert records[-1]["summary"]["remediated"] == 1


def test_metrics_totals_and_per_setting_blobs(
    clients: AwsClients, out: Output, capsys: pytest.CaptureFixture[str]
) -> None:
    late = report(*FULL.findings, checked=FULL.repositories_checked)
    late.not_checked = ["late-repo"]
    publish(
        late,
        config=config(),
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
    )
    out.metrics.flush_metrics()

    metrics = emitted_metrics(capsys.readouterr().out)
    totals = {name: [v for v, dims in values if "Setting" not in dims] for name, values in metrics.items()}
    assert totals == {
        DRIFT_DETECTED: [3.0],  # the remediated, the drift and the cache rule; not the unmanaged repository
        DRIFT_REMEDIATED: [1.0],
        REMEDIATION_FAILED: [1.0],
        REPOSITORIES_CHECKED: [4.0],
        REPOSITORIES_NOT_CHECKED: [1.0],
    }
    per_setting = {
        (name, dims["Setting"]): value
        for name, values in metrics.items()
        for value, dims in values
        if "Setting" in dims
    }
    assert per_setting == {
        (DRIFT_DETECTED, "scan_on_push"): 1.0,
        (DRIFT_DETECTED, "lifecycle_policy"): 1.0,
        (DRIFT_DETECTED, "pull_through_cache_rule"): 1.0,
        (DRIFT_REMEDIATED, "scan_on_push"): 1.0,
        (REMEDIATION_FAILED, "repository_policy"): 1.0,
    }
    assert all(dims["service"] == "ecr-drift-enforcer" for values in metrics.values() for _, dims in values)


def test_a_sweep_with_only_reported_findings_detects_no_drift(
    clients: AwsClients, out: Output, capsys: pytest.CaptureFixture[str]
) -> None:
    # What no run can fix would keep the DriftDetected alarm on: unmanaged repositories, encryption.
    scratch = Finding("scratch-2", "unmanaged_repository", None, "scratch-2", Action.REPORTED)
    encryption = Finding(
        "legacy", "encryption", {"encryptionType": "KMS"}, {"encryptionType": "AES256"}, Action.REPORTED
    )
    sweep = report(UNMANAGED, scratch, encryption, checked=("scratch", "scratch-2", "legacy"))

    publish(sweep, config=config(), clients=clients, logger=out.logger, metrics=out.metrics)
    out.metrics.flush_metrics()

    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics[DRIFT_DETECTED] == [(0.0, {"service": "ecr-drift-enforcer"})]  # none per setting either
    assert metrics[REMEDIATION_FAILED] == [(0.0, {"service": "ecr-drift-enforcer"})]
    assert metrics[REPOSITORIES_CHECKED] == [(3.0, {"service": "ecr-drift-enforcer"})]


# ---- SNS ---------------------------------------------------------------------------------------------------


def test_sns_summary_lists_findings_and_who_changed_them(
    clients: AwsClients, sqs: SQSClient, topic: tuple[str, str], out: Output
) -> None:
    errors = publish(
        FULL,
        config=config(FINDINGS_TOPIC_ARN=topic[0]),
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
    )

    [notification] = drain(sqs, topic[1])
    assert errors == []
    subject, body = notification["Subject"], notification["Message"]
    assert subject == "ECR drift (enforce): 2 drift, 1 remediated, 1 failed on 4 resources"
    assert len(subject) < 100
    assert "1. admin-dashboard / repository_policy: failed" in body  # most important first
    assert "4. utila-cosigner / scan_on_push: remediated" in body
    assert f"changed by {CONSOLE.principal_arn} from 198.51.100.23 at 2025-11-20T09:14:03Z" in body
    assert "(PutImageScanningConfiguration, event 8d1b5800-7b81-5bc6-997b-50f2057869be)" in body
    assert "   expected: true\n   actual:   false" in body
    assert "3. registry / pull_through_cache_rule [ecr-public]: drift" in body
    assert "scratch" not in body.split("Write calls")[1]  # a sweep-style report: logs, not mail
    assert "error: AccessDenied" in body


def test_sns_is_quiet_when_nothing_changed_or_only_known_reports(
    clients: AwsClients, sqs: SQSClient, topic: tuple[str, str], out: Output
) -> None:
    settings = config(FINDINGS_TOPIC_ARN=topic[0])
    publish(
        report(checked=("utila-cosigner",)),
        config=settings,
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
    )
    publish(report(UNMANAGED), config=settings, clients=clients, logger=out.logger, metrics=out.metrics)
    assert drain(sqs, topic[1]) == []

    created_by_someone = Finding(
        "scratch", "unmanaged_repository", None, "scratch", Action.REPORTED, origin=CONSOLE
    )
    publish(
        report(created_by_someone), config=settings, clients=clients, logger=out.logger, metrics=out.metrics
    )
    assert len(drain(sqs, topic[1])) == 1


def test_sns_subject_is_short_and_ascii() -> None:
    long_name = "team/" + "a" * 200
    findings = [Finding(long_name, "tags", {"team": "é"}, None)]

    subject = sns.subject(report(*findings), findings)

    assert len(subject) < 100
    assert subject.isascii()
    assert subject.endswith("...")


def test_sns_lists_at_most_a_page_of_findings() -> None:
    findings = [Finding(f"repo-{i:03d}", "tags", {}, None) for i in range(sns.LISTED + 7)]

    body = sns.message(report(*findings), findings)

    assert f"{sns.LISTED}. repo-{sns.LISTED - 1:03d}" in body
    assert "... and 7 more" in body


# ---- EventBridge -------------------------------------------------------------------------------------------


def test_one_event_per_finding_in_batches_of_ten(
    clients: AwsClients, sqs: SQSClient, bus: tuple[str, str], out: Output
) -> None:
    findings = [Finding(f"repo-{i:02d}", "scan_on_push", True, False, origin=CONSOLE) for i in range(23)]
    sent: list[int] = []
    clients.events.meta.events.register(
        "before-parameter-build.events.PutEvents", lambda params, **_: sent.append(len(params["Entries"]))
    )

    errors = publish(
        report(*findings),
        config=config(FINDINGS_EVENT_BUS=bus[0]),
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
    )

    events = drain(sqs, bus[1])
    assert errors == []
    assert sent == [10, 10, 3]
    assert sorted(e["detail"]["resource"] for e in events) == [f"repo-{i:02d}" for i in range(23)]
    event = events[0]
    assert (event["source"], event["detail-type"]) == ("ecr-drift-enforcer", "ECR Drift Finding")
    assert event["detail"]["setting"] == "scan_on_push"
    assert event["detail"]["action"] == "drift"
    assert event["detail"]["origin"]["principal_arn"] == CONSOLE.principal_arn
    assert event["detail"]["mode"] == "enforce"


def test_failed_entries_are_reported_and_counted(
    clients: AwsClients, bus: tuple[str, str], out: Output, capsys: pytest.CaptureFixture[str]
) -> None:
    def put_events(**kwargs: Any) -> dict[str, Any]:
        entries = [{"EventId": "1"}] + [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} for _ in kwargs["Entries"][1:]
        ]
        return {"FailedEntryCount": len(entries) - 1, "Entries": entries}

    clients.events.put_events = put_events  # type: ignore[method-assign,assignment]

    errors = publish(
        report(REMEDIATED, DRIFT),
        config=config(FINDINGS_EVENT_BUS=bus[0]),
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
    )
    out.metrics.flush_metrics()

    assert errors == ["eventbridge: temporal-worker lifecycle_policy: InternalFailure try again"]
    assert emitted_metrics(capsys.readouterr().out)[PUBLISH_FAILURES] == [
        (1.0, {"service": "ecr-drift-enforcer"})
    ]
    assert any(
        r["message"] == "finding not published" and r["channel"] == "eventbridge" for r in out.records()
    )


# ---- Security Hub ------------------------------------------------------------------------------------------


def test_security_hub_findings_have_stable_ids_and_asff_fields(clients: AwsClients, out: Output) -> None:
    double = BatchUpdateFindingsDouble(clients)

    errors = publish(
        FULL,
        config=config(SECURITY_HUB_FINDINGS="true"),
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
    )

    stored = hub_findings()
    assert errors == []
    assert set(stored) == {
        hub_id("utila-cosigner", "scan_on_push"),
        hub_id("temporal-worker", "lifecycle_policy"),
        hub_id("admin-dashboard", "repository_policy"),
        hub_id("scratch", "unmanaged_repository"),
        hub_id(REGISTRY, "pull_through_cache_rule", "ecr-public"),
    }
    drift = stored[hub_id("temporal-worker", "lifecycle_policy")]
    assert drift["Compliance"] == {"Status": "FAILED"}
    assert drift["Workflow"] == {"Status": "NEW"}
    assert drift["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT_ID}:product/{ACCOUNT_ID}/default"
    assert drift["GeneratorId"] == "ecr-drift-enforcer/lifecycle_policy"
    assert drift["Resources"][0]["Id"] == f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/temporal-worker"
    assert drift["Resources"][0]["Type"] == "AwsEcrRepository"
    registry = stored[hub_id(REGISTRY, "pull_through_cache_rule", "ecr-public")]
    assert registry["Resources"][0] == {
        "Type": "AwsAccount",
        "Id": f"AWS::::Account:{ACCOUNT_ID}",
        "Region": REGION,
    }
    remediated = stored[hub_id("utila-cosigner", "scan_on_push")]
    assert remediated["Compliance"] == {"Status": "PASSED"}
    assert f"changed by {CONSOLE.principal_arn}" in remediated["Description"]
    assert double.resolved == [hub_id("utila-cosigner", "scan_on_push")]


def test_a_later_compliant_run_resolves_what_it_checked(clients: AwsClients, out: Output) -> None:
    double = BatchUpdateFindingsDouble(clients)
    settings = config(SECURITY_HUB_FINDINGS="true")
    publish(
        FULL,
        config=settings,
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
        registry_checked=WHOLE_REGISTRY,
    )
    double.calls.clear()

    # temporal-worker is compliant now, admin-dashboard still fails; scratch and the registry not checked.
    later = report(FAILED, checked=("temporal-worker", "admin-dashboard"))
    errors = publish(later, config=settings, clients=clients, logger=out.logger, metrics=out.metrics)

    stored = hub_findings()
    resolved = stored[hub_id("temporal-worker", "lifecycle_policy")]
    assert errors == []
    assert double.resolved == [hub_id("temporal-worker", "lifecycle_policy")]
    assert resolved["Compliance"] == {"Status": "PASSED"}
    assert resolved["Workflow"] == {"Status": "RESOLVED"}
    assert resolved["Description"].startswith("Compliant again: lifecycle_policy of temporal-worker")
    assert stored[hub_id("admin-dashboard", "repository_policy")]["Compliance"] == {"Status": "FAILED"}
    for untouched in (
        hub_id("scratch", "unmanaged_repository"),
        hub_id(REGISTRY, "pull_through_cache_rule", "ecr-public"),
    ):
        assert stored[untouched]["Compliance"] == {"Status": "FAILED"}

    publish(
        report(),
        config=settings,
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
        registry_checked=WHOLE_REGISTRY,
    )
    assert hub_findings()[hub_id(REGISTRY, "pull_through_cache_rule", "ecr-public")]["Compliance"] == {
        "Status": "PASSED"
    }


def test_a_registry_event_resolves_only_the_registry_findings_it_checked(
    clients: AwsClients, out: Output
) -> None:
    double = BatchUpdateFindingsDouble(clients)
    settings = config(SECURITY_HUB_FINDINGS="true")
    quay = Finding(REGISTRY, "pull_through_cache_rule", {"upstream": "quay.io"}, None, key="quay")
    policy = Finding(REGISTRY, "registry_policy", {"Statement": []}, None)
    publish(
        report(CACHE_RULE, quay, policy),
        config=settings,
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
        registry_checked=WHOLE_REGISTRY,
    )
    double.calls.clear()

    # An event about the ecr-public rule found it compliant: the quay rule and the policy were not checked.
    scope = RegistryScope(frozenset({RegistryPart("pull_through_cache_rule", "ecr-public")}))
    publish(
        report(),
        config=settings,
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
        registry_checked=scope,
    )

    assert double.resolved == [hub_id(REGISTRY, "pull_through_cache_rule", "ecr-public")]
    stored = hub_findings()
    for untouched in (
        hub_id(REGISTRY, "pull_through_cache_rule", "quay"),
        hub_id(REGISTRY, "registry_policy"),
    ):
        assert stored[untouched]["Compliance"] == {"Status": "FAILED"}


def test_findings_of_other_products_are_left_alone(clients: AwsClients, out: Output) -> None:
    BatchUpdateFindingsDouble(clients)
    other = securityhub._asff(
        securityhub.Account(ACCOUNT_ID, "aws", REGION),
        "2025-11-20T09:00:00.000Z",
        resource="temporal-worker",
        setting="lifecycle_policy",
        key=None,
        passed=False,
        severity="LOW",
        title="someone else's",
        description="not ours",
        created_at="2025-11-20T09:00:00.000Z",
        extra_fields={},
    ) | {"Id": "other-tool/temporal-worker", "GeneratorId": "other-tool/lifecycle"}
    clients.securityhub.batch_import_findings(Findings=[other])

    publish(
        report(checked=("temporal-worker",)),
        config=config(SECURITY_HUB_FINDINGS="true"),
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
    )

    assert hub_findings()["other-tool/temporal-worker"]["Compliance"] == {"Status": "FAILED"}


# ---- failures never raise ----------------------------------------------------------------------------------


def test_a_failing_channel_is_logged_counted_and_the_others_still_publish(
    clients: AwsClients, sqs: SQSClient, bus: tuple[str, str], out: Output, capsys: pytest.CaptureFixture[str]
) -> None:
    missing_topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:does-not-exist"  # moto: NotFound
    settings = config(
        FINDINGS_TOPIC_ARN=missing_topic, FINDINGS_EVENT_BUS=bus[0], SECURITY_HUB_FINDINGS="true"
    )

    errors = publish(FULL, config=settings, clients=clients, logger=out.logger, metrics=out.metrics)
    out.metrics.flush_metrics()

    assert [e.split(":", 1)[0] for e in errors] == ["sns", "securityhub"]  # moto lacks BatchUpdateFindings
    assert "NotFound" in errors[0]
    assert len(drain(sqs, bus[1])) == len(FULL.findings)
    assert len(hub_findings()) == len(FULL.findings)
    assert emitted_metrics(capsys.readouterr().out)[PUBLISH_FAILURES] == [
        (2.0, {"service": "ecr-drift-enforcer"})
    ]
    failures = [r for r in out.records() if r["message"] == "publishing to sns failed"]
    assert failures
    assert failures[0]["level"] == "ERROR"
    assert "Traceback" in failures[0]["exception"]


def test_every_channel_down_still_returns(
    clients: AwsClients, out: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(**_: Any) -> Any:
        raise RuntimeError("network unreachable")

    for client, method in (
        (clients.sns, "publish"),
        (clients.events, "put_events"),
        (clients.sts, "get_caller_identity"),
    ):
        monkeypatch.setattr(client, method, down)
    settings = config(
        FINDINGS_TOPIC_ARN=f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:t",
        FINDINGS_EVENT_BUS="default",
        SECURITY_HUB_FINDINGS="true",
    )

    errors = publish(FULL, config=settings, clients=clients, logger=out.logger, metrics=out.metrics)

    assert errors == [
        f"{c}: RuntimeError: network unreachable" for c in ("sns", "eventbridge", "securityhub")
    ]
    assert sum("finding" in r for r in out.records()) == len(FULL.findings)


def test_open_findings_are_queried_for_the_checked_resources_only_20_at_a_time(
    clients: AwsClients, out: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    double = BatchUpdateFindingsDouble(clients)
    fake = FakeTime()
    queries: list[list[str]] = []
    clients.securityhub.meta.events.register(
        "before-parameter-build.securityhub.GetFindings",
        lambda params, **_: queries.append([f["Value"] for f in params["Filters"]["ProductFields"]]),
    )
    # publish() paces GetFindings by default: here on a fake clock.
    monkeypatch.setattr(securityhub, "Pacer", partial(securityhub.Pacer, clock=fake.clock, sleep=fake.sleep))
    settings = config(SECURITY_HUB_FINDINGS="true")
    sweep = [f"repo-{i:03d}" for i in range(securityhub.FILTER_VALUES + 1)]

    publish(report(), config=settings, clients=clients, logger=out.logger, metrics=out.metrics)
    one = report(checked=("utila-cosigner",))
    publish(
        one,
        config=settings,
        clients=clients,
        logger=out.logger,
        metrics=out.metrics,
        registry_checked=WHOLE_REGISTRY,
    )
    drifted = report(*(Finding(r, "tags", {"team": "a"}, {}) for r in sweep), checked=sweep)
    publish(drifted, config=settings, clients=clients, logger=out.logger, metrics=out.metrics)
    publish(report(checked=sweep), config=settings, clients=clients, logger=out.logger, metrics=out.metrics)

    # A run that checked nothing asks nothing; a sweep's resources are asked about 20 at a time.
    assert queries == [["registry", "utila-cosigner"], *[sweep[:20], sweep[20:]] * 2]
    assert fake.slept == [pytest.approx(securityhub.GET_FINDINGS_INTERVAL_S)] * 2  # between a sweep's queries
    # moto answers every query with every finding: each is still resolved once.
    assert sorted(double.resolved) == sorted(hub_id(r, "tags") for r in sweep)
