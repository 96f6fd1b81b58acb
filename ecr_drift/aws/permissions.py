"""The ECR (and ECR-implied) IAM actions the engine needs, derived from the settings' declared reads and
writes; ``ecr_drift.role`` adds what the publishers and the sweep fan-out declare."""

from __future__ import annotations

from collections.abc import Iterator

from ecr_drift.aws.observe import LIST_READ
from ecr_drift.desired.models import DesiredState
from ecr_drift.drift import create_repository_write
from ecr_drift.settings import registry_settings, repository_settings
from ecr_drift.state import Write


def engine_iam_actions() -> list[str]:
    """Listing repositories, recreating a missing one, and every registered setting's reads and writes."""
    return sorted(
        {
            LIST_READ.iam_action,
            *create_repository_write().iam_actions,
            *(action for s in (*repository_settings(), *registry_settings()) for action in s.iam_actions),
        }
    )


def registry_iam_actions() -> list[str]:
    """The ECR actions on the registry as a whole, which IAM grants on ``*`` only: a registry setting's own
    reads and writes. Every other ECR action names a repository (what they imply, such as a template's
    ecr:CreateRepository, is repository-level)."""
    return sorted(
        {
            *(read.iam_action for s in registry_settings() for read in s.reads),
            *(f"ecr:{write.operation}" for s in registry_settings() for write in s.writes),
        }
    )


def service_linked_roles() -> list[str]:
    """The AWS services whose service-linked role a write may create (``iam:AWSServiceName`` values)."""
    return sorted({service for write in _writes() for service in write.service_linked_roles})


def passed_role_arns(state: DesiredState) -> list[str]:
    """The roles the writes hand to ECR (iam:PassRole): the pull-through cache rules' ``custom_role_arn``."""
    rules = (state.registry.pull_through_cache or {}).values()
    return sorted({rule.custom_role_arn for rule in rules if rule.custom_role_arn is not None})


def _writes() -> Iterator[Write]:
    yield create_repository_write()
    for setting in (*repository_settings(), *registry_settings()):
        yield from setting.writes
