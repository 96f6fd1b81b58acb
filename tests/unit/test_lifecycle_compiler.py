"""The lifecycle compiler: shorthand → the exact ECR document, and everything ECR would reject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from ecr_drift.desired.lifecycle_rules import LifecycleRule, RawLifecyclePolicy
from ecr_drift.documents.lifecycle import (
    compile_lifecycle_policy,
    render_lifecycle_policy,
    validate_lifecycle_policy,
)
from ecr_drift.documents.problems import DocumentError, Problem

DOC_EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "lifecycle" / "aws_doc_examples.json").read_text()
)
CONTRACT_EXAMPLE = [
    {"description": "expire untagged images after 7 days", "tag_status": "untagged", "max_age_days": 7},
    {"description": "keep the last 30 release images", "tag_prefixes": ["v"], "max_images": 30},
]


def shorthand(rules: list[dict[str, Any]]) -> list[LifecycleRule]:
    return TypeAdapter(list[LifecycleRule]).validate_python(rules)


def shorthand_problems(rules: list[dict[str, Any]]) -> list[Problem]:
    with pytest.raises(DocumentError) as raised:
        compile_lifecycle_policy(shorthand(rules))
    return raised.value.problems


def policy(*selections: dict[str, Any], actions: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """An ECR document with one rule per selection, priorities 1, 2, …; actions default to expire."""
    return {
        "rules": [
            {
                "rulePriority": priority,
                "selection": selection,
                "action": actions[priority - 1] if actions else {"type": "expire"},
            }
            for priority, selection in enumerate(selections, start=1)
        ]
    }


KEEP_3 = {"countType": "imageCountMoreThan", "countNumber": 3}
OLDER_THAN_7 = {"countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}
TAGGED_V = {"tagStatus": "tagged", "tagPrefixList": ["v"], **KEEP_3}
ARCHIVE = {"type": "transition", "targetStorageClass": "archive"}


# --- compiling the shorthand ---------------------------------------------------------------------------


def test_contract_example_compiles_to_the_exact_ecr_document() -> None:
    assert compile_lifecycle_policy(shorthand(CONTRACT_EXAMPLE)) == {
        "rules": [
            {
                "rulePriority": 1,
                "description": "expire untagged images after 7 days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 7,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "keep the last 30 release images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["v"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 30,
                },
                "action": {"type": "expire"},
            },
        ]
    }


def test_contract_example_renders_to_the_exact_text_pulumi_and_the_lambda_send() -> None:
    text = render_lifecycle_policy(compile_lifecycle_policy(shorthand(CONTRACT_EXAMPLE)))

    assert text == (
        '{"rules":[{"action":{"type":"expire"},"description":"expire untagged images after 7 days",'
        '"rulePriority":1,"selection":{"countNumber":7,"countType":"sinceImagePushed","countUnit":"days",'
        '"tagStatus":"untagged"}},{"action":{"type":"expire"},'
        '"description":"keep the last 30 release images","rulePriority":2,"selection":{"countNumber":30,'
        '"countType":"imageCountMoreThan","tagPrefixList":["v"],"tagStatus":"tagged"}}]}'
    )


@pytest.mark.parametrize(
    ("rule", "tag_status"),
    [
        ({"tag_prefixes": ["v"], "max_images": 3}, "tagged"),
        ({"tag_patterns": ["v*-rc"], "max_images": 3}, "tagged"),
        ({"max_age_days": 30}, "any"),
        ({"tag_status": "untagged", "max_images": 1}, "untagged"),
        ({"tag_status": "tagged", "tag_prefixes": ["v"], "max_images": 3}, "tagged"),
    ],
)
def test_tag_status_defaults_to_tagged_with_tag_filters_else_any(
    rule: dict[str, Any], tag_status: str
) -> None:
    document = compile_lifecycle_policy(shorthand([rule]))

    assert document["rules"][0]["selection"]["tagStatus"] == tag_status


def test_rule_priorities_follow_list_order_and_an_empty_description_is_left_out() -> None:
    document = compile_lifecycle_policy(
        shorthand(
            [
                {"tag_status": "untagged", "max_images": 1, "description": ""},
                {"tag_patterns": ["release-*"], "max_age_days": 90},
                {"max_images": 100},
            ]
        )
    )

    assert [rule["rulePriority"] for rule in document["rules"]] == [1, 2, 3]
    assert all("description" not in rule for rule in document["rules"])
    assert document["rules"][1]["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["release-*"],
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 90,
    }


def test_an_empty_list_compiles_to_no_rules_meaning_the_repository_has_no_policy() -> None:
    assert compile_lifecycle_policy([]) == {"rules": []}


def test_a_raw_policy_passes_through_unchanged() -> None:
    raw = DOC_EXAMPLES["combining_archive_and_expire_rules"]

    assert compile_lifecycle_policy(RawLifecyclePolicy(raw=raw)) == raw


def test_problems_of_a_raw_policy_are_located_under_raw() -> None:
    raw = policy({"tagStatus": "untagged", **KEEP_3, "countNumber": 0})

    with pytest.raises(DocumentError) as raised:
        compile_lifecycle_policy(RawLifecyclePolicy(raw=raw))

    assert raised.value.problems == [
        Problem("raw.rules[0].selection.countNumber", "must be an integer of 1 or more")
    ]


@pytest.mark.parametrize("name", sorted(name for name in DOC_EXAMPLES if not name.startswith("_")))
def test_every_policy_of_the_aws_examples_page_is_valid(name: str) -> None:
    assert validate_lifecycle_policy(DOC_EXAMPLES[name]) == []


# --- shorthand rejections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        pytest.param(
            [{"max_images": 5, "max_age_days": 7}],
            Problem(
                "[0].max_age_days",
                "give exactly one of max_images or max_age_days, not both",
            ),
            id="both counts",
        ),
        pytest.param(
            [{"tag_prefixes": ["v"]}],
            Problem(
                "[0]",
                "give exactly one of max_images (keep the newest N) or max_age_days (expire after N days)",
            ),
            id="no count",
        ),
        pytest.param(
            [{"tag_prefixes": ["v"], "tag_patterns": ["v*"], "max_images": 3}],
            Problem("[0].tag_patterns", "give tag_prefixes or tag_patterns, not both"),
            id="prefixes and patterns",
        ),
        pytest.param(
            [{"tag_status": "untagged", "tag_prefixes": ["v"], "max_images": 3}],
            Problem(
                "[0].tag_status",
                'tag_status "untagged" cannot be combined with tag_prefixes: '
                'tag filters need tag_status "tagged" (or leave tag_status out)',
            ),
            id="untagged with prefixes",
        ),
        pytest.param(
            [{"tag_status": "any", "tag_patterns": ["v*"], "max_images": 3}],
            Problem(
                "[0].tag_status",
                'tag_status "any" cannot be combined with tag_patterns: tag filters need tag_status "tagged" '
                "(or leave tag_status out)",
            ),
            id="any with patterns",
        ),
        pytest.param(
            [{"tag_status": "tagged", "max_images": 3}],
            Problem("[0].tag_status", 'tag_status "tagged" needs tag_prefixes or tag_patterns'),
            id="tagged without filters",
        ),
        pytest.param(
            [{"tag_status": "any", "max_images": 30}, {"tag_prefixes": ["v"], "max_images": 3}],
            Problem(
                "[0].tag_status",
                'this rule selects every image (tag_status "any"), so it must be the last rule',
            ),
            id="any not last",
        ),
        pytest.param(
            [{"max_age_days": 30}, {"tag_status": "untagged", "max_images": 1}],
            Problem(
                "[0].tag_status",
                'this rule selects every image (no tag_prefixes or tag_patterns, so tag_status "any"), '
                "so it must be the last rule",
            ),
            id="defaulted any not last",
        ),
        pytest.param(
            [{"tag_status": "untagged", "max_images": 1}, {"tag_status": "untagged", "max_age_days": 7}],
            Problem("[1].tag_status", "only one rule may select untagged images; [0] already does"),
            id="two untagged",
        ),
        pytest.param(
            [{"tag_patterns": ["v*", "*a*b*c*d*"], "max_images": 3}],
            Problem("[0].tag_patterns[1]", 'has 5 "*" wildcards; ECR allows at most 4'),
            id="five wildcards",
        ),
        pytest.param(
            [{"tag_prefixes": ["v", ""], "max_images": 3}],
            Problem("[0].tag_prefixes[1]", "must be a non-empty string, got an empty string"),
            id="empty prefix",
        ),
        pytest.param(
            [{"tag_prefixes": [f"p{i}"], "max_images": 3} for i in range(51)],
            Problem("", "has 51 rules; ECR allows at most 50"),
            id="51 rules",
        ),
        pytest.param(
            [
                {"tag_prefixes": ["v", "w"], "max_images": 30},
                {"tag_prefixes": ["w", "v"], "max_age_days": 90},
            ],
            Problem("[1]", "only one rule may select the same tagPrefixList entries; rules[0] already does"),
            id="same selection twice, found on the ECR document",
        ),
    ],
)
def test_shorthand_rejections_say_what_and_where(rules: list[dict[str, Any]], expected: Problem) -> None:
    assert shorthand_problems(rules) == [expected]


def test_every_shorthand_problem_is_reported_at_once() -> None:
    problems = shorthand_problems(
        [
            {"max_images": 3},
            {"tag_status": "untagged", "tag_patterns": ["*a*b*c*d*e"], "max_images": 1, "max_age_days": 2},
        ]
    )

    assert [p.path for p in problems] == [
        "[0].tag_status",
        "[1].max_age_days",
        "[1].tag_patterns[0]",
        "[1].tag_status",
    ]


# --- ECR document rejections -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            [], Problem("", "a lifecycle policy must be a JSON object, got an empty list"), id="not an object"
        ),
        pytest.param({}, Problem("rules", "must be a list of rules, got nothing"), id="no rules"),
        pytest.param({"rules": []}, Problem("rules", "must contain at least one rule"), id="empty rules"),
        pytest.param(
            policy(*({"tagStatus": "tagged", "tagPrefixList": [f"p{i}"], **KEEP_3} for i in range(51))),
            Problem("rules", "has 51 rules; ECR allows at most 50"),
            id="51 rules",
        ),
        pytest.param(
            {**policy(TAGGED_V), "version": 1},
            Problem("version", 'unknown key; allowed keys are "rules"'),
            id="unknown top-level key",
        ),
        pytest.param(
            {"rules": [{**policy(TAGGED_V)["rules"][0], "priority": 1}]},
            Problem(
                "rules[0].priority",
                'unknown key; allowed keys are "rulePriority", "description", "selection", "action"',
            ),
            id="unknown rule key",
        ),
        pytest.param(
            policy({**TAGGED_V, "tagPrefix": ["v"]}),
            Problem(
                "rules[0].selection.tagPrefix",
                'unknown key; allowed keys are "tagStatus", "tagPrefixList", "tagPatternList", '
                '"storageClass", "countType", "countUnit", "countNumber"',
            ),
            id="unknown selection key",
        ),
        pytest.param(
            {"rules": ["keep 3"]},
            Problem("rules[0]", "a rule must be a JSON object, got a string"),
            id="rule not an object",
        ),
        pytest.param(
            {"rules": [{**policy(TAGGED_V)["rules"][0], "rulePriority": 0}]},
            Problem("rules[0].rulePriority", "must be an integer of 1 or more"),
            id="priority zero",
        ),
        pytest.param(
            {"rules": [{**policy(TAGGED_V)["rules"][0], "rulePriority": "1"}]},
            Problem("rules[0].rulePriority", "must be an integer of 1 or more, got a string"),
            id="priority string",
        ),
        pytest.param(
            {
                "rules": [
                    {**rule, "rulePriority": 4}
                    for rule in policy(TAGGED_V, {**TAGGED_V, "tagPrefixList": ["w"]})["rules"]
                ]
            },
            Problem(
                "rules[1].rulePriority", "4 is also the rulePriority of rules[0]; each rule needs its own"
            ),
            id="duplicate priority",
        ),
        pytest.param(
            policy({"tagStatus": "any", **KEEP_3}, TAGGED_V),
            Problem(
                "rules[0].rulePriority",
                'rule with tagStatus "any" must have the highest rulePriority (has 1, highest is 2)',
            ),
            id="any not highest",
        ),
        pytest.param(
            policy({"tagStatus": "untagged", **KEEP_3}, {"tagStatus": "untagged", **OLDER_THAN_7}),
            Problem(
                "rules[1].selection.tagStatus",
                "only one rule may select untagged images; rules[0] already does",
            ),
            id="two untagged",
        ),
        pytest.param(
            policy({**TAGGED_V, "tagStatus": "untagged"}),
            Problem(
                "rules[0].selection.tagPrefixList",
                'is only allowed with tagStatus "tagged", not with tagStatus "untagged"',
            ),
            id="prefixes with untagged",
        ),
        pytest.param(
            policy({**TAGGED_V, "tagPatternList": ["v*"]}),
            Problem("rules[0].selection.tagPatternList", "give tagPrefixList or tagPatternList, not both"),
            id="prefixes and patterns",
        ),
        pytest.param(
            policy({"tagStatus": "tagged", **KEEP_3}),
            Problem(
                "rules[0].selection.tagStatus", 'tagStatus "tagged" needs a tagPrefixList or a tagPatternList'
            ),
            id="tagged without a list",
        ),
        pytest.param(
            policy({**TAGGED_V, "tagPrefixList": []}),
            Problem(
                "rules[0].selection.tagPrefixList", "must be a non-empty list of strings, got an empty list"
            ),
            id="empty prefix list",
        ),
        pytest.param(
            policy({"tagStatus": "tagged", "tagPatternList": ["a*b*c*d*e*"], **KEEP_3}),
            Problem(
                "rules[0].selection.tagPatternList[0]",
                'has 5 "*" wildcards; ECR allows at most 4',
            ),
            id="five wildcards",
        ),
        pytest.param(
            policy({**TAGGED_V, "tagStatus": "some"}),
            Problem(
                "rules[0].selection.tagStatus", 'must be one of "tagged", "untagged", "any", got a string'
            ),
            id="unknown tagStatus",
        ),
        pytest.param(
            policy({**TAGGED_V, "countType": "imageCountLessThan"}),
            Problem(
                "rules[0].selection.countType",
                'must be one of "imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", '
                '"sinceImageTransitioned", got a string',
            ),
            id="unknown countType",
        ),
        pytest.param(
            policy({"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 7}),
            Problem(
                "rules[0].selection.countUnit",
                'must be "days" with countType "sinceImagePushed", got nothing',
            ),
            id="age without countUnit",
        ),
        pytest.param(
            policy({**TAGGED_V, "countUnit": "days"}),
            Problem(
                "rules[0].selection.countUnit",
                'is not allowed with countType "imageCountMoreThan"',
            ),
            id="count with countUnit",
        ),
        pytest.param(
            policy({**TAGGED_V, "countNumber": 2.5}),
            Problem("rules[0].selection.countNumber", "must be an integer of 1 or more, got a number"),
            id="fractional countNumber",
        ),
        pytest.param(
            policy(TAGGED_V, actions=({"type": "delete"},)),
            Problem("rules[0].action.type", 'must be one of "expire", "transition", got a string'),
            id="unknown action",
        ),
        pytest.param(
            policy(TAGGED_V, actions=({"type": "transition"},)),
            Problem(
                "rules[0].action.targetStorageClass",
                'must be "archive" with action "transition", got nothing',
            ),
            id="transition without target",
        ),
        pytest.param(
            policy(TAGGED_V, actions=({"type": "expire", "targetStorageClass": "archive"},)),
            Problem("rules[0].action.targetStorageClass", 'is not allowed with action "expire"'),
            id="expire with target",
        ),
        pytest.param(
            policy(
                {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90}
            ),
            Problem(
                "rules[0].action.type", 'must be "transition" with countType "sinceImagePulled", got "expire"'
            ),
            id="expire on last pull",
        ),
        pytest.param(
            policy(
                {
                    "tagStatus": "any",
                    "countType": "sinceImageTransitioned",
                    "countUnit": "days",
                    "countNumber": 365,
                }
            ),
            Problem(
                "rules[0].selection.storageClass",
                'must be "archive" with countType "sinceImageTransitioned", got "standard"',
            ),
            id="transitioned without archive class",
        ),
        pytest.param(
            policy({**TAGGED_V, "storageClass": "glacier"}),
            Problem("rules[0].selection.storageClass", 'must be one of "standard", "archive", got a string'),
            id="unknown storageClass",
        ),
        pytest.param(
            policy({**TAGGED_V, "storageClass": "archive"}, actions=(ARCHIVE,)),
            Problem(
                "rules[0].selection.storageClass",
                'must be "standard" with countType "imageCountMoreThan", got "archive"',
            ),
            id="archiving archived images",
        ),
        pytest.param(
            {"rules": [{**policy(TAGGED_V)["rules"][0], "description": 7}]},
            Problem("rules[0].description", "must be a string, got an integer"),
            id="description not a string",
        ),
    ],
)
def test_ecr_rejections_say_what_and_where(document: Any, expected: Problem) -> None:
    assert validate_lifecycle_policy(document) == [expected]


def test_a_policy_longer_than_ecr_allows_is_rejected_with_its_length() -> None:
    long = "x" * 600
    document = policy(*({"tagStatus": "tagged", "tagPrefixList": [f"p{i}"], **KEEP_3} for i in range(50)))
    for rule in document["rules"]:
        rule["description"] = long

    problems = validate_lifecycle_policy(document)

    length = len(render_lifecycle_policy(document))
    assert length > 30_720
    assert problems == [Problem("", f"the rendered policy is {length} characters; ECR allows at most 30720")]


def test_any_rules_are_ordered_within_their_storage_class() -> None:
    """The guide's "Combining archive and expire rules" has an `any` rule on each storage class: valid."""
    document = policy(
        {"tagStatus": "any", **OLDER_THAN_7},
        {
            "tagStatus": "any",
            "storageClass": "archive",
            **OLDER_THAN_7,
            "countType": "sinceImageTransitioned",
        },
        actions=(ARCHIVE, {"type": "expire"}),
    )

    assert validate_lifecycle_policy(document) == []
    document["rules"].append({"rulePriority": 3, "selection": TAGGED_V, "action": {"type": "expire"}})
    assert validate_lifecycle_policy(document) == [
        Problem(
            "rules[0].rulePriority",
            'rule with tagStatus "any" must have the highest rulePriority (has 1, highest is 3)',
        )
    ]
