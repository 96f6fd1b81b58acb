"""`ecr-drift demo`: the whole loop on an embedded AWS double — no account, no network, a few seconds.

The Lambda handler itself runs here, in-process, on moto (plus the project's double for what moto lacks):
baseline → someone drifts every kind of setting → the matching CloudTrail events reach the handler → it
re-applies → a dangerous edit of the desired state is refused → a scheduled sweep → a manual audit that must
come back clean.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
from rich.console import Console
from rich.markup import escape

from ecr_drift import metrics
from ecr_drift.cli.lambda_context import FakeLambdaContext
from ecr_drift.cli.render import ACTION_STYLE
from ecr_drift.desired import DesiredState, RepositorySettings, resolve
from ecr_drift.findings import Finding, Origin
from ecr_drift.settings.creation_templates import creation_templates

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

ACCOUNT = "123456789012"  # moto's account
REGION = "eu-west-1"
ENFORCER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ecr-drift-enforcer"
HUMAN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd"
HUMAN_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123abcd/jane@example.com"
# moto's switches that send its mocks to a server or through a proxy instead of answering in-process.
MOTO_REDIRECTS = frozenset({"TEST_SERVER_MODE", "TEST_PROXY_MODE"})


def cloudtrail_event(name: str, parameters: dict[str, Any], *, role: str = HUMAN_ROLE) -> dict[str, Any]:
    """An EventBridge event as CloudTrail delivers an ECR API call."""
    session = HUMAN_SESSION if role == HUMAN_ROLE else f"{role.replace(':iam:', ':sts:')}/session"
    event_id = str(uuid.uuid4())
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ecr",
        "account": ACCOUNT,
        "time": now,
        "region": REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": session,
                "accountId": ACCOUNT,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role, "accountId": ACCOUNT}},
            },
            "eventTime": now,
            "eventSource": "ecr.amazonaws.com",
            "eventName": name,
            "awsRegion": REGION,
            "sourceIPAddress": "203.0.113.24",
            "userAgent": "aws-cli/2.22.0 Python/3.12.6 Linux/6.8",
            "requestParameters": parameters,
            "responseElements": None,
            "eventID": event_id,
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        },
    }


def service_event(repository: str) -> dict[str, Any]:
    """The event ECR sends when it creates a repository itself (first pull through a cache rule)."""
    event = cloudtrail_event("CreateRepository", {"repositoryName": repository})
    event["detail-type"] = "AWS Service Event via CloudTrail"
    event["detail"].update(
        eventType="AwsServiceEvent",
        userIdentity={"accountId": ACCOUNT, "invokedBy": "ecr.amazonaws.com"},
        sourceIPAddress="ecr.amazonaws.com",
        userAgent="ecr.amazonaws.com",
        serviceEventDetails={"repositoryName": repository},
    )
    return event


@dataclass(frozen=True)
class Drift:
    """One thing someone does in the console or CI: an ECR API call, and the event CloudTrail makes of it."""

    story: str
    operation: str  # the ECR API action, e.g. PutLifecyclePolicy
    parameters: dict[str, Any]
    by_ecr_itself: bool = False  # ECR's own action (a repository created for a cache rule)

    def apply(self, ecr: ECRClient) -> None:
        method = "".join(f"_{c.lower()}" if c.isupper() else c for c in self.operation).lstrip("_")
        getattr(ecr, method)(**self.parameters)

    @property
    def event(self) -> dict[str, Any]:
        if self.by_ecr_itself:
            return service_event(self.parameters["repositoryName"])
        return cloudtrail_event(self.operation, self.parameters)


def _named(state: DesiredState, wanted: Callable[[RepositorySettings], bool]) -> list[str]:
    return [n for n in state.repositories if (r := resolve(state, n)) is not None and wanted(r.settings)]


def _settings(state: DesiredState, name: str) -> RepositorySettings:
    resolved = resolve(state, name)
    assert resolved is not None  # names come from state.repositories
    return resolved.settings


_GREEDY_LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "ci: keep only the newest image",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)
_WIDE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AnyonePull", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}
        ],
    }
)


def drift_scenarios(state: DesiredState) -> list[Drift]:
    """Every kind of drift the desired state lets us show, each on a repository that manages that setting."""
    drifts: list[Drift] = []
    if scanned := _named(state, lambda s: s.scan_on_push is True):
        name = scanned[0]
        drifts.append(
            Drift(
                f"scan on push turned off on {name}",
                "PutImageScanningConfiguration",
                {"repositoryName": name, "imageScanningConfiguration": {"scanOnPush": False}},
            )
        )
    if mutable := _named(state, lambda s: s.image_tag_mutability is not None):
        name = mutable[-1]
        flipped = "MUTABLE" if _settings(state, name).image_tag_mutability == "IMMUTABLE" else "IMMUTABLE"
        drifts.append(
            Drift(
                f"tag mutability flipped to {flipped} on {name}",
                "PutImageTagMutability",
                {"repositoryName": name, "imageTagMutability": flipped},
            )
        )
    with_lifecycle = _named(state, lambda s: bool(s.lifecycle))
    if with_lifecycle:
        name = with_lifecycle[0]
        drifts.append(
            Drift(
                f"lifecycle policy of {name} overwritten by a CI script (keep 1 image)",
                "PutLifecyclePolicy",
                {"repositoryName": name, "lifecyclePolicyText": _GREEDY_LIFECYCLE},
            )
        )
    if len(with_lifecycle) > 1:
        name = with_lifecycle[1]
        drifts.append(
            Drift(f"lifecycle policy of {name} deleted", "DeleteLifecyclePolicy", {"repositoryName": name})
        )
    if with_policy := _named(state, lambda s: s.manages_policy):
        name = with_policy[0]
        drifts.append(
            Drift(
                f"repository policy of {name} widened to every AWS principal",
                "SetRepositoryPolicy",
                {"repositoryName": name, "policyText": _WIDE_POLICY},
            )
        )
    if tagged := _named(state, lambda s: bool(s.tags)):
        name = tagged[-1]
        key = sorted(_settings(state, name).tags or {})[0]
        drifts.append(
            Drift(
                f"tag `{key}` removed from {name}",
                "UntagResource",
                {"resourceArn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}", "tagKeys": [key]},
            )
        )
    for prefix in sorted(state.registry.pull_through_cache or {})[:1]:
        drifts.append(
            Drift(
                f"pull-through cache rule `{prefix}` deleted",
                "DeletePullThroughCacheRule",
                {"ecrRepositoryPrefix": prefix},
            )
        )
    if state.registry.replication:
        drifts.append(
            Drift(
                "replication turned off in the console",
                "PutReplicationConfiguration",
                {"replicationConfiguration": {"rules": []}},
            )
        )
    if state.registry.policy_statements:
        drifts.append(Drift("registry policy deleted", "DeleteRegistryPolicy", {}))
    for prefix in sorted(creation_templates(state))[:1]:
        drifts.append(
            Drift(
                f"repository creation template `{prefix}` deleted",
                "DeleteRepositoryCreationTemplate",
                {"prefix": prefix},
            )
        )
    if state.enforcement.recreate_missing_repositories and len(state.repositories) > 1:
        name = list(state.repositories)[1]
        drifts.append(
            Drift(
                f"managed repository {name} deleted",
                "DeleteRepository",
                {"repositoryName": name, "force": True},
            )
        )
    for pattern in state.repository_patterns:
        name = pattern.replace("*", "library/nginx")
        drifts.append(
            Drift(
                f"ECR created {name} on the first pull through the cache (pattern {pattern})",
                "CreateRepository",
                {"repositoryName": name},
                by_ecr_itself=True,
            )
        )
    return drifts


def demo_environment(caller: Mapping[str, str], desired: Path, verbose: bool) -> dict[str, str]:
    """The whole environment the demo runs in: ``caller``'s without any ``AWS_*`` setting, plus the
    Lambda's, pointing at moto.

    moto answers only the requests addressed to AWS's own hostnames: anything of the caller's that redirects
    the SDK (``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``, which `ecr-drift sandbox` asks users
    to export; a profile or config file naming an endpoint) would send the demo's writes to that endpoint,
    and any credentials of the caller's would be a real identity. So none are inherited; profiles and
    config files point at an empty file, and no credential provider may ask a metadata service. moto's own
    switches to a server or a proxy (``TEST_SERVER_MODE``, ``TEST_PROXY_MODE``) are dropped too.
    """
    inherited = {
        name: value
        for name, value in caller.items()
        if not name.startswith("AWS_") and name not in MOTO_REDIRECTS
    }
    return inherited | {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "DESIRED_STATE_PATH": str(desired.resolve()),
        "ENFORCER_ROLE_ARN": ENFORCER_ROLE,
        "POWERTOOLS_SERVICE_NAME": metrics.SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": metrics.NAMESPACE,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "false" if verbose else "true",
        "POWERTOOLS_LOG_LEVEL": "INFO" if verbose else "ERROR",
    }


@contextmanager
def embedded_aws(desired: Path, verbose: bool) -> Iterator[None]:
    """moto in-process with the project's double; the Lambda's environment pointing at it, and nothing of
    the caller's AWS settings (:func:`demo_environment`). The caller's environment is back afterwards."""
    environment = demo_environment(os.environ, desired, verbose)
    with mock.patch.dict(os.environ, environment, clear=True):
        # moto reads TEST_SERVER_MODE when it is first imported: only once the caller's is gone.
        from moto import mock_aws

        from ecr_drift.cli.ecr_double import install_ecr_double, set_aws_document_rewriting

        install_ecr_double()
        with mock_aws():
            # ECR reformats the policies it returns; the enforcer must see through it, so the demo does too.
            set_aws_document_rewriting(True)
            yield


def _who(origin: Origin | None) -> str:
    """`jane@example.com as AWSReservedSSO_Admin_…` from an assumed-role ARN; the ARN itself otherwise."""
    principal = origin.principal_arn if origin else None
    if not principal:
        return ""
    parts = principal.split("/")
    if ":assumed-role/" in principal and len(parts) >= 3:
        return f" (changed by {parts[-1]} as {parts[-2]})"
    return f" (changed by {principal})"


def _describe(console: Console, response: dict[str, Any]) -> None:
    if response.get("status") == "ignored":
        console.print(f"   [dim]enforcer: ignored: {escape(str(response.get('reason')))}[/]")
        return
    findings = response.get("findings", [])
    if not findings:
        console.print("   [green]enforcer: compliant, nothing to do[/]")
    for finding in map(Finding.from_dict, findings):
        colour = ACTION_STYLE[finding.action]
        line = (
            f"   enforcer: {escape(finding.resource)} {escape(finding.label)}: "
            f"[{colour}]{finding.action}[/]{escape(_who(finding.origin))}"
        )
        console.print(line if not finding.error else f"{line}: {escape(finding.error)}")


def _opened_to_everyone(desired: Path) -> dict[str, Any]:
    """``desired`` with a statement granting every AWS principal every ECR action on its first repository."""
    document: dict[str, Any] = json.loads(desired.read_text())
    name = next(iter(document.get("repositories", {})), "demo")
    statement = {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"}
    repository = document.setdefault("repositories", {}).setdefault(name, {})
    repository["policy_statements"] = [*repository.get("policy_statements", []), statement]
    return document


def _with_desired(
    document: dict[str, Any], invoke: Callable[[], dict[str, Any]], *, quiet: bool
) -> dict[str, Any]:
    """``invoke()`` by a function whose desired state is ``document`` (a fresh cold start), then back.
    ``quiet``: its error log line is left out (the demo prints what it says)."""
    from ecr_drift import lambda_function

    level = lambda_function.logger.log_level
    if quiet:
        lambda_function.logger.setLevel("CRITICAL")
    with TemporaryDirectory() as directory:
        path = Path(directory) / "desired_state.json"
        path.write_text(json.dumps(document))
        with mock.patch.dict(os.environ, {"DESIRED_STATE_PATH": str(path)}):
            lambda_function.startup.cache_clear()
            try:
                return invoke()
            finally:
                lambda_function.startup.cache_clear()
                lambda_function.logger.setLevel(level)


def run_demo(desired: Path, state: DesiredState, console: Console, *, verbose: bool = False) -> int:
    """Run the loop for ``state`` (read from ``desired``); 0 when the final audit is clean."""
    with embedded_aws(desired, verbose):
        # Imported once the environment is set: Powertools reads it when the module is loaded.
        from ecr_drift import lambda_function

        lambda_function.startup.cache_clear()  # read this run's environment, not one cached by an earlier run
        handler = lambda_function.lambda_handler
        context = FakeLambdaContext()
        # A session of this run's own: boto3's default one may hold a profile or credentials read earlier.
        ecr = boto3.Session(region_name=REGION).client("ecr")

        console.print("[bold]1. Baseline[/] (Pulumi's job in an account; here the enforcer builds it)")
        baseline = handler({"action": "enforce"}, context)
        console.print(
            f"   {baseline['summary']['remediated']} findings remediated, {baseline['writes']} write calls"
        )

        console.print("[bold]2. Drift[/]: someone changes things in the console and CI")
        for step, drift in enumerate(drift_scenarios(state), start=1):
            console.print(f" {step:>2}. {escape(drift.story)}")
            drift.apply(ecr)
            _describe(console, handler(drift.event, context))

        console.print("[bold]3. The enforcer's own changes come back as CloudTrail events[/]")
        echo = cloudtrail_event(
            "PutImageScanningConfiguration", {"repositoryName": "any"}, role=ENFORCER_ROLE
        )
        _describe(console, handler(echo, context))

        console.print(
            "[bold]4. A dangerous edit[/]: a teammate opens a repository to everyone in desired_state.json"
        )
        refused = _with_desired(
            _opened_to_everyone(desired), lambda: handler({"action": "enforce"}, context), quiet=not verbose
        )
        for problem in refused.get("problems", [])[:1]:
            console.print(
                f"   enforcer: [red]refused at start-up[/], nothing checked or written: {escape(problem)}"
            )

        console.print("[bold]5. Scheduled sweep[/] (every repository and the registry)")
        scheduled = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/ecr-drift-enforcer-sweep"],
            "detail": {},
        }
        _describe(console, handler(scheduled, context))

        console.print('[bold]6. Manual audit[/] (`aws lambda invoke` with {"action": "audit"})')
        final = handler({"action": "audit"}, context)
        _describe(console, final)
        clean = final.get("status") != "error" and not final.get("findings") and final.get("writes") == 0
        checked = len(final.get("repositories_checked", []))
        if clean:
            console.print(
                f"[bold green]Audit clean:[/] {checked} repositories and the registry match {desired}."
            )
            return 0
        console.print("[bold red]Audit not clean[/]: the loop did not converge; see the findings above.")
        return 1
