"""A sweep larger than one invocation, end to end on moto: the schedule fans the repositories out to an SQS
queue, the same handler consumes the batches (partial batch failures), and an event still costs O(1) calls.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_drift import engine, lambda_function
from ecr_drift.aws import observe
from ecr_drift.aws.clients import AwsClients
from ecr_drift.cli.lambda_context import FakeLambdaContext
from ecr_drift.fanout import SweepBatch
from tests.aws_calls import AwsCalls
from tests.conftest import ACCOUNT_ID, REGION
from tests.lambda_harness import (
    emitted_metrics,
    invoke,
    lambda_environment,
    load_event,
    log_records,
    sqs_event,
)

# Every repository under team/ is managed (scan on push only: DescribeRepositories reads it, no other call),
# `api-gateway` is managed (missing unless a test creates it), the registry's scanning is managed.
STATE = {
    "version": 1,
    "registry": {
        "scanning": {"scan_type": "BASIC", "rules": [{"frequency": "SCAN_ON_PUSH", "filters": ["*"]}]}
    },
    "defaults": {"scan_on_push": True},
    "repositories": {"api-gateway": {}},
    "repository_patterns": {"team/*": {}},
}
DRIFTING_EVERY = 50  # every 50th seeded repository has scan on push off: some in every batch of 200
KEEP_5 = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep 5",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
                "action": {"type": "expire"},
            }
        ]
    }
)


@dataclass
class ProductCalls:
    """The ECR and SQS calls of the clients the handler creates."""

    ecr: AwsCalls = field(default_factory=AwsCalls)
    sqs: AwsCalls = field(default_factory=AwsCalls)

    def clear(self) -> None:
        self.ecr.clear()
        self.sqs.clear()


@pytest.fixture
def calls(handler_env: None, monkeypatch: pytest.MonkeyPatch) -> ProductCalls:
    recorded = ProductCalls()

    def recording_clients(**kwargs: Any) -> AwsClients:
        clients = AwsClients(**kwargs)
        recorded.ecr.attach(clients.ecr)
        recorded.sqs.attach(clients.sqs)
        return clients

    monkeypatch.setattr(lambda_function, "AwsClients", recording_clients)
    return recorded


@pytest.fixture
def queue_url(handler_env: None) -> str:
    return boto3.client("sqs", region_name=REGION).create_queue(QueueName="ecr-drift-sweep")["QueueUrl"]


@pytest.fixture
def fan_out_env(handler_env: None, queue_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The function with ``STATE`` and the sweep queue; a missing repository is missing at once (no retry
    sleeps: moto has no read lag)."""
    desired = tmp_path / "desired_state.json"
    desired.write_text(json.dumps(STATE))
    lambda_environment(monkeypatch, desired, SWEEP_QUEUE_URL=queue_url)
    monkeypatch.setattr(observe, "NOT_FOUND_DELAYS", ())
    return desired


def seed(names: list[str], *, drifting_every: int = 0) -> list[str]:
    """Seed through moto's backend: hundreds of boto3 calls would cost seconds and test nothing extra."""
    from moto.ecr.models import ecr_backends

    backend = ecr_backends[ACCOUNT_ID][REGION]
    for index, name in enumerate(names):
        backend.create_repository(
            repository_name=name,
            registry_id=None,
            encryption_config=None,  # type: ignore[arg-type]
            image_scan_config={"scanOnPush": not (drifting_every and index % drifting_every == 0)},
            image_tag_mutability="MUTABLE",
            tags=[],
        )
    return names


def team(count: int) -> list[str]:
    return [f"team/repo-{i:05d}" for i in range(count)]


def ecr() -> Any:
    return boto3.client("ecr", region_name=REGION)


def scan_on_push_by_name() -> dict[str, bool]:
    pages = ecr().get_paginator("describe_repositories").paginate()
    return {
        r["repositoryName"]: r["imageScanningConfiguration"]["scanOnPush"]
        for page in pages
        for r in page["repositories"]
    }


