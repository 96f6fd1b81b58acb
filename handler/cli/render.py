"""Reports for people: findings grouped by resource, a plan of writes, and one summary line."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from handler.findings import Action, Finding, Report
from handler.publish.text import value_text

ACTION_STYLE = {
    Action.DRIFT: "yellow",
    Action.REMEDIATED: "green",
    Action.REPORTED: "cyan",
    Action.BLOCKED: "magenta",
    Action.FAILED: "bold red",
}


def _short(value: Any) -> str:
    return "(none)" if value is None else value_text(value, limit=60)


def findings_table(report: Report, *, planned: dict[str, str] | None = None) -> Table:
    """One row per finding, grouped by resource; ``planned``: setting → the writes enforce would make."""
    table = Table(show_lines=False, header_style="bold", expand=False)
    table.add_column("resource", no_wrap=True)
    table.add_column("setting")
    table.add_column("expected")
    table.add_column("actual")
    table.add_column("action" if planned is None else "enforce would")
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        grouped[finding.resource].append(finding)
    for resource in sorted(grouped):
        for index, finding in enumerate(sorted(grouped[resource], key=lambda f: f.label)):
            if planned is not None and finding.action is Action.DRIFT:
                outcome = planned.get(str(finding.setting), "write")
            else:
                outcome = str(finding.action)
                if finding.error:
                    outcome += f": {finding.error}"
            style = ACTION_STYLE[finding.action]
            table.add_row(
                escape(resource) if index == 0 else "",
                escape(finding.label),
                escape(_short(finding.expected)),
                escape(_short(finding.actual)),
                f"[{style}]{escape(outcome)}[/]",
            )
    return table


def summary_line(report: Report) -> str:
    counts = report.summary
    drifted = len(report.findings)
    parts = [
        f"{len(report.repositories_checked)} repositories checked",
        f"{drifted} finding{'s' if drifted != 1 else ''}",
        f"{counts['remediated']} fixed",
        f"{counts['failed']} failed",
    ]
    if counts["blocked"]:
        parts.append(f"{counts['blocked']} blocked")
    if counts["reported"]:
        parts.append(f"{counts['reported']} reported only")
    if report.not_checked:
        parts.append(f"{len(report.not_checked)} not checked (out of time)")
    parts.append(f"{report.writes} write call{'s' if report.writes != 1 else ''}")
    return ", ".join(parts)


def print_report(console: Console, report: Report, *, planned: dict[str, str] | None = None) -> None:
    if report.findings:
        console.print(findings_table(report, planned=planned))
    else:
        console.print("[green]compliant:[/] the account matches the desired state.")
    console.print(summary_line(report))
