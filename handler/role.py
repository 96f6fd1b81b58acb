"""The enforcer's execution role: every action a part of the code declares. Pulumi builds the role from
:func:`required_iam_actions`; the SQS event source mapping of a fanned-out sweep (``SWEEP_QUEUE_URL``) also
needs :data:`QUEUE_CONSUMER_IAM_ACTIONS` on the queue."""

from __future__ import annotations

from handler.aws.permissions import engine_iam_actions
from handler.fanout import FANOUT_IAM_ACTIONS, QUEUE_CONSUMER_IAM_ACTIONS
from handler.publish import PUBLISH_IAM_ACTIONS

__all__ = ["QUEUE_CONSUMER_IAM_ACTIONS", "required_iam_actions"]


def required_iam_actions() -> list[str]:
    """Every action a run may call: the engine's reads and writes, the publishers' and the fan-out's."""
    return sorted({*engine_iam_actions(), *PUBLISH_IAM_ACTIONS, *FANOUT_IAM_ACTIONS})
