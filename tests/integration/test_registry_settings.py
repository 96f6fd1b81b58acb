"""Replication, the registry policy and repository creation templates, end to end through the real Lambda
handler on moto (templates through the project's ECR double): built by a manual enforce, drifted, then put
back by a sweep and by the CloudTrail event of the change; each with the bytes Pulumi sends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ecr_drift.desired import DesiredState, load_desired_state
from ecr_drift.documents.registry_policy import render_registry_policy
from ecr_drift.documents.replication import replication_configuration
from ecr_drift.drift import desired_registry, registry_changes
from ecr_drift.settings import registry_policy, replication
from ecr_drift.settings.creation_templates import creation_templates
from ecr_drift.state import DesiredRegistry, ObservedRegistry
from tests.aws_calls import AwsCalls
from tests.conftest import ACCOUNT_ID, EXAMPLE_PATH, REGION
from tests.lambda_harness import invoke, lambda_environment, load_event

PARTNER = "111122223333"
STATEMENT = {
    "Sid": "ReplicationFromPartner",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/*",
}
REPLICATION = [
    {"destinations": [{"region": "eu-central-1"}], "repository_prefixes": ["utila-cosigner"]},
    {"destinations": [{"region": "us-east-1", "account_id": PARTNER}]},
]


@pytest.fixture
def desired(tmp_path: Path) -> Path:
    document = json.loads(EXAMPLE_PATH.read_text())
    document["registry"]["replication"] = REPLICATION
    document["registry"]["policy_statements"] = [STATEMENT]
    # A second cache rule and a second template: an event about one item must leave the other alone.
    document["registry"]["pull_through_cache"]["quay"] = {"upstream_registry_url": "public.ecr.aws"}
    document["repository_patterns"]["team/*"] = {}
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def state(desired: Path) -> DesiredState:
    return load_desired_state(desired)


@pytest.fixture
def built(
    aws: None, desired: Path, monkeypatch: pytest.MonkeyPatch, ecr_calls: AwsCalls, capsys: Any
) -> None:
    lambda_environment(monkeypatch, desired)
    response = invoke({"action": "enforce"})
    assert response["status"] == "ok", response
    assert response["summary"]["failed"] == 0, response["findings"]
    assert invoke({"action": "audit"})["findings"] == []
    ecr_calls.clear()


def ecr() -> Any:
    return boto3.client("ecr", region_name=REGION)


def registry_findings(response: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [
        (f["setting"], f["key"], f["action"]) for f in response["findings"] if f["resource"] == "registry"
    ]


def test_built_with_the_compiler_s_bytes(built: None, state: DesiredState) -> None:
    stored = ecr().get_registry_policy()["policyText"]
    assert state.registry.policy_statements is not None
    assert stored == render_registry_policy(registry_policy.SPEC.desired(state) or {})
    assert state.registry.replication is not None
    configuration = ecr().describe_registry()["replicationConfiguration"]
    assert configuration == replication_configuration(state.registry.replication, ACCOUNT_ID)
    templates = ecr().describe_repository_creation_templates()["repositoryCreationTemplates"]
    assert [t["prefix"] for t in templates] == list(creation_templates(state))


def test_replication_turned_off_is_put_back_on_its_event(built: None, ecr_calls: AwsCalls) -> None:
    ecr().put_replication_configuration(replicationConfiguration={"rules": []})

    response = invoke(load_event("put_replication_configuration.json"))

    assert response["trigger"] == "cloudtrail:PutReplicationConfiguration"
    assert registry_findings(response) == [("replication", None, "remediated")]
    assert [c.operation for c in ecr_calls.writes] == ["PutReplicationConfiguration"]
    assert len(ecr().describe_registry()["replicationConfiguration"]["rules"]) == 2
    assert invoke({"action": "audit"})["findings"] == []


def test_registry_policy_deleted_is_put_back_on_its_event(built: None, ecr_calls: AwsCalls) -> None:
    ecr().delete_registry_policy()

    response = invoke(load_event("delete_registry_policy.json"))

    assert registry_findings(response) == [("registry_policy", None, "remediated")]
    assert [c.operation for c in ecr_calls.writes] == ["PutRegistryPolicy"]
    assert json.loads(ecr().get_registry_policy()["policyText"])["Statement"][0]["Sid"] == STATEMENT["Sid"]


def test_a_widened_registry_policy_is_narrowed_by_the_sweep(built: None) -> None:
    wide = {**STATEMENT, "Sid": "Anyone", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}}
    policy = json.loads(ecr().get_registry_policy()["policyText"])
    ecr().put_registry_policy(policyText=json.dumps({**policy, "Statement": [*policy["Statement"], wide]}))

    response = invoke(load_event("scheduled_event.json"))

    assert registry_findings(response) == [("registry_policy", None, "remediated")]
    sids = [s["Sid"] for s in json.loads(ecr().get_registry_policy()["policyText"])["Statement"]]
    assert sids == [STATEMENT["Sid"]]


def test_a_deleted_creation_template_is_recreated_and_a_foreign_one_reported(
    built: None, ecr_calls: AwsCalls
) -> None:
    ecr().delete_repository_creation_template(prefix="ecr-public")
    ecr().create_repository_creation_template(prefix="team-x", appliedFor=["CREATE_ON_PUSH"])

    response = invoke(load_event("delete_repository_creation_template.json"))

    # The event names ecr-public: the foreign template is the sweep's to report.
    assert registry_findings(response) == [("creation_template", "ecr-public", "remediated")]
    assert [c.operation for c in ecr_calls.writes] == ["CreateRepositoryCreationTemplate"]
    swept = invoke(load_event("scheduled_event.json"))
    assert registry_findings(swept) == [("creation_template", "team-x", "reported")]
    prefixes = {
        t["prefix"] for t in ecr().describe_repository_creation_templates()["repositoryCreationTemplates"]
    }
    assert prefixes == {"ecr-public", "team", "team-x"}  # reported, never deleted


def test_a_changed_creation_template_is_updated_back(built: None, ecr_calls: AwsCalls) -> None:
    ecr().update_repository_creation_template(
        prefix="ecr-public", lifecyclePolicy="", imageTagMutability="IMMUTABLE", resourceTags=[]
    )

    response = invoke(load_event("scheduled_event.json"))

    assert registry_findings(response) == [("creation_template", "ecr-public", "remediated")]
    assert [c.operation for c in ecr_calls.writes] == ["UpdateRepositoryCreationTemplate"]
    assert invoke({"action": "audit"})["findings"] == []


# ---- an event checks what it names; a sweep checks everything -------------------------------------------


def drift_every_registry_setting() -> None:
    ecr().delete_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")
    ecr().delete_repository_creation_template(prefix="ecr-public")
    ecr().put_replication_configuration(replicationConfiguration={"rules": []})
    ecr().delete_registry_policy()
    ecr().put_registry_scanning_configuration(scanType="BASIC", rules=[])


EVERY_DRIFT = [
    ("creation_template", "ecr-public", "remediated"),
    ("pull_through_cache_rule", "ecr-public", "remediated"),
    ("registry_policy", None, "remediated"),
    ("registry_scanning", None, "remediated"),
    ("replication", None, "remediated"),
]


@pytest.mark.parametrize(
    ("event", "finding", "read"),
    [
        (
            "delete_pull_through_cache_rule.json",
            ("pull_through_cache_rule", "ecr-public", "remediated"),
            "DescribePullThroughCacheRules",
        ),
        (
            "delete_repository_creation_template.json",
            ("creation_template", "ecr-public", "remediated"),
            "DescribeRepositoryCreationTemplates",
        ),
        ("put_replication_configuration.json", ("replication", None, "remediated"), "DescribeRegistry"),
        ("delete_registry_policy.json", ("registry_policy", None, "remediated"), "GetRegistryPolicy"),
        (
            "put_registry_scanning_configuration.json",
            ("registry_scanning", None, "remediated"),
            "GetRegistryScanningConfiguration",
        ),
    ],
)
def test_a_registry_event_reads_and_reports_only_its_setting(
    built: None, ecr_calls: AwsCalls, event: str, finding: tuple[str, str | None, str], read: str
) -> None:
    drift_every_registry_setting()

    response = invoke(load_event(event))

    assert registry_findings(response) == [finding]
    assert [c.operation for c in ecr_calls.calls if not c.is_write] == [read]
    assert len(ecr_calls.writes) == 1
    # The other settings' drift is still there, for the sweep to find.
    swept = invoke(load_event("scheduled_event.json"))
    assert registry_findings(swept) == [f for f in EVERY_DRIFT if f != finding]


def test_an_item_event_leaves_the_setting_s_other_items_to_the_sweep(
    built: None, ecr_calls: AwsCalls
) -> None:
    for prefix in ("ecr-public", "quay"):
        ecr().delete_pull_through_cache_rule(ecrRepositoryPrefix=prefix)
    for prefix in ("ecr-public", "team"):
        ecr().delete_repository_creation_template(prefix=prefix)

    rule = invoke(load_event("delete_pull_through_cache_rule.json"))
    template = invoke(load_event("delete_repository_creation_template.json"))

    assert registry_findings(rule) == [("pull_through_cache_rule", "ecr-public", "remediated")]
    assert registry_findings(template) == [("creation_template", "ecr-public", "remediated")]
    assert [
        (c.operation, c.params.get("ecrRepositoryPrefix", c.params.get("prefix"))) for c in ecr_calls.writes
    ] == [
        ("CreatePullThroughCacheRule", "ecr-public"),
        ("CreateRepositoryCreationTemplate", "ecr-public"),
    ]
    swept = invoke(load_event("scheduled_event.json"))
    assert registry_findings(swept) == [
        ("creation_template", "team", "remediated"),
        ("pull_through_cache_rule", "quay", "remediated"),
    ]


# ---- what counts as subtractive (what a blast-radius guard counts) -------------------------------------


NO_REPLICATION = {"registryId": ACCOUNT_ID, "replicationConfiguration": {"rules": []}}


def observed(replication_read: Any = NO_REPLICATION, policy_read: Any = None) -> ObservedRegistry:
    return ObservedRegistry(REGION, {replication.READ: replication_read, registry_policy.READ: policy_read})


def changes_of(state: DesiredState, account: ObservedRegistry) -> dict[str, list[bool]]:
    """Each of the two settings' calls, as subtractive or not."""
    values = {
        k: v for k, v in desired_registry(state).values.items() if k in {"replication", "registry_policy"}
    }
    changes = registry_changes(DesiredRegistry(values), account)
    return {c.finding.setting: [call.subtractive for call in c.calls] for c in changes}


