"""The lifecycle guard on a repository of 600 images: a (re)application that would delete more than
``enforcement.lifecycle_guard`` allows within its ``horizon_days`` (expired directly, archived then expired,
or expired from the archive) is blocked with its counts and examples, unless a person runs
``ecr-drift enforce --allow-mass-expiry``; below the limits, and for archive transitions alone, it is applied.

The guard's basic case (4 images) is test_engine.py::test_lifecycle_guard_blocks_mass_expiry.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto.ecr.models import ecr_backends
from typer.testing import CliRunner

from ecr_drift.aws import lifecycle_guard
from ecr_drift.aws.clients import AwsClients
from ecr_drift.cli.app import app
from ecr_drift.findings import Action
from ecr_drift.targets import Mode
from tests.aws_calls import AwsCalls
from tests.conftest import ACCOUNT_ID, REGION
from tests.integration.conftest import Runner
from tests.integration.test_engine import OCI_MANIFEST, state_of

IMAGES = 600
KEEP_10 = [{"description": "keep the newest 10", "tag_status": "any", "max_images": 10}]  # expires 590
KEEP_590 = [{"tag_status": "any", "max_images": 590}]  # expires 10
# Archives every image not pulled for 30 days: nothing is expired, whatever the count.
ARCHIVE_UNPULLED = {
    "raw": {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "any",
                    "countType": "sinceImagePulled",
                    "countUnit": "days",
                    "countNumber": 30,
                },
                "action": {"type": "transition", "targetStorageClass": "archive"},
            }
        ]
    }
}


def digest(index: int) -> str:
    # A digest of its own: moto draws one from 101 values, and AWS never repeats one.
    return f"sha256:{index:064x}"


@pytest.fixture
def busy(ecr: Any) -> str:
    """A repository of 600 tagged images, pushed in order (v0 is the oldest)."""
    ecr.create_repository(repositoryName="busy")
    # Straight into moto's backend: 600 PutImage calls through botocore cost ~0.6 s a test, this ~0.05 s.
    backend = ecr_backends[ACCOUNT_ID][REGION]
    for index in range(IMAGES):
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "n": index})
        backend.put_image("busy", manifest, f"v{index}", digest=digest(index))
    return "busy"


def stored_lifecycle(ecr: Any, name: str) -> str | None:
    try:
        return str(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        return None


def accept_archive_rules(clients: AwsClients) -> None:
    def ecr_accepts(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        # moto 5 predates archive storage and rejects archive rules; ECR accepts them.
        return AWSResponse("https://ecr.invalid/", 200, {}, None), {}  # type: ignore[arg-type]

    clients.ecr.meta.events.register("before-call.ecr.PutLifecyclePolicy", ecr_accepts)


def test_mass_expiry_is_blocked_with_its_count_and_the_oldest_images(
    busy: str, ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    [finding] = run(Mode.ENFORCE, state=state_of(repositories={busy: {"lifecycle": KEEP_10}})).findings

    assert finding.action is Action.BLOCKED
    assert "it would delete 590 of 600 images within 30 days" in finding.message
    assert "(590 expired directly, 0 archived then expired, 0 already archived)" in finding.message
    assert "where lifecycle_guard allows 500 and 50%" in finding.message
    for index in range(lifecycle_guard.MASS_EXPIRY_EXAMPLES):  # the oldest go first
        assert f"{digest(index)} (v{index})" in finding.message
    assert digest(lifecycle_guard.MASS_EXPIRY_EXAMPLES) not in finding.message
    assert "--allow-mass-expiry" in finding.message
    assert calls.writes == []
    assert stored_lifecycle(ecr, busy) is None


def test_an_expiry_within_the_guard_is_applied(busy: str, ecr: Any, run: Runner) -> None:
    [finding] = run(Mode.ENFORCE, state=state_of(repositories={busy: {"lifecycle": KEEP_590}})).findings

    assert finding.action is Action.REMEDIATED
    assert finding.message == "lifecycle policy differs"
    stored = stored_lifecycle(ecr, busy)
    assert stored is not None
    assert json.loads(stored)["rules"][0]["selection"]["countNumber"] == 590


def test_archive_transitions_are_not_counted_as_expiry(
    busy: str, clients: AwsClients, run: Runner, calls: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    class YearLater(datetime):
        """A year on, every image is past the 30 days: the policy archives all 600 and expires none."""

        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return datetime.now(tz) + timedelta(days=365)

    monkeypatch.setattr(lifecycle_guard, "datetime", YearLater)
    accept_archive_rules(clients)

    [finding] = run(
        Mode.ENFORCE, state=state_of(repositories={busy: {"lifecycle": ARCHIVE_UNPULLED}})
    ).findings

    assert finding.action is Action.REMEDIATED
    assert [c.operation for c in calls.writes] == ["PutLifecyclePolicy"]


def test_the_cli_applies_a_blocked_policy_only_with_allow_mass_expiry(
    busy: str, ecr: Any, tmp_path: Path
) -> None:
    desired = tmp_path / "desired_state.json"
    desired.write_text(json.dumps({"version": 1, "repositories": {busy: {"lifecycle": KEEP_10}}}))
    command = ["enforce", "--yes", "--desired", str(desired), "--format", "json"]
    runner = CliRunner()

    blocked = runner.invoke(app, command)

    assert blocked.exit_code == 1
    [finding] = json.loads(blocked.stdout)["findings"]
    assert finding["action"] == "blocked"
    assert "590 of 600" in finding["message"]
    assert stored_lifecycle(ecr, busy) is None

    allowed = runner.invoke(app, [*command, "--allow-mass-expiry"])

    assert allowed.exit_code == 0, allowed.output
    [finding] = json.loads(allowed.stdout)["findings"]
    assert finding["action"] == "remediated"
    assert finding["message"].startswith("applied, mass expiry allowed: it would delete 590 of 600")
    assert stored_lifecycle(ecr, busy) is not None
    assert runner.invoke(app, command).exit_code == 0  # applied: nothing left to block
    assert "--allow-mass-expiry" not in runner.invoke(app, ["audit", "--help"]).stdout  # enforce only
    assert "RISK" in runner.invoke(app, ["enforce", "--help"]).stdout


# --- the horizon: what the policy deletes within enforcement.lifecycle_guard.horizon_days -----------------

# Rule 1 archives every image a day after its push; rule 2 deletes what has been archived for a day. At the
# instant of the put it expires nothing, yet within a few days every image is gone.
ARCHIVE_THEN_EXPIRE = {
    "raw": {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "any",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 1,
                },
                "action": {"type": "transition", "targetStorageClass": "archive"},
            },
            {
                "rulePriority": 2,
                "selection": {
                    "tagStatus": "any",
                    "storageClass": "archive",
                    "countType": "sinceImageTransitioned",
                    "countUnit": "days",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            },
        ]
    }
}


def expire_archived_after(days: int) -> dict[str, Any]:
    """A policy of one rule: delete images archived for more than ``days`` days."""
    selection = {
        "tagStatus": "any",
        "storageClass": "archive",
        "countType": "sinceImageTransitioned",
        "countUnit": "days",
        "countNumber": days,
    }
    return {"raw": {"rules": [{"rulePriority": 1, "selection": selection, "action": {"type": "expire"}}]}}


def archive_images(clients: AwsClients, count: int, archived_days_ago: float) -> None:
    """DescribeImages as ECR answers once the oldest ``count`` images were archived that long ago.

    moto has no storage classes: its answer gains ECR's ``imageStatus`` and ``lastArchivedAt``, and, as ECR,
    leaves archived images out unless the request's ``filter.imageStatus`` asks for them.
    """
    archived = {digest(index) for index in range(count)}
    archived_at = datetime.now(UTC) - timedelta(days=archived_days_ago)

    def remember_filter(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["image_status"] = params.get("filter", {}).get("imageStatus", "ACTIVE")

    def add_storage(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        for detail in parsed["imageDetails"]:
            if detail["imageDigest"] in archived:
                detail.update(imageStatus="ARCHIVED", lastArchivedAt=archived_at)
            else:
                detail["imageStatus"] = "ACTIVE"
        wanted = context["image_status"]
        parsed["imageDetails"] = [
            detail for detail in parsed["imageDetails"] if wanted in ("ANY", detail["imageStatus"])
        ]

    clients.ecr.meta.events.register("provide-client-params.ecr.DescribeImages", remember_filter)
    clients.ecr.meta.events.register("after-call.ecr.DescribeImages", add_storage)


def test_archive_then_expire_is_blocked_though_nothing_expires_at_once(
    busy: str, clients: AwsClients, run: Runner, calls: AwsCalls
) -> None:
    accept_archive_rules(clients)

    [finding] = run(
        Mode.ENFORCE, state=state_of(repositories={busy: {"lifecycle": ARCHIVE_THEN_EXPIRE}})
    ).findings

    assert finding.action is Action.BLOCKED
    assert (
        "it would delete 600 of 600 images within 30 days (0 expired directly, 600 archived then expired, "
        "0 already archived) where lifecycle_guard allows 500 and 50%, oldest first: "
        f"{digest(0)} (v0), {digest(1)} (v1), {digest(2)} (v2)"
    ) in finding.message
    assert calls.writes == []


def test_already_archived_images_are_counted(
    busy: str, clients: AwsClients, run: Runner, calls: AwsCalls
) -> None:
    accept_archive_rules(clients)
    archive_images(clients, IMAGES, archived_days_ago=120)

    [finding] = run(
        Mode.ENFORCE, state=state_of(repositories={busy: {"lifecycle": expire_archived_after(1)}})
    ).findings

    assert finding.action is Action.BLOCKED
    assert (
        "it would delete 600 of 600 images within 30 days "
        "(0 expired directly, 0 archived then expired, 600 already archived)"
    ) in finding.message
    assert calls.writes == []
    [listing] = [call for call in calls.calls if call.operation == "DescribeImages"]
    assert listing.params["filter"] == {"imageStatus": "ANY"}  # ECR lists only ACTIVE images by default


def test_deleting_a_few_archived_images_is_applied(busy: str, clients: AwsClients, run: Runner) -> None:
    accept_archive_rules(clients)
    archive_images(clients, 10, archived_days_ago=120)

    [finding] = run(
        Mode.ENFORCE, state=state_of(repositories={busy: {"lifecycle": expire_archived_after(1)}})
    ).findings

    assert finding.action is Action.REMEDIATED


@pytest.mark.parametrize(("horizon_days", "action"), [(30, Action.REMEDIATED), (60, Action.BLOCKED)])
def test_a_deletion_counts_only_within_the_horizon(
    busy: str, clients: AwsClients, run: Runner, horizon_days: int, action: Action
) -> None:
    """Archived 50.5 days ago and deleted after 90 days in archive: every image goes on day 40."""
    accept_archive_rules(clients)
    archive_images(clients, IMAGES, archived_days_ago=50.5)
    state = state_of(
        enforcement={"lifecycle_guard": {"horizon_days": horizon_days}},
        repositories={busy: {"lifecycle": expire_archived_after(90)}},
    )

    [finding] = run(Mode.ENFORCE, state=state).findings

    assert finding.action is action
    if action is Action.BLOCKED:
        assert "it would delete 600 of 600 images within 60 days" in finding.message
