"""A short account of what a desired state manages, for `ecr-drift validate` and start-up logs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ecr_drift.desired.models import DesiredState, RepositorySettings


def managed_settings(settings: RepositorySettings) -> list[str]:
    """The names of the settings that are managed (set), in a stable order."""
    names = [name for name in RepositorySettings.model_fields if getattr(settings, name) is not None]
    if settings.manages_policy:
        names = [n for n in names if n not in {"pull_account_ids", "push_account_ids", "policy_statements"}]
        names.append("repository_policy")
    return names


@dataclass(frozen=True)
class Summary:
    repositories: int
    patterns: int
    cache_rules: int
    registry_scanning: str | None
    replication_rules: int | None  # None: unmanaged
    registry_policy_statements: int | None
    mode: str
    managed: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sentence(self) -> str:
        scanning = f"registry scanning {self.registry_scanning or 'unmanaged'}"
        replication = _managed(self.replication_rules, "replication rule", "replication")
        policy = _managed(self.registry_policy_statements, "registry policy statement", "registry policy")
        return (
            f"{count(self.repositories, 'repository', 'repositories')}, {count(self.patterns, 'pattern')}, "
            f"{count(self.cache_rules, 'pull-through cache rule')}, {scanning}, {replication}, {policy}; "
            f"manages {', '.join(self.managed) or 'nothing per repository'}; mode {self.mode}."
        )


def count(number: int, singular: str, plural: str | None = None) -> str:
    """``count(1, "rule")`` → ``1 rule``, ``count(2, "rule")`` → ``2 rules``."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _managed(number: int | None, singular: str, setting: str) -> str:
    if number is None:
        return f"{setting} unmanaged"
    return f"no {setting}" if number == 0 else count(number, singular)  # `[]`: there must be none


def summarize(state: DesiredState) -> Summary:
    blocks = [state.defaults, *state.repositories.values(), *state.repository_patterns.values()]
    managed: list[str] = []
    for block in blocks:
        managed += [name for name in managed_settings(block) if name not in managed]
    scanning = state.registry.scanning
    return Summary(
        repositories=len(state.repositories),
        patterns=len(state.repository_patterns),
        cache_rules=len(state.registry.pull_through_cache or {}),
        registry_scanning=scanning.scan_type if scanning else None,
        replication_rules=_length(state.registry.replication),
        registry_policy_statements=_length(state.registry.policy_statements),
        mode=state.enforcement.mode,
        managed=managed,
    )


def _length(items: list[Any] | None) -> int | None:
    return None if items is None else len(items)
