"""Sweeps larger than one invocation: an SQS queue between the schedule and the checks.

A Lambda runs for at most 900 s, and a registry can hold 100,000 repositories. With ``SWEEP_QUEUE_URL`` set,
the scheduled invocation checks the registry settings itself, lists the repositories (``engine``'s sweep
listing) and sends them to the queue in batches of ``SWEEP_BATCH_SIZE``; the same function then receives
each batch as one SQS record and checks it as one engine run over those repositories.

Message body: ``{"kind": "sweep-batch", "trigger": ..., "repositories": [...], "sweep_id": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError

from ecr_drift import engine
from ecr_drift.aws.errors import AwsError
from ecr_drift.events import Ignored, RepositoryName, validation_errors
from ecr_drift.findings import Report
from ecr_drift.strict_model import StrictModel
from ecr_drift.targets import Mode, Target

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

    from ecr_drift.aws.clients import AwsClients
    from ecr_drift.desired import DesiredState

# SendMessageBatch is authorised as sqs:SendMessage (there is no sqs:SendMessageBatch action).
FANOUT_IAM_ACTIONS = ("sqs:SendMessage",)
# What the queue's Lambda event source mapping needs to deliver batches: it acts with the function's
# execution role, so infra grants these on the queue (the enforcer's code never calls them).
QUEUE_CONSUMER_IAM_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
SWEEP_BATCH: Literal["sweep-batch"] = "sweep-batch"
QUEUE_EVENT_SOURCE = "aws:sqs"
ENTRIES_PER_CALL = 10  # SendMessageBatch's limit
CALL_BYTES = 256 * 1024  # SendMessageBatch's limit on the messages of one call, together


class SweepBatch(StrictModel):
    """One queue message: the repositories one engine run checks."""

    kind: Literal["sweep-batch"]  # required: a body without it is not one of these
    trigger: str = Field(min_length=1, max_length=256)
    repositories: list[RepositoryName] = Field(min_length=1)
    sweep_id: str = Field(min_length=1, max_length=256)

    def target(self) -> Target:
        return Target(trigger=self.trigger, repositories=tuple(self.repositories))


class BatchIncomplete(Exception):
    """A batch's run ran out of time: raised so that SQS delivers the batch again."""


@dataclass
class FanOut:
    """What a fanned-out sweep sent; ``failures`` says why each batch that was not sent was not."""

    sweep_id: str
    repositories: int = 0
    batches: int = 0
    batches_sent: int = 0
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- producer: the scheduled invocation ------------------------------------------------------------------


def fan_out(
    target: Target,
    *,
    state: DesiredState,
    mode: Mode,
    clients: AwsClients,
    queue_url: str,
    batch_size: int,
    sweep_id: str,
    time_left_ms: Callable[[], int] | None = None,
) -> tuple[Report, FanOut]:
    """Check the registry settings, then send every repository a sweep covers to ``queue_url``.

    The report holds the registry's findings (and a failed listing); the repositories of batches that could
    not be sent are its ``not_checked``, as they are when a run runs out of time.
    """
    report = engine.run(
        replace(target, repositories=()), state=state, mode=mode, clients=clients, time_left_ms=time_left_ms
    )
    swept, failed = engine.sweep_repositories(clients.ecr, state)
    report.findings += failed
    listed = [name for name, description in swept.items() if description is not None]
    missing = [name for name, description in swept.items() if description is None]
    # Missing managed repositories get batches of their own: one missing name fails a whole
    # DescribeRepositories call, which the batch's run then repeats name by name.
    batches = [
        SweepBatch(kind=SWEEP_BATCH, trigger=target.trigger, repositories=names, sweep_id=sweep_id)
        for group in (listed, missing)
        for names in _chunks(group, batch_size)
    ]
    unsent, failures = send_batches(clients.sqs, queue_url, batches)
    report.not_checked += [name for batch in unsent for name in batch.repositories]
    return report, FanOut(sweep_id, len(swept), len(batches), len(batches) - len(unsent), failures)


def send_batches(
    sqs: SQSClient, queue_url: str, batches: Sequence[SweepBatch]
) -> tuple[list[SweepBatch], list[str]]:
    """Send ``batches``, ten a call; returns the batches that were not sent and why, one line each."""
    bodies = [batch.model_dump_json() for batch in batches]
    unsent: list[SweepBatch] = []
    failures: list[str] = []
    for call in _calls(bodies):
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "MessageBody": bodies[index]} for index in call
        ]
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            refused = [
                (int(e["Id"]), f"{e['Code']}: {e.get('Message', '')}") for e in response.get("Failed", [])
            ]
        except AwsError as error:  # botocore has retried already; the other calls may still go through
            refused = [(index, str(error)) for index in call]
        for index, reason in refused:
            unsent.append(batches[index])
            failures.append(
                f"batch {index + 1} of {len(batches)} ({len(batches[index].repositories)} repositories) "
                f"not sent: {reason}"
            )
    return unsent, failures


def _chunks(names: list[str], size: int) -> list[list[str]]:
    return [names[start : start + size] for start in range(0, len(names), size)]


def _calls(bodies: Sequence[str]) -> Iterator[list[int]]:
    """Indices of ``bodies`` grouped into SendMessageBatch calls within its count and size limits."""
    call: list[int] = []
    size = 0
    for index, body in enumerate(bodies):
        length = len(body.encode())
        if call and (len(call) == ENTRIES_PER_CALL or size + length > CALL_BYTES):
            yield call
            call, size = [], 0
        call.append(index)
        size += length
    if call:
        yield call


# ---- consumer: the same function, invoked by the queue's event source mapping ----------------------------


def is_queue_event(event: Any) -> bool:
    """An SQS event source mapping's invoke: ``Records`` that all come from SQS."""
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == QUEUE_EVENT_SOURCE for r in records)
    )


def read_batch(body: str) -> SweepBatch | Ignored:
    """The batch in a message body, or why there is none (such a message would fail on every retry)."""
    try:
        return SweepBatch.model_validate_json(body)
    except ValidationError as error:
        return Ignored(f"malformed sweep batch: {validation_errors(error)}", warning=True)


def retry_all(event: Any) -> dict[str, Any]:
    """For an SQS invoke that stopped before its records (invalid environment or desired state, a bug): every
    record as a batch item failure, so SQS delivers them again and its dead-letter queue keeps what keeps
    failing. Nothing for any other event."""
    if not is_queue_event(event):
        return {}
    return {"batchItemFailures": [{"itemIdentifier": r.get("messageId", "")} for r in event["Records"]]}
