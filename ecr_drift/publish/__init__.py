"""Findings → one log line each, EMF metrics, and the channels the environment turns on: SNS, EventBridge,
Security Hub.

Publishing never fails a run: a channel that errors is logged, counted (``PublishFailures``) and named in the
returned list, and the findings are still in the logs and in the Lambda's response. The log has every
finding; the other outputs carry what AWS's size limits let them and say what they left out
(:mod:`ecr_drift.publish.limits`).

Metrics (names in :mod:`ecr_drift.metrics`; namespace from ``POWERTOOLS_METRICS_NAMESPACE``):
``DriftDetected`` (differences a run can fix: drift, remediated, blocked), ``DriftRemediated``,
``RemediationFailed`` (a read or a write failed), ``RepositoriesChecked``, ``RepositoriesNotChecked`` (out of
time), each without dimensions for alarms; the first three also per setting, in one EMF blob per setting
with a ``Setting`` dimension (dimensions apply to a whole blob). Those blobs come from ``EphemeralMetrics``
rather than ``single_metric``, which ignores ``POWERTOOLS_METRICS_DISABLED``. ``reported`` findings
(unmanaged repositories, encryption) are in no metric: no run can fix them, and an alarm on them would fire
on every sweep.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from ecr_drift.findings import Action, Finding, Report
from ecr_drift.metrics import (
    DRIFT_DETECTED,
    DRIFT_REMEDIATED,
    PUBLISH_FAILURES,
    REMEDIATION_FAILED,
    REPOSITORIES_CHECKED,
    REPOSITORIES_NOT_CHECKED,
)
from ecr_drift.publish import eventbridge, securityhub, sns
from ecr_drift.publish.text import finding_title
from ecr_drift.targets import NO_REGISTRY, RegistryScope

if TYPE_CHECKING:
    from ecr_drift.aws.clients import AwsClients
    from ecr_drift.config import EnforcerConfig

PUBLISH_IAM_ACTIONS = tuple(sorted({*sns.IAM_ACTIONS, *eventbridge.IAM_ACTIONS, *securityhub.IAM_ACTIONS}))

COUNTED: dict[str, frozenset[Action]] = {
    DRIFT_DETECTED: frozenset({Action.DRIFT, Action.REMEDIATED, Action.BLOCKED}),
    DRIFT_REMEDIATED: frozenset({Action.REMEDIATED}),
    REMEDIATION_FAILED: frozenset({Action.FAILED}),
}


def publish(
    report: Report,
    *,
    config: EnforcerConfig,
    clients: AwsClients,
    logger: Logger,
    metrics: Metrics,
    registry_checked: RegistryScope = NO_REGISTRY,
    findings_logged: bool = False,
) -> list[str]:
    """Log, count and send ``report``. Returns what could not be published (empty when all went out).

    ``registry_checked``: the parts of the registry the run covered, whose findings Security Hub may resolve.
    ``findings_logged``: each finding was logged as the run went (:func:`finding_logger`); only the run's
    summary line is added.
    """
    if not findings_logged:
        log_findings(report.findings, logger, mode=report.mode, trigger=report.trigger)
    log_run_finished(report, logger)
    add_metrics(report, metrics)
    channels: list[tuple[str, Callable[[], list[str]]]] = []
    if config.findings_topic_arn:
        topic = config.findings_topic_arn
        channels.append(("sns", lambda: sns.notify(report, topic_arn=topic, client=clients.sns)))
    if config.findings_event_bus and report.findings:
        bus = config.findings_event_bus
        channels.append(
            ("eventbridge", lambda: eventbridge.put_findings(report, bus=bus, client=clients.events))
        )
    if config.security_hub_findings:

        def security_hub() -> list[str]:
            account = securityhub.Account.of(clients.sts, clients.securityhub.meta.region_name)
            now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            return securityhub.sync(
                report,
                client=clients.securityhub,
                account=account,
                now=now,
                registry_checked=registry_checked,
            )

        channels.append(("securityhub", security_hub))

    failures: list[str] = []
    for name, send in channels:
        try:
            problems = [f"{name}: {problem}" for problem in send()]
        except Exception as error:  # one channel's outage must not stop the others, nor the response
            logger.exception(f"publishing to {name} failed", extra={"channel": name})
            problems = [f"{name}: {type(error).__name__}: {error}"]
        for problem in problems:
            logger.error("finding not published", extra={"channel": name, "problem": problem})
        failures += problems
    if failures:
        metrics.add_metric(name=PUBLISH_FAILURES, unit=MetricUnit.Count, value=len(failures))
    return failures


def log_findings(findings: list[Finding], logger: Logger, *, mode: str, trigger: str) -> None:
    """One structured line per finding (the correlation id is set by the handler)."""
    levels: dict[Action, Callable[..., None]] = {
        Action.DRIFT: logger.warning,
        Action.BLOCKED: logger.warning,
        Action.FAILED: logger.error,
        Action.REMEDIATED: logger.info,
        Action.REPORTED: logger.info,
    }
    for finding in findings:
        extra = {"finding": finding.to_dict(), "mode": mode, "trigger": trigger}
        levels[finding.action](finding_title(finding), extra=extra)


def finding_logger(logger: Logger, *, mode: str, trigger: str) -> Callable[[list[Finding]], None]:
    """For ``engine.run(on_findings=...)``: each repository's findings logged as soon as they are final,
    so a run that Lambda kills at its timeout still leaves them."""
    return lambda findings: log_findings(findings, logger, mode=mode, trigger=trigger)


def log_run_finished(report: Report, logger: Logger) -> None:
    logger.info(
        "run finished",
        extra={
            "mode": report.mode,
            "trigger": report.trigger,
            "summary": report.summary,
            "repositories_checked": len(report.repositories_checked),
            "not_checked": report.not_checked,
            "writes": report.writes,
        },
    )


def add_metrics(report: Report, metrics: Metrics) -> None:
    metrics.add_metric(
        name=REPOSITORIES_CHECKED, unit=MetricUnit.Count, value=len(report.repositories_checked)
    )
    metrics.add_metric(name=REPOSITORIES_NOT_CHECKED, unit=MetricUnit.Count, value=len(report.not_checked))
    counts = {
        name: Counter(str(f.setting) for f in report.findings if f.action in actions)
        for name, actions in COUNTED.items()
    }
    for name, per_setting in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=per_setting.total())
    for setting in sorted({s for per_setting in counts.values() for s in per_setting}):
        blob = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
        blob.add_dimension(name="Setting", value=setting)
        for name, per_setting in counts.items():
            if per_setting[setting]:
                blob.add_metric(name=name, unit=MetricUnit.Count, value=per_setting[setting])
        blob.flush_metrics()
