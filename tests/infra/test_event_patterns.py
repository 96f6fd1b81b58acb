"""The EventBridge patterns, checked the way EventBridge routes: on moto, a rule per pattern with an SQS
target, ``put_events`` of every sample event, and what arrives in each queue.

(moto's TestEventPattern is an empty stub; its routing honours ``exists``, ``anything-but``, ``$or`` and
nested fields.) The samples are the project's ``tests/events`` plus a few in ``tests/infra/events`` for
principals without a session issuer (root, IAM users) and calls that must not match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ecr_drift.desired import DesiredState
from ecr_drift.events import Ignored, route, watched_calls
from infra.event_patterns import api_call_pattern, repository_created_pattern
from tests.conftest import EVENTS_DIR, REGION

INFRA_EVENTS_DIR = Path(__file__).resolve().parent / "events"
# The enforcer's role in the samples (tests/events/own_role_event.json).
ENFORCER_ROLE_ARN = "arn:aws:iam::123456789012:role/ecr-drift-enforcer"

API_CALLS_DELIVERED = {
    "delete_lifecycle_policy",
    "delete_pull_through_cache_rule",
    "delete_registry_policy",
    "delete_repository",
    "delete_repository_creation_template",
    "iam_user_tag_resource",  # no sessionContext
    "pulumi_deploy_role",  # ignore_principals is applied by the router, not the pattern
    "put_image_scanning_configuration_console",
    "put_image_tag_mutability",
    "put_lifecycle_policy_ci_role",
    "put_registry_scanning_configuration",
    "put_replication_configuration",
    "root_console_put_lifecycle_policy",  # sessionContext without sessionIssuer
    "set_repository_policy",
    "tag_resource",
    "untag_resource",
}
API_CALLS_REJECTED = {
    "failed_access_denied",  # errorCode: the call changed nothing
    "own_role_event",  # the enforcer's own remediation
    "describe_repositories_read",  # a read
    "s3_put_bucket_policy",  # another service
    "service_event_pull_through_cache",
    "policy_execution_event",
    "scheduled_event",
}
REPOSITORY_CREATED_DELIVERED = {"service_event_pull_through_cache"}


def _sample_events() -> dict[str, dict[str, Any]]:
    """Every sample that is an EventBridge event (manual invokes and non-objects cannot be put)."""
    events = {}
    for path in sorted([*EVENTS_DIR.glob("*.json"), *INFRA_EVENTS_DIR.glob("*.json")]):
        event = json.loads(path.read_text())
        if isinstance(event, dict) and isinstance(event.get("detail"), dict) and "detail-type" in event:
            events[path.stem] = event
    return events


SAMPLES = _sample_events()


def _deliveries(
    patterns: dict[str, dict[str, Any]], events: dict[str, dict[str, Any]]
) -> dict[str, set[str]]:
    """The sample names each pattern's rule delivers, routed by moto's EventBridge (one event at a time)."""
    delivered: dict[str, set[str]] = {rule: set() for rule in patterns}
    with mock_aws():
        bus = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queues = {}
        for rule, pattern in patterns.items():
            url = sqs.create_queue(QueueName=rule)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            bus.put_rule(Name=rule, EventPattern=json.dumps(pattern))
            bus.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
            queues[rule] = url
        for name, event in events.items():
            entry = {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
            }
            assert bus.put_events(Entries=[entry])["FailedEntryCount"] == 0
            for rule, url in queues.items():
                if _drain(sqs, url):
                    delivered[rule].add(name)
    return delivered


def _drain(sqs: Any, url: str) -> int:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


@pytest.fixture(scope="module")
def delivered() -> dict[str, set[str]]:
    patterns = {
        "api-calls": api_call_pattern(ENFORCER_ROLE_ARN),
        "repository-created": repository_created_pattern(),
    }
    return _deliveries(patterns, SAMPLES)


def test_the_samples_named_here_exist() -> None:
    named = API_CALLS_DELIVERED | API_CALLS_REJECTED | REPOSITORY_CREATED_DELIVERED
    assert named <= SAMPLES.keys(), f"missing samples: {sorted(named - SAMPLES.keys())}"


@pytest.mark.parametrize("name", sorted(API_CALLS_DELIVERED))
def test_api_call_pattern_delivers_successful_writes_by_others(
    name: str, delivered: dict[str, set[str]]
) -> None:
    assert name in delivered["api-calls"]


@pytest.mark.parametrize("name", sorted(API_CALLS_REJECTED))
def test_api_call_pattern_rejects_failed_own_read_and_foreign_calls(
    name: str, delivered: dict[str, set[str]]
) -> None:
    assert name not in delivered["api-calls"]


def test_repository_created_pattern_delivers_only_ecr_created_repositories(
    delivered: dict[str, set[str]],
) -> None:
    assert delivered["repository-created"] == REPOSITORY_CREATED_DELIVERED


def test_every_event_the_router_acts_on_is_delivered(
    delivered: dict[str, set[str]], example_state: DesiredState
) -> None:
    """No event the enforcer would act on is filtered out before it arrives (new samples included)."""
    acted_on = {
        name
        for name, event in SAMPLES.items()
        if event["source"] == "aws.ecr"
        and not isinstance(route(event, state=example_state, own_role_arn=ENFORCER_ROLE_ARN), Ignored)
    }
    assert acted_on
    assert acted_on <= delivered["api-calls"] | delivered["repository-created"]


def test_anything_but_alone_would_drop_principals_without_a_session_issuer() -> None:
    """Why the pattern has `$or`: `anything-but` does not match a missing field (EventBridge and moto)."""
    naive = api_call_pattern(ENFORCER_ROLE_ARN)
    naive["detail"].pop("$or")
    naive["detail"]["userIdentity"] = {
        "sessionContext": {"sessionIssuer": {"arn": [{"anything-but": [ENFORCER_ROLE_ARN]}]}}
    }
    without_issuer = {
        "root_console_put_lifecycle_policy",
        "iam_user_tag_resource",
        "put_image_tag_mutability",
    }
    routed = _deliveries({"naive": naive}, {name: SAMPLES[name] for name in without_issuer})
    assert routed["naive"] == {"put_image_tag_mutability"}


def test_watched_calls_are_ecr_write_calls() -> None:
    assert "CreateRepository" in watched_calls()
    assert "TagResource" in watched_calls()
    assert not [c for c in watched_calls() if c.startswith(("Describe", "Get", "List", "BatchGet"))]
