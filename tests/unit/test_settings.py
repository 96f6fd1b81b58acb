"""What every registered setting declares holds together: its fields are the contract's, its calls are the
writes it declares (so the role covers them), its events are write calls, and none destroys data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ecr_drift.aws.errors import is_read_operation
from ecr_drift.aws.remediate import NEVER_CALLED
from ecr_drift.desired import DesiredState, resolve
from ecr_drift.desired.models import Registry, RepositorySettings
from ecr_drift.drift import desired_repository, missing_repository_changes
from ecr_drift.settings import registry_settings, repository_settings
from ecr_drift.settings.base import RegistrySetting, RepositorySetting

SETTINGS: list[RepositorySetting[Any] | RegistrySetting[Any]] = [*repository_settings(), *registry_settings()]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_declared_fields_are_the_contract_s(setting: RepositorySetting[Any] | RegistrySetting[Any]) -> None:
    for field in setting.fields:
        if isinstance(setting, RepositorySetting):
            assert field in RepositorySettings.model_fields, field
        elif field.startswith("registry."):
            assert field.removeprefix("registry.") in Registry.model_fields, field
        else:
            assert field in DesiredState.model_fields, field


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_declarations_are_writes_and_reads_where_they_belong(
    setting: RepositorySetting[Any] | RegistrySetting[Any],
) -> None:
    assert all(is_read_operation(read.operation) for read in setting.reads)
    assert not any(is_read_operation(write.operation) for write in setting.writes)
    events = [e.name for e in setting.events] if isinstance(setting, RepositorySetting) else setting.events
    assert not any(is_read_operation(event) for event in events)
    assert not {w.operation for w in setting.writes} & NEVER_CALLED


def test_names_are_unique() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))


def test_a_recreated_repository_makes_only_declared_calls(example_state: DesiredState) -> None:
    declared = {w.operation for s in repository_settings() for w in s.writes} | {"CreateRepository"}
    for name in [*example_state.repositories, "ecr-public/library/nginx"]:
        resolved = resolve(example_state, name)
        assert resolved is not None
        [change] = missing_repository_changes(
            replace(desired_repository(example_state, resolved), named=True)
        )
        assert change.calls[0].operation == "CreateRepository"
        assert {call.operation for call in change.calls} <= declared
