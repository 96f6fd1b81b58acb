"""Issue 11's guards on moto, each reproducing what today's main did wrong first:

- a ``"*"`` pattern that empties every policy is held by the blast radius, and additive fixes still apply;
- a kept policy statement that AWS adds during a run survives the write, and one a concurrent write removes
  is put back;
- a pull-through cache rule deleted to be replaced, whose re-create fails, is reported as missing;
- a write whose answer is lost, a create answered "already exists" and a failed read-back are re-read:
  ``remediated`` when the change holds, ``failed`` otherwise (issue 19, item 8);
- a cache rule's delete-and-create starts only with the time for both left in the run (issue 19, item 9);
- writes that succeeded before an unexpected error are reported ``remediated``, the error on its own;
- a read throttled on every attempt near the end of a Lambda gives up in time, its findings already logged;
- without ``ENFORCER_ROLE_ARN``, the function's own role comes from STS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.retries import bucket, standard
from moto.core.botocore_stubber import MockRawResponse

from ecr_drift import engine
from ecr_drift.aws import deadline, remediate
from ecr_drift.aws.clients import AwsClients
from ecr_drift.blast_radius import OVERRIDE
from ecr_drift.cli.lambda_context import FakeLambdaContext
from ecr_drift.findings import REGISTRY, Action, Finding
from ecr_drift.settings import repository_policy
from ecr_drift.targets import WHOLE_REGISTRY, Mode, Target
from tests.aws_calls import AwsCalls
from tests.conftest import ACCOUNT_ID, REGION
from tests.integration.conftest import FaultInjector, Runner
from tests.integration.test_engine import state_of
from tests.lambda_harness import invoke, lambda_environment

LIMIT = 10  # enforcement.blast_radius.max_repositories' default
REGISTRY_ONLY = Target("test", (), registry=WHOLE_REGISTRY)
LAMBDA_SID = "LambdaECRImageRetrievalPolicy"  # kept by default (enforcement.keep_policy_sids)


def policy(*sids: str) -> str:
    statements = [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "ecr:BatchGetImage",
        }
        for sid in sids
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def lambda_statement() -> dict[str, Any]:
    return {
        "Sid": LAMBDA_SID,
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }


def repositories_with_policies(ecr: Any, count: int) -> list[str]:
    """``count`` repositories with a policy another team set, and scan on push off."""
    names = [f"team-{index:02}" for index in range(count)]
    for name in names:
        ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": False})
        ecr.set_repository_policy(repositoryName=name, policyText=policy("OtherTeamPull"))
    return names


# A desired state that is wrong in a broad way: every repository must have no policy (and scan on push).
WIPE = {"repository_patterns": {"*": {"policy_statements": [], "scan_on_push": True}}}


def has_policy(ecr: Any, name: str) -> bool:
    try:
        ecr.get_repository_policy(repositoryName=name)
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return False
    return True


def by_setting(findings: list[Finding], setting: str) -> list[Finding]:
    return [f for f in findings if f.setting == setting]


# ---- blast radius ----------------------------------------------------------------------------------------


def test_a_pattern_that_would_wipe_every_policy_is_held_and_additive_fixes_still_apply(
    ecr: Any, run: Runner
) -> None:
    names = repositories_with_policies(ecr, LIMIT + 2)

    report = run(Mode.ENFORCE, state=state_of(**WIPE))

    held = by_setting(report.findings, "repository_policy")
    assert [f.resource for f in held] == names
    assert {f.action for f in held} == {Action.BLOCKED}
    assert f"on {LIMIT + 2} repositories" in held[0].message
    assert f"max_repositories ({LIMIT})" in held[0].message
    assert OVERRIDE in held[0].message
    assert all(has_policy(ecr, name) for name in names)
    # Scan on push is additive: fixed everywhere all the same.
    assert {f.action for f in by_setting(report.findings, "scan_on_push")} == {Action.REMEDIATED}
    assert len(by_setting(report.findings, "scan_on_push")) == len(names)


def test_within_the_blast_radius_subtractive_fixes_apply(ecr: Any, run: Runner) -> None:
    names = repositories_with_policies(ecr, LIMIT)

    report = run(Mode.ENFORCE, state=state_of(**WIPE))

    assert {f.action for f in by_setting(report.findings, "repository_policy")} == {Action.REMEDIATED}
    assert not any(has_policy(ecr, name) for name in names)


def test_allow_mass_change_lifts_the_blast_radius_for_one_run(ecr: Any, run: Runner) -> None:
    names = repositories_with_policies(ecr, LIMIT + 2)

    report = run(Mode.ENFORCE, state=state_of(**WIPE), allow_mass_change=True)

    assert {f.action for f in by_setting(report.findings, "repository_policy")} == {Action.REMEDIATED}
    assert not any(has_policy(ecr, name) for name in names)


def test_registry_subtractive_changes_count_towards_the_blast_radius(ecr: Any, run: Runner) -> None:
    names = repositories_with_policies(ecr, LIMIT)
    ecr.put_registry_policy(
        policyText=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Replicate",
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                        "Action": "ecr:ReplicateImage",
                        "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/*",
                    }
                ],
            }
        )
    )
    state = state_of(registry={"policy_statements": []}, **WIPE)

    report = run(Mode.ENFORCE, state=state)

    [registry_policy] = [f for f in report.findings if f.resource == REGISTRY]
    assert registry_policy.action is Action.BLOCKED
    assert f"on {LIMIT + 1} repositories and registry settings" in registry_policy.message
    assert all(has_policy(ecr, name) for name in names)


def test_a_manual_invoke_lifts_the_blast_radius_with_allow_mass_change(
    ecr: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    names = repositories_with_policies(ecr, LIMIT + 1)
    desired = tmp_path / "desired_state.json"
    desired.write_text(json.dumps({"version": 1, **WIPE}))
    lambda_environment(monkeypatch, desired)
    enforce = {"action": "enforce", "repositories": names}

    held = invoke(enforce)
    assert {f["action"] for f in held["findings"] if f["setting"] == "repository_policy"} == {"blocked"}
    assert all(has_policy(ecr, name) for name in names)

    lifted = invoke({**enforce, "allow_mass_change": True})
    assert {f["action"] for f in lifted["findings"] if f["setting"] == "repository_policy"} == {"remediated"}
    assert not any(has_policy(ecr, name) for name in names)


# ---- kept statements and races ---------------------------------------------------------------------------


def test_a_kept_statement_added_during_the_run_survives_the_write(
    ecr: Any, run: Runner, clients: AwsClients
) -> None:
    ecr.create_repository(repositoryName="api")
    ecr.set_repository_policy(repositoryName="api", policyText=policy("Intruder"))
    state = state_of(repositories={"api": {"pull_account_ids": ["210987654321"]}})
    reads: list[int] = []

    def lambda_adds_its_statement(**_: Any) -> None:
        # Between the run's first read and its write, Lambda adds its image retrieval statement.
        reads.append(1)
        if len(reads) == 2:
            document = json.loads(ecr.get_repository_policy(repositoryName="api")["policyText"])
            document["Statement"].append(lambda_statement())
            ecr.set_repository_policy(repositoryName="api", policyText=json.dumps(document))

    clients.ecr.meta.events.register("before-call.ecr.GetRepositoryPolicy", lambda_adds_its_statement)

    [finding] = run(Mode.ENFORCE, state=state, target=Target("test", ("api",))).findings

    assert finding.action is Action.REMEDIATED
    stored = json.loads(ecr.get_repository_policy(repositoryName="api")["policyText"])
    assert sorted(s["Sid"] for s in stored["Statement"]) == sorted(["CrossAccountPull", LAMBDA_SID])


def test_a_kept_statement_removed_by_a_concurrent_write_is_put_back_and_reported(
    ecr: Any, run: Runner, clients: AwsClients
) -> None:
    ecr.create_repository(repositoryName="api")
    ecr.set_repository_policy(
        repositoryName="api",
        policyText=json.dumps({"Version": "2012-10-17", "Statement": [lambda_statement()]}),
    )
    state = state_of(repositories={"api": {"pull_account_ids": ["210987654321"]}})
    writes: list[int] = []

    def someone_overwrites(**_: Any) -> None:
        # Right after the enforcer's write, a CI script writes the old policy without the kept statement.
        writes.append(1)
        if len(writes) == 1:
            clients.ecr.meta.events.register_first(
                "before-call.ecr.GetRepositoryPolicy", overwrite_once, unique_id="overwrite"
            )

    def overwrite_once(**_: Any) -> None:
        clients.ecr.meta.events.unregister("before-call.ecr.GetRepositoryPolicy", unique_id="overwrite")
        ecr.set_repository_policy(repositoryName="api", policyText=policy("CiPull"))

    clients.ecr.meta.events.register("after-call.ecr.SetRepositoryPolicy", someone_overwrites)

    [finding] = run(Mode.ENFORCE, state=state, target=Target("test", ("api",))).findings

    assert finding.action is Action.REMEDIATED
    assert f"{LAMBDA_SID} removed by a concurrent write and put back" in finding.message
    stored = json.loads(ecr.get_repository_policy(repositoryName="api")["policyText"])
    assert sorted(s["Sid"] for s in stored["Statement"]) == sorted(["CrossAccountPull", LAMBDA_SID])


def test_a_compliant_policy_costs_no_extra_read(ecr: Any, run: Runner, calls: AwsCalls) -> None:
    ecr.create_repository(repositoryName="api")
    state = state_of(repositories={"api": {"pull_account_ids": ["210987654321"]}})
    run(Mode.ENFORCE, state=state, target=Target("test", ("api",)))
    calls.clear()

    assert run(Mode.ENFORCE, state=state, target=Target("test", ("api",))).findings == []
    assert calls.operations["GetRepositoryPolicy"] == 1
    assert calls.writes == []


def test_the_refreshed_write_is_rebuilt_from_the_latest_read() -> None:
    """Pure: the latest version of a kept statement wins, and nothing is written when it already holds."""
    value = repository_policy.Policy({"Version": "2012-10-17", "Statement": []}, frozenset({LAMBDA_SID}))
    old = {**lambda_statement(), "Action": "ecr:BatchGetImage"}
    first = {"policyText": json.dumps({"Version": "2012-10-17", "Statement": [old]})}
    latest = {"policyText": json.dumps({"Version": "2012-10-17", "Statement": [lambda_statement()]})}

    assert repository_policy.rebuild("api", value, [latest]) is None
    rebuilt = repository_policy.rebuild("api", value, [first, {"policyText": policy("CiPull")}])
    assert rebuilt is not None
    assert rebuilt.operation == "SetRepositoryPolicy"
    assert json.loads(rebuilt.parameters["policyText"])["Statement"] == [old]
    assert repository_policy.rebuild("api", value, [None]) is None


# ---- pull-through cache replacement ---------------------------------------------------------------------


def test_a_failed_re_create_of_a_replaced_cache_rule_says_the_rule_is_missing(
    ecr: Any, run: Runner, calls: AwsCalls, fail: FaultInjector, sleeps: list[float]
) -> None:
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    state = state_of(registry={"pull_through_cache": {"quay": {"upstream_registry_url": "public.ecr.aws"}}})
    fail("CreatePullThroughCacheRule", "ServiceUnavailableException")

    [finding] = run(Mode.ENFORCE, state=state, target=Target("test", (), registry=WHOLE_REGISTRY)).findings

    assert finding.action is Action.FAILED
    assert finding.error is not None
    assert finding.error.startswith("ServiceUnavailableException")
    assert "after DeletePullThroughCacheRule succeeded" in finding.message
    assert "the rule for `quay` was deleted to change its upstream and is now missing" in finding.message
    assert calls.operations["CreatePullThroughCacheRule"] == remediate.IF_FAILED_ATTEMPTS
    assert len(sleeps) == remediate.IF_FAILED_ATTEMPTS - 1
    assert ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []


def test_a_missing_cache_rule_fails_the_remediation_metric_that_alarms(
    ecr: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.lambda_harness import emitted_metrics

    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    desired = tmp_path / "desired_state.json"
    desired.write_text(
        json.dumps(
            {
                "version": 1,
                "registry": {"pull_through_cache": {"quay": {"upstream_registry_url": "public.ecr.aws"}}},
            }
        )
    )
    lambda_environment(monkeypatch, desired)
    monkeypatch.setattr(remediate, "IF_FAILED_DELAY", 0.0)

    def refuse(**_: Any) -> None:
        raise ecr.exceptions.LimitExceededException(
            {"Error": {"Code": "LimitExceededException", "Message": "injected"}}, "CreatePullThroughCacheRule"
        )

    monkeypatch.setattr(
        remediate, "execute", _failing(remediate.execute, "CreatePullThroughCacheRule", refuse)
    )
    capsys.readouterr()

    response = invoke({"action": "enforce"})

    [finding] = [f for f in response["findings"] if f["setting"] == "pull_through_cache_rule"]
    assert finding["action"] == "failed"
    assert "is now missing" in finding["message"]
    # The alarm watches the metric without dimensions.
    alarmed = [
        v
        for v, dimensions in emitted_metrics(capsys.readouterr().out)["RemediationFailed"]
        if "Setting" not in dimensions
    ]
    assert alarmed == [1.0]


def _failing(execute: Callable[..., None], operation: str, fail: Callable[..., None]) -> Callable[..., None]:
    def wrapped(ecr: Any, call: Any, sleep: Any) -> None:
        if call.operation == operation:
            fail()
        execute(ecr, call, sleep)

    return wrapped


# ---- writes confirmed by a re-read ----------------------------------------------------------------------

QUAY_TO_ECR_PUBLIC = {"pull_through_cache": {"quay": {"upstream_registry_url": "public.ecr.aws"}}}


def cache_rules(ecr: Any) -> dict[str, str]:
    return {
        r["ecrRepositoryPrefix"]: r["upstreamRegistryUrl"]
        for r in ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    }


def test_a_create_whose_answer_is_lost_after_it_was_made_is_confirmed_by_a_re_read(
    ecr: Any, run: Runner, clients: AwsClients
) -> None:
    def answer_lost(**_: Any) -> None:  # the rule was created; its answer never came back
        raise ReadTimeoutError(endpoint_url="https://api.ecr.us-east-1.amazonaws.com/")

    clients.ecr.meta.events.register("after-call.ecr.CreatePullThroughCacheRule", answer_lost)

    [finding] = run(Mode.ENFORCE, state=state_of(registry=QUAY_TO_ECR_PUBLIC), target=REGISTRY_ONLY).findings

    assert finding.action is Action.REMEDIATED, finding
    assert "CreatePullThroughCacheRule answered ReadTimeoutError" in finding.message
    assert "confirmed by a re-read" in finding.message
    assert cache_rules(ecr) == {"quay": "public.ecr.aws"}


def created_by_someone_else(ecr: Any, clients: AwsClients, upstream: str) -> None:
    """Right before the engine's first CreatePullThroughCacheRule, the rule for `quay` is created with
    ``upstream`` (another writer, or the engine's own earlier try whose answer was lost)."""

    def create_once(**_: Any) -> None:
        clients.ecr.meta.events.unregister("before-call.ecr.CreatePullThroughCacheRule", unique_id="other")
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl=upstream)

    clients.ecr.meta.events.register(
        "before-call.ecr.CreatePullThroughCacheRule", create_once, unique_id="other"
    )


