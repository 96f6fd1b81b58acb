"""Running the Lambda handler in-process: its environment, events from tests/events, and reading its output.

The handler's Logger keeps the stream it was created with; ``lambda_environment`` points it at whatever
``sys.stdout`` is when it writes, so ``capsys`` sees log lines next to the EMF blobs Metrics prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ecr_drift import metrics
from ecr_drift.cli.lambda_context import FakeLambdaContext
from tests.conftest import ACCOUNT_ID, EVENTS_DIR, EXAMPLE_PATH, REGION

ENFORCER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/ecr-drift-enforcer"
# The console user of the event files (an IAM Identity Center session).
CONSOLE_ROLE = "AWSReservedSSO_AdministratorAccess_0123abcd4567ef89"
CONSOLE_SESSION = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{CONSOLE_ROLE}/jane.doe@example.com"
NAMESPACE = metrics.NAMESPACE
SWEEP_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:ecr-drift-sweep"


def load_event(name: str) -> Any:
    return json.loads((EVENTS_DIR / name).read_text())


def event_files() -> list[str]:
    return sorted(path.name for path in EVENTS_DIR.glob("*.json"))


def lambda_environment(
    monkeypatch: pytest.MonkeyPatch, desired: Path = EXAMPLE_PATH, **variables: str
) -> None:
    """The function's environment (nothing published unless ``variables`` say so), a fresh cold start."""
    from ecr_drift import lambda_function

    monkeypatch.setenv("DESIRED_STATE_PATH", str(desired))
    monkeypatch.setenv("ENFORCER_ROLE_ARN", ENFORCER_ROLE)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ecr-drift-enforcer")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    for name in (
        "ENFORCER_MODE",
        "FINDINGS_TOPIC_ARN",
        "FINDINGS_EVENT_BUS",
        "SECURITY_HUB_FINDINGS",
        "SWEEP_QUEUE_URL",
        "SWEEP_BATCH_SIZE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    lambda_function.startup.cache_clear()
    # Metrics instances share one store per process: drop what earlier tests added and never flushed.
    lambda_function.metrics.clear_metrics()
    # Undone after the test: a later in-process run (the demo) must not print this test's log lines.
    monkeypatch.setattr(lambda_function.logger.registered_handler, "stream", _CurrentStdout())


class _CurrentStdout:
    """A stream that is always the current ``sys.stdout``: capsys swaps it between a test's phases."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def invoke(event: Any, context: FakeLambdaContext | None = None) -> dict[str, Any]:
    from ecr_drift import lambda_function

    response: dict[str, Any] = lambda_function.lambda_handler(event, context or FakeLambdaContext())
    return response


def sqs_event(messages: list[dict[str, Any]], queue_arn: str = SWEEP_QUEUE_ARN) -> dict[str, Any]:
    """What an SQS event source mapping invokes the function with, from ReceiveMessage's ``Messages`` (or
    dicts with at least ``MessageId`` and ``Body``)."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message.get("ReceiptHandle", f"handle-{message['MessageId']}"),
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1763636400000",
                    "SenderId": "AROA4EXAMPLEENFORCER:ecr-drift-enforcer",
                    "ApproximateFirstReceiveTimestamp": "1763636400100",
                },
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


def output_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects printed: Logger lines and EMF blobs."""
    lines = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            lines.append(value)
    return lines


def emitted_metrics(text: str) -> dict[str, list[tuple[float, dict[str, str]]]]:
    """Metric name → (value, dimensions) for every EMF blob in the namespace."""
    metrics: dict[str, list[tuple[float, dict[str, str]]]] = {}
    for blob in output_lines(text):
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            if directive["Namespace"] != NAMESPACE:
                continue
            dimensions = {d: str(blob[d]) for group in directive["Dimensions"] for d in group}
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                for item in value if isinstance(value, list) else [value]:
                    metrics.setdefault(metric["Name"], []).append((float(item), dimensions))
    return metrics


def log_records(text: str) -> list[dict[str, Any]]:
    return [line for line in output_lines(text) if "level" in line and "message" in line]
