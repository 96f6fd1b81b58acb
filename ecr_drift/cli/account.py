"""Commands that read (and for `enforce`, write) a real account: plan, audit, enforce, invoke."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

import boto3
import typer
from botocore.config import Config
from botocore.exceptions import NoCredentialsError, NoRegionError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from ecr_drift import engine
from ecr_drift.aws.clients import CONNECT_TIMEOUT_S, DEFAULT_CONCURRENCY, AwsClients
from ecr_drift.cli.connection import check_region
from ecr_drift.cli.errors import AWS_ERRORS, explain
from ecr_drift.cli.output import Output, OutputFormat, ReportFormat, console
from ecr_drift.cli.render import WIDE_TERMINAL, print_report, tsv_lines
from ecr_drift.cli.validate import DESIRED_STATE_FILE, load_or_exit
from ecr_drift.desired import DesiredState
from ecr_drift.desired.summary import count
from ecr_drift.events import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ecr_drift.findings import Report
from ecr_drift.targets import Mode, Target, effective_mode, sweep

# Exit codes (EXIT_CODES below, shown in --help and the README). A usage error is an error (1), as in
# terraform: 2 says "enforce would write or hold something", which click's own 2 for a usage error would blur.
EXIT_OK, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2
PROGRESS_THRESHOLD = 5  # a bar for sweeps over more than a few repositories
# A sweep may run for the function's whole 900 s; a retried invoke would run it twice. An endpoint that
# does not answer fails as the other commands' do, after CONNECT_TIMEOUT_S.
INVOKE_CONFIG = Config(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=910, retries={"total_max_attempts": 1})

DesiredOption = Annotated[Path, typer.Option("--desired", "-d", help="The desired state file.")]
RegionOption = Annotated[
    str | None,
    typer.Option(envvar="AWS_REGION", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, profile)."),
]
ProfileOption = Annotated[str | None, typer.Option(help="AWS profile from ~/.aws/config.")]
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="ECR endpoint, e.g. http://127.0.0.1:5000 from `ecr-drift sandbox`."),
]
RepositoryOption = Annotated[
    list[str] | None,
    typer.Option("--repository", "-r", help="Only this repository (repeatable). Default: the whole account."),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="`table` for people, `json` for machines.")
]
ReportFormatOption = Annotated[
    ReportFormat,
    typer.Option(
        "--format",
        "-f",
        help="`table` for people (plain lines when piped), `json` for machines, `tsv` a finding per line.",
    ),
]
NoColorOption = Annotated[
    bool, typer.Option("--no-color", help="No colour, even on a terminal (also `ecr-drift --no-color ...`).")
]
StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Exit 2 on findings only reported (unmanaged repositories, encryption, ...) too, not only on "
        "what enforce would write or hold.",
    ),
]
ConcurrencyOption = Annotated[
    int, typer.Option(min=1, max=64, help="Repositories checked at once (API calls are retried adaptively).")
]


# typer's usage errors: click's UsageError, or from typer 0.2x on its own copy of it; BadParameter is one.
USAGE_ERROR: type[Exception] = typer.BadParameter.__mro__[1]


class UsageErrorsExit1(TyperGroup):
    """The `ecr-drift` group: a usage error (an unknown command or option, a bad or missing value, in any
    command or sub-group) is one line on stderr, `error: ... (try '... --help')`, and exits 1 instead of
    click's 2, rather than typer's five-line box."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _usage_errors_exit_1():
            return super().make_context(*args, **kwargs)

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        with _usage_errors_exit_1():
            return super().invoke(*args, **kwargs)


@contextmanager
def _usage_errors_exit_1() -> Iterator[None]:
    try:
        yield
    except USAGE_ERROR as error:
        usage = cast(Any, error)
        if type(error).__name__ == "NoArgsIsHelpError":  # no arguments: typer shows the help, as asked
            usage.exit_code = EXIT_ERROR  # click's class constant, overridden for this error only
            raise
        context = usage.ctx
        hint = f" (try '{context.command_path} --help')" if context is not None else ""
        no_color = context is not None and bool(context.find_root().params.get("no_color"))
        console(stderr=True, no_color=no_color).print(
            f"[bold red]error:[/] {escape(usage.format_message())}{escape(hint)}"
        )
        raise typer.Exit(EXIT_ERROR) from None


