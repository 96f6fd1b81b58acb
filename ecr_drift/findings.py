"""What a run found and did: findings, who caused them, and the report a run returns.

Plain data, JSON-serialisable, shared by the engine, the publishers, the Lambda response and the CLI.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

REGISTRY = "registry"  # the resource of a registry setting's findings
# A finding's ``setting`` is a managed setting's name (``ecr_drift.settings``) or one of these two.
REPOSITORY = "repository"  # a managed repository that does not exist
UNMANAGED_REPOSITORY = "unmanaged_repository"  # a repository no name and no pattern manages


class Action(StrEnum):
    """What happened to a finding. ``drift`` is the state before a decision, as `plan` and audit show it."""

    DRIFT = "drift"  # detected; enforce would remediate it (audit and plan leave it here)
    REMEDIATED = "remediated"  # written back to the desired state
    REPORTED = "reported"  # never remediated by design (encryption, unmanaged resources)
    BLOCKED = "blocked"  # remediation refused by a guard (lifecycle mass expiry)
    FAILED = "failed"  # a read or a write failed; `error` says why


@dataclass(frozen=True)
class Origin:
    """Who made the change that raised a finding, from its CloudTrail event."""

    principal_arn: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    event_time: str | None = None
    event_id: str | None = None
    event_name: str | None = None


@dataclass(frozen=True)
class Finding:
    """One difference between the account and the desired state, in canonical forms.

    ``key`` distinguishes several findings of one setting on one resource (a cache rule's prefix).
    ``calls``: in an audit (and `ecr-drift plan`), the write calls enforce would make for it, by operation
    name, in order (none for one only reported, blocked or failed); None in an enforce run, whose writes
    were made (``Report.writes``).
    """

    resource: str
    setting: str
    expected: Any
    actual: Any
    action: Action = Action.DRIFT
    error: str | None = None
    key: str | None = None
    message: str = ""
    origin: Origin | None = None
    calls: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        """``setting`` or ``setting [key]``: how people see which setting a finding is about."""
        return f"{self.setting} [{self.key}]" if self.key else str(self.setting)

    def with_action(self, action: Action, error: str | None = None) -> Finding:
        return replace(self, action=action, error=error)

    def with_origin(self, origin: Origin | None) -> Finding:
        return replace(self, origin=origin)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["action"] = str(self.action)
        data["calls"] = None if self.calls is None else list(self.calls)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        origin = data.get("origin")
        calls = data.get("calls")  # absent from the reports of enforcers deployed before it
        return cls(
            **{k: v for k, v in data.items() if k not in {"action", "origin", "calls"}},
            action=Action(data["action"]),
            origin=Origin(**origin) if origin else None,
            calls=None if calls is None else tuple(calls),
        )


@dataclass
class Report:
    """The outcome of one run; the Lambda returns ``to_dict()``, the CLI renders it."""

    mode: str
    trigger: str
    repositories_checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    writes: int = 0

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(str(f.action) for f in self.findings)
        return {str(action): counts.get(str(action), 0) for action in Action}

    @property
    def compliant(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "trigger": self.trigger,
            "repositories_checked": sorted(self.repositories_checked),
            "not_checked": sorted(self.not_checked),
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.summary,
            "writes": self.writes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report a deployed enforcer returned (``to_dict`` output)."""
        return cls(
            mode=data["mode"],
            trigger=data["trigger"],
            repositories_checked=list(data.get("repositories_checked", [])),
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
            not_checked=list(data.get("not_checked", [])),
            writes=int(data.get("writes", 0)),
        )
