"""The managed settings: one module each in this package, found and registered when it is imported.

Adding a setting is adding a module here whose ``SPEC`` is an instance of a ``RepositorySetting`` or a
``RegistrySetting`` (see ``base``). Findings list them by module name; nothing else names them.
"""

from __future__ import annotations

import importlib
import pkgutil

from ecr_drift.settings.base import (
    RegistrySetting,
    RepositorySetting,
    register,
    registry_settings,
    repository_settings,
    unregister,
)

__all__ = [
    "RegistrySetting",
    "RepositorySetting",
    "register",
    "registry_settings",
    "repository_settings",
    "unregister",
]

_NOT_SETTINGS = frozenset({"base"})

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_SETTINGS):
    register(importlib.import_module(f"{__name__}.{_module}").SPEC)
