"""`ecr-drift import`: the desired state of a registry as it is, so that adopting one starts from no drift."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ecr_drift.adoption import Adoption, adopt, render
from ecr_drift.aws.clients import DEFAULT_CONCURRENCY
from ecr_drift.aws.observe import (
    describe_repositories,
    list_repositories,
    observe_registry,
    observe_repository,
)
from ecr_drift.cli.account import (
    EXIT_ERROR,
    AccountOptions,
    EndpointOption,
    ProfileOption,
    RegionOption,
    RepositoryOption,
    account_options,
)
from ecr_drift.cli.errors import AWS_ERRORS, explain
from ecr_drift.cli.output import OutputFormat
from ecr_drift.cli.validate import DESIRED_STATE_FILE
from ecr_drift.desired import load_desired_state_text
from ecr_drift.desired.schema import SCHEMA_FILE, render_schema
from ecr_drift.desired.summary import count
from ecr_drift.settings import registry_settings, repository_settings
from ecr_drift.state import ObservedRegistry, ObservedRepository

if TYPE_CHECKING:
    from mypy_boto3_ecr.type_defs import RepositoryTypeDef

STDOUT = "-"
# `$schema` relative to the file: `write_desired_state` puts the schema beside it, for editors, offline.
SCHEMA_REFERENCE = f"./{SCHEMA_FILE}"
MAX_NAMES = 10  # entries named in the summary; the file has them all
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force", help="Overwrite the output file if it exists, and a schema beside it of another version."
    ),
]
# How the summary counts a long list in defaults.
_ITEMS = {"lifecycle": "rule", "policy_statements": "statement"}


def import_registry(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The file to write; `-` prints it to stdout.")
    ] = DESIRED_STATE_FILE,
    repository: RepositoryOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    force: ForceOption = False,
) -> None:
    """Write a desired_state.json from what the account has: an `audit` right after it finds nothing.

    Reads the registry (scanning, pull-through cache rules, replication, registry policy, creation
    templates) and every repository, or those named; writes nothing to the account. The most common value
    of each setting goes to `defaults`, each repository's entry holds what differs from them, and a
    repository creation template becomes a `<prefix>/*` pattern covering the repositories under it.
    Lifecycle policies are written as shorthand when that compiles to exactly the same policy. What the
    desired state cannot express, or what would not validate (a public policy statement, a KMS key alias),
    is left unmanaged and listed on stderr with its JSON path. The file names its JSON schema
    (`"$schema": "./desired_state.schema.json"`), which is written beside it unless one is there.

    **Exit codes**

    - 0: written (what was left unmanaged is listed on stderr)
    - 1: errors: a read failed, a repository named with -r does not exist, the file exists and --force
      was not given, a usage error

    **Examples**

        ecr-drift import --profile prod --region eu-west-1

        ecr-drift import --output - | jq .defaults

        ecr-drift import -r api -r web --output envs/prod/desired_state.json --force
    """
    options = account_options(
        output, region, profile, endpoint_url, repository, OutputFormat.table, False, DEFAULT_CONCURRENCY
    )
    err = options.output.err
    to_stdout = str(output) == STDOUT
    if not to_stdout:
        refuse_existing(output, force, err)
    adoption = adopt_account(options)
    text = desired_state_text(adoption.document, str(output))
    if to_stdout:
        print(text, end="")
    else:
        write_desired_state(output, text, err, force=force)
    print_summary(err, adoption, "stdout" if to_stdout else str(output))
    err.print("next: review it, then `ecr-drift validate` and `ecr-drift audit` (expect no findings)")


def refuse_existing(path: Path, force: bool, err: Console) -> None:
    """Exit 1 when ``path`` exists and --force was not given: the file there is someone's work."""
    if path.exists() and not force:
        err.print(f"[bold red]error:[/] {escape(str(path))} exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_ERROR)


def adopt_account(options: AccountOptions) -> Adoption:
    """The account's registry and repositories (all, or those named) as a desired state; exits 1 when a read
    fails."""
    try:
        registry, repositories = _read(options)
    except AWS_ERRORS as error:
        options.output.err.print(f"[bold red]error:[/] {explain(error)}")
        raise typer.Exit(EXIT_ERROR) from None
    return adopt(registry, repositories, patterns=not options.repositories)


def desired_state_text(document: Mapping[str, Any], source: str) -> str:
    """The file's text, naming its schema; raises DesiredStateError (a bug) unless it validates."""
    text = render({"$schema": SCHEMA_REFERENCE, **document})
    load_desired_state_text(text, source)  # what import and init promise: a file that validates
    return text


def write_desired_state(path: Path, text: str, err: Console, *, force: bool) -> None:
    """Write ``text`` to ``path``, and the JSON schema its `$schema` names beside it; exit 1 if either fails.

    A schema already there is kept when it is this version's, or when it differs and --force was not given
    (it may be another version's on purpose): the line written says so, and how to update it.
    """
    schema = path.parent / SCHEMA_FILE
    wanted = render_schema()
    try:
        current = schema.read_text(encoding="utf-8") if schema.exists() else None
    except OSError:  # unreadable: left alone, as one that differs
        current = ""
    _write(path, text, err)
    wrote = f"wrote {escape(str(path))}"
    if current == wanted or schema.resolve() == path.resolve():  # `--output desired_state.schema.json`
        err.print(wrote)
    elif current is not None and not force:
        err.print(
            f"{wrote}; kept {escape(str(schema))}, which is not this version's schema: "
            f"`ecr-drift schema > {escape(str(schema))}` updates it"
        )
    else:
        _write(schema, wanted, err)
        err.print(
            f"{wrote}, and {escape(str(schema))} beside it: the JSON schema its $schema names, for editors"
        )


def _write(path: Path, text: str, err: Console) -> None:
    try:
        # `--output envs/prod/desired_state.json` in a new repository: the folder is part of the request.
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        err.print(f"[bold red]error:[/] cannot write {escape(str(path))}: {error.strerror}")
        raise typer.Exit(EXIT_ERROR) from None


def _read(options: AccountOptions) -> tuple[ObservedRegistry, list[ObservedRepository]]:
    """Everything every setting reads, as the engine reads it; a read that fails stops the import."""
    clients = options.clients()
    ecr = clients.ecr
    registry = observe_registry(ecr, {read for s in registry_settings() for read in s.reads})
    descriptions: list[RepositoryTypeDef]
    if options.repositories:
        listed, missing = describe_repositories(ecr, options.repositories, time.sleep)
        if missing:
            _fail(options, [f"no repository named {name}" for name in missing])
        descriptions = list(listed.values())
    else:
        descriptions = list_repositories(ecr)
    reads = {read for s in repository_settings() for read in s.reads}
    with ThreadPoolExecutor(max_workers=clients.concurrency, thread_name_prefix="ecr-drift-import") as pool:
        observed = pool.map(lambda d: observe_repository(ecr, d, reads, time.sleep), descriptions)
        # One deleted since it was listed is simply not imported.
        repositories = sorted((o for o in observed if o is not None), key=lambda o: o.name)
    clients.raise_unreachable()  # a connection lost midway: one error, not a failed read per repository
    failures = [f"{read.operation}: {text}" for read, text in registry.failures.items()]
    failures += [f"{r.operation} of {o.name}: {text}" for o in repositories for r, text in o.failures.items()]
    if failures:
        _fail(options, [f"could not read {failure}" for failure in failures])
    return registry, repositories


def _fail(options: AccountOptions, problems: list[str]) -> None:
    for problem in problems:
        options.output.err.print(f"[bold red]error:[/] {escape(problem)}")
    options.output.err.print("nothing written: a desired state missing what could not be read would mislead")
    raise typer.Exit(EXIT_ERROR)


def print_summary(err: Console, adoption: Adoption, destination: str) -> None:
    """Short: what was imported, the defaults chosen, the entries that differ, what was left out."""
    document = adoption.document
    entries = document["repositories"]
    total = len(entries) + len(adoption.covered)
    lines = [
        f"imported {count(total, 'repository', 'repositories')} to {destination}: "
        f"{len(entries)} in `repositories`, {len(adoption.covered)} covered by `repository_patterns`",
        f"registry: {', '.join(sorted(document['registry'])) or 'nothing'}",
        "defaults: "
        + (", ".join(f"{k}={_brief(k, v)}" for k, v in sorted(document["defaults"].items())) or "none"),
    ]
    every_entry = {**entries, **document.get("repository_patterns", {})}
    differ = [f"{name} ({', '.join(sorted(entry))})" for name, entry in every_entry.items() if entry]
    if differ:
        more = f", and {len(differ) - MAX_NAMES} more" if len(differ) > MAX_NAMES else ""
        entries_differ = (
            f"{count(len(differ), 'entry', 'entries')} {'differs' if len(differ) == 1 else 'differ'}"
        )
        lines.append(f"{entries_differ} from defaults: {', '.join(differ[:MAX_NAMES])}{more}")
    lines += [f"note: {note}" for note in adoption.notes]
    for line in lines:
        err.print(escape(line))
    if adoption.unmanaged:
        err.print(f"left unmanaged ({len(adoption.unmanaged)}), so never checked:")
        for item in adoption.unmanaged:
            err.print(f"  {escape(item.path)}: {escape(item.reason)}")


def _brief(field: str, value: Any) -> str:
    if field in _ITEMS and isinstance(value, list):
        return count(len(value), _ITEMS[field])
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."
