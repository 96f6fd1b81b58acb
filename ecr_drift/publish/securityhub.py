"""Security Hub: one ASFF finding per finding, under an Id stable per resource and setting.

An Id (``ecr-drift-enforcer/{region}/{account}/{resource}/{setting}[/{key}]``) goes through these states:

- found again by a run → imported with Compliance FAILED (Workflow NEW when the finding is new; Security Hub
  itself turns a RESOLVED finding back to NEW when its compliance goes from PASSED to FAILED);
- remediated by a run → imported with Compliance PASSED, then resolved;
- open (ACTIVE, FAILED, NEW or NOTIFIED) on a resource this run checked, but not found again → its setting is
  compliant now, or no longer managed: re-imported with Compliance PASSED, then resolved.

"Resolved" is a BatchUpdateFindings call setting Workflow RESOLVED: BatchImportFindings cannot change the
workflow of an existing finding. Resources a run did not check (other repositories, the registry settings and
items the target did not include, repositories left for lack of time) keep their findings open until one does.

Calls: one GetFindings query per 20 checked resources (a filter takes at most 20 values), paged and paced to
GetFindings' quota of 3 requests a second; BatchImportFindings and BatchUpdateFindings 100 findings a call.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ecr_drift.aws.errors import Sleep
from ecr_drift.desired.models import REPOSITORY_NAME_PATTERN
from ecr_drift.findings import REGISTRY, REPOSITORY, UNMANAGED_REPOSITORY, Action, Finding, Report
from ecr_drift.publish.text import origin_text, value_text
from ecr_drift.settings import registry_settings, repository_settings
from ecr_drift.targets import RegistryScope

if TYPE_CHECKING:
    from mypy_boto3_securityhub import SecurityHubClient
    from mypy_boto3_securityhub.literals import SeverityLabelType
    from mypy_boto3_securityhub.type_defs import (
        AwsSecurityFindingFiltersTypeDef,
        AwsSecurityFindingOutputTypeDef,
        AwsSecurityFindingTypeDef,
        GetFindingsRequestTypeDef,
        ResourceTypeDef,
    )
    from mypy_boto3_sts import STSClient

IAM_ACTIONS = (
    "securityhub:BatchImportFindings",
    "securityhub:BatchUpdateFindings",
    "securityhub:GetFindings",
    "sts:GetCallerIdentity",  # the account id of the findings; allowed to every principal
)
GENERATOR = "ecr-drift-enforcer"
FIELD = "ecr-drift-enforcer/"  # prefix of the ProductFields keys this module writes and reads back
FINDING_TYPE = "Software and Configuration Checks/AWS Security Best Practices"
BATCH = 100  # BatchImportFindings' and BatchUpdateFindings' limit a call
FILTER_VALUES = 20  # GetFindings' limit on the values of one filter attribute
PAGE = 100  # GetFindings' largest page
GET_FINDINGS_INTERVAL_S = 1 / 3  # GetFindings' rate quota: 3 requests a second per account and Region
# Beyond what each managed setting declares (``severity``).
SEVERITY: dict[str, SeverityLabelType] = {REPOSITORY: "HIGH", UNMANAGED_REPOSITORY: "LOW"}


def severity(setting: str) -> SeverityLabelType:
    declared = {s.name: s.severity for s in (*repository_settings(), *registry_settings())}
    return SEVERITY.get(setting) or declared.get(setting, "MEDIUM")


_REPOSITORY_NAME = re.compile(REPOSITORY_NAME_PATTERN)


@dataclass(frozen=True)
class Account:
    id: str
    partition: str
    region: str

    @property
    def product_arn(self) -> str:
        """The account's own "default" product: where a custom integration imports its findings."""
        return f"arn:{self.partition}:securityhub:{self.region}:{self.id}:product/{self.id}/default"

    @classmethod
    def of(cls, sts: STSClient, region: str) -> Account:
        identity = sts.get_caller_identity()
        return cls(identity["Account"], identity["Arn"].split(":")[1], region)


def finding_id(account: Account, resource: str, setting: str, key: str | None = None) -> str:
    return "/".join([GENERATOR, account.region, account.id, resource, setting, *([key] if key else [])])


@dataclass
class Pacer:
    """Called before each request: starts requests at least ``interval`` seconds apart.

    botocore's adaptive retries slow down only once throttled, and GetFindings' quota is the account's, shared
    with the console and other tools: a sweep's dozen queries sent at once would be throttled on every run.
    """

    interval: float = GET_FINDINGS_INTERVAL_S
    clock: Callable[[], float] = time.monotonic
    sleep: Sleep = time.sleep
    _next: float = field(default=float("-inf"), init=False)

    def __call__(self) -> None:
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


