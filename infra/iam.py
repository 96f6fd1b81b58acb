"""IAM documents the stack builds, as dicts rendered with json.dumps (never hand-written JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

# The function's plumbing, beyond what the engine declares: its log streams and its X-Ray traces.
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
XRAY_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")  # X-Ray has no resource-level scoping
RUNTIME_ACTIONS = LOG_ACTIONS + XRAY_ACTIONS


def service_trust_policy(service: str) -> str:
    """A trust policy letting one AWS service (e.g. ``lambda.amazonaws.com``) assume the role."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def role_policy(
    iam_actions: Sequence[str],
    *,
    region: str,
    log_group_arn: str,
    topic_arn: str,
    event_bus_arn: str,
    sweep_queue_arn: str | None = None,
    queue_consumer_iam_actions: Sequence[str] = (),
) -> dict[str, Any]:
    """The function's permissions: each declared action once, scoped to this stack's resources if it can be.

    ECR and Security Hub actions name resources the desired state does not know in advance (repositories
    created later, registry-level settings): they are held to the stack's region instead. KMS actions serve
    only ECR creating a repository with a KMS key, so they are allowed only through ECR. The sweep queue is
    the only queue the function uses: the SQS actions (sending batches, and the event source mapping's
    receiving them) are granted on it alone, and not at all without it, when the function sends nothing.
    """
    declared = set(iam_actions)
    scoped = {"sns:Publish": [topic_arn], "events:PutEvents": [event_bus_arn]}
    kms = sorted(a for a in declared if a.startswith("kms:"))
    queue = {a for a in declared if a.startswith("sqs:")}
    regional = sorted(declared - scoped.keys() - set(kms) - queue)
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


def _sid(action: str) -> str:
    service, name = action.split(":", 1)
    return f"{service.capitalize()}{name}"
