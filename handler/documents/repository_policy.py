"""Repository policies: ``desired_state.json`` → the exact ECR repository policy; drift on canonical forms.

Pure: no AWS, no I/O. Pulumi and the Lambda both send :func:`render_repository_policy`'s text, so they never
fight over it. Drift is judged by :func:`repository_policies_equal`, whose canonical form absorbs what AWS
does to a stored policy (pretty printing, account id → root ARN, one-element list → string, statement order).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from handler.documents.canonical_json import dumps, loads_object
from handler.documents.problems import DocumentError, Problem, join_path

if TYPE_CHECKING:
    # Type only: handler.desired's checks import MANAGED_SIDS from here, a runtime import would be a cycle.
    from handler.desired.models import PolicyStatement

POLICY_VERSION = "2012-10-17"
PULL_SID = "CrossAccountPull"
PUSH_SID = "CrossAccountPush"
# Compiled from pull_account_ids / push_account_ids: a user statement must not reuse them.
MANAGED_SIDS: frozenset[str] = frozenset({PULL_SID, PUSH_SID})
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
PUSH_ACTIONS = ("ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart")
# botocore's ECR model: SetRepositoryPolicy `policyText` is at most 10,240 characters.
MAX_POLICY_TEXT_LENGTH = 10_240

_ACCOUNT_ID = re.compile(r"[0-9]{12}")


def build_repository_policy(
    pull_account_ids: Sequence[str] | None,
    push_account_ids: Sequence[str] | None,
    statements: Sequence[PolicyStatement] | None,
) -> dict[str, Any] | None:
    """The policy a repository must have; ``None`` when none of the three is given (policy not managed).

    Raises :class:`DocumentError` (paths relative to the repository settings) when ECR would reject it.
    """
    if pull_account_ids is None and push_account_ids is None and statements is None:
        return None
    user_statements = list(statements or ())
    problems = _statement_problems(user_statements)
    pushers = sorted(set(push_account_ids or ()))
    # Push implies pull: a pusher that cannot pull cannot check which layers already exist.
    pullers = sorted(set(pull_account_ids or ()) | set(pushers))
    document: dict[str, Any] = {
        "Version": POLICY_VERSION,
        "Statement": [
            *_account_statement(PULL_SID, pullers, PULL_ACTIONS),
            *_account_statement(PUSH_SID, pushers, PUSH_ACTIONS),
            *(s.model_dump(exclude_none=True) for s in sorted(user_statements, key=lambda s: s.Sid)),
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
    return loads_object(text, "repository policy")


def canonical_repository_policy(document_or_text: str | Mapping[str, Any]) -> dict[str, Any]:
    """A form in which two policies are equal exactly when AWS treats them as the same policy."""
    document = _as_document(document_or_text)
    canonical = {key: value for key, value in document.items() if key != "Statement"}
    canonical["Version"] = document.get("Version", POLICY_VERSION)
    # Statement order carries no meaning: sort, keeping duplicates (a multiset).
    canonical["Statement"] = sorted((_canonical_statement(s) for s in _statements(document)), key=dumps)
    return canonical


def repository_policies_equal(a: str | Mapping[str, Any], b: str | Mapping[str, Any]) -> bool:
    return canonical_repository_policy(a) == canonical_repository_policy(b)


def desired_policy_with_kept(
    desired: Mapping[str, Any], observed: Mapping[str, Any] | None, keep_sids: Collection[str]
) -> dict[str, Any]:
    """The policy the repository must have: ``desired`` plus the observed statements whose Sid is kept.

    Observed statements with any other Sid, or none, are dropped. A Sid that ``desired`` declares is
    always the desired statement, even when it is also in ``keep_sids``.
    """
    declared = {_sid(s) for s in _statements(desired)}
    kept = [
        dict(s)
        for s in (_statements(observed) if observed is not None else [])
        if _sid(s) in keep_sids and _sid(s) not in declared
    ]
    # Sorted so that the rendered text does not depend on the order AWS returned them in.
    kept.sort(key=lambda s: (_sid(s), dumps(s)))
    return {**desired, "Statement": [*_statements(desired), *kept]}


def _account_statement(sid: str, account_ids: Sequence[str], actions: Sequence[str]) -> list[dict[str, Any]]:
    if not account_ids:
        return []
    return [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"AWS": [_root_arn(a) for a in account_ids]},
            "Action": sorted(actions),
        }
    ]


def _statement_problems(statements: Sequence[PolicyStatement]) -> list[Problem]:
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for index, statement in enumerate(statements):
        path = join_path("policy_statements", index, "Sid")
        if statement.Sid in MANAGED_SIDS:
            problems.append(
                Problem(path, f"Sid `{statement.Sid}` is reserved for pull_account_ids / push_account_ids")
            )
        elif statement.Sid in first_index:
            other = join_path("policy_statements", first_index[statement.Sid])
            problems.append(Problem(path, f"Sid `{statement.Sid}` is already used by {other}"))
        else:
            first_index[statement.Sid] = index
    return problems


def _root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def _as_document(document_or_text: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(document_or_text, str):
        return parse_repository_policy(document_or_text)
    return document_or_text


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    # IAM accepts a single statement object in place of the list.
    value = document.get("Statement", [])
    statements = [value] if isinstance(value, Mapping) else value
    if not isinstance(statements, list) or not all(isinstance(s, Mapping) for s in statements):
        raise ValueError("repository policy `Statement` must be an object or a list of objects")
    return statements


def _sid(statement: Mapping[str, Any]) -> str:
    return str(statement.get("Sid", ""))


def _canonical_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    canonical = dict(statement)  # keys with no known equivalences are compared verbatim
    canonical["Sid"] = _sid(statement)
    for key in ("Principal", "NotPrincipal"):
        if key in statement:
            canonical[key] = _canonical_principal(statement[key], key)
    for key in ("Action", "NotAction"):
        if key in statement:
            # IAM action names are case-insensitive.
            canonical[key] = sorted({a.lower() for a in _strings(statement[key], key)})
    for key in ("Resource", "NotResource"):
        if key in statement:
            canonical[key] = sorted(set(_strings(statement[key], key)))
    if "Condition" in statement:
        canonical["Condition"] = _canonical_condition(statement["Condition"])
    return canonical


def _canonical_principal(principal: Any, key: str) -> Any:
    if principal == "*":
        principal = {"AWS": "*"}
    if not isinstance(principal, Mapping):
        raise ValueError(f"repository policy `{key}` must be `*` or an object")
    return {
        kind: sorted({_aws_principal(p) if kind == "AWS" else p for p in _strings(values, f"{key}.{kind}")})
        for kind, values in principal.items()
    }


def _aws_principal(principal: str) -> str:
    # AWS stores a bare account id as the account's root ARN; both mean the whole account.
    return _root_arn(principal) if _ACCOUNT_ID.fullmatch(principal) else principal


def _canonical_condition(condition: Any) -> dict[str, dict[str, list[str]]]:
    if not isinstance(condition, Mapping) or not all(isinstance(b, Mapping) for b in condition.values()):
        raise ValueError("repository policy `Condition` must map operators to objects")
    canonical: dict[str, dict[str, list[str]]] = {}
    for operator, block in condition.items():
        merged: dict[str, set[str]] = {}
        for key, values in block.items():
            # Condition keys are case-insensitive; operators and values are kept as written.
            merged.setdefault(key.lower(), set()).update(_condition_values(values))
        canonical[operator] = {key: sorted(values) for key, values in merged.items()}
    return canonical


def _condition_values(values: Any) -> list[str]:
    # IAM compares condition values as text: `true` and "true", 5 and "5" are the same value.
    return [v if isinstance(v, str) else dumps(v) for v in (values if isinstance(values, list) else [values])]


def _strings(value: Any, key: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"repository policy `{key}` must be a string or a list of strings")
    return values
