"""Properties of the day-by-day lifecycle simulation, on random valid policies and images.

The oracle is the plainest replay there is: :func:`preview` called on every day of the horizon, each result
applied (an expired image gone, an archived one in archive storage from then on). :func:`simulate` must agree
with it exactly, though it skips the days on which nothing can change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ecr_drift.documents.lifecycle import validate_lifecycle_policy
from ecr_drift.documents.lifecycle_preview import IMAGE_STATUSES, Fate, Image, Step, preview, simulate

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TAGS = ("v1", "v2", "prod-1", "build-rc1")
TRANSITION = {"type": "transition", "targetStorageClass": "archive"}
EXPIRE = {"type": "expire"}


def age(count_type: str, days: int, **selection: Any) -> dict[str, Any]:
    return {**selection, "countType": count_type, "countUnit": "days", "countNumber": days}


def keep(count: int, **selection: Any) -> dict[str, Any]:
    return {**selection, "countType": "imageCountMoreThan", "countNumber": count}


def archived_for(days: int, **selection: Any) -> dict[str, Any]:
    return age("sinceImageTransitioned", days, storageClass="archive", **selection)


# Rules by (storage class, tag selection), each selection once per class as ECR requires; a rule's count
# number is drawn, and its action where its count type allows either.
STANDARD_TAGGED = [
    lambda n: (age("sinceImagePushed", n, tagStatus="untagged"), None),
    lambda n: (keep(n, tagStatus="tagged", tagPrefixList=["v"]), None),
    lambda n: (age("sinceImagePulled", n, tagStatus="tagged", tagPatternList=["prod*"]), TRANSITION),
    lambda n: (age("sinceImagePushed", n, tagStatus="tagged", tagPatternList=["*rc*"]), None),
]
STANDARD_ANY = [
    lambda n: (keep(n, tagStatus="any"), None),
    lambda n: (age("sinceImagePushed", n, tagStatus="any"), None),
    lambda n: (age("sinceImagePulled", n, tagStatus="any"), TRANSITION),
]
ARCHIVE_TAGGED = [
    lambda n: (archived_for(n, tagStatus="untagged"), EXPIRE),
    lambda n: (archived_for(n, tagStatus="tagged", tagPrefixList=["v"]), EXPIRE),
]
ARCHIVE_ANY = [lambda n: (archived_for(n, tagStatus="any"), EXPIRE)]


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy of up to 8 rules, ``any`` rules after every other rule of their storage class."""
    specific = draw(st.lists(st.sampled_from(STANDARD_TAGGED + ARCHIVE_TAGGED), unique=True, max_size=6))
    anys = [draw(st.sampled_from(choices)) for choices in (STANDARD_ANY, ARCHIVE_ANY) if draw(st.booleans())]
    builders = draw(st.permutations(specific)) + anys
    rules = []
    for priority, build in enumerate(builders, start=1):
        selection, action = build(draw(st.integers(1, 60)))
        action = action or draw(st.sampled_from([TRANSITION, EXPIRE]))
        rules.append({"rulePriority": priority, "selection": selection, "action": action})
    document = {
        "rules": rules or [{"rulePriority": 1, "selection": keep(1, tagStatus="any"), "action": EXPIRE}]
    }
    assert validate_lifecycle_policy(document) == []
    return document


def hours_ago(hours: int) -> datetime:
    return NOW - timedelta(hours=hours)


@st.composite
def images(draw: st.DrawFn) -> list[Image]:
    """Up to 12 images pushed within 100 days, some pulled since, some archived since, some being restored."""
    result = []
    for index in range(draw(st.integers(0, 12))):
        pushed = draw(st.integers(0, 100 * 24))
        since_push = st.none() | st.integers(0, pushed).map(hours_ago)
        result.append(
            Image(
                digest=f"sha256:{index:02}",
                tags=tuple(draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2))),
                pushed_at=hours_ago(pushed),
                last_pulled_at=draw(since_push),
                status=draw(st.sampled_from(IMAGE_STATUSES)),
                last_archived_at=draw(since_push),
            )
        )
    return result


def replay(document: dict[str, Any], given_images: list[Image], horizon_days: int) -> list[Fate]:
    """The oracle: :func:`preview` on each day, its results applied, gathered as ``simulate`` reports them."""
    remaining = {image.digest: image for image in given_images}
    transitions: dict[str, Step] = {}
    expiries: dict[str, Step] = {}
    for day in range(horizon_days + 1):
        when = NOW + timedelta(days=day)
        for result in preview(document, list(remaining.values()), when):
            step = Step(day, result.rule_priority)
            if result.action == "expire":
                assert result.digest not in expiries  # never deleted twice
                expiries[result.digest] = step
                del remaining[result.digest]
            else:
                assert result.digest not in transitions
                transitions[result.digest] = step
                remaining[result.digest] = replace(
                    remaining[result.digest], status="ARCHIVED", last_archived_at=when
                )
    ordered = sorted(given_images, key=lambda image: image.pushed_at)
    return [
        Fate(
            image.digest,
            image.storage_class == "archive",
            transitions.get(image.digest),
            expiries.get(image.digest),
        )
        for image in ordered
        if image.digest in transitions or image.digest in expiries
    ]


@given(policies(), images(), st.integers(0, 120))
def test_the_simulation_is_preview_replayed_day_by_day(
    document: dict[str, Any], given_images: list[Image], horizon_days: int
) -> None:
    assert simulate(document, given_images, NOW, horizon_days) == replay(document, given_images, horizon_days)


@given(policies(), images())
def test_horizon_zero_is_preview_at_now(document: dict[str, Any], given_images: list[Image]) -> None:
    fates = simulate(document, given_images, NOW, 0)

    at_now = preview(document, given_images, NOW)
    assert [(f.digest, f.expiry) for f in fates if f.expiry] == [
        (e.digest, Step(0, e.rule_priority)) for e in at_now if e.action == "expire"
    ]
    assert [(f.digest, f.transition) for f in fates if f.transition] == [
        (e.digest, Step(0, e.rule_priority)) for e in at_now if e.action == "transition"
    ]


@given(policies(), images(), st.integers(0, 60), st.integers(0, 60))
def test_each_image_has_one_consistent_fate_and_a_longer_horizon_only_adds(
    document: dict[str, Any], given_images: list[Image], horizon_days: int, more_days: int
) -> None:
    fates = simulate(document, given_images, NOW, horizon_days)
    longer = simulate(document, given_images, NOW, horizon_days + more_days)

    storage_class = {
        r["rulePriority"]: r["selection"].get("storageClass", "standard") for r in document["rules"]
    }
    assert len({fate.digest for fate in fates}) == len(fates)
    for fate in fates:
        assert fate.transition or fate.expiry
        assert not (fate.already_archived and fate.transition)  # archive rules only expire
        if fate.transition and fate.expiry:
            assert fate.transition.day < fate.expiry.day  # archive rules see it the day after, at the soonest
        if fate.expiry:
            archived = fate.already_archived or fate.transition is not None
            assert storage_class[fate.expiry.rule_priority] == ("archive" if archived else "standard")
        assert all(step.day <= horizon_days for step in (fate.transition, fate.expiry) if step)
    assert fates == [cut for fate in longer if (cut := within(fate, horizon_days)).transition or cut.expiry]


def within(fate: Fate, horizon_days: int) -> Fate:
    """``fate`` as far as a horizon of ``horizon_days`` sees it."""
    return replace(
        fate,
        transition=fate.transition if fate.transition and fate.transition.day <= horizon_days else None,
        expiry=fate.expiry if fate.expiry and fate.expiry.day <= horizon_days else None,
    )
