"""The ECR (and ECR-implied) IAM actions the engine needs, derived from the settings' declared reads and
writes; ``handler.role`` adds what the publishers and the sweep fan-out declare."""

from __future__ import annotations

from handler.aws.observe import LIST_READ
from handler.drift import create_repository_write
from handler.settings import registry_settings, repository_settings


def engine_iam_actions() -> list[str]:
    """Listing repositories, recreating a missing one, and every registered setting's reads and writes."""
    return sorted(
        {
            LIST_READ.iam_action,
            *create_repository_write().iam_actions,
            *(action for s in (*repository_settings(), *registry_settings()) for action in s.iam_actions),
        }
    )
