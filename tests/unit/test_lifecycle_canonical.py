"""Canonical equality of lifecycle policies: formatting never makes a difference, real changes always do."""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecr_drift.documents.lifecycle import (
    canonical_lifecycle_policy,
    lifecycle_policies_equal,
    render_lifecycle_policy,
)

TAGS = st.text(alphabet="abcdefv0123456789.-*", min_size=1, max_size=8)


@st.composite
def selections(draw: st.DrawFn) -> dict[str, Any]:
    status = draw(st.sampled_from(["tagged", "untagged", "any"]))
    selection: dict[str, Any] = {"tagStatus": status}
    if status == "tagged":
        selection[draw(st.sampled_from(["tagPrefixList", "tagPatternList"]))] = draw(
            st.lists(TAGS, min_size=1, max_size=4, unique=True)
        )
    if draw(st.booleans()):
        selection |= {"countType": "imageCountMoreThan", "countNumber": draw(st.integers(1, 10_000))}
    else:
        selection |= {
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": draw(st.integers(1, 3650)),
        }
    return selection


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    priorities = draw(st.lists(st.integers(1, 1000), min_size=1, max_size=6, unique=True))
    rules = []
    for priority in priorities:
        rule: dict[str, Any] = {"rulePriority": priority, "selection": draw(selections())}
        if description := draw(st.one_of(st.none(), st.text(max_size=20))):
            rule["description"] = description
        rule["action"] = {"type": "expire"}
        rules.append(rule)
    return {"rules": rules}


def shuffled_keys(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: shuffled_keys(item, rng) for key, item in items}
    if isinstance(value, list):
        return [shuffled_keys(item, rng) for item in value]
    return value


def reformatted(document: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Everything that must NOT count as a change: rule order, key order, tag order and repeats, defaults."""
    variant: dict[str, Any] = shuffled_keys(copy.deepcopy(document), rng)
    rng.shuffle(variant["rules"])
    for rule in variant["rules"]:
        for key in ("tagPrefixList", "tagPatternList"):
            if key in rule["selection"]:
                tags = rule["selection"][key] + rng.sample(rule["selection"][key], 1)  # a repeat
                rng.shuffle(tags)
                rule["selection"][key] = tags
        if "description" not in rule and rng.random() < 0.5:
            rule["description"] = ""
        if rng.random() < 0.5:
            del rule["action"]  # ECR's default action is expire
    return variant


def ecr_formatting(document: dict[str, Any]) -> str:
    """Pretty-printed as GetLifecyclePolicy returns it."""
    return json.dumps(document, indent=4)


def change_count_number(rule: dict[str, Any]) -> None:
    rule["selection"]["countNumber"] += 1


def change_tag_status(rule: dict[str, Any]) -> None:
    selection = rule["selection"]
    selection["tagStatus"] = {"tagged": "any", "untagged": "any", "any": "untagged"}[selection["tagStatus"]]


def add_a_prefix(rule: dict[str, Any]) -> None:
    prefixes = rule["selection"].setdefault("tagPrefixList", [])
    prefixes.append("new" + "".join(prefixes))  # longer than any prefix there, so never already listed


def change_count_type(rule: dict[str, Any]) -> None:
    selection = rule["selection"]
    if selection["countType"] == "imageCountMoreThan":
        selection |= {"countType": "sinceImagePushed", "countUnit": "days"}
    else:
        selection["countType"] = "imageCountMoreThan"
        del selection["countUnit"]


def change_description(rule: dict[str, Any]) -> None:
    rule["description"] = rule.get("description", "") + " (changed)"


CHANGES = [change_count_number, change_tag_status, add_a_prefix, change_count_type, change_description]


@given(policies())
def test_rendering_is_a_fixed_point(document: dict[str, Any]) -> None:
    text = render_lifecycle_policy(document)

    assert render_lifecycle_policy(json.loads(text)) == text
    assert canonical_lifecycle_policy(text) == canonical_lifecycle_policy(document)


@given(policies(), st.randoms(use_true_random=False))
def test_reordering_and_defaults_never_make_a_difference(
    document: dict[str, Any], rng: random.Random
) -> None:
    variant = reformatted(document, rng)

    assert lifecycle_policies_equal(document, variant)
    assert render_lifecycle_policy(variant) == render_lifecycle_policy(document)


@given(policies(), st.randoms(use_true_random=False))
def test_ecr_pretty_printing_never_makes_a_difference(document: dict[str, Any], rng: random.Random) -> None:
    assert lifecycle_policies_equal(
        ecr_formatting(reformatted(document, rng)), render_lifecycle_policy(document)
    )


@given(policies(), st.data(), st.sampled_from(CHANGES), st.randoms(use_true_random=False))
def test_every_real_change_makes_a_difference(
    document: dict[str, Any], data: st.DataObject, change: Any, rng: random.Random
) -> None:
    changed = copy.deepcopy(document)
    change(data.draw(st.sampled_from(changed["rules"])))

    assert not lifecycle_policies_equal(document, changed)
    assert not lifecycle_policies_equal(ecr_formatting(reformatted(changed, rng)), document)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param({"countNumber": 1}, {"countNumber": True}, id="1 is not true"),
        pytest.param({"countNumber": 1}, {"countNumber": 1.0}, id="1 is not 1.0"),
    ],
)
def test_values_python_calls_equal_are_still_different(a: dict[str, Any], b: dict[str, Any]) -> None:
    def document(selection: dict[str, Any]) -> dict[str, Any]:
        return {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", **selection}}]}

    assert not lifecycle_policies_equal(document(a), document(b))


def test_a_standard_storage_class_is_the_default_and_an_unknown_key_is_a_difference() -> None:
    rule: dict[str, Any] = {
        "rulePriority": 1,
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
    }
    explicit = {"rules": [{**rule, "selection": {**rule["selection"], "storageClass": "standard"}}]}
    extra = {"rules": [{**rule, "newKey": True}]}

    assert lifecycle_policies_equal({"rules": [rule]}, explicit)
    assert not lifecycle_policies_equal({"rules": [rule]}, extra)


def test_canonical_form_leaves_its_input_untouched() -> None:
    document = {
        "rules": [{"rulePriority": 1, "description": "", "selection": {"tagPrefixList": ["b", "a", "a"]}}]
    }
    before = copy.deepcopy(document)

    canonical_lifecycle_policy(document)

    assert document == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"rules": [', "lifecycle policy text is not valid JSON: Expecting value at line 1 column 12"),
        ("[]", "lifecycle policy text must be a JSON object"),
        ('{"rules": {}}', 'not an ECR lifecycle policy: expected an object with a "rules" list of objects'),
        ('{"rules": [1]}', 'not an ECR lifecycle policy: expected an object with a "rules" list of objects'),
    ],
)
def test_text_that_is_no_policy_raises_a_clear_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        canonical_lifecycle_policy(text)
