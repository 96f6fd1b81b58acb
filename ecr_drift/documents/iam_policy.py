"""What repository and registry policies share: IAM statements, their checks and their canonical form.

Pure: no AWS, no I/O. The canonical form absorbs what AWS does to a stored policy (pretty printing, account id
→ root ARN, one-element list → string, statement order, action and condition key case), never a real change.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ecr_drift.desired.models import IamStatement
from ecr_drift.documents.canonical_json import dumps, loads_object
from ecr_drift.documents.problems import Problem, join_path, path_key

POLICY_VERSION = "2012-10-17"
# What `docker pull` needs, and no more: listing or describing images is not needed to pull a known tag, and
# ecr:GetAuthorizationToken is granted by identity policies only (ECR has no anonymous pull).
PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_PULL_ACTIONS = frozenset(a.lower() for a in PULL_ACTIONS)  # IAM action names are case-insensitive
# Global condition keys that tie a request to an organization, an account, a principal or a network path.
NARROWING_KEYS = (
    "aws:PrincipalOrgID",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceVpce",
    "aws:SourceOrgID",
)
_NARROWING_KEYS = frozenset(k.lower() for k in NARROWING_KEYS)  # condition keys are case-insensitive
_ARN_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})
# Only positive matches narrow. A negated operator lets in everyone but the values; `...IfExists` and
# `ForAllValues:` let in every request without the key (most callers, for aws:SourceVpce or aws:SourceArn);
# `Null` only tests that the key is there. Operator names are matched as written: any other spelling is
# not recognised, so it narrows nothing.
_NARROWING_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
)
_WILDCARDS = re.compile(r"[*?]")
# The principals a policy may name. AWS answers InvalidParameterException for anything else: a partial
# wildcard (`arn:aws:iam::*:root`, `arn:aws:iam::123456789012:*`), a group, a typo. `*` stands alone only.
_IAM_NAME = r"[A-Za-z0-9_+=,.@-]+"
_AWS_PRINCIPAL = re.compile(
    r"\*|[0-9]{12}"
    rf"|arn:aws[a-z-]*:iam::[0-9]{{12}}:(?:root|(?:user|role)/(?:{_IAM_NAME}/)*{_IAM_NAME})"
    rf"|arn:aws[a-z-]*:sts::[0-9]{{12}}:(?:assumed-role/{_IAM_NAME}/{_IAM_NAME}|federated-user/{_IAM_NAME})"
)
# lambda.amazonaws.com, logs.eu-west-1.amazonaws.com; some China Region principals end in .com.cn.
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?")
# Unicode names of characters a reader takes for `*` (FULLWIDTH ASTERISK, HEAVY ASTERISK, STAR OPERATOR, ...).
_ASTERISK_NAME = re.compile(r"\b(?:ASTERISK|STAR)\b")
# Per kind of principal: its form, what it must be, and why a wildcard in it is refused.
_PRINCIPAL_KINDS: dict[str, tuple[re.Pattern[str], str, str]] = {
    "AWS": (
        _AWS_PRINCIPAL,
        "`*`, a 12-digit account id, or the ARN of an account, user, role or session: "
        "arn:<partition>:iam::<account>:root, arn:<partition>:iam::<account>:user/<name>, "
        "arn:<partition>:iam::<account>:role/<name>, "
        "arn:<partition>:sts::<account>:assumed-role/<role>/<session>",
        "a wildcard in part of a principal: AWS refuses it (InvalidParameterException); name the account "
        "(12 digits) and the user or role in full, or write `*` alone and narrow it with a Condition",
    ),
    "Service": (
        _SERVICE_PRINCIPAL,
        "a service principal such as lambda.amazonaws.com",
        "a service principal names one service in full (lambda.amazonaws.com): AWS takes no wildcard in it",
    ),
}
_NARROWED_BY = (
    "a Condition on one of "
    + ", ".join(NARROWING_KEYS)
    + " with StringEquals, StringLike, ArnEquals or ArnLike and values without wildcards"
    " (an ARN may have them after its account id)"
)


def statement_problems(
    statements: Sequence[IamStatement],
    *,
    allow_public_pull: bool,
    field: str = "policy_statements",
    reserved_sids: Collection[str] = (),
    reserved_for: str = "",
) -> list[Problem]:
    """What is wrong with the statements of one policy, whatever its kind, at ``field[i]...`` paths.

    Every check of a statement that applies to both repository and registry policies belongs here.
    ``allow_public_pull`` is ``enforcement.allow_public_pull``. Messages name no value from the statements
    (a secret pasted in the wrong place must not reach a log): the path says which one.
    """
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for index, statement in enumerate(statements):
        path = join_path(field, index, "Sid")
        if statement.Sid in reserved_sids:
            problems.append(Problem(path, f"this Sid is reserved for {reserved_for}"))
        elif statement.Sid in first_index:
            other = join_path(field, first_index[statement.Sid])
            problems.append(Problem(path, f"this Sid is already used by {other}"))
        else:
            first_index[statement.Sid] = index
        problems += [
            Problem(join_path(field, index, key), message)
            for key, message in [
                *_principal_problems(statement),
                *_danger(statement, allow_public_pull=allow_public_pull),
            ]
        ]
    return problems


def _principal_problems(statement: IamStatement) -> list[tuple[str, str]]:
    """(path in the statement, why) for each principal AWS would refuse, or that only looks like `*`."""
    problems: list[tuple[str, str]] = []
    for key, principal in (("Principal", statement.Principal), ("NotPrincipal", statement.NotPrincipal)):
        if isinstance(principal, str):
            if principal != "*":
                problems.append(
                    (key, 'a string `Principal` can only be "*"; name others in an object: {"AWS": [...]}')
                )
            continue
        for kind, values in (principal or {}).items():
            where = join_path(key, path_key(kind))
            if kind not in _PRINCIPAL_KINDS:
                problems.append(
                    (
                        where,
                        "ECR policies name principals under `AWS` (accounts, users, roles, sessions) or "
                        "`Service`; federated identities reach ECR through a role",
                    )
                )
                continue
            listed = values if isinstance(values, list) else [values]
            problems += [
                (join_path(where, index) if isinstance(values, list) else where, why)
                for index, value in enumerate(listed)
                if (why := _principal_fault(kind, value)) is not None
            ]
    return problems


def _principal_fault(kind: str, value: str) -> str | None:
    """Why ``value`` is not a principal of ``kind``, in words that do not repeat it; None when it is one."""
    form, meaning, wildcard = _PRINCIPAL_KINDS[kind]
    if form.fullmatch(value):
        return None
    if value != value.strip():
        return "has whitespace around it, so it is not the principal it looks like; remove the whitespace"
    if any(_looks_like_asterisk(c) for c in value):
        return (
            "has a character that looks like `*` but is not the ASCII asterisk, so IAM does not read it as "
            "a wildcard; type `*`"
        )
    if _WILDCARDS.search(value):
        return wildcard
    return f"must be {meaning}"


def _looks_like_asterisk(char: str) -> bool:
    """A full-width, small or typographic asterisk or star (U+FF0A, U+FE61, U+2217, U+2731, U+22C6, ...),
    never `*` itself."""
    if char.isascii():
        return False
    return unicodedata.normalize("NFKC", char) == "*" or bool(
        _ASTERISK_NAME.search(unicodedata.name(char, ""))
    )


def _danger(statement: IamStatement, *, allow_public_pull: bool) -> list[tuple[str, str]]:
    """(field, why) when an ``Allow`` statement opens the resource to anyone with an AWS account."""
    if statement.Effect != "Allow":
        return []
    if statement.NotPrincipal is not None:
        return [
            (
                "NotPrincipal",
                "`NotPrincipal` with `Allow` allows every principal except the ones it lists; "
                "name the principals to allow in `Principal` instead",
            )
        ]
    if not _is_public(statement.Principal) or _narrowed(statement.Condition):
        return []
    not_pull = _not_pull_actions(statement)
    if not_pull:
        return [
            (
                "Principal",
                f"allows anyone with an AWS account ({not_pull} not pull-only): name accounts in "
                f"`Principal`, or add {_NARROWED_BY}",
            )
        ]
    if not allow_public_pull:
        return [
            (
                "Principal",
                "allows anyone with an AWS account to pull: set enforcement.allow_public_pull to true if "
                f"that is intended, or add {_NARROWED_BY}",
            )
        ]
    return []


def _is_public(principal: str | Mapping[str, str | list[str]] | None) -> bool:
    """``"*"``, or ``"*"`` for a kind of principal (``{"AWS": "*"}``, ``{"AWS": ["*", ...]}``)."""
    if principal is None or isinstance(principal, str):
        return principal == "*"  # any other string is refused (_principal_problems)
    return any("*" in ([values] if isinstance(values, str) else values) for values in principal.values())


def _not_pull_actions(statement: IamStatement) -> str:
    """Which part of the statement grants more than pulling, as words for a message; "" when none."""
    if statement.NotAction is not None:
        return "`NotAction` allows every action it does not list, so it is"
    actions = statement.Action
    if isinstance(actions, str):
        return "" if actions.lower() in _PULL_ACTIONS else "`Action` is"
    # A wildcard (ecr:*, ecr:Batch*) is not a pull action either: it matches more than pulling.
    others = [
        f"`Action[{i}]`" for i, action in enumerate(actions or ()) if action.lower() not in _PULL_ACTIONS
    ]
    if not others:
        return ""
    return f"{', '.join(others)} {'is' if len(others) == 1 else 'are'}"


def _narrowed(condition: Mapping[str, Mapping[str, Any]] | None) -> bool:
    """Whether the condition admits only requests tied to given organizations, accounts, principals or
    endpoints. The blocks of a Condition are ANDed, so one narrowing (operator, key) pair is enough."""
    return any(
        operator in _NARROWING_OPERATORS and _narrowing_key(key.lower(), values)
        for operator, block in (condition or {}).items()
        for key, values in block.items()
    )


def _narrowing_key(key: str, values: Any) -> bool:
    """The values of one key are ORed, so every one must narrow. Only text counts: a number would lose an
    id's leading zeros."""
    values = values if isinstance(values, list) else [values]
    return (
        key in _NARROWING_KEYS
        and bool(values)
        and all(isinstance(v, str) and _narrowing_value(key, v) for v in values)
    )


def _narrowing_value(key: str, value: str) -> bool:
    """A literal matches one id; a wildcard matches anyone's ids (`o-*`, `*`), except in an ARN after its
    account id (arn:aws:iam::111122223333:role/ci-*), which stays in that account. Before it, even in the
    region, StringLike's `*` also matches colons, so another account's role whose path ends in
    `:111122223333:role/` would match. Under StringEquals a `*` is literal and matches nothing: a mistake,
    not taken as narrowing either."""
    if not _WILDCARDS.search(value):
        return bool(value)
    head = value.split(":", 5)
    return (
        key in _ARN_KEYS
        and len(head) == 6
        and _ACCOUNT_ID.fullmatch(head[4]) is not None
        and not _WILDCARDS.search(":".join(head[:5]))
    )


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
