"""One SNS message per run that found something a person should hear about.

Findings that are only ``reported`` (encryption, unmanaged repositories) and were raised by a sweep rather
than by somebody's change come back on every sweep; they stay in the logs, the events and Security Hub
instead of mailing the same news every hour.

A message lists the findings most important first, at most ``LISTED`` of them and as many as fit in SNS's
256 KB; it ends with how many it left out, each of them a line of the function's log.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ecr_drift.desired.summary import count
from ecr_drift.findings import Action, Finding, Report
from ecr_drift.publish.limits import fit, most_important_first
from ecr_drift.publish.text import finding_title, origin_text, value_text

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

IAM_ACTIONS = ("sns:Publish",)
SUBJECT_LIMIT = 99  # SNS: fewer than 100 characters, ASCII, no line breaks
LISTED = 50  # findings spelled out in one message; the rest are counted
MESSAGE_LIMIT = 256 * 1024  # SNS: bytes of a message, UTF-8
MESSAGE_BUDGET = MESSAGE_LIMIT - 1024  # room for the subject, should AWS count it with the message


def worth_notifying(finding: Finding) -> bool:
    return finding.action is not Action.REPORTED or finding.origin is not None


def subject(report: Report, findings: list[Finding]) -> str:
    counts = Counter(str(f.action) for f in findings)
    what = ", ".join(f"{counts[str(a)]} {a}" for a in Action if counts[str(a)])
    resources = sorted({f.resource for f in findings})
    where = resources[0] if len(resources) == 1 else f"{len(resources)} resources"
    text = f"ECR drift ({report.mode}): {what} on {where}"
    text = text.encode("ascii", "replace").decode()
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def message(report: Report, findings: list[Finding]) -> str:
    summary = ", ".join(f"{count} {action}" for action, count in report.summary.items() if count)
    lines = [
        f"ecr-drift-enforcer found {count(len(findings), 'difference')} from the desired state "
        f"(mode: {report.mode}, trigger: {report.trigger}).",
        f"Summary: {summary}. Repositories checked: {len(report.repositories_checked)}. "
        f"Write calls: {report.writes}.",
    ]
    if report.not_checked:
        lines.append(f"Not checked (out of time, next sweep covers them): {len(report.not_checked)}.")
    head = "\n".join(lines)
    blocks = [
        _block(number, finding)
        for number, finding in enumerate(most_important_first(findings)[:LISTED], start=1)
    ]
    # Room for the closing line at its longest: every finding left out.
    room = MESSAGE_BUDGET - _size(head) - _size(_more(len(findings)))
    listed, _ = fit(map(_size, blocks), room)
    left_out = len(findings) - listed
    return head + "".join(blocks[:listed]) + (_more(left_out) if left_out else "")


def _block(number: int, finding: Finding) -> str:
    lines = [f"{number}. {finding_title(finding)}"]
    if finding.message:
        lines.append(f"   {finding.message}")
    lines.append(f"   expected: {value_text(finding.expected)}")
    lines.append(f"   actual:   {value_text(finding.actual)}")
    if who := origin_text(finding.origin):
        lines.append(f"   {who}")
    if finding.origin and finding.origin.user_agent:
        lines.append(f"   user agent: {finding.origin.user_agent[:200]}")
    if finding.error:
        lines.append(f"   error: {finding.error}")
    return "\n\n" + "\n".join(lines)


def _more(left_out: int) -> str:
    return f"\n\n... and {left_out} more, each a line of the function's log of this invocation."


def _size(text: str) -> int:
    return len(text.encode())


def notify(report: Report, *, topic_arn: str, client: SNSClient) -> list[str]:
    """Publish the summary when a finding is worth it. Returns no partial failures: it sends or raises."""
    findings = [f for f in report.findings if worth_notifying(f)]
    if findings:
        client.publish(
            TopicArn=topic_arn, Subject=subject(report, findings), Message=message(report, findings)
        )
    return []
