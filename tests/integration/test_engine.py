"""The engine on moto + the ECR double: every setting drifts, is seen by audit without a write, is fixed by
enforce, and a second enforce writes nothing. Plus failure isolation, time budget, calls and permissions."""

from __future__ import annotations

import ast
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecr_drift import engine
from ecr_drift.aws import errors, observe
from ecr_drift.aws.clients import AwsClients
from ecr_drift.aws.remediate import apply
from ecr_drift.cli.ecr_double import set_aws_document_rewriting
from ecr_drift.desired import DesiredState
from ecr_drift.documents.lifecycle import compile_lifecycle_policy, render_lifecycle_policy
from ecr_drift.findings import REGISTRY, Action, Finding, Origin
from ecr_drift.role import required_iam_actions
from ecr_drift.settings import registry_settings, repository_settings
from ecr_drift.targets import WHOLE_REGISTRY, Mode, Target
from tests.aws_calls import AwsCalls
from tests.integration.conftest import FaultInjector, Runner
from tests.lambda_harness import emitted_metrics, invoke

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
KEEP_THREE = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3}
OTHER_POLICY = {"rules": [{"rulePriority": 1, "selection": KEEP_THREE, "action": {"type": "expire"}}]}


def arn(name: str) -> str:
    return f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/{name}"


def state_of(**fields: Any) -> DesiredState:
    return DesiredState.model_validate({"version": 1, **fields})


def drift_of(findings: list[Finding]) -> list[tuple[str, str, str | None]]:
    return [(f.resource, str(f.setting), f.key) for f in findings if f.action is Action.DRIFT]


