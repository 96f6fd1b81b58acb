"""The local lifecycle evaluator, checked first against every worked example of the AWS guide.

Source: Amazon ECR User Guide, "Examples of lifecycle policies in Amazon ECR" (lifecycle_policy_examples)
and "How lifecycle policies work" → "Lifecycle policy evaluation rules" (LifecyclePolicies). Images are named
A, B, … as on that page; "Pushed: N days ago" is exactly N days before NOW.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ecr_drift.documents.lifecycle_preview import (
    Expiry,
    Fate,
    Image,
    Step,
    deletion_summary,
    load_images,
    preview,
    simulate,
)
from ecr_drift.documents.problems import DocumentError

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DOC_EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "lifecycle" / "aws_doc_examples.json").read_text()
)


def image(
    name: str,
    tags: list[str],
    pushed_days_ago: float,
    pulled_days_ago: float | None = None,
    *,
    archived_days_ago: float | None = None,
) -> Image:
    """An image; archived that many days ago if ``archived_days_ago`` is given."""
    return Image(
        digest=name,
        tags=tuple(tags),
        pushed_at=NOW - timedelta(days=pushed_days_ago),
        last_pulled_at=None if pulled_days_ago is None else NOW - timedelta(days=pulled_days_ago),
        status="ACTIVE" if archived_days_ago is None else "ARCHIVED",
        last_archived_at=None if archived_days_ago is None else NOW - timedelta(days=archived_days_ago),
    )


def expired(document: dict[str, Any], images: list[Image]) -> list[tuple[str, int]]:
    """(image, rule priority) of each expiry, oldest image first."""
    results = preview(document, images, NOW)
    assert all(result.action == "expire" for result in results)
    return [(result.digest, result.rule_priority) for result in results]


def rule(priority: int, selection: dict[str, Any], action: str = "expire") -> dict[str, Any]:
    target = {"targetStorageClass": "archive"} if action == "transition" else {}
    return {"rulePriority": priority, "selection": selection, "action": {"type": action, **target}}


def keep(count: int, **selection: Any) -> dict[str, Any]:
    return {**selection, "countType": "imageCountMoreThan", "countNumber": count}


def older_than(days: int, **selection: Any) -> dict[str, Any]:
    return {**selection, "countType": "sinceImagePushed", "countUnit": "days", "countNumber": days}


def archived_for(days: int, **selection: Any) -> dict[str, Any]:
    return {
        **selection,
        "storageClass": "archive",
        "countType": "sinceImageTransitioned",
        "countUnit": "days",
        "countNumber": days,
    }


# --- the guide's examples ---------------------------------------------------------------------------------


def test_filtering_on_image_age() -> None:
    """ "Filtering on image age": tags matching ``prod*`` AND older than 14 days expire.

    The page gives the policy only; the images are ours, and ``production-team1`` matches ``prod*`` as the
    evaluation rules say ("it would match image-tags ... such as prod, prod1, or production-team1").
    """
    images = [
        image("A", ["prod-1"], 20),
        image("B", ["production-team1"], 15),
        image("C", ["beta-1"], 30),
        image("D", [], 30),
        image("E", ["prod"], 13),
    ]

    assert expired(DOC_EXAMPLES["filtering_on_image_age"], images) == [("A", 1), ("B", 1)]


def test_filtering_on_image_age_earlier_edition_untagged() -> None:
    """ "Filtering on image age" as the page first published it: untagged images older than 14 days expire."""
    images = [image("A", [], 20), image("B", ["v1"], 20), image("C", [], 10)]

    assert expired(DOC_EXAMPLES["filtering_on_image_age_untagged_earlier_edition"], images) == [("A", 1)]


def test_filtering_on_image_count() -> None:
    """ "Filtering on image count": keep one untagged image, expire all others (the page gives no images)."""
    images = [image("A", [], 5), image("B", [], 4), image("C", ["v1"], 3), image("D", [], 2)]

    assert expired(DOC_EXAMPLES["filtering_on_image_count"], images) == [("A", 1), ("B", 1)]


MULTIPLE_RULES_IMAGES = [
    image("A", ["beta-1", "prod-1"], 10),
    image("B", ["beta-2", "prod-2"], 9),
    image("C", ["beta-3"], 8),
]


@pytest.mark.parametrize("name", ["multiple_rules_example_a", "multiple_rules_example_a_prefix"])
def test_filtering_on_multiple_rules_example_a(name: str) -> None:
    """ "Filtering on multiple rules", Example A: Rule 1 marks A; Rule 2 would mark A and B, but A was seen by
    Rule 1 and expiring B would violate Rule 1. Result: Image A is expired (by Rule 1).
    """
    assert expired(DOC_EXAMPLES[name], MULTIPLE_RULES_IMAGES) == [("A", 1)]


@pytest.mark.parametrize("name", ["multiple_rules_example_b", "multiple_rules_example_b_prefix"])
def test_filtering_on_multiple_rules_example_b(name: str) -> None:
    """ "Filtering on multiple rules", Example B (priorities swapped): Rule 1 marks A and B; Rule 2 sees no
    images not already seen by Rule 1. Result: Images A and B are expired.
    """
    assert expired(DOC_EXAMPLES[name], MULTIPLE_RULES_IMAGES) == [("A", 1), ("B", 1)]


@pytest.mark.parametrize("name", ["multiple_tags_example_a", "multiple_tags_example_a_prefix"])
def test_filtering_on_multiple_tags_in_a_single_rule_example_a(name: str) -> None:
    """ "Filtering on multiple tags in a single rule", Example A: images must match all listed patterns; the
    rule sees C and F and marks those older than five days. Result: Image C is expired.
    """
    images = [
        image("A", ["alpha-1"], 12),
        image("B", ["beta-1"], 11),
        image("C", ["alpha-2", "beta-2"], 10),
        image("D", ["alpha-3"], 4),
        image("E", ["beta-3"], 3),
        image("F", ["alpha-4", "beta-4"], 2),
    ]

    assert expired(DOC_EXAMPLES[name], images) == [("C", 1)]


@pytest.mark.parametrize("name", ["multiple_tags_example_b", "multiple_tags_example_b_prefix"])
def test_filtering_on_multiple_tags_in_a_single_rule_example_b(name: str) -> None:
    """ "Filtering on multiple tags in a single rule", Example B: tags are not exclusive; the rule sees all
    images and keeps the newest. Result: Images A and B are expired.
    """
    images = [
        image("A", ["alpha-1", "beta-1", "gamma-1"], 10),
        image("B", ["alpha-2", "beta-2"], 9),
        image("C", ["alpha-3", "beta-3", "gamma-2"], 8),
    ]

    assert expired(DOC_EXAMPLES[name], images) == [("A", 1), ("B", 1)]


def test_filtering_on_all_images_example_a() -> None:
    """ "Filtering on all images", Example A: tagStatus any keeps the newest image. Result: A, B, C expire."""
    images = [
        image("A", ["alpha-1"], 4),
        image("B", ["beta-1"], 3),
        image("C", [], 2),
        image("D", ["alpha-2"], 1),
    ]

    assert expired(DOC_EXAMPLES["all_images_example_a"], images) == [("A", 1), ("B", 1), ("C", 1)]


@pytest.mark.parametrize("name", ["all_images_example_b", "all_images_example_b_prefix"])
def test_filtering_on_all_images_example_b(name: str) -> None:
    """ "Filtering on all images", Example B: Rule 1 marks A; Rule 2 marks B (E is not older than one day);
    Rule 3 can't mark A, B, C or E, identified by higher rules, and marks D. Result: A, B and D expire.

    D and E are both "pushed 1 day ago"; the page lists E after D and keeps E as the newest, so images pushed
    at the same instant keep the order given.
    """
    images = [
        image("A", ["alpha-1", "beta-1"], 4),
        image("B", [], 3),
        image("C", ["alpha-2"], 2),
        image("D", ["git hash"], 1),
        image("E", [], 1),
    ]

    assert expired(DOC_EXAMPLES[name], images) == [("A", 1), ("B", 2), ("D", 3)]


def test_filtering_on_last_pulled_time() -> None:
    """ "Filtering on last pulled time": images not pulled in 90 days are archived, not expired; a
    never-pulled image counts from its push ("How lifecycle policies work": pushed_at_time is used instead).
    """
    images = [
        image("A", ["v1"], 400, pulled_days_ago=120),
        image("B", ["v2"], 300, pulled_days_ago=10),
        image("C", [], 100),
        image("D", [], 50),
    ]

    results = preview(DOC_EXAMPLES["filtering_on_last_pulled_time"], images, NOW)

    assert results == [Expiry("A", 1, "transition"), Expiry("C", 1, "transition")]


def test_combining_archive_and_expire_rules() -> None:
    """ "Archive examples" → "Combining archive and expire rules": images pushed over 30 days ago are
    archived; the archive-class expiry rule selects none of them, all given images being in standard storage.
    """
    images = [image("A", ["v1"], 40), image("B", [], 31), image("C", ["v2"], 5)]

    results = preview(DOC_EXAMPLES["combining_archive_and_expire_rules"], images, NOW)

    assert results == [Expiry("A", 1, "transition"), Expiry("B", 1, "transition")]


# --- edge cases ---------------------------------------------------------------------------------------------


def test_a_lower_rule_still_counts_images_a_higher_rule_claimed() -> None:
    """Rule 2 keeps the newest two of ALL images, prod ones included, though it may expire only X."""
    document = {
        "rules": [
            rule(1, keep(5, tagStatus="tagged", tagPatternList=["prod*"])),
            rule(2, keep(2, tagStatus="any")),
        ]
    }
    images = [
        image("X", [], 10),
        image("P1", ["prod-1"], 3),
        image("P2", ["prod-2"], 2),
        image("P3", ["prod-3"], 1),
    ]

    assert expired(document, images) == [("X", 2)]


def test_an_archived_image_is_claimed_by_its_rule_and_never_expired_by_a_lower_one() -> None:
    document = {
        "rules": [
            rule(1, older_than(30, tagStatus="tagged", tagPatternList=["prod*"]), action="transition"),
            rule(2, keep(1, tagStatus="any")),
        ]
    }
    images = [
        image("P", ["prod-1"], 40),
        image("Q", ["prod-2"], 20),
        image("U", [], 10),
        image("N", ["v9"], 1),
    ]

    assert preview(document, images, NOW) == [Expiry("P", 1, "transition"), Expiry("U", 2)]


def test_rules_apply_by_priority_not_by_list_order_and_results_come_oldest_first() -> None:
    document = {
        "rules": [
            rule(20, keep(1, tagStatus="any")),
            rule(10, older_than(7, tagStatus="untagged")),
        ]
    }
    images = [image("T1", ["v1"], 30), image("U1", [], 20), image("T2", ["v2"], 5), image("U2", [], 1)]

    assert expired(document, images) == [("T1", 20), ("U1", 10), ("T2", 20)]


def test_an_age_of_exactly_n_days_is_not_older_than_n_days() -> None:
    document = {"rules": [rule(1, older_than(7, tagStatus="any"))]}
    images = [image("EXACT", [], 7), image("OLDER", [], 7 + 1 / 86_400)]

    assert expired(document, images) == [("OLDER", 1)]


def test_a_count_above_the_number_of_images_expires_nothing() -> None:
    document = {"rules": [rule(1, keep(10, tagStatus="any"))]}

    assert expired(document, [image("A", [], 3), image("B", ["v1"], 2)]) == []


@pytest.mark.parametrize(
    ("patterns", "tags", "selected"),
    [
        (["*prod*"], ["repo-production"], True),
        (["prod*"], ["preprod"], False),
        (["prod*"], ["prod"], True),
        (["v1.*"], ["v1x2"], False),  # "." is literal
        (["v?"], ["v1"], False),  # "?" is literal
        (["*-rc*", "v*"], ["v1", "build-rc2"], True),  # each pattern may match a different tag
        (["*-rc*", "v*"], ["v1-rc1"], True),
        (["*-rc*", "v*"], ["v1"], False),
        (["v*"], [], False),
    ],
)
def test_tag_patterns(patterns: list[str], tags: list[str], selected: bool) -> None:
    document = {"rules": [rule(1, older_than(1, tagStatus="tagged", tagPatternList=patterns))]}

    assert expired(document, [image("A", tags, 10)]) == ([("A", 1)] if selected else [])


@pytest.mark.parametrize(
    ("prefixes", "tags", "selected"),
    [
        (["v"], ["v1"], True),
        (["v"], ["av1"], False),
        (["v", "rel"], ["v1", "release"], True),
        (["v", "rel"], ["v1"], False),
    ],
)
def test_tag_prefixes(prefixes: list[str], tags: list[str], selected: bool) -> None:
    document = {"rules": [rule(1, older_than(1, tagStatus="tagged", tagPrefixList=prefixes))]}

    assert expired(document, [image("A", tags, 10)]) == ([("A", 1)] if selected else [])


def test_an_archive_class_rule_selects_no_image_in_standard_storage() -> None:
    document = DOC_EXAMPLES["filtering_on_archive_transition_time"]

    assert preview(document, [image("A", [], 1000), image("B", ["v1"], 1000)], NOW) == []


def test_a_policy_ecr_would_reject_is_not_evaluated() -> None:
    document = {"rules": [rule(1, keep(0, tagStatus="any"))]}

    with pytest.raises(DocumentError, match=r"rules\[0\]\.selection\.countNumber"):
        preview(document, [], NOW)


def test_times_without_a_utc_offset_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^now 2025-06-01T12:00:00 has no UTC offset"):
        preview(DOC_EXAMPLES["all_images_example_a"], [], NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match=r"^pushed_at 2025-06-01T12:00:00 has no UTC offset"):
        Image("A", (), NOW.replace(tzinfo=None))


def test_a_repeated_digest_is_refused() -> None:
    with pytest.raises(ValueError, match="each image digest must appear once"):
        preview(DOC_EXAMPLES["all_images_example_a"], [image("A", [], 1), image("A", ["v1"], 2)], NOW)


# --- storage classes at one instant -------------------------------------------------------------------------


def test_an_archive_rule_selects_archived_images_by_their_days_in_archive() -> None:
    """ "Filtering on archive transition time": archived more than 365 days ago expires, whatever the push."""
    images = [
        image("A", ["v1"], 900, archived_days_ago=400),
        image("B", ["v2"], 900, archived_days_ago=300),
        image("C", [], 1000),  # standard storage: not the archive rule's
    ]

    assert expired(DOC_EXAMPLES["filtering_on_archive_transition_time"], images) == [("A", 1)]


def test_standard_rules_neither_count_nor_act_on_archived_images() -> None:
    """Keep the newest two in standard storage: the archived images, though newer, are not among them."""
    document = {"rules": [rule(1, keep(2, tagStatus="any"))]}
    images = [
        image("S1", [], 10),
        image("S2", [], 9),
        image("S3", [], 8),
        image("A1", [], 2, archived_days_ago=1),
        image("A2", [], 1, archived_days_ago=1),
    ]

    assert expired(document, images) == [("S1", 1)]


def test_an_activating_image_is_seen_as_restored() -> None:
    """ACTIVATING (being restored) counts as standard storage: standard rules expire it, archive rules not."""
    restoring = replace(image("R", [], 40, archived_days_ago=400), status="ACTIVATING")
    document = {
        "rules": [rule(1, older_than(30, tagStatus="any")), rule(2, archived_for(1, tagStatus="any"))]
    }

    assert preview(document, [restoring], NOW) == [Expiry("R", 1)]


def test_an_archived_image_of_unknown_archive_time_counts_from_its_push() -> None:
    document = {"rules": [rule(1, archived_for(90, tagStatus="any"))]}
    images = [
        replace(image("OLD", [], 100, archived_days_ago=0), last_archived_at=None),
        replace(image("NEW", [], 80, archived_days_ago=0), last_archived_at=None),
    ]

    assert expired(document, images) == [("OLD", 1)]


# --- the horizon: one evaluation a day ----------------------------------------------------------------------

# Archive a day after the push, delete a day after the transition: at once it deletes nothing.
ARCHIVE_THEN_EXPIRE = {
    "rules": [
        rule(1, older_than(1, tagStatus="any"), action="transition"),
        rule(2, archived_for(1, tagStatus="any")),
    ]
}


def test_archive_then_expire_deletes_everything_within_days() -> None:
    images = [image("A", ["v1"], 10), image("B", [], 5), image("C", ["v2"], 0.5)]

    assert preview(ARCHIVE_THEN_EXPIRE, images, NOW) == [
        Expiry("A", 1, "transition"),
        Expiry("B", 1, "transition"),
    ]
    # A and B are archived on day 0 and in archive storage from day 1: more than a day there on day 2. C,
    # pushed 12 hours before day 0, is more than a day old on day 1: archived then, deleted on day 3.
    assert simulate(ARCHIVE_THEN_EXPIRE, images, NOW, 30) == [
        Fate("A", already_archived=False, transition=Step(0, 1), expiry=Step(2, 2)),
        Fate("B", already_archived=False, transition=Step(0, 1), expiry=Step(2, 2)),
        Fate("C", already_archived=False, transition=Step(1, 1), expiry=Step(3, 2)),
    ]
    assert [fate.deletion for fate in simulate(ARCHIVE_THEN_EXPIRE, images, NOW, 30)] == [
        "archive_then_expire"
    ] * 3


def test_already_archived_images_are_deleted_by_an_archive_rule() -> None:
    document = {"rules": [rule(1, archived_for(1, tagStatus="any"))]}
    images = [image(f"A{n}", [], 200, archived_days_ago=100) for n in range(600)]

    fates = simulate(document, images, NOW, 30)

    assert {fate.deletion for fate in fates} == {"already_archived"}
    assert len(fates) == 600
    assert {fate.expiry for fate in fates} == {Step(0, 1)}


def test_the_horizon_bounds_what_is_reported() -> None:
    """Archived 50.5 days ago, deleted after more than 90 days in archive: on day 40."""
    document = {"rules": [rule(1, archived_for(90, tagStatus="any"))]}
    images = [image("A", ["v1"], 400, archived_days_ago=50.5), image("B", [], 400)]

    assert simulate(document, images, NOW, 30) == []
    assert simulate(document, images, NOW, 39) == []
    assert simulate(document, images, NOW, 40) == [Fate("A", already_archived=True, expiry=Step(40, 1))]
    assert simulate(document, images, NOW, 60) == simulate(document, images, NOW, 40)


def test_a_transition_alone_is_not_a_deletion() -> None:
    images = [image("A", [], 400, pulled_days_ago=120), image("B", [], 10)]

    [fate] = simulate(DOC_EXAMPLES["filtering_on_last_pulled_time"], images, NOW, 60)

    assert fate == Fate("A", already_archived=False, transition=Step(0, 1))
    assert fate.deletion is None


def test_combining_archive_and_expire_rules_over_a_year() -> None:
    """The guide's example: archived after 30 days from the push, deleted after 365 days in archive."""
    document = DOC_EXAMPLES["combining_archive_and_expire_rules"]
    images = [image("A", ["v1"], 40), image("B", [], 20)]

    assert simulate(document, images, NOW, 400) == [
        Fate("A", already_archived=False, transition=Step(0, 1), expiry=Step(366, 2)),
        # B is 20 days and 0 hours old: more than 30 days on day 11, deleted 366 days after that.
        Fate("B", already_archived=False, transition=Step(11, 1), expiry=Step(377, 2)),
    ]


