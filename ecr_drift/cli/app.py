"""The ``ecr-drift`` command: one entry point, each command in the module that owns it."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from typing import Annotated

import typer
from typer import rich_utils

from ecr_drift.cli import account, doctor, init_command, validate
from ecr_drift.cli.demo_command import demo
from ecr_drift.cli.import_command import import_registry
from ecr_drift.cli.lifecycle import lifecycle_app
from ecr_drift.cli.output import ROOT_NO_COLOR, no_color_env
from ecr_drift.cli.sandbox import sandbox

app = typer.Typer(
    name="ecr-drift",
    cls=account.UsageErrorsExit1,  # usage errors exit 1, as terraform's do, not click's 2
    help="Keep an account's ECR registry exactly as declared in desired_state.json.\n\n"
    "New here? `ecr-drift demo` runs the whole loop on an embedded AWS double. On an account: "
    "`ecr-drift init` (or `ecr-drift init --from-account`) writes a starting desired_state.json, "
    "`ecr-drift validate` checks it, then `ecr-drift plan` shows what `ecr-drift enforce` would change.",
    epilog="Environment: `NO_COLOR=1` turns off every style, as `--no-color` does; `ECR_DRIFT_DEBUG=1` shows "
    "the traceback of an internal error (a bug in ecr-drift) instead of its one line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(demo)
app.command()(sandbox)
app.command()(init_command.init)
app.command()(validate.validate)
app.command()(account.plan)
app.command()(account.audit)
app.command()(account.enforce)
app.command()(account.invoke)
app.command("import")(import_registry)
app.command()(doctor.doctor)
app.command()(validate.documents)
app.command()(validate.schema)
app.add_typer(lifecycle_app, name="lifecycle")


def _print_version(wanted: bool) -> None:
    if wanted:
        # The installed distribution's metadata: the version pip and `pip list` show.
        typer.echo(f"ecr-drift {metadata.version('ecr-drift-enforcer')}")
        raise typer.Exit()


@app.callback()
def _root_options(
    context: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colour in any command, even on a terminal.")
    ] = False,
) -> None:
    # --version's callback does its work. --no-color holds for this invocation's consoles, and no longer.
    token = ROOT_NO_COLOR.set(no_color)
    context.call_on_close(lambda: ROOT_NO_COLOR.reset(token))


def main() -> None:
    """Run the CLI. A bug ends in one line on stderr and exit 1; ECR_DRIFT_DEBUG=1 shows the traceback."""
    if no_color_env():
        rich_utils.COLOR_SYSTEM = None  # typer's help and usage errors: rich's NO_COLOR keeps bold and dim
    try:
        app()
    except Exception as error:
        if os.environ.get("ECR_DRIFT_DEBUG"):
            raise
        print(
            f"error: internal error: {type(error).__name__}: {error} (ECR_DRIFT_DEBUG=1 shows where)",
            file=sys.stderr,
        )
        sys.exit(1)
