"""What repository and registry policies share: IAM statements, their checks and their canonical form.

Pure: no AWS, no I/O. The canonical form absorbs what AWS does to a stored policy (pretty printing, account id
→ root ARN, one-element list → string, statement order, action and condition key case), never a real change.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from handler.desired.models import IamStatement
from handler.documents.canonical_json import dumps, loads_object
from handler.documents.problems import Problem, join_path

POLICY_VERSION = "2012-10-17"

_ACCOUNT_ID = re.compile(r"[0-9]{12}")


def statement_problems(
    statements: Sequence[IamStatement],
    *,
    field: str = "policy_statements",
    reserved_sids: Collection[str] = (),
    reserved_for: str = "",
) -> list[Problem]:
    """What is wrong with the statements of one policy, whatever its kind, at ``field[i]...`` paths.

    Every check of a statement that applies to both repository and registry policies belongs here.
    """
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for index, statement in enumerate(statements):
        path = join_path(field, index, "Sid")
        if statement.Sid in reserved_sids:
            problems.append(Problem(path, f"Sid `{statement.Sid}` is reserved for {reserved_for}"))
        elif statement.Sid in first_index:
            other = join_path(field, first_index[statement.Sid])
            problems.append(Problem(path, f"Sid `{statement.Sid}` is already used by {other}"))
        else:
            first_index[statement.Sid] = index
    return problems


def statement_documents(statements: Sequence[IamStatement]) -> list[dict[str, Any]]:
    """The statements as policy JSON, sorted by Sid (unique, checked), fields not given left out."""
    return [s.model_dump(exclude_none=True) for s in sorted(statements, key=lambda s: s.Sid)]


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def parse_policy(text: str, what: str) -> dict[str, Any]:
    """The policy in ``text``; ``ValueError`` naming ``what`` (e.g. "registry policy") if it is not JSON."""
    return loads_object(text, what)


def canonical_policy(document_or_text: str | Mapping[str, Any], what: str) -> dict[str, Any]:
    """A form in which two policies are equal exactly when AWS treats them as the same policy.

    Raises ``ValueError`` (naming ``what``) when the text is not JSON or the statements are malformed.
    """
    document = parse_policy(document_or_text, what) if isinstance(document_or_text, str) else document_or_text
    canonical = {key: value for key, value in document.items() if key != "Statement"}
    canonical["Version"] = document.get("Version", POLICY_VERSION)
    # Statement order carries no meaning: sort, keeping duplicates (a multiset).
    canonical["Statement"] = sorted(
        (_canonical_statement(s, what) for s in policy_statements(document, what)), key=dumps
    )
    return canonical


def removes_statements(observed: str | None, document: Mapping[str, Any], what: str) -> bool:
    """Whether writing policy ``document`` over the ``observed`` text drops or changes any statement of it
    (a changed statement may narrow access as surely as a removed one). Unreadable text counts as dropped."""
    if observed is None:
        return False
    try:
        before = canonical_policy(observed, what)["Statement"]
    except ValueError:
        return True
    after = canonical_policy(document, what)["Statement"]
    return any(statement not in after for statement in before)


def policy_statements(document: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    """The statements of ``document``: IAM accepts a single statement object in place of the list."""
    value = document.get("Statement", [])
    statements = [value] if isinstance(value, Mapping) else value
    if not isinstance(statements, list) or not all(isinstance(s, Mapping) for s in statements):
        raise ValueError(f"{what} `Statement` must be an object or a list of objects")
    return statements


def sid(statement: Mapping[str, Any]) -> str:
    return str(statement.get("Sid", ""))


def _canonical_statement(statement: Mapping[str, Any], what: str) -> dict[str, Any]:
    canonical = dict(statement)  # keys with no known equivalences are compared verbatim
    canonical["Sid"] = sid(statement)
    for key in ("Principal", "NotPrincipal"):
        if key in statement:
            canonical[key] = _canonical_principal(statement[key], what, key)
    for key in ("Action", "NotAction"):
        if key in statement:
            # IAM action names are case-insensitive.
            canonical[key] = sorted({a.lower() for a in _strings(statement[key], what, key)})
    for key in ("Resource", "NotResource"):
        if key in statement:
            canonical[key] = sorted(set(_strings(statement[key], what, key)))
    if "Condition" in statement:
        canonical["Condition"] = _canonical_condition(statement["Condition"], what)
    return canonical


def _canonical_principal(principal: Any, what: str, key: str) -> Any:
    if principal == "*":
        principal = {"AWS": "*"}
    if not isinstance(principal, Mapping):
        raise ValueError(f"{what} `{key}` must be `*` or an object")
    return {
        kind: sorted(
            {_aws_principal(p) if kind == "AWS" else p for p in _strings(values, what, f"{key}.{kind}")}
        )
        for kind, values in principal.items()
    }


def _aws_principal(principal: str) -> str:
    # AWS stores a bare account id as the account's root ARN; both mean the whole account.
    return root_arn(principal) if _ACCOUNT_ID.fullmatch(principal) else principal


def _canonical_condition(condition: Any, what: str) -> dict[str, dict[str, list[str]]]:
    if not isinstance(condition, Mapping) or not all(isinstance(b, Mapping) for b in condition.values()):
        raise ValueError(f"{what} `Condition` must map operators to objects")
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


def _strings(value: Any, what: str, key: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{what} `{key}` must be a string or a list of strings")
    return values