def test_a_negative_horizon_is_refused() -> None:
    with pytest.raises(ValueError, match="horizon_days must be 0 or more, got -1"):
        simulate(ARCHIVE_THEN_EXPIRE, [], NOW, -1)


def test_deletion_summary_counts_each_way_of_deletion() -> None:
    fates = [
        Fate("A", already_archived=False, expiry=Step(0, 1)),
        Fate("B", already_archived=False, transition=Step(0, 1), expiry=Step(3, 2)),
        Fate("C", already_archived=True, expiry=Step(1, 2)),
        Fate("D", already_archived=False, transition=Step(0, 1)),
    ]

    assert deletion_summary(fates, 10, 30) == (
        "3 of 10 images within 30 days (1 expired directly, 1 archived then expired, 1 already archived)"
    )
    assert deletion_summary([], 10, 0) == (
        "0 of 10 images at once (0 expired directly, 0 archived then expired, 0 already archived)"
    )
    assert deletion_summary([], 1, 1) == (
        "0 of 1 image within 1 day (0 expired directly, 0 archived then expired, 0 already archived)"
    )


# --- the images file ----------------------------------------------------------------------------------------


def test_load_images_reads_the_images_file() -> None:
    data = json.loads(
        """[
          {"digest": "sha256:aa", "tags": ["v1", "latest"], "pushed_at": "2025-05-01T10:00:00Z",
           "last_pulled_at": "2025-05-20T08:30:00+02:00"},
          {"digest": "sha256:bb", "tags": [], "pushed_at": "2025-05-02T10:00:00.123456+00:00",
           "last_pulled_at": null},
          {"digest": "sha256:cc", "tags": [], "pushed_at": "2025-05-03T10:00:00Z"},
          {"digest": "sha256:dd", "tags": ["v0"], "pushed_at": "2025-01-03T10:00:00Z", "status": "ARCHIVED",
           "last_archived_at": "2025-04-03T10:00:00Z"}
        ]"""
    )

    assert load_images(data) == [
        Image(
            "sha256:aa",
            ("v1", "latest"),
            datetime(2025, 5, 1, 10, tzinfo=UTC),
            datetime(2025, 5, 20, 6, 30, tzinfo=UTC),
        ),
        Image("sha256:bb", (), datetime(2025, 5, 2, 10, 0, 0, 123456, tzinfo=UTC)),
        Image("sha256:cc", (), datetime(2025, 5, 3, 10, tzinfo=UTC)),
        Image(
            "sha256:dd",
            ("v0",),
            datetime(2025, 1, 3, 10, tzinfo=UTC),
            status="ARCHIVED",
            last_archived_at=datetime(2025, 4, 3, 10, tzinfo=UTC),
        ),
    ]


