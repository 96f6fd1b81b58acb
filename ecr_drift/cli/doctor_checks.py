"""`ecr-drift doctor`'s verdicts: pure functions from what AWS answered to a pass, a warning or a failure.

Nothing here calls AWS (``ecr_drift.cli.doctor`` makes the calls and hands the answers over), so every rule of
what the enforcer needs from an account is tested on plain data, and end to end on moto through the command.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ecr_drift.config import DESIRED_STATE_SHA256_TAG, DESIRED_STATE_SHA256_VARIABLE
from ecr_drift.desired import DesiredState, DesiredStateError
from ecr_drift.desired.summary import count, summarize
from ecr_drift.events import API_CALL, ECR_EVENT_SOURCE, SERVICE_EVENT, principal_matches

# Check names: stable, machines filter the JSON output on them.
CONNECTION = "connection"
DESIRED_STATE = "desired-state"
PERMISSIONS = "permissions"
CLOUDTRAIL = "cloudtrail"
IGNORE_PRINCIPALS = "ignore-principals"
INSPECTOR = "inspector"
FUNCTION = "function"
DEPLOYED_DESIRED_STATE = "deployed-desired-state"
ALIAS = "alias"
EVENT_RULES = "event-rules"
RECENT_RUNS = "recent-runs"
DEAD_LETTERS = "dead-letters"
SECURITY_HUB = "security-hub"

# What the stack tells about the desired_state.json it packaged (infra sets both).
PROBLEMS_SHOWN = 3
SHA_SHOWN = 12  # enough to tell two files apart in a table


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not run: it needs an endpoint that an earlier check could not reach


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "status": str(self.status), "detail": self.detail}


# ---------------------------------------------------------------------------------------------------------
# The local file and the deployed one


def desired_state_verdict(path: str, loaded: DesiredState | DesiredStateError) -> CheckResult:
    if isinstance(loaded, DesiredState):
        return CheckResult(DESIRED_STATE, Status.PASS, f"{path} is valid: {summarize(loaded).sentence()}")
    problems = loaded.problems
    shown = "; ".join(str(problem) for problem in problems[:PROBLEMS_SHOWN])
    more = f" (and {len(problems) - PROBLEMS_SHOWN} more)" if len(problems) > PROBLEMS_SHOWN else ""
    return CheckResult(
        DESIRED_STATE,
        Status.FAIL,
        f"{path} is not valid, {count(len(problems), 'problem')}: {shown}{more}. "
        f"`ecr-drift validate {path}` lists them all",
    )


def deployed_state_verdict(local_sha256: str, variable: str | None, tag: str | None) -> CheckResult:
    """The function's variable and tag (None: not set) against the SHA-256 of the local file's bytes."""
    deployed = {f"its {DESIRED_STATE_SHA256_VARIABLE}": variable, f"its tag {DESIRED_STATE_SHA256_TAG}": tag}
    differing = [
        f"{where} is {sha[:SHA_SHOWN]}"
        for where, sha in deployed.items()
        if sha is not None and sha.strip().lower() != local_sha256
    ]
    if differing:
        return CheckResult(
            DEPLOYED_DESIRED_STATE,
            Status.FAIL,
            f"the function runs another desired state: {', '.join(differing)}, the local file's SHA-256 is "
            f"{local_sha256[:SHA_SHOWN]}. Deploy the local file (`pulumi up`), or check out the one deployed",
        )
    if variable is None:
        matched = f" (its tag {DESIRED_STATE_SHA256_TAG} matches the local file)" if tag else ""
        return CheckResult(
            DEPLOYED_DESIRED_STATE,
            Status.WARN,
            f"the function has no {DESIRED_STATE_SHA256_VARIABLE} variable{matched}: which desired state it "
            "runs is not known; a `pulumi up` of the current stack sets it",
        )
    return CheckResult(
        DEPLOYED_DESIRED_STATE,
        Status.PASS,
        f"the function runs the local file (SHA-256 {local_sha256[:SHA_SHOWN]})",
    )


# ---------------------------------------------------------------------------------------------------------
# CloudTrail: without a trail, ECR API calls never reach EventBridge

NO_TRAIL_CONSEQUENCE = (
    "Without such a trail, ECR API calls never reach EventBridge: the enforcer only runs on its "
    "schedule, and drift stays until the next sweep. Fix: set `createCloudTrail: true` in "
    "Pulumi.<stack>.yaml and `pulumi up`, or create a trail (an organization or multi-region trail "
    "counts) that logs write management events for this region, and start its logging"
)
# What an ECR write call looks like to an advanced event selector.
_ECR_WRITE = {"eventCategory": "Management", "readOnly": "false", "eventSource": ECR_EVENT_SOURCE}


@dataclass(frozen=True)
class Trail:
    """A trail DescribeTrails listed, with GetTrailStatus' IsLogging and the GetEventSelectors response;
    ``problem``: why those could not be read (then they are None)."""

    description: Mapping[str, Any]
    is_logging: bool | None = None
    selectors: Mapping[str, Any] | None = None
    problem: str | None = None

    @property
    def name(self) -> str:
        return str(self.description.get("Name") or self.description.get("TrailARN"))

    def covers(self, region: str) -> bool:
        return (
            bool(self.description.get("IsMultiRegionTrail")) or self.description.get("HomeRegion") == region
        )

    @property
    def scope(self) -> str:
        kinds = [
            kind
            for kind, key in (("organization", "IsOrganizationTrail"), ("multi-region", "IsMultiRegionTrail"))
            if self.description.get(key)
        ]
        return f"{', '.join(kinds) or 'single-region'} trail, home {self.description.get('HomeRegion')}"


def records_ecr_writes(selectors: Mapping[str, Any]) -> bool:
    """Whether a GetEventSelectors response logs ECR's write management events."""
    classic = selectors.get("EventSelectors") or []
    advanced = selectors.get("AdvancedEventSelectors") or []
    if not classic and not advanced:
        return True  # CloudTrail's default for a trail without selectors: every management event
    return any(_classic_records(s) for s in classic) or any(_advanced_records(s) for s in advanced)


