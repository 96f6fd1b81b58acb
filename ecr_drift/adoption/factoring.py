"""Factoring: each repository's settings → ``defaults``, entries that hold only what differs, and patterns.

Pure: no AWS, no I/O. Input and output are desired-state fields (JSON values). The one rule it must keep: for
every repository, ``defaults`` overlaid by its entry (or by its pattern's) gives back exactly its settings,
as ``ecr_drift.desired.resolution`` overlays them: field by field, except ``tags``, which merge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ecr_drift.desired.resolution import glob_matches, literal_prefix
from ecr_drift.documents.canonical_json import dumps

Fields = dict[str, Any]  # one setting's desired-state fields, every one of them given


@dataclass(frozen=True)
class Unmanaged:
    """A setting left out (not managed), where it would have been in the desired state and why."""

    path: str
    reason: str


Value = Fields | Unmanaged  # one setting of one repository
Settings = Mapping[str, Value]  # by setting name

V = TypeVar("V", bound=Value)
TAGS = "tags"  # the one field that merges with the defaults' instead of replacing them
# What a field of a managed setting means when it is left out; a field at this value is not written.
IMPLICIT: dict[str, Any] = {
    "image_tag_mutability_exclusions": [],
    "pull_account_ids": [],
    "push_account_ids": [],
    "policy_statements": [],
}


@dataclass(frozen=True)
class Factored:
    defaults: Fields
    repositories: dict[str, Fields]  # the entries of the repositories no pattern covers
    patterns: dict[str, Fields]
    covered: dict[str, str]  # repository → the pattern whose settings it has


def factor(repositories: Mapping[str, Settings], patterns: Mapping[str, Settings]) -> Factored:
    """``defaults``, entries and pattern entries for ``repositories`` (each with a value for every setting).

    ``patterns`` give what a pattern's settings must be (its repository creation template); a setting a
    pattern does not give is its repositories' most common value. A repository under a pattern whose
    settings it does not have gets an entry of its own. ``defaults`` holds each setting's most common value
    among the entries, unless one of them must leave it unmanaged: an entry cannot unset a default.
    """
    members = _members(repositories, patterns)
    targets = {
        pattern: _pattern_target(target, [repositories[name] for name in members[pattern]])
        for pattern, target in patterns.items()
    }
    covered = {
        name: pattern
        for pattern, names in members.items()
        for name in names
        if all(_key(value) == _key(targets[pattern].get(s)) for s, value in repositories[name].items())
    }
    named = {name: settings for name, settings in repositories.items() if name not in covered}
    entities = [*named.values(), *targets.values()]
    defaults = {
        setting: value
        for setting in sorted({s for settings in entities for s in settings})
        if (value := _default(setting, [e[setting] for e in entities if setting in e])) is not None
    }
    return Factored(
        defaults={field: v for value in defaults.values() for field, v in _written(value).items()},
        repositories={name: _entry(settings, defaults) for name, settings in sorted(named.items())},
        patterns={pattern: _entry(target, defaults) for pattern, target in sorted(targets.items())},
        covered=covered,
    )


def _members(repositories: Mapping[str, Settings], patterns: Mapping[str, Settings]) -> dict[str, list[str]]:
    """The repositories each pattern matches most specifically (as ``resolution.matching_pattern``)."""
    members: dict[str, list[str]] = {pattern: [] for pattern in patterns}
    for name in sorted(repositories):
        matching = [p for p in patterns if glob_matches(p, name)]
        if matching:
            members[max(matching, key=lambda p: len(literal_prefix(p)))].append(name)
    return members


def _pattern_target(given: Settings, members: list[Settings]) -> dict[str, Value]:
    target = dict(given)
    for setting in sorted({s for settings in members for s in settings} - given.keys()):
        target[setting] = _most_common([settings[setting] for settings in members])
    return target


def _default(setting: str, values: list[Value]) -> Fields | None:
    managed = [v for v in values if not isinstance(v, Unmanaged)]
    if not managed or len(managed) < len(values):
        return None
    return _default_tags([v[TAGS] for v in managed]) if setting == TAGS else _most_common(managed)


def _default_tags(tag_sets: list[dict[str, str]]) -> Fields | None:
    """The tags most entries share: a key every entry has (an entry cannot remove a default tag), with the
    value more than half of them give it (the rest override it)."""
    common = set.intersection(*(set(tags) for tags in tag_sets))
    chosen = {}
    for key in sorted(common):
        value, count = _ranked(Counter(tags[key] for tags in tag_sets))
        if count * 2 > len(tag_sets):
            chosen[key] = value
    return {TAGS: chosen} if chosen else None


def _entry(settings: Mapping[str, Value], defaults: Mapping[str, Fields]) -> Fields:
    """The fields that, over ``defaults``, give ``settings``."""
    entry: Fields = {}
    for setting, value in sorted(settings.items()):
        if isinstance(value, Unmanaged):  # then defaults leave it unmanaged too
            continue
        default = defaults.get(setting)
        if setting == TAGS:
            base = default[TAGS] if default is not None else {}
            tags = {key: tag for key, tag in value[TAGS].items() if base.get(key) != tag}
            entry.update({TAGS: tags} if tags else {})
        elif default is not None:
            entry.update({field: v for field, v in value.items() if dumps(v) != dumps(default[field])})
        else:
            entry.update(_written(value))
    return entry


def _written(value: Fields) -> Fields:
    """``value`` without the fields at their implicit value; the last field stays if that leaves none, so
    the setting stays managed (``{"policy_statements": []}``: no repository policy)."""
    written = {f: v for f, v in value.items() if f not in IMPLICIT or dumps(v) != dumps(IMPLICIT[f])}
    if written:
        return written
    last = list(value)[-1]
    return {last: value[last]}


def _most_common(values: list[V]) -> V:
    """The most frequent value (ties: the first in JSON text order, so the result does not depend on the
    order AWS listed things in); a managed value wins a tie with an unmanaged one."""
    by_key = {_key(v): v for v in values}
    key, _ = _ranked(Counter(_key(v) for v in values))
    return by_key[key]


def _ranked(counts: Counter[str]) -> tuple[str, int]:
    return min(counts.items(), key=lambda item: (-item[1], item[0]))


def _key(value: Value | None) -> str:
    # "~" sorts after every JSON text, so a managed value wins ties; None: the pattern does not set it.
    if value is None:
        return ""
    return "~unmanaged" if isinstance(value, Unmanaged) else dumps(value)
