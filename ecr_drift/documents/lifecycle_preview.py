"""A local evaluator of ECR lifecycle policies: what a policy would expire or archive, by which rule, when.

Pure, and written to the letter of the Amazon ECR user guide ("How lifecycle policies work" → lifecycle policy
evaluation rules, "Lifecycle policy properties", and "Examples of lifecycle policies", whose examples are its
tests):

- rules apply in rulePriority order, lowest number first; an image is expired or archived by at most one rule;
- an image that matches the tag selection of a rule cannot be expired by a lower-priority rule, but lower
  rules still count it (``imageCountMoreThan`` keeps the newest N of everything it selects);
- expiry is ordered by push time, oldest first;
- ``tagPrefixList`` / ``tagPatternList`` entries must ALL match, each one against any of the image's tags;
- a rule selects only images of its ``storageClass`` (``standard`` unless it says ``archive``): the archive
  class takes only ``sinceImageTransitioned``, counted from the image's ``last_archived_at``, with ``expire``
  (``ecr_drift.documents.lifecycle.validate_lifecycle_policy`` holds those pairings), so an archived image is
  deleted by an archive rule or not at all, and the standard rules neither count it nor act on it.

:func:`preview` evaluates once, at one instant, as ECR's own preview does, archive transitions included.
:func:`simulate` replays the days after that, as ECR re-evaluates a policy about once a day: an image
archived on day d is in archive storage from day d + 1 with ``last_archived_at`` that day, and archive rules
may then delete it. Nobody pushes, pulls or restores an image meanwhile.

Not modelled, each on the side of reporting a deletion sooner rather than later: the 90-day minimum storage
of archived images (the guide says a lifecycle policy cannot delete an image archived for less, without
saying whether ECR then rejects the policy or waits), and ``lastActivatedAt``, which ``sinceImagePulled`` uses
for a restored image never pulled since (it is later than the push or pull time used instead).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ecr_drift.documents.lifecycle import validate_lifecycle_policy
from ecr_drift.documents.problems import DocumentError

ImageStatus = Literal["ACTIVE", "ARCHIVED", "ACTIVATING"]
IMAGE_STATUSES: tuple[ImageStatus, ...] = ("ACTIVE", "ARCHIVED", "ACTIVATING")  # DescribeImages imageStatus
# How a deleted image goes: expired from standard storage, archived by the policy and then expired by one of
# its archive rules, or expired from the archive it was in already.
Deletion = Literal["direct", "archive_then_expire", "already_archived"]
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Image:
    """An image as lifecycle rules see it. Timestamps must carry a UTC offset.

    ``status`` is DescribeImages' ``imageStatus``. ``ACTIVATING`` (an archived image being restored) counts as
    standard storage: ECR restores within 20 minutes and evaluates lifecycle rules about once a day, so the
    rules that next see the image are the standard ones, and a ``sinceImagePushed`` expiry can delete it as
    soon as it is back. ``last_archived_at`` only matters while the image is archived; an archived image
    without it counts from its push, the earliest it can have been archived.
    """

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None = None
    status: ImageStatus = "ACTIVE"
    last_archived_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("pushed_at", "last_pulled_at", "last_archived_at"):
            value = getattr(self, name)
            if value is not None:
                _require_aware(name, value)

    @property
    def storage_class(self) -> str:
        """The ``storageClass`` of the lifecycle rules that select this image."""
        return "archive" if self.status == "ARCHIVED" else "standard"


@dataclass(frozen=True)
class Expiry:
    """``digest`` would be expired (or, by a ``transition`` rule, archived) by the rule ``rule_priority``."""

    digest: str
    rule_priority: int
    action: Literal["expire", "transition"] = "expire"


@dataclass(frozen=True)
class Step:
    """An action of the rule ``rule_priority`` at the evaluation of day ``day`` (day 0 is ``now``)."""

    day: int
    rule_priority: int


@dataclass(frozen=True)
class Fate:
    """What a policy does to one image within the horizon: archived on ``transition.day`` and/or expired
    (deleted) on ``expiry.day``; ``already_archived`` says the image was in archive storage on day 0."""

    digest: str
    already_archived: bool
    transition: Step | None = None
    expiry: Step | None = None

    @property
    def deletion(self) -> Deletion | None:
        """How the image is deleted; None if it is not (a transition alone can be undone by a restore)."""
        if self.expiry is None:
            return None
        if self.already_archived:
            return "already_archived"
        return "direct" if self.transition is None else "archive_then_expire"


def preview(document: dict[str, Any], images: Sequence[Image], now: datetime) -> list[Expiry]:
    """What ``document`` would do at ``now``: one entry per image it expires or archives, oldest first.

    Raises DocumentError if ECR would reject ``document`` (it then has no meaning to evaluate), and ValueError
    if a digest repeats or ``now`` has no UTC offset.
    """
    rules = _checked_rules(document, images, now)
    return _evaluate(rules, _oldest_first(images), now)


def simulate(
    document: dict[str, Any], images: Sequence[Image], now: datetime, horizon_days: int
) -> list[Fate]:
    """What ``document`` does to ``images`` from ``now`` through day ``horizon_days``, one evaluation a day
    (day d at ``now`` + d days), with no pushes, pulls or restores: one entry per image it archives or
    expires, oldest first. Day 0 is :func:`preview` at ``now``; ``horizon_days`` 0 evaluates only then.

    Raises as :func:`preview` does, and ValueError if ``horizon_days`` is negative.
    """
    rules = _checked_rules(document, images, now)
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be 0 or more, got {horizon_days}")
    remaining = {image.digest: image for image in _oldest_first(images)}  # keeps that order throughout
    transitions: dict[str, Step] = {}
    expiries: dict[str, Step] = {}
    day: int | None = 0
    while day is not None and day <= horizon_days:
        when = now + day * _DAY
        results = _evaluate(rules, list(remaining.values()), when)
        for result in results:
            if result.action == "expire":
                expiries[result.digest] = Step(day, result.rule_priority)
                del remaining[result.digest]
            else:
                transitions[result.digest] = Step(day, result.rule_priority)
                image = remaining[result.digest]
                remaining[result.digest] = replace(image, status="ARCHIVED", last_archived_at=when)
        # After a change, the next evaluation sees new storage classes and counts; otherwise it marks exactly
        # what this one did (nothing) until an image passes an age limit, so the days in between are skipped.
        day = day + 1 if results else _next_age_limit(rules, remaining.values(), now, day)
    return [
        Fate(
            image.digest,
            already_archived=image.storage_class == "archive",
            transition=transitions.get(image.digest),
            expiry=expiries.get(image.digest),
        )
        for image in _oldest_first(images)
        if image.digest in transitions or image.digest in expiries
    ]


def deletion_summary(fates: Iterable[Fate], images: int, horizon_days: int) -> str:
    """The deletions among ``fates`` for a person: "5 of 40 images within 30 days (2 expired directly,
    2 archived then expired, 1 already archived)"."""
    counts = Counter(fate.deletion for fate in fates)
    deleted = counts.total() - counts[None]
    within = (f"within {horizon_days} day{'s' * (horizon_days != 1)}") if horizon_days else "at once"
    return (
        f"{deleted} of {images} image{'s' * (images != 1)} {within} ({counts['direct']} expired directly, "
        f"{counts['archive_then_expire']} archived then expired, "
        f"{counts['already_archived']} already archived)"
    )


