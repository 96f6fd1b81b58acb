"""Tag mutability and its exclusion filters, compared and applied as ONE value (``TagMutability``): read from
DescribeRepositories, written with PutImageTagMutability."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecr_drift.desired.models import RepositorySettings
from ecr_drift.documents.mutability import (
    FILTER_TYPE,
    TagMutability,
    desired_tag_mutability,
    mutability_value,
)
from ecr_drift.settings.base import RepositoryEvent, RepositorySetting
from ecr_drift.state import Call, ObservedRepository, RepositoryOptions, Write

PUT = "PutImageTagMutability"


class ImageTagMutability(RepositorySetting[TagMutability]):
    name = "image_tag_mutability"
    title = "image tag mutability"
    fields = ("image_tag_mutability", "image_tag_mutability_exclusions")
    writes = (Write(PUT),)
    events = (RepositoryEvent(PUT),)
    template_reset = {"imageTagMutability": "MUTABLE"}  # filters beside a plain value have no effect

    def desired(self, settings: RepositorySettings, options: RepositoryOptions) -> TagMutability | None:
        if settings.image_tag_mutability is None:
            return None
        return desired_tag_mutability(settings.image_tag_mutability, settings.image_tag_mutability_exclusions)

    def expected(self, value: TagMutability, observed: ObservedRepository | None) -> Any:
        return canonical(value)

    def actual(self, value: TagMutability, observed: ObservedRepository) -> Any:
        return canonical(observed_tag_mutability(observed.description))

    def calls(self, name: str, value: TagMutability, observed: ObservedRepository | None) -> list[Call]:
        return [] if observed is None else [Call(PUT, {"repositoryName": name, **to_api(value)})]

    def creation_parameters(self, value: TagMutability) -> dict[str, Any]:
        return to_api(value)

    def template_parameters(self, value: TagMutability) -> dict[str, Any]:
        return to_api(value)

    def template_canonical(self, template: Mapping[str, Any]) -> Any:
        return canonical(observed_tag_mutability(template))


def canonical(mutability: TagMutability) -> dict[str, Any]:
    return {"value": mutability.value, "exclusions": list(mutability.exclusions)}


def observed_tag_mutability(entry: Mapping[str, Any]) -> TagMutability:
    """From a DescribeRepositories or creation template entry; ``ValueError`` on an unknown filter type."""
    value = mutability_value(entry.get("imageTagMutability", "MUTABLE"))  # ECR's default
    if not value.endswith("_WITH_EXCLUSION"):
        # Filters left over beside a plain value have no effect; counting them would be drift nobody can fix.
        return TagMutability(value)
    filters = entry.get("imageTagMutabilityExclusionFilters") or []
    unknown = {f.get("filterType") for f in filters} - {FILTER_TYPE}
    if unknown:
        raise ValueError(f"unknown image tag mutability exclusion filter types {sorted(map(str, unknown))}")
    return TagMutability(value, tuple(f["filter"] for f in filters))


def to_api(mutability: TagMutability) -> dict[str, Any]:
    """The PutImageTagMutability / CreateRepository (and creation template) parameters for ``mutability``."""
    parameters: dict[str, Any] = {"imageTagMutability": mutability.value}
    if mutability.exclusions:
        parameters["imageTagMutabilityExclusionFilters"] = [
            {"filter": f, "filterType": FILTER_TYPE} for f in mutability.exclusions
        ]
    return parameters


SPEC = ImageTagMutability()