def test_a_replaced_cache_rule_whose_create_finds_it_made_is_confirmed_by_a_re_read(
    ecr: Any, run: Runner, clients: AwsClients, calls: AwsCalls
) -> None:
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    created_by_someone_else(ecr, clients, "public.ecr.aws")

    [finding] = run(Mode.ENFORCE, state=state_of(registry=QUAY_TO_ECR_PUBLIC), target=REGISTRY_ONLY).findings

    assert finding.action is Action.REMEDIATED, finding
    assert "answered PullThroughCacheRuleAlreadyExistsException" in finding.message
    assert "confirmed by a re-read" in finding.message
    # "Already exists" is not tried again: only the re-read tells whether it is the rule wanted.
    assert calls.operations["CreatePullThroughCacheRule"] == 1
    assert cache_rules(ecr) == {"quay": "public.ecr.aws"}


def test_a_create_that_finds_a_different_rule_made_fails_after_the_re_read(
    ecr: Any, run: Runner, clients: AwsClients, calls: AwsCalls
) -> None:
    created_by_someone_else(ecr, clients, "quay.io")

    [finding] = run(Mode.ENFORCE, state=state_of(registry=QUAY_TO_ECR_PUBLIC), target=REGISTRY_ONLY).findings

    assert finding.action is Action.FAILED
    assert finding.error is not None
    assert finding.error.startswith("PullThroughCacheRuleAlreadyExistsException")
    assert "a re-read did not find it as desired" in finding.message
    assert calls.operations["DescribePullThroughCacheRules"] == 2  # the run's read, then the re-read
    assert cache_rules(ecr) == {"quay": "quay.io"}


