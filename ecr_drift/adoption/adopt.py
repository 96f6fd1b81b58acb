"""Import: what an account has → a desired state under which it has no drift, factored to be read.

Pure: no AWS, no I/O; ``ecr-drift import`` makes the reads. Every value is proved before it is kept: its
fields validate (the loader's own checks, which give the JSON path of a problem) and compile back to what ECR
has (the diff's own comparison finds nothing). A value that fails either is left unmanaged, and says why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecr_drift.adoption.factoring import Factored, Fields, Unmanaged, Value, factor
from ecr_drift.adoption.readers import (
    FROM_REGISTRY,
    FROM_REPOSITORY,
    FROM_TEMPLATE,
    Unexpressible,
    registry_account,
)
from ecr_drift.desired.loading import validate_document
from ecr_drift.desired.resolution import Resolved, glob_matches
from ecr_drift.desired.summary import count
from ecr_drift.documents.creation_template import template_prefix
from ecr_drift.documents.problems import Problem, path_key
from ecr_drift.drift import desired_registry, desired_repository, registry_changes, repository_changes
from ecr_drift.settings import repository_settings
from ecr_drift.settings.base import RepositorySetting, same
from ecr_drift.settings.creation_templates import SPEC as CREATION_TEMPLATES
from ecr_drift.settings.creation_templates import canonical_template, creation_templates
from ecr_drift.state import ObservedRegistry, ObservedRepository

NOT_IN_LINE = "what import read does not compile back to what ECR has"


@dataclass(frozen=True)
class Adoption:
    """The desired state (JSON), and what a person should know about it."""

    document: dict[str, Any]
    covered: dict[str, str]  # repository → the pattern that manages it
    unmanaged: list[Unmanaged]
    notes: list[str]


def adopt(
    registry: ObservedRegistry, repositories: Sequence[ObservedRepository], *, patterns: bool = True
) -> Adoption:
    """The desired state of ``registry`` and ``repositories`` as read; ``patterns``: derive
    ``repository_patterns`` from the account's repository creation templates."""
    registry_fields, unmanaged = _registry(registry)
    notes: list[str] = []
    settings = [s for s in repository_settings() if s.name in FROM_REPOSITORY]
    if registry_fields.get("scanning", {}).get("scan_type") == "ENHANCED":
        settings = [s for s in settings if s.name != "scan_on_push"]
        notes.append("scan_on_push is not imported: ECR ignores it under ENHANCED registry scanning")
    values = {o.name: {s.name: _repository_value(s, o) for s in settings} for o in repositories}
    if patterns:
        targets, template_problems = _pattern_targets(registry, registry_fields, settings)
        unmanaged += template_problems
    else:
        targets = {}
        notes.append("no repository_patterns: --repository lists each repository by name")
    factored = factor(values, targets)
    unmanaged += [
        v for by_setting in values.values() for v in by_setting.values() if isinstance(v, Unmanaged)
    ]
    notes += _pattern_notes(factored, registry_fields, sorted(values))
    notes += _not_in_defaults(factored, values, settings)
    document = {
        "version": 1,
        "registry": registry_fields,
        "defaults": factored.defaults,
        "repositories": factored.repositories,
        **({"repository_patterns": factored.patterns} if factored.patterns else {}),
    }
    return Adoption(document, factored.covered, unmanaged, notes)


