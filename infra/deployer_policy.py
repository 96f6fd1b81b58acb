"""The IAM policy of whoever runs `pulumi preview`, `up`, `refresh` and `destroy` for a stack: a person or CI.

Derived from the resource types the program declares (:data:`RESOURCE_SERVICES`, which the tests hold to every
type any stack registers) and the names it gives them. A service's actions are granted whole (``lambda:*``):
the AWS provider reads every attribute of a resource after each change, with calls that vary by provider
version, and the grant is no wider for it where the resources are named (``ecr-drift-enforcer-<stack>...``).
Registry-wide ECR settings and repositories that only the desired state names are granted on ``*``, held to
the stack's region like Lambda, whose event source mappings have no name to scope by.

Print it (infra/README.md, "Deployer permissions")::

    python -m infra.deployer_policy --stack dev --region eu-west-1 --account-id 123456789012 [--cloudtrail]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecr_drift.desired import load_desired_state
from ecr_drift.role import passed_role_arns, service_linked_roles
from infra.config import APP_NAME, POWERTOOLS_LAYER_ACCOUNT
from infra.iam import ECR_SERVICE_PRINCIPALS, partition_of

# The IAM service each resource type's provider calls.
RESOURCE_SERVICES = {
    "aws:cloudtrail/trail:Trail": "cloudtrail",
    "aws:cloudwatch/dashboard:Dashboard": "cloudwatch",
    "aws:cloudwatch/eventRule:EventRule": "events",
    "aws:cloudwatch/eventTarget:EventTarget": "events",
    "aws:cloudwatch/logGroup:LogGroup": "logs",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "cloudwatch",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "ecr",
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule": "ecr",
    "aws:ecr/registryPolicy:RegistryPolicy": "ecr",
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": "ecr",
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": "ecr",
    "aws:ecr/repository:Repository": "ecr",
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": "ecr",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "ecr",
    "aws:iam/role:Role": "iam",
    "aws:iam/rolePolicy:RolePolicy": "iam",
    "aws:lambda/alias:Alias": "lambda",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "lambda",
    "aws:lambda/function:Function": "lambda",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": "lambda",
    "aws:lambda/permission:Permission": "lambda",
    "aws:s3/bucket:Bucket": "s3",
    "aws:s3/bucketPolicy:BucketPolicy": "s3",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "s3",
    "aws:sns/topic:Topic": "sns",
    "aws:sns/topicSubscription:TopicSubscription": "sns",
    "aws:sqs/queue:Queue": "sqs",
    "aws:sqs/queuePolicy:QueuePolicy": "sqs",
}
# Resources Pulumi names (the logical name and a random suffix): the roles, the topic, the trail's bucket.
ROLE_NAMES = ("role", "creation-template-role")
TOPIC_NAME = "findings"
TRAIL_BUCKET_NAME = "trail-bucket"
# What the AWS provider calls to create, read, update and delete a role and its inline policy.
ROLE_ACTIONS = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:ListRolePolicies",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)
# ECR creates a repository with a KMS key through grants of the caller's.
KMS_ACTIONS = ("kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant")


def deployer_policy(
    *, stack: str, region: str, account_id: str, create_cloudtrail: bool, passed_roles: Sequence[str] = ()
) -> dict[str, Any]:
    """The policy document; ``passed_roles`` are the desired state's pull-through cache roles."""
    partition = partition_of(region)
    prefix = f"{APP_NAME}-{stack}"  # the function, its queues, alarms, dashboard and trail
    regional = {"StringEquals": {"aws:RequestedRegion": region}}
    arn = f"arn:{partition}"
    roles = [f"{arn}:iam::{account_id}:role/{name}-*" for name in ROLE_NAMES]
    statements: list[dict[str, Any]] = [
        {"Sid": "Registry", "Effect": "Allow", "Action": ["ecr:*"], "Resource": "*", "Condition": regional},
        # The function, its versions, alias, permissions and invoke config, the sweep queue's event source
        # mapping, and the Powertools layer it uses.
        {
            "Sid": "Function",
            "Effect": "Allow",
            "Action": ["lambda:*"],
            "Resource": [
                f"{arn}:lambda:{region}:{account_id}:function:{prefix}",
                f"{arn}:lambda:{region}:{account_id}:function:{prefix}:*",
                f"{arn}:lambda:{region}:{account_id}:event-source-mapping:*",
                f"{arn}:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:AWSLambdaPowertoolsPythonV3-*",
            ],
        },
        {
            "Sid": "OwnResources",
            "Effect": "Allow",
            "Action": ["cloudwatch:*", "events:*", "logs:*", "sns:*", "sqs:*"],
            "Resource": [
                f"{arn}:cloudwatch:{region}:{account_id}:alarm:{prefix}-*",
                f"{arn}:cloudwatch::{account_id}:dashboard/{prefix}",
                f"{arn}:events:{region}:{account_id}:rule/*",  # Pulumi names the rules
                f"{arn}:logs:{region}:{account_id}:log-group:/aws/lambda/{prefix}",
                f"{arn}:logs:{region}:{account_id}:log-group:/aws/lambda/{prefix}:*",
                f"{arn}:sns:{region}:{account_id}:{TOPIC_NAME}-*",  # the topic and its subscriptions
                f"{arn}:sqs:{region}:{account_id}:{prefix}-*",
            ],
        },
        # Calls that name no resource: creating an event source mapping, listing.
        {
            "Sid": "Unnamed",
            "Effect": "Allow",
            "Action": [
                "lambda:CreateEventSourceMapping",
                "lambda:ListEventSourceMappings",
                "logs:DescribeLogGroups",
            ],
            "Resource": "*",
            "Condition": regional,
        },
        {"Sid": "Roles", "Effect": "Allow", "Action": list(ROLE_ACTIONS), "Resource": roles},
        # The function's role to Lambda, the creation templates' role and the cache rules' roles to ECR.
        {
            "Sid": "PassRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [*roles, *sorted(passed_roles)],
            "Condition": {
                "StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", *ECR_SERVICE_PRINCIPALS]}
            },
        },
        # Replication, pull-through cache and templates create ECR's service-linked roles at first use.
        {
            "Sid": "ServiceLinkedRoles",
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": list(service_linked_roles())}},
        },
        {
            "Sid": "KmsThroughEcr",
            "Effect": "Allow",
            "Action": list(KMS_ACTIONS),
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": f"ecr.{region}.amazonaws.com"}},
        },
        # The latest Powertools layer's ARN (unless powertoolsLayerVersion pins it).
        {
            "Sid": "PowertoolsParameter",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": f"{arn}:ssm:{region}::parameter/aws/service/powertools/*",
        },
    ]
    if create_cloudtrail:
        statements += [
            {
                "Sid": "Trail",
                "Effect": "Allow",
                "Action": ["cloudtrail:*"],
                "Resource": "*",  # DescribeTrails names no trail
                "Condition": regional,
            },
            {
                "Sid": "TrailBucket",
                "Effect": "Allow",
                "Action": ["s3:*"],
                "Resource": [f"{arn}:s3:::{TRAIL_BUCKET_NAME}-*", f"{arn}:s3:::{TRAIL_BUCKET_NAME}-*/*"],
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infra.deployer_policy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--stack", required=True, help="the stack's name (dev, prod, ...)")
    parser.add_argument("--region", required=True, help="the stack's aws:region")
    parser.add_argument("--account-id", required=True, help="the account the stack deploys to")
    parser.add_argument("--cloudtrail", action="store_true", help="the stack sets createCloudTrail: true")
    parser.add_argument(
        "--desired-state",
        type=Path,
        default=Path("desired_state.json"),
        help="the stack's desiredStatePath (its cache rules' roles are passed to ECR)",
    )
    args = parser.parse_args(argv)
    policy = deployer_policy(
        stack=args.stack,
        region=args.region,
        account_id=args.account_id,
        create_cloudtrail=args.cloudtrail,
        passed_roles=passed_role_arns(load_desired_state(args.desired_state)),
    )
    print(json.dumps(policy, indent=2))


if __name__ == "__main__":
    main()
