"""The lifecycle shorthand's inverse: an ECR policy → shorthand, only when it compiles back to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from ecr_drift.desired.lifecycle_rules import LifecycleRule
from ecr_drift.documents.canonical_json import dumps
from ecr_drift.documents.lifecycle import (
    canonical_lifecycle_policy,
    compile_lifecycle_policy,
    validate_lifecycle_policy,
)
from ecr_drift.documents.lifecycle_shorthand import lifecycle_field, shorthand_rules
from ecr_drift.documents.problems import DocumentError

DOC_EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "lifecycle" / "aws_doc_examples.json").read_text()
)
RULES = TypeAdapter(list[LifecycleRule])


def compiled(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return compile_lifecycle_policy(RULES.validate_python(rules))


def canonical_text(document: dict[str, Any]) -> str:
    return dumps(canonical_lifecycle_policy(document))


def compiles_to(field: list[dict[str, Any]] | dict[str, Any]) -> str:
    """The canonical policy a ``lifecycle`` field of the desired state compiles to."""
    if isinstance(field, dict):
        return canonical_text(field["raw"])
    return canonical_text(compiled(field))


# --- examples ------------------------------------------------------------------------------------------


def test_the_contracts_example_comes_back_as_written() -> None:
    rules = [
        {"description": "expire untagged images after 7 days", "tag_status": "untagged", "max_age_days": 7},
        {"description": "keep the last 30 release images", "tag_prefixes": ["v"], "max_images": 30},
    ]
    assert lifecycle_field(compiled(rules)) == rules


def test_an_any_rule_says_so_and_tagged_is_left_implied() -> None:
    rules = [
        {"tag_status": "tagged", "tag_patterns": ["prod-*"], "max_images": 5},
        {"tag_status": "any", "max_age_days": 30},
    ]
    assert lifecycle_field(compiled(rules)) == [
        {"tag_patterns": ["prod-*"], "max_images": 5},
        {"tag_status": "any", "max_age_days": 30},
    ]


def test_ecrs_formatting_and_rule_order_do_not_matter() -> None:
    text = json.dumps(compiled([{"tag_status": "untagged", "max_images": 3}, {"max_age_days": 9}]), indent=4)
    document = json.loads(text)
    document["rules"].reverse()
    assert lifecycle_field(document) == [
        {"tag_status": "untagged", "max_images": 3},
        {"tag_status": "any", "max_age_days": 9},
    ]


@pytest.mark.parametrize(
    ("why", "document"),
    [
        (
            "priorities other than 1, 2, 3",
            {
                "rules": [
                    {
                        "rulePriority": 10,
                        "selection": {
                            "tagStatus": "any",
                            "countType": "imageCountMoreThan",
                            "countNumber": 3,
                        },
                        "action": {"type": "expire"},
                    }
                ]
            },
        ),
        ("an archive rule", DOC_EXAMPLES["archive_images_older_than_days"]),
        ("a pull-based age", DOC_EXAMPLES["archive_images_not_pulled"]),
        (
            "a count beyond the shorthand's range",
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "selection": {
                            "tagStatus": "any",
                            "countType": "imageCountMoreThan",
                            "countNumber": 20000,
                        },
                        "action": {"type": "expire"},
                    }
                ]
            },
        ),
    ],
)
def test_what_the_shorthand_cannot_say_stays_raw(why: str, document: dict[str, Any]) -> None:
    field = lifecycle_field(document)
    assert field == {"raw": canonical_lifecycle_policy(document)}, why
    assert shorthand_rules(document) is None


def test_text_that_is_not_a_policy_is_an_error() -> None:
    with pytest.raises(ValueError, match="rules"):
        lifecycle_field({"rulez": []})


@pytest.mark.parametrize("name", sorted(k for k in DOC_EXAMPLES if not k.startswith("_")))
def test_every_documented_example_compiles_back_to_itself(name: str) -> None:
    document = DOC_EXAMPLES[name]
    assert validate_lifecycle_policy(document) == []
    assert compiles_to(lifecycle_field(document)) == canonical_text(document)


# --- properties ----------------------------------------------------------------------------------------

_COUNT = st.one_of(
    st.fixed_dictionaries({"max_images": st.integers(1, 10_000)}),
    st.fixed_dictionaries({"max_age_days": st.integers(1, 36_500)}),
)
_DESCRIPTION = st.one_of(st.none(), st.just(""), st.text("abc xyz-", min_size=1, max_size=20))
_TAGS = st.lists(st.sampled_from(["v", "rc", "prod", "dev"]), min_size=1, max_size=3)


@st.composite
def _tagged_rule(draw: st.DrawFn) -> dict[str, Any]:
    key = draw(st.sampled_from(["tag_prefixes", "tag_patterns"]))
    rule = {key: draw(_TAGS), **draw(_COUNT)}
    if draw(st.booleans()):
        rule["tag_status"] = "tagged"
    return _described(draw, rule)


def _described(draw: st.DrawFn, rule: dict[str, Any]) -> dict[str, Any]:
    description = draw(_DESCRIPTION)
    return rule if description is None else {**rule, "description": description}


@st.composite
def shorthand(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Shorthand rules ECR accepts: tagged rules, at most one untagged rule, an `any` rule only last."""
    rules = draw(st.lists(_tagged_rule(), max_size=4))
    if draw(st.booleans()):
        position = draw(st.integers(0, len(rules)))
        rules.insert(position, _described(draw, {"tag_status": "untagged", **draw(_COUNT)}))
    if draw(st.booleans()) or not rules:
        last = {"tag_status": "any"} if draw(st.booleans()) else {}
        rules.append(_described(draw, {**last, **draw(_COUNT)}))
    return rules


