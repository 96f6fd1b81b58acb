"""Reports for people: findings grouped by resource, each with what enforce would do (a plan) or what
happened, and why; documents too long for a cell in numbered footnotes; one summary line. Piped, the table
is plain lines, one finding each, its resource on every one; `--format tsv` is a finding per line for tools.

Nothing is cut: a long message wraps in its cell, a long document moves to a footnote, in full or as a
unified diff of the account's against the desired one.
"""

from __future__ import annotations

import difflib
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ecr_drift.cli.output import plain_lines
from ecr_drift.desired.summary import count
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
KEY_COLUMNS = 2  # resource and setting: names a reader looks for, so never folded where words fit
CHROME = 3  # a column's border on its left and its padding; the table adds one border on the right
VALUE_MIN = 10  # the narrowest an expected or actual column gets while the calls keep their names whole
TSV_COLUMNS = (
    "resource",
    "setting",
    "key",
    "action",
    "expected",
    "actual",
    "calls",
    "message",
    "error",
    "origin",
)
TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def print_report(console: Console, report: Report, *, plan: bool = False, diff: bool = False) -> None:
    """The report as a table, its footnotes and a summary line. ``plan``: the last column says what
    enforce would do; ``diff``: documents as a unified diff (a wide terminal gets one anyway)."""
    if report.findings:
        notes = Footnotes(diff=diff or (console.is_terminal and console.width >= WIDE_TERMINAL))
        rows = finding_rows(report, notes, plan=plan)
        if not console.is_terminal:
            for line in plain_lines([_headers(plan), *([str(cell) for cell in row] for row in rows)]):
                console.print(Text(line))
        elif (table := findings_table(rows, console.width, plan=plan)) is not None:
            console.print(table)
        else:
            print_records(console, rows, plan=plan)
        notes.print(console)
    else:
        console.print("[green]compliant:[/] the account matches the desired state.")
    console.print(summary_line(report))
    if plan:
        console.print(plan_line(report))


def finding_rows(report: Report, notes: Footnotes, *, plan: bool = False) -> list[list[Text]]:
    """One row of cells per finding, by resource then setting; documents too long for a cell go to
    ``notes``. Every row names its resource, so that a row read alone (or found by `grep`) is whole."""
    rows = []
    for finding in sorted(report.findings, key=lambda f: (f.resource, f.label)):
        expected, actual = notes.cells(finding)
        rows.append(
            [
                Text(finding.resource),
                Text(finding.label),
                Text(expected),
                Text(actual),
                Text(outcome(finding, plan=plan), style=ACTION_STYLE[finding.action]),
            ]
        )
    return rows


def findings_table(rows: list[list[Text]], width: int, *, plan: bool = False) -> Table | None:
    """The rows as a table for a terminal ``width`` columns wide, or None when even each column's longest
    word does not fit (:func:`print_records` then). Cells wrap at spaces, and fold (never cut with an
    ellipsis) only a word wider than its column. When the table does not fit, the resource and setting
    columns keep their longest word, then the calls their longest name while expected and actual keep up to
    VALUE_MIN columns each, then the keys their whole width if there is still room."""
    headers = _headers(plan)
    cells = [
        [header, *map(str, column)] for header, column in zip(headers, zip(*rows, strict=True), strict=True)
    ]
    words = [max(_longest_word(cell) for cell in column) for column in cells]
    full = [max(len(cell) for cell in column) for column in cells]
    room = width - CHROME * len(headers) - 1
    if sum(words) > room:
        return None
    fixed: list[int | None] = [None] * len(headers)
    if sum(full) > room:
        fixed[:KEY_COLUMNS] = words[:KEY_COLUMNS]
        spare = room - sum(words[:KEY_COLUMNS]) - sum(min(VALUE_MIN, w) for w in words[KEY_COLUMNS:-1])
        if words[-1] <= spare:
            fixed[-1] = words[-1]
            spare -= words[-1]
        if sum(full[:KEY_COLUMNS]) - sum(words[:KEY_COLUMNS]) <= spare:
            fixed[:KEY_COLUMNS] = full[:KEY_COLUMNS]
    table = Table(show_lines=False, header_style="bold", expand=False)
    for header, column_width in zip(headers, fixed, strict=True):
        table.add_column(header, width=column_width, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def print_records(console: Console, rows: list[list[Text]], *, plan: bool = False) -> None:
    """A terminal too narrow for the table: each finding as a block, its resource and setting on the first
    line, then a field a line, values wrapping beside their names."""
    for row in rows:
        console.print(Text.assemble((row[0].plain, "bold"), "  ", row[1]))
        fields = Table.grid(padding=(0, 2))
        fields.add_column(no_wrap=True)
        fields.add_column(overflow="fold")
        for header, cell in zip(_headers(plan)[KEY_COLUMNS:], row[KEY_COLUMNS:], strict=True):
            fields.add_row(f"  {header}", cell)
        console.print(fields)


def _headers(plan: bool) -> list[str]:
    return ["resource", "setting", "expected", "actual", "enforce would" if plan else "action"]


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


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
    parts = [
        f"{count(len(report.repositories_checked), 'repository', 'repositories')} checked",
        count(len(report.findings), "finding"),
        f"{counts['remediated']} fixed",
        f"{counts['failed']} failed",
    ]
    if counts["blocked"]:
        parts.append(f"{counts['blocked']} blocked")
    if counts["reported"]:
        parts.append(f"{counts['reported']} reported only")
    if report.not_checked:
        parts.append(f"{len(report.not_checked)} not checked (out of time)")
    parts.append(count(report.writes, "write call"))
    return ", ".join(parts)


def plan_line(report: Report) -> str:
    """What enforce would write, in all: the plan's bottom line."""
    calls = [len(f.calls) for f in report.findings if f.calls]
    if not calls:
        return "plan: enforce would write nothing"
    return f"plan: enforce would make {count(sum(calls), 'write call')} for {count(len(calls), 'finding')}"


def tsv_lines(report: Report) -> list[str]:
    """`--format tsv`: a header, then a finding per line with its resource; a value that is not a string
    as compact JSON, none as an empty field; a backslash, tab or line break escaped as in C."""
    lines = ["\t".join(TSV_COLUMNS)]
    for finding in report.findings:
        fields = finding.to_dict()
        lines.append("\t".join(_tsv_field(fields[column]) for column in TSV_COLUMNS))
    return lines


def _tsv_field(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else value_text(value, limit=sys.maxsize)
    return text.translate(TSV_ESCAPES)
