"""The registry policy: exact document and text; equal across AWS rewriting, never across a real change."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from ecr_drift.desired.models import PolicyStatement, RegistryPolicyStatement
from ecr_drift.documents.canonical_json import dumps
from ecr_drift.documents.iam_policy import statement_problems
from ecr_drift.documents.problems import DocumentError, Problem
from ecr_drift.documents.registry_policy import (
    MAX_REGISTRY_POLICY_TEXT_LENGTH,
    build_registry_policy,
    canonical_registry_policy,
    parse_registry_policy,
    registry_policies_equal,
    registry_policy_text,
    render_registry_policy,
)
from ecr_drift.documents.repository_policy import canonical_repository_policy
from tests.conftest import ACCOUNT_ID, REGION

SOURCE_ACCOUNT = "111122223333"
REPOSITORIES = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/*"
REPLICATION = {
    "Sid": "ReplicationFromSource",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{SOURCE_ACCOUNT}:root"},
    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": REPOSITORIES,
}
CACHE = {
    "Sid": "CacheImport",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
    "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
    "Resource": [f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/ecr-public/*"],
    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
}
STATEMENTS = TypeAdapter(list[RegistryPolicyStatement])


def statements(value: list[dict[str, Any]]) -> list[RegistryPolicyStatement]:
    return STATEMENTS.validate_python(value)


def test_the_document_is_sorted_by_sid_and_leaves_out_what_is_not_given() -> None:
    document = build_registry_policy(statements([REPLICATION, CACHE]))
    assert document == {"Version": "2012-10-17", "Statement": [CACHE, REPLICATION]}


def test_the_text_is_the_one_canonical_json() -> None:
    text = registry_policy_text(statements([REPLICATION, CACHE]))
    assert text == render_registry_policy(build_registry_policy(statements([CACHE, REPLICATION])))
    assert text == dumps({"Version": "2012-10-17", "Statement": [CACHE, REPLICATION]})


@pytest.mark.parametrize("unmanaged_or_none", [None, []])
def test_no_statements_means_no_text(unmanaged_or_none: Any) -> None:
    assert registry_policy_text(unmanaged_or_none) is None


def test_duplicate_sids_name_their_path() -> None:
    with pytest.raises(DocumentError) as caught:
        build_registry_policy(statements([REPLICATION, CACHE, {**CACHE, "Resource": REPOSITORIES}]))
    assert caught.value.problems == [
        Problem("policy_statements[2].Sid", "this Sid is already used by policy_statements[1]")
    ]


def test_a_policy_longer_than_ecr_allows_is_rejected() -> None:
    long = [
        {**REPLICATION, "Sid": f"S{i}", "Resource": [f"{REPOSITORIES[:-1]}{'x' * 200}-{i}"]}
        for i in range(60)
    ]
    with pytest.raises(DocumentError, match=f"ECR allows {MAX_REGISTRY_POLICY_TEXT_LENGTH}") as caught:
        build_registry_policy(statements(long))
    assert [p.path for p in caught.value.problems] == ["policy_statements"]


def test_the_statement_checks_take_both_kinds_of_statement() -> None:
    repository = TypeAdapter(list[PolicyStatement]).validate_python(
        [{k: v for k, v in REPLICATION.items() if k != "Resource"}] * 2
    )
    registry = statements([REPLICATION] * 2)
    expected = [Problem("policy_statements[1].Sid", "this Sid is already used by policy_statements[0]")]
    assert statement_problems(repository, allow_public_pull=False) == expected
    assert statement_problems(registry, allow_public_pull=False) == expected


def test_what_aws_does_to_a_stored_policy_is_no_difference() -> None:
    stored = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReplicationFromSource",
                "Effect": "Allow",
                "Principal": {"AWS": [SOURCE_ACCOUNT]},
                "Action": ["ECR:ReplicateImage", "ecr:createrepository"],
                "Resource": [REPOSITORIES],
            },
            {
                **CACHE,
                "Resource": CACHE["Resource"][0],
                "Condition": {"StringEquals": {"AWS:PrincipalOrgID": ["o-abc123"]}},
            },
        ],
    }
    desired = build_registry_policy(statements([REPLICATION, CACHE]))
    assert registry_policies_equal(json.dumps(stored, indent=2), desired)
    assert registry_policies_equal(desired, render_registry_policy(desired))


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(Resource=f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/prod/*"),
        lambda s: s.update(Resource=[REPOSITORIES, f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/*"]),
        lambda s: s.update(Effect="Deny"),
        lambda s: s.update(Action="ecr:ReplicateImage"),
        lambda s: s.update(Principal={"AWS": "444455556666"}),
        lambda s: s.update(Sid="Other"),
    ],
)
def test_a_real_change_is_a_difference(change: Any) -> None:
    changed = dict(REPLICATION)
    change(changed)
    assert not registry_policies_equal(
        build_registry_policy(statements([REPLICATION])), {"Version": "2012-10-17", "Statement": [changed]}
    )


def test_unreadable_text_names_the_registry_policy() -> None:
    with pytest.raises(ValueError, match="registry policy is not valid JSON"):
        parse_registry_policy("{")
    with pytest.raises(ValueError, match="registry policy `Principal`"):
        canonical_registry_policy({"Statement": [{**REPLICATION, "Principal": 5}]})
    # The repository policy's messages name their own kind (the canonicalisation is shared).
    with pytest.raises(ValueError, match="repository policy `Principal`"):
        canonical_repository_policy({"Statement": [{**REPLICATION, "Principal": 5}]})


# ---------------------------------------------------------------------------------------------------------
# Property: any reformatting AWS may apply compares equal; the canonical form is a fixed point.

ACCOUNTS = [SOURCE_ACCOUNT, "444455556666", ACCOUNT_ID]
ACTIONS = ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:BatchImportUpstreamImage"]
RESOURCES = [REPOSITORIES, f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/prod/*", "*"]


@st.composite
def registry_statements(draw: st.DrawFn) -> list[dict[str, Any]]:
    sids = draw(
        st.lists(st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True), min_size=1, max_size=4, unique=True)
    )
    return [
        {
            "Sid": sid,
            "Effect": draw(st.sampled_from(["Allow", "Deny"])),
            "Principal": {
                "AWS": [
                    f"arn:aws:iam::{a}:root"
                    for a in draw(st.lists(st.sampled_from(ACCOUNTS), min_size=1, max_size=3, unique=True))
                ]
            },
            "Action": draw(st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3, unique=True)),
            "Resource": draw(st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=3, unique=True)),
        }
        for sid in sids
    ]


def reformat(statement: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    accounts = [
        p.removeprefix("arn:aws:iam::").removesuffix(":root") if rng.random() < 0.5 else p
        for p in statement["Principal"]["AWS"]
    ]
    rng.shuffle(accounts)
    actions = [rng.choice([a, a.upper(), a.lower()]) for a in statement["Action"]]
    resources = list(statement["Resource"])
    resources += rng.sample(resources, k=rng.randint(0, len(resources)))
    rng.shuffle(resources)

    def unwrap(values: list[str]) -> Any:
        return values[0] if len(values) == 1 and rng.random() < 0.5 else values

    items = list(
        {
            **statement,
            "Principal": {"AWS": unwrap(accounts)},
            "Action": unwrap(actions),
            "Resource": unwrap(resources),
        }.items()
    )
    rng.shuffle(items)
    return dict(items)


@settings(max_examples=200)
@given(value=registry_statements(), seed=st.integers())
def test_aws_reformatting_is_never_a_difference(value: list[dict[str, Any]], seed: int) -> None:
    rng = random.Random(seed)
    desired = build_registry_policy(statements(value))
    stored = [reformat(s, rng) for s in value]
    rng.shuffle(stored)
    text = json.dumps({"Version": "2012-10-17", "Statement": stored}, indent=rng.choice([None, 2]))
    assert registry_policies_equal(text, desired)
    canonical = canonical_registry_policy(desired)
    assert canonical_registry_policy(canonical) == canonical
