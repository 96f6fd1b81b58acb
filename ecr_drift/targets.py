"""What one run checks: the whole account, some repositories, the registry settings, or a mix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ecr_drift.findings import Origin


class Mode(StrEnum):
    AUDIT = "audit"  # read only: not a single write call
    ENFORCE = "enforce"


def effective_mode(*sources: str | None) -> Mode:
    """Audit always wins, wherever it comes from (``ENFORCER_MODE``, ``enforcement.mode``, a manual invoke,
    a stack setting): the contract says audit writes nothing, anywhere, so nothing lifts an audit to enforce.
    A source that is None says nothing."""
    return Mode.AUDIT if Mode.AUDIT in sources else Mode.ENFORCE


@dataclass(frozen=True)
class Target:
    """``repositories=None`` means every repository in the account (a sweep)."""

    trigger: str
    repositories: tuple[str, ...] | None = None
    registry: bool = False
    origin: Origin | None = None

    @property
    def is_sweep(self) -> bool:
        return self.repositories is None


def sweep(trigger: str) -> Target:
    return Target(trigger=trigger, repositories=None, registry=True)