def sync(
    report: Report,
    *,
    client: SecurityHubClient,
    account: Account,
    now: str,
    registry_checked: RegistryScope,
    pace: Callable[[], None] | None = None,
) -> list[str]:
    """Import this run's findings and resolve the ones it proved compliant. Returns per-finding failures.

    ``registry_checked``: the registry settings and items the run checked; the registry's other findings
    stay open. ``pace`` is called before each GetFindings request (default: a :class:`Pacer` to GetFindings'
    quota).
    """
    current = [_from_finding(f, account, now, report.trigger) for f in report.findings]
    current_ids = {f["Id"] for f in current}
    checked = sorted({*report.repositories_checked, *([REGISTRY] if registry_checked else [])})
    compliant = [
        _compliant(found, account, now, report.trigger)
        for found in open_findings(client, account, checked, pace or Pacer())
        if found["Id"] not in current_ids and _was_checked(found, registry_checked)
    ]
    sent = current + compliant
    failed = _import(client, sent)
    passed = [f["Id"] for f in sent if f["Compliance"]["Status"] == "PASSED" and f["Id"] not in failed]
    return [f"{i}: {reason}" for i, reason in failed.items()] + _resolve(client, account, passed)


def open_findings(
    client: SecurityHubClient, account: Account, resources: list[str], pace: Callable[[], None]
) -> list[AwsSecurityFindingOutputTypeDef]:
    """The enforcer's findings on ``resources`` still waiting for a fix: ACTIVE, FAILED, workflow NEW or
    NOTIFIED.

    Every query names its resources, FILTER_VALUES at most, so a run reads the findings of what it checked and
    never pages through the account's (each batch of a sweep would read them all). ``pace`` is called before
    each request.
    """
    found: list[AwsSecurityFindingOutputTypeDef] = []
    for start in range(0, len(resources), FILTER_VALUES):
        chunk = resources[start : start + FILTER_VALUES]
        request: GetFindingsRequestTypeDef = {"Filters": _open_filters(account, chunk), "MaxResults": PAGE}
        while True:
            pace()
            response = client.get_findings(**request)
            # The same conditions again: moto ignores Filters, and a finding this module cannot read back is
            # skipped.
            found += [f for f in response["Findings"] if _is_open(f, account, chunk)]
            if not response.get("NextToken"):
                break
            request["NextToken"] = response["NextToken"]
    return found


