"""Repository policies: ``desired_state.json`` → the exact ECR repository policy; drift on canonical forms.

Pure: no AWS, no I/O. Pulumi and the Lambda both send :func:`render_repository_policy`'s text, so they never
fight over it. Drift is judged by :func:`repository_policies_equal`, whose canonical form absorbs what AWS
does to a stored policy (pretty printing, account id → root ARN, one-element list → string, statement order).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ecr_drift.desired.models import PolicyStatement
from ecr_drift.documents.canonical_json import dumps
from ecr_drift.documents.iam_policy import (
    POLICY_VERSION,
    PULL_ACTIONS,
    canonical_policy,
    parse_policy,
    policy_statements,
    root_arn,
    sid,
    statement_documents,
    statement_problems,
)
from ecr_drift.documents.problems import DocumentError, Problem

WHAT = "repository policy"
PULL_SID = "CrossAccountPull"
PUSH_SID = "CrossAccountPush"
# Compiled from pull_account_ids / push_account_ids: a user statement must not reuse them.
MANAGED_SIDS: frozenset[str] = frozenset({PULL_SID, PUSH_SID})
PUSH_ACTIONS = ("ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart")
# botocore's ECR model: SetRepositoryPolicy `policyText` is at most 10,240 characters.
MAX_POLICY_TEXT_LENGTH = 10_240

__all__ = [
    "MANAGED_SIDS",
    "MAX_POLICY_TEXT_LENGTH",
    "POLICY_VERSION",
    "PULL_ACTIONS",
    "PULL_SID",
    "PUSH_ACTIONS",
    "PUSH_SID",
    "build_repository_policy",
    "canonical_repository_policy",
    "desired_policy_with_kept",
    "parse_repository_policy",
    "render_repository_policy",
    "repository_policies_equal",
]


def build_repository_policy(
    pull_account_ids: Sequence[str] | None,
    push_account_ids: Sequence[str] | None,
    statements: Sequence[PolicyStatement] | None,
    *,
    allow_public_pull: bool = True,
) -> dict[str, Any] | None:
    """The policy a repository must have; ``None`` when none of the three is given (policy not managed).

    Raises :class:`DocumentError` (paths relative to the repository settings) when ECR would reject it or
    a statement is dangerous (``statement_problems``). Validation passes ``enforcement.allow_public_pull``;
    the default is the laxer value, so compiling a validated desired state never fails on a statement
    validation accepted, while more than pulling for a public principal, unnarrowed, is always rejected.
    """
    if pull_account_ids is None and push_account_ids is None and statements is None:
        return None
    user_statements = list(statements or ())
    problems = statement_problems(
        user_statements,
        allow_public_pull=allow_public_pull,
        reserved_sids=MANAGED_SIDS,
        reserved_for="pull_account_ids / push_account_ids",
    )
    pushers = sorted(set(push_account_ids or ()))
    # Push implies pull: a pusher that cannot pull cannot check which layers already exist.
    pullers = sorted(set(pull_account_ids or ()) | set(pushers))
    document: dict[str, Any] = {
        "Version": POLICY_VERSION,
        "Statement": [
            *_account_statement(PULL_SID, pullers, PULL_ACTIONS),
            *_account_statement(PUSH_SID, pushers, PUSH_ACTIONS),
            *statement_documents(user_statements),
        ],
    }
    length = len(render_repository_policy(document))
    if length > MAX_POLICY_TEXT_LENGTH:
        problems.append(
            Problem("", f"the repository policy is {length} characters; ECR allows {MAX_POLICY_TEXT_LENGTH}")
        )
    if problems:
        raise DocumentError(problems)
    return document


def render_repository_policy(document: Mapping[str, Any]) -> str:
    """THE policy text that Pulumi and the Lambda send: byte-identical for equal documents."""
    return dumps(document)


def parse_repository_policy(text: str) -> dict[str, Any]:
    """The policy in ``text`` (e.g. GetRepositoryPolicy's ``policyText``); ``ValueError`` if not JSON."""
    return parse_policy(text, WHAT)


def canonical_repository_policy(document_or_text: str | Mapping[str, Any]) -> dict[str, Any]:
    """A form in which two policies are equal exactly when AWS treats them as the same policy."""
    return canonical_policy(document_or_text, WHAT)


def repository_policies_equal(a: str | Mapping[str, Any], b: str | Mapping[str, Any]) -> bool:
    return canonical_repository_policy(a) == canonical_repository_policy(b)


def desired_policy_with_kept(
    desired: Mapping[str, Any], observed: Mapping[str, Any] | None, keep_sids: Collection[str]
) -> dict[str, Any]:
    """The policy the repository must have: ``desired`` plus the observed statements whose Sid is kept.

    Observed statements with any other Sid, or none, are dropped. A Sid that ``desired`` declares is
    always the desired statement, even when it is also in ``keep_sids``.
    """
    declared = {sid(s) for s in policy_statements(desired, WHAT)}
    kept = [
        dict(s)
        for s in (policy_statements(observed, WHAT) if observed is not None else [])
        if sid(s) in keep_sids and sid(s) not in declared
    ]
    # Sorted so that the rendered text does not depend on the order AWS returned them in.
    kept.sort(key=lambda s: (sid(s), dumps(s)))
    return {**desired, "Statement": [*policy_statements(desired, WHAT), *kept]}


def _account_statement(
    statement_sid: str, account_ids: Sequence[str], actions: Sequence[str]
) -> list[dict[str, Any]]:
    if not account_ids:
        return []
    return [
        {
            "Sid": statement_sid,
            "Effect": "Allow",
            "Principal": {"AWS": [root_arn(a) for a in account_ids]},
            "Action": sorted(actions),
        }
    ]
