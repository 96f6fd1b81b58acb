"""The sweep fan-out's pure parts: the message format, SendMessageBatch's limits, reading a record back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecr_drift.events import Ignored
from ecr_drift.fanout import (
    CALL_BYTES,
    ENTRIES_PER_CALL,
    FANOUT_IAM_ACTIONS,
    QUEUE_CONSUMER_IAM_ACTIONS,
    SweepBatch,
    is_queue_event,
    read_batch,
    retry_all,
    send_batches,
)
from ecr_drift.targets import Target
from tests.lambda_harness import sqs_event

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/ecr-drift-sweep"


def batch(*names: str, sweep_id: str = "sweep-1") -> SweepBatch:
    return SweepBatch(kind="sweep-batch", trigger="schedule", repositories=list(names), sweep_id=sweep_id)


class FakeSqs:
    """SendMessageBatch only: records each call, refuses the entry ids in ``refuse``, or raises."""

    def __init__(self, refuse: frozenset[str] = frozenset(), error: ClientError | None = None) -> None:
        self.calls: list[list[dict[str, str]]] = []
        self.refuse = refuse
        self.error = error

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        assert QueueUrl == QUEUE
        self.calls.append(Entries)
        if self.error is not None:
            raise self.error
        return {
            "Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in self.refuse],
            "Failed": [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                for e in Entries
                if e["Id"] in self.refuse
            ],
        }


def test_the_message_body_is_the_documented_json() -> None:
    body = json.loads(batch("team/api", "team/web").model_dump_json())

    assert body == {
        "kind": "sweep-batch",
        "trigger": "schedule",
        "repositories": ["team/api", "team/web"],
        "sweep_id": "sweep-1",
    }
    assert read_batch(json.dumps(body)) == batch("team/api", "team/web")
    assert batch("team/api").target() == Target(trigger="schedule", repositories=("team/api",))


def test_ten_messages_a_call() -> None:
    sqs = FakeSqs()
    batches = [batch(f"team/repo-{i}") for i in range(25)]

    unsent, failures = send_batches(sqs, QUEUE, batches)  # type: ignore[arg-type]

    assert (unsent, failures) == ([], [])
    assert [len(call) for call in sqs.calls] == [ENTRIES_PER_CALL, ENTRIES_PER_CALL, 5]
    sent = [SweepBatch.model_validate_json(e["MessageBody"]) for call in sqs.calls for e in call]
    assert sent == batches


def test_a_call_stays_within_sqs_size_limit() -> None:
    # 500 names of 250 characters: ~126 KB a message, so two fit in one call and three do not.
    name = "a" * 246
    batches = [batch(*(f"{name}{i:04d}" for i in range(500))) for _ in range(5)]
    sqs = FakeSqs()

    send_batches(sqs, QUEUE, batches)  # type: ignore[arg-type]

    assert [len(call) for call in sqs.calls] == [2, 2, 1]
    assert all(sum(len(e["MessageBody"].encode()) for e in call) <= CALL_BYTES for call in sqs.calls)


def test_refused_entries_are_reported_with_their_repositories() -> None:
    batches = [batch("team/a"), batch("team/b", "team/c"), batch("team/d")]

    unsent, failures = send_batches(FakeSqs(refuse=frozenset({"1"})), QUEUE, batches)  # type: ignore[arg-type]

    assert unsent == [batches[1]]
    assert failures == ["batch 2 of 3 (2 repositories) not sent: InternalError: try again"]


def test_a_failed_call_reports_each_of_its_batches() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessageBatch")
    batches = [batch("team/a"), batch("team/b")]

    unsent, failures = send_batches(FakeSqs(error=denied), QUEUE, batches)  # type: ignore[arg-type]

    assert unsent == batches
    assert [f.split(" not sent: ")[0] for f in failures] == [
        "batch 1 of 2 (1 repositories)",
        "batch 2 of 2 (1 repositories)",
    ]
    assert all("AccessDenied" in f for f in failures)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "Invalid JSON"),
        ('["team/a"]', "(root)"),
        ('{"kind": "other", "trigger": "schedule", "repositories": ["team/a"], "sweep_id": "s"}', "kind"),
        ('{"trigger": "schedule", "repositories": ["team/a"], "sweep_id": "s"}', "kind"),
        (
            '{"kind": "sweep-batch", "trigger": "schedule", "repositories": [], "sweep_id": "s"}',
            "repositories",
        ),
        (
            '{"kind": "sweep-batch", "trigger": "schedule", "repositories": ["Bad Name"], "sweep_id": "s"}',
            "repositories[0]",
        ),
        ('{"kind": "sweep-batch", "trigger": "schedule", "repositories": ["team/a"]}', "sweep_id"),
        ('{"kind": "sweep-batch", "trigger": "s", "repositories": ["team/a"], "sweep_id": "s", "x": 1}', "x"),
    ],
)
def test_a_malformed_body_is_ignored_with_the_reason(body: str, problem: str) -> None:
    read = read_batch(body)

    assert isinstance(read, Ignored)
    assert read.warning
    assert read.reason.startswith("malformed sweep batch: ")
    assert problem in read.reason


def test_queue_events_are_recognised() -> None:
    event = sqs_event([{"MessageId": "m-1", "Body": "{}"}, {"MessageId": "m-2", "Body": "{}"}])

    assert is_queue_event(event)
    assert retry_all(event) == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}
    mixed = {"Records": [*event["Records"], {"eventSource": "aws:s3"}]}
    for other in ({"Records": []}, mixed, {"action": "audit"}, ["Records"], None):
        assert not is_queue_event(other)
        assert retry_all(other) == {}


def test_declared_sqs_actions() -> None:
    assert FANOUT_IAM_ACTIONS == ("sqs:SendMessage",)  # SendMessageBatch is authorised as SendMessage
    assert set(QUEUE_CONSUMER_IAM_ACTIONS) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
