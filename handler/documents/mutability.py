"""Tag mutability and its exclusion filters, compared and applied as ONE value.

ECR encodes "immutable except these tags" as ``IMMUTABLE_WITH_EXCLUSION`` plus a filter list; comparing the
value and the filters separately would report half a change and apply an invalid combination.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

MutabilityValue = Literal["MUTABLE", "IMMUTABLE", "MUTABLE_WITH_EXCLUSION", "IMMUTABLE_WITH_EXCLUSION"]
_VALUES: frozenset[str] = frozenset(get_args(MutabilityValue))
_WITH_EXCLUSION = "_WITH_EXCLUSION"
# The only ImageTagMutabilityExclusionFilterType in botocore's ECR model.
FILTER_TYPE = "WILDCARD"


@dataclass(frozen=True)
class TagMutability:
    """``value`` and its exclusion filters, sorted and de-duplicated so that their order never matters."""

    value: MutabilityValue
    exclusions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.value not in _VALUES:
            raise ValueError(f"unknown image tag mutability {self.value!r}")
        # ECR requires filters with a *_WITH_EXCLUSION value and refuses them with a plain one.
        if self.value.endswith(_WITH_EXCLUSION) != bool(self.exclusions):
            raise ValueError(f"{self.value} with exclusions {list(self.exclusions)} is not valid in ECR")
        object.__setattr__(self, "exclusions", tuple(sorted(set(self.exclusions))))


def desired_tag_mutability(mutability: str, exclusions: Sequence[str] | None) -> TagMutability:
    """From ``image_tag_mutability`` (MUTABLE or IMMUTABLE) and ``image_tag_mutability_exclusions``."""
    if mutability not in ("MUTABLE", "IMMUTABLE"):
        raise ValueError(f"image_tag_mutability must be MUTABLE or IMMUTABLE, not {mutability!r}")
    if exclusions:
        return TagMutability(_value(mutability + _WITH_EXCLUSION), tuple(exclusions))
    return TagMutability(_value(mutability))


def observed_tag_mutability(repository: Mapping[str, Any]) -> TagMutability:
    """From one ``repositories`` entry of DescribeRepositories."""
    value = _value(repository.get("imageTagMutability", "MUTABLE"))  # ECR's default
    if not value.endswith(_WITH_EXCLUSION):
        # Filters left over beside a plain value have no effect; counting them would be drift nobody can fix.
        return TagMutability(value)
    filters = repository.get("imageTagMutabilityExclusionFilters") or []
    unknown = {f.get("filterType") for f in filters} - {FILTER_TYPE}
    if unknown:
        raise ValueError(f"unknown image tag mutability exclusion filter types {sorted(map(str, unknown))}")
    return TagMutability(value, tuple(f["filter"] for f in filters))


def to_api(mutability: TagMutability) -> dict[str, Any]:
    """The PutImageTagMutability / CreateRepository parameters for ``mutability``."""
    parameters: dict[str, Any] = {"imageTagMutability": mutability.value}
    if mutability.exclusions:
        parameters["imageTagMutabilityExclusionFilters"] = [
            {"filter": f, "filterType": FILTER_TYPE} for f in mutability.exclusions
        ]
    return parameters


def _value(text: str) -> MutabilityValue:
    # Checked by TagMutability.__post_init__, which every value reaches.
    return cast(MutabilityValue, text)
