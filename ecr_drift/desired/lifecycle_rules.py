"""The ``lifecycle`` field of the contract: shorthand rules, or an ECR lifecycle policy given verbatim.

Models only; :mod:`ecr_drift.documents.lifecycle` compiles them into the ECR document and says what ECR would
reject.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ecr_drift.strict_model import StrictModel

TagStatus = Literal["tagged", "untagged", "any"]


class LifecycleRule(StrictModel):
    """One shorthand rule. Its priority is its position in the list (1, 2, 3, …)."""

    description: str | None = Field(default=None, max_length=256)
    tag_status: TagStatus | None = Field(
        default=None,
        description="Default: `tagged` when tag_prefixes or tag_patterns is given, else `any`.",
    )
    tag_prefixes: list[str] | None = Field(default=None, min_length=1, max_length=100)
    tag_patterns: list[str] | None = Field(default=None, min_length=1, max_length=100)
    max_images: int | None = Field(
        default=None, ge=1, le=10_000, description="Keep the newest N images (imageCountMoreThan)."
    )
    max_age_days: int | None = Field(
        default=None, ge=1, le=36_500, description="Expire images pushed more than N days ago."
    )

    @property
    def effective_tag_status(self) -> TagStatus:
        if self.tag_status is not None:
            return self.tag_status
        return "tagged" if (self.tag_prefixes or self.tag_patterns) else "any"


class RawLifecyclePolicy(StrictModel):
    """An ECR lifecycle policy object given verbatim, for rule kinds the shorthand does not cover."""

    raw: dict[str, Any]


LifecycleSpec = list[LifecycleRule] | RawLifecyclePolicy
