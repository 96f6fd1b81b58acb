"""What the account has, as desired-state fields: one reader per setting, from what the settings read.

Pure: no AWS, no I/O. Each reader starts from the setting's own view of the account (its ``actual``, its
``template_canonical`` or the helpers they use), so import reads ECR's answers exactly as the enforcer does.
A reader does not check that its fields validate or compile back to what ECR has: ``ecr_drift.adoption.adopt``
proves both, through the loader and the diff themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ecr_drift.desired.models import Enforcement, RegistryScanning
from ecr_drift.documents.canonical_json import dumps
from ecr_drift.documents.iam_policy import policy_statements, sid
from ecr_drift.documents.lifecycle_shorthand import lifecycle_field
from ecr_drift.documents.registry_policy import WHAT as REGISTRY_POLICY
from ecr_drift.documents.registry_policy import parse_registry_policy
from ecr_drift.documents.replication import canonical_replication
from ecr_drift.documents.repository_policy import (
    MANAGED_SIDS,
    PULL_SID,
    PUSH_SID,
    WHAT,
    build_repository_policy,
    canonical_repository_policy,
    parse_repository_policy,
)
from ecr_drift.settings import (
    encryption,
    lifecycle_policy,
    pull_through_cache,
    registry_policy,
    registry_scanning,
    replication,
    scan_on_push,
    tag_mutability,
    tags,
)
from ecr_drift.settings.repository_policy import observed_text
from ecr_drift.state import ObservedRegistry, ObservedRepository

Fields = dict[str, Any]

# Statements AWS services add (Lambda's image retrieval): the enforcer keeps them whatever the file says.
KEPT_SIDS = frozenset(Enforcement().keep_policy_sids)
_ACCOUNT = re.compile(r"(?:arn:aws[a-z-]*:iam::)?([0-9]{12})(?::root)?")
# ``actual`` reads what the repository has; the desired value it is given only matters to tags, which then
# read every tag rather than the desired ones.
_EVERY_TAG = tags.Tags({}, remove_unmanaged=True)
_ANY_LIFECYCLE: dict[str, Any] = {"rules": []}
_ANY_SCANNING = RegistryScanning(scan_type="BASIC")


class Unexpressible(ValueError):
    """What the account has that the desired state cannot say; ``field`` is the path under the settings."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


# ---------------------------------------------------------------------------------------------------------
# Repository settings, by setting name: from a repository, and from a repository creation template (a
# setting templates do not carry has no template reader).


def _mutability(entry: Mapping[str, Any]) -> Fields:
    try:
        mutability = tag_mutability.observed_tag_mutability(entry)
    except ValueError as error:
        raise Unexpressible("image_tag_mutability_exclusions", str(error)) from None
    return {
        "image_tag_mutability": mutability.value.removesuffix("_WITH_EXCLUSION"),
        "image_tag_mutability_exclusions": list(mutability.exclusions),
    }


def _lifecycle(canonical: Any) -> Fields:
    """From the setting's canonical value: None (no policy), the policy, or text that is not one."""
    if canonical is None:
        return {"lifecycle": []}
    if isinstance(canonical, str):
        raise Unexpressible("lifecycle", "the lifecycle policy is not JSON with a `rules` list")
    return {"lifecycle": lifecycle_field(canonical)}


def repository_policy_fields(text: str | None) -> Fields:
    """``pull_account_ids``, ``push_account_ids`` and ``policy_statements`` for a repository policy text.

    Statements whose Sid is kept are left out (the enforcer keeps them anyway). The account statements
    must be exactly what the compiler makes of the account ids, since their Sids are reserved for it.
    """
    try:
        statements = [] if text is None else policy_statements(parse_repository_policy(text), WHAT)
    except ValueError as error:
        raise Unexpressible("policy_statements", str(error)) from None
    declared = [dict(s) for s in statements if sid(s) not in KEPT_SIDS]
    accounts = {sid(s): _accounts(s) for s in declared if sid(s) in MANAGED_SIDS}
    pull, push = accounts.get(PULL_SID, set()), accounts.get(PUSH_SID, set())
    fields: Fields = {
        "pull_account_ids": sorted(pull - push),
        "push_account_ids": sorted(push),
        "policy_statements": sorted((s for s in declared if sid(s) not in MANAGED_SIDS), key=sid),
    }
    compiled = build_repository_policy(fields["pull_account_ids"], fields["push_account_ids"], None)
    observed = [s for s in declared if sid(s) in MANAGED_SIDS]
    if compiled is None or dumps(canonical_repository_policy({"Statement": observed})) != dumps(
        canonical_repository_policy(compiled)
    ):
        raise Unexpressible(
            "policy_statements",
            f"the {' and '.join(sorted(accounts))} statements are not what pull_account_ids / "
            "push_account_ids compile to, and their Sids are reserved for them",
        )
    return fields


