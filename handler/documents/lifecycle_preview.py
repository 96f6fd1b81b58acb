"""A local evaluator of ECR lifecycle policies: what a policy would expire or archive, and by which rule.

Pure, and written to the letter of the Amazon ECR user guide ("How lifecycle policies work" → lifecycle policy
evaluation rules, and "Examples of lifecycle policies", whose examples are its tests):

- rules apply in rulePriority order, lowest number first; an image is expired or archived by at most one rule;
- an image that matches the tag selection of a rule cannot be expired by a lower-priority rule, but lower
  rules still count it (``imageCountMoreThan`` keeps the newest N of everything it selects);
- expiry is ordered by push time, oldest first;
- ``tagPrefixList`` / ``tagPatternList`` entries must ALL match, each one against any of the image's tags.

Every image given is taken to be in standard storage (ECR's default), so a rule on ``storageClass: archive``
selects nothing. Like ECR's own preview, the result lists archive transitions too, each with its action.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from handler.documents.lifecycle import validate_lifecycle_policy
from handler.documents.problems import DocumentError

_IMAGE_KEYS = ("digest", "tags", "pushed_at", "last_pulled_at")


@dataclass(frozen=True)
class Image:
    """An image as lifecycle rules see it. Timestamps must carry a UTC offset."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("pushed_at", self.pushed_at)
        if self.last_pulled_at is not None:
            _require_aware("last_pulled_at", self.last_pulled_at)


@dataclass(frozen=True)
class Expiry:
    """``digest`` would be expired (or, by a ``transition`` rule, archived) by the rule ``rule_priority``."""

    digest: str
    rule_priority: int
    action: Literal["expire", "transition"] = "expire"


def preview(document: dict[str, Any], images: Sequence[Image], now: datetime) -> list[Expiry]:
    """What ``document`` would do at ``now``: one entry per image it expires or archives, oldest first.

    Raises DocumentError if ECR would reject ``document`` (it then has no meaning to evaluate), and ValueError
    if a digest repeats or ``now`` has no UTC offset.
    """
    problems = validate_lifecycle_policy(document)
    if problems:
        raise DocumentError(problems)
    _require_aware("now", now)
    if len({image.digest for image in images}) != len(images):
        raise ValueError("each image digest must appear once in the images to preview")
    # Stable sort: images pushed at the same instant keep the order given (an images file lists them
    # oldest first, as the guide's examples do).
    oldest_first = sorted(images, key=lambda image: image.pushed_at)
    claimed: set[str] = set()  # digests some higher-priority rule's tag selection matched
    expiries: list[Expiry] = []
    for rule in sorted(document["rules"], key=lambda rule: rule["rulePriority"]):
        selected = [image for image in oldest_first if _selects(rule["selection"], image)]
        expiries += [
            Expiry(image.digest, rule["rulePriority"], rule["action"]["type"])
            for image in _marked(rule["selection"], selected, now)
            if image.digest not in claimed
        ]
        claimed.update(image.digest for image in selected)
    position = {image.digest: index for index, image in enumerate(oldest_first)}
    return sorted(expiries, key=lambda expiry: position[expiry.digest])


def _selects(selection: dict[str, Any], image: Image) -> bool:
    """Whether ``image`` matches the rule's storage class and tag selection (its "tagging requirements")."""
    if selection.get("storageClass", "standard") != "standard":
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
    # sinceImagePulled falls back to the push time for an image never pulled (evaluation rules).
    if count_type == "sinceImagePulled":
        return image.last_pulled_at or image.pushed_at
    return image.pushed_at


def _require_aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} {value.isoformat()} has no UTC offset; give one, e.g. 2024-05-01T12:00:00Z")


# ---------------------------------------------------------------------------------------------------------
# The images file


def load_images(data: Any) -> list[Image]:
    """Images from parsed JSON: a list of ``{"digest", "tags", "pushed_at", "last_pulled_at"}``.

    Timestamps are ISO-8601 strings with a UTC offset; ``last_pulled_at`` may be null or left out. Raises
    ValueError naming the index and field of the first bad entry.
    """
    if not isinstance(data, list):
        raise ValueError(f"the images must be a JSON list of image objects, got {type(data).__name__}")
    images = [_load_image(index, item) for index, item in enumerate(data)]
    first: dict[str, int] = {}
    for index, image in enumerate(images):
        if image.digest in first:
            raise ValueError(f"[{index}].digest: {image.digest} is already listed at [{first[image.digest]}]")
        first[image.digest] = index
    return images


def _load_image(index: int, item: Any) -> Image:
    where = f"[{index}]"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: an image must be a JSON object, got {type(item).__name__}")
    unknown = sorted(set(item) - set(_IMAGE_KEYS))
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown field; allowed fields are {', '.join(_IMAGE_KEYS)}")
    digest, tags = item.get("digest"), item.get("tags")
    if not isinstance(digest, str) or not digest:
        raise ValueError(f"{where}.digest: must be a non-empty string, got {digest!r}")
    if not isinstance(tags, list) or not all(isinstance(tag, str) and tag for tag in tags):
        raise ValueError(
            f"{where}.tags: must be a list of non-empty strings ([] when untagged), got {tags!r}"
        )
    pulled = item.get("last_pulled_at")
    return Image(
        digest=digest,
        tags=tuple(tags),
        pushed_at=_timestamp(f"{where}.pushed_at", item.get("pushed_at")),
        last_pulled_at=None if pulled is None else _timestamp(f"{where}.last_pulled_at", pulled),
    )


def _timestamp(where: str, value: Any) -> datetime:
    example = 'e.g. "2024-05-01T12:00:00Z"'
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be an ISO-8601 timestamp string ({example}), got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not an ISO-8601 timestamp ({example})") from None
    if parsed.utcoffset() is None:
        raise ValueError(f"{where}: {value!r} has no UTC offset ({example})")
    return parsed
