"""Which settings apply to a repository: ``defaults`` overlaid by its entry or its most specific pattern."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Glob:
    """A glob split at its stars, to match a name without backtracking (``*`` is the only wildcard)."""

    prefix: str  # before the first `*`: the whole glob when it has none
    middles: tuple[str, ...]  # the non-empty parts between two stars, in order
    suffix: str  # after the last `*`
    starred: bool

    @classmethod
    def of(cls, pattern: str) -> Glob:
        parts = pattern.split("*")
        if len(parts) == 1:
            return cls(pattern, (), "", starred=False)
        return cls(parts[0], tuple(part for part in parts[1:-1] if part), parts[-1], starred=True)

    def matches(self, name: str) -> bool:
        if not self.starred:
            return name == self.prefix
        end = len(name) - len(self.suffix)
        if end < len(self.prefix) or not name.startswith(self.prefix) or not name.endswith(self.suffix):
            return False
        # Each middle at its leftmost place after the one before: that leaves the most room to the rest, so
        # the first try is the right one and the scan only moves forward.
        at = len(self.prefix)
        for middle in self.middles:
            at = name.find(middle, at, end)
            if at < 0:
                return False
            at += len(middle)
        return True


def glob_matches(pattern: str, name: str) -> bool:
    # Repository globs hold only name characters and `*` (validated); `*` matches `/` too, as wanted.
    return Glob.of(pattern).matches(name)


# A pattern as an index holds it: its position among the patterns (the first of tied ones wins), and compiled.
_Entry = tuple[int, str, Glob]
# Up to this many suffix lengths in a group, a name's endings are looked up one by one; past it (a file made
# to defeat the index), one set intersection in C finds them, whatever the number of patterns.
_FEW_SUFFIX_LENGTHS = 4


class PatternIndex:
    """Patterns grouped by literal prefix, then by literal suffix, so that a name meets only the few that
    can match it: those whose prefix starts it and whose suffix ends it.

    A name costs one look-up per distinct prefix length and, in a group it starts, at most one per ending of
    the name, instead of one match per pattern.
    """

    def __init__(self, patterns: list[str]) -> None:
        by_prefix: dict[str, dict[str, list[_Entry]]] = {}
        for position, pattern in enumerate(patterns):
            glob = Glob.of(pattern)
            by_prefix.setdefault(glob.prefix, {}).setdefault(glob.suffix, []).append(
                (position, pattern, glob)
            )
        # prefix → (suffix → its patterns, the suffixes' lengths)
        self._groups = {
            prefix: (by_suffix, sorted({len(suffix) for suffix in by_suffix}))
            for prefix, by_suffix in by_prefix.items()
        }
        self._prefix_lengths = sorted({len(prefix) for prefix in by_prefix}, reverse=True)

    def winner(self, name: str) -> str | None:
        """The matching pattern with the longest literal prefix; of tied ones (invalid), the first."""
        endings: set[str] | None = None  # every ending of ``name``, made when a group first needs it
        for length in self._prefix_lengths:  # longest first: the first group with a match holds the winner
            group = self._groups.get(name[:length]) if length <= len(name) else None
            if group is None:
                continue
            by_suffix, suffix_lengths = group
            # The group's suffixes that end the name: only candidates, each glob's own match decides.
            if len(suffix_lengths) <= _FEW_SUFFIX_LENGTHS:
                suffixes: Iterable[str] = [name[len(name) - n :] for n in suffix_lengths if n <= len(name)]
            else:
                endings = endings or {name[start:] for start in range(len(name) + 1)}
                suffixes = by_suffix.keys() & endings
            matching = [
                (position, pattern)
                for suffix in suffixes
                for position, pattern, glob in by_suffix.get(suffix, ())
                if glob.matches(name)
            ]
            if matching:
                return min(matching)[1]
        return None


def tied_patterns(patterns: list[str]) -> list[tuple[str, str]]:
    """Pairs of patterns that can match the same name with equally long literal prefixes: no winner.

    Equally long but different literal prefixes never start the same name, so only a group with the same
    prefix can tie. Behind it, two starred globs both start with `*` and share a name exactly when one's
    literal suffix ends the other's (both middles, then the longer suffix, match both); the prefix alone
    ties with a starred glob that has nothing but stars after it. Pairs in the order of ``patterns``.
    """
    groups: dict[str, list[tuple[int, Glob]]] = {}
    for position, pattern in enumerate(patterns):
        glob = Glob.of(pattern)
        groups.setdefault(glob.prefix, []).append((position, glob))
    pairs: list[tuple[int, int]] = []
    for members in groups.values():
        plain = [position for position, glob in members if not glob.starred]
        starred = [(position, glob) for position, glob in members if glob.starred]
        pairs += itertools.combinations(plain, 2)  # the same pattern twice
        stars_only = [position for position, glob in starred if not glob.suffix and not glob.middles]
        pairs += [(min(a, b), max(a, b)) for a in plain for b in stars_only]
        by_suffix: dict[str, list[int]] = {}
        for position, glob in starred:
            by_suffix.setdefault(glob.suffix, []).append(position)
        lengths = sorted({len(suffix) for suffix in by_suffix})
        for suffix, positions in by_suffix.items():
            pairs += itertools.combinations(positions, 2)
            # Each shorter suffix that ends this one: found from the longer side only, so once.
            for shorter in lengths:
                if shorter >= len(suffix):
                    break
                others = by_suffix.get(suffix[len(suffix) - shorter :], [])
                pairs += [(min(a, b), max(a, b)) for a in positions for b in others]
    return [(patterns[a], patterns[b]) for a, b in sorted(pairs)]


# One index per state, built on its first resolution: a state is frozen, and a sweep resolves every
# repository against the same one. Keyed by identity (a model holding dicts cannot be hashed); the weak
# reference drops the entry with its state, so an id reused later never meets a stale index.
_INDEXES: dict[int, tuple[weakref.ref[DesiredState], PatternIndex]] = {}


def pattern_index(state: DesiredState) -> PatternIndex:
    key = id(state)
    cached = _INDEXES.get(key)
    if cached is not None and cached[0]() is state:
        return cached[1]
    index = PatternIndex(list(state.repository_patterns))
    _INDEXES[key] = (weakref.ref(state, lambda _: _INDEXES.pop(key, None)), index)
    return index


def matching_pattern(state: DesiredState, name: str) -> str | None:
    """The most specific pattern matching ``name`` (validation guarantees there is no tie)."""
    return pattern_index(state).winner(name)


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