@given(shorthand())
def test_shorthand_comes_back_as_shorthand_for_the_same_policy(rules: list[dict[str, Any]]) -> None:
    try:
        document = compiled(rules)
    except DocumentError:  # e.g. two tagged rules with the same tags: ECR rejects it, so does the compiler
        return
    field = lifecycle_field(document)
    assert isinstance(field, list)
    assert compiles_to(field) == canonical_text(document)
    assert lifecycle_field(compiled(field)) == field  # a fixed point: importing again changes nothing


_KINDS = [
    ({"countType": "imageCountMoreThan"}, {"type": "expire"}),
    ({"countType": "sinceImagePushed", "countUnit": "days"}, {"type": "expire"}),
    (
        {"countType": "sinceImagePulled", "countUnit": "days"},
        {"type": "transition", "targetStorageClass": "archive"},
    ),
    (
        {"countType": "sinceImageTransitioned", "countUnit": "days", "storageClass": "archive"},
        {"type": "expire"},
    ),
]


@st.composite
def _ecr_rule(draw: st.DrawFn, priority: int) -> dict[str, Any]:
    count, action = draw(st.sampled_from(_KINDS))
    status = draw(st.sampled_from(["tagged", "untagged", "any"]))
    tags = (
        {draw(st.sampled_from(["tagPrefixList", "tagPatternList"])): draw(_TAGS)}
        if status == "tagged"
        else {}
    )
    selection = {"tagStatus": status, **tags, **count, "countNumber": draw(st.integers(1, 40_000))}
    return _described(draw, {"rulePriority": priority, "selection": selection, "action": action})


@st.composite
def ecr_policy(draw: st.DrawFn) -> dict[str, Any]:
    """ECR lifecycle policies, many of which the shorthand cannot say; those ECR would reject are skipped."""
    size = draw(st.integers(1, 4))
    # Half of them numbered 1, 2, 3 as the shorthand numbers its rules.
    numbered = st.just(list(range(1, size + 1)))
    priorities = draw(numbered | st.lists(st.integers(1, 6), min_size=size, max_size=size, unique=True))
    return {"rules": [draw(_ecr_rule(priority)) for priority in priorities]}


@given(ecr_policy())
def test_any_ecr_policy_comes_back_as_a_field_that_compiles_to_it(document: dict[str, Any]) -> None:
    if validate_lifecycle_policy(document):
        return
    field = lifecycle_field(document)
    assert compiles_to(field) == canonical_text(document)
    if isinstance(field, dict):
        assert validate_lifecycle_policy(field["raw"]) == []