def _open_filters(account: Account, resources: list[str]) -> AwsSecurityFindingFiltersTypeDef:
    key = f"{FIELD}resource"
    return {
        "ProductArn": [{"Value": account.product_arn, "Comparison": "EQUALS"}],
        "GeneratorId": [{"Value": f"{GENERATOR}/", "Comparison": "PREFIX"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        "ComplianceStatus": [{"Value": "FAILED", "Comparison": "EQUALS"}],
        "WorkflowStatus": [
            {"Value": "NEW", "Comparison": "EQUALS"},
            {"Value": "NOTIFIED", "Comparison": "EQUALS"},
        ],
        # Values of one field are ORed: any of these resources.
        "ProductFields": [{"Key": key, "Value": r, "Comparison": "EQUALS"} for r in resources],
    }


def _is_open(found: AwsSecurityFindingOutputTypeDef, account: Account, resources: list[str]) -> bool:
    fields = found.get("ProductFields", {})
    return (
        f"{FIELD}setting" in fields
        and fields.get(f"{FIELD}resource") in resources
        and found["ProductArn"] == account.product_arn
        and found["GeneratorId"].startswith(f"{GENERATOR}/")
        and found.get("RecordState") == "ACTIVE"
        and found.get("Compliance", {}).get("Status") == "FAILED"
        and found.get("Workflow", {}).get("Status", "NEW") in ("NEW", "NOTIFIED")
    )


def _was_checked(found: AwsSecurityFindingOutputTypeDef, registry_checked: RegistryScope) -> bool:
    """A repository's open finding was checked (only checked repositories are queried); the registry's only
    when the run checked its setting (and item)."""
    fields = found.get("ProductFields", {})
    if fields[f"{FIELD}resource"] != REGISTRY:
        return True
    return registry_checked.covers(fields[f"{FIELD}setting"], fields.get(f"{FIELD}key"))


def _from_finding(finding: Finding, account: Account, now: str, trigger: str) -> AwsSecurityFindingTypeDef:
    passed = finding.action is Action.REMEDIATED
    fields = {f"{FIELD}action": str(finding.action), f"{FIELD}trigger": trigger}
    if finding.origin and finding.origin.principal_arn:
        fields[f"{FIELD}changedBy"] = finding.origin.principal_arn
    lines = [
        finding.message or f"{finding.setting}: not as in the desired state",
        f"Action: {finding.action} (trigger {trigger}).",
        f"Expected {value_text(finding.expected, 200)}; actual {value_text(finding.actual, 200)}.",
        origin_text(finding.origin) or "",
        f"Error: {finding.error}" if finding.error else "",
    ]
    return _asff(
        account,
        now,
        resource=finding.resource,
        setting=str(finding.setting),
        key=finding.key,
        passed=passed,
        severity="INFORMATIONAL" if passed else severity(finding.setting),
        title=f"ECR {finding.label} of {finding.resource}: not as in the desired state",
        description=" ".join(line for line in lines if line),
        created_at=now,
        extra_fields=fields,
    )


def _compliant(
    found: AwsSecurityFindingOutputTypeDef, account: Account, now: str, trigger: str
) -> AwsSecurityFindingTypeDef:
    fields = found.get("ProductFields", {})
    resource, setting = fields[f"{FIELD}resource"], fields[f"{FIELD}setting"]
    return _asff(
        account,
        now,
        resource=resource,
        setting=setting,
        key=fields.get(f"{FIELD}key"),
        passed=True,
        severity="INFORMATIONAL",
        title=found["Title"],
        description=f"Compliant again: {setting} of {resource} matched the desired state in run {trigger}.",
        created_at=found["CreatedAt"],
        extra_fields={f"{FIELD}action": "compliant", f"{FIELD}trigger": trigger},
    )


def _asff(
    account: Account,
    now: str,
    *,
    resource: str,
    setting: str,
    key: str | None,
    passed: bool,
    severity: SeverityLabelType,
    title: str,
    description: str,
    created_at: str,
    extra_fields: dict[str, str],
) -> AwsSecurityFindingTypeDef:
    fields = {f"{FIELD}resource": resource, f"{FIELD}setting": setting, **extra_fields}
    if key:
        fields[f"{FIELD}key"] = key
    return {
        "SchemaVersion": "2018-10-08",
        "Id": finding_id(account, resource, setting, key),
        "ProductArn": account.product_arn,
        "GeneratorId": f"{GENERATOR}/{setting}",
        "AwsAccountId": account.id,
        "Types": [FINDING_TYPE],
        "CreatedAt": created_at,
        "UpdatedAt": now,
        "Severity": {"Label": severity},
        "FindingProviderFields": {"Severity": {"Label": severity}, "Types": [FINDING_TYPE]},
        "Title": title[:256],
        "Description": description[:1024],
        "Resources": [_resource(resource, account)],
        "Compliance": {"Status": "PASSED" if passed else "FAILED"},
        "Workflow": {"Status": "RESOLVED" if passed else "NEW"},  # honoured only when the Id is new
        "RecordState": "ACTIVE",
        "ProductFields": {k: v[:2048] for k, v in fields.items()},
    }


def _resource(resource: str, account: Account) -> ResourceTypeDef:
    # The registry, and the account-wide listing of repositories (a failed one), are the account's.
    if resource == REGISTRY or not _REPOSITORY_NAME.fullmatch(resource):
        return {"Type": "AwsAccount", "Id": f"AWS::::Account:{account.id}", "Region": account.region}
    return {
        "Type": "AwsEcrRepository",
        "Id": f"arn:{account.partition}:ecr:{account.region}:{account.id}:repository/{resource}",
        "Region": account.region,
        "Details": {"AwsEcrRepository": {"RepositoryName": resource}},
    }


def _import(client: SecurityHubClient, findings: list[AwsSecurityFindingTypeDef]) -> dict[str, str]:
    """Import in batches; returns the reason of each Id that was refused."""
    failed: dict[str, str] = {}
    for start in range(0, len(findings), BATCH):
        response = client.batch_import_findings(Findings=findings[start : start + BATCH])
        failed |= {f["Id"]: f"{f['ErrorCode']} {f['ErrorMessage']}" for f in response["FailedFindings"]}
    return failed


def _resolve(client: SecurityHubClient, account: Account, ids: list[str]) -> list[str]:
    failures: list[str] = []
    for start in range(0, len(ids), BATCH):
        response = client.batch_update_findings(
            FindingIdentifiers=[
                {"Id": i, "ProductArn": account.product_arn} for i in ids[start : start + BATCH]
            ],
            Workflow={"Status": "RESOLVED"},
            Note={"Text": "Compliant with the desired state again.", "UpdatedBy": GENERATOR},
        )
        failures += [
            f"{f['FindingIdentifier']['Id']}: {f['ErrorCode']} {f['ErrorMessage']}"
            for f in response["UnprocessedFindings"]
        ]
    return failures
