"""A manual audit of 3,000 drifted repositories through the real handler on moto, with SNS and EventBridge on:
the response, every PutEvents request and the SNS message stay inside AWS's limits, and what each leaves out
is counted and in the log.

The engine's report is made here (3,000 repositories through moto take minutes): documents of ECR's usual
size, some at its limits, one past anything a request can carry, long messages, and failed findings last.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest

from ecr_drift import engine, lambda_function
from ecr_drift.aws.clients import AwsClients
from ecr_drift.findings import Action, Finding, Report
from ecr_drift.targets import Target
from tests.conftest import REGION
from tests.lambda_harness import invoke, lambda_environment, log_records

RESPONSE_LIMIT = 6 * 1024 * 1024  # Lambda: a synchronous invoke's response
REQUEST_LIMIT = 256 * 1024  # PutEvents: a request; SNS: a message
REPOSITORIES = 3000
AT_ECR_LIMIT = 12  # repositories whose lifecycle policies are near ECR's 30,720 characters
TALKATIVE = 60  # findings with a long message (a lifecycle preview)
FAILED = 5
OVERSIZE = "team/oversize-0000"


def name(number: int) -> str:
    return f"team/service-{number:04d}"


def lifecycle_policy(repository: str, keep: int, rules: int) -> dict[str, Any]:
    return {
        "rules": [
            {
                "rulePriority": priority,
                "description": f"keep the last {keep} images of {repository} release line {priority}",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [f"{repository.rsplit('/', 1)[1]}-release-{priority}"],
                    "countType": "imageCountMoreThan",
                    "countNumber": keep,
                },
                "action": {"type": "expire"},
            }
            for priority in range(1, rules + 1)
        ]
    }


def drifted(number: int) -> Finding:
    repository = name(number)
    rules = 120 if number < AT_ECR_LIMIT else 6
    return Finding(
        repository,
        "lifecycle_policy",
        lifecycle_policy(repository, 30, rules),
        lifecycle_policy(repository, 300, rules),
        message=("would expire: " + ", ".join(f"sha256:{i:064x}" for i in range(80)))
        if number < TALKATIVE
        else "lifecycle policy differs",
    )


FINDINGS = [
    *(drifted(number) for number in range(REPOSITORIES)),
    # Past anything one PutEvents entry may carry: its documents are cut, the rest of it goes.
    Finding(OVERSIZE, "repository_policy", {"Statement": ["x" * 150_000]}, {"Statement": ["y" * 150_000]}),
    *(
        Finding(name(n), "tags", {"team": "payments"}, None, Action.FAILED, error="AccessDeniedException")
        for n in range(FAILED)
    ),
]


def fake_run(target: Target, **kwargs: Any) -> Report:
    """The engine's report of a run over the 3,000 repositories, each finding handed on as the engine does."""
    if (on_findings := kwargs.get("on_findings")) is not None:
        on_findings(list(FINDINGS))
    return Report(
        mode=str(kwargs["mode"]),
        trigger=target.trigger,
        repositories_checked=[name(n) for n in range(REPOSITORIES)] + [OVERSIZE],
        findings=list(FINDINGS),
    )


class Sent:
    """What the handler's own clients send: each PutEvents request body, each SNS message and subject."""

    def __init__(self) -> None:
        self.put_events: list[bytes] = []
        self.messages: list[tuple[str, str]] = []

    def record_put_events(self, params: dict[str, Any], **_: Any) -> None:
        self.put_events.append(params["body"])  # the JSON body, as it goes on the wire

    def record_publish(self, params: dict[str, Any], **_: Any) -> None:
        self.messages.append((params["body"]["Subject"], params["body"]["Message"]))  # form fields