def test_a_throttled_read_back_after_a_policy_write_is_confirmed_by_a_re_read(
    ecr: Any, run: Runner, clients: AwsClients
) -> None:
    ecr.create_repository(repositoryName="api")
    ecr.set_repository_policy(repositoryName="api", policyText=policy("Intruder"))
    state = state_of(repositories={"api": {"pull_account_ids": ["210987654321"]}})
    reads: list[int] = []

    def throttle_the_read_back(**_: Any) -> None:
        # The run's read, the read right before the write, then the read-back: throttled.
        reads.append(1)
        if len(reads) == 3:
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise ClientError(error, "GetRepositoryPolicy")  # type: ignore[arg-type]

    clients.ecr.meta.events.register("before-call.ecr.GetRepositoryPolicy", throttle_the_read_back)

    [finding] = run(Mode.ENFORCE, state=state, target=Target("test", ("api",))).findings

    assert finding.action is Action.REMEDIATED, finding
    assert "SetRepositoryPolicy answered ThrottlingException" in finding.message
    assert "confirmed by a re-read" in finding.message
    stored = json.loads(ecr.get_repository_policy(repositoryName="api")["policyText"])
    assert [s["Sid"] for s in stored["Statement"]] == ["CrossAccountPull"]


# ---- unexpected errors -----------------------------------------------------------------------------------


