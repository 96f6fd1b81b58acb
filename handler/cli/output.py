"""Where the CLI writes: results to stdout (plain when piped, or JSON), problems and progress to stderr."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape

from handler.documents.problems import Problem

PIPED_WIDTH = 200


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class Output:
    def __init__(self, output_format: OutputFormat = OutputFormat.table, no_color: bool = False) -> None:
        self.format = output_format
        # rich drops colour by itself when stdout is not a terminal, and honours NO_COLOR. Piped tables get
        # a wide page instead of rich's 80 columns, so that a `grep` finds whole rows.
        self.out = _console(stderr=False, no_color=no_color)
        self.err = _console(stderr=True, no_color=no_color)

    @property
    def json(self) -> bool:
        return self.format is OutputFormat.json

    def emit_json(self, payload: Any) -> None:
        # print() rather than rich: JSON must reach pipes byte for byte, without markup or wrapping.
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))

    def problems(self, source: str, problems: list[Problem]) -> None:
        self.err.print(f"[bold red]error:[/] {escape(source)} is not valid ({len(problems)} problem(s)):")
        for problem in problems:
            self.err.print(f"  [bold]{escape(problem.path or '(file)')}[/]: {escape(problem.message)}")


def _console(*, stderr: bool, no_color: bool) -> Console:
    console = Console(stderr=stderr, no_color=no_color, soft_wrap=True, highlight=False)
    if not console.is_terminal:
        console.width = PIPED_WIDTH
    return console


def problems_json(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"path": p.path, "message": p.message} for p in problems]
