"""The lifecycle guard on a repository of 600 images: a (re)application that would expire more than
``enforcement.lifecycle_guard`` allows is blocked with its count and examples, unless a person runs
``ecr-drift enforce --allow-mass-expiry``; below the limits, and for archive transitions, it is applied.

The guard's basic case (4 images) is test_engine.py::test_lifecycle_guard_blocks_mass_expiry.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto.ecr.models import ecr_backends
from typer.testing import CliRunner

from handler.aws import lifecycle_guard
from handler.aws.clients import AwsClients
from handler.cli.app import app
from handler.findings import Action
from handler.targets import Mode
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


def test_mass_expiry_is_blocked_with_its_count_and_the_oldest_images(
    busy: str, ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    [finding] = run(Mode.ENFORCE, state=state_of(repositories={busy: {"lifecycle": KEEP_10}})).findings

    assert finding.action is Action.BLOCKED
    assert "it would expire 590 of 600 images at once" in finding.message
    assert "lifecycle_guard allows 500 and 50%" in finding.message
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

    def ecr_accepts(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        # moto 5 predates archive storage and rejects `targetStorageClass`; ECR accepts it.
        return AWSResponse("https://ecr.invalid/", 200, {}, None), {}  # type: ignore[arg-type]

    clients.ecr.meta.events.register("before-call.ecr.PutLifecyclePolicy", ecr_accepts)

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
    assert finding["message"].startswith("applied, mass expiry allowed: it would expire 590 of 600")
    assert stored_lifecycle(ecr, busy) is not None
    assert runner.invoke(app, command).exit_code == 0  # applied: nothing left to block
    assert "--allow-mass-expiry" not in runner.invoke(app, ["audit", "--help"]).stdout  # enforce only
    assert "RISK" in runner.invoke(app, ["enforce", "--help"]).stdout
