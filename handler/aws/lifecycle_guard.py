"""The lifecycle guard: what applying a lifecycle policy would delete, counted on the repository's images
before the policy is put, by the local evaluator (``handler.documents.lifecycle_preview``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from handler.desired.models import LifecycleGuard
from handler.documents.lifecycle_preview import Image, preview

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

MASS_EXPIRY_EXAMPLES = 3  # images named in a blocked finding, so a person can check what would go


def mass_expiry(ecr: ECRClient, name: str, document: Any, guard: LifecycleGuard) -> str | None:
    """What applying ``document`` now would expire beyond ``guard``, with examples; None within it.

    The local evaluator decides. Only ``expire`` results count: a ``transition`` moves an image to archive
    storage, where it can still be restored.
    """
    images = [
        Image(
            digest=detail["imageDigest"],
            tags=tuple(detail.get("imageTags", ())),
            pushed_at=detail["imagePushedAt"],
            last_pulled_at=detail.get("lastRecordedPullTime"),
        )
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=name)
        for detail in page["imageDetails"]
    ]
    if not images:
        return None
    expired = [e.digest for e in preview(dict(document), images, datetime.now(UTC)) if e.action == "expire"]
    if len(expired) <= guard.max_expire_images and len(expired) / len(images) <= guard.max_expire_fraction:
        return None
    tags = {image.digest: image.tags for image in images}
    examples = ", ".join(
        f"{digest} ({', '.join(tags[digest]) or 'untagged'})" for digest in expired[:MASS_EXPIRY_EXAMPLES]
    )
    return (
        f"it would expire {len(expired)} of {len(images)} images at once "
        f"(lifecycle_guard allows {guard.max_expire_images} and {guard.max_expire_fraction:.0%}), "
        f"oldest first: {examples}"
    )