def _classic_records(selector: Mapping[str, Any]) -> bool:
    return (
        selector.get("IncludeManagementEvents", True) is True
        and selector.get("ReadWriteType", "All") in {"All", "WriteOnly"}
        and ECR_EVENT_SOURCE not in selector.get("ExcludeManagementEventSources", [])
    )


def _advanced_records(selector: Mapping[str, Any]) -> bool:
    """Every field condition of the selector holds for an ECR write call (conditions are ANDed)."""
    return all(
        _condition_holds(operator, _ECR_WRITE.get(field["Field"]), operands)
        for field in selector.get("FieldSelectors", [])
        for operator, operands in field.items()
        if operator != "Field"
    )


def _condition_holds(operator: str, value: str | None, operands: Sequence[str]) -> bool:
    """``Equals``, ``StartsWith``, ``EndsWith`` and their ``Not`` forms; a field an ECR write call does not
    have matches no positive condition. An operator not known here is taken as excluding the call."""
    negated = operator.startswith("Not")
    match operator.removeprefix("Not"):
        case "Equals":
            matched = value in operands
        case "StartsWith":
            matched = value is not None and any(value.startswith(o) for o in operands)
        case "EndsWith":
            matched = value is not None and any(value.endswith(o) for o in operands)
        case _:
            return False
    return matched != negated