def _checked_rules(document: dict[str, Any], images: Sequence[Image], now: datetime) -> list[dict[str, Any]]:
    """``document``'s rules by priority, once it, ``images`` and ``now`` are known to be evaluable."""
    problems = validate_lifecycle_policy(document)
    if problems:
        raise DocumentError(problems)
    _require_aware("now", now)
    if len({image.digest for image in images}) != len(images):
        raise ValueError("each image digest must appear once in the images to preview")
    return sorted(document["rules"], key=lambda rule: rule["rulePriority"])


def _oldest_first(images: Iterable[Image]) -> list[Image]:
    # Stable sort: images pushed at the same instant keep the order given (an images file lists them
    # oldest first, as the guide's examples do).
    return sorted(images, key=lambda image: image.pushed_at)


def _evaluate(rules: list[dict[str, Any]], oldest_first: list[Image], now: datetime) -> list[Expiry]:
    """One evaluation of ``rules`` (by priority) at ``now``: what each marks, oldest image first."""
    claimed: set[str] = set()  # digests some higher-priority rule's tag selection matched
    expiries: list[Expiry] = []
    for rule in rules:
        selected = [image for image in oldest_first if _selects(rule["selection"], image)]
        expiries += [
            Expiry(image.digest, rule["rulePriority"], rule["action"]["type"])
            for image in _marked(rule["selection"], selected, now)
            if image.digest not in claimed
        ]
        claimed.update(image.digest for image in selected)
    position = {image.digest: index for index, image in enumerate(oldest_first)}
    return sorted(expiries, key=lambda expiry: position[expiry.digest])


