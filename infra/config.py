"""The stack's settings: ``Pulumi.<stack>.yaml`` read once into a typed, validated object.

Everything the components need from configuration is here, so a typo or a bad value fails the preview with
one clear message instead of surfacing as an AWS error halfway through an update.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

import pulumi

from ecr_drift.config import DEFAULT_SWEEP_BATCH_SIZE, MAX_CONCURRENCY, MAX_SWEEP_BATCH_SIZE
from infra import package, sweep_budget
from infra.sweep_budget import (
    DEFAULT_REQUESTS_PER_SECOND,
    MAX_MAPPING_CONCURRENCY,
    MIN_MAPPING_CONCURRENCY,
    SLOT_REQUESTS_PER_SECOND,
)

Architecture = Literal["arm64", "x86_64"]
PythonVersion = Literal["3.12", "3.13"]
Mode = Literal["enforce", "audit"]

APP_NAME = "ecr-drift-enforcer"
# Powertools publishes its v3 layers from this account in every commercial region, and the latest layer's
# ARN in a public SSM parameter of each region.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/{architecture}/{runtime}/latest"
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
# Preview cannot list the account's repositories: the schedule is checked against this many unless told.
DEFAULT_EXPECTED_REPOSITORIES = 1_000
_SCHEDULE = re.compile(r"^(rate\(1 (minute|hour|day)\)|rate\([1-9][0-9]* (minutes|hours|days)\)|cron\(.+\))$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# One account, one file: the repository root's desired_state.json, which the CLI reads by default too.
DEFAULT_DESIRED_STATE = "desired_state.json"


class SettingsError(pulumi.RunError):
    """Configuration a stack cannot be deployed with; a RunError, so Pulumi prints it without a traceback."""


@dataclass(frozen=True)
class StackSettings:
    stack: str
    region: str
    # `desiredStatePath` as set (relative to the repository root), and the file it names.
    desired_state_file: str
    desired_state_path: Path
    # The shipped example may be deployed only when the stack says so (infra/desired_state.py).
    allow_example_desired_state: bool
    alert_emails: tuple[str, ...]
    schedule_expression: str
    # None: the enforcer follows `enforcement.mode` of desired_state.json.
    mode: Mode | None
    adopt_existing_repositories: bool
    protect_repositories: bool
    create_cloudtrail: bool
    architecture: Architecture
    python_version: PythonVersion
    # None: the latest layer, read from Powertools' public SSM parameter at each preview/up.
    powertools_layer_version: int | None
    # None: no reserved concurrency (a reservation can fail `pulumi up` where the account's quota is low).
    reserved_concurrency: int | None
    # The requests per second a sweep may make, and the repositories it is expected to cover
    # (infra/sweep_budget.py).
    sweep_requests_per_second: int
    expected_repositories: int
    # Parallel AWS calls in one run (ENFORCER_CONCURRENCY): `enforcerConcurrency`, or what the budget allows.
    enforcer_concurrency: int
    log_retention_days: int
    security_hub_findings: bool
    findings_event_bus: str
    # Scheduled sweeps go through the sweep queue in batches of `sweep_batch_size` (ecr_drift/fanout.py).
    sweep_fan_out: bool
    sweep_batch_size: int
    # At most this many sweep batches run at once (the event source mapping's maximum concurrency):
    # `sweepMaximumConcurrency`, or what the budget allows.
    sweep_maximum_concurrency: int

    @property
    def runtime(self) -> str:
        return f"python{self.python_version}"

    @property
    def function_name(self) -> str:
        # A fixed name: operators invoke it by name (`aws lambda invoke`), one stack per account and region.
        return f"{APP_NAME}-{self.stack}"

    @property
    def dead_letter_queue_name(self) -> str:
        return f"{self.function_name}-dlq"

    @property
    def sweep_queue_name(self) -> str:
        return f"{self.function_name}-sweep"

    @property
    def sweep_dead_letter_queue_name(self) -> str:
        return f"{self.function_name}-sweep-dlq"

    @property
    def powertools_layer_parameter(self) -> str:
        """The public SSM parameter holding the ARN of the latest Powertools layer for this runtime."""
        return POWERTOOLS_LAYER_PARAMETER.format(architecture=self.architecture, runtime=self.runtime)

    @property
    def powertools_layer_arn(self) -> str | None:
        """The pinned layer's ARN; None without `powertoolsLayerVersion` (see powertools_layer_parameter)."""
        if self.powertools_layer_version is None:
            return None
        python = self.runtime.replace(".", "")
        return (
            f"arn:aws:lambda:{self.region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
            f"AWSLambdaPowertoolsPythonV3-{python}-{self.architecture}:{self.powertools_layer_version}"
        )


