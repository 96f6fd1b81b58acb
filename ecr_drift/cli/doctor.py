"""`ecr-drift doctor`: a read-only preflight of everything the enforcer needs from an account.

Each check is a small function of the :class:`Doctor` (the run's clients, and AWS answers read once) that
returns a :class:`CheckResult`; the verdicts themselves are pure, in ``ecr_drift.cli.doctor_checks``. An AWS
error is the failure of the check that met it, explained, and never stops the others; an endpoint that
cannot be reached is said once, by the first check that needs it, and the later ones that need it are skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import boto3
import typer
from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ecr_drift import metrics
from ecr_drift.aws.clients import DEFAULT_CONCURRENCY, AwsClients
from ecr_drift.aws.errors import error_code
from ecr_drift.aws.identity import caller_role_arn
from ecr_drift.aws.observe import LIST_READ, read
from ecr_drift.cli.account import (
    EXIT_ERROR,
    EXIT_OK,
    DesiredOption,
    EndpointOption,
    FormatOption,
    NoColorOption,
    ProfileOption,
    RegionOption,
    account_options,
)
from ecr_drift.cli.doctor_checks import (
    ALIAS,
    CLOUDTRAIL,
    CONNECTION,
    DEAD_LETTERS,
    DEPLOYED_DESIRED_STATE,
    DESIRED_STATE,
    EVENT_RULES,
    FUNCTION,
    IGNORE_PRINCIPALS,
    INSPECTOR,
    PERMISSIONS,
    RECENT_RUNS,
    SECURITY_HUB,
    CheckResult,
    DeadLetters,
    Status,
    Trail,
    cloudtrail_verdict,
    dead_letters_verdict,
    deployed_state_verdict,
    desired_state_verdict,
    function_verdict,
    ignore_principals_verdict,
    inspector_verdict,
    is_queue,
    permissions_verdict,
    recent_runs_verdict,
    rules_verdict,
)
from ecr_drift.cli.errors import AWS_ERRORS, connection_failure, explain
from ecr_drift.cli.output import Output, OutputFormat, plain_lines
from ecr_drift.cli.validate import DESIRED_STATE_FILE, not_found
from ecr_drift.config import (
    DESIRED_STATE_SHA256_TAG,
    DESIRED_STATE_SHA256_VARIABLE,
    ConfigError,
    EnforcerConfig,
)
from ecr_drift.desired import DesiredState, DesiredStateError, load_desired_state
from ecr_drift.desired.summary import count
from ecr_drift.settings import registry_settings, repository_settings
from ecr_drift.state import Read

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDataQueryTypeDef, MetricStatTypeDef
    from mypy_boto3_events.type_defs import DescribeRuleResponseTypeDef
    from mypy_boto3_inspector2 import Inspector2Client
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import (
        AliasConfigurationResponseTypeDef,
        EnvironmentResponseTypeDef,
        GetFunctionResponseTypeDef,
    )
    from mypy_boto3_sts.type_defs import GetCallerIdentityResponseTypeDef

T = TypeVar("T")
LIVE_ALIAS = "live"  # the alias the stack's rules and sweep queue invoke
NOT_FOUND = "ResourceNotFoundException"
RECENT_HOURS = 24
# Runs that failed, or stopped before checking anything: Lambda's own count and the enforcer's metrics.
FAILURE_METRICS = (
    ("AWS/Lambda", "Errors"),
    (metrics.NAMESPACE, metrics.ENFORCER_ERRORS),
    (metrics.NAMESPACE, metrics.CONFIG_INVALID),
    (metrics.NAMESPACE, metrics.DESIRED_STATE_INVALID),
)
STATUS_STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}


class NotChecked(Exception):
    """A check cannot run because something another check reports is missing; shown as a warning."""


class DoctorClients(AwsClients):
    """The run's clients plus the services only the doctor reads. It remembers which service each operation
    was called on, so that an access denial names the IAM action (``lambda:GetFunction``, not ``ecr:…``)."""

    def __init__(self, session: boto3.Session, *, endpoint_url: str | None) -> None:
        super().__init__(session, endpoint_url=endpoint_url, fail_fast=True)  # a CLI command's clients
        self._service_of: dict[str, str] = {}
        self._cloudtrail: dict[str, CloudTrailClient] = {}
        session.events.register("before-call", self._remember)

    def _remember(self, model: OperationModel, **_: Any) -> None:
        # boto3's service name is the IAM prefix of every service the doctor calls (cloudwatch included).
        self._service_of[model.name] = model.service_model.service_name

    def iam_action(self, error: Exception) -> str | None:
        if not isinstance(error, ClientError) or error.operation_name not in self._service_of:
            return None
        return f"{self._service_of[error.operation_name]}:{error.operation_name}"

    @cached_property
    def lambda_(self) -> LambdaClient:
        return self.armed(self.session.client("lambda", config=self._config, endpoint_url=self.endpoint_url))

    @cached_property
    def cloudwatch(self) -> CloudWatchClient:
        return self.armed(
            self.session.client("cloudwatch", config=self._config, endpoint_url=self.endpoint_url)
        )

    @cached_property
    def inspector2(self) -> Inspector2Client:
        return self.armed(
            self.session.client("inspector2", config=self._config, endpoint_url=self.endpoint_url)
        )

    def cloudtrail(self, region: str) -> CloudTrailClient:
        """A client in ``region``: a trail answers GetTrailStatus and GetEventSelectors in its home region."""
        if region not in self._cloudtrail:
            self._cloudtrail[region] = self.armed(
                self.session.client(
                    "cloudtrail", region_name=region, config=self._config, endpoint_url=self.endpoint_url
                )
            )
        return self._cloudtrail[region]


def _or_none(call: Callable[[], T]) -> T | None:
    """``call()``, or None when AWS answers that the thing asked for does not exist."""
    try:
        return call()
    except ClientError as error:
        if error_code(error) == NOT_FOUND:
            return None
        raise


class Doctor:
    """What the account checks share. A failed read is not cached: each check that needs it reports it."""

    def __init__(self, clients: DoctorClients, desired: Path) -> None:
        self.clients = clients
        self.desired = desired

    @property
    def region(self) -> str:
        return str(self.clients.session.region_name)  # AccountOptions.clients() made sure there is one

    @cached_property
    def identity(self) -> GetCallerIdentityResponseTypeDef:
        return self.clients.sts.get_caller_identity()

    @property
    def account_id(self) -> str:
        return self.identity["Account"]

    @cached_property
    def loaded(self) -> DesiredState | DesiredStateError:
        # Validated as the function validates it: with this registry's region and account.
        try:
            return load_desired_state(self.desired, home=(self.region, self.account_id))
        except DesiredStateError as error:
            return error

    def state(self) -> DesiredState:
        if isinstance(self.loaded, DesiredStateError):
            why = "is not valid" if self.desired.exists() else "not found"
            raise NotChecked(f"{self.desired} {why} (see {DESIRED_STATE})")
        return self.loaded


class Deployment(Doctor):
    """The account checks' context plus the deployed enforcer's function, read once."""

    def __init__(self, clients: DoctorClients, desired: Path, function: str) -> None:
        super().__init__(clients, desired)
        self.function = function

    @cached_property
    def latest(self) -> GetFunctionResponseTypeDef | None:
        return _or_none(lambda: self.clients.lambda_.get_function(FunctionName=self.function))

    @cached_property
    def alias(self) -> AliasConfigurationResponseTypeDef | None:
        return _or_none(lambda: self.clients.lambda_.get_alias(FunctionName=self.function, Name=LIVE_ALIAS))

    @cached_property
    def live(self) -> GetFunctionResponseTypeDef | None:
        """The version the alias runs: its environment is the one events meet."""
        return _or_none(
            lambda: self.clients.lambda_.get_function(FunctionName=self.function, Qualifier=LIVE_ALIAS)
        )

    def function_name(self) -> str:
        """The name (``--function`` may be an ARN): metrics and log groups go by it."""
        if self.latest is None:
            raise NotChecked(f"no function {self.function} (see {FUNCTION})")
        return self.latest["Configuration"]["FunctionName"]

    def alias_arn(self) -> str:
        if self.alias is None:
            raise NotChecked(f"no alias {LIVE_ALIAS} (see {ALIAS})")
        return self.alias["AliasArn"]

    def live_function(self) -> GetFunctionResponseTypeDef:
        if self.live is None:
            raise NotChecked(
                f"no function {self.function} with an alias {LIVE_ALIAS} (see {FUNCTION}, {ALIAS})"
            )
        return self.live

    def live_variables(self) -> dict[str, str]:
        environment: EnvironmentResponseTypeDef = self.live_function()["Configuration"].get("Environment", {})
        return dict(environment.get("Variables", {}))

    @cached_property
    def rules(self) -> list[DescribeRuleResponseTypeDef]:
        """The rules of the default bus (where CloudTrail's events arrive) that target the alias."""
        events = self.clients.events
        pages = events.get_paginator("list_rule_names_by_target").paginate(TargetArn=self.alias_arn())
        return [events.describe_rule(Name=name) for page in pages for name in page["RuleNames"]]

    def queue_messages(self, arn: str) -> int:
        _, _, _, _, account, name = arn.split(":")
        sqs = self.clients.sqs
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


# ---------------------------------------------------------------------------------------------------------
# The account checks


def check_connection(doctor: Doctor) -> CheckResult:
    """Who the caller is (GetCallerIdentity), asked first: an endpoint that cannot be reached fails this one
    check, and the checks that need it are skipped (``run_check``)."""
    endpoint = doctor.clients.sts.meta.endpoint_url
    return CheckResult(
        CONNECTION,
        Status.PASS,
        f"{endpoint} answered: account {doctor.account_id}, caller {doctor.identity['Arn']}",
    )


def check_desired_state(doctor: Doctor) -> CheckResult:
    if not doctor.desired.exists():  # the same line as every other command's, not "not valid"
        return CheckResult(DESIRED_STATE, Status.FAIL, not_found(doctor.desired))
    return desired_state_verdict(str(doctor.desired), doctor.loaded)


def check_permissions(doctor: Doctor) -> CheckResult:
    """The reads the enforcer makes (derived from the settings' declarations), made once each."""
    settings = (*repository_settings(), *registry_settings())
    registry_reads = {LIST_READ, *(r for s in settings for r in s.reads if r.by is None)}
    repository_reads = {r for s in settings for r in s.reads if r.by is not None}
    allowed: list[str] = []
    denied: list[str] = []

    def attempt(each: Read, **repository: str) -> Any:
        try:
            response = read(doctor.clients.ecr, each, **repository)
        except BotocoreConnectionError:
            raise  # not this check's finding: run_check says it once and skips what else needs the endpoint
        except AWS_ERRORS as error:
            denied.append(explain(error))
            return None
        allowed.append(each.iam_action)
        return response

    listing = attempt(LIST_READ)
    for each in sorted(registry_reads - {LIST_READ}, key=lambda r: r.operation):
        attempt(each)
    repositories = (listing or {}).get("repositories", [])
    first = repositories[0] if repositories else None
    if first is not None:
        for each in sorted(repository_reads, key=lambda r: r.operation):
            attempt(each, name=first["repositoryName"], arn=first["repositoryArn"])
    return permissions_verdict(allowed, denied, first["repositoryName"] if first else None)


def check_cloudtrail(doctor: Doctor) -> CheckResult:
    region = doctor.region
    # Shadow trails too: a multi-region or organization trail shows up in every region it covers.
    described = doctor.clients.cloudtrail(region).describe_trails(includeShadowTrails=True)["trailList"]
    trails = [Trail(t) for t in described]
    return cloudtrail_verdict(region, [_read_trail(doctor, t) if t.covers(region) else t for t in trails])


def _read_trail(doctor: Doctor, trail: Trail) -> Trail:
    """Its status and selectors, asked of its home region; a trail that does not answer is a problem to
    show (an organization trail seen from a member account may not), not a reason to stop."""
    client = doctor.clients.cloudtrail(trail.description["HomeRegion"])
    arn = trail.description["TrailARN"]
    try:
        status = client.get_trail_status(Name=arn)
        selectors = client.get_event_selectors(TrailName=arn)
    except BotocoreConnectionError:
        raise  # not this check's finding: run_check says it once and skips what else needs the endpoint
    except AWS_ERRORS as error:
        return Trail(trail.description, problem=explain(error, iam_action=doctor.clients.iam_action(error)))
    return Trail(trail.description, bool(status.get("IsLogging")), selectors)


def check_ignore_principals(doctor: Doctor) -> CheckResult:
    globs = doctor.state().enforcement.ignore_principals
    role = caller_role_arn(doctor.clients.sts)
    # The session ARN, then its role's: CloudTrail events carry both, and the enforcer matches either.
    return ignore_principals_verdict(globs, [doctor.identity["Arn"], *([role] if role else [])])


def check_inspector(doctor: Doctor) -> CheckResult:
    scanning = doctor.state().registry.scanning
    if scanning is None or scanning.scan_type != "ENHANCED":
        scan_type = scanning.scan_type if scanning else "not managed"
        return CheckResult(INSPECTOR, Status.PASS, f"not needed: registry scanning is {scan_type}")
    try:
        status = doctor.clients.inspector2.batch_get_account_status(accountIds=[doctor.account_id])
    except BotocoreConnectionError:
        raise  # not this check's finding: run_check says it once and skips what else needs the endpoint
    except AWS_ERRORS as error:
        # Inspector is not in every region, and the caller may not see it: the enforcer does not need it.
        reason = explain(error, iam_action=doctor.clients.iam_action(error))
        return CheckResult(INSPECTOR, Status.WARN, f"could not read Amazon Inspector's status: {reason}")
    return inspector_verdict(status, doctor.account_id)


# ---------------------------------------------------------------------------------------------------------
# The deployed enforcer's checks


def check_function(deployment: Deployment) -> CheckResult:
    if deployment.latest is None:
        return CheckResult(
            FUNCTION,
            Status.FAIL,
            f"no function {deployment.function} in {deployment.region}: check --function and --region "
            "(the stack names it ecr-drift-enforcer-<stack>)",
        )
    configuration = deployment.latest["Configuration"]
    environment: EnvironmentResponseTypeDef = configuration.get("Environment", {})
    try:
        EnforcerConfig.from_env(environment.get("Variables", {}))
    except ConfigError as error:
        return function_verdict(configuration, error.problems)
    return function_verdict(configuration, [])


def check_deployed_desired_state(deployment: Deployment) -> CheckResult:
    try:
        local = hashlib.sha256(deployment.desired.read_bytes()).hexdigest()
    except OSError as error:
        raise NotChecked(f"cannot read {deployment.desired}: {error.strerror}") from None
    # GetFunction returns the function's tags to a caller allowed lambda:ListTags; the variable is the
    # version's own, so it is the alias's (the version events run).
    tag = deployment.live_function().get("Tags", {}).get(DESIRED_STATE_SHA256_TAG)
    return deployed_state_verdict(local, deployment.live_variables().get(DESIRED_STATE_SHA256_VARIABLE), tag)


def check_alias(deployment: Deployment) -> CheckResult:
    if deployment.alias is None:
        return CheckResult(
            ALIAS,
            Status.FAIL,
            f"{deployment.function} has no alias {LIVE_ALIAS}: the rules invoke the alias, so no event "
            "reaches the function. `pulumi up` creates it",
        )
    return CheckResult(ALIAS, Status.PASS, f"{LIVE_ALIAS} runs version {deployment.alias['FunctionVersion']}")


def check_event_rules(deployment: Deployment) -> CheckResult:
    return rules_verdict(deployment.alias_arn(), deployment.rules)


def check_recent_runs(deployment: Deployment) -> CheckResult:
    name = deployment.function_name()
    labels = ["Invocations", *(metric for _, metric in FAILURE_METRICS)]
    queries: list[MetricDataQueryTypeDef] = [
        _sum_query(index, namespace, metric, name)
        for index, (namespace, metric) in enumerate([("AWS/Lambda", "Invocations"), *FAILURE_METRICS])
    ]
    # To the next minute: the end is exclusive, and a datapoint of this minute counts.
    end = (datetime.now(UTC) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    pages = deployment.clients.cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries, StartTime=end - timedelta(hours=RECENT_HOURS), EndTime=end
    )
    sums = [0.0] * len(queries)
    for page in pages:
        for result in page["MetricDataResults"]:
            sums[int(result["Id"].removeprefix("m"))] += sum(result.get("Values", []))
    failures = dict(zip(labels[1:], sums[1:], strict=True))
    return recent_runs_verdict(name, RECENT_HOURS, sums[0], failures)


def _sum_query(index: int, namespace: str, metric: str, function: str) -> MetricDataQueryTypeDef:
    # Lambda's metrics are per function; the enforcer's carry Powertools' `service` dimension.
    dimension: DimensionTypeDef = (
        {"Name": "FunctionName", "Value": function}
        if namespace == "AWS/Lambda"
        else {"Name": "service", "Value": metrics.SERVICE}
    )
    stat: MetricStatTypeDef = {
        "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": [dimension]},
        "Period": 3600,
        "Stat": "Sum",
    }
    return {"Id": f"m{index}", "MetricStat": stat}