def policy_with_intruder(ecr: Any) -> None:
    document = json.loads(ecr.get_repository_policy(repositoryName="admin-dashboard")["policyText"])
    document["Statement"].append({"Sid": "Intruder", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"})
    ecr.set_repository_policy(repositoryName="admin-dashboard", policyText=json.dumps(document))


def replace_cache_rule_upstream(ecr: Any) -> None:
    ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public", upstreamRegistryUrl="quay.io")


# (injected drift, the finding it must give, the writes enforce must make)
CASES: dict[str, tuple[Callable[[Any], Any], tuple[str, str, str | None], list[str]]] = {
    "scan-on-push": (
        lambda ecr: ecr.put_image_scanning_configuration(
            repositoryName="temporal-worker", imageScanningConfiguration={"scanOnPush": False}
        ),
        ("temporal-worker", "scan_on_push", None),
        ["PutImageScanningConfiguration"],
    ),
    "tag-mutability": (
        lambda ecr: ecr.put_image_tag_mutability(
            repositoryName="temporal-worker", imageTagMutability="MUTABLE"
        ),
        ("temporal-worker", "image_tag_mutability", None),
        ["PutImageTagMutability"],
    ),
    "tag-mutability-exclusions": (
        lambda ecr: ecr.put_image_tag_mutability(
            repositoryName="utila-cosigner",
            imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[
                {"filter": "latest", "filterType": "WILDCARD"},
                {"filter": "dev-*", "filterType": "WILDCARD"},
            ],
        ),
        ("utila-cosigner", "image_tag_mutability", None),
        ["PutImageTagMutability"],
    ),
    "lifecycle-changed": (
        lambda ecr: ecr.put_lifecycle_policy(
            repositoryName="temporal-worker", lifecyclePolicyText=json.dumps(OTHER_POLICY)
        ),
        ("temporal-worker", "lifecycle_policy", None),
        ["PutLifecyclePolicy"],
    ),
    "lifecycle-deleted": (
        lambda ecr: ecr.delete_lifecycle_policy(repositoryName="ecr-public/nginx"),
        ("ecr-public/nginx", "lifecycle_policy", None),
        ["PutLifecyclePolicy"],
    ),
    "policy-statement-added": (
        policy_with_intruder,
        ("admin-dashboard", "repository_policy", None),
        ["SetRepositoryPolicy"],
    ),
    "policy-deleted": (
        lambda ecr: ecr.delete_repository_policy(repositoryName="admin-dashboard"),
        ("admin-dashboard", "repository_policy", None),
        ["SetRepositoryPolicy"],
    ),
    "tag-removed": (
        lambda ecr: ecr.untag_resource(resourceArn=arn("utila-cosigner"), tagKeys=["team"]),
        ("utila-cosigner", "tags", None),
        ["TagResource"],
    ),
    "tag-changed": (
        lambda ecr: ecr.tag_resource(
            resourceArn=arn("internal-dashboard"), tags=[{"Key": "team", "Value": "x"}]
        ),
        ("internal-dashboard", "tags", None),
        ["TagResource"],
    ),
    "repository-deleted": (
        lambda ecr: ecr.delete_repository(repositoryName="admin-dashboard", force=True),
        ("admin-dashboard", "repository", None),
        ["CreateRepository", "PutLifecyclePolicy", "SetRepositoryPolicy"],
    ),
    "registry-scanning": (
        lambda ecr: ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[]),
        (REGISTRY, "registry_scanning", None),
        ["PutRegistryScanningConfiguration"],
    ),
    "cache-rule-deleted": (
        lambda ecr: ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public"),
        (REGISTRY, "pull_through_cache_rule", "ecr-public"),
        ["CreatePullThroughCacheRule"],
    ),
    "cache-rule-upstream": (
        replace_cache_rule_upstream,
        (REGISTRY, "pull_through_cache_rule", "ecr-public"),
        ["DeletePullThroughCacheRule", "CreatePullThroughCacheRule"],
    ),
}


@pytest.fixture
def in_line(baseline: Any, ecr: Any, run: Runner, calls: AwsCalls) -> None:
    """The example state applied, plus a pull-through cache repository brought into line."""
    ecr.create_repository(repositoryName="ecr-public/nginx")
    assert run(Mode.ENFORCE).summary["failed"] == 0
    calls.clear()


def test_each_setting_drift_is_seen_fixed_and_stays_fixed(
    in_line: None, ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    # One account for all cases (each leaves it in line again): a baseline per case would cost seconds.
    for case, (inject, finding, writes) in CASES.items():
        inject(ecr)
        calls.clear()
        audit = run(Mode.AUDIT)
        assert drift_of(audit.findings) == [(finding[0], str(finding[1]), finding[2])], case
        assert calls.writes == [], case
        assert audit.writes == 0, case

        calls.clear()
        enforce = run(Mode.ENFORCE)
        outcome = [(f.resource, f.setting, f.action) for f in enforce.findings]
        assert outcome == [(finding[0], finding[1], Action.REMEDIATED)], case
        assert [c.operation for c in calls.writes] == writes, case
        assert enforce.writes == len(writes), case

        calls.clear()
        again = run(Mode.ENFORCE)
        assert again.findings == [], case
        assert calls.writes == [], case
        assert again.writes == 0, case


def test_first_enforce_builds_the_example_account_and_second_is_silent(
    run: Runner, calls: AwsCalls, example_state: DesiredState, ecr: Any
) -> None:
    audit = run(Mode.AUDIT)
    assert sorted(drift_of(audit.findings)) == sorted(
        [(name, "repository", None) for name in example_state.repositories]
        + [
            (REGISTRY, "registry_scanning", None),
            (REGISTRY, "pull_through_cache_rule", "ecr-public"),
            (REGISTRY, "creation_template", "ecr-public"),
            (REGISTRY, "replication", None),
        ]
    )
    assert calls.writes == []

    first = run(Mode.ENFORCE)
    assert first.summary["remediated"] == len(audit.findings)
    assert first.writes > 0
    calls.clear()
    second = run(Mode.ENFORCE)
    assert second.findings == []
    assert calls.writes == []

    # The bytes stored are the shared compiler's, so Pulumi and the enforcer never disagree.
    set_aws_document_rewriting(False)
    stored = ecr.get_lifecycle_policy(repositoryName="utila-cosigner")["lifecyclePolicyText"]
    assert example_state.defaults.lifecycle is not None
    assert stored == render_lifecycle_policy(compile_lifecycle_policy(example_state.defaults.lifecycle))
    admin = ecr.describe_repositories(repositoryNames=["internal-dashboard"])["repositories"][0]
    assert admin["imageTagMutability"] == "MUTABLE"


def test_pattern_repository_is_brought_into_line(
    baseline: Any, ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    ecr.create_repository(repositoryName="ecr-public/library/nginx")  # as a first pull through the cache does

    audit = run(Mode.AUDIT)
    assert sorted(drift_of(audit.findings)) == [
        ("ecr-public/library/nginx", "lifecycle_policy", None),
        ("ecr-public/library/nginx", "scan_on_push", None),
        ("ecr-public/library/nginx", "tags", None),
    ]
    run(Mode.ENFORCE)
    calls.clear()
    assert run(Mode.ENFORCE).findings == []
    assert calls.writes == []
    lifecycle = json.loads(
        ecr.get_lifecycle_policy(repositoryName="ecr-public/library/nginx")["lifecyclePolicyText"]
    )
    assert lifecycle["rules"][0]["selection"]["countNumber"] == 30


def test_encryption_is_reported_never_remediated(ecr: Any, run: Runner, calls: AwsCalls) -> None:
    ecr.create_repository(repositoryName="temporal-worker", encryptionConfiguration={"encryptionType": "KMS"})

    first = run(Mode.ENFORCE)
    assert ("encryption", Action.REPORTED) in [(f.setting, f.action) for f in first.findings]
    calls.clear()
    [finding] = run(Mode.ENFORCE).findings

    assert (finding.resource, finding.setting, finding.action) == (
        "temporal-worker",
        "encryption",
        Action.REPORTED,
    )
    assert finding.expected == {"type": "AES256"}
    assert finding.actual["type"] == "KMS"
    assert calls.writes == []


def test_unmanaged_repository_is_reported_and_left_alone(
    baseline: Any, ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    ecr.create_repository(repositoryName="stray")

    report = run(Mode.ENFORCE)

    assert [(f.resource, f.setting, f.action) for f in report.findings] == [
        ("stray", "unmanaged_repository", Action.REPORTED)
    ]
    assert calls.writes == []
    assert not any(c.params.get("repositoryName") == "stray" for c in calls.calls)  # not even read
    ignore = state_of(enforcement={"unmanaged_repositories": "ignore"})
    assert run(Mode.AUDIT, state=ignore).findings == []


def test_policy_keeps_kept_sids_and_renders_with_the_shared_compiler(
    baseline: Any, ecr: Any, run: Runner
) -> None:
    lambda_statement = {
        "Sid": "LambdaECRImageRetrievalPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
    document = json.loads(ecr.get_repository_policy(repositoryName="admin-dashboard")["policyText"])
    document["Statement"] += [
        lambda_statement,
        {"Sid": "Intruder", "Effect": "Allow", "Principal": "*", "Action": "*"},
    ]
    ecr.set_repository_policy(repositoryName="admin-dashboard", policyText=json.dumps(document))

    [finding] = run(Mode.ENFORCE).findings

    assert finding.action is Action.REMEDIATED
    stored = json.loads(ecr.get_repository_policy(repositoryName="admin-dashboard")["policyText"])
    assert [s["Sid"] for s in stored["Statement"]] == ["CrossAccountPull", "LambdaECRImageRetrievalPolicy"]


def test_unmanaged_tags_removed_only_when_configured(ecr: Any, run: Runner, calls: AwsCalls) -> None:
    ecr.create_repository(
        repositoryName="api", tags=[{"Key": "team", "Value": "a"}, {"Key": "owner", "Value": "b"}]
    )
    keep = state_of(repositories={"api": {"tags": {"team": "a"}}})
    assert run(Mode.ENFORCE, state=keep).findings == []

    remove = state_of(
        enforcement={"remove_unmanaged_tags": True}, repositories={"api": {"tags": {"team": "a"}}}
    )
    calls.clear()
    [finding] = run(Mode.ENFORCE, state=remove).findings
    assert finding.action is Action.REMEDIATED
    assert [(c.operation, c.params["tagKeys"]) for c in calls.writes] == [("UntagResource", ["owner"])]
    assert ecr.list_tags_for_resource(resourceArn=arn("api"))["tags"] == [{"Key": "team", "Value": "a"}]


def test_cache_rule_credential_change_is_an_update(ecr: Any, run: Runner, calls: AwsCalls) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/"
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io", customRoleArn=role + "old"
    )
    rule = {"upstream_registry_url": "quay.io", "custom_role_arn": role + "new"}
    state = state_of(registry={"pull_through_cache": {"quay": rule}})

    [finding] = run(Mode.ENFORCE, state=state, target=Target("test", (), registry=WHOLE_REGISTRY)).findings

    assert (finding.key, finding.action) == ("quay", Action.REMEDIATED)
    assert [c.operation for c in calls.writes] == ["UpdatePullThroughCacheRule"]
    [stored] = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert stored["customRoleArn"] == role + "new"


def test_unlisted_cache_rule_is_reported_not_deleted(
    baseline: Any, ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")

    [finding] = run(Mode.ENFORCE).findings

    assert (finding.key, finding.action, finding.expected) == ("quay", Action.REPORTED, None)
    assert calls.writes == []


def test_missing_repository_only_reported_when_recreation_is_off(
    ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    state = state_of(enforcement={"recreate_missing_repositories": False}, repositories={"api": {}})

    [finding] = run(Mode.ENFORCE, state=state).findings

    assert (finding.setting, finding.action) == ("repository", Action.REPORTED)
    assert calls.writes == []


# --- failure isolation ------------------------------------------------------------------------------


def test_access_denied_on_one_repository_fails_it_and_fixes_the_others(
    baseline: Any, ecr: Any, run: Runner, fail: FaultInjector
) -> None:
    for name in ("temporal-worker", "utila-cosigner"):
        ecr.delete_lifecycle_policy(repositoryName=name)
    fail("PutLifecyclePolicy", "AccessDeniedException", repository="temporal-worker")

    report = run(Mode.ENFORCE)

    outcome = {f.resource: f for f in report.findings}
    assert outcome["utila-cosigner"].action is Action.REMEDIATED
    failed = outcome["temporal-worker"]
    assert (failed.setting, failed.action) == ("lifecycle_policy", Action.FAILED)
    assert failed.error is not None
    assert "ecr:PutLifecyclePolicy" in failed.error


def test_throttled_read_is_a_failed_finding_and_other_settings_still_fixed(
    baseline: Any, ecr: Any, run: Runner, fail: FaultInjector
) -> None:
    for name in ("temporal-worker", "utila-cosigner"):
        ecr.put_image_scanning_configuration(
            repositoryName=name, imageScanningConfiguration={"scanOnPush": False}
        )
    fail("GetLifecyclePolicy", "ThrottlingException", repository="temporal-worker")

    report = run(Mode.ENFORCE)

    assert sorted((f.resource, str(f.setting), str(f.action)) for f in report.findings) == [
        ("temporal-worker", "lifecycle_policy", "failed"),
        ("temporal-worker", "scan_on_push", "remediated"),
        ("utila-cosigner", "scan_on_push", "remediated"),
    ]
    [failed] = [f for f in report.findings if f.action is Action.FAILED]
    assert failed.error is not None
    assert failed.error.startswith("ThrottlingException")


def test_unexpected_error_in_one_repository_is_isolated(
    baseline: Any, clients: Any, ecr: Any, run: Runner
) -> None:
    def explode(params: dict[str, Any], **_: Any) -> None:
        if "temporal-worker" in json.loads(params["body"])["resourceArn"]:
            raise RuntimeError("bug")

    clients.ecr.meta.events.register("before-call.ecr.ListTagsForResource", explode)
    ecr.untag_resource(resourceArn=arn("utila-cosigner"), tagKeys=["team"])

    report = run(Mode.ENFORCE)

    outcome = {f.resource: f for f in report.findings}
    assert (outcome["temporal-worker"].setting, outcome["temporal-worker"].action) == (
        "repository",
        Action.FAILED,
    )
    assert outcome["utila-cosigner"].action is Action.REMEDIATED
    assert sorted(report.repositories_checked) == sorted(baseline.repositories_checked)


def test_listing_denied_is_a_failed_finding_not_a_crash(run: Runner, fail: FaultInjector) -> None:
    fail("DescribeRepositories", "AccessDeniedException")

    report = run(Mode.AUDIT)

    [listing] = [f for f in report.findings if f.action is Action.FAILED]
    assert listing.error is not None
    assert "ecr:DescribeRepositories" in listing.error


# --- audit mode, time budget, progress, targets -----------------------------------------------------


def test_audit_in_the_desired_state_wins_over_enforce(
    run: Runner, calls: AwsCalls, example_state: DesiredState
) -> None:
    audit_only = example_state.model_copy(
        update={"enforcement": example_state.enforcement.model_copy(update={"mode": "audit"})}
    )

    report = run(Mode.ENFORCE, state=audit_only)

    assert report.mode == "audit"
    assert report.summary["drift"] == 8  # 4 repositories, scanning, a cache rule, a template, replication
    assert calls.writes == []
    assert report.writes == 0


def test_audit_refuses_a_write_even_if_code_attempted_one(
    baseline: Any, ecr: Any, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: were a bug to remediate in audit mode, the client itself refuses the write."""
    ecr.put_image_scanning_configuration(
        repositoryName="temporal-worker", imageScanningConfiguration={"scanOnPush": False}
    )
    monkeypatch.setattr(
        engine._RunContext, "remediate", lambda self, change: apply(self.ecr, change, self.guards)
    )
    monkeypatch.setattr(engine._RunContext, "fixes", lambda self, plan: any(c.calls for c in plan))

    [finding] = run(Mode.AUDIT).findings

    assert (finding.resource, finding.action) == ("temporal-worker", Action.FAILED)
    assert finding.error is not None
    assert finding.error.startswith("AuditWriteRefused")
    [repository] = ecr.describe_repositories(repositoryNames=["temporal-worker"])["repositories"]
    assert repository["imageScanningConfiguration"]["scanOnPush"] is False


def test_time_budget_stops_starting_repositories(
    baseline: Any, run: Runner, clients: AwsClients, calls: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients.concurrency = 1  # one at a time: the budget runs out midway
    planned: list[str] = []
    plan = engine._RunContext.plan_repository

    def plan_and_count(self: Any, name: str, description: Any) -> Any:
        changes = plan(self, name, description)
        planned.append(name)
        return changes

    monkeypatch.setattr(engine._RunContext, "plan_repository", plan_and_count)
    # Time to spare until two repositories are read; then the run is a second from its end.
    report = run(Mode.AUDIT, time_left_ms=lambda: 120_000 if len(planned) < 2 else 1_000)

    assert len(report.repositories_checked) == 2
    assert len(report.not_checked) == 2
    assert not set(report.repositories_checked) & set(report.not_checked)
    read_names = {c.params.get("repositoryName") for c in calls.calls}
    assert not read_names & set(report.not_checked)


def test_a_run_with_no_time_left_starts_nothing(baseline: Any, run: Runner, calls: AwsCalls) -> None:
    report = run(Mode.AUDIT, target=Target("manual", ("a", "b")), time_left_ms=lambda: 1_000)

    assert (report.not_checked, report.findings, calls.calls) == (["a", "b"], [], [])


def test_progress_after_each_repository(baseline: Any, run: Runner) -> None:
    seen: list[tuple[int, int]] = []

    run(Mode.AUDIT, progress=lambda done, total: seen.append((done, total)))

    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_named_target_carries_its_origin(baseline: Any, ecr: Any, run: Runner) -> None:
    ecr.put_image_tag_mutability(repositoryName="temporal-worker", imageTagMutability="MUTABLE")
    origin = Origin(principal_arn=f"arn:aws:iam::{ACCOUNT}:user/mallory", event_name="PutImageTagMutability")

    report = run(Mode.ENFORCE, target=Target("event", ("temporal-worker",), origin=origin))

    [finding] = report.findings
    assert finding.origin == origin
    assert finding.action is Action.REMEDIATED
    assert report.repositories_checked == ["temporal-worker"]


def test_named_missing_repository_is_retried_briefly_then_recreated(
    baseline: Any, ecr: Any, run: Runner, calls: AwsCalls, sleeps: list[float]
) -> None:
    ecr.delete_repository(repositoryName="temporal-worker", force=True)

    report = run(Mode.ENFORCE, target=Target("event", ("temporal-worker", "not-managed")))

    assert [(f.resource, f.setting, f.action) for f in report.findings] == [
        ("temporal-worker", "repository", Action.REMEDIATED)
    ]
    assert sum(sleeps) < 2.0
    assert len(sleeps) == 2
    # One call for both names, then name by name, then two retries of each missing name.
    assert calls.operations["DescribeRepositories"] == 1 + 2 + 2 * 2
    assert ecr.describe_repositories(repositoryNames=["temporal-worker"])["repositories"]


def test_a_named_repository_neither_there_nor_managed_is_refused_before_any_write(
    baseline: Any, ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    ecr.create_repository(repositoryName="temporal-workers")
    ecr.put_image_scanning_configuration(
        repositoryName="utila-cosigner", imageScanningConfiguration={"scanOnPush": False}
    )
    named = Target("cli", ("utila-cosigner", "temporal-wroker", "utila-cosigne"))

    with pytest.raises(engine.UnknownRepositories) as refused:
        run(Mode.ENFORCE, target=named, refuse_unknown=True)

    # Close names from the desired state and from the account, for each unknown one.
    assert refused.value.suggestions == {
        "temporal-wroker": ["temporal-worker", "temporal-workers"],
        "utila-cosigne": ["utila-cosigner"],
    }
    assert "did you mean temporal-worker or temporal-workers?" in refused.value.problems[0]
    assert calls.writes == []
    # An event naming a repository gone since (not a person's request) is checked as before: nothing to do.
    event = Target("cloudtrail:DeleteRepository", ("temporal-wroker",))
    assert run(Mode.ENFORCE, target=event).findings == []


def test_a_manual_invoke_naming_an_unknown_repository_answers_an_error(
    handler_env: None, ecr_calls: AwsCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    response = invoke({"action": "enforce", "repositories": ["temporal-wroker"]})

    assert response == {
        "status": "error",
        "error": "no repository named temporal-wroker: it does not exist and the desired state does not "
        "manage it; did you mean temporal-worker?",
        "unknown_repositories": {"temporal-wroker": ["temporal-worker"]},
    }
    assert ecr_calls.writes == []
    assert [v for v, _ in emitted_metrics(capsys.readouterr().out)["EventsIgnored"]] == [1.0]


def test_not_found_right_after_creation_is_retried(
    baseline: Any, clients: Any, run: Runner, sleeps: list[float]
) -> None:
    attempts = itertools.count()

    def lagging(params: dict[str, Any], **_: Any) -> None:
        if next(attempts) == 0:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "RepositoryNotFoundException"}}, "GetLifecyclePolicy")

    clients.ecr.meta.events.register("before-call.ecr.GetLifecyclePolicy", lagging)

    report = run(Mode.AUDIT, target=Target("event", ("temporal-worker",)))

    assert report.findings == []
    assert sleeps == [errors.NOT_FOUND_DELAYS[0]]


def test_lifecycle_guard_blocks_mass_expiry(ecr: Any, run: Runner, calls: AwsCalls) -> None:
    ecr.create_repository(repositoryName="busy")
    for index in range(4):
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "n": index})
        # A digest of its own: moto draws one from 101 values, and AWS never repeats one.
        digest = f"sha256:{index:064x}"
        ecr.put_image(repositoryName="busy", imageManifest=manifest, imageTag=f"t{index}", imageDigest=digest)
    lifecycle = [{"tag_status": "any", "max_images": 1}]
    guarded = state_of(repositories={"busy": {"lifecycle": lifecycle}})

    [finding] = run(Mode.ENFORCE, state=guarded).findings

    assert finding.action is Action.BLOCKED
    assert "3 of 4" in finding.message
    assert calls.writes == []
    lenient = state_of(
        enforcement={"lifecycle_guard": {"max_expire_fraction": 1.0}},
        repositories={"busy": {"lifecycle": lifecycle}},
    )
    assert [f.action for f in run(Mode.ENFORCE, state=lenient).findings] == [Action.REMEDIATED]


# --- calls: how many, which, and what the role must allow ---------------------------------------------


def test_steady_state_sweep_costs(in_line: None, run: Runner, calls: AwsCalls) -> None:
    report = run(Mode.AUDIT)

    assert report.findings == []
    # 5 repositories: one listing call for all, then only the reads their managed settings need.
    assert calls.operations == {
        "DescribeRepositories": 1,
        "GetRegistryScanningConfiguration": 1,
        "DescribePullThroughCacheRules": 1,
        "DescribeRepositoryCreationTemplates": 1,
        "DescribeRegistry": 1,
        "GetLifecyclePolicy": 5,
        "ListTagsForResource": 5,
        "GetRepositoryPolicy": 1,
    }
    [listing] = [c for c in calls.calls if c.operation == "DescribeRepositories"]
    assert listing.params["maxResults"] == 1000


def test_steady_state_named_repository_costs(in_line: None, run: Runner, calls: AwsCalls) -> None:
    run(Mode.AUDIT, target=Target("event", ("admin-dashboard",)))

    assert calls.operations == {
        "DescribeRepositories": 1,
        "GetLifecyclePolicy": 1,
        "ListTagsForResource": 1,
        "GetRepositoryPolicy": 1,
    }


def test_sweep_pages_through_repositories(
    baseline: Any, ecr: Any, run: Runner, calls: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(observe, "PAGE_SIZE", 2)
    ecr.create_repository(repositoryName="stray")

    report = run(Mode.AUDIT)

    assert calls.operations["DescribeRepositories"] == 3
    assert len(report.repositories_checked) == 5


def test_declared_actions_cover_every_call_and_are_exact(baseline: Any, calls: AwsCalls) -> None:
    actions = required_iam_actions()
    assert actions == sorted(set(actions))
    assert all(":" in a and "*" not in a for a in actions)
    settings = (*repository_settings(), *registry_settings())
    for setting in settings:
        assert set(setting.iam_actions) <= set(actions)
    # The baseline made creates, puts and reads; the `calls` fixture checks every test's calls the same way.
    assert {f"ecr:{op}" for op in calls.operations} <= set(actions)


def test_no_code_path_deletes_a_repository_or_an_image() -> None:
    """Static: nothing under handler/ or ecr_drift/ names an ECR repository- or image-deleting operation."""
    forbidden = {"delete_repository", "batch_delete_image", "DeleteRepository", "BatchDeleteImage"}
    # Event names watched for (events.py), and the demo's simulated human deleting a repository for the
    # enforcer to recreate: data, not calls of the enforcer.
    # The remediation's own list of what it refuses to call, whatever a setting asks for.
    allowed_strings = {
        "ecr_drift/events.py": {"DeleteRepository"},
        "ecr_drift/cli/demo.py": {"DeleteRepository"},
        "ecr_drift/aws/remediate.py": {"DeleteRepository", "BatchDeleteImage"},
    }
    offenders = []
    for path in [*(ROOT / "handler").rglob("*.py"), *(ROOT / "ecr_drift").rglob("*.py")]:
        relative = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in forbidden:
                offenders.append(f"{relative}:{node.lineno} .{node.attr}")
            if (
                isinstance(node, ast.Constant)
                and node.value in forbidden
                and node.value not in allowed_strings.get(relative, set())
            ):
                offenders.append(f"{relative}:{node.lineno} {node.value!r}")
    assert offenders == []
