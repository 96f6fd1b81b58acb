"""Where the CLI writes: results to stdout (plain when piped, or JSON), problems and progress to stderr."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape

from ecr_drift.desired.summary import count
from ecr_drift.documents.problems import Problem

PIPED_WIDTH = 200
# `ecr-drift --no-color COMMAND`: set by the root for one invocation and reset when it ends (app.py), so that
# it never outlives it as a module global would, e.g. across CliRunner invocations.
ROOT_NO_COLOR: ContextVar[bool] = ContextVar("root_no_color", default=False)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class ReportFormat(StrEnum):
    """The formats of a report (plan, audit, enforce, invoke): also TSV, one finding a line."""

    table = "table"
    json = "json"
    tsv = "tsv"


class Output:
    def __init__(
        self, output_format: OutputFormat | ReportFormat = OutputFormat.table, no_color: bool = False
    ) -> None:
        self.format = output_format
        self.out = console(stderr=False, no_color=no_color)
        self.err = console(stderr=True, no_color=no_color)

    @property
    def json(self) -> bool:
        return self.format == "json"

    @property
    def tsv(self) -> bool:
        return self.format == "tsv"

    def emit_json(self, payload: Any) -> None:
        # print() rather than rich: JSON must reach pipes byte for byte, without markup or wrapping.
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))

    def problems(self, source: str, problems: list[Problem]) -> None:
        self.err.print(
            f"[bold red]error:[/] {escape(source)} is not valid ({count(len(problems), 'problem')}):"
        )
        for problem in problems:
            self.err.print(f"  [bold]{escape(problem.path or '(file)')}[/]: {escape(problem.message)}")


def console(*, stderr: bool, no_color: bool) -> Console:
    """A console that styles only on a terminal, and not even there with ``--no-color`` or NO_COLOR.

    NO_COLOR (any non-empty value, https://no-color.org) and ``--no-color`` (the command's, or the root's:
    ROOT_NO_COLOR) drop every style, bold too: rich's own ``no_color`` keeps bold and dim, and
    ``no_color=False`` would even override the variable.
    Piped output gets a wide page instead of rich's 80 columns, so that a `grep` finds whole rows.
    """
    plain = no_color or no_color_env() or ROOT_NO_COLOR.get()
    made = Console(stderr=stderr, color_system=None if plain else "auto", soft_wrap=True, highlight=False)
    if not made.is_terminal:
        made.width = PIPED_WIDTH
    return made


def no_color_env() -> bool:
    """NO_COLOR is set to anything but the empty string (https://no-color.org)."""
    return bool(os.environ.get("NO_COLOR"))


def plain_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows for a pipe: one line each, columns padded to line up and two spaces apart, the last unpadded;
    no box drawing and no wrapping, so that `grep` finds whole rows."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)] if rows else []
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]]) for row in rows
    ]


def problems_json(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"path": p.path, "message": p.message} for p in problems]
