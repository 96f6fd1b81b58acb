"""Hostile conditions on moto: throttling bursts, denied actions, resources changing under a run, a Lambda
running out of time, publishing channels down. Each must end in findings that say what happened, never in an
exception, and the rest of the run must still be done.

Covered elsewhere, not repeated here:
- a read throttled on every attempt (no retry involved) → ``failed``, the rest fixed:
  test_engine.py::test_throttled_read_is_a_failed_finding_and_other_settings_still_fixed;
- AccessDenied on one repository's write, on the listing, on an unexpected error:
  test_engine.py::test_access_denied_on_one_repository_fails_it_and_fixes_the_others,
  ::test_listing_denied_is_a_failed_finding_not_a_crash,
  ::test_unexpected_error_in_one_repository_is_isolated;
  through the CLI: tests/cli/test_account_commands.py::test_a_failed_write_exits_1_and_names_the_action;
- a named repository missing at the time of the event (brief retry, then recreated):
  test_engine.py::test_named_missing_repository_is_retried_briefly_then_recreated;
- the time budget in the engine, and a Lambda with no time at all:
  test_engine.py::test_time_budget_stops_starting_repositories,
  test_lambda_handler.py::test_a_run_out_of_time_is_incomplete;
- one publishing channel failing inside ``publish`` (logged, counted, the others still sent):
  tests/unit/test_publish.py::test_a_failing_channel_is_logged_counted_and_the_others_still_publish,
  ::test_every_channel_down_still_returns, ::test_failed_entries_are_reported_and_counted.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries import bucket, standard
from moto.core.botocore_stubber import MockRawResponse

from ecr_drift import engine
from ecr_drift.aws.clients import MAX_ATTEMPTS, AwsClients
from ecr_drift.cli.lambda_context import FakeLambdaContext
from ecr_drift.desired import DesiredState
from ecr_drift.findings import REGISTRY, Action
from ecr_drift.targets import WHOLE_REGISTRY, Mode, Target
from tests.aws_calls import AwsCalls
from tests.conftest import ACCOUNT_ID, REGION
from tests.integration.conftest import FaultInjector, Runner
from tests.lambda_harness import emitted_metrics, invoke, lambda_environment, load_event, log_records

NAMED = ("admin-dashboard", "internal-dashboard", "temporal-worker", "utila-cosigner")


def scan_on_push_off(ecr: Any, *names: str) -> None:
    for name in names:
        ecr.put_image_scanning_configuration(
            repositoryName=name, imageScanningConfiguration={"scanOnPush": False}
        )


def scan_on_push(ecr: Any, name: str) -> bool:
    [repository] = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    return bool(repository["imageScanningConfiguration"]["scanOnPush"])


def outcome(report: Any) -> dict[tuple[str, str], str]:
    return {(f.resource, str(f.setting)): str(f.action) for f in report.findings}


# ---- throttling ------------------------------------------------------------------------------------------


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """The waits botocore decides on, recorded instead of waited: a burst would cost seconds a test.

    ``retry``: the backoff before each retry. ``rate``: adaptive mode's client-side rate limiter, which a
    throttle switches on, waiting for a send token (standard mode has no such limiter). Their bookkeeping,
    and so their decisions, stay real.
    """
    waits: dict[str, list[float]] = {"retry": [], "rate": []}
    backoff = standard.ExponentialBackoff.delay_amount
    token = bucket.TokenBucket._sleep_amount

    def retry(self: standard.ExponentialBackoff, context: Any) -> float:
        waits["retry"].append(backoff(self, context))
        return 0.0

    def rate(self: bucket.TokenBucket, amount: int) -> float:
        waits["rate"].append(token(self, amount))
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", retry)
    monkeypatch.setattr(bucket.TokenBucket, "_sleep_amount", rate)
    return waits


Throttle = Callable[..., Counter[str]]


@pytest.fixture
def throttle(clients: AwsClients) -> Throttle:
    """``throttle(operation, times, repository=None)``: ECR answers ThrottlingException to the first ``times``
    attempts of ``operation`` (for that repository only). Returns attempts by operation, throttled or not.

    Injected at ``before-send``, inside botocore's retry loop, so the retry mode really handles it: an error
    raised or returned at ``before-call`` skips the retry loop entirely and would test nothing.
    """
    attempts: Counter[str] = Counter()
    throttled: Counter[str] = Counter()
    lock = threading.Lock()

    def inject(operation: str, times: int, repository: str | None = None) -> Counter[str]:
        def hook(request: Any, **_: Any) -> AWSResponse | None:
            with lock:
                attempts[operation] += 1
                if repository is not None and f'"{repository}"'.encode() not in request.body:
                    return None
                if throttled[operation] >= times:
                    return None
                throttled[operation] += 1
            # AWS runs no throttled request: pointing the attempt elsewhere keeps moto from running it.
            request.url = "https://throttled.invalid/"
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
            return AWSResponse(request.url, 400, {}, MockRawResponse(body))  # type: ignore[arg-type]

        clients.ecr.meta.events.register_first(f"before-send.ecr.{operation}", hook)
        return attempts

    return inject


def test_throttling_bursts_are_retried_and_the_sweep_completes(
    baseline: Any,
    ecr: Any,
    clients: AwsClients,
    run: Runner,
    calls: AwsCalls,
    throttle: Throttle,
    backoffs: dict[str, list[float]],
) -> None:
    scan_on_push_off(ecr, "temporal-worker", "utila-cosigner")
    ecr.delete_lifecycle_policy(repositoryName="internal-dashboard")
    burst = 3
    throttled = (
        "DescribeRepositories",
        "GetRegistryScanningConfiguration",
        "GetLifecyclePolicy",
        "ListTagsForResource",
        "PutImageScanningConfiguration",
        "PutLifecyclePolicy",
    )
    for operation in throttled:
        attempts = throttle(operation, burst)  # one counter of attempts for all of them

    report = run(Mode.ENFORCE)

    assert outcome(report) == {
        ("temporal-worker", "scan_on_push"): "remediated",
        ("utila-cosigner", "scan_on_push"): "remediated",
        ("internal-dashboard", "lifecycle_policy"): "remediated",
    }
    assert clients.ecr.meta.config.retries["mode"] == "adaptive"
    # botocore retried every throttled attempt: the engine saw each call once, and each call succeeded.
    for operation in throttled:
        assert attempts[operation] == calls.operations[operation] + burst, operation
    assert len(backoffs["retry"]) == burst * len(throttled)
    assert backoffs["rate"]  # the adaptive limiter slowed the client down itself
    calls.clear()
    assert run(Mode.AUDIT).findings == []


def test_throttling_beyond_the_retry_budget_fails_that_read_only(
    baseline: Any, ecr: Any, run: Runner, throttle: Throttle, backoffs: dict[str, list[float]]
) -> None:
    scan_on_push_off(ecr, "temporal-worker", "utila-cosigner")
    attempts = throttle("GetLifecyclePolicy", 1_000, repository="temporal-worker")

    report = run(Mode.ENFORCE)

    assert outcome(report) == {
        ("temporal-worker", "lifecycle_policy"): "failed",
        ("temporal-worker", "scan_on_push"): "remediated",
        ("utila-cosigner", "scan_on_push"): "remediated",
    }
    [failed] = [f for f in report.findings if f.action is Action.FAILED]
    assert failed.error is not None
    assert failed.error.startswith("ThrottlingException")
    # botocore's max_attempts counts retries: the first attempt, then MAX_ATTEMPTS retries, each backed off.
    throttled_attempts = attempts["GetLifecyclePolicy"] - (len(NAMED) - 1)
    assert throttled_attempts == MAX_ATTEMPTS + 1
    assert len(backoffs["retry"]) == MAX_ATTEMPTS


# ---- access denied ---------------------------------------------------------------------------------------


def test_denied_actions_fail_their_findings_naming_the_action_and_the_rest_is_fixed(
    baseline: Any, ecr: Any, run: Runner, fail: FaultInjector
) -> None:
    scan_on_push_off(ecr, "temporal-worker", "utila-cosigner")
    ecr.delete_lifecycle_policy(repositoryName="internal-dashboard")
    fail("PutImageScanningConfiguration", "AccessDeniedException")  # a write, on every repository
    fail("ListTagsForResource", "AccessDeniedException", repository="admin-dashboard")  # a read, on one
    fail("GetRegistryScanningConfiguration", "AccessDeniedException")  # a registry read

    report = run(Mode.ENFORCE)

    assert outcome(report) == {
        ("temporal-worker", "scan_on_push"): "failed",
        ("utila-cosigner", "scan_on_push"): "failed",
        ("admin-dashboard", "tags"): "failed",
        (REGISTRY, "registry_scanning"): "failed",
        ("internal-dashboard", "lifecycle_policy"): "remediated",
    }
    needs = {
        ("temporal-worker", "scan_on_push"): "ecr:PutImageScanningConfiguration",
        ("utila-cosigner", "scan_on_push"): "ecr:PutImageScanningConfiguration",
        ("admin-dashboard", "tags"): "ecr:ListTagsForResource",
        (REGISTRY, "registry_scanning"): "ecr:GetRegistryScanningConfiguration",
    }
    for finding in report.findings:
        if finding.action is Action.FAILED:
            assert finding.error is not None
            assert finding.error.startswith("AccessDeniedException")
            assert f"the role needs {needs[finding.resource, finding.setting]}" in finding.error
    assert scan_on_push(ecr, "temporal-worker") is False
    assert ecr.get_lifecycle_policy(repositoryName="internal-dashboard")["lifecyclePolicyText"]


# ---- resources changing under a run -----------------------------------------------------------------------


def test_repositories_deleted_between_listing_and_reading(
    baseline: Any,
    ecr: Any,
    clients: AwsClients,
    run: Runner,
    calls: AwsCalls,
    sleeps: list[float],
) -> None:
    ecr.create_repository(repositoryName="ecr-public/library/nginx")  # a pull-through cache repository
    run(Mode.ENFORCE)
    calls.clear()
    doomed = {"temporal-worker", "ecr-public/library/nginx"}
    deleted: list[str] = []

    def someone_deletes(params: dict[str, Any], **_: Any) -> None:
        name = json.loads(params["body"]).get("repositoryName")
        if name in doomed and name not in deleted:
            deleted.append(name)
            ecr.delete_repository(repositoryName=name, force=True)  # a person, in another window

    clients.ecr.meta.events.register("before-call.ecr.GetLifecyclePolicy", someone_deletes)

    report = run(Mode.ENFORCE)

    assert sorted(deleted) == sorted(doomed)
    # As the contract says: a managed repository is recreated, a pattern one is ECR's to create again.
    assert outcome(report) == {("temporal-worker", "repository"): "remediated"}
    assert set(report.repositories_checked) >= doomed
    assert sleeps  # the "not found" was retried briefly before it was believed
    repositories = {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}
    assert "temporal-worker" in repositories
    assert "ecr-public/library/nginx" not in repositories
    calls.clear()
    assert run(Mode.ENFORCE).findings == []
    assert calls.writes == []


def test_a_repository_deleted_between_reading_and_writing_fails_that_write_only(
    baseline: Any, ecr: Any, clients: AwsClients, run: Runner
) -> None:
    scan_on_push_off(ecr, "temporal-worker", "utila-cosigner")

    def someone_deletes(params: dict[str, Any], **_: Any) -> None:
        if json.loads(params["body"])["repositoryName"] == "temporal-worker":
            ecr.delete_repository(repositoryName="temporal-worker", force=True)

    clients.ecr.meta.events.register("before-call.ecr.PutImageScanningConfiguration", someone_deletes)

    report = run(Mode.ENFORCE)

    assert outcome(report) == {
        ("temporal-worker", "scan_on_push"): "failed",
        ("utila-cosigner", "scan_on_push"): "remediated",
    }
    [failed] = [f for f in report.findings if f.action is Action.FAILED]
    assert failed.error is not None
    assert failed.error.startswith("RepositoryNotFoundException")
    # The deletion's own CloudTrail event (or the next sweep) brings it back.
    assert outcome(run(Mode.ENFORCE)) == {("temporal-worker", "repository"): "remediated"}
    assert run(Mode.ENFORCE).findings == []


def test_a_repository_that_exists_yet_cannot_be_read_is_rechecked_once_then_failed(
    baseline: Any, ecr: Any, clients: AwsClients, run: Runner, calls: AwsCalls
) -> None:
    """An "already exists" on a repository read as missing makes the engine check the existing one (see
    test_loop_safety.py); when the reads still cannot see it (a lagging region), it stops after one try."""
    ecr.delete_repository(repositoryName="temporal-worker", force=True)

    def exists_somewhere(**_: Any) -> None:
        error = {"Error": {"Code": "RepositoryAlreadyExistsException", "Message": "exists"}}
        raise clients.ecr.exceptions.RepositoryAlreadyExistsException(error, "CreateRepository")  # type: ignore[arg-type]

    clients.ecr.meta.events.register("before-call.ecr.CreateRepository", exists_somewhere)

    report = run(Mode.ENFORCE, target=Target("event", ("temporal-worker",)))

    [finding] = report.findings
    assert (finding.setting, finding.action) == ("repository", Action.FAILED)
    assert finding.error is not None
    assert finding.error.startswith("RepositoryAlreadyExistsException")
    assert calls.operations["CreateRepository"] == 2


ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/"
QUAY = {"upstream_registry_url": "quay.io", "custom_role_arn": ROLE + "new"}


def quay_state() -> DesiredState:
    return DesiredState.model_validate({"version": 1, "registry": {"pull_through_cache": {"quay": QUAY}}})


# (what the account has, what someone does when the enforcer is about to write, the first run's outcome)
CACHE_RACES: dict[str, tuple[dict[str, str] | None, str, Callable[[Any], Any], str]] = {
    "created-meanwhile": (
        None,
        "CreatePullThroughCacheRule",
        lambda ecr: ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io", customRoleArn=ROLE + "new"
        ),
        "remediated",  # "already exists", and a re-read finds the very rule wanted
    ),
    "deleted-before-update": (
        {"upstreamRegistryUrl": "quay.io", "customRoleArn": ROLE + "old"},
        "UpdatePullThroughCacheRule",
        lambda ecr: ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="quay"),
        "failed",
    ),
    "deleted-before-replacement": (
        {"upstreamRegistryUrl": "registry.k8s.io"},
        "DeletePullThroughCacheRule",
        lambda ecr: ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="quay"),
        "remediated",
    ),
    "recreated-during-replacement": (
        {"upstreamRegistryUrl": "registry.k8s.io"},
        "CreatePullThroughCacheRule",
        lambda ecr: ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="quay", upstreamRegistryUrl="registry.k8s.io"
        ),
        "failed",
    ),
}


@pytest.mark.parametrize("race", sorted(CACHE_RACES))
def test_a_cache_rule_changed_between_read_and_write(
    race: str, ecr: Any, clients: AwsClients, run: Runner, calls: AwsCalls
) -> None:
    existing, operation, change, first = CACHE_RACES[race]
    if existing is not None:
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", **existing)
    changed: list[str] = []

    def someone_changes(**_: Any) -> None:
        if not changed:
            changed.append(operation)
            change(ecr)

    clients.ecr.meta.events.register(f"before-call.ecr.{operation}", someone_changes)
    registry = Target("test", (), registry=WHOLE_REGISTRY)

    [finding] = run(Mode.ENFORCE, target=registry, state=quay_state()).findings

    assert changed == [operation]
    assert (finding.key, str(finding.action)) == ("quay", first)
    if finding.action is Action.FAILED:
        assert finding.error is not None
        assert finding.error.startswith("PullThroughCacheRule")
    # The concurrent change's own CloudTrail event triggers the next check: it converges, then stays put.
    run(Mode.ENFORCE, target=registry, state=quay_state())
    calls.clear()
    assert run(Mode.ENFORCE, target=registry, state=quay_state()).findings == []
    assert calls.writes == []
    [rule] = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert (rule["upstreamRegistryUrl"], rule["customRoleArn"]) == ("quay.io", ROLE + "new")


# ---- the Lambda near its timeout, publishing down --------------------------------------------------------


def test_a_lambda_near_its_timeout_fixes_what_it_reached_and_lists_the_rest(
    baseline: Any,
    handler_env: None,
    ecr: Any,
    ecr_calls: AwsCalls,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lambda_environment(monkeypatch, ENFORCER_CONCURRENCY="1")  # one at a time: the budget runs out midway
    scan_on_push_off(ecr, *NAMED)
    capsys.readouterr()
    fixed: list[str] = []
    fix = engine._RunContext.fix

    def fix_and_count(self: Any, name: str, plan: Any, over: int | None) -> Any:
        findings = fix(self, name, plan, over)
        fixed.append(name)
        return findings

    monkeypatch.setattr(engine._RunContext, "fix", fix_and_count)
    context = FakeLambdaContext()
    # Every repository is read with time to spare; two are fixed, then the function is a second from its end.
    context.get_remaining_time_in_millis = lambda: 120_000 if len(fixed) < 2 else 1_000  # type: ignore[method-assign]

    response = invoke({"action": "enforce"}, context)

    assert response["status"] == "incomplete"
    checked, rest = response["repositories_checked"], response["not_checked"]
    assert sorted(checked) == sorted(fixed)
    assert sorted(checked + rest) == sorted(NAMED)
    by_action = {f["resource"]: (f["action"], f["message"]) for f in response["findings"]}
    assert {by_action[name] for name in checked} == {("remediated", "scan on push differs")}
    # What it read but had no time to fix is still a finding, and says why it is not fixed.
    assert {by_action[name] for name in rest} == {("drift", engine.OUT_OF_TIME)}
    # Nothing was written for a repository it did not fix.
    written = {c.params.get("repositoryName") for c in ecr_calls.writes}
    assert not written & set(rest)
    assert [scan_on_push(ecr, name) for name in rest] == [False, False]
    output = capsys.readouterr().out
    assert [v for v, _ in emitted_metrics(output)["RepositoriesNotChecked"]] == [2.0]
    [finished] = [r for r in log_records(output) if r["message"] == "run finished"]
    assert sorted(finished["not_checked"]) == sorted(rest)


def test_publishing_down_keeps_the_findings_in_the_logs_and_the_response(
    baseline: Any,
    handler_env: None,
    ecr: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lambda_environment(
        monkeypatch,
        FINDINGS_TOPIC_ARN=f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:deleted-topic",  # moto: NotFound
        FINDINGS_EVENT_BUS="deleted-bus",  # moto: ResourceNotFoundException
    )
    scan_on_push_off(ecr, "utila-cosigner")
    capsys.readouterr()

    response = invoke(load_event("put_image_scanning_configuration_console.json"))

    assert response["status"] == "ok"
    assert [(f["resource"], f["setting"], f["action"]) for f in response["findings"]] == [
        ("utila-cosigner", "scan_on_push", "remediated")
    ]
    assert [e.split(":", 1)[0] for e in response["publish_errors"]] == ["sns", "eventbridge"]
    assert scan_on_push(ecr, "utila-cosigner") is True  # the fix stands whatever publishing does
    output = capsys.readouterr().out
    records = log_records(output)
    [line] = [r for r in records if "finding" in r]
    assert (line["finding"]["resource"], line["finding"]["action"]) == ("utila-cosigner", "remediated")
    unpublished = {r["channel"] for r in records if r["message"] == "finding not published"}
    assert unpublished == {"sns", "eventbridge"}
    failures = float(len(response["publish_errors"]))
    assert [v for v, _ in emitted_metrics(output)["PublishFailures"]] == [failures]
