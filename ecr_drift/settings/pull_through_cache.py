"""Pull-through cache rules: ``registry.pull_through_cache``, by ECR repository prefix.

A missing rule is created; a changed credential or role is updated; a changed upstream (which
UpdatePullThroughCacheRule cannot change) means the rule is deleted and created again, the create retried,
and a create that still fails reported as a missing rule. Deleting a rule leaves its cached repositories
and their images alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecr_drift.desired.models import DesiredState, PullThroughCacheRule
from ecr_drift.desired.upstreams import upstream_registry
from ecr_drift.settings.base import KeyedRegistrySetting
from ecr_drift.state import Call, ObservedRegistry, Read, Write

READ = Read("DescribePullThroughCacheRules", paginate="pullThroughCacheRules")
CREATE = "CreatePullThroughCacheRule"
UPDATE = "UpdatePullThroughCacheRule"
DELETE = "DeletePullThroughCacheRule"
NOT_FOUND = "PullThroughCacheRuleNotFoundException"
# The default upstream prefix: DescribePullThroughCacheRules may return it for a rule created without one.
ROOT_PREFIX = "ROOT"
_CREDENTIALS = {"credential_arn": "credentialArn", "custom_role_arn": "customRoleArn"}
# A rule's customRoleArn is handed to ECR: iam:PassRole, granted on the desired state's roles only.
PASS_ROLE = ("iam:PassRole",)
# The registry's first rule creates AWSServiceRoleForECRPullThroughCache.
SERVICE_LINKED_ROLE = "pullthroughcache.ecr.amazonaws.com"


class PullThroughCache(KeyedRegistrySetting[PullThroughCacheRule]):
    name = "pull_through_cache_rule"
    title = "pull-through cache rule"
    item = "rule"
    # No other registry item depends on a rule in the account: the creation templates under its prefix take
    # their appliedFor from the desired state's rules, so changing a rule in the account leaves the desired
    # and the live template as they were (a template changed alongside has an event of its own).
    item_parameter = "ecrRepositoryPrefix"
    fields = ("registry.pull_through_cache",)
    reads = (READ,)
    writes = (
        Write(CREATE, implied_iam_actions=PASS_ROLE, service_linked_roles=(SERVICE_LINKED_ROLE,)),
        Write(UPDATE, implied_iam_actions=PASS_ROLE),
        Write(DELETE, subtractive=True),
    )
    events = (CREATE, UPDATE, DELETE)

    def desired(self, state: DesiredState) -> Mapping[str, PullThroughCacheRule] | None:
        return state.registry.pull_through_cache

    def observed_items(self, observed: ObservedRegistry) -> Mapping[str, Mapping[str, Any]]:
        rules = observed.reads[READ]["pullThroughCacheRules"]
        return {rule["ecrRepositoryPrefix"]: rule for rule in rules}

    def canonical_item(self, item: PullThroughCacheRule) -> Any:
        return _canonical(
            item.upstream_registry_url,
            item.credential_arn,
            item.custom_role_arn,
            item.upstream_repository_prefix,
        )

    def canonical_observed_item(self, item: Mapping[str, Any]) -> Any:
        return _canonical(
            item["upstreamRegistryUrl"],
            item.get("credentialArn"),
            item.get("customRoleArn"),
            item.get("upstreamRepositoryPrefix"),
        )

    def item_calls(self, key: str, want: PullThroughCacheRule, have: Mapping[str, Any] | None) -> list[Call]:
        wanted = self.canonical_item(want)
        if have is not None and _needs_replacing(wanted, self.canonical_observed_item(have)):
            # Deleted by someone since it was read: gone is what this delete wanted.
            delete = Call(DELETE, {"ecrRepositoryPrefix": key}, subtractive=True, absent_ok=NOT_FOUND)
            missing = (
                f"the rule for `{key}` was deleted to change its upstream and is now missing: pulls through "
                f"`{key}/` fail until it is created (the next run tries again)"
            )
            return [delete, Call(CREATE, _create_parameters(key, wanted), if_failed=missing)]
        if have is None:
            return [Call(CREATE, _create_parameters(key, wanted))]
        return [Call(UPDATE, {"ecrRepositoryPrefix": key, **_credentials(wanted)})]


def _canonical(url: str, credential: str | None, role: str | None, prefix: str | None) -> dict[str, str]:
    values = {
        "upstream_registry_url": url,
        "credential_arn": credential,
        "custom_role_arn": role,
        "upstream_repository_prefix": None if prefix == ROOT_PREFIX else prefix,
    }
    return {key: value for key, value in values.items() if value}


def _needs_replacing(want: dict[str, str], have: dict[str, str]) -> bool:
    # UpdatePullThroughCacheRule sets a credential or role; it cannot change the upstream or drop either.
    fixed = ("upstream_registry_url", "upstream_repository_prefix")
    dropped = any(key in have and key not in want for key in _CREDENTIALS)
    return dropped or any(want.get(key) != have.get(key) for key in fixed)


def _credentials(rule: dict[str, str]) -> dict[str, Any]:
    return {api: rule[key] for key, api in _CREDENTIALS.items() if key in rule}


def _create_parameters(prefix: str, rule: dict[str, str]) -> dict[str, Any]:
    url = rule["upstream_registry_url"]
    parameters: dict[str, Any] = {
        "ecrRepositoryPrefix": prefix,
        "upstreamRegistryUrl": url,
        **_credentials(rule),
    }
    if (registry := upstream_registry(url)) is not None:
        parameters["upstreamRegistry"] = registry
    if "upstream_repository_prefix" in rule:
        parameters["upstreamRepositoryPrefix"] = rule["upstream_repository_prefix"]
    return parameters


SPEC = PullThroughCache()
