"""Alerting: the findings topic and its e-mail subscriptions, alarms on the enforcer's metrics, a dashboard.

The enforcer publishes its metrics with Powertools (CloudWatch EMF), which adds the ``service`` dimension.
Alarms and widgets are built as plain data first, so their shape is tested without Pulumi.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ecr_drift import metrics
from infra.config import APP_NAME, StackSettings

PERIOD_SECONDS = 300


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    description: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    statistic: str = "Sum"


def alarm_specs(settings: StackSettings) -> list[AlarmSpec]:
    """One alarm per condition an operator must look at; each fires on a single occurrence."""
    service = {"service": APP_NAME}

    def enforcer(metric: str, description: str) -> AlarmSpec:
        return AlarmSpec(metric, description, metrics.NAMESPACE, metric, service)

    def queue_depth(name: str, description: str, queue: str) -> AlarmSpec:
        return AlarmSpec(
            name,
            description,
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": queue},
            statistic="Maximum",
        )

    specs = [
        enforcer(metrics.DRIFT_DETECTED, "A managed ECR setting differed from desired_state.json"),
        enforcer(metrics.REMEDIATION_FAILED, "The enforcer could not re-apply a drifted setting"),
        enforcer(
            metrics.DESIRED_STATE_INVALID,
            "The deployed desired_state.json does not validate: nothing is enforced",
        ),
        enforcer(metrics.ENFORCER_ERRORS, "The enforcer failed unexpectedly"),
        enforcer(
            metrics.CONFIG_INVALID,
            "The function's environment variables do not validate: nothing is checked or enforced",
        ),
        enforcer(
            metrics.PUBLISH_FAILURES,
            "Findings could not be sent to SNS, EventBridge or Security Hub: they are only in the logs",
        ),
        AlarmSpec(
            "LambdaErrors",
            "The enforcer function raised or timed out",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": settings.function_name},
        ),
        # Also the asynchronous invocations' on-failure destination (enforcer.py): one alarm for both.
        queue_depth(
            "DeadLetters",
            "Events the enforcer never handled (undeliverable, or failed or expired in Lambda's "
            "asynchronous queue) wait in its dead-letter queue",
            settings.dead_letter_queue_name,
        ),
    ]
    if settings.sweep_fan_out:
        specs += [
            enforcer(
                metrics.SWEEP_BATCHES_NOT_SENT,
                "A scheduled sweep could not queue some batches: their repositories were not checked",
            ),
            queue_depth(
                "SweepDeadLetters",
                "Sweep batches failed on every delivery: they wait in the sweep dead-letter queue",
                settings.sweep_dead_letter_queue_name,
            ),
        ]
    return specs


def dashboard_body(settings: StackSettings) -> dict[str, Any]:
    """Drift, remediations and failures over time, the sweep size, the function's health and its queues."""
    region = settings.region
    function = ("FunctionName", settings.function_name)
    failures = [
        metrics.REMEDIATION_FAILED,
        metrics.DESIRED_STATE_INVALID,
        metrics.CONFIG_INVALID,
        metrics.ENFORCER_ERRORS,
        metrics.PUBLISH_FAILURES,
    ]
    dead_letter_queues = [settings.dead_letter_queue_name]
    if settings.sweep_fan_out:
        failures.append(metrics.SWEEP_BATCHES_NOT_SENT)
        dead_letter_queues.append(settings.sweep_dead_letter_queue_name)

    def queue_metric(metric: str, queue: str, **options: str) -> list[Any]:
        return ["AWS/SQS", metric, "QueueName", queue, *([options] if options else [])]

    def enforcer_metrics(*names: str) -> list[list[Any]]:
        # SEARCH draws every dimension set a metric is published with, whatever the publisher adds.
        search = "SEARCH('Namespace=\"{namespace}\" MetricName=\"{metric}\"', 'Sum', {period})"
        return [
            [
                {
                    "expression": search.format(
                        namespace=metrics.NAMESPACE, metric=metric, period=PERIOD_SECONDS
                    ),
                    "id": f"m{index}",
                    "label": metric,
                }
            ]
            for index, metric in enumerate(names)
        ]

    def widget(title: str, metrics: list[list[Any]], x: int, y: int, stat: str = "Sum") -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "view": "timeSeries",
                "stat": stat,
                "period": PERIOD_SECONDS,
                "metrics": metrics,
            },
        }

    widgets = [
        widget("Drift detected", enforcer_metrics(metrics.DRIFT_DETECTED), 0, 0),
        widget("Remediations", enforcer_metrics(metrics.DRIFT_REMEDIATED), 12, 0),
        widget("Failures", enforcer_metrics(*failures), 0, 6),
        widget("Repositories checked", enforcer_metrics(metrics.REPOSITORIES_CHECKED), 12, 6),
        widget(
            "Lambda duration (ms)",
            [
                ["AWS/Lambda", "Duration", *function, {"stat": "Average"}],
                ["AWS/Lambda", "Duration", *function, {"stat": "p99"}],
                ["AWS/Lambda", "Duration", *function, {"stat": "Maximum"}],
            ],
            0,
            12,
            stat="Average",
        ),
        widget(
            "Lambda invocations, errors, throttles",
            [
                ["AWS/Lambda", "Invocations", *function],
                ["AWS/Lambda", "Errors", *function],
                ["AWS/Lambda", "Throttles", *function],
            ],
            12,
            12,
        ),
        widget(
            "Dead-letter queues: depth",
            [queue_metric("ApproximateNumberOfMessagesVisible", queue) for queue in dead_letter_queues],
            0,
            18,
            stat="Maximum",
        ),
    ]
    if settings.sweep_fan_out:
        # A backlog that grows old means the batches cannot keep up with the schedule (or are throttled).
        queue = settings.sweep_queue_name
        widgets.append(
            widget(
                "Sweep queue: batches waiting, in flight, oldest (s, right)",
                [
                    queue_metric("ApproximateNumberOfMessagesVisible", queue),
                    queue_metric("ApproximateNumberOfMessagesNotVisible", queue),
                    queue_metric("ApproximateAgeOfOldestMessage", queue, yAxis="right"),
                ],
                12,
                18,
                stat="Maximum",
            )
        )
    return {"widgets": widgets}


