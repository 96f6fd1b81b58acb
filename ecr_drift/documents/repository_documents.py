"""The documents one repository's effective settings compile to.

Pulumi sets these texts, the enforcer compares against these documents and `ecr-drift documents` prints
them: one function each, so the three can never disagree.
"""

from __future__ import annotations

from typing import Any

from ecr_drift.desired.models import RepositorySettings
from ecr_drift.documents.lifecycle import compile_lifecycle_policy, render_lifecycle_policy
from ecr_drift.documents.repository_policy import build_repository_policy, render_repository_policy


def lifecycle_document(settings: RepositorySettings) -> dict[str, Any] | None:
    """None: not managed. ``{"rules": []}``: the repository must have no lifecycle policy."""
    return compile_lifecycle_policy(settings.lifecycle) if settings.lifecycle is not None else None


def repository_policy_document(settings: RepositorySettings) -> dict[str, Any] | None:
    """None: not managed (no account ids and no statements given)."""
    return build_repository_policy(
        settings.pull_account_ids, settings.push_account_ids, settings.policy_statements
    )


def lifecycle_policy_text(settings: RepositorySettings) -> str | None:
    """The text to set, or None: not managed, or ``[]`` (the repository must have none)."""
    document = lifecycle_document(settings)
    return render_lifecycle_policy(document) if document and document["rules"] else None


def repository_policy_text(settings: RepositorySettings) -> str | None:
    document = repository_policy_document(settings)
    return None if document is None else render_repository_policy(document)
