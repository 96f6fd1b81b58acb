"""Dangerous policies are validation errors, in repository and registry policies alike.

An `Allow` to a public principal is rejected unless a Condition narrows it, or it is pull-only under
`enforcement.allow_public_pull`; `NotPrincipal` with `Allow` always is. A principal must be one AWS
accepts: `*` alone, never part of one nor a look-alike. Each is checked through `load_desired_state_text`,
the validation that `ecr-drift validate`, the Lambda's start-up and Pulumi share.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from ecr_drift.desired import DesiredStateError, load_desired_state_text
from ecr_drift.desired.models import PolicyStatement
from ecr_drift.documents.iam_policy import PULL_ACTIONS, statement_problems
from ecr_drift.documents.problems import DocumentError
from ecr_drift.documents.repository_policy import build_repository_policy
from tests.conftest import EXAMPLE_PATH

Doc = dict[str, Any]
EXAMPLE: Doc = json.loads(EXAMPLE_PATH.read_text())
REPOSITORIES_ARN = "arn:aws:ecr:eu-west-1:123456789012:repository/*"
ORG = {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}

# Where statements go, and the path their problems are reported at.
PLACES = {
    "repository": ("repositories", "temporal-worker", "repositories.temporal-worker.policy_statements"),
    "pattern": (
        "repository_patterns",
        "ecr-public/*",
        'repository_patterns."ecr-public/*".policy_statements',
    ),
    "defaults": ("defaults", None, "defaults.policy_statements"),
    "registry": ("registry", None, "registry.policy_statements"),
}


def document(place: str, statements: list[Doc], *, allow_public_pull: bool | None = None) -> str:
    doc = copy.deepcopy(EXAMPLE)
    section, key, _ = PLACES[place]
    if place == "registry":
        statements = [{**s, "Resource": REPOSITORIES_ARN} for s in statements]
    target = doc[section] if key is None else doc[section][key]
    target["policy_statements"] = statements
    if allow_public_pull is not None:
        doc["enforcement"]["allow_public_pull"] = allow_public_pull
    return json.dumps(doc)


def problems(place: str, statements: list[Doc], **options: Any) -> list[tuple[str, str]]:
    """The problems of the desired state with ``statements`` at ``place``; [] when it loads."""
    try:
        load_desired_state_text(document(place, statements, **options))
    except DesiredStateError as error:
        return [(p.path, p.message) for p in error.problems]
    return []


def allow(principal: Any, action: Any, **fields: Any) -> Doc:
    return {"Sid": "Stmt", "Effect": "Allow", "Principal": principal, "Action": action, **fields}


# ---- the dangerous policies of the issue, in every place statements go -----------------------------------


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("allow_public_pull", [False, True])
@pytest.mark.parametrize(
    ("statement", "why"),
    [
        (allow("*", "ecr:*"), "(`Action` is not pull-only)"),
        (allow({"AWS": "*"}, "ecr:BatchDeleteImage"), "(`Action` is not pull-only)"),
        (allow({"AWS": "*"}, ["ecr:BatchGetImage", "ecr:PutImage"]), "(`Action[1]` is not pull-only)"),
        (
            allow({"AWS": ["arn:aws:iam::111122223333:root", "*"]}, ["ecr:PutImage", "ecr:UploadLayerPart"]),
            "(`Action[0]`, `Action[1]` are not pull-only)",
        ),
        (
            {"Sid": "Stmt", "Effect": "Allow", "Principal": "*", "NotAction": "ecr:DeleteRepository"},
            "`NotAction` allows every action it does not list",
        ),
    ],
)
def test_a_public_principal_allowed_more_than_pull_is_rejected(
    place: str, allow_public_pull: bool, statement: Doc, why: str
) -> None:
    path = f"{PLACES[place][2]}[0].Principal"

    found = problems(place, [statement], allow_public_pull=allow_public_pull)

    assert [p for p, _ in found] == [path]
    message = found[0][1]
    assert message.startswith("allows anyone with an AWS account")
    assert why in message
    # and what would make it acceptable
    assert "name accounts in `Principal`" in message
    assert "a Condition on one of aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn" in message


@pytest.mark.parametrize("place", sorted(PLACES))
def test_not_principal_with_allow_is_rejected(place: str) -> None:
    statement = {
        "Sid": "Stmt",
        "Effect": "Allow",
        "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "ecr:BatchGetImage",
        "Condition": ORG,  # no condition makes "everyone but these" acceptable
    }

    found = problems(place, [statement], allow_public_pull=True)

    assert found == [
        (
            f"{PLACES[place][2]}[0].NotPrincipal",
            "`NotPrincipal` with `Allow` allows every principal except the ones it lists; "
            "name the principals to allow in `Principal` instead",
        )
    ]


@pytest.mark.parametrize("place", sorted(PLACES))
def test_deny_statements_are_never_dangerous(place: str) -> None:
    deny = [
        {"Sid": "DenyAll", "Effect": "Deny", "Principal": "*", "Action": "ecr:*"},
        {"Sid": "DenyOthers", "Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "Action": "ecr:*"},
    ]
    assert problems(place, deny) == []


def test_every_dangerous_statement_is_reported_at_once() -> None:
    statements = [
        {**allow("*", "ecr:*"), "Sid": "A"},
        {**allow({"AWS": "*"}, "ecr:BatchGetImage"), "Sid": "B"},
        {"Sid": "C", "Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "ecr:*"},
    ]
    prefix = PLACES["repository"][2]
    assert [p for p, _ in problems("repository", statements)] == [
        f"{prefix}[0].Principal",
        f"{prefix}[1].Principal",
        f"{prefix}[2].NotPrincipal",
    ]


# ---- public pull -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize(
    "actions",
    [
        "ecr:BatchGetImage",
        list(PULL_ACTIONS),
        ["ECR:batchgetimage", "ecr:GETDOWNLOADURLFORLAYER"],  # IAM action names ignore case
    ],
)
def test_public_pull_only_with_allow_public_pull(place: str, actions: Any) -> None:
    statement = allow("*", actions)

    refused = problems(place, [statement])

    assert refused == [
        (
            f"{PLACES[place][2]}[0].Principal",
            "allows anyone with an AWS account to pull: set enforcement.allow_public_pull to true if that "
            "is intended, or add a Condition on one of aws:PrincipalOrgID, aws:PrincipalAccount, "
            "aws:PrincipalArn, aws:SourceAccount, aws:SourceArn, aws:SourceVpce, aws:SourceOrgID with "
            "StringEquals, StringLike, ArnEquals or ArnLike and values without wildcards (an ARN may have "
            "them after its account id)",
        )
    ]
    assert problems(place, [statement], allow_public_pull=False) == refused
    assert problems(place, [statement], allow_public_pull=True) == []


@pytest.mark.parametrize(
    "actions",
    [
        "ecr:Batch*",  # matches ecr:BatchDeleteImage too
        "ecr:*",
        "*",
        ["ecr:BatchGetImage", "ecr:DescribeImages"],  # listing what is there is not needed to pull
        ["ecr:BatchGetImage", "ecr:ListImages"],
        ["ecr:GetDownloadUrlForLayer", "ecr:GetAuthorizationToken"],
    ],
)
def test_wildcards_and_reads_beyond_pulling_are_not_pull_only(actions: Any) -> None:
    found = problems("repository", [allow({"AWS": "*"}, actions)], allow_public_pull=True)

    assert len(found) == 1
    assert "not pull-only" in found[0][1]


# ---- conditions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize(
    "condition",
    [
        ORG,
        {"StringEquals": {"AWS:PRINCIPALORGID": "o-abc123def4"}},  # condition keys ignore case
        {"StringEqualsIgnoreCase": {"aws:PrincipalAccount": ["111122223333", "444455556666"]}},
        {"StringLike": {"aws:SourceOrgID": "o-abc123def4"}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ci-*"}},
        {
            "StringLike": {
                "aws:PrincipalArn": ["arn:aws:iam::111122223333:role/*", "arn:aws:iam::444455556666:*"]
            }
        },
        {"ArnEquals": {"aws:SourceArn": "arn:aws:codebuild:eu-west-1:111122223333:project/build"}},
        {"StringEquals": {"aws:SourceAccount": "111122223333"}},
        {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
        # ANDed with a block that narrows nothing: still narrowed
        {"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}},
    ],
)
def test_a_narrowing_condition_makes_any_action_acceptable(place: str, condition: Doc) -> None:
    # An organization-wide push policy is legitimate.
    statement = allow({"AWS": "*"}, ["ecr:PutImage", "ecr:BatchGetImage"], Condition=condition)

    assert problems(place, [statement]) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123def4"}},  # everyone but one organization
        {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}},  # anyone not coming through a VPCE
        {"Null": {"aws:PrincipalOrgID": "false"}},  # anyone in any organization
        {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}},  # true when the key is absent
        {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
        {"StringLike": {"aws:PrincipalAccount": "*"}},
        {"StringEquals": {"aws:PrincipalOrgID": "*"}},  # literal here: a mistake, not a narrowing
        {"StringEquals": {"aws:PrincipalOrgID": ["o-abc123def4", "*"]}},  # values are ORed
        {"StringEquals": {"aws:PrincipalOrgID": []}},
        {"StringEquals": {"aws:PrincipalOrgID": ""}},
        {"StringEquals": {"aws:PrincipalAccount": 111122223333}},  # a number loses leading zeros
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}},  # a role named ci in any account
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::1111222233*:role/ci"}},
        # StringLike's `*` matches colons: arn:aws:iam::999999999999:role/x:111122223333:role/ci (a path)
        {"StringLike": {"aws:PrincipalArn": "arn:aws:*:111122223333:role/ci"}},
        {"stringequals": {"aws:PrincipalOrgID": "o-abc123def4"}},  # not an operator IAM knows
        {"StringEquals": {"aws:PrincipalTag/team": "platform"}},  # anyone can tag their own principals
        {"Bool": {"aws:SecureTransport": "true"}},
    ],
)
def test_conditions_that_do_not_narrow_the_principal(condition: Doc) -> None:
    statement = allow("*", "ecr:PutImage", Condition=condition)

    found = problems("registry", [statement], allow_public_pull=True)

    assert [p for p, _ in found] == ["registry.policy_statements[0].Principal"]


# ---- principals: what AWS accepts, and nothing that only looks like `*` ---------------------------------

PARTNER_ROOT = "arn:aws:iam::111122223333:root"
WILDCARD_IN_PART = "a wildcard in part of a principal: AWS refuses it (InvalidParameterException)"
LOOKS_LIKE_STAR = "looks like `*` but is not the ASCII asterisk"
WHITESPACE = "has whitespace around it"
NOT_AN_AWS_PRINCIPAL = "must be `*`, a 12-digit account id, or the ARN of an account, user, role or session"


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("effect", ["Allow", "Deny"])
@pytest.mark.parametrize(
    ("principal", "why"),
    [
        ("arn:aws:iam::*:root", WILDCARD_IN_PART),
        ("arn:aws:iam::123456789012:*", WILDCARD_IN_PART),
        ("12345678901*", WILDCARD_IN_PART),
        ("arn:aws:iam::123456789012:role/ci-*", WILDCARD_IN_PART),
        ("arn:aws:sts::123456789012:assumed-role/ci/?", WILDCARD_IN_PART),
        ("\uff0a", LOOKS_LIKE_STAR),  # FULLWIDTH ASTERISK
        ("\ufe61", LOOKS_LIKE_STAR),  # SMALL ASTERISK
        ("\u2217", LOOKS_LIKE_STAR),  # ASTERISK OPERATOR
        ("\u2731", LOOKS_LIKE_STAR),  # HEAVY ASTERISK
        ("\u22c6", LOOKS_LIKE_STAR),  # STAR OPERATOR
        (" *", WHITESPACE),
        ("* ", WHITESPACE),
        ("\u00a0*", WHITESPACE),  # a no-break space
        (" 111122223333", WHITESPACE),
        ("arn:aws:iam::123456789012:group/admins", NOT_AN_AWS_PRINCIPAL),  # a group is no principal
        ("1111222233", NOT_AN_AWS_PRINCIPAL),
        ("arn:aws:iam::1111222233:root", NOT_AN_AWS_PRINCIPAL),
        ("arn:aws:ecr:eu-west-1:123456789012:repository/api", NOT_AN_AWS_PRINCIPAL),
    ],
)
def test_principals_aws_refuses_or_that_only_look_like_star_are_rejected(
    place: str, effect: str, principal: str, why: str
) -> None:
    statement = {"Sid": "Stmt", "Effect": effect, "Principal": {"AWS": [PARTNER_ROOT, principal]}}

    found = problems(place, [{**statement, "Action": "ecr:BatchGetImage"}])

    assert [p for p, _ in found] == [f"{PLACES[place][2]}[0].Principal.AWS[1]"]
    assert why in found[0][1]


@pytest.mark.parametrize(
    ("statement", "path", "why"),
    [
        (
            {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::*:root"}},
            "NotPrincipal.AWS",
            WILDCARD_IN_PART,
        ),
        ({"Effect": "Deny", "Principal": "\uff0a"}, "Principal", 'a string `Principal` can only be "*"'),
        (
            {"Effect": "Deny", "Principal": {"Service": "*"}},
            "Principal.Service",
            "names one service in full",
        ),
        (
            {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "lambda"]}},
            "Principal.Service[1]",
            "must be a service principal such as lambda.amazonaws.com",
        ),
        (
            {"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"}},
            "Principal.Federated",
            "ECR policies name principals under `AWS`",
        ),
    ],
)
def test_not_principal_service_and_other_kinds_are_checked_too(statement: Doc, path: str, why: str) -> None:
    found = problems("registry", [{"Sid": "Stmt", "Action": "ecr:BatchGetImage", **statement}])

    assert [p for p, _ in found] == [f"registry.policy_statements[0].{path}"]
    assert why in found[0][1]


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": "111122223333"},
        {"AWS": [PARTNER_ROOT, "arn:aws:iam::111122223333:user/team/bob"]},
        {"AWS": "arn:aws:iam::111122223333:role/ci/github-actions"},
        {"AWS": "arn:aws:sts::111122223333:assumed-role/ci/session.name@example"},
        {"AWS": "arn:aws:sts::111122223333:federated-user/bob"},
        {"AWS": ["arn:aws-cn:iam::111122223333:root", "arn:aws-us-gov:iam::111122223333:role/ci"]},
        {"AWS": "arn:aws-iso-b:iam::111122223333:root"},
        {"Service": "lambda.amazonaws.com"},
        {
            "Service": [
                "replication.ecr.amazonaws.com",
                "logs.eu-west-1.amazonaws.com",
                "ec2.amazonaws.com.cn",
            ]
        },
        {"AWS": PARTNER_ROOT, "Service": "codebuild.amazonaws.com"},
    ],
)
def test_principals_aws_accepts_are_accepted(place: str, principal: Doc) -> None:
    statements = [
        {"Sid": "Grant", "Effect": "Allow", "Principal": principal, "Action": ["ecr:PutImage"]},
        {"Sid": "Refuse", "Effect": "Deny", "NotPrincipal": principal, "Action": "ecr:DeleteRepository"},
    ]
    assert problems(place, statements) == []


@pytest.mark.parametrize("place", sorted(PLACES))
def test_star_alone_stays_a_principal_when_a_condition_narrows_it(place: str) -> None:
    statement = allow({"AWS": ["*"]}, "ecr:PutImage", Condition=ORG)

    assert problems(place, [statement, {**allow("*", "ecr:PutImage", Condition=ORG), "Sid": "Other"}]) == []


def test_a_malformed_principal_and_a_dangerous_statement_are_reported_in_one_pass() -> None:
    statements = [
        {"Sid": "Typo", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "ecr:*"},
        {**allow({"AWS": " *"}, "ecr:PutImage"), "Sid": "Spaced"},  # not `*`: only its form is wrong
        {**allow("*", "ecr:PutImage"), "Sid": "Public"},
    ]
    prefix = PLACES["repository"][2]

    assert [p for p, _ in problems("repository", statements)] == [
        f"{prefix}[0].Principal.AWS",
        f"{prefix}[1].Principal.AWS",
        f"{prefix}[2].Principal",
    ]


# ---- the shared check, and the compiler's default --------------------------------------------------------

STATEMENTS = TypeAdapter(list[PolicyStatement])


def test_the_compiler_accepts_what_validation_accepted_and_never_public_push() -> None:
    """Pulumi and the Lambda compile a validated desired state without passing the setting: the default
    must not reject public pull that validation accepted under allow_public_pull, nor accept more."""
    public_pull = STATEMENTS.validate_python([allow("*", "ecr:BatchGetImage")])
    public_push = STATEMENTS.validate_python([allow("*", "ecr:PutImage")])
    partial_wildcard = STATEMENTS.validate_python(
        [allow({"AWS": "arn:aws:iam::*:root"}, "ecr:BatchGetImage")]
    )

    assert build_repository_policy(None, None, public_pull) is not None
    with pytest.raises(DocumentError):
        build_repository_policy(None, None, public_pull, allow_public_pull=False)
    with pytest.raises(DocumentError):
        build_repository_policy(None, None, public_push)
    with pytest.raises(DocumentError):
        build_repository_policy(None, None, partial_wildcard)


def test_messages_name_no_value_of_the_statement() -> None:
    secret = "Q9xSECRETvalue7"
    statements = STATEMENTS.validate_python(
        [
            allow({"AWS": "*"}, [f"ecr:{secret}"], Sid=secret),
            allow(
                {"AWS": "*"},
                "ecr:PutImage",
                Sid=secret,
                Condition={"StringLike": {"aws:PrincipalOrgID": f"o-{secret}*"}},
            ),
            allow({"AWS": [f"arn:aws:iam::*:role/{secret}", f"{secret} "]}, "ecr:BatchGetImage", Sid="C"),
        ]
    )

    found = statement_problems(statements, allow_public_pull=False, reserved_sids={secret}, reserved_for="x")

    assert len(found) == 6
    assert not [p for p in found if secret in p.message]
