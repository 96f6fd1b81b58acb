"""What one run checks: the whole account, some repositories, the registry settings (or some of their items),
or a mix."""

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
class RegistryPart:
    """A part of the registry a run checks: every registry setting (``setting`` None), one setting (a
    finding's ``setting``), or one item of a keyed setting (a cache rule, a creation template, by prefix)."""

    setting: str | None = None
    key: str | None = None

    @property
    def label(self) -> str:
        name = self.setting or "*"
        return f"{name} [{self.key}]" if self.key is not None else name

    def covers(self, setting: str, key: str | None) -> bool:
        """Whether a finding about ``setting`` (item ``key``) is about this part. A finding without a key
        (a failed read) is about the setting as a whole, which checking any of its items reads too."""
        if self.setting not in (None, setting):
            return False
        # ECR accepts a prefix with or without its trailing slash.
        return self.key is None or key is None or key.removesuffix("/") == self.key.removesuffix("/")


@dataclass(frozen=True)
class RegistryScope:
    """The parts of the registry a run checks; empty (false): none."""

    parts: frozenset[RegistryPart] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.parts)

    def checks(self, setting: str) -> bool:
        """Whether the run reads ``setting`` (all of it, or some of its items)."""
        return any(part.setting in (None, setting) for part in self.parts)

    def covers(self, setting: str, key: str | None) -> bool:
        return any(part.covers(setting, key) for part in self.parts)

    @property
    def labels(self) -> list[str]:
        return sorted(part.label for part in self.parts)


NO_REGISTRY = RegistryScope()
WHOLE_REGISTRY = RegistryScope(frozenset({RegistryPart()}))


@dataclass(frozen=True)
class Target:
    """``repositories=None`` means every repository in the account (a sweep). ``fallback``: why the run checks
    more of the registry than its event named (the event's item key was missing or malformed)."""

    trigger: str
    repositories: tuple[str, ...] | None = None
    registry: RegistryScope = NO_REGISTRY
    origin: Origin | None = None
    fallback: str | None = None

    @property
    def is_sweep(self) -> bool:
        return self.repositories is None


def sweep(trigger: str) -> Target:
    return Target(trigger=trigger, repositories=None, registry=WHOLE_REGISTRY)