GOOD = {"digest": "sha256:aa", "tags": [], "pushed_at": "2025-05-01T10:00:00Z"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"images": []},
            "the images: must be a JSON list of images, or `aws ecr describe-images` output (an object with "
            "imageDetails), got dict",
        ),
        ({"imageDetails": {}}, "imageDetails: must be a JSON list of images"),
        ([GOOD, "sha256:bb"], "[1]: an image must be a JSON object, got str"),
        (
            [{**GOOD, "pushed": "x"}],
            "[0].pushed: unknown field; allowed fields are digest, tags, pushed_at, last_pulled_at, status, "
            "last_archived_at",
        ),
        ([{**GOOD, "digest": ""}], "[0].digest: must be a non-empty string, got ''"),
        (
            [{k: v for k, v in GOOD.items() if k != "tags"}],
            "[0].tags: must be a list of non-empty strings ([] when untagged), got None",
        ),
        (
            [{**GOOD, "tags": "v1"}],
            "[0].tags: must be a list of non-empty strings ([] when untagged), got 'v1'",
        ),
        ([{**GOOD, "pushed_at": "yesterday"}], "[0].pushed_at: 'yesterday' is not an ISO-8601 timestamp"),
        ([{**GOOD, "pushed_at": True}], "[0].pushed_at: must be an ISO-8601 timestamp or epoch seconds"),
        ([{**GOOD, "pushed_at": 1e20}], "[0].pushed_at: 1e+20 is out of range as epoch seconds"),
        ([{k: v for k, v in GOOD.items() if k != "pushed_at"}], "[0].pushed_at: required"),
        (
            [{**GOOD, "pushed_at": "2025-05-01T10:00:00"}],
            "[0].pushed_at: '2025-05-01T10:00:00' has no UTC offset",
        ),
        (
            [GOOD, {**GOOD, "last_pulled_at": "soon"}],
            "[1].last_pulled_at: 'soon' is not an ISO-8601 timestamp",
        ),
        ([GOOD, GOOD], "[1]: digest sha256:aa is already listed at [0]"),
        (
            [{**GOOD, "status": "archived"}],
            "[0].status: must be one of ACTIVE, ARCHIVED, ACTIVATING, got 'archived'",
        ),
        (
            [{**GOOD, "last_archived_at": "2025-05-01"}],
            "[0].last_archived_at: '2025-05-01' has no UTC offset",
        ),
    ],
)
def test_load_images_names_the_index_and_field_of_bad_input(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        load_images(data)


# --- `aws ecr describe-images` output -----------------------------------------------------------------------
# Recorded AWS examples in tests/data/describe_images (SOURCE.md says where each comes from), and hand-made
# answers with the ImageDetail members they lack (botocore's ECR service model).

DESCRIBE_IMAGES = Path(__file__).parents[1] / "data" / "describe_images"


def recorded(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DESCRIBE_IMAGES / name).read_text())
    return loaded


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (  # AWS CLI v1 prints timestamps as epoch seconds
            "aws_cli_reference_example.json",
            Image(
                "sha256:4a1c6567c38904384ebc64e35b7eeddd8451110c299e3368d2210066487d97e5",
                ("v1.13.6",),
                datetime(2019, 8, 6, 21, 51, 15, tzinfo=UTC),
            ),
        ),
        (  # v2 as ISO 8601 with the local offset
            "ecr_user_guide_helm_chart.json",
            Image(
                "sha256:dd8aebdda7df991a0ffe0b3d6c0cf315fd582cd26f9755a347a52adEXAMPLE",
                ("0.1.0",),
                datetime(2021, 9, 23, 16, 39, 30, tzinfo=UTC),
            ),
        ),
    ],
)
def test_load_images_reads_recorded_describe_images_output_whole_or_its_list(
    name: str, expected: Image
) -> None:
    answer = recorded(name)
    assert load_images(answer) == load_images(answer["imageDetails"]) == [expected]


