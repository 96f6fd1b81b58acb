"""Security Hub at a sweep's scale: 300 drifted repositories and the registry, on moto's store.

Every call is counted through botocore ``before-call`` hooks (tests/aws_calls.py) and its parameters are
checked as sent: moto's GetFindings ignores ``Filters``, so the double of tests/securityhub_double.py applies
the resource filter and pages as AWS would, and the counts are AWS's. Pacing runs on a fake clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from ecr_drift.aws.clients import AwsClients
from ecr_drift.findings import REGISTRY, Action, Finding, Report
from ecr_drift.publish import securityhub
from ecr_drift.targets import WHOLE_REGISTRY
from tests.aws_calls import AwsCalls
from tests.conftest import ACCOUNT_ID, REGION
from tests.securityhub_double import BatchUpdateFindingsDouble, FakeTime, GetFindingsDouble

ACCOUNT = securityhub.Account(ACCOUNT_ID, "aws", REGION)
REPOSITORIES = [f"repo-{i:03d}" for i in range(300)]
HEAVY = REPOSITORIES[:40]  # drift on every repository setting: their queries need a second page
HEAVY_SETTINGS = ("scan_on_push", "image_tag_mutability", "repository_policy", "tags")
FIXED = REPOSITORIES[:150]  # compliant again in the second sweep
LATENCY_S = 0.05  # of each GetFindings call, on the fake clock
RESOURCE = f"{securityhub.FIELD}resource"


@dataclass
class Hub:
    clients: AwsClients
    calls: AwsCalls
    resolved: BatchUpdateFindingsDouble
    time: FakeTime
    started: list[float]  # fake time at which each GetFindings call started

    def sweep(self, findings: list[Finding]) -> list[str]:
        report = Report(
            mode="enforce", trigger="schedule", repositories_checked=list(REPOSITORIES), findings=findings
        )
        pacer = securityhub.Pacer(clock=self.time.clock, sleep=self.time.sleep)
        return securityhub.sync(
            report,
            client=self.clients.securityhub,
            account=ACCOUNT,
            now="2025-11-20T09:00:00.000Z",
            registry_checked=WHOLE_REGISTRY,
            pace=pacer,
        )

    def forget_calls(self) -> None:
        self.calls.clear()
        self.started.clear()
        self.time.slept.clear()

    def get_findings(self) -> list[dict[str, Any]]:
        return [c.params for c in self.calls.calls if c.operation == "GetFindings"]


@pytest.fixture
def hub(aws: None) -> Hub:
    clients = AwsClients()
    fake, started = FakeTime(), []

    def call_started(**_: Any) -> None:
        started.append(fake.now)
        fake.now += LATENCY_S

    # Before the doubles: the first before-call hook that answers ends the chain.
    clients.securityhub.meta.events.register("before-call.securityhub.GetFindings", call_started)
    calls = AwsCalls().attach(clients.securityhub)
    resolved = BatchUpdateFindingsDouble(clients)
    GetFindingsDouble(clients)
    return Hub(clients, calls, resolved, fake, started)


def drifted(repositories: list[str]) -> list[Finding]:
    findings = [Finding(r, "lifecycle_policy", {"rules": [1]}, None) for r in repositories]
    heavy = [r for r in repositories if r in HEAVY]
    findings += [Finding(r, s, "desired", "actual") for r in heavy for s in HEAVY_SETTINGS]
    findings += [Finding(r, "encryption", "KMS", "AES256", Action.REPORTED) for r in heavy]
    return findings


def stored() -> dict[str, dict[str, Any]]:
    pages = boto3.client("securityhub", region_name=REGION).get_paginator("get_findings").paginate()
    return {f["Id"]: dict(f) for page in pages for f in page["Findings"]}


def test_a_sweep_of_300_repositories_queries_20_resources_at_a_time_and_resolves_the_fixed(hub: Hub) -> None:
    first = [*drifted(REPOSITORIES), Finding(REGISTRY, "pull_through_cache_rule", {}, None, key="quay")]
    assert hub.sweep(first) == []
    assert len(stored()) == len(first) == 501
    first_calls = hub.calls.operations
    hub.forget_calls()

    still = drifted(REPOSITORIES[len(FIXED) :])
    errors = hub.sweep(still)

    # Every query names at most 20 resources and keeps the other conditions; pages repeat their query.
    queries = hub.get_findings()
    expected_filters = {
        "ProductArn": [{"Value": ACCOUNT.product_arn, "Comparison": "EQUALS"}],
        "GeneratorId": [{"Value": "ecr-drift-enforcer/", "Comparison": "PREFIX"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        "ComplianceStatus": [{"Value": "FAILED", "Comparison": "EQUALS"}],
        "WorkflowStatus": [
            {"Value": "NEW", "Comparison": "EQUALS"},
            {"Value": "NOTIFIED", "Comparison": "EQUALS"},
        ],
    }
    for query in queries:
        product_fields = query["Filters"]["ProductFields"]
        assert 1 <= len(product_fields) <= securityhub.FILTER_VALUES
        assert {(f["Key"], f["Comparison"]) for f in product_fields} == {(RESOURCE, "EQUALS")}
        assert {k: v for k, v in query["Filters"].items() if k != "ProductFields"} == expected_filters
        assert query["MaxResults"] == 100
    firsts = [q for q in queries if "NextToken" not in q]
    named = [f["Value"] for q in firsts for f in q["Filters"]["ProductFields"]]
    assert sorted(named) == sorted([*REPOSITORIES, REGISTRY])  # all covered, each in one query
    assert len(firsts) == math.ceil(301 / 20) == 16
    # Two queries have a second page: the registry with repo-000..018 (115 findings), repo-019..038 (120).
    assert len(queries) == 16 + 2

    # What was fixed is compliant and resolved; what still drifts stays open.
    after = stored()
    fixed_ids = {f["Id"] for f in after.values() if f["ProductFields"][RESOURCE] in [*FIXED, REGISTRY]}
    assert errors == []
    assert len(fixed_ids) == len(FIXED) + 40 * 5 + 1 == 351
    assert set(hub.resolved.resolved) == fixed_ids
    assert len(hub.resolved.resolved) == len(fixed_ids)  # each once: no query returned it twice
    for finding_id, finding in after.items():
        fixed = finding_id in fixed_ids
        assert finding["Compliance"]["Status"] == ("PASSED" if fixed else "FAILED")
        assert finding["Workflow"]["Status"] == ("RESOLVED" if fixed else "NEW")
    assert sum(f["Compliance"]["Status"] == "FAILED" for f in after.values()) == 150

    # BatchImportFindings and BatchUpdateFindings 100 findings a call.
    assert first_calls == {"GetFindings": 16, "BatchImportFindings": 6}  # 501 findings, none passed
    assert hub.calls.operations == {"GetFindings": 18, "BatchImportFindings": 6, "BatchUpdateFindings": 4}
    batches = [c.params.get("Findings") or c.params["FindingIdentifiers"] for c in hub.calls.writes]
    assert max(len(batch) for batch in batches) == 100

    # Paced to GetFindings' quota: starts a third of a second apart, so never more than 3 in a second.
    gaps = [later - earlier for earlier, later in zip(hub.started, hub.started[1:], strict=False)]
    assert gaps == [pytest.approx(securityhub.GET_FINDINGS_INTERVAL_S)] * 17
    assert hub.time.slept == [pytest.approx(1 / 3 - LATENCY_S)] * 17  # only what the call itself did not take
