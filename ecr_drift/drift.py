"""Drift: one generic loop over the registered settings → changes (a finding and the calls that fix it).

Pure: no AWS, no I/O. The desired side is compiled by each setting (``desired``), the observed side is what
``ecr_drift.aws.observe`` read for the reads the settings asked for, and each setting decides what "in line"
means and which calls put it right. A setting the desired state does not manage is never looked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecr_drift.desired.models import DesiredState
from ecr_drift.desired.resolution import Resolved
from ecr_drift.findings import REGISTRY, REPOSITORY, UNMANAGED_REPOSITORY, Action, Finding
from ecr_drift.settings import registry_settings, repository_settings
from ecr_drift.settings.base import RegistrySetting, RepositorySetting
from ecr_drift.state import (
    Call,
    Change,
    DesiredRegistry,
    DesiredRepository,
    ObservedRegistry,
    ObservedRepository,
    Read,
    RepositoryOptions,
    Write,
)
from ecr_drift.targets import WHOLE_REGISTRY, RegistryScope

CREATE_REPOSITORY = "CreateRepository"


def create_repository_write() -> Write:
    """Recreating a missing repository, with what the settings' creation parameters need on top."""
    implied = sorted({a for s in repository_settings() for a in s.creation_iam_actions})
    return Write(CREATE_REPOSITORY, implied_iam_actions=tuple(implied))


def desired_repository(state: DesiredState, resolved: Resolved) -> DesiredRepository:
    """Compile ``resolved``'s settings. The state was validated at load, so compiling cannot fail here."""
    enforcement = state.enforcement
    options = RepositoryOptions(
        keep_policy_sids=frozenset(enforcement.keep_policy_sids),
        remove_unmanaged_tags=enforcement.remove_unmanaged_tags,
        recreate_if_missing=enforcement.recreate_missing_repositories,
    )
    values = {
        setting.name: value
        for setting in repository_settings()
        if (value := setting.desired(resolved.settings, options)) is not None
    }
    return DesiredRepository(resolved.name, resolved.named, values, options)


def desired_registry(state: DesiredState, scope: RegistryScope = WHOLE_REGISTRY) -> DesiredRegistry:
    """The managed registry settings, of those ``scope`` checks."""
    return DesiredRegistry(
        {
            s.name: value
            for s in registry_settings()
            if scope.checks(s.name) and (value := s.desired(state)) is not None
        }
    )


def repository_reads(desired: DesiredRepository) -> frozenset[Read]:
    """The per-repository reads the managed settings need (DescribeRepositories brings the rest)."""
    return frozenset(read for setting, _ in _managed_repository(desired) for read in setting.reads)


def registry_reads(desired: DesiredRegistry) -> frozenset[Read]:
    return frozenset(read for setting, _ in _managed_registry(desired) for read in setting.reads)


# ---------------------------------------------------------------------------------------------------------
# Repositories


def repository_changes(desired: DesiredRepository, observed: ObservedRepository | None) -> list[Change]:
    """Changes for one managed repository; ``observed`` is None when it does not exist."""
    if observed is None:
        return missing_repository_changes(desired)
    changes: list[Change] = []
    for setting, value in _managed_repository(desired):
        failed = _read_failure(setting.reads, observed.failures)
        if failed is not None:
            changes.append(_failed(desired.name, setting, setting.expected(value, None), failed))
            continue
        expected = setting.expected(value, observed)
        try:
            actual = setting.actual(value, observed)
        except ValueError as error:  # ECR answered something this version does not understand
            changes.append(_failed(desired.name, setting, expected, str(error)))
            continue
        if setting.in_line(expected, actual):
            continue
        if setting.report_only is not None:
            finding = Finding(
                desired.name, setting.name, expected, actual, Action.REPORTED, message=setting.report_only
            )
            changes.append(Change(finding))
        else:
            finding = Finding(desired.name, setting.name, expected, actual, message=setting.differs)
            changes.append(Change(finding, tuple(setting.calls(desired.name, value, observed))))
    return changes


def missing_repository_changes(desired: DesiredRepository) -> list[Change]:
    """A named repository that does not exist: created again with every managed setting. Pattern
    repositories are created lazily (pull through cache, create on push): their absence is not drift."""
    if not desired.named:
        return []
    parameters: dict[str, Any] = {"repositoryName": desired.name}
    expected: dict[str, Any] = {}
    follow_up: list[Call] = []
    for setting, value in _managed_repository(desired):
        expected[setting.name] = setting.expected(value, None)
        parameters.update(setting.creation_parameters(value))
        if setting.report_only is None:
            follow_up += setting.calls(desired.name, value, None)
    recreate = desired.options.recreate_if_missing
    finding = Finding(
        desired.name,
        REPOSITORY,
        expected,
        None,
        Action.DRIFT if recreate else Action.REPORTED,
        message="managed repository does not exist",
    )
    calls = (Call(CREATE_REPOSITORY, parameters), *follow_up) if recreate else ()
    return [Change(finding, calls)]


def unmanaged_repository_findings(state: DesiredState, name: str, arn: str) -> list[Finding]:
    if state.enforcement.unmanaged_repositories == "ignore":
        return []
    return [
        Finding(
            name,
            UNMANAGED_REPOSITORY,
            None,
            arn,
            Action.REPORTED,
            message="matches no repository and no pattern in the desired state",
        )
    ]


# ---------------------------------------------------------------------------------------------------------
# Registry


def registry_changes(desired: DesiredRegistry, observed: ObservedRegistry) -> list[Change]:
    """Each managed registry setting against what was read; items are compared one by one (by key)."""
    changes: list[Change] = []
    for setting, value in _managed_registry(desired):
        failed = _read_failure(setting.reads, observed.failures)
        if failed is not None:
            changes.append(_failed(REGISTRY, setting, setting.expected(value, None), failed))
            continue
        try:
            differences = setting.differences(value, observed)
        except ValueError as error:
            changes.append(_failed(REGISTRY, setting, setting.expected(value, None), str(error)))
            continue
        for d in differences:
            action = Action.REPORTED if d.reported else Action.DRIFT
            finding = Finding(
                REGISTRY, setting.name, d.expected, d.actual, action, key=d.key, message=d.message
            )
            changes.append(Change(finding, d.calls))
    return changes


def _managed_repository(desired: DesiredRepository) -> list[tuple[RepositorySetting[Any], Any]]:
    return [(s, desired.values[s.name]) for s in repository_settings() if s.name in desired.values]


def _managed_registry(desired: DesiredRegistry) -> list[tuple[RegistrySetting[Any], Any]]:
    return [(s, desired.values[s.name]) for s in registry_settings() if s.name in desired.values]


def _read_failure(reads: tuple[Read, ...], failures: Mapping[Read, str]) -> str | None:
    return next((failures[read] for read in reads if read in failures), None)


def _failed(
    resource: str, setting: RepositorySetting[Any] | RegistrySetting[Any], expected: Any, error: str
) -> Change:
    message = f"could not read {setting.title}"
    return Change(
        Finding(resource, setting.name, expected, None, Action.FAILED, error=error, message=message)
    )
