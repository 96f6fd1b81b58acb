"""The desired state: loading, models, checks and the effective settings of each repository.

Loading is imported on first use. Its checks run the compiler (``ecr_drift.documents``), which imports the
models: importing loading here eagerly would make every compiler module that needs a model a cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ecr_drift.desired.models import DesiredState, RepositorySettings
from ecr_drift.desired.resolution import Resolved, resolve

if TYPE_CHECKING:
    from ecr_drift.desired.loading import DesiredStateError, load_desired_state, load_desired_state_text

_FROM_LOADING = frozenset({"DesiredStateError", "load_desired_state", "load_desired_state_text"})


def __getattr__(name: str) -> Any:
    if name in _FROM_LOADING:
        return getattr(importlib.import_module("ecr_drift.desired.loading"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DesiredState",
    "DesiredStateError",
    "RepositorySettings",
    "Resolved",
    "load_desired_state",
    "load_desired_state_text",
    "resolve",
]
