"""Which settings apply to a repository: ``defaults`` overlaid by its entry or its most specific pattern."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from typing import Literal

from ecr_drift.desired.models import DesiredState, RepositorySettings


@dataclass(frozen=True)
class Resolved:
    """The effective settings of one repository, and where they came from (for findings and `plan`)."""

    name: str
    settings: RepositorySettings
    source: Literal["repository", "pattern"]
    pattern: str | None = None

    @property
    def named(self) -> bool:
        return self.source == "repository"


def literal_prefix(pattern: str) -> str:
    """The part of a glob before its first ``*``: the longer it is, the more specific the pattern."""
    return pattern.split("*", 1)[0]


def glob_matches(pattern: str, name: str) -> bool:
    # Repository globs hold only name characters and `*` (validated), so fnmatch's `?` and `[` never occur;
    # its `*` matches `/` too, as the contract wants.
    return fnmatchcase(name, pattern)


def globs_overlap(first: str, second: str) -> bool:
    """Whether some name matches both globs (``*`` = any characters): a walk over both patterns at once."""

    @cache
    def walk(i: int, j: int) -> bool:
        if i == len(first) and j == len(second):
            return True
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        if a == "*" and walk(i + 1, j):  # first's star matches nothing more
            return True
        if b == "*" and walk(i, j + 1):
            return True
        if a == "*" and b is not None and b != "*" and walk(i, j + 1):  # first's star eats second's char
            return True
        if b == "*" and a is not None and a != "*" and walk(i + 1, j):
            return True
        return a is not None and a == b and a != "*" and walk(i + 1, j + 1)

    return walk(0, 0)


def tied_patterns(patterns: list[str]) -> list[tuple[str, str]]:
    """Pairs of patterns that can match the same name with equally long literal prefixes: no winner."""
    return [
        (first, second)
        for index, first in enumerate(patterns)
        for second in patterns[index + 1 :]
        if len(literal_prefix(first)) == len(literal_prefix(second)) and globs_overlap(first, second)
    ]


def matching_pattern(state: DesiredState, name: str) -> str | None:
    """The most specific pattern matching ``name`` (validation guarantees there is no tie)."""
    matches = [p for p in state.repository_patterns if glob_matches(p, name)]
    return max(matches, key=lambda p: len(literal_prefix(p)), default=None)


def overlay(base: RepositorySettings, entry: RepositorySettings) -> RepositorySettings:
    """``base`` with every field that ``entry`` sets replaced; fields set in neither stay unmanaged.

    Tags are the one merge: an entry adds to or overrides the default tags, as provider default tags do.
    """
    update = {name: getattr(entry, name) for name in entry.model_fields_set}
    if base.tags is not None and entry.tags is not None:
        update["tags"] = {**base.tags, **entry.tags}
    return base.model_copy(update=update)


def resolve(state: DesiredState, name: str) -> Resolved | None:
    """Effective settings of repository ``name``, or None when no entry and no pattern manages it."""
    if name in state.repositories:
        return Resolved(name, overlay(state.defaults, state.repositories[name]), "repository")
    pattern = matching_pattern(state, name)
    if pattern is None:
        return None
    return Resolved(name, overlay(state.defaults, state.repository_patterns[pattern]), "pattern", pattern)
