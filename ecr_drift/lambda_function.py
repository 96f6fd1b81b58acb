"""The Lambda's wiring, re-exported by the entry point ``handler.enforce``: event → route → engine → publish →
response. Wiring only; decisions live elsewhere.

Nothing raises out of the handler: EventBridge retries a failed asynchronous invoke, and every failure here
(bad environment, bad desired state, a bug) would fail the same way again. Each is logged, counted and
answered with ``{"status": "error", ...}`` instead; the metrics feed the alarms. An SQS invoke (the batches of
a fanned-out sweep, see ``ecr_drift.fanout``) is answered with ``batchItemFailures`` instead.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ecr_drift import engine
from ecr_drift import metrics as metrics_names
from ecr_drift.aws.clients import AwsClients
from ecr_drift.aws.errors import AwsError, error_text
from ecr_drift.aws.identity import caller_role_arn
from ecr_drift.config import ConfigError, EnforcerConfig
from ecr_drift.desired import DesiredState, DesiredStateError, load_desired_state
from ecr_drift.events import Ignored, ManualTarget, route
from ecr_drift.fanout import BatchIncomplete, FanOut, fan_out, is_queue_event, read_batch, retry_all
from ecr_drift.findings import Finding
from ecr_drift.pages import manual_page
from ecr_drift.publish import finding_logger, publish
from ecr_drift.publish.limits import bounded_response
from ecr_drift.targets import Mode, Target

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", metrics_names.SERVICE)
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", metrics_names.NAMESPACE)

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


@cache
def startup() -> tuple[EnforcerConfig, DesiredState]:
    """The environment and the desired state, read once per cold start (a failure is not cached)."""
    config = _with_own_role(EnforcerConfig.from_env())
    return config, load_desired_state(config.desired_state_path, home=config.home)


def _with_own_role(config: EnforcerConfig) -> EnforcerConfig:
    """``config`` with ``ENFORCER_ROLE_ARN`` derived from the function's credentials when it is unset, so
    the own-role check is never silently off. If it cannot be derived, that is logged as an error."""
    if config.enforcer_role_arn:
        return config
    try:
        role = caller_role_arn(AwsClients().sts)
    except AwsError as error:
        role, problem = None, error_text(error)
    else:
        problem = "the function's credentials are not an IAM role's"
    if role is None:
        logger.error(
            "own role unknown: events the enforcer causes itself are acted on again",
            extra={
                "problem": f"ENFORCER_ROLE_ARN is unset and STS GetCallerIdentity did not give it: {problem}"
            },
        )
        return config
    return config.model_copy(update={"enforcer_role_arn": role})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)  # a sweep's report can outgrow an X-Ray segment
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    if logger.get_correlation_id() is None:  # manual invokes carry no event id
        logger.set_correlation_id(context.aws_request_id)
    try:
        return _handle(event, context)
    except Exception as error:
        logger.exception("unexpected error: the run stopped")
        metrics.add_metric(name=metrics_names.ENFORCER_ERRORS, unit=MetricUnit.Count, value=1)
        return {"status": "error", "error": f"{type(error).__name__}: {error}", **retry_all(event)}


def _handle(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        config, state = startup()
    except ConfigError as error:
        logger.error(
            "invalid environment: nothing checked, nothing written", extra={"problems": error.problems}
        )
        metrics.add_metric(name=metrics_names.CONFIG_INVALID, unit=MetricUnit.Count, value=1)
        return {
            "status": "error",
            "error": "invalid environment",
            "problems": error.problems,
            **retry_all(event),
        }
    except DesiredStateError as error:
        problems = [str(problem) for problem in error.problems]
        logger.error(
            "invalid desired state: nothing checked, nothing written",
            extra={"source": error.source, "problems": problems},
        )
        metrics.add_metric(name=metrics_names.DESIRED_STATE_INVALID, unit=MetricUnit.Count, value=1)
        return {
            "status": "error",
            "error": f"invalid desired state {error.source}",
            "problems": problems,
            **retry_all(event),
        }

    if is_queue_event(event):
        return _consume_sweep_batches(event, context, config, state)
    target = route(event, state=state, own_role_arn=config.enforcer_role_arn)
    if isinstance(target, Ignored):
        (logger.warning if target.warning else logger.info)("event ignored", extra={"reason": target.reason})
        metrics.add_metric(name=metrics_names.EVENTS_IGNORED, unit=MetricUnit.Count, value=1)
        return {"status": "ignored", "reason": target.reason}

    mode = config.effective_mode(state, target.requested_mode if isinstance(target, ManualTarget) else None)
    _log_run_started(target, mode)
    clients = AwsClients(concurrency=config.concurrency)
    extra: dict[str, Any] = {}
    # A manual sweep answers with its report, so only the schedule's sweep goes through the queue.
    queue_url = config.sweep_queue_url if target.is_sweep and not isinstance(target, ManualTarget) else None
    if queue_url:
        report, sent = fan_out(
            target,
            state=state,
            mode=mode,
            clients=clients,
            queue_url=queue_url,
            batch_size=config.sweep_batch_size,
            sweep_id=logger.get_correlation_id() or context.aws_request_id,
            time_left_ms=context.get_remaining_time_in_millis,
        )
        _log_fan_out(sent)
        extra["fan_out"] = sent.to_dict()
    else:
        log_findings = finding_logger(logger, mode=str(mode), trigger=target.trigger)
        listing: list[Finding] = []
        # The names a person gave; not a page's, whose repository deleted since its listing is no typo.
        named_by_person = isinstance(target, ManualTarget) and not target.is_sweep
        if isinstance(target, ManualTarget) and target.is_sweep:  # answered a page at a time
            target, next_page, listing = manual_page(clients.ecr, state, target)
            log_findings(listing)
            if next_page is not None:
                extra["next_page"] = next_page
        try:
            report = engine.run(
                target,
                state=state,
                mode=mode,
                clients=clients,
                time_left_ms=context.get_remaining_time_in_millis,
                allow_mass_change=isinstance(target, ManualTarget) and target.allow_mass_change,
                on_findings=log_findings,
                refuse_unknown=named_by_person,
            )
        except engine.UnknownRepositories as error:
            # A person's typo: nothing checked or written, the reason in the answer. Counted as an invalid
            # manual invoke is (ignored), as it is no fault of the enforcer to alarm on.
            logger.warning("manual invoke refused: unknown repositories", extra={"reason": str(error)})
            metrics.add_metric(name=metrics_names.EVENTS_IGNORED, unit=MetricUnit.Count, value=1)
            return {"status": "error", "error": str(error), "unknown_repositories": error.suggestions}
        report.findings[:0] = listing
    publish_errors = publish(
        report,
        config=config,
        clients=clients,
        logger=logger,
        metrics=metrics,
        registry_checked=target.registry,
        findings_logged=not queue_url,  # fan_out's own run of the registry logs at the end
    )
    status = "incomplete" if report.not_checked else "ok"
    return bounded_response(status, report, publish_errors=publish_errors, extra=extra)


def _consume_sweep_batches(
    event: dict[str, Any], context: LambdaContext, config: EnforcerConfig, state: DesiredState
) -> dict[str, Any]:
    """One engine run per SQS record, findings published per run; the response lists the records SQS must
    deliver again: those whose run raised or ran out of time. A body that cannot be read is logged and
    dropped, since it would fail the same way on every delivery."""
    mode = config.effective_mode(state)

    def check(record: SQSRecord) -> None:
        batch = read_batch(record.body)
        if isinstance(batch, Ignored):
            logger.warning(
                "queue message ignored", extra={"reason": batch.reason, "message_id": record.message_id}
            )
            metrics.add_metric(name=metrics_names.EVENTS_IGNORED, unit=MetricUnit.Count, value=1)
            return
        logger.set_correlation_id(batch.sweep_id)  # the batches of one sweep share their correlation id
        target = batch.target()
        _log_run_started(target, mode)
        try:
            clients = AwsClients(concurrency=config.concurrency)
            report = engine.run(
                target,
                state=state,
                mode=mode,
                clients=clients,
                time_left_ms=context.get_remaining_time_in_millis,
                on_findings=finding_logger(logger, mode=str(mode), trigger=target.trigger),
            )
            publish(
                report, config=config, clients=clients, logger=logger, metrics=metrics, findings_logged=True
            )
        except Exception:
            logger.exception(
                "sweep batch failed: SQS delivers it again", extra={"message_id": record.message_id}
            )
            metrics.add_metric(name=metrics_names.ENFORCER_ERRORS, unit=MetricUnit.Count, value=1)
            raise
        if report.not_checked:
            logger.warning(
                "sweep batch incomplete: SQS delivers it again", extra={"message_id": record.message_id}
            )
            raise BatchIncomplete(f"out of time: {len(report.not_checked)} repositories not checked")

    # Never raise on a batch that failed entirely: the response already makes SQS retry every record.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(
        process_partial_response(event=event, record_handler=check, processor=processor, context=context)
    )


def _log_fan_out(sent: FanOut) -> None:
    logger.info("sweep fanned out", extra=sent.to_dict())
    for failure in sent.failures:
        logger.error("sweep batch not sent", extra={"problem": failure})
    metrics.add_metric(
        name=metrics_names.SWEEP_BATCHES_NOT_SENT, unit=MetricUnit.Count, value=len(sent.failures)
    )


def _log_run_started(target: Target, mode: Mode) -> None:
    logger.info(
        "run started",
        extra={
            "mode": str(mode),
            "trigger": target.trigger,
            "repositories": target.repositories,
            "registry": target.registry.labels,
            "origin": asdict(target.origin) if target.origin else None,
        },
    )
    if target.fallback is not None:
        logger.warning(
            "event names no valid item: its whole setting is checked", extra={"reason": target.fallback}
        )