def check_dead_letters(deployment: Deployment) -> CheckResult:
    alias_arn = deployment.alias_arn()
    events = deployment.clients.events
    rule_queues: dict[str, str | None] = {}
    for rule in deployment.rules:
        targets = [
            target
            for page in events.get_paginator("list_targets_by_rule").paginate(Rule=rule["Name"])
            for target in page["Targets"]
            if target["Arn"] == alias_arn
        ]
        rule_queues[rule["Name"]] = next(
            (t["DeadLetterConfig"]["Arn"] for t in targets if t.get("DeadLetterConfig", {}).get("Arn")), None
        )
    invoke_config = _or_none(
        lambda: deployment.clients.lambda_.get_function_event_invoke_config(
            FunctionName=deployment.function, Qualifier=LIVE_ALIAS
        )
    )
    on_failure = (
        invoke_config["DestinationConfig"].get("OnFailure", {}).get("Destination") if invoke_config else None
    )
    configuration = deployment.live_function()["Configuration"]
    function_queue = configuration.get("DeadLetterConfig", {}).get("TargetArn")
    sweep_url = deployment.live_variables().get("SWEEP_QUEUE_URL")
    facts = DeadLetters(rule_queues, on_failure, function_queue, _redrive_target(deployment, sweep_url), {})
    messages = {arn: deployment.queue_messages(arn) for arn in facts.places() if is_queue(arn)}
    return dead_letters_verdict(replace(facts, messages=messages))


