"""The `demo` command (the scenario itself is in :mod:`ecr_drift.cli.demo`)."""

from __future__ import annotations

from importlib.resources import as_file, files
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from ecr_drift.cli.demo import run_demo
from ecr_drift.cli.output import Output
from ecr_drift.cli.validate import DESIRED_STATE_FILE, load_or_exit

DEMO_EXTRA_INSTALL = "pip install 'ecr-drift-enforcer[demo]'"


def demo_extra_missing(command: str, error: ModuleNotFoundError, output: Output) -> NoReturn:
    """Exit 1 with one line saying how to get the `demo` extra (moto), which ``error`` shows is missing.

    A module of this project missing is a broken install, not a missing extra: that error goes on.
    """
    if (error.name or "").split(".")[0] == "ecr_drift":
        raise error
    output.err.print(
        f"[bold red]error:[/] `ecr-drift {command}` needs the demo extra (moto), which is not installed: "
        f"{escape(DEMO_EXTRA_INSTALL)}"
    )
    raise typer.Exit(1)


def demo(
    desired: Annotated[
        Path | None,
        typer.Option(
            "--desired",
            "-d",
            help="The desired state file. Default: ./desired_state.json, or the example that comes with "
            "the package when there is none.",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the Lambda's JSON logs.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal.")] = False,
) -> None:
    """Run the whole loop on an embedded AWS double: no account, no credentials, no network.

    Builds the baseline from the desired state, drifts every kind of setting the way people and CI
    scripts do, feeds the Lambda handler the matching CloudTrail and ECR service events, runs a scheduled
    sweep and ends with a manual audit. Exit 0 when that audit is clean. The shell's AWS settings (an
    AWS_ENDPOINT_URL such as `ecr-drift sandbox` prints, a profile, credentials) are ignored: the demo
    never reaches a sandbox or an account.

    Needs the `demo` extra: `pip install 'ecr-drift-enforcer[demo]'`.

    **Examples**

        ecr-drift demo

        ecr-drift demo --desired my_desired_state.json --verbose
    """
    output = Output(no_color=no_color)
    # Found, not imported: moto reads its settings (TEST_SERVER_MODE) on import, which the demo clears first.
    if find_spec("moto") is None:
        demo_extra_missing("demo", ModuleNotFoundError(name="moto"), output)
    if desired is None and not DESIRED_STATE_FILE.exists():
        # Anywhere else than a checkout (after a pip install): the example that ships with the package.
        with as_file(files("ecr_drift.cli") / "example_desired_state.json") as example:
            output.err.print(
                "[yellow]note:[/] no ./desired_state.json here: the demo runs on the example that comes "
                f"with the package, {escape(str(example))}"
            )
            _run(example, output, verbose)
    else:
        _run(desired or DESIRED_STATE_FILE, output, verbose)


def _run(desired: Path, output: Output, verbose: bool) -> NoReturn:
    state = load_or_exit(desired, output)
    raise typer.Exit(run_demo(desired, state, output.out, verbose=verbose))
