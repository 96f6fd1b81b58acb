"""Commands that read (and for `enforce`, write) a real account: plan, audit, enforce, invoke."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import boto3
import typer
from botocore.config import Config
from botocore.exceptions import NoCredentialsError, NoRegionError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from handler import engine
from handler.aws.clients import DEFAULT_CONCURRENCY, AwsClients
from handler.aws.remediate import planned_calls
from handler.cli.errors import AWS_ERRORS, explain
from handler.cli.output import Output, OutputFormat
from handler.cli.render import print_report
from handler.cli.validate import load_or_exit
from handler.desired import DesiredState
from handler.events import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from handler.findings import Action, Report
from handler.targets import Mode, Target, effective_mode, sweep

# Exit codes, documented in --help and the README.
EXIT_OK, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2
PROGRESS_THRESHOLD = 5  # a bar for sweeps over more than a few repositories
# A sweep may run for the function's whole 900 s; a retried invoke would run it twice.
INVOKE_CONFIG = Config(read_timeout=910, retries={"total_max_attempts": 1})

DesiredOption = Annotated[Path, typer.Option("--desired", "-d", help="The desired state file.")]
RegionOption = Annotated[
    str | None,
    typer.Option(envvar="AWS_REGION", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, profile)."),
]
ProfileOption = Annotated[str | None, typer.Option(help="AWS profile from ~/.aws/config.")]
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="ECR endpoint, e.g. http://127.0.0.1:5000 for moto_server."),
]
RepositoryOption = Annotated[
    list[str] | None,
    typer.Option("--repository", "-r", help="Only this repository (repeatable). Default: the whole account."),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="`table` for people, `json` for machines.")
]
NoColorOption = Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal.")]
ConcurrencyOption = Annotated[
    int, typer.Option(min=1, max=64, help="Repositories checked at once (API calls are retried adaptively).")
]


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
        """Clients for the run; missing credentials or region fail here, once, not as a finding per read."""
        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        if session.region_name is None:
            raise NoRegionError()
        if session.get_credentials() is None:
            raise NoCredentialsError()
        return AwsClients(session, endpoint_url=self.endpoint_url, concurrency=self.concurrency)

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
    output_format: OutputFormat,
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
    """A progress bar on stderr for long sweeps on a terminal; nothing when piped or in JSON mode."""
    if output.json or not output.err.is_terminal:
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
    allow_mass_expiry: bool = False,
    allow_mass_change: bool = False,
) -> Report:
    """Run once against the account; AWS errors that stop the whole run exit 1 with an explanation."""
    try:
        clients = options.clients()
        with _progress(options.output) as progress:
            return engine.run(
                options.target(),
                state=state,
                mode=mode,
                clients=clients,
                progress=progress,
                allow_mass_expiry=allow_mass_expiry,
                allow_mass_change=allow_mass_change,
            )
    except AWS_ERRORS as error:
        options.output.err.print(f"[bold red]error:[/] {explain(error)}")
        raise typer.Exit(EXIT_ERROR) from None


def emit(options: AccountOptions, report: Report, *, plan: bool = False) -> None:
    if options.output.json:
        options.output.emit_json(report.to_dict())
        return
    planned = {setting: ", ".join(calls) for setting, calls in planned_calls().items()} if plan else None
    print_report(options.output.out, report, planned=planned)


def audit_exit_code(report: Report) -> int:
    if report.summary["failed"]:
        return EXIT_ERROR
    return EXIT_DRIFT if report.findings else EXIT_OK


def enforce_exit_code(report: Report) -> int:
    bad = report.summary["failed"] + report.summary["blocked"] + report.summary["drift"]
    return EXIT_ERROR if bad else EXIT_OK


def _read_only(options: AccountOptions, *, plan: bool) -> None:
    """`plan` and `audit`: one audit run, shown as a plan or as findings; exits with the audit's code."""
    state = load_or_exit(options.desired, options.output)
    report = run_engine(options, state, Mode.AUDIT)
    emit(options, report, plan=plan)
    raise typer.Exit(audit_exit_code(report))