def _accounts(statement: Mapping[str, Any]) -> set[str]:
    """The account ids a statement's ``{"AWS": ...}`` principal names; none if it names anything else."""
    principal = statement.get("Principal")
    values = principal.get("AWS") if isinstance(principal, dict) and principal.keys() == {"AWS"} else None
    values = [values] if isinstance(values, str) else values if isinstance(values, list) else []
    matches = [_ACCOUNT.fullmatch(v) if isinstance(v, str) else None for v in values]
    return {m.group(1) for m in matches if m is not None} if all(matches) else set()


FROM_REPOSITORY: dict[str, Callable[[ObservedRepository], Fields]] = {
    "scan_on_push": lambda o: {"scan_on_push": scan_on_push.SPEC.actual(True, o)},
    "image_tag_mutability": lambda o: _mutability(o.description),
    "lifecycle_policy": lambda o: _lifecycle(lifecycle_policy.SPEC.actual(_ANY_LIFECYCLE, o)),
    "repository_policy": lambda o: repository_policy_fields(observed_text(o)),
    "tags": lambda o: {"tags": tags.SPEC.actual(_EVERY_TAG, o)},
    "encryption": lambda o: {
        "encryption": encryption.canonical(o.description.get("encryptionConfiguration"))
    },
}
FROM_TEMPLATE: dict[str, Callable[[Mapping[str, Any]], Fields]] = {
    "image_tag_mutability": _mutability,
    "lifecycle_policy": lambda t: _lifecycle(lifecycle_policy.SPEC.template_canonical(t)),
    "repository_policy": lambda t: repository_policy_fields(t.get("repositoryPolicy") or None),
    "tags": lambda t: {"tags": tags.SPEC.template_canonical(t)},
    "encryption": lambda t: {"encryption": encryption.canonical(t.get("encryptionConfiguration"))},
}


# ---------------------------------------------------------------------------------------------------------
# Registry settings, by their field of `registry`.


def registry_account(observed: ObservedRegistry) -> str:
    return str(observed.reads[replication.READ]["registryId"])


def _replication(observed: ObservedRegistry) -> list[dict[str, Any]]:
    """The rules; a destination in this account leaves ``account_id`` out. A key the contract has no field
    for is dropped here and shows when the rules are compared with ECR's."""
    configuration = observed.reads[replication.READ].get("replicationConfiguration")
    account = registry_account(observed)
    rules = []
    for rule in canonical_replication(configuration)["rules"]:
        destinations = [
            {"region": d["region"], **({"account_id": d["registryId"]} if d["registryId"] != account else {})}
            for d in rule["destinations"]
        ]
        prefixes = [f["filter"] for f in rule.get("repositoryFilters", [])]
        rules.append(
            {"destinations": destinations, **({"repository_prefixes": prefixes} if prefixes else {})}
        )
    return rules


def _registry_policy(observed: ObservedRegistry) -> list[dict[str, Any]]:
    response = observed.reads.get(registry_policy.READ)
    if not response:
        return []
    try:
        statements = policy_statements(parse_registry_policy(response["policyText"]), REGISTRY_POLICY)
    except ValueError as error:
        raise Unexpressible("policy_statements", str(error)) from None
    return sorted((dict(s) for s in statements), key=sid)


def _pull_through_cache(observed: ObservedRegistry) -> dict[str, Any]:
    rules = pull_through_cache.SPEC.observed_items(observed)
    return {prefix: pull_through_cache.SPEC.canonical_observed_item(rule) for prefix, rule in rules.items()}


FROM_REGISTRY: dict[str, Callable[[ObservedRegistry], Any]] = {
    "scanning": lambda o: registry_scanning.SPEC.actual(_ANY_SCANNING, o),
    "pull_through_cache": _pull_through_cache,
    "replication": _replication,
    "policy_statements": _registry_policy,
}
