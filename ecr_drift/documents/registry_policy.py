"""The registry policy: ``registry.policy_statements`` → the exact PutRegistryPolicy text.

Pure: no AWS, no I/O. Pulumi and the Lambda both send :func:`render_registry_policy`'s text. Drift is judged
on :func:`canonical_registry_policy`, the same canonical form as repository policies (``iam_policy``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecr_drift.desired.models import RegistryPolicyStatement
from ecr_drift.documents.canonical_json import dumps
from ecr_drift.documents.iam_policy import (
    POLICY_VERSION,
    canonical_policy,
    parse_policy,
    statement_documents,
    statement_problems,
)
from ecr_drift.documents.problems import DocumentError, Problem

WHAT = "registry policy"
FIELD = "policy_statements"
# botocore's ECR model: PutRegistryPolicy `policyText` (RegistryPolicyText) is at most 10,240 characters.
MAX_REGISTRY_POLICY_TEXT_LENGTH = 10_240


def build_registry_policy(
    statements: Sequence[RegistryPolicyStatement], *, allow_public_pull: bool = True
) -> dict[str, Any]:
    """The registry policy document; ``{"Version": ..., "Statement": []}`` for ``[]`` (never sent: no policy).

    Raises :class:`DocumentError`, with paths relative to ``registry`` (``policy_statements[1].Sid``), when
    ECR would reject it or a statement is dangerous. ``allow_public_pull``: as for
    ``build_repository_policy``, validation passes the configured value and the default is the laxer one.
    """
    problems = statement_problems(statements, allow_public_pull=allow_public_pull, field=FIELD)
    document: dict[str, Any] = {"Version": POLICY_VERSION, "Statement": statement_documents(statements)}
    length = len(render_registry_policy(document))
    if length > MAX_REGISTRY_POLICY_TEXT_LENGTH:
        problems.append(
            Problem(
                FIELD,
                f"the registry policy is {length} characters; ECR allows {MAX_REGISTRY_POLICY_TEXT_LENGTH}",
            )
        )
    if problems:
        raise DocumentError(problems)
    return document


def registry_policy_text(statements: Sequence[RegistryPolicyStatement] | None) -> str | None:
    """The text to put, or None: not managed (``None``) or no policy at all (``[]``: it is deleted)."""
    if not statements:
        return None
    return render_registry_policy(build_registry_policy(statements))


def render_registry_policy(document: Mapping[str, Any]) -> str:
    """THE registry policy text that Pulumi and the Lambda send: byte-identical for equal documents."""
    return dumps(document)


def parse_registry_policy(text: str) -> dict[str, Any]:
    """The policy in ``text`` (GetRegistryPolicy's ``policyText``); ``ValueError`` if not a JSON object."""
    return parse_policy(text, WHAT)


def canonical_registry_policy(text_or_document: str | Mapping[str, Any]) -> dict[str, Any]:
    """A form in which two registry policies are equal exactly when AWS treats them as the same policy."""
    return canonical_policy(text_or_document, WHAT)


def registry_policies_equal(a: str | Mapping[str, Any], b: str | Mapping[str, Any]) -> bool:
    return canonical_registry_policy(a) == canonical_registry_policy(b)