def test_adding_is_additive_and_removing_is_subtractive(state: DesiredState) -> None:
    # Nothing there yet: both are only added.
    assert changes_of(state, observed()) == {"replication": [False], "registry_policy": [False]}

    # More than desired is there: putting the desired back removes a rule and a statement.
    extra_rule = {"destinations": [{"region": "ap-south-1", "registryId": ACCOUNT_ID}]}
    rules = [*replication_configuration(state.registry.replication or [], ACCOUNT_ID)["rules"], extra_rule]
    extra = {**STATEMENT, "Sid": "Extra", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [STATEMENT, extra]})
    account = observed(
        {"registryId": ACCOUNT_ID, "replicationConfiguration": {"rules": rules}}, {"policyText": policy}
    )
    assert changes_of(state, account) == {"replication": [True], "registry_policy": [True]}

    # `[]` for both: the configuration is emptied and the policy deleted, both subtractive.
    empty = state.model_copy(
        update={"registry": state.registry.model_copy(update={"replication": [], "policy_statements": []})}
    )
    assert changes_of(empty, account) == {"replication": [True], "registry_policy": [True]}


def test_a_destination_that_is_this_registry_is_reported_not_written() -> None:
    rules = [{"destinations": [{"region": REGION}]}]
    itself = DesiredState.model_validate({"version": 1, "registry": {"replication": rules}})
    [change] = registry_changes(desired_registry(itself), observed())
    assert (change.finding.action, change.calls) == ("reported", ())
    assert "this registry" in change.finding.message


def test_a_replication_rule_into_this_registry_fails_validation_at_start_up(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ecr_calls: AwsCalls
) -> None:
    document = json.loads(EXAMPLE_PATH.read_text())
    document["registry"]["replication"] = [{"destinations": [{"region": "us-east-1"}, {"region": REGION}]}]
    path = tmp_path / "desired_state.json"
    path.write_text(json.dumps(document))
    lambda_environment(monkeypatch, path, AWS_REGION=REGION)  # the runtime sets it; the account is the role's

    response = invoke({"action": "enforce"})

    assert response["status"] == "error"
    assert any(p.startswith("registry.replication[0].destinations[1].region") for p in response["problems"])
    assert ecr_calls.calls == []
