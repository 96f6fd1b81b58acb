"""The ``ecr-drift`` command: one entry point, each command in the module that owns it."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from typing import Annotated

import typer
from typer import rich_utils

from ecr_drift.cli import account, doctor, validate
from ecr_drift.cli.demo_command import demo
from ecr_drift.cli.import_command import import_registry
from ecr_drift.cli.lifecycle import lifecycle_app
from ecr_drift.cli.output import no_color_env
from ecr_drift.cli.sandbox import sandbox

app = typer.Typer(
    name="ecr-drift",
    cls=account.UsageErrorsExit1,  # usage errors exit 1, as terraform's do, not click's 2
    help="Keep an account's ECR registry exactly as declared in desired_state.json.\n\n"
    "New here? `ecr-drift demo` runs the whole loop on an embedded AWS double. On an account: "
    "`ecr-drift validate`, then `ecr-drift plan` to see what `ecr-drift enforce` would change.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(demo)
app.command()(sandbox)
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
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    pass  # the root takes only --version, whose callback does the work


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