def test_writes_before_an_unexpected_error_are_reported_remediated(
    ecr: Any, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecr.create_repository(
        repositoryName="api", imageScanningConfiguration={"scanOnPush": False}, imageTagMutability="MUTABLE"
    )
    state = state_of(repositories={"api": {"scan_on_push": True, "image_tag_mutability": "IMMUTABLE"}})

    def bug() -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(
        remediate, "execute", _failing(remediate.execute, "PutImageScanningConfiguration", bug)
    )

    report = run(Mode.ENFORCE, state=state, target=Target("test", ("api",)))

    outcome = {f.setting: (f.action, f.error) for f in report.findings}
    assert outcome["image_tag_mutability"] == (Action.REMEDIATED, None)
    assert outcome["scan_on_push"] == (Action.FAILED, "KeyError: 'a bug'")
    [repository] = ecr.describe_repositories(repositoryNames=["api"])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"


# ---- the deadline ----------------------------------------------------------------------------------------


class Clock:
    """A Lambda's remaining time that moves only when botocore waits (its backoffs) or an attempt is made."""

    def __init__(self, left_ms: int) -> None:
        self.left_ms = left_ms

    def __call__(self) -> int:
        return self.left_ms


def test_a_read_throttled_on_every_attempt_gives_up_before_the_deadline_with_findings_logged(
    ecr: Any, clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients.concurrency = 1
    for name in ("api", "web"):
        ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": False})
    state = state_of(repository_patterns={"*": {"scan_on_push": True, "lifecycle": []}})
    clock = Clock(left_ms=deadline.LAST_RETRY_MS + 15_000)  # the case: under a minute left
    attempt_ms = 1_000

    def backoff(self: standard.ExponentialBackoff, context: Any) -> float:
        clock.left_ms -= int(standard.ExponentialBackoff._MAX_BACKOFF * 1000)  # the worst case, every time
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", backoff)
    monkeypatch.setattr(bucket.TokenBucket, "_sleep_amount", lambda self, amount: 0.0)

    def throttled(request: Any, **_: Any) -> AWSResponse | None:
        clock.left_ms -= attempt_ms
        if b'"api"' not in request.body:
            return None
        request.url = "https://throttled.invalid/"
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        return AWSResponse(request.url, 400, {}, MockRawResponse(body))  # type: ignore[arg-type]

    clients.ecr.meta.events.register_first("before-send.ecr.GetLifecyclePolicy", throttled)
    logged: list[Finding] = []

    report = engine.run(
        Target("test", ("api", "web")),
        state=state,
        mode=Mode.AUDIT,
        clients=clients,
        time_left_ms=clock,
        on_findings=logged.extend,
    )

    assert clock() >= deadline.PUBLISH_RESERVE_MS  # the run returned with the publishing's time intact
    failed = [f for f in report.findings if f.action is Action.FAILED]
    assert failed
    assert all(f.error and f.error.startswith("ThrottlingException") for f in failed)
    assert logged == report.findings  # each handed on as it was final, not only at the end
    assert report.not_checked == ["web"]  # no time was left to start it


def test_a_cache_rule_is_deleted_to_be_replaced_only_with_the_time_for_its_create_too(
    ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    state = state_of(registry=QUAY_TO_ECR_PUBLIC)

    # Time for one call with its retry: enough to start the run, not for the delete and the create.
    short = run(
        Mode.ENFORCE, state=state, target=REGISTRY_ONLY, time_left_ms=Clock(deadline.time_for_calls(1))
    )

    [finding] = short.findings
    assert finding.action is Action.DRIFT  # not fixed, counted as drift like a repository out of time
    assert "left for the next run" in finding.message
    assert "DeletePullThroughCacheRule, CreatePullThroughCacheRule" in finding.message
    assert calls.writes == []
    assert cache_rules(ecr) == {"quay": "quay.io"}

    full = run(Mode.ENFORCE, state=state, target=REGISTRY_ONLY, time_left_ms=Clock(900_000))

    assert [f.action for f in full.findings] == [Action.REMEDIATED]
    assert [c.operation for c in calls.writes] == ["DeletePullThroughCacheRule", "CreatePullThroughCacheRule"]
    assert cache_rules(ecr) == {"quay": "public.ecr.aws"}


def test_the_lambda_derives_its_own_role_from_sts_when_enforcer_role_arn_is_unset(
    ecr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecr_drift import lambda_function

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="ecr-drift-enforcer", Path="/platform/", AssumeRolePolicyDocument="{}")
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=role["Role"]["Arn"], RoleSessionName="ecr-drift-enforcer"
    )["Credentials"]
    lambda_environment(monkeypatch)
    monkeypatch.delenv("ENFORCER_ROLE_ARN")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])

    config, _ = lambda_function.startup()

    assert config.enforcer_role_arn == f"arn:aws:iam::{ACCOUNT_ID}:role/ecr-drift-enforcer"
    session = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ecr-drift-enforcer/ecr-drift-enforcer"
    event = json.loads(json.dumps(_own_event(session)))
    assert invoke(event, FakeLambdaContext())["status"] == "ignored"


