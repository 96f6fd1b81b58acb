"""Registry replication: the exact PutReplicationConfiguration parameter, its canonical form, its checks."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from ecr_drift.desired.models import ReplicationRule
from ecr_drift.documents.problems import Problem
from ecr_drift.documents.replication import (
    canonical_replication,
    replication_configuration,
    replication_equal,
    replication_problems,
)
from tests.conftest import ACCOUNT_ID, REGION

OTHER_ACCOUNT = "111122223333"
RULES = TypeAdapter(list[ReplicationRule])


def rules(value: list[dict[str, Any]]) -> list[ReplicationRule]:
    return RULES.validate_python(value)


def test_destinations_default_to_this_account_and_filters_are_prefix_matches() -> None:
    compiled = replication_configuration(
        rules(
            [
                {
                    "destinations": [
                        {"region": "us-east-1"},
                        {"region": "eu-west-1", "account_id": OTHER_ACCOUNT},
                    ],
                    "repository_prefixes": ["prod/", "team-a"],
                },
                {"destinations": [{"region": "ap-south-1"}]},
            ]
        ),
        ACCOUNT_ID,
    )
    assert compiled == {
        "rules": [
            {
                "destinations": [
                    {"region": "us-east-1", "registryId": ACCOUNT_ID},
                    {"region": "eu-west-1", "registryId": OTHER_ACCOUNT},
                ],
                "repositoryFilters": [
                    {"filter": "prod/", "filterType": "PREFIX_MATCH"},
                    {"filter": "team-a", "filterType": "PREFIX_MATCH"},
                ],
            },
            # No prefixes: no repositoryFilters at all (ECR rejects an empty filter list).
            {"destinations": [{"region": "ap-south-1", "registryId": ACCOUNT_ID}]},
        ]
    }


def test_no_rules_is_an_empty_rule_list() -> None:
    assert replication_configuration([], ACCOUNT_ID) == {"rules": []}


@pytest.mark.parametrize("nothing", [None, {}, {"rules": []}, {"rules": None}])
def test_absent_and_empty_configurations_are_no_replication(nothing: Any) -> None:
    assert canonical_replication(nothing) == {"rules": []}
    assert replication_equal(nothing, {"rules": []})


def test_delete_replication_false_is_the_default_and_true_is_a_difference() -> None:
    rule = {"destinations": [{"region": "us-east-1", "registryId": ACCOUNT_ID}]}
    assert replication_equal({"rules": [{**rule, "deleteReplication": False}]}, {"rules": [rule]})
    assert not replication_equal({"rules": [{**rule, "deleteReplication": True}]}, {"rules": [rule]})


def test_empty_filter_list_and_default_filter_type() -> None:
    rule = {"destinations": [{"region": "us-east-1", "registryId": ACCOUNT_ID}]}
    assert replication_equal({"rules": [{**rule, "repositoryFilters": []}]}, {"rules": [rule]})
    assert replication_equal(
        {"rules": [{**rule, "repositoryFilters": [{"filter": "prod"}]}]},
        {"rules": [{**rule, "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}]}]},
    )


@pytest.mark.parametrize(
    "broken",
    [
        {"rules": "all"},
        {"rules": [5]},
        {"rules": [{"destinations": "us-east-1"}]},
        {"rules": [{"destinations": [{"region": "us-east-1"}]}]},
        {"rules": [{"destinations": [], "repositoryFilters": [{"filterType": "PREFIX_MATCH"}]}]},
    ],
)
def test_malformed_configurations_raise_value_error(broken: Any) -> None:
    with pytest.raises(ValueError, match="replication"):
        canonical_replication(broken)


# ---------------------------------------------------------------------------------------------------------
# Properties: order and repetition mean nothing; every real change is a difference.

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"]
ACCOUNTS = [ACCOUNT_ID, OTHER_ACCOUNT, "444455556666"]
PREFIXES = ["prod", "prod/api", "team-a", "ci_cache", "x.y"]

destinations = st.lists(
    st.tuples(st.sampled_from(REGIONS), st.sampled_from(ACCOUNTS)), min_size=1, max_size=4, unique=True
)
prefixes = st.lists(st.sampled_from(PREFIXES), max_size=3, unique=True)
configurations = st.lists(st.tuples(destinations, prefixes), max_size=4)


def api_configuration(value: list[tuple[list[tuple[str, str]], list[str]]]) -> dict[str, Any]:
    result: dict[str, Any] = {"rules": []}
    for dests, filters in value:
        rule: dict[str, Any] = {"destinations": [{"region": r, "registryId": a} for r, a in dests]}
        if filters:
            rule["repositoryFilters"] = [{"filter": f, "filterType": "PREFIX_MATCH"} for f in filters]
        result["rules"].append(rule)
    return result


def shuffled(configuration: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The same configuration as DescribeRegistry may return it, or someone may retype it."""
    out_rules = []
    for rule in configuration["rules"]:
        dests = [dict(d) for d in rule["destinations"]]
        dests += rng.sample(dests, k=rng.randint(0, len(dests)))
        rng.shuffle(dests)
        copy: dict[str, Any] = {"destinations": dests}
        filters = [dict(f) for f in rule.get("repositoryFilters", [])]
        filters += rng.sample(filters, k=rng.randint(0, len(filters)))
        rng.shuffle(filters)
        if filters or rng.random() < 0.5:
            copy["repositoryFilters"] = filters
        if rng.random() < 0.3:
            copy["deleteReplication"] = False
        out_rules.append(copy)
    out_rules += rng.sample(out_rules, k=rng.randint(0, len(out_rules)))
    rng.shuffle(out_rules)
    return {"rules": out_rules}


