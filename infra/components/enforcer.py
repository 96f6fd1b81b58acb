"""The enforcer: its function, its least-privilege role, the events that wake it, and (optionally) the trail.

The role's actions are ``required_iam_actions()`` (what the engine's reads, writes and publishers declare),
what the sweep queue's event source mapping needs (``QUEUE_CONSUMER_IAM_ACTIONS``) and the function's own
plumbing, listed in :data:`infra.iam.RUNTIME_ACTIONS`; nothing is granted by hand, but for
``sqs:SendMessage`` on the dead-letter queue, which Lambda uses with the role as the on-failure destination.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from ecr_drift import metrics
from ecr_drift.config import DESIRED_STATE_SHA256_TAG, DESIRED_STATE_SHA256_VARIABLE
from infra.config import APP_NAME, StackSettings
from infra.event_patterns import api_call_pattern, repository_created_pattern
from infra.iam import partition_of, role_policy, service_trust_policy
from infra.package import archive_sha256

HANDLER = "handler.enforce.lambda_handler"
DESIRED_STATE_MEMBER = "desired_state.json"  # its name in the zip (infra/package.py)
DESIRED_STATE_PATH = f"/var/task/{DESIRED_STATE_MEMBER}"  # the zip's root is the function's /var/task
# The SHA-256 of the deployed desired_state.json is also a tag, readable without the function's
# configuration (ListTags, the Resource Groups Tagging API).
TIMEOUT_SECONDS = 900  # Lambda's maximum: a sweep of a large registry needs it
MEMORY_MB = 512
# EventBridge retries a failed delivery (throttling, a missing permission) for up to a day, then parks the
# event in the dead-letter queue; the schedule re-checks everything anyway.
RETRY_MAX_EVENT_AGE_SECONDS = 86_400
RETRY_MAX_ATTEMPTS = 24
DLQ_RETENTION_SECONDS = 1_209_600  # 14 days, SQS's maximum
# Lambda's own handling of those asynchronous invocations. Its defaults (two retries, throttled events kept
# for six hours, then dropped) lose failures silently; one retry covers a transient error, and an event an
# hour old is stale: the next sweep re-checks everything. Failed and expired events go to the DLQ above.
ASYNC_MAX_RETRY_ATTEMPTS = 1
ASYNC_MAX_EVENT_AGE_SECONDS = 3_600
# AWS recommends a visibility timeout of 6x the function's timeout for an event source mapping, so that a
# batch is not delivered again while Lambda still retries a throttled invoke of it; SQS allows at most 12 h.
SWEEP_VISIBILITY_TIMEOUT_SECONDS = min(6 * TIMEOUT_SECONDS, 43_200)
# A batch received this often is parked in the sweep dead-letter queue. Throttled deliveries count too, so
# leave room beyond the failures and timeouts themselves.
SWEEP_MAX_RECEIVES = 5
# A batch may stay in the queue for SWEEP_MAX_RECEIVES x the visibility timeout (5 x 1.5 h = 7.5 h) before
# it is parked; retention must outlast that, or a failing batch expires unseen instead of reaching the
# dead-letter queue and its alarm. A day does, with room to spare; the next sweep resends everything anyway.
SWEEP_RETENTION_SECONDS = 86_400


@dataclass(frozen=True)
class EnforcerArgs:
    settings: StackSettings
    package: Path
    mode: str
    iam_actions: Sequence[str]
    # What the sweep queue's event source mapping does with the function's role (not the function's code).
    queue_consumer_iam_actions: Sequence[str]
    # The ECR actions on the registry as a whole (granted on "*"); the others are granted on repositories.
    registry_iam_actions: Sequence[str]
    # The services whose service-linked role a write may create: iam:CreateServiceLinkedRole for these only.
    service_linked_roles: Sequence[str]
    # The roles the writes pass to ECR (the desired state's cache rule roles): iam:PassRole on these only.
    passed_role_arns: Sequence[str]
    findings_topic_arn: pulumi.Input[str]
    account_id: pulumi.Input[str]


class Enforcer(pulumi.ComponentResource):
    """The Lambda, its role and log group, its DLQ (also the on-failure destination of its asynchronous
    invocations), (optionally) the sweep queue that fans a scheduled sweep out, and (optionally) a trail;
    :meth:`listen` adds what invokes it: the EventBridge rules and targets, and the sweep queue's mapping."""

    function: aws.lambda_.Function
    alias: aws.lambda_.Alias
    role: aws.iam.Role
    dead_letter_queue: aws.sqs.Queue
    # None without `sweepFanOut`: then the scheduled invocation sweeps the registry by itself.
    sweep_queue: aws.sqs.Queue | None
    sweep_dead_letter_queue: aws.sqs.Queue | None

    def __init__(self, name: str, args: EnforcerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecr-drift-enforcer:enforcer:Enforcer", name, None, opts)
        self._args = args
        settings = args.settings
        log_group = aws.cloudwatch.LogGroup(
            "log-group",
            name=f"/aws/lambda/{settings.function_name}",
            retention_in_days=settings.log_retention_days,
            opts=self._child(),
        )
        self.sweep_queue = self.sweep_dead_letter_queue = None
        if settings.sweep_fan_out:
            self.sweep_queue, self.sweep_dead_letter_queue = self._sweep_queues()
        self.role, self._role_policy = self._role(log_group)
        # Created after its permissions, so that its first invocation already has them.
        self.function = self._function(log_group, depends_on=[self._role_policy])
        # The targets invoke the alias: events reach the version that carries the current desired state.
        self.alias = aws.lambda_.Alias(
            "live",
            name="live",
            function_name=self.function.name,
            function_version=self.function.version,
            opts=self._child(),
        )
        self.dead_letter_queue = aws.sqs.Queue(
            "dead-letter-queue",
            name=settings.dead_letter_queue_name,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=self._child(),
        )
        self._async_invoke_config()
        if settings.create_cloudtrail:
            self._trail()
        self.register_outputs(
            {
                "function_name": self.function.name,
                "function_arn": self.function.arn,
                "alias_arn": self.alias.arn,
                "role_arn": self.role.arn,
                "sweep_queue_url": self.sweep_queue.url if self.sweep_queue else None,
            }
        )

    def listen(self, after: Sequence[pulumi.Resource]) -> None:
        """What invokes the function: the EventBridge rules and targets, and the sweep queue's mapping.

        They depend on ``after`` (the registry baseline): created once it is in place, and on `pulumi
        destroy` deleted before it, so that the baseline's deletions wake no enforcer to re-create it.
        """
        settings = self._args.settings
        if self.sweep_queue is not None:
            # Lambda checks the role's SQS permissions when the mapping is created.
            self._sweep_mapping(self.sweep_queue, depends_on=[self._role_policy, *after])
        rules = [
            self._rule(
                "api-calls",
                "ECR write calls made by anyone but the enforcer",
                after,
                event_pattern=self.role.arn.apply(lambda arn: json.dumps(api_call_pattern(arn))),
            ),
            self._rule(
                "repository-created",
                "Repositories ECR created itself (pull through cache, create on push)",
                after,
                event_pattern=json.dumps(repository_created_pattern()),
            ),
            self._rule(
                "schedule",
                "Periodic sweep of the whole registry",
                after,
                schedule_expression=settings.schedule_expression,
            ),
        ]
        self._dead_letter_queue_policy(rules)

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _role(self, log_group: aws.cloudwatch.LogGroup) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        args = self._args
        settings = args.settings
        role = aws.iam.Role(
            "role",
            description=f"{APP_NAME}: reads and re-applies the ECR settings of desired_state.json",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com"),
            opts=self._child(),
        )
        bus = settings.findings_event_bus
        bus_arn = pulumi.Output.from_input(args.account_id).apply(
            lambda account: (
                bus
                if bus.startswith("arn:")
                else f"arn:{partition_of(settings.region)}:events:{settings.region}:{account}:event-bus/{bus}"
            )
        )
        resources = pulumi.Output.all(
            account_id=args.account_id,
            log_group_arn=log_group.arn,
            topic_arn=args.findings_topic_arn,
            event_bus_arn=bus_arn,
            sweep_queue_arn=self.sweep_queue.arn if self.sweep_queue else None,
        )
        policy = resources.apply(
            lambda arns: json.dumps(
                role_policy(
                    args.iam_actions,
                    region=settings.region,
                    registry_iam_actions=args.registry_iam_actions,
                    service_linked_roles=args.service_linked_roles,
                    passed_role_arns=args.passed_role_arns,
                    queue_consumer_iam_actions=args.queue_consumer_iam_actions,
                    **arns,
                )
            )
        )
        return role, aws.iam.RolePolicy("role-policy", role=role.id, policy=policy, opts=self._child())

    def _function(
        self, log_group: aws.cloudwatch.LogGroup, depends_on: list[pulumi.Resource]
    ) -> aws.lambda_.Function:
        args = self._args
        settings = args.settings
        # What `doctor` compares with a local desired_state.json: the bytes the function reads, from the zip.
        desired_state_sha256 = member_sha256(args.package, DESIRED_STATE_MEMBER)
        environment: dict[str, pulumi.Input[str]] = {
            "DESIRED_STATE_PATH": DESIRED_STATE_PATH,
            DESIRED_STATE_SHA256_VARIABLE: desired_state_sha256,
            "ENFORCER_MODE": args.mode,
            "FINDINGS_TOPIC_ARN": args.findings_topic_arn,
            "FINDINGS_EVENT_BUS": settings.findings_event_bus,
            "SECURITY_HUB_FINDINGS": str(settings.security_hub_findings).lower(),
            "ENFORCER_ROLE_ARN": self.role.arn,
            "ENFORCER_CONCURRENCY": str(settings.enforcer_concurrency),
            "POWERTOOLS_SERVICE_NAME": metrics.SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": metrics.NAMESPACE,
        }
        if self.sweep_queue is not None:  # unset, the scheduled sweep runs in-process (ecr_drift/fanout.py)
            environment["SWEEP_QUEUE_URL"] = self.sweep_queue.url
            environment["SWEEP_BATCH_SIZE"] = str(settings.sweep_batch_size)
        return aws.lambda_.Function(
            "function",
            name=settings.function_name,
            description=f"{APP_NAME}: keeps ECR as desired_state.json declares",
            role=self.role.arn,
            runtime=settings.runtime,
            architectures=[settings.architecture],
            handler=HANDLER,
            code=pulumi.FileArchive(str(args.package)),
            source_code_hash=archive_sha256(args.package),
            layers=[self._powertools_layer()],
            timeout=TIMEOUT_SECONDS,
            memory_size=MEMORY_MB,
            # None, the default, leaves the function on the account's unreserved pool (no reservation).
            reserved_concurrent_executions=settings.reserved_concurrency,
            publish=True,  # a version per deployment, which the alias (and the baseline's ordering) follows
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            tags={DESIRED_STATE_SHA256_TAG: desired_state_sha256},
            opts=self._child(depends_on=depends_on),
        )

    def _powertools_layer(self) -> pulumi.Input[str]:
        """The pinned layer version, or else the latest: its ARN is the value of Powertools' public SSM
        parameter, read at each preview/up (so a new Powertools release updates the function)."""
        settings = self._args.settings
        if settings.powertools_layer_arn is not None:
            return settings.powertools_layer_arn
        # `insecure_value`: the parameter is a public String, and `value` would hide the ARN in diffs.
        parameter = aws.ssm.get_parameter_output(name=settings.powertools_layer_parameter)
        return parameter.apply(lambda result: result.insecure_value)

    def _async_invoke_config(self) -> None:
        """Retries and the on-failure destination of the asynchronous invocations EventBridge makes.

        The destination is the targets' dead-letter queue: one queue (and one alarm, DeadLetters) holds every
        event the enforcer never handled. Lambda sends there with the function's role, so the role may send
        to that queue alone, in a policy of its own.
        """
        queue = self.dead_letter_queue
        send = aws.iam.RolePolicy(
            "on-failure-destination-policy",
            role=self.role.id,
            policy=queue.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "OnFailureDestination",
                                "Effect": "Allow",
                                "Action": ["sqs:SendMessage"],
                                "Resource": [arn],
                            }
                        ],
                    }
                )
            ),
            opts=self._child(),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            "async-invoke-config",
            function_name=self.function.name,
            qualifier=self.alias.name,  # what the rules invoke
            maximum_retry_attempts=ASYNC_MAX_RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=ASYNC_MAX_EVENT_AGE_SECONDS,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=queue.arn
                )
            ),
            # Lambda checks that the role may send to the destination when the configuration is put.
            opts=self._child(depends_on=[send]),
        )

    def _sweep_queues(self) -> tuple[aws.sqs.Queue, aws.sqs.Queue]:
        """The queue of a scheduled sweep's batches, and the dead-letter queue of those that kept failing."""
        settings = self._args.settings
        dead_letters = aws.sqs.Queue(
            "sweep-dead-letter-queue",
            name=settings.sweep_dead_letter_queue_name,
            # Longer than the sweep queue's: a standard queue's message keeps its first enqueue time.
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=self._child(),
        )
        queue = aws.sqs.Queue(
            "sweep-queue",
            name=settings.sweep_queue_name,
            visibility_timeout_seconds=SWEEP_VISIBILITY_TIMEOUT_SECONDS,
            message_retention_seconds=SWEEP_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            redrive_policy=dead_letters.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": SWEEP_MAX_RECEIVES})
            ),
            opts=self._child(),
        )
        return queue, dead_letters

    def _sweep_mapping(
        self, queue: aws.sqs.Queue, depends_on: list[pulumi.Resource]
    ) -> aws.lambda_.EventSourceMapping:
        return aws.lambda_.EventSourceMapping(
            "sweep-queue-mapping",
            event_source_arn=queue.arn,
            function_name=self.alias.arn,  # like the rules: batches run the current desired state
            # One message is one engine run over up to SWEEP_BATCH_SIZE repositories and may need most of
            # the 900 s; a second message in the same invoke could run out of time and be delivered again.
            batch_size=1,
            # The handler names the messages to deliver again (batchItemFailures); the others are done.
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=self._args.settings.sweep_maximum_concurrency
            ),
            opts=self._child(depends_on=depends_on),
        )

    def _rule(
        self, name: str, description: str, after: Sequence[pulumi.Resource], **trigger: Any
    ) -> aws.cloudwatch.EventRule:
        rule = aws.cloudwatch.EventRule(
            name, description=f"{APP_NAME}: {description}", **trigger, opts=self._child(depends_on=after)
        )
        permission = aws.lambda_.Permission(
            f"{name}-permission",
            action="lambda:InvokeFunction",
            function=self.function.name,
            qualifier=self.alias.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=self._child(),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            arn=self.alias.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=RETRY_MAX_EVENT_AGE_SECONDS,
                maximum_retry_attempts=RETRY_MAX_ATTEMPTS,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=self.dead_letter_queue.arn),
            # Only a target that may invoke exists: created after its permission, deleted before it.
            opts=self._child(depends_on=[permission, *after]),
        )
        return rule

    def _dead_letter_queue_policy(self, rules: list[aws.cloudwatch.EventRule]) -> None:
        """Only these rules may park undeliverable events in the queue."""
        policy = pulumi.Output.all(self.dead_letter_queue.arn, *[r.arn for r in rules]).apply(
            lambda arns: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "EventBridgeDeadLetters",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": arns[0],
                            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(arns[1:])}},
                        }
                    ],
                }
            )
        )
        aws.sqs.QueuePolicy(
            "dead-letter-queue-policy",
            queue_url=self.dead_letter_queue.url,
            policy=policy,
            opts=self._child(),
        )

    def _trail(self) -> None:
        """A single-region trail of write management events: what EventBridge needs to see ECR API calls.

        Accounts in an AWS Organization usually have an organization trail already; then leave it off.
        """
        settings = self._args.settings
        trail_name = f"{APP_NAME}-{settings.stack}"
        bucket = aws.s3.Bucket("trail-bucket", force_destroy=False, opts=self._child())
        access = aws.s3.BucketPublicAccessBlock(
            "trail-bucket-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._child(),
        )
        trail_arn = pulumi.Output.from_input(self._args.account_id).apply(
            lambda account: f"arn:aws:cloudtrail:{settings.region}:{account}:trail/{trail_name}"
        )
        bucket_policy = aws.s3.BucketPolicy(
            "trail-bucket-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, trail_arn, self._args.account_id).apply(
                lambda values: json.dumps(_trail_bucket_policy(*values))
            ),
            opts=self._child(depends_on=[access]),
        )
        aws.cloudtrail.Trail(
            "trail",
            name=trail_name,
            s3_bucket_name=bucket.id,
            is_multi_region_trail=False,
            include_global_service_events=False,
            enable_log_file_validation=True,
            event_selectors=[
                aws.cloudtrail.TrailEventSelectorArgs(
                    read_write_type="WriteOnly", include_management_events=True
                )
            ],
            opts=self._child(depends_on=[bucket_policy]),
        )


def member_sha256(archive: Path, member: str) -> str:
    """The SHA-256 (hex) of one file of a zip, as extracted."""
    with zipfile.ZipFile(archive) as zf:
        return hashlib.sha256(zf.read(member)).hexdigest()


def _trail_bucket_policy(bucket_arn: str, trail_arn: str, account_id: str) -> dict[str, Any]:
    """CloudTrail's documented bucket policy, limited to this trail (aws:SourceArn)."""
    only_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": only_this_trail,
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}
                },
            },
        ],
    }
