"""The enforcer's execution role: every action a part of the code declares. Pulumi builds the role from
:func:`required_iam_actions`, granting the repository-level ECR actions on the account's repositories and the
:func:`registry_iam_actions` on ``*``, iam:CreateServiceLinkedRole for the :func:`service_linked_roles`
only, and iam:PassRole on the desired state's :func:`passed_role_arns` only. The SQS event source mapping of a
fanned-out sweep (``SWEEP_QUEUE_URL``) also needs :data:`QUEUE_CONSUMER_IAM_ACTIONS` on the queue."""

from __future__ import annotations

from ecr_drift.aws.permissions import (
    engine_iam_actions,
    passed_role_arns,
    registry_iam_actions,
    service_linked_roles,
)
from ecr_drift.fanout import FANOUT_IAM_ACTIONS, QUEUE_CONSUMER_IAM_ACTIONS
from ecr_drift.publish import PUBLISH_IAM_ACTIONS

__all__ = [
    "QUEUE_CONSUMER_IAM_ACTIONS",
    "passed_role_arns",
    "registry_iam_actions",
    "required_iam_actions",
    "service_linked_roles",
]


def required_iam_actions() -> list[str]:
    """Every action a run may call: the engine's reads and writes, the publishers' and the fan-out's."""
    return sorted({*engine_iam_actions(), *PUBLISH_IAM_ACTIONS, *FANOUT_IAM_ACTIONS})
