"""What one run checks: the whole account, some repositories, the registry settings, or a mix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handler.findings import Origin


class Mode(StrEnum):
    AUDIT = "audit"  # read only: not a single write call
    ENFORCE = "enforce"


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