def _next_age_limit(
    rules: list[dict[str, Any]], images: Collection[Image], now: datetime, day: int
) -> int | None:
    """The first day after ``day`` on which an image passes the age limit of an age rule selecting it."""
    ages = [rule["selection"] for rule in rules if rule["selection"]["countType"] != "imageCountMoreThan"]
    days = [_day_past_limit(age, image, now) for age in ages for image in images if _selects(age, image)]
    return min((later for later in days if later > day), default=None)


def _day_past_limit(selection: dict[str, Any], image: Image, now: datetime) -> int:
    """The first day k on which the rule marks ``image``: its reference < now + k days - countNumber days."""
    number: int = selection["countNumber"]
    return (_age_reference(selection["countType"], image) + number * _DAY - now) // _DAY + 1


def _selects(selection: dict[str, Any], image: Image) -> bool:
    """Whether ``image`` matches the rule's storage class and tag selection (its "tagging requirements")."""
    if selection.get("storageClass", "standard") != image.storage_class:
        return False
    status = selection["tagStatus"]
    if status == "any":
        return True
    if status == "untagged":
        return not image.tags
    if "tagPrefixList" in selection:
        return all(any(tag.startswith(prefix) for tag in image.tags) for prefix in selection["tagPrefixList"])
    return all(
        any(_wildcard(pattern).fullmatch(tag) for tag in image.tags)
        for pattern in selection["tagPatternList"]
    )


def _wildcard(pattern: str) -> re.Pattern[str]:
    """``*`` matches any characters, even none (``prod*`` matches ``prod``); nothing else is special."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _marked(selection: dict[str, Any], selected: list[Image], now: datetime) -> list[Image]:
    """The images among ``selected`` (oldest first) that the rule's count criterion marks."""
    number: int = selection["countNumber"]
    if selection["countType"] == "imageCountMoreThan":
        return selected[: max(len(selected) - number, 0)]  # all but the newest `number`
    cutoff = now - timedelta(days=number)
    return [image for image in selected if _age_reference(selection["countType"], image) < cutoff]


def _age_reference(count_type: str, image: Image) -> datetime:
    # sinceImagePulled falls back to the push time for an image never pulled (evaluation rules);
    # sinceImageTransitioned selects archived images only, and one archived at an unknown time was archived
    # no earlier than its push.
    if count_type == "sinceImagePulled":
        return image.last_pulled_at or image.pushed_at
    if count_type == "sinceImageTransitioned":
        return image.last_archived_at or image.pushed_at
    return image.pushed_at


def _require_aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} {value.isoformat()} has no UTC offset; give one, e.g. 2024-05-01T12:00:00Z")


# ---------------------------------------------------------------------------------------------------------
# The images file


