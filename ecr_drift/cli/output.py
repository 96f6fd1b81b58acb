"""Where the CLI writes: results to stdout (plain when piped, or JSON), problems and progress to stderr."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape

from ecr_drift.desired.summary import count
from ecr_drift.documents.problems import Problem

PIPED_WIDTH = 200


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class Output:
    def __init__(self, output_format: OutputFormat = OutputFormat.table, no_color: bool = False) -> None:
        self.format = output_format
        self.out = console(stderr=False, no_color=no_color)
        self.err = console(stderr=True, no_color=no_color)

    @property
    def json(self) -> bool:
        return self.format is OutputFormat.json

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

    NO_COLOR (any non-empty value, https://no-color.org) and ``--no-color`` drop every style, bold too:
    rich's own ``no_color`` keeps bold and dim, and ``no_color=False`` would even override the variable.
    Piped output gets a wide page instead of rich's 80 columns, so that a `grep` finds whole rows.
    """
    plain = no_color or no_color_env()
    made = Console(stderr=stderr, color_system=None if plain else "auto", soft_wrap=True, highlight=False)
    if not made.is_terminal:
        made.width = PIPED_WIDTH
    return made


def no_color_env() -> bool:
    """NO_COLOR is set to anything but the empty string (https://no-color.org)."""
    return bool(os.environ.get("NO_COLOR"))


def problems_json(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"path": p.path, "message": p.message} for p in problems]