NEWER_FIELDS: dict[str, Any] = {
    "imageDetails": [
        {
            "registryId": "123456789012",
            "repositoryName": "api",
            "imageDigest": "sha256:aa",
            "imageTags": ["v1", "latest"],
            "imageSizeInBytes": 75387102,
            "imagePushedAt": "2025-03-15T16:47:53.153000+01:00",
            "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
            "imageScanFindingsSummary": {
                "imageScanCompletedAt": "2025-03-15T16:48:10+01:00",
                "vulnerabilitySourceUpdatedAt": "2025-03-14T00:00:00+00:00",
                "findingSeverityCounts": {"HIGH": 1, "LOW": 3},
            },
            "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactMediaType": "application/vnd.oci.image.config.v1+json",
            "lastRecordedPullTime": "2025-05-20T08:30:00+02:00",
            "imageStatus": "ACTIVE",
        },
        {  # untagged: DescribeImages leaves imageTags out
            "registryId": "123456789012",
            "repositoryName": "api",
            "imageDigest": "sha256:bb",
            "imageSizeInBytes": 1348,
            "imagePushedAt": "2025-01-03T10:00:00+00:00",
            "imageStatus": "ARCHIVED",
            "lastArchivedAt": "2025-04-03T10:00:00+00:00",
            "lastActivatedAt": "2025-02-01T10:00:00+00:00",
            "subjectManifestDigest": "sha256:aa",
        },
    ],
    "nextToken": None,
}


