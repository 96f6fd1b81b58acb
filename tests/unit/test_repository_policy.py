"""Repository policies: exact builder output; equality survives AWS's rewriting but never a real change."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_drift.desired.models import PolicyStatement
from ecr_drift.documents.problems import DocumentError
from ecr_drift.documents.repository_policy import (
    MANAGED_SIDS,
    MAX_POLICY_TEXT_LENGTH,
    PULL_ACTIONS,
    PUSH_ACTIONS,
    build_repository_policy,
    canonical_repository_policy,
    desired_policy_with_kept,
    parse_repository_policy,
    render_repository_policy,
    repository_policies_equal,
)

PULL = {
    "Sid": "CrossAccountPull",
    "Effect": "Allow",
    "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]},
    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}
LAMBDA_STATEMENT = {
    "Sid": "LambdaECRImageRetrievalPolicy",
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}


def statement(**fields: Any) -> PolicyStatement:
    return PolicyStatement.model_validate(fields)


# --- builder ---


def test_contract_example_renders_exactly() -> None:
    document = build_repository_policy(["111122223333"], None, None)

    assert document is not None
    assert render_repository_policy(document) == (
        '{"Statement":[{"Action":["ecr:BatchCheckLayerAvailability","ecr:BatchGetImage",'
        '"ecr:GetDownloadUrlForLayer"],"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root"]},'
        '"Sid":"CrossAccountPull"}],"Version":"2012-10-17"}'
    )


def test_nothing_given_means_unmanaged() -> None:
    assert build_repository_policy(None, None, None) is None


@pytest.mark.parametrize(
    ("pull", "push", "statements"),
    [([], None, None), (None, [], None), (None, None, []), ([], [], [])],
)
def test_empty_lists_manage_a_policy_without_statements(
    pull: list[str] | None, push: list[str] | None, statements: list[PolicyStatement] | None
) -> None:
    assert build_repository_policy(pull, push, statements) == {"Version": "2012-10-17", "Statement": []}


def test_push_implies_pull_and_accounts_are_sorted_and_unique() -> None:
    document = build_repository_policy(
        ["444455556666", "111122223333"], ["999988887777", "111122223333"], None
    )

    assert document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CrossAccountPull",
                "Effect": "Allow",
                "Principal": {
                    "AWS": [
                        "arn:aws:iam::111122223333:root",
                        "arn:aws:iam::444455556666:root",
                        "arn:aws:iam::999988887777:root",
                    ]
                },
                "Action": sorted(PULL_ACTIONS),
            },
            {
                "Sid": "CrossAccountPush",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::999988887777:root"]},
                "Action": sorted(PUSH_ACTIONS),
            },
        ],
    }


def test_push_only_gives_both_statements() -> None:
    document = build_repository_policy(None, ["999988887777"], None)

    assert document is not None
    assert [s["Sid"] for s in document["Statement"]] == ["CrossAccountPull", "CrossAccountPush"]
    assert all(s["Principal"] == {"AWS": ["arn:aws:iam::999988887777:root"]} for s in document["Statement"])


def test_user_statements_follow_in_sid_order_without_nulls() -> None:
    zeta = statement(Sid="Zeta", Effect="Deny", Principal="*", Action="ecr:DeleteRepository")
    alpha = statement(
        Sid="Alpha",
        Effect="Allow",
        Principal={"AWS": "*"},
        Action=["ecr:BatchGetImage"],
        Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
    )

    document = build_repository_policy(["111122223333"], None, [zeta, alpha])

    assert document is not None
    assert document["Statement"][1:] == [
        {
            "Sid": "Alpha",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["ecr:BatchGetImage"],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        },
        {"Sid": "Zeta", "Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository"},
    ]


@pytest.mark.parametrize("sid", sorted(MANAGED_SIDS))
def test_user_statement_must_not_reuse_a_managed_sid(sid: str) -> None:
    reused = statement(Sid=sid, Effect="Allow", Principal="*", Action="ecr:BatchGetImage")

    with pytest.raises(DocumentError) as raised:
        build_repository_policy(None, None, [reused])

    assert [p.path for p in raised.value.problems] == ["policy_statements[0].Sid"]
    assert [p.under("repositories.api").path for p in raised.value.problems] == [
        "repositories.api.policy_statements[0].Sid"
    ]


def test_duplicate_sids_are_rejected() -> None:
    one = statement(Sid="Same", Effect="Allow", Principal="*", Action="ecr:BatchGetImage")
    two = statement(Sid="Same", Effect="Deny", Principal="*", Action="ecr:PutImage")

    with pytest.raises(DocumentError) as raised:
        build_repository_policy(None, None, [one, two])

    assert [str(p) for p in raised.value.problems] == [
        "policy_statements[1].Sid: this Sid is already used by policy_statements[0]"
    ]


def test_policy_longer_than_ecr_allows_is_rejected() -> None:
    accounts = [f"{n:012d}" for n in range(MAX_POLICY_TEXT_LENGTH // 30)]

    with pytest.raises(DocumentError, match="ECR allows 10240"):
        build_repository_policy(accounts, None, None)


def test_render_is_deterministic_and_compact() -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow"}]}
    reordered = {"Statement": [{"Effect": "Allow", "Sid": "A"}], "Version": "2012-10-17"}

    assert render_repository_policy(document) == render_repository_policy(reordered)
    assert " " not in render_repository_policy(document)


# --- canonical equality: fixed examples ---

ECR_STYLE_TEXT = """{
  "Version" : "2012-10-17",
  "Statement" : [ {
    "Sid" : "CrossAccountPull",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "111122223333"
    },
    "Action" : [ "ecr:GetDownloadUrlForLayer", "ECR:BatchGetImage", "ecr:batchgetimage",
                 "ecr:BatchCheckLayerAvailability" ]
  } ]
}"""


def test_ecr_formatted_text_equals_the_built_policy() -> None:
    assert repository_policies_equal(ECR_STYLE_TEXT, {"Version": "2012-10-17", "Statement": [PULL]})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"Principal": "*"}, {"Principal": {"AWS": "*"}}),
        ({"Principal": {"AWS": ["*"]}}, {"Principal": "*"}),
        (
            {"NotPrincipal": {"AWS": "111122223333"}},
            {"NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root"]}},
        ),
        ({"NotAction": "ecr:PutImage"}, {"NotAction": ["ECR:PUTIMAGE", "ecr:putimage"]}),
        (
            {"Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}},
            {"Condition": {"StringEquals": {"AWS:principalorgid": ["o-1", "o-1"]}}},
        ),
        (
            {"Condition": {"Bool": {"aws:SecureTransport": False}}},
            {"Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ),
        ({"Sid": ""}, {}),
    ],
)
def test_statement_equivalences(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert repository_policies_equal(
        {"Statement": [{"Effect": "Allow", **a}]}, {"Statement": [{"Effect": "Allow", **b}]}
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            {"Principal": {"AWS": "111122223333"}},
            {"Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}},
        ),
        ({"Principal": {"AWS": "*"}}, {"Principal": {"Service": "*"}}),
        ({"Condition": {"StringEquals": {"k": "v"}}}, {"Condition": {"stringequals": {"k": "v"}}}),
        ({"Condition": {"StringEquals": {"k": "v"}}}, {"Condition": {"StringEquals": {"k": "V"}}}),
        ({"Sid": "a"}, {"Sid": "A"}),
        ({"Action": "ecr:PutImage"}, {"NotAction": "ecr:PutImage"}),
    ],
)
def test_statement_differences(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert not repository_policies_equal(
        {"Statement": [{"Effect": "Allow", **a}]}, {"Statement": [{"Effect": "Allow", **b}]}
    )


def test_missing_version_is_2012_but_2008_is_a_difference() -> None:
    assert repository_policies_equal({"Statement": [PULL]}, {"Version": "2012-10-17", "Statement": [PULL]})
    assert not repository_policies_equal(
        {"Version": "2008-10-17", "Statement": [PULL]}, {"Statement": [PULL]}
    )


def test_single_statement_object_equals_one_element_list() -> None:
    assert repository_policies_equal({"Statement": PULL}, {"Statement": [PULL]})


def test_statements_are_a_multiset() -> None:
    assert not repository_policies_equal({"Statement": [PULL, PULL]}, {"Statement": [PULL]})


def test_canonical_form_is_stable() -> None:
    canonical = canonical_repository_policy(ECR_STYLE_TEXT)

    assert canonical_repository_policy(canonical) == canonical
    assert canonical_repository_policy(render_repository_policy(canonical)) == canonical


@pytest.mark.parametrize("text", ['{"Statement": [', "[]", ""])
def test_invalid_text_raises_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="repository policy"):
        canonical_repository_policy(text)


def test_json_error_names_line_and_column() -> None:
    with pytest.raises(ValueError, match="line 2 column"):
        parse_repository_policy('{\n  "Version": }')


@pytest.mark.parametrize(
    "document",
    [{"Statement": "x"}, {"Statement": [{"Action": 5}]}, {"Statement": [{"Principal": "me"}]}],
)
def test_malformed_documents_raise_value_error(document: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="repository policy"):
        canonical_repository_policy(document)


# --- engine helpers ---


def test_kept_statements_are_added_and_others_dropped() -> None:
    desired = {"Version": "2012-10-17", "Statement": [PULL]}
    stranger = {"Sid": "AddedByHand", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"}
    unnamed = {"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}
    observed = {"Version": "2012-10-17", "Statement": [stranger, LAMBDA_STATEMENT, unnamed]}

    result = desired_policy_with_kept(desired, observed, {"LambdaECRImageRetrievalPolicy"})

    assert result == {"Version": "2012-10-17", "Statement": [PULL, LAMBDA_STATEMENT]}
    assert desired == {"Version": "2012-10-17", "Statement": [PULL]}  # not mutated


def test_kept_statements_are_in_sid_order() -> None:
    late = {**LAMBDA_STATEMENT, "Sid": "Zulu"}
    early = {**LAMBDA_STATEMENT, "Sid": "Alpha"}

    result = desired_policy_with_kept({"Statement": []}, {"Statement": [late, early]}, ["Zulu", "Alpha"])

    assert [s["Sid"] for s in result["Statement"]] == ["Alpha", "Zulu"]


def test_desired_wins_over_a_kept_sid_it_declares() -> None:
    observed_pull = {**PULL, "Principal": {"AWS": "arn:aws:iam::999988887777:root"}}

    result = desired_policy_with_kept(
        {"Statement": [PULL]}, {"Statement": [observed_pull]}, {"CrossAccountPull"}
    )

    assert result["Statement"] == [PULL]


def test_no_observed_policy_gives_the_desired_one() -> None:
    desired = {"Version": "2012-10-17", "Statement": [PULL]}

    assert desired_policy_with_kept(desired, None, {"LambdaECRImageRetrievalPolicy"}) == desired


def test_kept_policy_equals_an_observed_policy_that_only_adds_kept_statements() -> None:
    desired = build_repository_policy(["111122223333"], None, None)
    assert desired is not None
    observed = parse_repository_policy(
        json.dumps({"Version": "2012-10-17", "Statement": [LAMBDA_STATEMENT, PULL]}, indent=2)
    )

    assert not repository_policies_equal(desired, observed)
    assert repository_policies_equal(
        desired_policy_with_kept(desired, observed, ["LambdaECRImageRetrievalPolicy"]), observed
    )


# --- properties ---

ACCOUNTS = [f"{n}" * 12 for n in range(1, 10)]
ACTIONS = sorted(
    {*PULL_ACTIONS, *PUSH_ACTIONS, "ecr:DescribeImages", "ecr:ListImages", "ecr:DeleteRepository", "ecr:*"}
)
ORG_IDS = ["o-aaaa1111", "o-bbbb2222", "o-cccc3333", "o-dddd4444"]
ROLE = "arn:aws:iam::123456789012:role/deployer"


@st.composite
def statements(draw: st.DrawFn, sid: str) -> dict[str, Any]:
    result: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    if sid:
        result["Sid"] = sid
    principal_kind = draw(st.sampled_from(["accounts", "star", "service"]))
    if principal_kind == "accounts":
        accounts = draw(st.lists(st.sampled_from(ACCOUNTS), min_size=1, max_size=4, unique=True))
        extra = [ROLE] if draw(st.booleans()) else []
        result["Principal"] = {"AWS": [*(f"arn:aws:iam::{a}:root" for a in accounts), *extra]}
    elif principal_kind == "star":
        result["Principal"] = "*"
    else:
        result["Principal"] = {"Service": ["lambda.amazonaws.com"]}
    action_key = draw(st.sampled_from(["Action", "NotAction"]))
    result[action_key] = draw(st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=5, unique=True))
    if draw(st.booleans()):
        orgs = draw(st.lists(st.sampled_from(ORG_IDS), min_size=1, max_size=3, unique=True))
        result["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": orgs}}
    return result


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    sids = draw(
        st.lists(st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=5, unique=True)
    )
    if draw(st.booleans()):
        sids.append("")  # one statement without a Sid
    return {"Version": "2012-10-17", "Statement": [draw(statements(sid)) for sid in sids]}


def _maybe_unwrap(values: list[Any], rng: random.Random) -> Any:
    return values[0] if len(values) == 1 and rng.random() < 0.5 else values


def _reformat_statement(statement: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """What AWS (or a human re-typing the same policy) may do to a statement without changing its meaning."""
    result = dict(statement)
    principal = statement["Principal"]
    if principal == "*":
        result["Principal"] = rng.choice(["*", {"AWS": "*"}, {"AWS": ["*"]}])
    elif "AWS" in principal:
        aws = [
            p.removeprefix("arn:aws:iam::").removesuffix(":root")
            if p.endswith(":root") and rng.random() < 0.5
            else p
            for p in principal["AWS"]
        ]
        aws += rng.sample(aws, k=rng.randint(0, len(aws)))  # duplicates
        rng.shuffle(aws)
        result["Principal"] = {"AWS": _maybe_unwrap(aws, rng)}
    else:
        result["Principal"] = {kind: _maybe_unwrap(list(v), rng) for kind, v in principal.items()}
    for key in ("Action", "NotAction"):
        if key in statement:
            actions = [rng.choice([a, a.upper(), a.lower(), a.swapcase()]) for a in statement[key]]
            actions += rng.sample(actions, k=rng.randint(0, len(actions)))
            rng.shuffle(actions)
            result[key] = _maybe_unwrap(actions, rng)
    if "Condition" in statement:
        orgs = list(statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"])
        orgs += rng.sample(orgs, k=rng.randint(0, len(orgs)))
        rng.shuffle(orgs)
        key = rng.choice(["aws:PrincipalOrgID", "aws:principalorgid", "AWS:PRINCIPALORGID"])
        result["Condition"] = {"StringEquals": {key: _maybe_unwrap(orgs, rng)}}
    if result.get("Sid") == "" and rng.random() < 0.5:
        del result["Sid"]
    items = list(result.items())
    rng.shuffle(items)
    return dict(items)


def aws_reformat(policy: dict[str, Any], rng: random.Random) -> str | dict[str, Any]:
    statements_ = [_reformat_statement(s, rng) for s in policy["Statement"]]
    rng.shuffle(statements_)
    document: dict[str, Any] = {"Statement": statements_}
    if rng.random() < 0.7:
        document["Version"] = policy["Version"]
    choice = rng.randrange(3)
    if choice == 0:
        return json.dumps(document, indent=2)  # ECR returns policies pretty printed
    if choice == 1:
        return render_repository_policy(document)
    return document


def _accounts(statement: dict[str, Any]) -> list[str] | None:
    principal = statement["Principal"]
    return principal.get("AWS") if isinstance(principal, dict) else None


def real_changes(policy: dict[str, Any], index: int, rng: random.Random) -> list[dict[str, Any]]:
    """Every meaningful change this test makes to statement ``index``; each must be seen as drift."""
    changes: list[dict[str, Any]] = []

    def changed(edit: Any) -> None:
        copied = copy.deepcopy(policy)
        edit(copied["Statement"][index])
        changes.append(copied)

    statement = policy["Statement"][index]
    accounts = _accounts(statement)
    present = {a.split(":")[4] for a in accounts or [] if a.endswith(":root")}
    absent = [a for a in ACCOUNTS if a not in present]
    if accounts is not None:
        changed(lambda s: s["Principal"]["AWS"].append(rng.choice(absent)))
        changed(lambda s: s["Principal"]["AWS"].pop(rng.randrange(len(s["Principal"]["AWS"]))))
        if present:
            changed(
                lambda s: s["Principal"].update(
                    AWS=[
                        f"arn:aws:iam::{rng.choice(absent)}:root" if a.endswith(":root") else a
                        for a in s["Principal"]["AWS"]
                    ]
                )
            )
    action_key = "Action" if "Action" in statement else "NotAction"
    new_actions = [a for a in ACTIONS if a not in statement[action_key]]
    if new_actions:
        changed(lambda s: s[action_key].append(rng.choice(new_actions)))
    changed(lambda s: s.update(Effect="Deny" if s["Effect"] == "Allow" else "Allow"))
    if "Condition" in statement:
        orgs = statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"]
        new_org = rng.choice([o for o in [*ORG_IDS, "o-zzzz9999"] if o not in orgs])
        changed(lambda s: s["Condition"]["StringEquals"].update({"aws:PrincipalOrgID": [*orgs[1:], new_org]}))
    else:
        changed(lambda s: s.update(Condition={"StringEquals": {"aws:PrincipalOrgID": ORG_IDS[0]}}))
    changes.append({**policy, "Statement": [s for i, s in enumerate(policy["Statement"]) if i != index]})
    return changes


@given(policy=policies(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=300)
def test_aws_style_reformatting_never_creates_drift(policy: dict[str, Any], seed: int) -> None:
    rng = random.Random(seed)
    reformatted = aws_reformat(policy, rng)

    assert repository_policies_equal(policy, reformatted)
    assert repository_policies_equal(aws_reformat(policy, rng), reformatted)
    assert canonical_repository_policy(reformatted) == canonical_repository_policy(policy)


@given(policy=policies(), seed=st.integers(0, 2**32 - 1), data=st.data())
@settings(max_examples=300)
def test_every_real_change_is_drift_even_after_reformatting(
    policy: dict[str, Any], seed: int, data: st.DataObject
) -> None:
    rng = random.Random(seed)
    index = data.draw(st.integers(0, len(policy["Statement"]) - 1), label="statement index")

    for changed in real_changes(policy, index, rng):
        assert not repository_policies_equal(changed, aws_reformat(policy, rng))
        assert not repository_policies_equal(aws_reformat(changed, rng), policy)


@given(
    pull=st.none() | st.lists(st.sampled_from(ACCOUNTS), max_size=5),
    push=st.none() | st.lists(st.sampled_from(ACCOUNTS), max_size=5),
    seed=st.integers(0, 2**32 - 1),
)
def test_built_policies_survive_reformatting_and_grant_push_implies_pull(
    pull: list[str] | None, push: list[str] | None, seed: int
) -> None:
    document = build_repository_policy(pull, push, None)

    if pull is None and push is None:
        assert document is None
        return
    assert document is not None
    by_sid = {statement["Sid"]: statement for statement in document["Statement"]}
    pullers = {
        a.split(":")[4]
        for a in by_sid.get("CrossAccountPull", {"Principal": {"AWS": []}})["Principal"]["AWS"]
    }
    assert pullers == set(pull or ()) | set(push or ())
    assert ("CrossAccountPush" in by_sid) == bool(push)
    assert repository_policies_equal(document, aws_reformat(document, random.Random(seed)))
    assert parse_repository_policy(render_repository_policy(document)) == document