@dataclass(frozen=True)
class ExitCase:
    """A row of the exit-code table: a situation and each command's code in it."""

    situation: str
    plan: int
    audit: int
    enforce: int
    strict: int | None = None  # plan's and audit's code with --strict, where it differs

    def cell(self, command: str) -> str:
        code = getattr(self, command)
        if self.strict is not None and command != "enforce":
            return f"{code} (`--strict`: {self.strict})"
        return str(code)


# The one exit-code table: the README's (a test keeps them equal), each command's --help, and the cases a
# test runs plan, audit and enforce through. `enforce` exits 0 when it leaves nothing to write or hold.
EXIT_CODES = (
    ExitCase("compliant: no finding", EXIT_OK, EXIT_OK, EXIT_OK),
    ExitCase(
        "findings only reported, which enforce never writes (unmanaged repositories, encryption, cache rules "
        "and creation templates not declared)",
        EXIT_OK,
        EXIT_OK,
        EXIT_OK,
        strict=EXIT_DRIFT,
    ),
    ExitCase("drift that enforce fixes", EXIT_DRIFT, EXIT_DRIFT, EXIT_OK),
    ExitCase(
        "a change a guard holds (blast radius, lifecycle guard; `blocked`) until `--allow-mass-*` lifts it",
        EXIT_DRIFT,
        EXIT_DRIFT,
        EXIT_ERROR,
    ),
    ExitCase("a read or a write failed (`failed`)", EXIT_ERROR, EXIT_ERROR, EXIT_ERROR),
    ExitCase(
        "an error: an invalid desired state, a `--repository` that neither exists nor is managed, no "
        "credentials, a usage error",
        EXIT_ERROR,
        EXIT_ERROR,
        EXIT_ERROR,
    ),
)
EXIT_CODE_COMMANDS = ("plan", "audit", "enforce")


def exit_code_table() -> str:
    """EXIT_CODES as a Markdown table, with what the rows do not say."""
    lines = [
        f"| situation | {' | '.join(f'`{command}`' for command in EXIT_CODE_COMMANDS)} |",
        f"|---|{'---|' * len(EXIT_CODE_COMMANDS)}",
        *(
            f"| {case.situation} | {' | '.join(case.cell(c) for c in EXIT_CODE_COMMANDS)} |"
            for case in EXIT_CODES
        ),
    ]
    return "\n".join(lines) + (
        "\n\nWhere several rows apply, 1 wins over 2, and 2 over 0. "
        "`enforce` also exits 1 when its confirmation is declined. `invoke` exits as `audit` for "
        "`--action audit` and as `enforce` for `--action enforce`, and 1 when the enforcer answers an error."
    )


def with_exit_codes(command: Callable[..., None]) -> Callable[..., None]:
    """Ends a command's --help (its docstring, indented as the rest of it) with the exit-code table."""
    table = textwrap.indent(f"**Exit codes**\n\n{exit_code_table()}", "    ")
    command.__doc__ = f"{(command.__doc__ or '').rstrip()}\n\n{table}\n"
    return command


@dataclass(frozen=True)
class AccountOptions:
    desired: Path
    region: str | None
    profile: str | None
    endpoint_url: str | None
    repositories: tuple[str, ...]
    output: Output
    concurrency: int

    def clients(self) -> AwsClients:
        """Clients for the run; missing credentials, no region or an unknown one fail here, once, not as a
        finding per read. They fail fast: an endpoint that cannot be connected to is one error, at once."""
        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        if session.region_name is None:
            raise NoRegionError()
        check_region(session, "ecr", self.endpoint_url)
        if session.get_credentials() is None:
            raise NoCredentialsError()
        return AwsClients(
            session, endpoint_url=self.endpoint_url, concurrency=self.concurrency, fail_fast=True
        )

    def target(self) -> Target:
        if self.repositories:
            return Target(trigger="cli", repositories=self.repositories)
        return sweep("cli")


def account_options(
    desired: Path,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    repository: list[str] | None,
    output_format: OutputFormat | ReportFormat,
    no_color: bool,
    concurrency: int,
) -> AccountOptions:
    return AccountOptions(
        desired=desired,
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
        repositories=tuple(repository or ()),
        output=Output(output_format, no_color),
        concurrency=concurrency,
    )


