"""The deployer's policy (infra/deployer_policy.py) against what the program declares under mocks: every
resource type is covered, and every named resource matches the ARNs the policy scopes to."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from policy_sentry.querying.actions import get_privilege_info

from infra.deployer_policy import (
    RESOURCE_SERVICES,
    ROLE_NAMES,
    TOPIC_NAME,
    TRAIL_BUCKET_NAME,
    deployer_policy,
    main,
)
from tests.conftest import ACCOUNT_ID, REGION
from tests.infra.conftest import StackRun, example_stack_config, run_program, stack_yaml

pytestmark = pytest.mark.filterwarnings("ignore:.*has been deprecated in favor of:DeprecationWarning")

CACHE_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/ecr-upstream-pull"


@pytest.fixture(scope="module")
def dev_without_fan_out(program_env: Path) -> StackRun:
    config = {**example_stack_config("dev"), "ecr-drift-enforcer:sweepFanOut": "false"}
    return run_program("dev", config)


def _policy(run: StackRun, passed_roles: tuple[str, ...] = ()) -> dict[str, Any]:
    cloudtrail = bool(stack_yaml(run.stack).get("ecr-drift-enforcer:createCloudTrail", False))
    return deployer_policy(
        stack=run.stack,
        region=REGION,
        account_id=ACCOUNT_ID,
        create_cloudtrail=cloudtrail,
        passed_roles=passed_roles,
    )


def _allowed(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether a statement grants ``action`` on ``resource`` (conditions aside: they are checked apart)."""
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatchcase(action, a) for a in statement["Action"]) and any(
            fnmatchcase(resource, r) for r in resources
        ):
            return True
    return False


def test_every_resource_type_a_stack_declares_is_covered(
    dev: StackRun, prod: StackRun, dev_without_fan_out: StackRun
) -> None:
    for run in (dev, prod, dev_without_fan_out):
        policy = _policy(run)
        actions = [a for s in policy["Statement"] for a in s["Action"]]
        types = {r.type for r in run.resources if r.type.startswith("aws:")}
        assert types <= RESOURCE_SERVICES.keys(), types - RESOURCE_SERVICES.keys()
        for type_ in types:
            assert f"{RESOURCE_SERVICES[type_]}:*" in actions or RESOURCE_SERVICES[type_] == "iam", type_
    # The trail's services only where a trail is declared.
    assert dev.of_type("aws:cloudtrail/trail:Trail")
    assert not prod.of_type("aws:cloudtrail/trail:Trail")
    assert {"cloudtrail:*", "s3:*"} <= {a for s in _policy(dev)["Statement"] for a in s["Action"]}
    assert not [
        a for s in _policy(prod)["Statement"] for a in s["Action"] if a.startswith(("cloudtrail:", "s3:"))
    ]


