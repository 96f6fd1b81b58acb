"""The enforcer never fights itself: its own CloudTrail events cause no write, and two runs on the same
drifted repository at once converge without flapping (here one event delivered twice, as EventBridge may;
an event arriving during a sweep interleaves the same way).

Related: test_lambda_handler.py::test_ignored_events_write_nothing (one recorded own-role event file) and
tests/unit/test_events.py::test_own_role_is_recognised_in_every_form (the role's ARN forms).
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from typing import Any

import boto3
import pytest

from ecr_drift import engine
from ecr_drift.aws.clients import AwsClients
from ecr_drift.aws.errors import is_read_operation
from ecr_drift.desired import DesiredState
from ecr_drift.findings import Action, Report
from ecr_drift.targets import Mode, Target
from tests.aws_calls import AwsCalls, Call
from tests.conftest import ACCOUNT_ID, REGION
from tests.integration.conftest import Runner
from tests.lambda_harness import invoke, lambda_environment, load_event

ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/"
OTHER_LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3},
            "action": {"type": "expire"},
        }
    ]
}


def drift_everything(ecr: Any) -> None:
    """Every kind of change people make, so that fixing them takes every kind of write the enforcer has."""
    ecr.put_image_scanning_configuration(
        repositoryName="utila-cosigner", imageScanningConfiguration={"scanOnPush": False}
    )
    ecr.put_image_tag_mutability(repositoryName="temporal-worker", imageTagMutability="MUTABLE")
    ecr.put_lifecycle_policy(
        repositoryName="temporal-worker", lifecyclePolicyText=json.dumps(OTHER_LIFECYCLE)
    )
    ecr.delete_repository_policy(repositoryName="admin-dashboard")
    ecr.untag_resource(resourceArn=ARN + "internal-dashboard", tagKeys=["managed-by"])
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])
    ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public", upstreamRegistryUrl="quay.io")


def own_event(call: Call) -> dict[str, Any]:
    """The CloudTrail event AWS would send for ``call``, made by the enforcer's role (the recorded file's)."""
    event = copy.deepcopy(load_event("own_role_event.json"))
    event["id"] = str(uuid.uuid4())
    detail = event["detail"]
    detail.update(
        eventName=call.operation,
        eventID=str(uuid.uuid4()),
        requestParameters=call.params,
        responseElements=None,
        resources=[],
    )
    return event


def test_replaying_the_enforcers_own_events_writes_nothing(
    handler_env: None,
    ecr_calls: AwsCalls,
    session: boto3.Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Each run builds its clients from a new boto3 Session (0.15 s of model loading): ~40 runs share one.
    monkeypatch.setattr(boto3, "Session", lambda **_: session)
    ecr = session.client("ecr")
    assert invoke({"action": "enforce"})["status"] == "ok"  # creates the account: repositories, registry
    drift_everything(ecr)
    assert invoke({"action": "enforce"})["summary"]["failed"] == 0
    own = list(ecr_calls.writes)
    assert {c.operation for c in own} >= {
        "CreateRepository",
        "PutLifecyclePolicy",
        "SetRepositoryPolicy",
        "PutImageScanningConfiguration",
        "PutImageTagMutability",
        "TagResource",
        "PutRegistryScanningConfiguration",
        "CreatePullThroughCacheRule",
        "DeletePullThroughCacheRule",
    }
    events = [own_event(call) for call in own]
    ecr_calls.clear()

    responses = [invoke(event) for event in events]

    assert {r["status"] for r in responses} == {"ignored"}
    assert all("the enforcer's own role" in r["reason"] for r in responses)
    assert ecr_calls.calls == []

    # Were the role not known (or the check gone), each event still only re-reads the live state, which is
    # the enforcer's own doing: no finding, no write.
    lambda_environment(monkeypatch)
    monkeypatch.delenv("ENFORCER_ROLE_ARN")

    responses = [invoke(event) for event in events]

    assert {r["status"] for r in responses} == {"ok"}
    assert [f for r in responses for f in r["findings"]] == []
    assert sum(r["writes"] for r in responses) == 0
    assert ecr_calls.writes == []
    capsys.readouterr()


# ---- two runs at once ------------------------------------------------------------------------------------


def drift_settings(ecr: Any) -> None:
    ecr.put_image_scanning_configuration(
        repositoryName="temporal-worker", imageScanningConfiguration={"scanOnPush": False}
    )
    ecr.put_image_tag_mutability(repositoryName="temporal-worker", imageTagMutability="MUTABLE")
    ecr.put_lifecycle_policy(
        repositoryName="temporal-worker", lifecyclePolicyText=json.dumps(OTHER_LIFECYCLE)
    )
    ecr.tag_resource(resourceArn=ARN + "temporal-worker", tags=[{"Key": "managed-by", "Value": "someone"}])


def delete_repository(ecr: Any) -> None:
    ecr.delete_repository(repositoryName="temporal-worker", force=True)


@pytest.mark.parametrize("drift", [drift_settings, delete_repository], ids=["settings", "deleted"])
def test_two_runs_on_the_same_drifted_repository_converge(
    drift: Any,
    baseline: Any,
    ecr: Any,
    session: boto3.Session,
    clients: AwsClients,
    example_state: DesiredState,
    run: Runner,
    calls: AwsCalls,
) -> None:
    drift(ecr)
    second = AwsClients(session, concurrency=4)
    both = [clients, second]
    # Both runs read the drift before either writes: the interleaving that could make them fight.
    everyone_has_read = threading.Barrier(len(both), timeout=10)
    first_writes: list[list[str]] = []
    for each in both:
        held: list[str] = []
        first_writes.append(held)

        def hold_first_write(model: Any, held: list[str] = held, **_: Any) -> None:
            if not is_read_operation(model.name) and not held:
                held.append(model.name)
                everyone_has_read.wait()

        each.ecr.meta.events.register("before-call.ecr.*", hold_first_write)
    reports: list[Report] = []
    event = Target("cloudtrail:event", ("temporal-worker",))  # the same event, delivered twice

    def enforce(with_clients: AwsClients) -> None:
        reports.append(
            engine.run(
                event, state=example_state, mode=Mode.ENFORCE, clients=with_clients, sleep=lambda _: None
            )
        )

    threads = [threading.Thread(target=enforce, args=(each,)) for each in both]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(reports) == 2
    assert first_writes[0] == first_writes[1] != []  # both really were about to write the same fix
    # Whichever came second found the other's work done or half done: it finished it, never failed.
    assert [f for report in reports for f in report.findings if f.action is not Action.REMEDIATED] == []
    assert reports[0].findings or reports[1].findings
    # Both wrote the same bytes: nothing is left to fix, and nothing flips back.
    calls.clear()
    assert run(Mode.AUDIT).findings == []
    assert run(Mode.ENFORCE).writes == 0
    assert calls.writes == []
