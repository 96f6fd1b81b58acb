"""Tag mutability and its exclusion filters as ONE value, compiled from the desired state.

ECR encodes "immutable except these tags" as ``IMMUTABLE_WITH_EXCLUSION`` plus a filter list; comparing the
value and the filters separately would report half a change and apply an invalid combination. How the value
is read from and written to ECR is the setting's (``ecr_drift.settings.tag_mutability``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast, get_args

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
        return TagMutability(mutability_value(mutability + _WITH_EXCLUSION), tuple(exclusions))
    return TagMutability(mutability_value(mutability))


def matches_every_tag(tag_filter: str) -> bool:
    """Whether an exclusion filter exempts every tag: one made of `*` only (`*`, `**`), as tags are never
    empty. Under IMMUTABLE it leaves every tag overwritable."""
    return set(tag_filter) == {"*"}


def mutability_value(text: str) -> MutabilityValue:
    # Checked by TagMutability.__post_init__, which every value reaches.
    return cast(MutabilityValue, text)
