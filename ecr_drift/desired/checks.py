"""Checks across fields, on what the models accepted: what ECR would reject and what contradicts itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from ecr_drift.desired.models import DesiredState, Enforcement, PullThroughCacheRule, RepositorySettings
from ecr_drift.desired.resolution import tied_patterns
from ecr_drift.desired.upstreams import KNOWN_UPSTREAM_HOSTS, needs_credentials, upstream_registry
from ecr_drift.documents.lifecycle import compile_lifecycle_policy
from ecr_drift.documents.mutability import matches_every_tag
from ecr_drift.documents.problems import DocumentError, Problem, join_path, path_key
from ecr_drift.documents.registry_policy import build_registry_policy
from ecr_drift.documents.replication import replication_problems
from ecr_drift.documents.repository_policy import MANAGED_SIDS, build_repository_policy

# (region, account id) of the registry the desired state is applied to; either is None when unknown.
Home = tuple[str | None, str | None]
# Loading runs the checks on the parts of a file the models accept, so that one pass reports everything. A
# setting the models reject is left out, which makes no check fire, except these: each gets the value (in
# JSON) under which the checks that read it find least, so that none reports what the real value may not.
_LENIENT_PUBLIC_PULL = True  # else every public pull statement would be reported
# Any value satisfies exclusions, which need one; MUTABLE also lets none be blamed for exempting every tag.
_LENIENT_MUTABILITY = "MUTABLE"
STAND_INS: dict[tuple[type[BaseModel], str], Any] = {
    (Enforcement, "allow_public_pull"): _LENIENT_PUBLIC_PULL,
    (DesiredState, "enforcement"): {"allow_public_pull": _LENIENT_PUBLIC_PULL},
    (RepositorySettings, "image_tag_mutability"): _LENIENT_MUTABILITY,
    (DesiredState, "defaults"): {"image_tag_mutability": _LENIENT_MUTABILITY},
}


def _settings_blocks(state: DesiredState) -> Iterator[tuple[str, RepositorySettings]]:
    yield "defaults", state.defaults
    for name, settings in state.repositories.items():
        yield f"repositories.{path_key(name)}", settings
    for pattern, settings in state.repository_patterns.items():
        yield f"repository_patterns.{path_key(pattern)}", settings


def _block_problems(path: str, settings: RepositorySettings, *, allow_public_pull: bool) -> list[Problem]:
    problems: list[Problem] = []
    if settings.lifecycle is not None:
        try:
            compile_lifecycle_policy(settings.lifecycle)
        except DocumentError as error:
            problems += [p.under(f"{path}.lifecycle") for p in error.problems]
    # Messages point at the other place by its path, never by the id: no value of the file is echoed.
    pull, push = settings.pull_account_ids or [], settings.push_account_ids or []
    for field, ids in (("pull_account_ids", pull), ("push_account_ids", push)):
        problems += [
            Problem(join_path(path, field, index), f"the same account as {field}[{ids.index(account)}]")
            for index, account in enumerate(ids)
            if ids.index(account) != index
        ]
    problems += [
        Problem(
            join_path(path, "pull_account_ids", index),
            f"also in push_account_ids[{push.index(account)}]: push implies pull, so list it there only",
        )
        for index, account in enumerate(pull)
        if account in push
    ]
    try:
        build_repository_policy(
            settings.pull_account_ids,
            settings.push_account_ids,
            settings.policy_statements,
            allow_public_pull=allow_public_pull,
        )
    except DocumentError as error:
        problems += [p.under(path) for p in error.problems]
    problems += [
        Problem(f"{path}.tags.{path_key(key)}", "tag keys starting with `aws:` are reserved by AWS")
        for key in settings.tags or {}
        if key.lower().startswith("aws:")
    ]
    return problems


def _contradictions(path: str, settings: RepositorySettings, state: DesiredState) -> list[Problem]:
    """Settings of a block that contradict another setting, here, in ``defaults`` or in the registry.

    Each is reported where the block sets the field it names: one a block inherits from ``defaults`` is
    reported at ``defaults`` only, not again for every block that inherits it.
    """
    problems: list[Problem] = []
    mutability = settings.image_tag_mutability or state.defaults.image_tag_mutability
    if settings.image_tag_mutability_exclusions and mutability is None:
        problems.append(
            Problem(
                f"{path}.image_tag_mutability_exclusions",
                "exclusions need `image_tag_mutability` (here or in defaults) to be exempt from",
            )
        )
    problems += _exempts_every_tag(path, settings, state.defaults)
    scanning = state.registry.scanning
    if settings.scan_on_push is not None and scanning is not None and scanning.scan_type == "ENHANCED":
        problems.append(
            Problem(
                f"{path}.scan_on_push",
                "ECR ignores per-repository scan on push under ENHANCED registry scanning; "
                "use registry.scanning.rules instead",
            )
        )
    return problems


def _exempts_every_tag(
    path: str, settings: RepositorySettings, defaults: RepositorySettings
) -> list[Problem]:
    """IMMUTABLE with an exclusion filter that matches every tag: the file says immutable, yet every tag can
    be overwritten. Reported at the block's own exclusions, or at its IMMUTABLE when it inherits exclusions
    that ``defaults`` (not IMMUTABLE itself, else reported there) gives."""
    mutability = settings.image_tag_mutability or defaults.image_tag_mutability
    if mutability != "IMMUTABLE":
        return []
    why = "every tag stays overwritable while image_tag_mutability says IMMUTABLE"
    if settings.image_tag_mutability_exclusions is not None:
        return [
            Problem(
                join_path(path, "image_tag_mutability_exclusions", index),
                f"matches every tag, so {why}; list the tags to exempt (e.g. latest) or set MUTABLE",
            )
            for index, tag_filter in enumerate(settings.image_tag_mutability_exclusions)
            if matches_every_tag(tag_filter)
        ]
    if settings.image_tag_mutability is None or defaults.image_tag_mutability == "IMMUTABLE":
        return []
    inherited = defaults.image_tag_mutability_exclusions or []
    index = next((i for i, tag_filter in enumerate(inherited) if matches_every_tag(tag_filter)), None)
    if index is None:
        return []
    return [
        Problem(
            join_path(path, "image_tag_mutability"),
            f"defaults.image_tag_mutability_exclusions[{index}] matches every tag, so {why}; set "
            "image_tag_mutability_exclusions here to the tags to exempt (`[]` for none)",
        )
    ]


def _cache_rule_problems(prefix: str, rule: PullThroughCacheRule) -> list[Problem]:
    path = f"registry.pull_through_cache.{path_key(prefix)}"
    url = rule.upstream_registry_url
    if upstream_registry(url) is None:
        return [
            Problem(
                f"{path}.upstream_registry_url",
                "is not an upstream ECR can cache "  # the URL is not echoed: it may hold credentials
                f"(allowed: {', '.join(sorted(KNOWN_UPSTREAM_HOSTS))}, "
                "<registry>.azurecr.io, <account>.dkr.ecr.<region>.amazonaws.com)",
            )
        ]
    if needs_credentials(url) and rule.credential_arn is None:
        return [
            Problem(
                f"{path}.credential_arn",
                f"{url} needs credentials: a Secrets Manager secret named ecr-pullthroughcache/...",
            )
        ]
    return []


def _scanning_problems(state: DesiredState) -> list[Problem]:
    scanning = state.registry.scanning
    if scanning is None:
        return []
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, rule in enumerate(scanning.rules):
        where = f"registry.scanning.rules[{index}].frequency"
        if rule.frequency == "CONTINUOUS_SCAN" and scanning.scan_type != "ENHANCED":
            problems.append(Problem(where, "CONTINUOUS_SCAN needs scan_type ENHANCED"))
        if rule.frequency in seen:
            problems.append(Problem(where, f"{rule.frequency} appears in more than one rule"))
        seen.add(rule.frequency)
    return problems


def _replication_problems(state: DesiredState, home: Home | None) -> list[Problem]:
    rules = state.registry.replication
    if rules is None:
        return []
    return [p.under("registry.replication") for p in replication_problems(rules, home=home)]


def _registry_policy_problems(state: DesiredState) -> list[Problem]:
    statements = state.registry.policy_statements
    if statements is None:
        return []
    try:
        build_registry_policy(statements, allow_public_pull=state.enforcement.allow_public_pull)
    except DocumentError as error:
        return [p.under("registry") for p in error.problems]
    return []


def semantic_problems(state: DesiredState, *, home: Home | None = None) -> list[Problem]:
    """Every problem the models alone cannot see, each with its JSON path.

    ``home`` is the (region, account id) of the registry, when known: then a replication rule into this very
    registry is a problem too.
    """
    problems: list[Problem] = []
    for path, settings in _settings_blocks(state):
        problems += _block_problems(path, settings, allow_public_pull=state.enforcement.allow_public_pull)
        problems += _contradictions(path, settings, state)
    for first, second in tied_patterns(list(state.repository_patterns)):
        problems.append(
            Problem(
                f"repository_patterns.{path_key(second)}",
                f"ties with {first!r}: both can match the same repository and neither has a longer "
                "literal prefix; make one more specific",
            )
        )
    for prefix, rule in (state.registry.pull_through_cache or {}).items():
        problems += _cache_rule_problems(prefix, rule)
    problems += _scanning_problems(state)
    problems += _replication_problems(state, home)
    problems += _registry_policy_problems(state)
    reserved = sorted(set(state.enforcement.keep_policy_sids) & MANAGED_SIDS)
    if reserved:
        problems.append(
            Problem(
                "enforcement.keep_policy_sids", f"{', '.join(reserved)} is managed by the enforcer, not kept"
            )
        )
    return problems
