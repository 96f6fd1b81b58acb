"""A run's deadline, enforced on its ECR client: no attempt starts, and no retry is waited for, that could
end after the time kept for publishing. A Lambda killed at its timeout publishes nothing, so a read
throttled on every attempt must give up in time rather than retry past the end.

Per attempt, the client's timeouts bound the wait (``ecr_drift.aws.clients``); between attempts, botocore's
backoff is at most ``MAX_BACKOFF_S``. A change whose calls must all be made (a cache rule deleted to be
created again) is not started without the time for each (:func:`time_for_calls`), so the deadline never
falls between them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError

from ecr_drift.aws.clients import ATTEMPT_TIMEOUT_S

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

PUBLISH_RESERVE_MS = 20_000  # kept for the logs, SNS, EventBridge and Security Hub after the checks
MAX_BACKOFF_S = 20  # botocore.retries.standard.ExponentialBackoff._MAX_BACKOFF
# No attempt starts later than this before the end: it could still be waiting when publishing must start.
LAST_ATTEMPT_MS = PUBLISH_RESERVE_MS + ATTEMPT_TIMEOUT_S * 1000
# No retry is waited for later than this: its backoff and its attempt could run past LAST_ATTEMPT_MS.
LAST_RETRY_MS = LAST_ATTEMPT_MS + MAX_BACKOFF_S * 1000
# One attempt, then one retry after the longest backoff: what each call of a change that must not stop
# halfway (a rule deleted to be re-created) is given before the change starts.
CALL_WITH_RETRY_MS = (2 * ATTEMPT_TIMEOUT_S + MAX_BACKOFF_S) * 1000


def time_for_calls(attempts: int) -> int:
    """The time left that lets ``attempts`` calls be made one after the other, each with a retry, before
    the publishing's time: a change that must not stop halfway starts only with this much left."""
    return PUBLISH_RESERVE_MS + attempts * CALL_WITH_RETRY_MS


class DeadlineReached(BotoCoreError):
    """A call was not attempted: too little time was left in the run. A botocore error, so that every
    caller that turns AWS errors into ``failed`` findings does so with this one too."""

    fmt = "not attempted: {seconds_left:.1f} s left in the run"


@contextmanager
def deadline(ecr: ECRClient, time_left_ms: Callable[[], int] | None) -> Iterator[None]:
    """Hold ``ecr``'s calls to the run's remaining time while the block runs (nothing when it is None)."""
    if time_left_ms is None:
        yield
        return
    left = time_left_ms

    def before_send(**_: Any) -> None:
        if left() < LAST_ATTEMPT_MS:
            raise DeadlineReached(seconds_left=left() / 1000)

    def needs_retry(**_: Any) -> bool | None:
        # False is botocore's "no retry": the call ends with the error it just got, instead of sleeping.
        return False if left() < LAST_RETRY_MS else None

    events = ecr.meta.events
    unique = f"ecr-drift-deadline-{id(left)}"
    events.register_first("before-send.ecr", before_send, unique_id=f"{unique}-send")
    # botocore's stubs type handlers as returning None; needs-retry handlers do return a decision.
    events.register_first("needs-retry.ecr", needs_retry, unique_id=f"{unique}-retry")  # type: ignore[arg-type]
    try:
        yield
    finally:
        events.unregister("before-send.ecr", unique_id=f"{unique}-send")
        events.unregister("needs-retry.ecr", unique_id=f"{unique}-retry")