@pytest.fixture
def sent(handler_env: None, monkeypatch: pytest.MonkeyPatch) -> Sent:
    recorder = Sent()

    def recording_clients(**kwargs: Any) -> AwsClients:
        clients = AwsClients(**kwargs)
        clients.events.meta.events.register("before-call.events.PutEvents", recorder.record_put_events)
        clients.sns.meta.events.register("before-call.sns.Publish", recorder.record_publish)
        return clients

    monkeypatch.setattr(lambda_function, "AwsClients", recording_clients)
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="ecr-drift-findings")["TopicArn"]
    lambda_environment(monkeypatch, FINDINGS_TOPIC_ARN=topic, FINDINGS_EVENT_BUS="default")
    monkeypatch.setattr(engine, "run", fake_run)
    return recorder


@pytest.mark.slow
def test_a_3000_repository_audit_answers_within_every_limit(
    sent: Sent, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = json.dumps({"findings": [f.to_dict() for f in FINDINGS]})
    assert len(whole) > RESPONSE_LIMIT  # what the response would be with every finding in it

    response = invoke({"action": "audit"})

    # The response: under 6 MB, its summary whole, the findings that fit most important first.
    assert len(json.dumps(response).encode()) < RESPONSE_LIMIT
    assert response["status"] == "ok"
    assert response["publish_errors"] == []
    assert (response["mode"], response["trigger"]) == ("audit", "manual")
    total = len(FINDINGS)
    assert response["summary"] == {
        "drift": REPOSITORIES + 1,
        "remediated": 0,
        "reported": 0,
        "blocked": 0,
        "failed": FAILED,
    }
    assert len(response["repositories_checked"]) == REPOSITORIES + 1
    assert response["not_checked"] == []
    kept = response["findings"]
    assert 0 < len(kept) < total
    assert [f["action"] for f in kept[:FAILED]] == ["failed"] * FAILED  # last in the engine's order
    assert [f["resource"] for f in kept[FAILED : FAILED + 3]] == [name(0), name(1), name(2)]
    omitted = response["omitted"]
    assert set(omitted) == {"findings"}
    assert omitted["findings"]["left_out"] == total - len(kept)
    assert omitted["findings"]["total"] == total
    left_out = [f for f in FINDINGS if f.action is Action.DRIFT][len(kept) - FAILED :]
    assert omitted["findings"]["by_action"] == {"drift": len(left_out)}
    assert omitted["findings"]["by_setting"] == dict(Counter(f.setting for f in left_out))
    assert "CloudWatch Logs" in omitted["findings"]["where"]

    # Every PutEvents request: at most 10 entries and 256 KB; every finding sent once.
    bodies = [json.loads(body) for body in sent.put_events]
    assert all(len(body) <= REQUEST_LIMIT for body in sent.put_events)
    assert all(len(body["Entries"]) <= 10 for body in bodies)
    details = [json.loads(e["Detail"]) for body in bodies for e in body["Entries"]]
    assert sorted(d["resource"] for d in details) == sorted(f.resource for f in FINDINGS)
    [oversize] = [d for d in details if d["resource"] == OVERSIZE]
    assert "function's log" in oversize["note"]
    assert oversize["expected"].startswith('{"Statement":["xxx')
    assert oversize["expected"].endswith("...")
    assert not any("note" in d for d in details if d["resource"] != OVERSIZE)

    # The SNS message: under 256 KB with its subject under 100 characters, saying how many it left out.
    [(subject, message)] = sent.messages
    assert len(subject) < 100
    assert len(message.encode()) <= REQUEST_LIMIT
    listed = message.count("\n\n") - 1  # one block per finding listed, and the closing line
    assert 0 < listed < 50
    notified = total  # every finding is worth a mail: drift and failed
    assert f"... and {notified - listed} more, each a line of the function's log" in message
    assert "1. team/service-0000 / tags: failed" in message

    # Where the response and the message say the rest is: one log line per finding.
    logged = [r["finding"] for r in log_records(capsys.readouterr().out) if "finding" in r]
    assert len(logged) == total
    assert logged[-1]["resource"] == name(FAILED - 1)