def test_the_named_resources_are_within_the_scoped_arns(dev: StackRun) -> None:
    policy = _policy(dev)
    prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT_ID}"
    function = dev.one("aws:lambda/function:Function", "function").inputs
    named = {
        "lambda": [
            f"{prefix.format('lambda')}:function:{function['name']}",
            dev.one("aws:lambda/alias:Alias", "live").inputs["arn"],
        ],
        "sqs": [q.inputs["arn"] for q in dev.of_type("aws:sqs/queue:Queue")],
        "logs": [
            f"{prefix.format('logs')}:log-group:{g.inputs['name']}"
            for g in dev.of_type("aws:cloudwatch/logGroup:LogGroup")
        ],
        "cloudwatch": [
            *(
                f"{prefix.format('cloudwatch')}:alarm:{a.inputs['name']}"
                for a in dev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
            ),
            f"arn:aws:cloudwatch::{ACCOUNT_ID}:dashboard/"
            + dev.one("aws:cloudwatch/dashboard:Dashboard", "dashboard").inputs["dashboardName"],
        ],
        "cloudtrail": [
            f"{prefix.format('cloudtrail')}:trail/{t.inputs['name']}"
            for t in dev.of_type("aws:cloudtrail/trail:Trail")
        ],
        "events": [r.inputs["arn"] for r in dev.of_type("aws:cloudwatch/eventRule:EventRule")],
    }
    updates = {
        "lambda": "lambda:UpdateFunctionCode",
        "sqs": "sqs:SetQueueAttributes",
        "logs": "logs:PutRetentionPolicy",
        "cloudwatch": "cloudwatch:PutMetricAlarm",
        "cloudtrail": "cloudtrail:UpdateTrail",
        "events": "events:PutTargets",
    }
    for service, arns in named.items():
        assert arns, service
        for arn in arns:
            assert _allowed(policy, updates[service], arn), arn
    # Pulumi names these: the logical name and a random suffix, as `<name>-1a2b3c4`.
    assert {r.name for r in dev.of_type("aws:iam/role:Role")} == set(ROLE_NAMES)
    for name in ROLE_NAMES:
        role = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}-1a2b3c4"
        assert _allowed(policy, "iam:PutRolePolicy", role)
        assert _allowed(policy, "iam:PassRole", role)
    assert [t.name for t in dev.of_type("aws:sns/topic:Topic")] == [TOPIC_NAME]
    assert _allowed(policy, "sns:Subscribe", f"{prefix.format('sns')}:{TOPIC_NAME}-1a2b3c4")
    assert [b.name for b in dev.of_type("aws:s3/bucket:Bucket")] == [TRAIL_BUCKET_NAME]
    assert _allowed(policy, "s3:PutBucketPolicy", f"arn:aws:s3:::{TRAIL_BUCKET_NAME}-1a2b3c4")
    # Another stack's resources are not.
    assert not _allowed(
        policy, "lambda:UpdateFunctionCode", f"{prefix.format('lambda')}:function:ecr-drift-enforcer-prod"
    )
    assert not _allowed(policy, "sqs:DeleteQueue", f"{prefix.format('sqs')}:ecr-drift-enforcer-prod-dlq")
    assert not _allowed(policy, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT_ID}:role/admin")


def test_every_action_exists_and_unscoped_ones_name_no_resource(dev: StackRun) -> None:
    for statement in _policy(dev, (CACHE_ROLE,))["Statement"]:
        for action in statement["Action"]:
            service, name = action.split(":")
            if name == "*":
                continue
            resource_types = get_privilege_info(service, name)[
                "resource_types"
            ]  # raises for an unknown action
            if statement["Sid"] == "Unnamed":
                assert resource_types.keys() == {""}, action


def test_passed_roles_go_to_lambda_and_ecr_only(dev: StackRun) -> None:
    (statement,) = [s for s in _policy(dev, (CACHE_ROLE,))["Statement"] if s["Sid"] == "PassRoles"]
    assert CACHE_ROLE in statement["Resource"]
    assert statement["Condition"] == {
        "StringEquals": {
            "iam:PassedToService": [
                "lambda.amazonaws.com",
                "ecr.amazonaws.com",
                "pullthroughcache.ecr.amazonaws.com",
            ]
        }
    }


def test_the_command_prints_the_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    state = tmp_path / "desired_state.json"
    state.write_text(
        json.dumps(
            {
                "version": 1,
                "registry": {
                    "pull_through_cache": {
                        "central": {"upstream_registry_url": "public.ecr.aws", "custom_role_arn": CACHE_ROLE}
                    }
                },
            }
        )
    )
    main(
        [
            "--stack",
            "dev",
            "--region",
            REGION,
            "--account-id",
            ACCOUNT_ID,
            "--cloudtrail",
            "--desired-state",
            str(state),
        ]
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed == deployer_policy(
        stack="dev", region=REGION, account_id=ACCOUNT_ID, create_cloudtrail=True, passed_roles=(CACHE_ROLE,)
    )