def receive_all(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
    return messages


def message(message_id: str, *names: str) -> dict[str, str]:
    body = SweepBatch(kind="sweep-batch", trigger="schedule", repositories=list(names), sweep_id="sweep-1")
    return {"MessageId": message_id, "Body": body.model_dump_json()}


# ---- the whole loop ----------------------------------------------------------------------------------------


def test_a_scheduled_sweep_fans_out_and_each_batch_is_checked_and_remediated(
    fan_out_env: Path, queue_url: str, calls: ProductCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    managed = seed(["api-gateway", *team(448)], drifting_every=DRIFTING_EVERY)
    seed(["scratch/experiment"])  # unmanaged: reported by the batch that holds it
    drifting = set(managed[::DRIFTING_EVERY])
    event = load_event("scheduled_event.json")

    response = invoke(event)

    # The schedule's invocation checks the registry, lists once (a page of 1000) and sends three messages.
    assert response["status"] == "ok", response
    assert response["fan_out"] == {
        "sweep_id": event["id"],
        "repositories": 450,
        "batches": 3,
        "batches_sent": 3,
        "failures": [],
    }
    assert response["repositories_checked"] == []
    assert sorted((f["resource"], f["setting"], f["action"]) for f in response["findings"]) == [
        ("registry", "creation_template", "remediated"),
        ("registry", "registry_scanning", "remediated"),
    ]
    assert calls.ecr.operations == Counter(
        {
            "GetRegistryScanningConfiguration": 1,
            "PutRegistryScanningConfiguration": 1,
            "DescribeRepositoryCreationTemplates": 1,
            "CreateRepositoryCreationTemplate": 1,
            "DescribeRepositories": 1,
        }
    )
    assert calls.sqs.operations == Counter({"SendMessageBatch": 1})
    messages = receive_all(queue_url)
    bodies = [json.loads(m["Body"]) for m in messages]
    assert sorted(len(b["repositories"]) for b in bodies) == [50, 200, 200]
    assert {(b["kind"], b["trigger"], b["sweep_id"]) for b in bodies} == {
        ("sweep-batch", "schedule", event["id"])
    }
    assert sorted(name for b in bodies for name in b["repositories"]) == sorted(
        [*managed, "scratch/experiment"]
    )
    assert all(drifting & set(b["repositories"]) for b in bodies), "drift in every batch"
    capsys.readouterr()
    calls.clear()

    result = invoke(sqs_event(messages))

    assert result == {"batchItemFailures": []}
    output = capsys.readouterr().out
    records = log_records(output)
    finished = [r for r in records if r["message"] == "run finished"]
    assert sorted(r["repositories_checked"] for r in finished) == [50, 200, 200]
    assert all(r["not_checked"] == [] for r in finished)
    assert {r["correlation_id"] for r in finished} == {event["id"]}  # one sweep, one correlation id
    findings = {
        (r["finding"]["resource"], r["finding"]["setting"], r["finding"]["action"])
        for r in records
        if "finding" in r
    }
    assert findings == {
        *((name, "scan_on_push", "remediated") for name in drifting),
        ("scratch/experiment", "unmanaged_repository", "reported"),
    }
    assert sum(v for v, _ in emitted_metrics(output)["RepositoriesChecked"]) == 450
    live = scan_on_push_by_name()
    assert all(live[name] for name in managed)
    # A batch costs DescribeRepositories by name (100 a call) and the fixes: no per-repository reads here.
    assert calls.ecr.operations == Counter(
        {"DescribeRepositories": 5, "PutImageScanningConfiguration": len(drifting)}
    )


def test_missing_managed_repositories_are_batched_apart_and_created(
    fan_out_env: Path, queue_url: str, monkeypatch: pytest.MonkeyPatch, calls: ProductCalls
) -> None:
    lambda_environment(monkeypatch, fan_out_env, SWEEP_QUEUE_URL=queue_url, SWEEP_BATCH_SIZE="2")
    listed = seed(team(3))

    response = invoke(load_event("scheduled_event.json"))

    assert response["fan_out"]["batches"] == 3
    messages = receive_all(queue_url)
    # One missing name fails a whole DescribeRepositories call: it does not share a batch with listed ones.
    assert sorted(json.loads(m["Body"])["repositories"] for m in messages) == [
        ["api-gateway"],
        listed[:2],
        listed[2:],
    ]
    assert invoke(sqs_event(messages)) == {"batchItemFailures": []}
    assert scan_on_push_by_name()["api-gateway"] is True


# ---- partial failures --------------------------------------------------------------------------------------


def test_a_failing_batch_is_delivered_again_and_malformed_ones_are_dropped(
    fan_out_env: Path,
    calls: ProductCalls,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = seed(team(4), drifting_every=1)
    real_run = engine.run

    def run_failing_for_repo_2(target: Any, **kwargs: Any) -> Any:
        if names[2] in (target.repositories or ()):
            raise RuntimeError("engine bug")
        return real_run(target, **kwargs)

    monkeypatch.setattr(engine, "run", run_failing_for_repo_2)
    capsys.readouterr()

    result = invoke(
        sqs_event(
            [
                message("m-ok", names[0], names[1]),
                message("m-fails", names[2]),
                {"MessageId": "m-not-json", "Body": "not json"},
                {
                    "MessageId": "m-other-kind",
                    "Body": json.dumps({"kind": "other", "repositories": [names[3]]}),
                },
            ]
        )
    )

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-fails"}]}
    live = scan_on_push_by_name()
    assert [live[name] for name in names] == [True, True, False, False]
    output = capsys.readouterr().out
    records = log_records(output)
    ignored = [r for r in records if r["message"] == "queue message ignored"]
    assert [(r["level"], r["message_id"]) for r in ignored] == [
        ("WARNING", "m-not-json"),
        ("WARNING", "m-other-kind"),
    ]
    assert all(r["reason"].startswith("malformed sweep batch: ") for r in ignored)
    [failed] = [r for r in records if r["message"].startswith("sweep batch failed")]
    assert (failed["level"], failed["message_id"]) == ("ERROR", "m-fails")
    assert "RuntimeError: engine bug" in failed["exception"]
    metrics = emitted_metrics(output)
    assert [v for v, _ in metrics["EnforcerErrors"]] == [1.0]
    assert [v for v, _ in metrics["EventsIgnored"]] == [1.0, 1.0]


def test_batches_out_of_time_are_delivered_again_untouched(fan_out_env: Path, calls: ProductCalls) -> None:
    names = seed(team(3), drifting_every=1)

    result = invoke(
        sqs_event([message("m-1", names[0]), message("m-2", names[1], names[2])]),
        FakeLambdaContext(timeout_ms=1_000),
    )

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}
    assert calls.ecr.writes == []
    assert not any(scan_on_push_by_name().values())


def test_a_queue_batch_that_cannot_start_is_delivered_again_whole(
    fan_out_env: Path, calls: ProductCalls, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "defaults": {"scan_on_pusj": true}}')
    lambda_environment(monkeypatch, bad)
    event = sqs_event([message("m-1", "team/a"), message("m-2", "team/b")])

    response = invoke(event)

    assert response["status"] == "error"
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]
    assert calls.ecr.calls == []


def test_batches_that_cannot_be_sent_are_not_checked_and_reported(
    fan_out_env: Path,
    calls: ProductCalls,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lambda_environment(
        monkeypatch,
        fan_out_env,
        SWEEP_QUEUE_URL=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/no-such-queue",
        SWEEP_BATCH_SIZE="2",
    )
    seeded = seed(team(3))

    response = invoke(load_event("scheduled_event.json"))

    assert response["status"] == "incomplete"
    assert response["not_checked"] == sorted([*seeded, "api-gateway"])
    assert (response["fan_out"]["batches"], response["fan_out"]["batches_sent"]) == (3, 0)
    assert [f.split(" not sent: ")[0] for f in response["fan_out"]["failures"]] == [
        "batch 1 of 3 (2 repositories)",
        "batch 2 of 3 (1 repositories)",
        "batch 3 of 3 (1 repositories)",
    ]
    assert all("NonExistentQueue" in f for f in response["fan_out"]["failures"])
    output = capsys.readouterr().out
    assert [r["level"] for r in log_records(output) if r["message"] == "sweep batch not sent"] == [
        "ERROR"
    ] * 3
    assert [v for v, _ in emitted_metrics(output)["SweepBatchesNotSent"]] == [3.0]


def test_a_manual_sweep_stays_in_process(fan_out_env: Path, queue_url: str, calls: ProductCalls) -> None:
    seeded = seed(team(3), drifting_every=1)

    response = invoke({"action": "enforce"})

    assert response["status"] == "ok"
    assert "fan_out" not in response
    assert response["repositories_checked"] == sorted([*seeded, "api-gateway"])
    assert calls.sqs.calls == []
    assert receive_all(queue_url) == []


# ---- the event path stays O(1) -----------------------------------------------------------------------------


def test_one_event_costs_the_same_few_calls_whatever_the_registry_size(
    handler_env: None, calls: ProductCalls
) -> None:
    assert invoke({"action": "enforce"})["summary"]["failed"] == 0
    event = load_event("put_lifecycle_policy_ci_role.json")  # temporal-worker's lifecycle policy replaced

    def cost() -> Counter[str]:
        ecr().put_lifecycle_policy(repositoryName="temporal-worker", lifecyclePolicyText=KEEP_5)
        calls.clear()
        response = invoke(event)
        assert [(f["resource"], f["setting"], f["action"]) for f in response["findings"]] == [
            ("temporal-worker", "lifecycle_policy", "remediated")
        ]
        assert all(
            c.params.get("repositoryNames") == ["temporal-worker"]
            for c in calls.ecr.calls
            if c.operation == "DescribeRepositories"
        )
        return calls.ecr.operations

    small = cost()
    seed(team(300))
    large = cost()

    assert large == small
    # Describe the one repository, read what it manages beyond that (lifecycle policy and tags: no repository
    # policy), list its images for the lifecycle guard, write the policy back.
    assert sum(large.values()) <= 5
    assert large == Counter(
        {
            "DescribeRepositories": 1,
            "GetLifecyclePolicy": 1,
            "ListTagsForResource": 1,
            "DescribeImages": 1,
            "PutLifecyclePolicy": 1,
        }
    )
    assert calls.sqs.calls == []