def load_images(data: Any) -> list[Image]:
    """Images from parsed JSON: ``aws ecr describe-images`` output as it is, its ``imageDetails`` list, or a
    list in this tool's own form, ``{"digest", "tags", "pushed_at", "last_pulled_at", "status",
    "last_archived_at"}``.

    An image with an ``imageDigest`` is a DescribeImages ``ImageDetail``: its ``imageDigest``,
    ``imageTags`` (absent when untagged), ``imagePushedAt``, ``lastRecordedPullTime``, ``imageStatus`` and
    ``lastArchivedAt`` are read, and its other members (size, media types, scan status, ...) ignored, ECR's
    future ones too. The tool's own form refuses unknown fields: it is written by hand, where a misspelt
    field would pass unseen.

    Timestamps are ISO-8601 strings with a UTC offset (the AWS CLI v2 prints them so) or epoch seconds (as
    CLI v1 does); the pull and archive times may be null or left out; ``status`` is DescribeImages'
    ``imageStatus`` (``ACTIVE``, the default, ``ARCHIVED`` or ``ACTIVATING``). Raises ValueError naming the
    index and field of the first bad entry, or saying that the output is one page of several.
    """
    where = ""
    if isinstance(data, dict) and "imageDetails" in data:
        # `--no-paginate` leaves `nextToken`, `--max-items` the CLI's `NextToken`: the rest of the images
        # would change what count rules keep, so a partial list is refused rather than previewed.
        if data.get("nextToken") or data.get("NextToken"):
            raise ValueError(
                "this describe-images output is one page of several (it has a next token): run "
                "`aws ecr describe-images` without --no-paginate or --max-items to list every image"
            )
        data, where = data["imageDetails"], "imageDetails"
    if not isinstance(data, list):
        raise ValueError(
            f"{where or 'the images'}: must be a JSON list of images, or `aws ecr describe-images` output "
            f"(an object with imageDetails), got {type(data).__name__}"
        )
    images = [_load_image(f"{where}[{index}]", item) for index, item in enumerate(data)]
    first: dict[str, int] = {}
    for index, image in enumerate(images):
        if image.digest in first:
            raise ValueError(
                f"{where}[{index}]: digest {image.digest} is already listed at {where}[{first[image.digest]}]"
            )
        first[image.digest] = index
    return images


# What DescribeImages' ImageDetail (botocore's ECR model) calls each field of the tool's own form.
_IMAGE_DETAIL_KEYS = {
    "digest": "imageDigest",
    "tags": "imageTags",
    "pushed_at": "imagePushedAt",
    "last_pulled_at": "lastRecordedPullTime",
    "status": "imageStatus",
    "last_archived_at": "lastArchivedAt",
}
_OWN_KEYS = {key: key for key in _IMAGE_DETAIL_KEYS}


def _load_image(where: str, item: Any) -> Image:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: an image must be a JSON object, got {type(item).__name__}")
    described = "imageDigest" in item
    if not described and (unknown := sorted(set(item) - set(_OWN_KEYS))):
        raise ValueError(
            f"{where}.{unknown[0]}: unknown field; allowed fields are {', '.join(_OWN_KEYS)}, or those of "
            "`aws ecr describe-images` (imageDigest, imageTags, imagePushedAt, ...)"
        )
    key = _IMAGE_DETAIL_KEYS if described else _OWN_KEYS
    # DescribeImages leaves imageTags out for an untagged image; the tool's own form asks for [].
    digest, tags = item.get(key["digest"]), item.get(key["tags"], [] if described else None)
    status = item.get(key["status"], "ACTIVE")
    if not isinstance(digest, str) or not digest:
        raise ValueError(f"{where}.{key['digest']}: must be a non-empty string, got {digest!r}")
    if not isinstance(tags, list) or not all(isinstance(tag, str) and tag for tag in tags):
        raise ValueError(
            f"{where}.{key['tags']}: must be a list of non-empty strings ([] when untagged), got {tags!r}"
        )
    if status not in IMAGE_STATUSES:
        raise ValueError(
            f"{where}.{key['status']}: must be one of {', '.join(IMAGE_STATUSES)}, got {status!r}"
        )

    def timestamp(field: str) -> datetime | None:
        value = item.get(key[field])
        return None if value is None else _timestamp(f"{where}.{key[field]}", value)

    pushed_at = timestamp("pushed_at")
    if pushed_at is None:
        raise ValueError(f"{where}.{key['pushed_at']}: required, the time the image was pushed")
    return Image(
        digest=digest,
        tags=tuple(tags),
        pushed_at=pushed_at,
        last_pulled_at=timestamp("last_pulled_at"),
        status=status,
        last_archived_at=timestamp("last_archived_at"),
    )


def _timestamp(where: str, value: Any) -> datetime:
    example = 'e.g. "2024-05-01T12:00:00Z" or 1714564800'
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{where}: {value!r} is out of range as epoch seconds") from None
    if not isinstance(value, str):
        raise ValueError(
            f"{where}: must be an ISO-8601 timestamp or epoch seconds ({example}), got {value!r}"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not an ISO-8601 timestamp ({example})") from None
    if parsed.utcoffset() is None:
        raise ValueError(f"{where}: {value!r} has no UTC offset ({example})")
    return parsed
