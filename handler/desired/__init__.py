"""The desired state: loading, models, checks and the effective settings of each repository."""

from handler.desired.loading import DesiredStateError, load_desired_state, load_desired_state_text
from handler.desired.models import DesiredState, RepositorySettings
from handler.desired.resolution import Resolved, resolve

__all__ = [
    "DesiredState",
    "DesiredStateError",
    "RepositorySettings",
    "Resolved",
    "load_desired_state",
    "load_desired_state_text",
    "resolve",
]
