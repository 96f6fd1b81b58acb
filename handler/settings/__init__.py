"""The managed settings, one module each, registered here in the order findings list them.

To add a setting: a new module here with its class and one instance, and that instance in the list below.
"""

from typing import Any

from handler.settings import (
    creation_templates,
    encryption,
    lifecycle_policy,
    pull_through_cache,
    registry_policy,
    registry_scanning,
    replication,
    repository_policy,
    scan_on_push,
    tag_mutability,
    tags,
)
from handler.settings.base import (
    RegistrySetting,
    RepositorySetting,
    register,
    registry_settings,
    repository_settings,
    unregister,
)

_SETTINGS: tuple[RepositorySetting[Any] | RegistrySetting[Any], ...] = (
    scan_on_push.SPEC,
    tag_mutability.SPEC,
    lifecycle_policy.SPEC,
    repository_policy.SPEC,
    tags.SPEC,
    encryption.SPEC,
    registry_scanning.SPEC,
    pull_through_cache.SPEC,
    replication.SPEC,
    registry_policy.SPEC,
    creation_templates.SPEC,
)
for _setting in _SETTINGS:
    register(_setting)

__all__ = [
    "RegistrySetting",
    "RepositorySetting",
    "register",
    "registry_settings",
    "repository_settings",
    "unregister",
]
