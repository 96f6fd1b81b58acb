"""The lifecycle guard: what applying a lifecycle policy would delete within
``enforcement.lifecycle_guard.horizon_days``, counted on the repository's images before the policy is put, by
the local evaluator (``ecr_drift.documents.lifecycle_preview``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ecr_drift.desired.models import LifecycleGuard
from ecr_drift.documents.lifecycle_preview import Image, deletion_summary, simulate

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

MASS_EXPIRY_EXAMPLES = 3  # images named in a blocked finding, so a person can check what would go


def blocked_message(expiry: str) -> str:
    """A blocked lifecycle finding's message, from what :func:`mass_expiry` says it would delete: enforce and
    plan say it in the same words."""
    return f"not applied: {expiry}; `ecr-drift enforce --allow-mass-expiry` applies it anyway"


def mass_expiry(ecr: ECRClient, name: str, document: Any, guard: LifecycleGuard) -> str | None:
    """What applying ``document`` now would delete within the guard's horizon beyond its limits, with
    examples; None within them.

    The local evaluator replays the policy a day at a time, with no new pushes or pulls. Deleted counts an
    image expired directly, archived and then expired by an archive rule, or expired from the archive it is
    already in; a transition alone does not count, as an archived image can still be restored.
    """
    # Archived images too: without a filter, DescribeImages lists ACTIVE images only.
    pages = ecr.get_paginator("describe_images").paginate(repositoryName=name, filter={"imageStatus": "ANY"})
    images = [
        Image(
            digest=detail["imageDigest"],
            tags=tuple(detail.get("imageTags", ())),
            pushed_at=detail["imagePushedAt"],
            last_pulled_at=detail.get("lastRecordedPullTime"),
            status=detail.get("imageStatus", "ACTIVE"),
            last_archived_at=detail.get("lastArchivedAt"),
        )
        for page in pages
        for detail in page["imageDetails"]
    ]
    if not images:
        return None
    fates = simulate(dict(document), images, datetime.now(UTC), guard.horizon_days)
    deleted = [fate for fate in fates if fate.deletion]
    if len(deleted) <= guard.max_expire_images and len(deleted) / len(images) <= guard.max_expire_fraction:
        return None
    tags = {image.digest: image.tags for image in images}
    examples = ", ".join(
        f"{fate.digest} ({', '.join(tags[fate.digest]) or 'untagged'})"
        for fate in deleted[:MASS_EXPIRY_EXAMPLES]
    )
    return (
        f"it would delete {deletion_summary(deleted, len(images), guard.horizon_days)} where lifecycle_guard "
        f"allows {guard.max_expire_images} and {guard.max_expire_fraction:.0%}, oldest first: {examples}"
    )