def cloudtrail_verdict(region: str, trails: Sequence[Trail]) -> CheckResult:
    """Pass on the first trail that covers ``region``, is logging and records ECR write calls."""
    reasons: list[str] = []
    unreadable: list[str] = []
    for trail in trails:
        if not trail.covers(region):
            reasons.append(f"{trail.name}: a single-region trail of {trail.description.get('HomeRegion')}")
        elif trail.problem is not None or trail.selectors is None:
            unreadable.append(f"{trail.name}: {trail.problem}")
        elif not trail.is_logging:
            reasons.append(f"{trail.name}: not logging")
        elif not records_ecr_writes(trail.selectors):
            reasons.append(f"{trail.name}: its event selectors record no write management events")
        else:
            return CheckResult(
                CLOUDTRAIL,
                Status.PASS,
                f"{trail.name} ({trail.scope}) logs write management events for {region}",
            )
    if unreadable:
        return CheckResult(
            CLOUDTRAIL,
            Status.WARN,
            f"no trail is known to log write management events for {region}; could not read "
            f"{'; '.join(unreadable)}. Check it where it is managed (an organization trail, in the "
            f"management account). {NO_TRAIL_CONSEQUENCE}",
        )
    found = f" ({'; '.join(reasons)})" if reasons else " (there is no trail)"
    return CheckResult(
        CLOUDTRAIL,
        Status.FAIL,
        f"no trail logs write management events for {region}{found}. {NO_TRAIL_CONSEQUENCE}",
    )


# ---------------------------------------------------------------------------------------------------------
# The desired state against the account


def permissions_verdict(allowed: Sequence[str], denied: Sequence[str], repository: str | None) -> CheckResult:
    """The enforcer's reads the caller made (``allowed``: IAM actions) and why the others failed."""
    tried_on = (
        f"; repository reads tried on {repository}"
        if repository
        else "; no repository to try the per-repository reads on"
    )
    if denied:
        return CheckResult(
            PERMISSIONS,
            Status.FAIL,
            f"{len(denied)} of the enforcer's reads failed: {'; '.join(denied)}{tried_on}. "
            "`ecr-drift plan` and `audit` need them too",
        )
    return CheckResult(
        PERMISSIONS, Status.PASS, f"the caller may make the enforcer's reads: {', '.join(allowed)}{tried_on}"
    )


def ignore_principals_verdict(globs: Sequence[str], caller_arns: Sequence[str]) -> CheckResult:
    """The caller (who runs `doctor`, usually who deploys) against ``enforcement.ignore_principals``."""
    if not globs:
        return CheckResult(
            IGNORE_PRINCIPALS,
            Status.WARN,
            "enforcement.ignore_principals is empty: the changes the deploy role makes (`pulumi up` updating "
            "a repository) are taken for drift and put back by the enforcer. Add the deploy role, e.g. "
            '"arn:aws:iam::<account id>:role/pulumi-deploy"',
        )
    for glob in globs:
        if matched := next((arn for arn in caller_arns if principal_matches(arn, glob)), None):
            return CheckResult(
                IGNORE_PRINCIPALS,
                Status.PASS,
                f"the caller {matched} matches ignore_principals {glob!r}: the enforcer ignores its changes",
            )
    return CheckResult(
        IGNORE_PRINCIPALS,
        Status.WARN,
        f"the caller {caller_arns[-1]} matches no ignore_principals ({', '.join(globs)}): if it deploys the "
        "stack, the enforcer takes its changes for drift and puts them back. Run doctor as the deploy role, "
        "or add that role to enforcement.ignore_principals",
    )


def inspector_verdict(status: Mapping[str, Any], account_id: str) -> CheckResult:
    """A BatchGetAccountStatus response: Inspector must scan ECR for ENHANCED scanning to do anything."""
    failed = next((f for f in status.get("failedAccounts", []) if f.get("accountId") == account_id), None)
    if failed is not None:
        return CheckResult(
            INSPECTOR,
            Status.WARN,
            f"could not read Inspector's status: {failed.get('errorCode')}: {failed.get('errorMessage')}",
        )
    account: Mapping[str, Any] = next(
        (a for a in status.get("accounts", []) if a.get("accountId") == account_id), {}
    )
    ecr = account.get("resourceState", {}).get("ecr", {}).get("status", "DISABLED")
    if ecr == "ENABLED":
        return CheckResult(INSPECTOR, Status.PASS, "Amazon Inspector scans ECR (ENHANCED scanning)")
    return CheckResult(
        INSPECTOR,
        Status.FAIL,
        f"registry.scanning.scan_type is ENHANCED but Amazon Inspector's ECR scanning is {ecr}: images are "
        "not scanned. Enable it: `aws inspector2 enable --resource-types ECR`",
    )


