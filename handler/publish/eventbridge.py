"""One EventBridge event per finding, so other automation can route on resource, setting and action."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from handler.findings import Finding, Report

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

IAM_ACTIONS = ("events:PutEvents",)
SOURCE = "ecr-drift-enforcer"
DETAIL_TYPE = "ECR Drift Finding"
BATCH = 10  # PutEvents' limit on entries a call


def entry(report: Report, finding: Finding, bus: str) -> PutEventsRequestEntryTypeDef:
    detail = {**finding.to_dict(), "mode": report.mode, "trigger": report.trigger}
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "EventBusName": bus,
        "Detail": json.dumps(detail, default=str),
    }


def put_findings(report: Report, *, bus: str, client: EventBridgeClient) -> list[str]:
    """Send every finding; returns one message per finding that did not get through."""
    failures: list[str] = []
    for start in range(0, len(report.findings), BATCH):
        batch = report.findings[start : start + BATCH]
        try:
            response = client.put_events(Entries=[entry(report, f, bus) for f in batch])
        except (BotoCoreError, ClientError) as error:  # the next batch may still get through
            failures += [f"{f.resource} {f.setting}: {error}" for f in batch]
            continue
        failures += [
            f"{f.resource} {f.setting}: {result['ErrorCode']} {result.get('ErrorMessage', '')}".rstrip()
            for f, result in zip(batch, response["Entries"], strict=False)
            if "ErrorCode" in result
        ]
    return failures