def render(document: Mapping[str, Any]) -> str:
    """The file's text: sorted keys, two-space indent, a final newline; equal documents, equal bytes."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------------------------------------


def _repository_value(setting: RepositorySetting[Any], observed: ObservedRepository) -> Value:
    path = f"repositories.{path_key(observed.name)}"
    try:
        fields = FROM_REPOSITORY[setting.name](observed)
    except Unexpressible as error:
        return Unmanaged(f"{path}.{error.field}", error.reason)
    state, problems = validate_document({"version": 1, "repositories": {observed.name: fields}})
    if state is None:
        return _invalid(problems)
    entry = Resolved(observed.name, state.repositories[observed.name], "repository")
    changes = repository_changes(desired_repository(state, entry), observed)
    if changes:
        return Unmanaged(f"{path}.{setting.fields[0]}", f"{changes[0].finding.message}: {NOT_IN_LINE}")
    return fields


def _registry(observed: ObservedRegistry) -> tuple[Fields, list[Unmanaged]]:
    home = (observed.region, registry_account(observed))
    fields: Fields = {}
    unmanaged: list[Unmanaged] = []
    for field, read in FROM_REGISTRY.items():
        try:
            value = read(observed)
        except Unexpressible as error:
            unmanaged.append(Unmanaged(f"registry.{error.field}", error.reason))
            continue
        state, problems = validate_document({"version": 1, "registry": {field: value}}, home=home)
        if state is None:
            unmanaged.append(_invalid(problems))
        elif changes := registry_changes(desired_registry(state), observed):
            unmanaged.append(Unmanaged(f"registry.{field}", f"{changes[0].finding.message}: {NOT_IN_LINE}"))
        else:
            fields[field] = value
    return fields, unmanaged


def _pattern_targets(
    observed: ObservedRegistry, registry: Fields, settings: Sequence[RepositorySetting[Any]]
) -> tuple[dict[str, dict[str, Fields]], list[Unmanaged]]:
    """A ``<prefix>/*`` pattern for each repository creation template, with the settings that derive it.

    Patterns make the enforcer manage every template (it reports one no pattern derives), so one template
    that no pattern can give means no patterns at all: each repository is then listed by name.
    """
    targets: dict[str, dict[str, Fields]] = {}
    problems: list[Unmanaged] = []
    for prefix, template in sorted(CREATION_TEMPLATES.observed_items(observed).items()):
        target = _template_target(prefix, template, registry, settings)
        if isinstance(target, Unmanaged):
            problems.append(target)
        else:
            targets[f"{prefix}/*"] = target
    return ({}, problems) if problems else (targets, [])


def _template_target(
    prefix: str, template: Mapping[str, Any], registry: Fields, settings: Sequence[RepositorySetting[Any]]
) -> dict[str, Fields] | Unmanaged:
    pattern = f"{prefix}/*"
    path = f"repository_patterns.{path_key(pattern)}"
    why = "so there are no repository_patterns"
    if template_prefix(pattern) != prefix:
        return Unmanaged(path, f"no pattern derives the creation template for prefix `{prefix}`, {why}")
    target: dict[str, Fields] = {}
    try:
        for setting in settings:
            if setting.name in FROM_TEMPLATE:
                target[setting.name] = FROM_TEMPLATE[setting.name](template)
    except Unexpressible as error:
        return Unmanaged(f"{path}.{error.field}", f"{error.reason}, {why}")
    entry = {field: v for fields in target.values() for field, v in fields.items()}
    cache = {"pull_through_cache": registry["pull_through_cache"]} if "pull_through_cache" in registry else {}
    state, problems = validate_document(
        {"version": 1, "registry": cache, "repository_patterns": {pattern: entry}}
    )
    if state is None:
        invalid = _invalid(problems)
        return Unmanaged(invalid.path, f"{invalid.reason}, {why}")
    if not same(canonical_template(creation_templates(state)[prefix]), canonical_template(template)):
        return Unmanaged(
            path,
            f"the creation template for `{prefix}` is not one a pattern derives (see its appliedFor), {why}",
        )
    return target


def _invalid(problems: list[Problem]) -> Unmanaged:
    more = f" (and {count(len(problems) - 1, 'more problem')})" if len(problems) > 1 else ""
    return Unmanaged(problems[0].path, problems[0].message + more)


def _pattern_notes(factored: Factored, registry: Fields, names: list[str]) -> list[str]:
    notes = []
    for pattern in factored.patterns:
        covered = sum(1 for p in factored.covered.values() if p == pattern)
        notes.append(
            f"`{pattern}` (from the account's repository creation template) covers {covered} "
            + ("repository" if covered == 1 else "repositories")
        )
    differ = [n for n in factored.repositories if any(glob_matches(p, n) for p in factored.patterns)]
    if differ:
        notes.append(f"listed by name, as their settings differ from their pattern's: {', '.join(differ)}")
    for prefix in sorted(registry.get("pull_through_cache", {})):
        namespace = prefix.rstrip("/")
        pattern = f"{namespace}/*"
        listed = [n for n in names if n.startswith(f"{namespace}/") and n not in factored.covered]
        if pattern not in factored.patterns and template_prefix(pattern) is not None and listed:
            notes.append(
                f"{len(listed)} repositories under the pull-through cache prefix `{namespace}` are listed by "
                f"name: the account has no creation template for it, and a `{pattern}` pattern would make "
                "enforce create one"
            )
    return notes


def _not_in_defaults(
    factored: Factored, values: Mapping[str, Mapping[str, Value]], settings: Sequence[RepositorySetting[Any]]
) -> list[str]:
    """Why a setting the entries repeat is not in defaults: some repository leaves it unmanaged."""
    notes = []
    for setting in settings:
        left_out = sorted(n for n, v in values.items() if isinstance(v[setting.name], Unmanaged))
        if left_out and len(values) > len(left_out):
            notes.append(
                f"{setting.title} is not in defaults: an entry cannot unset a default, and "
                f"{', '.join(left_out)} leave{'s' if len(left_out) == 1 else ''} it unmanaged"
            )
    return notes