# ---------------------------------------------------------------------------------------------------------
# The deployed enforcer


def function_verdict(configuration: Mapping[str, Any], environment_problems: Sequence[str]) -> CheckResult:
    """A GetFunction ``Configuration``, and what is wrong with its environment (``EnforcerConfig``)."""
    name = configuration.get("FunctionName")
    state = configuration.get("State", "Active")
    update = configuration.get("LastUpdateStatus", "Successful")
    status = f"{name} is {state} (last update {update})"
    reason = configuration.get("StateReason") or configuration.get("LastUpdateStatusReason")
    if state == "Failed" or update == "Failed":
        return CheckResult(FUNCTION, Status.FAIL, f"{status}: {reason}")
    if environment_problems:
        return CheckResult(
            FUNCTION,
            Status.FAIL,
            f"{status}, but its environment is invalid: {'; '.join(environment_problems)}",
        )
    if state != "Active" or update != "Successful":
        # Pending and InProgress end by themselves; Inactive (idle for weeks) ends with the next invocation.
        return CheckResult(FUNCTION, Status.WARN, f"{status}{f': {reason}' if reason else ''}")
    return CheckResult(FUNCTION, Status.PASS, status)


def rule_kind(rule: Mapping[str, Any]) -> str | None:
    """Which of the enforcer's triggers a DescribeRule response is: schedule, API calls or service events."""
    if rule.get("ScheduleExpression"):
        return "schedule"
    try:
        pattern = json.loads(rule.get("EventPattern") or "{}")
    except json.JSONDecodeError:
        return None
    detail_types = pattern.get("detail-type", []) if isinstance(pattern, dict) else []
    if API_CALL in detail_types:
        return "API calls"
    if SERVICE_EVENT in detail_types:
        return "service events"
    return None


RULE_KINDS = ("schedule", "API calls", "service events")


def rules_verdict(alias_arn: str, rules: Sequence[Mapping[str, Any]]) -> CheckResult:
    """The DescribeRule responses of the rules that target the alias: one of each kind, each ENABLED."""
    by_kind: dict[str, list[Mapping[str, Any]]] = {kind: [] for kind in RULE_KINDS}
    for rule in rules:
        if (kind := rule_kind(rule)) is not None:
            by_kind[kind].append(rule)
    missing = [kind for kind, found in by_kind.items() if not found]
    disabled = [
        f"{kind} rule {rule['Name']} is {rule.get('State')}"
        for kind, found in by_kind.items()
        if found and not any(r.get("State") == "ENABLED" for r in found)
        for rule in found
    ]
    if missing or disabled:
        problems = [*(f"no {kind} rule" for kind in missing), *disabled]
        return CheckResult(
            EVENT_RULES,
            Status.FAIL,
            f"{'; '.join(problems)} (rules targeting {alias_arn}). Without the schedule nothing sweeps; "
            "without the API-call rule, changes wait for the schedule, and so do new pull-through-cache and "
            "create-on-push repositories without the service-event rule. `pulumi up` restores the rules; "
            "`aws events enable-rule --name NAME` enables one",
        )
    enabled = [
        f"{kind} {next(r['Name'] for r in found if r.get('State') == 'ENABLED')}"
        for kind, found in by_kind.items()
    ]
    return CheckResult(EVENT_RULES, Status.PASS, f"enabled, targeting the alias: {', '.join(enabled)}")