def plan(
    desired: DesiredOption = Path("desired_state.json"),
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    repository: RepositoryOption = None,
    output_format: FormatOption = OutputFormat.table,
    no_color: NoColorOption = False,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
) -> None:
    """Show what `enforce` would change, setting by setting, and the API calls it would make. Writes nothing.

    Exit codes: 0 nothing to change, 2 changes pending, 1 errors.

    **Examples**

        ecr-drift plan

        ecr-drift plan --repository admin-dashboard --format json
    """
    options = account_options(
        desired, region, profile, endpoint_url, repository, output_format, no_color, concurrency
    )
    _read_only(options, plan=True)


def audit(
    desired: DesiredOption = Path("desired_state.json"),
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    repository: RepositoryOption = None,
    output_format: FormatOption = OutputFormat.table,
    no_color: NoColorOption = False,
    concurrency: ConcurrencyOption = DEFAULT_CONCURRENCY,
) -> None:
    """Compare the account with the desired state and list the findings. Writes nothing.

    Exit codes: 0 compliant, 2 drift found, 1 errors (a read failed, bad input).

    **Examples**

        ecr-drift audit --profile prod --region eu-west-1

        ecr-drift audit --format json | jq '.findings[] | select(.setting == "lifecycle_policy")'
    """
    options = account_options(
        desired, region, profile, endpoint_url, repository, output_format, no_color, concurrency
    )
    _read_only(options, plan=False)


def enforce(
    desired: DesiredOption = Path("desired_state.json"),
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    repository: RepositoryOption = None,
    output_format: FormatOption = OutputFormat.table,
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

    Shows the plan and asks for confirmation on a terminal; elsewhere `--yes` is required.
    Exit codes: 0 everything that drifted was fixed, 1 something failed or was blocked.

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
        _confirm(options, state)
    report = run_engine(
        options,
        state,
        Mode.ENFORCE,
        allow_mass_expiry=allow_mass_expiry,
        allow_mass_change=allow_mass_change,
    )
    emit(options, report)
    raise typer.Exit(enforce_exit_code(report))


def _invoke_page(client: Any, function: str, payload: dict[str, object], output: Output) -> dict[str, Any]:
    """One synchronous invoke's report; exits 1 when the function answered something else."""
    response = client.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    body = json.loads(response["Payload"].read() or b"null")
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


def _confirm(options: AccountOptions, state: DesiredState) -> None:
    if not stdin_is_terminal():
        options.output.err.print(
            "[bold red]error:[/] not a terminal: pass --yes to enforce without confirmation"
        )
        raise typer.Exit(EXIT_ERROR)
    preview = run_engine(options, state, Mode.AUDIT)
    emit(options, preview, plan=True)
    changes = sum(1 for f in preview.findings if f.action is Action.DRIFT)
    if not changes:
        raise typer.Exit(audit_exit_code(preview))
    if not typer.confirm(f"Apply {changes} change(s)?", default=False, err=True):
        options.output.err.print("nothing written.")
        raise typer.Exit(EXIT_ERROR)


def invoke(
    function: Annotated[str, typer.Option("--function", help="Name or ARN of the deployed enforcer.")],
    action: Annotated[Mode, typer.Option(help="`audit` writes nothing; `enforce` re-applies.")] = Mode.AUDIT,
    repository: RepositoryOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    output_format: FormatOption = OutputFormat.table,
    no_color: NoColorOption = False,
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
    Exit codes as `audit` (for `--action audit`) and `enforce` (for `--action enforce`).

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
        output.emit_json(body)
    else:
        print_report(output.out, report)
        # A response over Lambda's 6 MB limit keeps the most important findings (failed, blocked, drift
        # first, so the exit code holds) and says what it left out.
        for name, cut in sorted(body.get("omitted", {}).items()):
            output.err.print(
                f"[yellow]note:[/] {cut['left_out']} of {cut['total']} {name} left out of the response: "
                f"{cut['where']}"
            )
    raise typer.Exit(audit_exit_code(report) if action is Mode.AUDIT else enforce_exit_code(report))
