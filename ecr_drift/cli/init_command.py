"""`ecr-drift init`: a starting desired_state.json, in audit mode, with its JSON schema beside it."""

from __future__ import annotations

import shlex
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ecr_drift.aws.clients import DEFAULT_CONCURRENCY
from ecr_drift.cli.account import EndpointOption, ProfileOption, RegionOption, account_options
from ecr_drift.cli.import_command import (
    STDOUT,
    ForceOption,
    adopt_account,
    desired_state_text,
    print_summary,
    refuse_existing,
    write_desired_state,
)
from ecr_drift.cli.output import OutputFormat
from ecr_drift.cli.validate import DESIRED_STATE_FILE
from ecr_drift.desired import DesiredState, load_desired_state_text
from ecr_drift.targets import Mode

EXAMPLE = files("ecr_drift.cli") / "example_desired_state.json"
AUDIT_MODE = (
    "enforcement.mode is `audit`: the enforcer and `ecr-drift enforce` write nothing to the account until "
    "you set it to `enforce` (a `pulumi up` still creates the baseline it declares: see infra/README.md)"
)
ENFORCE_MODE = (
    "enforcement.mode is `enforce`: `ecr-drift enforce` and a deployed enforcer write what it declares"
)
_ACCOUNT_OPTIONS = ("region", "profile", "endpoint_url")


def init(
    context: typer.Context,
    from_account: Annotated[
        bool,
        typer.Option(
            "--from-account",
            help="Import what the account has (as `ecr-drift import` does) instead of writing the example.",
        ),
    ] = False,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The file to write; the schema goes beside it.")
    ] = DESIRED_STATE_FILE,
    force: ForceOption = False,
    mode: Annotated[
        Mode,
        typer.Option(
            help="enforcement.mode of the file. `enforce` only for a sandbox, or once `ecr-drift plan` shows "
            "only what you mean."
        ),
    ] = Mode.AUDIT,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Write a starting desired_state.json, and desired_state.schema.json beside it for editors.

    Without --from-account: the example that comes with the package, which declares example repositories,
    a pattern, registry settings, access for another account (111122223333) and the deploy role of account
    123456789012 in `ignore_principals`, all to be replaced with yours. With --from-account: the account
    as it is, read as `ecr-drift import` reads it (--region, --profile, --endpoint-url apply); an `audit`
    right after finds nothing.

    Either way `enforcement.mode` is `audit` unless --mode says otherwise, so that the enforcer and
    `ecr-drift enforce` cannot write by accident: the example is not your registry, and an import is a
    snapshot, so in `enforce` mode whatever changed since would be put back before anyone read it. Set
    `enforce` once `ecr-drift plan` shows only what you mean. The file names its schema
    (`"$schema": "./desired_state.schema.json"`), written beside it unless one is there, so that editors
    check the file offline. Nothing is written to the account.

    **Exit codes**

    - 0: written
    - 1: errors: the file exists and --force was not given, a read failed (--from-account), a usage error

    **Examples**

        ecr-drift init

        ecr-drift init --from-account --profile prod --region eu-west-1

        ecr-drift init --output envs/prod/desired_state.json --force

        ecr-drift init --mode enforce   # for `ecr-drift sandbox`, a local ECR
    """
    given = [name for name in _ACCOUNT_OPTIONS if _on_command_line(context, name)]
    if given and not from_account:  # `init --profile prod` most likely meant to import that account
        option = "--" + given[0].replace("_", "-")
        raise typer.BadParameter(
            "applies only with --from-account, which reads the account", param_hint=f"'{option}'"
        )
    if str(output) == STDOUT:  # a `$schema` beside stdout resolves nowhere
        raise typer.BadParameter(
            "init writes a file; `ecr-drift import --output -` prints one", param_hint="'--output'"
        )
    options = account_options(
        output, region, profile, endpoint_url, None, OutputFormat.table, False, DEFAULT_CONCURRENCY
    )
    err = options.output.err
    refuse_existing(output, force, err)
    if from_account:
        adoption = adopt_account(options)
        # Import writes no `enforcement` (mode `enforce` by default); init writes the mode, audit by default.
        text = desired_state_text({**adoption.document, "enforcement": {"mode": str(mode)}}, str(output))
        write_desired_state(output, text, err, force=force)
        print_summary(err, adoption, str(output))
        err.print(AUDIT_MODE if mode is Mode.AUDIT else ENFORCE_MODE)
        validate, desired = _naming(output)
        err.print(
            f"next: review it, then `ecr-drift validate{validate}`, `ecr-drift audit{desired}` (expect no "
            f"findings) and, after your changes, `ecr-drift plan{desired}`"
        )
        return
    # A text edit rather than json.dumps: the example's layout (short objects on one line) is part of what
    # it teaches. tests/cli/test_init.py checks that it took.
    text = EXAMPLE.read_text(encoding="utf-8").replace('"mode": "enforce"', f'"mode": "{mode}"', 1)
    state = load_desired_state_text(text, str(output))  # the packaged example validates (a test keeps it so)
    write_desired_state(output, text, err, force=force)
    _explain_example(err, state, output, mode)


def _naming(output: Path) -> tuple[str, str]:
    """How the next commands name ``output``: nothing for the default file, else `validate`'s argument and
    the other commands' --desired."""
    if output == DESIRED_STATE_FILE:
        return "", ""
    quoted = shlex.quote(str(output))
    return f" {quoted}", f" --desired {quoted}"


def _on_command_line(context: typer.Context, name: str) -> bool:
    """Whether the option was typed, not taken from its default or the environment (AWS_REGION)."""
    source = context.get_parameter_source(name)
    # By name: typer 0.2x has its own copy of click, whose ParameterSource is not click's.
    return source is not None and source.name == "COMMANDLINE"


def _explain_example(err: Console, state: DesiredState, output: Path, mode: Mode) -> None:
    """What in the example is not the reader's (so that it is not deployed as is), and what to do next."""
    blocks = [state.defaults, *state.repositories.values(), *state.repository_patterns.values()]
    accounts = sorted({a for b in blocks for a in (*(b.pull_account_ids or ()), *(b.push_account_ids or ()))})
    err.print(
        escape(
            f"it is the example desired state: it declares example repositories "
            f"({', '.join(state.repositories)}), patterns ({', '.join(state.repository_patterns)}), "
            f"registry settings and access for other accounts "
            f"({', '.join(accounts)}): none of them is yours"
        )
    )
    err.print(AUDIT_MODE if mode is Mode.AUDIT else ENFORCE_MODE)
    validate, desired = _naming(output)
    again = f" --output{validate}" if validate else ""
    err.print(
        f"next: replace the examples with your repositories (or start from an account: `ecr-drift init "
        f"--from-account --force{again}`), then `ecr-drift validate{validate}` and `ecr-drift plan{desired}`"
    )