def _redrive_target(deployment: Deployment, queue_url: str | None) -> str | None:
    """The dead-letter queue of the sweep queue (where batches that kept failing are parked)."""
    if queue_url is None:
        return None
    attributes = deployment.clients.sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]
    )
    policy = attributes.get("Attributes", {}).get("RedrivePolicy")
    return json.loads(policy).get("deadLetterTargetArn") if policy else None


def check_security_hub(deployment: Deployment) -> CheckResult:
    try:
        config = EnforcerConfig.from_env(deployment.live_variables())
    except ConfigError:
        raise NotChecked(f"the function's environment is invalid (see {FUNCTION})") from None
    if not config.security_hub_findings:
        return CheckResult(
            SECURITY_HUB, Status.PASS, "not used: the function's SECURITY_HUB_FINDINGS is not true"
        )
    try:
        hub = deployment.clients.securityhub.describe_hub()
    except ClientError as error:
        if error_code(error) != "InvalidAccessException":  # what DescribeHub answers when not subscribed
            raise
        return CheckResult(
            SECURITY_HUB,
            Status.FAIL,
            f"SECURITY_HUB_FINDINGS is true but Security Hub is not enabled in {deployment.region}: every "
            "import of findings fails (PublishFailures). Enable it (`aws securityhub enable-security-hub`), "
            "or set securityHubFindings to false in the stack",
        )
    return CheckResult(SECURITY_HUB, Status.PASS, f"enabled: {hub['HubArn']}")