class Alerting(pulumi.ComponentResource):
    """SNS topic (findings and alarms), e-mail subscriptions, alarms and the dashboard."""

    topic: aws.sns.Topic
    dashboard: aws.cloudwatch.Dashboard

    def __init__(
        self, name: str, settings: StackSettings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ecr-drift-enforcer:alerting:Alerting", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic("findings", display_name="ECR drift enforcer", opts=child)
        if not settings.alert_emails:
            # Allowed (the topic may be subscribed elsewhere), but said: nobody is e-mailed about drift.
            pulumi.log.warn(
                f"{APP_NAME}:alertEmails is empty: no e-mail subscription, findings and alarms reach only "
                "the SNS topic (stack output topic_arn)",
                resource=self,
            )
        for email in settings.alert_emails:
            # E-mail subscriptions stay pending until the recipient confirms the message AWS sends.
            aws.sns.TopicSubscription(
                f"email-{email}", topic=self.topic.arn, protocol="email", endpoint=email, opts=child
            )
        for spec in alarm_specs(settings):
            aws.cloudwatch.MetricAlarm(
                spec.name,
                name=f"{settings.function_name}-{spec.name}",
                alarm_description=spec.description,
                namespace=spec.namespace,
                metric_name=spec.metric,
                dimensions=spec.dimensions,
                statistic=spec.statistic,
                period=PERIOD_SECONDS,
                evaluation_periods=1,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                treat_missing_data="notBreaching",  # no data means nothing happened
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
                opts=child,
            )
        dashboard_name = f"{APP_NAME}-{settings.stack}"
        self.dashboard = aws.cloudwatch.Dashboard(
            "dashboard",
            dashboard_name=dashboard_name,
            dashboard_body=json.dumps(dashboard_body(settings), sort_keys=True),
            opts=child,
        )
        self.dashboard_url = (
            f"https://{settings.region}.console.aws.amazon.com/cloudwatch/home"
            f"?region={settings.region}#dashboards:name={dashboard_name}"
        )
        self.register_outputs({"topic_arn": self.topic.arn, "dashboard_url": self.dashboard_url})