@settings(max_examples=200)
@given(value=configurations, seed=st.integers())
def test_order_and_repetition_carry_no_meaning(value: Any, seed: int) -> None:
    configuration = api_configuration(value)
    assert replication_equal(configuration, shuffled(configuration, random.Random(seed)))
    assert canonical_replication(canonical_replication(configuration)) == canonical_replication(configuration)


def meaning(configuration: dict[str, Any]) -> frozenset[Any]:
    """What ECR replicates where: a set of rules, each a set of destinations and a set of filters."""
    return frozenset(
        (
            frozenset((d["region"], d["registryId"]) for d in rule["destinations"]),
            frozenset(f["filter"] for f in rule.get("repositoryFilters", [])),
        )
        for rule in configuration["rules"]
    )


@settings(max_examples=300)
@given(value=configurations.filter(bool), seed=st.integers())
def test_equal_exactly_when_the_meaning_is(value: Any, seed: int) -> None:
    rng = random.Random(seed)
    configuration = api_configuration(value)
    changed = json.loads(json.dumps(configuration))
    rule = rng.choice(changed["rules"])
    present = {(d["region"], d["registryId"]) for d in rule["destinations"]}
    candidates = [(r, a) for r in REGIONS for a in ACCOUNTS if (r, a) not in present]
    kind = rng.randrange(4)
    if kind == 0 and candidates:
        region, account = rng.choice(candidates)
        rule["destinations"].append({"region": region, "registryId": account})
    elif kind == 1 and len(rule["destinations"]) > 1:
        rule["destinations"].pop()
    elif kind == 2 and rule.get("repositoryFilters"):
        rule["repositoryFilters"].pop()  # fewer filters (none at all: every repository)
    else:
        changed["rules"].remove(rule)
    expected = meaning(changed) == meaning(configuration)
    assert replication_equal(configuration, shuffled(changed, rng)) == expected


@settings(max_examples=100)
@given(value=st.lists(st.tuples(destinations, prefixes), max_size=4))
def test_compiled_configuration_round_trips_through_the_canonical_form(value: Any) -> None:
    desired = rules(
        [
            {
                "destinations": [
                    {"region": r} if a == ACCOUNT_ID else {"region": r, "account_id": a} for r, a in dests
                ],
                **({"repository_prefixes": filters} if filters else {}),
            }
            for dests, filters in value
        ]
    )
    assert replication_equal(replication_configuration(desired, ACCOUNT_ID), api_configuration(value))


# ---------------------------------------------------------------------------------------------------------
# Checks


def test_duplicates_and_too_many_destinations() -> None:
    many = [{"destinations": [{"region": f"r{i}-{j}"} for i in range(9)]} for j in range(3)]
    problems = replication_problems(
        rules(
            [
                {
                    "destinations": [{"region": "us-east-1"}, {"region": "us-east-1"}],
                    "repository_prefixes": ["prod", "team", "prod"],
                },
                *many,
            ]
        )
    )
    assert problems == [
        Problem("[0].destinations[1]", "is the same destination as destinations[0]"),
        Problem("[0].repository_prefixes[2]", "the same prefix as repository_prefixes[0]"),
        Problem("", "has 28 unique destinations across its rules; ECR allows at most 25"),
    ]


def test_the_same_destination_in_two_rules_counts_once() -> None:
    shared = [{"destinations": [{"region": f"r{i}-x"} for i in range(25)]}] * 2
    assert replication_problems(rules(shared)) == []


def test_a_rule_into_this_registry_is_rejected_only_when_the_registry_is_known() -> None:
    into_itself = rules(
        [
            {
                "destinations": [
                    {"region": REGION},
                    {"region": REGION, "account_id": OTHER_ACCOUNT},
                    {"region": "us-east-1"},
                ]
            }
        ]
    )
    assert replication_problems(into_itself) == []
    expected = Problem(
        "[0].destinations[0].region",
        f"{REGION} in this account is the registry being replicated; "
        "give another Region or another account_id",
    )
    assert replication_problems(into_itself, home=(REGION, ACCOUNT_ID)) == [expected]
    assert replication_problems(into_itself, home=(REGION, None)) == [expected]
    # The account's own id given explicitly is this account too, and then the same destination as [0].
    explicit = rules([{"destinations": [{"region": REGION}, {"region": REGION, "account_id": ACCOUNT_ID}]}])
    assert {p.path for p in replication_problems(explicit, home=(REGION, ACCOUNT_ID))} == {
        "[0].destinations[0].region",
        "[0].destinations[1]",
        "[0].destinations[1].region",
    }
