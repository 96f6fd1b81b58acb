"""The Lambda's environment, parsed once into a typed model; every problem names its variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ecr_drift.aws.clients import DEFAULT_CONCURRENCY
from ecr_drift.desired.models import IAM_ROLE_ARN_PATTERN, DesiredState
from ecr_drift.targets import Mode, effective_mode

# The Lambda zip holds `ecr_drift/`, `handler/` (the entry) and desired_state.json side by side at its root.
DEFAULT_DESIRED_STATE_PATH = Path(__file__).resolve().parent.parent / "desired_state.json"
SNS_TOPIC_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"
# botocore's EventBusNameOrArn, anchored.
EVENT_BUS_PATTERN = (
    r"^(?:arn:aws[\w-]*:events:[a-z]{2}-[a-z]+-[\w-]+:[0-9]{12}:event-bus/)?[/.\-_A-Za-z0-9]+$"
)
MAX_CONCURRENCY = 64
# The SHA-256 of the desired_state.json the function carries, set by infra as a variable and a tag, so that
# `ecr-drift doctor` can tell whether the deployed file is the local one. Not read by the function itself.
DESIRED_STATE_SHA256_VARIABLE = "DESIRED_STATE_SHA256"
DESIRED_STATE_SHA256_TAG = "ecr-drift:desired-state-sha256"
# A standard queue (a FIFO queue would need message groups); any endpoint host, for LocalStack or moto_server.
SQS_QUEUE_URL_PATTERN = r"^https?://[A-Za-z0-9.:-]+/[0-9]{12}/[A-Za-z0-9_-]{1,80}$"
DEFAULT_SWEEP_BATCH_SIZE = 200
# 500 names of 256 characters are ~130 KB: a message stays within SQS's 256 KiB, and a batch's run well
# within the 900 s a Lambda may run.
MAX_SWEEP_BATCH_SIZE = 500
FORMATS = {
    "FINDINGS_TOPIC_ARN": "must be a standard SNS topic ARN, arn:aws:sns:REGION:ACCOUNT:NAME",
    "FINDINGS_EVENT_BUS": "must be an event bus name or ARN, or `default` for the default bus",
    "ENFORCER_ROLE_ARN": "must be an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME",
    "SWEEP_QUEUE_URL": "must be a standard SQS queue URL, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME",
}


class ConfigError(Exception):
    """The environment cannot be used; ``problems`` lists each variable and what is wrong with it."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid environment: " + "; ".join(problems))


class EnforcerConfig(BaseModel):
    """Field aliases are the environment variable names; an unset or empty variable takes the default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    desired_state_path: Path = Field(default=DEFAULT_DESIRED_STATE_PATH, alias="DESIRED_STATE_PATH")
    mode: Mode | None = Field(
        default=None, alias="ENFORCER_MODE", description="Overrides `enforcement.mode` of the desired state."
    )
    findings_topic_arn: str | None = Field(
        default=None, alias="FINDINGS_TOPIC_ARN", pattern=SNS_TOPIC_ARN_PATTERN, max_length=1024
    )
    findings_event_bus: str | None = Field(
        default=None,
        alias="FINDINGS_EVENT_BUS",
        pattern=EVENT_BUS_PATTERN,
        max_length=1600,
        description="Bus name or ARN for one event per finding; `default` is the account's default bus.",
    )
    security_hub_findings: bool = Field(default=False, alias="SECURITY_HUB_FINDINGS")
    enforcer_role_arn: str | None = Field(
        default=None,
        alias="ENFORCER_ROLE_ARN",
        pattern=IAM_ROLE_ARN_PATTERN,
        description="The function's own role: CloudTrail events it caused are never acted on.",
    )
    concurrency: int = Field(
        default=DEFAULT_CONCURRENCY, alias="ENFORCER_CONCURRENCY", ge=1, le=MAX_CONCURRENCY
    )
    sweep_queue_url: str | None = Field(
        default=None,
        alias="SWEEP_QUEUE_URL",
        pattern=SQS_QUEUE_URL_PATTERN,
        max_length=1024,
        description="When set, a scheduled sweep sends its repositories here in batches (ecr_drift.fanout).",
    )
    sweep_batch_size: int = Field(
        default=DEFAULT_SWEEP_BATCH_SIZE, alias="SWEEP_BATCH_SIZE", ge=1, le=MAX_SWEEP_BATCH_SIZE
    )
    region: str | None = Field(default=None, alias="AWS_REGION", description="Set by the Lambda runtime.")

    @property
    def home(self) -> tuple[str | None, str | None]:
        """This registry's (region, account id) as far as the environment says: validation rejects a
        replication rule into the registry itself. The account is the one of the function's own role."""
        account = self.enforcer_role_arn.split(":")[4] if self.enforcer_role_arn else None
        return self.region, account

    @field_validator("mode", "security_hub_findings", mode="before")
    @classmethod
    def _case_insensitive(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EnforcerConfig:
        """Parse ``environ`` (default ``os.environ``); raises :class:`ConfigError` listing every problem."""
        environ = os.environ if environ is None else environ
        names = [field.alias for field in cls.model_fields.values() if field.alias]
        values = {name: environ[name].strip() for name in names if environ.get(name, "").strip()}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ConfigError([_problem(item, values) for item in error.errors(include_url=False)]) from None

    def effective_mode(self, state: DesiredState, requested: Mode | None = None) -> Mode:
        """``ENFORCER_MODE``, ``enforcement.mode`` and a manual invoke's request: audit wins.

        ``ENFORCER_MODE=audit`` turns a deployment to audit without editing the file.
        """
        return effective_mode(self.mode, state.enforcement.mode, requested)


def _problem(item: Any, values: Mapping[str, str]) -> str:
    name = str(item["loc"][0]) if item["loc"] else "environment"
    message = str(item["msg"]).removeprefix("Value error, ")
    if item["type"] == "string_pattern_mismatch":
        message = FORMATS[name]
    shown = f" (got {values[name]!r})" if name in values else ""
    return f"{name}: {message}{shown}"
