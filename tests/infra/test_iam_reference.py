"""The enforcer's role against AWS's Service Authorization Reference, which ``policy_sentry`` ships as data.

Every action the role grants comes with the dependent actions the reference lists for it (transitively), and
each ECR action is granted on the resource type the reference names: a repository, or ``*``. The reference
names no service for iam:CreateServiceLinkedRole and no role for iam:PassRole: those come from the ECR user
guide (below) and from the desired state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

import pytest
from policy_sentry.querying.actions import get_privilege_info

from ecr_drift.desired import DesiredState, load_desired_state_text
from ecr_drift.role import (
    QUEUE_CONSUMER_IAM_ACTIONS,
    passed_role_arns,
    registry_iam_actions,
    required_iam_actions,
    service_linked_roles,
)
from ecr_drift.settings import creation_templates, pull_through_cache
from infra.iam import ECR_SERVICE_PRINCIPALS, partition_of, role_policy
from tests.conftest import ACCOUNT_ID, REGION

REPOSITORIES = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/*"
CACHE_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/ecr-upstream-pull"
OTHER_CACHE_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/central-registry"
# Dependents the reference lists for a parameter the enforcer never sends; each is shown never sent below.
NEVER_SENT = {
    # customRoleArn: the enforcer's templates carry none (test_templates_never_pass_a_role).
    ("ecr:CreateRepositoryCreationTemplate", "iam:PassRole"),
    ("ecr:UpdateRepositoryCreationTemplate", "iam:PassRole"),
}
# The service-linked role an action may create, by the service it trusts (iam:AWSServiceName), from the ECR
# user guide: "Using service-linked roles for Amazon ECR" (AWSServiceRoleForECRPullThroughCache,
# AWSServiceRoleForECRReplication, AWSServiceRoleForECRTemplate) and "IAM permissions required for enhanced
# scanning" (Inspector's AWSServiceRoleForAmazonInspector2, which the reference does not list for
# PutRegistryScanningConfiguration).
SERVICE_LINKED_ROLES = {
    "ecr:CreatePullThroughCacheRule": "pullthroughcache.ecr.amazonaws.com",
    "ecr:PutReplicationConfiguration": "replication.ecr.amazonaws.com",
    "ecr:CreateRepositoryCreationTemplate": "ecr.amazonaws.com",
    "ecr:UpdateRepositoryCreationTemplate": "ecr.amazonaws.com",
    "ecr:PutRegistryScanningConfiguration": "inspector2.amazonaws.com",
}
STATE = {
    "version": 1,
    "registry": {
        "pull_through_cache": {
            "quay": {"upstream_registry_url": "quay.io", "custom_role_arn": CACHE_ROLE},
            "central": {"upstream_registry_url": "public.ecr.aws", "custom_role_arn": OTHER_CACHE_ROLE},
            "ecr-public": {"upstream_registry_url": "public.ecr.aws"},
        }
    },
    "repository_patterns": {
        "quay/*": {
            "tags": {"team": "platform"},
            "lifecycle": [{"tag_status": "any", "max_age_days": 30}],
            "pull_account_ids": ["111122223333"],
        },
        "team-a/*": {"image_tag_mutability": "MUTABLE"},
    },
}


@pytest.fixture(scope="module")
def state() -> DesiredState:
    return load_desired_state_text(json.dumps(STATE))


def _policy(region: str = REGION, passed: Iterable[str] = ()) -> dict[str, Any]:
    """The role's policy as infra/__main__.py builds it from the declarations, with these passed roles."""
    return role_policy(
        required_iam_actions(),
        region=region,
        account_id=ACCOUNT_ID,
        log_group_arn=f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:/aws/lambda/enforcer",
        topic_arn=f"arn:aws:sns:{region}:{ACCOUNT_ID}:findings",
        event_bus_arn=f"arn:aws:events:{region}:{ACCOUNT_ID}:event-bus/default",
        sweep_queue_arn=f"arn:aws:sqs:{region}:{ACCOUNT_ID}:sweep",
        queue_consumer_iam_actions=QUEUE_CONSUMER_IAM_ACTIONS,
        registry_iam_actions=registry_iam_actions(),
        service_linked_roles=service_linked_roles(),
        passed_role_arns=list(passed),
    )


def _granting(policy: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if action in s["Action"]]


def _granted(policy: dict[str, Any]) -> set[str]:
    return {action for statement in policy["Statement"] for action in statement["Action"]}


@cache
def _resource_types(action: str) -> dict[str, Any]:
    """The reference's entry: resource type ("" for none, i.e. "*") → its dependent actions and conditions."""
    service, name = action.split(":", 1)
    resource_types: dict[str, Any] = get_privilege_info(service, name)["resource_types"]
    return resource_types


def _dependents(action: str) -> set[str]:
    return {d for entry in _resource_types(action).values() for d in entry["dependent_actions"]}


def _missing_dependents(policy: dict[str, Any]) -> list[str]:
    granted = _granted(policy)
    missing = []
    for action in sorted(granted):
        needed, seen = [action], {action}
        while needed:  # the dependents' own dependents too
            for dependent in sorted(_dependents(needed.pop())):
                if (action, dependent) in NEVER_SENT or dependent in seen:
                    continue
                seen.add(dependent)
                needed.append(dependent)
                if dependent not in granted:
                    missing.append(f"{action} needs {dependent}")
    return missing