def load_settings() -> StackSettings:
    """Read the current stack's configuration; raises :class:`SettingsError` listing every bad value."""
    config = pulumi.Config()
    problems: list[str] = []

    def choice(key: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = config.get(key, default)
        if value is not None and value not in allowed:
            problems.append(f"{APP_NAME}:{key} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def positive(key: str, default: int) -> int:
        value = config.get_int(key, default)
        if value < 1:
            problems.append(f"{APP_NAME}:{key} must be a positive number, not {value}")
        return value

    def optional_positive(key: str) -> int | None:
        value = config.get_int(key)
        if value is not None and value < 1:
            problems.append(f"{APP_NAME}:{key} must be a positive number, not {value}")
        return value

    desired_state_file = config.get("desiredStatePath", DEFAULT_DESIRED_STATE)
    # Relative to the repository root, not to infra/ where `pulumi` runs: the path the CLI commands take.
    desired_state_path = package.ROOT / desired_state_file
    if not desired_state_path.is_file():
        problems.append(
            f"{APP_NAME}:desiredStatePath {desired_state_file!r} is not a file: {desired_state_path} "
            "(the path is relative to the repository root)"
        )
    raw_emails = config.get_object("alertEmails", [])
    emails = tuple(e for e in raw_emails if isinstance(e, str)) if isinstance(raw_emails, list) else ()
    if emails != tuple(raw_emails) or not all(_EMAIL.match(e) for e in emails):
        problems.append(f"{APP_NAME}:alertEmails must be a list of e-mail addresses, not {raw_emails!r}")
    schedule = config.get("scheduleExpression", "rate(6 hours)")
    if not _SCHEDULE.match(schedule):
        problems.append(
            f"{APP_NAME}:scheduleExpression {schedule!r} is not an EventBridge rate(...) or cron(...)"
        )
    retention = config.get_int("logRetentionDays", 90)
    if retention not in LOG_RETENTION_DAYS:
        problems.append(f"{APP_NAME}:logRetentionDays {retention} is not a CloudWatch Logs retention period")
    mode = choice("mode", get_args(Mode), None)
    architecture = choice("architecture", get_args(Architecture), "arm64")
    python_version = choice("pythonVersion", get_args(PythonVersion), "3.13")
    reserved_concurrency = optional_positive("reservedConcurrency")
    sweep_fan_out = config.get_bool("sweepFanOut", True)
    budget = positive("sweepRequestsPerSecond", DEFAULT_REQUESTS_PER_SECOND)
    expected_repositories = positive("expectedRepositories", DEFAULT_EXPECTED_REPOSITORIES)
    split, split_problems = _sweep_split(config, budget, sweep_fan_out)
    problems += split_problems
    problems += _schedule_problems(schedule, budget, expected_repositories, split)
    # Without fan-out there is no mapping, and nothing reads it.
    sweep_maximum_concurrency = split.mapping_concurrency or MIN_MAPPING_CONCURRENCY
    sweep_batch_size = positive("sweepBatchSize", DEFAULT_SWEEP_BATCH_SIZE)
    if sweep_batch_size > MAX_SWEEP_BATCH_SIZE:  # the handler refuses more (a message's 256 KiB)
        problems.append(
            f"{APP_NAME}:sweepBatchSize must be at most {MAX_SWEEP_BATCH_SIZE}, not {sweep_batch_size}"
        )
    # Sweep batches must leave events and the schedule an execution of the reservation: a throttled event
    # waits in Lambda's asynchronous queue only until its maximum age, then is parked as failed.
    if (
        sweep_fan_out
        and reserved_concurrency is not None
        and reserved_concurrency <= sweep_maximum_concurrency
    ):
        problems.append(
            f"{APP_NAME}:reservedConcurrency must be at least sweepMaximumConcurrency + 1 "
            f"({sweep_maximum_concurrency + 1}) with sweepFanOut, or unset, not {reserved_concurrency}"
            + (
                f" (sweepMaximumConcurrency is unset: {sweep_maximum_concurrency}, what "
                f"sweepRequestsPerSecond {budget} allows)"
                if config.get("sweepMaximumConcurrency") is None
                else ""
            )
        )
    settings = StackSettings(
        stack=pulumi.get_stack(),
        region=pulumi.Config("aws").require("region"),
        desired_state_file=desired_state_file,
        desired_state_path=desired_state_path,
        allow_example_desired_state=config.get_bool("allowExampleDesiredState", False),
        alert_emails=emails,
        schedule_expression=schedule,
        mode=cast(Mode | None, mode),
        adopt_existing_repositories=config.get_bool("adoptExistingRepositories", False),
        protect_repositories=config.get_bool("protectRepositories", False),
        create_cloudtrail=config.get_bool("createCloudTrail", False),
        architecture=cast(Architecture, architecture),
        python_version=cast(PythonVersion, python_version),
        powertools_layer_version=optional_positive("powertoolsLayerVersion"),
        reserved_concurrency=reserved_concurrency,
        sweep_requests_per_second=budget,
        expected_repositories=expected_repositories,
        enforcer_concurrency=split.in_run_concurrency,
        log_retention_days=retention,
        security_hub_findings=config.get_bool("securityHubFindings", False),
        findings_event_bus=config.get("findingsEventBus", "default"),
        sweep_fan_out=sweep_fan_out,
        sweep_batch_size=sweep_batch_size,
        sweep_maximum_concurrency=sweep_maximum_concurrency,
    )
    if problems:
        raise SettingsError("invalid stack configuration:\n" + "\n".join(f"  {p}" for p in problems))
    return settings


def _sweep_split(config: pulumi.Config, budget: int, fan_out: bool) -> tuple[sweep_budget.Split, list[str]]:
    """The sweep's concurrencies: derived from the budget, or set (overrides) and checked against it."""
    problems: list[str] = []
    mapping = config.get_int("sweepMaximumConcurrency")
    if mapping is not None and not MIN_MAPPING_CONCURRENCY <= mapping <= MAX_MAPPING_CONCURRENCY:
        problems.append(
            f"{APP_NAME}:sweepMaximumConcurrency must be between {MIN_MAPPING_CONCURRENCY} and "
            f"{MAX_MAPPING_CONCURRENCY} (an SQS event source mapping's limits), not {mapping}"
        )
        mapping = None  # derived instead, so that the rest is still checked
    in_run = config.get_int("enforcerConcurrency")
    if in_run is not None and not 1 <= in_run <= MAX_CONCURRENCY:
        problems.append(
            f"{APP_NAME}:enforcerConcurrency must be between 1 and {MAX_CONCURRENCY} (what the handler "
            f"accepts), not {in_run}"
        )
        in_run = None
    split = sweep_budget.split(budget, fan_out=fan_out, mapping=mapping, in_run=in_run)
    return split, problems + _budget_problems(budget, split, mapping, in_run)


def _budget_problems(
    budget: int, split: sweep_budget.Split, mapping: int | None, in_run: int | None
) -> list[str]:
    """The sweep's concurrencies, derived or overridden, must keep within `sweepRequestsPerSecond`."""
    needed = split.requests_per_second
    if budget < 1 or needed <= budget:  # a budget below 1 is reported already
        return []
    spending = (
        f"enforcerConcurrency {split.in_run_concurrency} x {SLOT_REQUESTS_PER_SECOND} requests/s a call"
    )
    if split.mapping_concurrency is not None:
        spending = f"sweepMaximumConcurrency {split.mapping_concurrency} x {spending}"
    remedies = [f"raise sweepRequestsPerSecond to {needed}"]
    remedies += [
        f"lower {key}"
        for key, value in (("sweepMaximumConcurrency", mapping), ("enforcerConcurrency", in_run))
        if value is not None
    ]
    if split.mapping_concurrency is not None and mapping is None:
        remedies.append("set sweepFanOut to false (a fanned-out sweep runs at least two batches at once)")
    return [
        f"{APP_NAME}:sweepRequestsPerSecond is {budget}, but the sweep would make up to {needed} "
        f"requests/s ({spending}): " + ", or ".join(remedies)
    ]


def _schedule_problems(schedule: str, budget: int, repositories: int, split: sweep_budget.Split) -> list[str]:
    """A schedule must not start a sweep before the previous one can have finished: the queue would grow."""
    interval = sweep_budget.schedule_interval_seconds(schedule)
    per_repository = sweep_budget.requests_per_repository(fan_out=split.mapping_concurrency is not None)
    rate = split.requests_per_second
    seconds = sweep_budget.sweep_seconds(repositories, per_repository, rate)
    if interval is None or seconds <= interval:
        return []
    every, takes = sweep_budget.format_duration(interval), sweep_budget.format_duration(seconds)
    return [
        f"{APP_NAME}:scheduleExpression {schedule} starts a sweep every {every}, but a sweep of "
        f"expectedRepositories {repositories:,} takes about {takes} ({repositories:,} x {per_repository:g} "
        f"requests / {rate} requests/s, what sweepRequestsPerSecond {budget} allows): lengthen the schedule, "
        f"raise sweepRequestsPerSecond, or correct expectedRepositories"
    ]
