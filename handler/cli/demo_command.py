"""The `demo` command (the scenario itself is in :mod:`handler.cli.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from handler.cli.demo import run_demo
from handler.cli.output import Output
from handler.cli.validate import load_or_exit


def demo(
    desired: Annotated[Path, typer.Option("--desired", "-d", help="The desired state file.")] = Path(
        "desired_state.json"
    ),
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the Lambda's JSON logs.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal.")] = False,
) -> None:
    """Run the whole loop on an embedded AWS double: no account, no credentials, no network.

    Builds the baseline from the desired state, drifts every kind of setting the way people and CI
    scripts do, feeds the Lambda handler the matching CloudTrail and ECR service events, runs a scheduled
    sweep and ends with a manual audit. Exit 0 when that audit is clean.

    **Example**

        ecr-drift demo
    """
    state = load_or_exit(desired, Output(no_color=no_color))
    console = Console(no_color=no_color, highlight=False, soft_wrap=True)
    raise typer.Exit(run_demo(desired, state, console, verbose=verbose))