@pytest.mark.parametrize("passed", [(), (CACHE_ROLE,)], ids=["no-cache-role", "cache-role"])
def test_every_dependent_action_the_reference_lists_is_granted(
    passed: tuple[str, ...], state: DesiredState
) -> None:
    assert _missing_dependents(_policy(passed=passed)) == []
    # The check bites: without the service-linked role grant, the writes that create one are reported.
    unlinked = role_policy(
        required_iam_actions(),
        region=REGION,
        account_id=ACCOUNT_ID,
        log_group_arn="",
        topic_arn="",
        event_bus_arn="",
        registry_iam_actions=registry_iam_actions(),
    )
    assert "ecr:PutReplicationConfiguration needs iam:CreateServiceLinkedRole" in _missing_dependents(
        unlinked
    )
    # What NEVER_SENT rests on: no template call carries a customRoleArn, created or updated (Pulumi sets the
    # baseline's template role; UpdateRepositoryCreationTemplate leaves it).
    differing = {"prefix": "x", "appliedFor": ["REPLICATION"], "customRoleArn": CACHE_ROLE}
    calls = [
        call
        for prefix, template in creation_templates.creation_templates(state).items()
        for have in (None, differing)
        for call in creation_templates.SPEC.item_calls(prefix, template, have)
    ]
    assert {call.operation for call in calls} == {creation_templates.CREATE, creation_templates.UPDATE}
    assert not [call for call in calls if "customRoleArn" in call.parameters]


def test_service_linked_roles_only_for_the_services_aws_documents() -> None:
    policy = _policy()
    granted = _granted(policy)
    creating = {a for a in granted if "iam:CreateServiceLinkedRole" in _dependents(a)}
    assert creating <= SERVICE_LINKED_ROLES.keys(), "look up which service-linked role these create"
    services = sorted({service for action, service in SERVICE_LINKED_ROLES.items() if action in granted})
    assert services == [
        "ecr.amazonaws.com",
        "inspector2.amazonaws.com",
        "pullthroughcache.ecr.amazonaws.com",
        "replication.ecr.amazonaws.com",
    ]
    # One statement, never the regional one (IAM requests are in us-east-1), held to those services.
    (statement,) = _granting(policy, "iam:CreateServiceLinkedRole")
    assert statement == {
        "Sid": "ServiceLinkedRoles",
        "Effect": "Allow",
        "Action": ["iam:CreateServiceLinkedRole"],
        "Resource": [f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/{s}/*" for s in services],
        "Condition": {"StringEquals": {"iam:AWSServiceName": services}},
    }
    # The reference's resource type for the action is that role (or "*" with the condition key).
    assert "iam:AWSServiceName" in _resource_types("iam:CreateServiceLinkedRole")[""]["condition_keys"]


def test_pass_role_only_on_the_cache_rules_roles_and_only_to_ecr(state: DesiredState) -> None:
    roles = passed_role_arns(state)
    assert roles == sorted([CACHE_ROLE, OTHER_CACHE_ROLE])
    # Every role a cache rule call hands to ECR is one of them.
    rules = state.registry.pull_through_cache or {}
    sent = {
        call.parameters["customRoleArn"]
        for prefix, rule in rules.items()
        for call in pull_through_cache.SPEC.item_calls(prefix, rule, None)
        if "customRoleArn" in call.parameters
    }
    assert sent == set(roles)
    (statement,) = _granting(_policy(passed=roles), "iam:PassRole")
    assert statement == {
        "Sid": "PassRolesToEcr",
        "Effect": "Allow",
        "Action": ["iam:PassRole"],
        "Resource": roles,
        "Condition": {"StringEquals": {"iam:PassedToService": list(ECR_SERVICE_PRINCIPALS)}},
    }
    assert "ecr.amazonaws.com" in ECR_SERVICE_PRINCIPALS
    # No declared role: no iam:PassRole at all, never on "*".
    assert "iam:PassRole" in required_iam_actions()
    assert not _granting(_policy(), "iam:PassRole")


def test_repository_actions_on_repositories_registry_actions_on_star() -> None:
    policy = _policy(passed=(CACHE_ROLE,))
    ecr = sorted(a for a in _granted(policy) if a.startswith("ecr:"))
    repository_level = [a for a in ecr if "repository" in _resource_types(a)]
    registry_level = [a for a in ecr if a not in repository_level]
    for action in repository_level:
        assert [s["Resource"] for s in _granting(policy, action)] == [[REPOSITORIES]], action
    for action in registry_level:
        assert _resource_types(action).keys() == {""}, f"{action} names a resource type: scope it"
        (statement,) = _granting(policy, action)
        assert statement["Resource"] == "*"
        assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": REGION}}
    # The split the issue names, read from the reference rather than assumed.
    assert {"ecr:DescribeRepositories", "ecr:CreateRepository", "ecr:TagResource"} <= set(repository_level)
    assert {"ecr:PutReplicationConfiguration", "ecr:DescribePullThroughCacheRules"} <= set(registry_level)
    assert registry_level == registry_iam_actions()
    (repositories,) = [s for s in policy["Statement"] if s["Sid"] == "EcrRepositories"]
    assert "Condition" not in repositories  # the ARN holds the region and the account


@pytest.mark.parametrize(
    ("region", "partition"),
    [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")],
)
def test_arns_carry_the_regions_partition(region: str, partition: str) -> None:
    assert partition_of(region) == partition
    by_sid = {s["Sid"]: s for s in _policy(region)["Statement"]}
    assert by_sid["EcrRepositories"]["Resource"] == [
        f"arn:{partition}:ecr:{region}:{ACCOUNT_ID}:repository/*"
    ]
    assert all(
        arn.startswith(f"arn:{partition}:iam::{ACCOUNT_ID}:role/aws-service-role/")
        for arn in by_sid["ServiceLinkedRoles"]["Resource"]
    )
