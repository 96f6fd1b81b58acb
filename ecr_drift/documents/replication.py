"""Registry replication: ``registry.replication`` → PutReplicationConfiguration's parameter.

Pure: no AWS, no I/O. Pulumi and the Lambda both build the configuration with
:func:`replication_configuration`; drift is judged on :func:`canonical_replication`, in which the order of
rules, destinations and filters and their repetition carry no meaning (none changes what is replicated where).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecr_drift.desired.models import MAX_REPLICATION_DESTINATIONS, ReplicationDestination, ReplicationRule
from ecr_drift.documents.canonical_json import dumps
from ecr_drift.documents.problems import Problem, join_path

# The only RepositoryFilterType in botocore's ECR model.
FILTER_TYPE = "PREFIX_MATCH"


def replication_configuration(rules: Sequence[ReplicationRule], account_id: str) -> dict[str, Any]:
    """PutReplicationConfiguration's ``replicationConfiguration``; ``{"rules": []}`` (none) for ``[]``.

    A destination without ``account_id`` is this account's registry (``account_id``) in another Region.
    """
    return {"rules": [_api_rule(rule, account_id) for rule in rules]}


def _api_rule(rule: ReplicationRule, account_id: str) -> dict[str, Any]:
    api: dict[str, Any] = {
        "destinations": [
            {"region": d.region, "registryId": destination_account(d, account_id)} for d in rule.destinations
        ]
    }
    if rule.repository_prefixes:
        api["repositoryFilters"] = [
            {"filter": p, "filterType": FILTER_TYPE} for p in rule.repository_prefixes
        ]
    return api


def destination_account(destination: ReplicationDestination, account_id: str) -> str:
    return destination.account_id if destination.account_id is not None else account_id


def canonical_replication(configuration: Mapping[str, Any] | None) -> dict[str, Any]:
    """The form in which two replication configurations are compared (DescribeRegistry's, or a desired one).

    ``None``, ``{}`` and ``{"rules": []}`` are all "no replication". In a rule, destinations and filters are
    sorted and de-duplicated; a filter without a type is PREFIX_MATCH (the only type); ``deleteReplication:
    false`` is ECR's default and dropped. Rules are sorted and de-duplicated. Keys ECR may add later are kept,
    so they show as a difference rather than vanish. Raises ``ValueError`` for a malformed configuration.
    """
    rules = (configuration or {}).get("rules") or []
    if not isinstance(rules, list) or not all(isinstance(rule, Mapping) for rule in rules):
        raise ValueError('not a replication configuration: expected an object with a "rules" list of objects')
    canonical = {dumps(rule): rule for rule in map(_canonical_rule, rules)}
    return {"rules": [canonical[key] for key in sorted(canonical)]}


def replication_equal(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Whether ``a`` and ``b`` replicate the same repositories to the same registries."""
    return dumps(canonical_replication(a)) == dumps(canonical_replication(b))


def _canonical_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    canonical = {key: value for key, value in rule.items() if key != "deleteReplication"}
    if rule.get("deleteReplication") not in (None, False):
        canonical["deleteReplication"] = rule["deleteReplication"]
    destinations = {
        (_text(d, "region"), _text(d, "registryId"))
        for d in _objects(rule.get("destinations"), "destinations")
    }
    canonical["destinations"] = [{"region": r, "registryId": a} for r, a in sorted(destinations)]
    filters = {
        (_text(f, "filter"), str(f.get("filterType", FILTER_TYPE)))
        for f in _objects(rule.get("repositoryFilters"), "repositoryFilters")
    }
    canonical.pop("repositoryFilters", None)
    if filters:
        canonical["repositoryFilters"] = [{"filter": f, "filterType": t} for f, t in sorted(filters)]
    return canonical


def _objects(value: Any, key: str) -> list[Mapping[str, Any]]:
    items = value if value is not None else []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise ValueError(f"replication rule `{key}` must be a list of objects")
    return items


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise ValueError(f"replication `{key}` must be a string, got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------------------
# Validation


def replication_problems(
    rules: Sequence[ReplicationRule], *, home: tuple[str | None, str | None] | None = None
) -> list[Problem]:
    """What ECR would reject in ``rules`` beyond single values, with paths relative to the list (``[0]...``).

    ``home`` is this registry's (region, account id), either part None when unknown (a file validated
    offline): a rule may not replicate into the registry it replicates from.
    """
    home_region, home_account = home or (None, None)
    problems: list[Problem] = []
    unique: set[tuple[str, str | None]] = set()
    for index, rule in enumerate(rules):
        seen: dict[tuple[str, str | None], int] = {}
        for position, destination in enumerate(rule.destinations):
            path = join_path(f"[{index}]", "destinations", position)
            key = (destination.region, destination.account_id or home_account)
            if key in seen:
                other = join_path("destinations", seen[key])
                problems.append(Problem(path, f"is the same destination as {other}"))
            seen.setdefault(key, position)
            unique.add(key)
            if (
                home_region is not None
                and destination.region == home_region
                and destination.account_id in (None, home_account)
            ):
                problems.append(
                    Problem(
                        f"{path}.region",
                        f"{home_region} in this account is the registry being replicated; "
                        "give another Region or another account_id",
                    )
                )
        problems += _prefix_problems(index, rule.repository_prefixes or [])
    if len(unique) > MAX_REPLICATION_DESTINATIONS:
        problems.append(
            Problem(
                "",
                f"has {len(unique)} unique destinations across its rules; "
                f"ECR allows at most {MAX_REPLICATION_DESTINATIONS}",
            )
        )
    return problems


def _prefix_problems(index: int, prefixes: Sequence[str]) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for position, prefix in enumerate(prefixes):
        if prefix in first:
            problems.append(
                Problem(
                    join_path(f"[{index}]", "repository_prefixes", position),
                    f"the same prefix as repository_prefixes[{first[prefix]}]",
                )
            )
        first.setdefault(prefix, position)
    return problems