def test_load_images_reads_newer_image_detail_members_and_ignores_what_rules_do_not_use() -> None:
    assert load_images(NEWER_FIELDS) == [
        Image(
            "sha256:aa",
            ("v1", "latest"),
            datetime(2025, 3, 15, 15, 47, 53, 153000, tzinfo=UTC),
            last_pulled_at=datetime(2025, 5, 20, 6, 30, tzinfo=UTC),
        ),
        Image(
            "sha256:bb",
            (),
            datetime(2025, 1, 3, 10, tzinfo=UTC),
            status="ARCHIVED",
            last_archived_at=datetime(2025, 4, 3, 10, tzinfo=UTC),
        ),
    ]


def test_the_tool_s_own_form_takes_epoch_seconds_too() -> None:
    assert load_images([{**GOOD, "pushed_at": 1746093600}]) == [
        Image("sha256:aa", (), datetime(2025, 5, 1, 10, tzinfo=UTC))
    ]


@pytest.mark.parametrize("token", ["nextToken", "NextToken"])  # --no-paginate's, --max-items'
def test_one_page_of_several_is_refused_rather_than_previewed(token: str) -> None:
    with pytest.raises(ValueError, match=r"one page of several .* without --no-paginate or --max-items"):
        load_images({"imageDetails": NEWER_FIELDS["imageDetails"], token: "eyJ0b2tlbiI6IDF9"})


def detail(**changes: Any) -> dict[str, Any]:
    return {"imageDigest": "sha256:aa", "imagePushedAt": "2025-05-01T10:00:00Z", **changes}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"imageDetails": [detail(imageDigest="")]},
            "imageDetails[0].imageDigest: must be a non-empty string",
        ),
        ([detail(imageTags="v1")], "[0].imageTags: must be a list of non-empty strings"),
        ({"imageDetails": [detail(imagePushedAt=None)]}, "imageDetails[0].imagePushedAt: required"),
        ([detail(), detail(imagePushedAt="2025-05-01")], "[1].imagePushedAt: '2025-05-01' has no UTC offset"),
        ([detail(lastRecordedPullTime="soon")], "[0].lastRecordedPullTime: 'soon' is not an ISO-8601"),
        ([detail(imageStatus="GONE")], "[0].imageStatus: must be one of ACTIVE, ARCHIVED, ACTIVATING"),
        ({"imageDetails": [detail(), detail()]}, "imageDetails[1]: digest sha256:aa is already listed at "),
    ],
)
def test_describe_images_problems_name_aws_s_field(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        load_images(data)