def recent_runs_verdict(
    function: str, hours: int, invocations: float, failures: Mapping[str, float]
) -> CheckResult:
    """Sums over the last ``hours``: Lambda's Invocations, and each failure metric by name."""
    failed = {metric: count for metric, count in failures.items() if count}
    if failed:
        counts = ", ".join(f"{metric} {count:g}" for metric, count in failed.items())
        return CheckResult(
            RECENT_RUNS,
            Status.FAIL,
            f"in the last {hours} h: {count(int(invocations), 'invocation')} and {counts}. Read why: "
            f"`aws logs tail /aws/lambda/{function} --since {hours}h`",
        )
    if not invocations:
        return CheckResult(
            RECENT_RUNS,
            Status.WARN,
            f"no invocation in the last {hours} h: the schedule has not run yet (just deployed?) or its "
            "events are not delivered (see event-rules and dead-letters); `ecr-drift invoke` runs it now",
        )
    return CheckResult(
        RECENT_RUNS,
        Status.PASS,
        f"{count(int(invocations), 'invocation')} in the last {hours} h, none failed",
    )


@dataclass(frozen=True)
class DeadLetters:
    """Where the enforcer's failed events are kept (queue or destination ARNs; None: nowhere), and the
    ApproximateNumberOfMessages of each SQS queue among them."""

    rule_queues: Mapping[str, str | None]  # rule name → its target's dead-letter queue
    on_failure: str | None  # the alias's asynchronous on-failure destination
    function_queue: str | None  # the function's own DeadLetterConfig (asynchronous invocations)
    sweep_queue: str | None  # the sweep queue's redrive target, with SWEEP_QUEUE_URL
    messages: Mapping[str, int]

    def places(self) -> dict[str, list[str]]:
        """Each ARN and what sends failed events there."""
        places: dict[str, list[str]] = {}
        named = [
            *((arn, f"rule {rule}") for rule, arn in self.rule_queues.items()),
            (self.on_failure, "on-failure destination"),
            (self.function_queue, "function dead-letter queue"),
            (self.sweep_queue, "sweep dead-letter queue"),
        ]
        for arn, source in named:
            if arn is not None:
                places.setdefault(arn, []).append(source)
        return places


def is_queue(arn: str) -> bool:
    return arn.startswith("arn:") and arn.split(":")[2] == "sqs"


def dead_letters_verdict(facts: DeadLetters) -> CheckResult:
    places = facts.places()
    waiting = [
        f"{count(facts.messages[arn], 'message')} in {arn} ({', '.join(sources)})"
        for arn, sources in places.items()
        if facts.messages.get(arn)
    ]
    if waiting:
        return CheckResult(
            DEAD_LETTERS,
            Status.FAIL,
            f"{'; '.join(waiting)}: events the enforcer never handled. Read them "
            "(`aws sqs receive-message --queue-url URL`), fix the cause, then purge the queue; the next "
            "sweep re-checks every repository anyway",
        )
    gaps = [
        f"rule {rule}'s target has no dead-letter queue: events EventBridge cannot deliver are dropped"
        for rule, arn in facts.rule_queues.items()
        if arn is None
    ]
    if facts.on_failure is None:
        gaps.append(
            "the alias has no on-failure destination: an event whose invocation fails three times "
            "(Lambda's asynchronous retries) is dropped, and its change waits for the next sweep"
        )
    gaps += [f"{arn} is not an SQS queue: not counted" for arn in places if not is_queue(arn)]
    empty = ", ".join(
        f"{arn.rsplit(':', 1)[-1]} ({', '.join(s)})" for arn, s in places.items() if is_queue(arn)
    )
    checked = f"empty: {empty}" if empty else "no dead-letter queue to read"
    if gaps:
        return CheckResult(DEAD_LETTERS, Status.WARN, f"{'; '.join(gaps)}; {checked}")
    return CheckResult(DEAD_LETTERS, Status.PASS, checked)