def _own_event(principal: str) -> dict[str, Any]:
    from tests.lambda_harness import load_event

    event = load_event("put_image_scanning_configuration_console.json")
    event["detail"]["userIdentity"]["arn"] = principal
    return dict(event)


def test_the_cli_makes_a_mass_change_only_with_allow_mass_change(ecr: Any, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from ecr_drift.cli.app import app

    names = repositories_with_policies(ecr, LIMIT + 1)
    desired = tmp_path / "desired_state.json"
    desired.write_text(json.dumps({"version": 1, **WIPE}))
    command = ["enforce", "--yes", "--desired", str(desired), "--format", "json"]
    runner = CliRunner()

    held = runner.invoke(app, command)

    assert held.exit_code == 1  # blocked findings fail an enforce
    actions = {
        f["action"] for f in json.loads(held.stdout)["findings"] if f["setting"] == "repository_policy"
    }
    assert actions == {"blocked"}
    assert all(has_policy(ecr, name) for name in names)

    lifted = runner.invoke(app, [*command, "--allow-mass-change"])

    assert lifted.exit_code == 0, lifted.output
    assert not any(has_policy(ecr, name) for name in names)
    assert "--allow-mass-change" in runner.invoke(app, ["enforce", "--help"]).stdout
    assert "--allow-mass-change" not in runner.invoke(app, ["audit", "--help"]).stdout  # enforce only


def test_an_audit_shows_the_drift_the_blast_radius_would_hold(ecr: Any, run: Runner) -> None:
    repositories_with_policies(ecr, LIMIT + 2)

    report = run(Mode.AUDIT, state=state_of(**WIPE))

    assert {f.action for f in by_setting(report.findings, "repository_policy")} == {Action.DRIFT}
    assert report.writes == 0


class Killed(BaseException):
    """Lambda ending the process at its timeout: nothing in the function can catch it."""


@pytest.mark.filterwarnings("ignore:No application metrics")  # killed before any metric: as in Lambda
def test_a_run_killed_before_it_publishes_still_left_its_findings_in_the_log(
    ecr: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ecr_drift import lambda_function
    from tests.lambda_harness import log_records

    for name in ("admin-dashboard", "temporal-worker"):
        ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": False})
    lambda_environment(monkeypatch)

    def killed(*_: Any, **__: Any) -> None:
        raise Killed

    monkeypatch.setattr(lambda_function, "publish", killed)
    capsys.readouterr()

    with pytest.raises(Killed):
        invoke({"action": "audit", "repositories": ["admin-dashboard", "temporal-worker"]})

    logged = [r["finding"] for r in log_records(capsys.readouterr().out) if "finding" in r]
    assert {(f["resource"], f["setting"]) for f in logged} >= {
        ("admin-dashboard", "scan_on_push"),
        ("temporal-worker", "scan_on_push"),
    }
