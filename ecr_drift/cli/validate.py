"""Commands that need no AWS account: validate the desired state, its schema, the compiled documents."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ecr_drift.cli.output import Output, OutputFormat, problems_json
from ecr_drift.desired import DesiredState, DesiredStateError, load_desired_state, resolve
from ecr_drift.desired.schema import render_schema
from ecr_drift.desired.summary import summarize
from ecr_drift.documents.problems import Problem
from ecr_drift.documents.repository_documents import lifecycle_policy_text, repository_policy_text

DESIRED_STATE_FILE = Path("desired_state.json")  # where every command looks by default
DESIRED_OPTION = "--desired PATH"


def not_found(path: Path, named_by: str = DESIRED_OPTION) -> str:
    """The one line for a desired state file that does not exist: how to write one, or how to name another.

    ``named_by``: how the command is given a path (`--desired PATH`, or `validate`'s argument).
    """
    init = (
        "ecr-drift init"
        if path == DESIRED_STATE_FILE
        else f"ecr-drift init --output {shlex.quote(str(path))}"
    )
    return f"{path} not found: run `{init}` to write a starting one, or pass {named_by}"


def load_or_exit(path: Path, output: Output, named_by: str = DESIRED_OPTION) -> DesiredState:
    """The desired state, or every problem with its JSON path on stderr and exit code 1.

    A file that does not exist is one line saying what to do (`not_found`), not a problem "in" it: it is
    what a first run in an empty folder meets.
    """
    if not path.exists():
        message = not_found(path, named_by)
        if output.json:
            problems = problems_json([Problem("", message)])
            output.emit_json({"valid": False, "path": str(path), "problems": problems})
        else:
            output.err.print(f"[bold red]error:[/] {escape(message)}")
        raise typer.Exit(1)
    try:
        return load_desired_state(path)
    except DesiredStateError as error:
        if output.json:
            output.emit_json({"valid": False, "path": str(path), "problems": problems_json(error.problems)})
        else:
            output.problems(error.source, error.problems)
        raise typer.Exit(1) from None


def validate(
    path: Annotated[Path, typer.Argument(help="The desired state file.")] = DESIRED_STATE_FILE,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="`table` for people, `json` for machines.")
    ] = OutputFormat.table,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal.")] = False,
) -> None:
    """Check a desired state file: syntax, duplicate keys, unknown fields, names, ids, limits, contradictions.

    Prints a one-line summary when valid. Otherwise prints every problem with its JSON path
    (e.g. `repositories.admin-dashboard.lifecycle[1].max_images`) and exits 1. Nothing is written anywhere.

    **Examples**

        ecr-drift validate

        ecr-drift validate envs/prod/desired_state.json --format json
    """
    output = Output(output_format, no_color)
    state = load_or_exit(path, output, named_by="its path: `ecr-drift validate PATH`")
    summary = summarize(state)
    if output.json:
        output.emit_json({"valid": True, "path": str(path), **summary.as_dict()})
    else:
        output.out.print(f"{escape(str(path))}: valid. {summary.sentence()}")  # `[...]` is rich markup


def schema() -> None:
    """Print the JSON Schema of desired_state.json (the committed desired_state.schema.json is this output).

    **Example**

        ecr-drift schema > desired_state.schema.json
    """
    print(render_schema(), end="")


def documents(
    repository: Annotated[str, typer.Argument(help="A repository name (named, or matching a pattern).")],
    desired: Annotated[Path, typer.Option("--desired", "-d", help="The desired state file.")] = Path(
        "desired_state.json"
    ),
) -> None:
    """Print a repository's effective settings and the exact documents the compiler makes for it.

    These are byte for byte the lifecycle and repository policy texts that Pulumi deploys and the
    enforcer re-applies. Exit 1 when no entry or pattern manages the repository.

    **Example**

        ecr-drift documents admin-dashboard
    """
    output = Output()
    state = load_or_exit(desired, output)
    resolved = resolve(state, repository)
    if resolved is None:
        output.err.print(
            f"[bold red]error:[/] no repository entry or pattern in {escape(str(desired))} manages "
            f"{escape(repr(repository))}"
        )
        raise typer.Exit(1)
    settings = resolved.settings
    output.emit_json(
        {
            "repository": repository,
            "source": resolved.pattern or "repositories",
            "settings": settings.model_dump(mode="json", exclude_unset=True, by_alias=True),
            "lifecycle_policy_text": lifecycle_policy_text(settings),
            "repository_policy_text": repository_policy_text(settings),
        }
    )