@contextmanager
def _progress(output: Output) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for long sweeps on a terminal; nothing when piped or in JSON or TSV."""
    if output.json or output.tsv or not output.err.is_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("checking repositories"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=output.err,
        transient=True,
    )
    task = bar.add_task("sweep", total=None)

    def advance(done: int, total: int) -> None:
        if total > PROGRESS_THRESHOLD:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield advance
    finally:
        bar.stop()


def run_engine(
    options: AccountOptions,
    state: DesiredState,
    mode: Mode,
    *,
    plan: bool = False,
    allow_mass_expiry: bool = False,
    allow_mass_change: bool = False,
) -> Report:
    """Run once against the account (``plan``: an audit showing what enforce's guards would block). AWS
    errors that stop the whole run, and a named repository that is neither there nor managed, exit 1."""
    try:
        clients = options.clients()
        with _progress(options.output) as progress:
            report = engine.run(
                options.target(),
                state=state,
                mode=mode,
                clients=clients,
                progress=progress,
                allow_mass_expiry=allow_mass_expiry,
                allow_mass_change=allow_mass_change,
                refuse_unknown=True,
                predict_guards=plan,
            )
        clients.raise_unreachable()  # the error every row would show, said once instead
        return report
    except AWS_ERRORS as error:
        options.output.err.print(f"[bold red]error:[/] {explain(error)}")
        raise typer.Exit(EXIT_ERROR) from None
    except engine.UnknownRepositories as error:
        for problem in error.problems:
            options.output.err.print(f"[bold red]error:[/] {escape(problem)}")
        raise typer.Exit(EXIT_ERROR) from None


def emit(output: Output, report: Report, *, plan: bool = False, diff: bool = False) -> None:
    """The report on stdout, in the format asked for."""
    if output.json:
        output.emit_json(report.to_dict())
    elif output.tsv:
        print("\n".join(tsv_lines(report)))  # print(): tabs and lines byte for byte, as emit_json
    else:
        print_report(output.out, report, plan=plan, diff=diff)


def check_exit_code(report: Report, *, strict: bool = False) -> int:
    """plan's and audit's code (EXIT_CODES): 1 when something failed; 2 when enforce would write (drift) or
    hold (blocked) something, or with ``strict`` on any finding; else 0."""
    summary = report.summary
    if summary["failed"]:
        return EXIT_ERROR
    if summary["drift"] or summary["blocked"] or (strict and report.findings):
        return EXIT_DRIFT
    return EXIT_OK


def enforce_exit_code(report: Report) -> int:
    """1 when a finding enforce would fix is not fixed (failed, blocked, left drifting); never 2."""
    bad = report.summary["failed"] + report.summary["blocked"] + report.summary["drift"]
    return EXIT_ERROR if bad else EXIT_OK


@with_exit_codes
def plan(
    desired: DesiredOption = DESIRED_STATE_FILE,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    repository: RepositoryOption = None,
    output_format: ReportFormatOption = ReportFormat.table,
    no_color: NoColorOption = False,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    strict: StrictOption = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Show each document too long for its cell (policies, lifecycle rules, registry scanning) as "
            "a unified diff of the account's against the desired one; the default on a terminal of "
            f"{WIDE_TERMINAL} columns or more.",
        ),
    ] = False,
) -> None:
    """Show what `enforce` would do, finding by finding: the API calls it would make, and what its guards
    (blast radius, lifecycle guard) would block and why. Writes nothing; the lifecycle guard's count reads
    the images (DescribeImages) of each repository whose lifecycle policy would change. Exits 2 when
    enforce would write or hold something (below).

    **Examples**

        ecr-drift plan

        ecr-drift plan --repository admin-dashboard --format json

        ecr-drift plan --diff -r admin-dashboard
    """
    options = account_options(
        desired, region, profile, endpoint_url, repository, output_format, no_color, concurrency
    )
    state = load_or_exit(options.desired, options.output)
    report = run_engine(options, state, Mode.AUDIT, plan=True)
    emit(options.output, report, plan=True, diff=diff)
    raise typer.Exit(check_exit_code(report, strict=strict))


@with_exit_codes
def audit(
    desired: DesiredOption = DESIRED_STATE_FILE,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    repository: RepositoryOption = None,
    output_format: ReportFormatOption = ReportFormat.table,
    no_color: NoColorOption = False,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    strict: StrictOption = False,
) -> None:
    """Compare the account with the desired state and list the findings. Writes nothing.

    Exits 2 when there is drift, which enforce would write or its guards hold (below): a CI gate that
    passes again once enforce has run. Findings only reported exit 0 unless `--strict`.

    **Examples**

        ecr-drift audit --profile prod --region eu-west-1

        ecr-drift audit --format json | jq '.findings[] | select(.setting == "lifecycle_policy")'
    """
    options = account_options(
        desired, region, profile, endpoint_url, repository, output_format, no_color, concurrency
    )
    state = load_or_exit(options.desired, options.output)
    report = run_engine(options, state, Mode.AUDIT)
    emit(options.output, report)
    raise typer.Exit(check_exit_code(report, strict=strict))


@with_exit_codes
def enforce(
    desired: DesiredOption = DESIRED_STATE_FILE,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    repository: RepositoryOption = None,
    output_format: ReportFormatOption = ReportFormat.table,
    no_color: NoColorOption = False,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    allow_mass_expiry: Annotated[
        bool,
        typer.Option(
            "--allow-mass-expiry",
            help="Apply lifecycle policies even where they would delete more images within "
            "enforcement.lifecycle_guard.horizon_days than the guard allows. RISK: ECR then deletes those "
            "images for good; check the blocked finding's counts and examples first.",
        ),
    ] = False,
    allow_mass_change: Annotated[
        bool,
        typer.Option(
            "--allow-mass-change",
            help="Make subtractive changes (remove policies or statements, lifecycle policies, tags, "
            "replication rules, cache rules) even on more repositories than enforcement.blast_radius "
            "allows. RISK: access other teams rely on can go with them; read the blocked findings first.",
        ),
    ] = False,
) -> None:
    """Re-apply the desired state where the account drifted. Never deletes an image or a repository.

    Shows the plan and asks for confirmation on a terminal (the plan as a table on stderr with
    `--format json` or `tsv`); elsewhere `--yes` is required. Exits 0 when nothing is left to write or
    hold, 1 when something failed or a guard holds it; never 2 (below).

    **Examples**

        ecr-drift enforce

        ecr-drift enforce --yes --repository utila-cosigner

        ecr-drift enforce --repository busy-repo --allow-mass-expiry

        ecr-drift enforce --allow-mass-change   # after reading what the blast radius blocked
    """
    options = account_options(
        desired, region, profile, endpoint_url, repository, output_format, no_color, concurrency
    )
    state = load_or_exit(desired, options.output)
    if effective_mode(Mode.ENFORCE, state.enforcement.mode) is Mode.AUDIT:
        options.output.err.print(
            f"[bold red]error:[/] enforcement.mode is `audit` in {desired}: nothing may be written. "
            "Use `ecr-drift audit`, or set the mode to `enforce`."
        )
        raise typer.Exit(EXIT_ERROR)
    if not yes:
        _confirm(options, state, allow_mass_expiry=allow_mass_expiry, allow_mass_change=allow_mass_change)
    report = run_engine(
        options,
        state,
        Mode.ENFORCE,
        allow_mass_expiry=allow_mass_expiry,
        allow_mass_change=allow_mass_change,
    )
    emit(options.output, report)
    raise typer.Exit(enforce_exit_code(report))


def _invoke_page(client: Any, function: str, payload: dict[str, object], output: Output) -> dict[str, Any]:
    """One synchronous invoke's report; exits 1 when the function answered something else."""
    response = client.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    body = json.loads(response["Payload"].read() or b"null")
    if isinstance(body, dict) and body.get("status") == "error" and not response.get("FunctionError"):
        # A request it refused (a repository that neither exists nor is managed), or a broken deployment.
        output.err.print(f"[bold red]error:[/] the enforcer answered: {escape(str(body.get('error')))}")
        raise typer.Exit(EXIT_ERROR)
    if response.get("FunctionError") or not isinstance(body, dict) or "findings" not in body:
        output.err.print(
            f"[bold red]error:[/] the enforcer did not return a report: {json.dumps(body)[:500]}"
        )
        raise typer.Exit(EXIT_ERROR)
    return body


def merged_pages(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """The pages of a manual sweep as one report: lists joined, counts added; one page is returned as is."""
    if len(bodies) == 1:
        return bodies[0]
    merged: dict[str, Any] = {"status": "ok", "mode": bodies[0]["mode"], "trigger": bodies[0]["trigger"]}
    if any(body.get("status") == "incomplete" for body in bodies):
        merged["status"] = "incomplete"
    for key in ("repositories_checked", "not_checked", "findings", "publish_errors"):
        merged[key] = [item for body in bodies for item in body.get(key, [])]
    merged["writes"] = sum(body.get("writes", 0) for body in bodies)
    # Each page's summary counts all its findings, the ones a bounded answer left out too.
    merged["summary"] = {
        action: sum(body["summary"].get(action, 0) for body in bodies) for action in bodies[0]["summary"]
    }
    omitted: dict[str, dict[str, Any]] = {}
    for body in bodies:
        for name, cut in body.get("omitted", {}).items():
            total = omitted.setdefault(name, {"left_out": 0, "total": 0, "where": cut["where"]})
            total["left_out"] += cut["left_out"]
            total["total"] += cut["total"]
    if omitted:
        merged["omitted"] = omitted
    merged["pages"] = len(bodies)
    return merged


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _confirm(
    options: AccountOptions, state: DesiredState, *, allow_mass_expiry: bool, allow_mass_change: bool
) -> None:
    """The plan of this enforce (its guards lifted as they will be), then a question; exits unless yes."""
    if not stdin_is_terminal():
        options.output.err.print(
            "[bold red]error:[/] not a terminal: pass --yes to enforce without confirmation"
        )
        raise typer.Exit(EXIT_ERROR)
    preview = run_engine(
        options,
        state,
        Mode.AUDIT,
        plan=True,
        allow_mass_expiry=allow_mass_expiry,
        allow_mass_change=allow_mass_change,
    )
    output = options.output
    # The plan where the person answering reads it: stdout keeps enforce's report alone when it is piped or
    # for machines (JSON, TSV).
    shown = output.out if output.out.is_terminal and output.format == ReportFormat.table else output.err
    print_report(shown, preview, plan=True)
    changes = sum(1 for f in preview.findings if f.calls)
    if not changes:  # what is left is the plan's failed and blocked findings (1) or nothing to fix (0)
        raise typer.Exit(enforce_exit_code(preview))
    if not typer.confirm(f"Apply {count(changes, 'change')}?", default=False, err=True):
        options.output.err.print("nothing written.")
        raise typer.Exit(EXIT_ERROR)


@with_exit_codes
def invoke(
    function: Annotated[str, typer.Option("--function", help="Name or ARN of the deployed enforcer.")],
    action: Annotated[Mode, typer.Option(help="`audit` writes nothing; `enforce` re-applies.")] = Mode.AUDIT,
    repository: RepositoryOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    output_format: ReportFormatOption = ReportFormat.table,
    no_color: NoColorOption = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="With `--action audit`: exit 2 on findings only reported too.")
    ] = False,
    page_size: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_PAGE_SIZE,
            help="Repositories a sweep checks per invoke; lower it if a page runs out of time.",
        ),
    ] = DEFAULT_PAGE_SIZE,
) -> None:
    """Ask the deployed enforcer Lambda for a manual audit or enforce and print its report.

    Without --repository it sweeps the account, a page of repositories per invoke (each within Lambda's
    900 s and 6 MB); the pages are followed and merged into one report.

    Exits as `audit` for `--action audit` and as `enforce` for `--action enforce` (below); 1 when the
    enforcer answers an error (a repository that neither exists nor is managed, an invalid configuration).

    **Examples**

        ecr-drift invoke --function ecr-drift-enforcer

        ecr-drift invoke --function ecr-drift-enforcer --action enforce -r admin-dashboard
    """
    output = Output(output_format, no_color)
    payload: dict[str, object] = {"action": str(action)}
    if repository:
        payload["repositories"] = list(repository)
    else:
        payload["page_size"] = page_size
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        check_region(session, "lambda", endpoint_url)
        client = session.client("lambda", endpoint_url=endpoint_url, config=INVOKE_CONFIG)
        bodies = [_invoke_page(client, function, payload, output)]
        while (start_after := bodies[-1].get("next_page")) is not None:
            output.err.print(f"page {len(bodies)} done; the next starts after {start_after}")
            bodies.append(_invoke_page(client, function, {**payload, "start_after": start_after}, output))
    except AWS_ERRORS as error:
        output.err.print(f"[bold red]error:[/] {explain(error, iam_action='lambda:InvokeFunction')}")
        raise typer.Exit(EXIT_ERROR) from None
    body = merged_pages(bodies)
    report = Report.from_dict(body)
    if output.json:
        output.emit_json(body)  # the enforcer's answer as it is: status, pages, what it left out
    else:
        emit(output, report)
        # A response over Lambda's 6 MB limit keeps the most important findings (failed, blocked, drift
        # first, so the exit code holds) and says what it left out.
        for name, cut in sorted(body.get("omitted", {}).items()):
            output.err.print(
                f"[yellow]note:[/] {cut['left_out']} of {cut['total']} {name} left out of the response: "
                f"{cut['where']}"
            )
    raise typer.Exit(
        check_exit_code(report, strict=strict) if action is Mode.AUDIT else enforce_exit_code(report)
    )