C = TypeVar("C", bound=Doctor)
ACCOUNT_CHECKS: tuple[tuple[str, Callable[[Doctor], CheckResult]], ...] = (
    (CONNECTION, check_connection),
    (DESIRED_STATE, check_desired_state),
    (PERMISSIONS, check_permissions),
    (CLOUDTRAIL, check_cloudtrail),
    (IGNORE_PRINCIPALS, check_ignore_principals),
    (INSPECTOR, check_inspector),
)
FUNCTION_CHECKS: tuple[tuple[str, Callable[[Deployment], CheckResult]], ...] = (
    (FUNCTION, check_function),
    (DEPLOYED_DESIRED_STATE, check_deployed_desired_state),
    (ALIAS, check_alias),
    (EVENT_RULES, check_event_rules),
    (RECENT_RUNS, check_recent_runs),
    (DEAD_LETTERS, check_dead_letters),
    (SECURITY_HUB, check_security_hub),
)


def run_check(
    name: str, check: Callable[[C], CheckResult], context: C, unreached: dict[str, str]
) -> CheckResult:
    """``check``'s result; ``unreached``: each endpoint that could not be reached, by the check that said so,
    so that it is said once and the later checks that need it are skipped instead of failing the same way."""
    try:
        return check(context)
    except NotChecked as reason:
        return CheckResult(name, Status.WARN, f"not checked: {reason}")
    except BotocoreConnectionError as error:
        endpoint, _ = connection_failure(error)
        if endpoint in unreached:
            return CheckResult(
                name, Status.SKIP, f"skipped: {endpoint} cannot be reached (see {unreached[endpoint]})"
            )
        unreached[endpoint] = name
        return CheckResult(name, Status.FAIL, explain(error))
    except AWS_ERRORS as error:
        return CheckResult(name, Status.FAIL, explain(error, iam_action=context.clients.iam_action(error)))


