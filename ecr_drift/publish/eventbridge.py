"""One EventBridge event per finding, so other automation can route on resource, setting and action.

PutEvents takes at most 10 entries and 256 KB a request: the findings go in as many requests as those limits
need. A finding too large for a request of its own goes with its documents (``expected``, ``actual``) cut to
JSON text and a ``note`` saying so; the whole finding is in the function's log.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ecr_drift.findings import Finding, Report
from ecr_drift.publish.limits import json_size
from ecr_drift.publish.text import value_text

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

IAM_ACTIONS = ("events:PutEvents",)
SOURCE = "ecr-drift-enforcer"
DETAIL_TYPE = "ECR Drift Finding"
BATCH = 10  # PutEvents' limit on entries a call
REQUEST_LIMIT = 256 * 1024  # PutEvents' limit on the entries of a call, together
# Entries are measured as botocore writes them (the Detail JSON-escaped, the bus name too): more than AWS
# counts, so the request's body is under the limit as well; the margin is for the body's envelope.
REQUEST_BUDGET = REQUEST_LIMIT - 1024
SHORTEST = 100  # characters of a cut document below which cutting further would say nothing
NOTE = (
    "expected and actual are cut to {limit} characters of JSON text: the event was over EventBridge's "
    "256 KB limit. The whole finding is in the function's log of this invocation."
)

Entry = tuple[Finding, "PutEventsRequestEntryTypeDef"]


def entry(report: Report, finding: Finding, bus: str) -> PutEventsRequestEntryTypeDef:
    """The finding's event; its documents cut when it would not fit in a request on its own."""
    detail = {**finding.to_dict(), "mode": report.mode, "trigger": report.trigger}
    whole = _entry(detail, bus)
    if json_size(whole) <= REQUEST_BUDGET:
        return whole
    limit = REQUEST_BUDGET // 2
    while True:
        cut = {
            **detail,
            "expected": value_text(finding.expected, limit),
            "actual": value_text(finding.actual, limit),
            "note": NOTE.format(limit=limit),
        }
        shortened = _entry(cut, bus)
        # Still too large when the rest is (a huge message or error): sent anyway, AWS refuses it, and
        # put_findings reports it as not published.
        if json_size(shortened) <= REQUEST_BUDGET or limit <= SHORTEST:
            return shortened
        limit //= 2


def _entry(detail: dict[str, Any], bus: str) -> PutEventsRequestEntryTypeDef:
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "EventBusName": bus,
        "Detail": json.dumps(detail, default=str),
    }


def batches(entries: list[Entry]) -> list[list[Entry]]:
    """``entries`` split into PutEvents calls, in order: each at most ``BATCH`` entries and ``REQUEST_BUDGET``
    bytes."""
    calls: list[list[Entry]] = []
    size = 0
    for item in entries:
        item_size = json_size(item[1]) + 2  # and the ", " between entries
        if not calls or len(calls[-1]) == BATCH or size + item_size > REQUEST_BUDGET:
            calls.append([])
            size = 0
        calls[-1].append(item)
        size += item_size
    return calls


def put_findings(report: Report, *, bus: str, client: EventBridgeClient) -> list[str]:
    """Send every finding; returns one message per finding that did not get through."""
    failures: list[str] = []
    for call in batches([(f, entry(report, f, bus)) for f in report.findings]):
        findings = [f for f, _ in call]
        try:
            response = client.put_events(Entries=[e for _, e in call])
        except (BotoCoreError, ClientError) as error:  # the next call may still get through
            failures += [f"{f.resource} {f.setting}: {error}" for f in findings]
            continue
        failures += [
            f"{f.resource} {f.setting}: {result['ErrorCode']} {result.get('ErrorMessage', '')}".rstrip()
            for f, result in zip(findings, response["Entries"], strict=False)
            if "ErrorCode" in result
        ]
    return failures
