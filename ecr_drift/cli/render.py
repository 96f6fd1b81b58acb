"""Reports for people: findings grouped by resource, each with what enforce would do (a plan) or what
happened, and why; documents too long for a cell in numbered footnotes; one summary line.

Nothing is cut: a long message wraps in its cell, a long document moves to a footnote, in full or as a
unified diff of the account's against the desired one.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ecr_drift.findings import Action, Finding, Report
from ecr_drift.publish.text import value_text

ACTION_STYLE = {
    Action.DRIFT: "yellow",
    Action.REMEDIATED: "green",
    Action.REPORTED: "cyan",
    Action.BLOCKED: "magenta",
    Action.FAILED: "bold red",
}
DIFF_STYLE = {"-": "red", "+": "green", "@": "cyan"}
CELL_WIDTH = 60  # a document longer than this, as compact JSON, moves to a footnote
WIDE_TERMINAL = 160  # columns from which footnotes show documents as a diff without being asked to


def print_report(console: Console, report: Report, *, plan: bool = False, diff: bool = False) -> None:
    """The report as a table, its footnotes and a summary line. ``plan``: the last column says what
    enforce would do; ``diff``: documents as a unified diff (a wide terminal gets one anyway)."""
    if report.findings:
        notes = Footnotes(diff=diff or (console.is_terminal and console.width >= WIDE_TERMINAL))
        console.print(findings_table(report, notes, plan=plan))
        notes.print(console)
    else:
        console.print("[green]compliant:[/] the account matches the desired state.")
    console.print(summary_line(report))
    if plan:
        console.print(plan_line(report))


def findings_table(report: Report, notes: Footnotes, *, plan: bool = False) -> Table:
    """One row per finding, grouped by resource; the documents too long for a cell go to ``notes``."""
    table = Table(show_lines=False, header_style="bold", expand=False)
    table.add_column("resource", no_wrap=True)
    table.add_column("setting")
    # Folded rather than cut (rich's default): an ARN or a message reads whole, over several lines.
    table.add_column("expected", overflow="fold")
    table.add_column("actual", overflow="fold")
    table.add_column("enforce would" if plan else "action", overflow="fold")
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        grouped[finding.resource].append(finding)
    for resource in sorted(grouped):
        for index, finding in enumerate(sorted(grouped[resource], key=lambda f: f.label)):
            expected, actual = notes.cells(finding)
            table.add_row(
                Text(resource if index == 0 else ""),
                Text(finding.label),
                Text(expected),
                Text(actual),
                Text(outcome(finding, plan=plan), style=ACTION_STYLE[finding.action]),
            )
    return table


def outcome(finding: Finding, *, plan: bool = False) -> str:
    """A plan's drift: the calls enforce would make. Otherwise the action, then why (the guard's count and
    its override, the failed call and the IAM action it lacks); ``drift`` needs no why."""
    if finding.action is Action.DRIFT:
        return ", ".join(finding.calls) if plan and finding.calls else str(finding.action)
    return ": ".join([str(finding.action), *(text for text in (finding.message, finding.error) if text)])


class Footnotes:
    """The documents too long for a table cell, numbered in table order: in full, or with ``diff`` as a
    unified diff from the account's (actual) to the desired one (expected), which is what enforce would
    change."""

    def __init__(self, *, diff: bool) -> None:
        self.diff = diff
        self._findings: list[Finding] = []

    def cells(self, finding: Finding) -> tuple[str, str]:
        """The expected and actual cells: each value, or the footnote's number when it is a long document."""
        expected, actual = _compact(finding.expected), _compact(finding.actual)
        long = [_is_long(finding.expected, expected), _is_long(finding.actual, actual)]
        if not any(long):
            return expected, actual
        self._findings.append(finding)
        mark = f"[{len(self._findings)}]"
        return (mark if long[0] else expected), (mark if long[1] else actual)

    def print(self, console: Console) -> None:
        for number, finding in enumerate(self._findings, start=1):
            console.print(Text(f"[{number}] {finding.resource} {finding.label}", style="bold"))
            if self.diff and (lines := unified_diff(finding.expected, finding.actual)):
                for line in lines:
                    console.print(Text(line, style=DIFF_STYLE.get(line[:1], "")))
            else:
                console.print(Text(f"    expected: {_compact(finding.expected)}"))
                console.print(Text(f"    actual:   {_compact(finding.actual)}"))


def unified_diff(expected: Any, actual: Any) -> list[str]:
    """``actual`` changed into ``expected``, both as indented JSON, as `diff -u` shows it."""
    return list(
        difflib.unified_diff(
            _indented(actual),
            _indented(expected),
            "actual (the account)",
            "expected (desired state)",
            lineterm="",
        )
    )


def _indented(value: Any) -> list[str]:
    return [] if value is None else json.dumps(value, indent=2, sort_keys=True, default=str).splitlines()


def _compact(value: Any) -> str:
    return "(none)" if value is None else value_text(value, limit=sys.maxsize)


def _is_long(value: Any, text: str) -> bool:
    return isinstance(value, dict | list) and len(text) > CELL_WIDTH


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
    parts.append(_calls(report.writes))
    return ", ".join(parts)


def plan_line(report: Report) -> str:
    """What enforce would write, in all: the plan's bottom line."""
    calls = [len(f.calls) for f in report.findings if f.calls]
    if not calls:
        return "plan: enforce would write nothing"
    findings = f"{len(calls)} finding{'s' if len(calls) != 1 else ''}"
    return f"plan: enforce would make {_calls(sum(calls))} for {findings}"


def _calls(count: int) -> str:
    return f"{count} write call{'s' if count != 1 else ''}"