def run_checks(clients: DoctorClients, desired: Path, function: str | None) -> list[CheckResult]:
    doctor = Doctor(clients, desired) if function is None else Deployment(clients, desired, function)
    unreached: dict[str, str] = {}
    results = [run_check(name, check, doctor, unreached) for name, check in ACCOUNT_CHECKS]
    if isinstance(doctor, Deployment):
        results += [run_check(name, check, doctor, unreached) for name, check in FUNCTION_CHECKS]
    return results


# ---------------------------------------------------------------------------------------------------------
# Output


def results_table(results: Sequence[CheckResult]) -> Table:
    table = Table(header_style="bold", expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail")
    for result in results:
        style = STATUS_STYLE[result.status]
        table.add_row(escape(result.check), f"[{style}]{result.status}[/]", escape(result.detail))
    return table


def summary_line(results: Sequence[CheckResult]) -> str:
    counts = {status: sum(1 for r in results if r.status is status) for status in Status}
    return (
        f"{count(len(results), 'check')}: {counts[Status.PASS]} passed, {counts[Status.WARN]} warned, "
        f"{counts[Status.FAIL]} failed" + (f", {counts[Status.SKIP]} skipped" if counts[Status.SKIP] else "")
    )


def print_results(output: Output, results: Sequence[CheckResult]) -> None:
    console = output.out
    if console.is_terminal:
        console.print(results_table(results))
    else:  # piped: `check  status  detail`, a check a line however long its detail, for `grep`
        rows = [["check", "status", "detail"], *([r.check, str(r.status), r.detail] for r in results)]
        for line in plain_lines(rows):
            console.print(Text(line))
    console.print(summary_line(results))


def doctor(
    desired: DesiredOption = DESIRED_STATE_FILE,
    function: Annotated[
        str | None,
        typer.Option(
            "--function",
            help="The deployed enforcer (`ecr-drift-enforcer-<stack>`): also check it, its alias, rules, "
            "recent runs, dead-letter queues and Security Hub.",
        ),
    ] = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    endpoint_url: EndpointOption = None,
    output_format: FormatOption = OutputFormat.table,
    no_color: NoColorOption = False,
) -> None:
    """Check that the account has everything the enforcer needs, one line per check. Writes nothing.

    Checks the desired state file, the caller's permission for the enforcer's ECR reads, a CloudTrail trail
    logging write management events (without one the enforcer only runs on its schedule),
    `enforcement.ignore_principals` against the caller, and Amazon Inspector when scanning is ENHANCED.
    With `--function`: the function is Active, runs the local desired state, has its alias `live`, its
    schedule, API-call and service-event rules are enabled, its runs of the last 24 h succeeded, its
    dead-letter queues are empty, and Security Hub is on if it sends findings there.

    Each check passes, warns or fails, and says what to do; one that needs an endpoint that cannot be
    reached is skipped (the first check that met it fails). `--format json` prints a list of
    `{"check", "status", "detail"}`. Exit codes: 0 nothing failed (warnings allowed), 1 a check failed.

    **Examples**

        ecr-drift doctor

        ecr-drift doctor --function ecr-drift-enforcer-prod --profile prod --region eu-west-1

        ecr-drift doctor --function ecr-drift-enforcer-prod -f json | jq '.[] | select(.status != "pass")'
    """
    options = account_options(
        desired, region, profile, endpoint_url, None, output_format, no_color, DEFAULT_CONCURRENCY
    )
    output = options.output
    try:
        base = options.clients()  # no credentials or no region: one error, as for `plan`, not one per check
    except AWS_ERRORS as error:
        output.err.print(f"[bold red]error:[/] {explain(error)}")
        raise typer.Exit(EXIT_ERROR) from None
    clients = DoctorClients(base.session, endpoint_url=base.endpoint_url)
    results = run_checks(clients, desired, function)
    if output.json:
        output.emit_json([result.to_dict() for result in results])
    else:
        print_results(output, results)
        if function is None and clients.unreachable is None:
            output.err.print(
                "note: pass --function NAME to check the deployed enforcer too (function, alias, rules, "
                "recent runs, dead-letter queues, Security Hub)"
            )
    if (unreached := clients.unreachable) is not None:  # on stderr too, as every command says it
        output.err.print(f"[bold red]error:[/] {explain(unreached)}")
    raise typer.Exit(EXIT_ERROR if any(r.status is Status.FAIL for r in results) else EXIT_OK)
