"""The ``ecr-drift`` command: entry point and the commands that need no AWS account."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from handler.cli.output import Output, OutputFormat, problems_json
from handler.desired import DesiredState, DesiredStateError, load_desired_state
from handler.desired.schema import render_schema
from handler.desired.summary import summarize

app = typer.Typer(
    name="ecr-drift",
    help="Keep an account's ECR registry exactly as declared in desired_state.json.\n\n"
    "Start with `ecr-drift validate`, then `ecr-drift plan` to see what `ecr-drift enforce` would change.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)

DesiredPath = Annotated[
    Path,
    typer.Argument(help="The desired state file.", show_default=True),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="`table` for people, `json` for machines.")
]
NoColor = Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal.")]


def load_or_exit(path: Path, output: Output) -> DesiredState:
    """The desired state, or every problem with its JSON path on stderr and exit code 1."""
    try:
        return load_desired_state(path)
    except DesiredStateError as error:
        if output.json:
            output.emit_json({"valid": False, "path": str(path), "problems": problems_json(error.problems)})
        else:
            output.problems(error.source, error.problems)
        raise typer.Exit(1) from None


@app.command()
def validate(
    path: DesiredPath = Path("desired_state.json"),
    output_format: FormatOption = OutputFormat.table,
    no_color: NoColor = False,
) -> None:
    """Check a desired state file: syntax, duplicate keys, unknown fields, names, ids, limits, contradictions.

    Prints a one-line summary when valid. Otherwise prints every problem with its JSON path
    (e.g. `repositories.admin-dashboard.lifecycle[1].max_images`) and exits 1. Nothing is written anywhere.

    **Examples**

        ecr-drift validate

        ecr-drift validate envs/prod/desired_state.json --format json
    """
    output = Output(output_format, no_color)
    state = load_or_exit(path, output)
    summary = summarize(state)
    if output.json:
        output.emit_json({"valid": True, "path": str(path), **summary.as_dict()})
    else:
        output.out.print(f"{path}: valid. {summary.sentence()}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of desired_state.json (the committed desired_state.schema.json is this output).

    **Example**

        ecr-drift schema > desired_state.schema.json
    """
    print(render_schema(), end="")


def main() -> None:
    app()
