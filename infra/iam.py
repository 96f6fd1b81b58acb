"""IAM documents the stack builds, as dicts rendered with json.dumps (never hand-written JSON)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

import botocore.session

# The function's plumbing, beyond what the engine declares: its log streams and its X-Ray traces.
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
XRAY_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")  # X-Ray has no resource-level scoping
RUNTIME_ACTIONS = LOG_ACTIONS + XRAY_ACTIONS
# A pull-through cache rule's custom role is passed to ECR, which its pull-through cache then assumes; the
# principal ECR names in iam:PassedToService is not documented, so either of its principals may receive it.
ECR_SERVICE_PRINCIPALS = ("ecr.amazonaws.com", "pullthroughcache.ecr.amazonaws.com")


def service_trust_policy(service: str) -> str:
    """A trust policy letting one AWS service (e.g. ``lambda.amazonaws.com``) assume the role."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def role_policy(
    iam_actions: Sequence[str],
    *,
    region: str,
    account_id: str,
    log_group_arn: str,
    topic_arn: str,
    event_bus_arn: str,
    registry_iam_actions: Collection[str],
    service_linked_roles: Sequence[str] = (),
    passed_role_arns: Sequence[str] = (),
    sweep_queue_arn: str | None = None,
    queue_consumer_iam_actions: Sequence[str] = (),
) -> dict[str, Any]:
    """The function's permissions: each declared action once, scoped to this stack's resources if it can be.

    ECR actions that name a repository are granted on the account's repositories in this region; the
    ``registry_iam_actions`` (registry-level, which IAM grants on ``*`` only) and the Inspector and Security
    Hub actions are held to the stack's region instead. KMS actions serve only ECR creating a repository
    with a KMS key, so they are allowed only through ECR. iam:CreateServiceLinkedRole is allowed only for
    the ``service_linked_roles`` (services named by ``iam:AWSServiceName``), and iam:PassRole only on the
    ``passed_role_arns`` (the desired state's roles) and only to ECR: not at all without such roles. The
    sweep queue is the only queue the function uses: the SQS actions (sending batches, and the event source
    mapping's receiving them) are granted on it alone, and not at all without it, when the function sends
    nothing.
    """
    declared = set(iam_actions)
    partition = partition_of(region)
    scoped = {"sns:Publish": [topic_arn], "events:PutEvents": [event_bus_arn]}
    kms = sorted(a for a in declared if a.startswith("kms:"))
    queue = {a for a in declared if a.startswith("sqs:")}
    # IAM is global: the regional condition below would deny these (their requested region is us-east-1).
    iam = {a for a in declared if a.startswith("iam:")}
    repository = sorted(a for a in declared if a.startswith("ecr:") and a not in registry_iam_actions)
    regional = sorted(declared - scoped.keys() - set(kms) - queue - iam - set(repository))
    statements: list[dict[str, Any]] = [
        {"Sid": _sid(action), "Effect": "Allow", "Action": [action], "Resource": scoped[action]}
        for action in sorted(declared & scoped.keys())
    ]
    if sweep_queue_arn is not None:
        statements.append(
            {
                "Sid": "SweepQueue",
                "Effect": "Allow",
                "Action": sorted(queue | set(queue_consumer_iam_actions)),
                "Resource": [sweep_queue_arn],
            }
        )
    if kms:
        statements.append(
            {
                "Sid": "KmsThroughEcr",
                "Effect": "Allow",
                "Action": kms,
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": f"ecr.{region}.amazonaws.com"}},
            }
        )
    if repository:
        statements.append(
            {
                "Sid": "EcrRepositories",
                "Effect": "Allow",
                "Action": repository,
                "Resource": [f"arn:{partition}:ecr:{region}:{account_id}:repository/*"],
            }
        )
    if regional:
        statements.append(
            {
                "Sid": "EnforcerDeclaredActions",
                "Effect": "Allow",
                "Action": regional,
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            }
        )
    if "iam:CreateServiceLinkedRole" in iam and service_linked_roles:
        services = sorted(set(service_linked_roles))
        statements.append(
            {
                "Sid": "ServiceLinkedRoles",
                "Effect": "Allow",
                "Action": ["iam:CreateServiceLinkedRole"],
                # IAM creates a service's linked role under the path /aws-service-role/<service>/.
                "Resource": [
                    f"arn:{partition}:iam::{account_id}:role/aws-service-role/{service}/*"
                    for service in services
                ],
                "Condition": {"StringEquals": {"iam:AWSServiceName": services}},
            }
        )
    if "iam:PassRole" in iam and passed_role_arns:
        statements.append(
            {
                "Sid": "PassRolesToEcr",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": sorted(set(passed_role_arns)),
                "Condition": {"StringEquals": {"iam:PassedToService": list(ECR_SERVICE_PRINCIPALS)}},
            }
        )
    statements += [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": list(LOG_ACTIONS),
            "Resource": f"{log_group_arn}:*",
        },
        {"Sid": "Tracing", "Effect": "Allow", "Action": list(XRAY_ACTIONS), "Resource": "*"},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def partition_of(region: str) -> str:
    """The ARN partition of ``region`` (aws, aws-cn, aws-us-gov, ...), from botocore's endpoint data."""
    return botocore.session.get_session().get_partition_for_region(region)


def _sid(action: str) -> str:
    service, name = action.split(":", 1)
    return f"{service.capitalize()}{name}"
