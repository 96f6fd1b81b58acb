"""The ``ecr-drift`` command: one entry point, each command in the module that owns it."""

from __future__ import annotations

import os
import sys

import typer

from handler.cli import account, doctor, validate
from handler.cli.demo_command import demo
from handler.cli.lifecycle import lifecycle_app

app = typer.Typer(
    name="ecr-drift",
    help="Keep an account's ECR registry exactly as declared in desired_state.json.\n\n"
    "New here? `ecr-drift demo` runs the whole loop on an embedded AWS double. On an account: "
    "`ecr-drift validate`, then `ecr-drift plan` to see what `ecr-drift enforce` would change.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(demo)
app.command()(validate.validate)
app.command()(account.plan)
app.command()(account.audit)
app.command()(account.enforce)
app.command()(account.invoke)
app.command()(doctor.doctor)
app.command()(validate.documents)
app.command()(validate.schema)
app.add_typer(lifecycle_app, name="lifecycle")


def main() -> None:
    """Run the CLI. A bug ends in one line on stderr and exit 1; ECR_DRIFT_DEBUG=1 shows the traceback."""
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
