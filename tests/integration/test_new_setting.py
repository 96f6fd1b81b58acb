"""Adding a setting is one new module: this test defines a throwaway one here, registers it, and sees it
observed, diffed, remediated and routed, and in the role and the EventBridge pattern, with no other change.

The throwaway setting: every managed repository carries a ``cost-center`` tag naming its namespace. It
shares the tags setting's read (made once however many settings need it) and watches a call name that no
other setting declares, so routing that call can only come from its declaration.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ecr_drift.desired import DesiredState
from ecr_drift.desired.models import RepositorySettings
from ecr_drift.events import route, watched_calls
from ecr_drift.findings import Action
from ecr_drift.role import required_iam_actions
from ecr_drift.settings import register, tags, unregister
from ecr_drift.settings.base import RepositoryEvent, RepositorySetting
from ecr_drift.state import Call, ObservedRepository, RepositoryOptions, Write
from ecr_drift.targets import Mode, Target
from infra.event_patterns import api_call_pattern
from tests.aws_calls import AwsCalls
from tests.integration.conftest import Runner

KEY = "cost-center"
CALL = "PutRepositoryCostCenter"  # a call only this setting watches


class CostCenterTag(RepositorySetting[str]):
    name = "cost_center_tag"
    title = "cost-center tag"
    fields = ("tags",)
    reads = (tags.READ,)
    writes = (Write("TagResource"),)
    events = (RepositoryEvent(CALL),)

    def desired(self, settings: RepositorySettings, options: RepositoryOptions) -> str | None:
        return "platform"

    def actual(self, value: str, observed: ObservedRepository) -> Any:
        present = {t["Key"]: t["Value"] for t in observed.reads[tags.READ]["tags"]}
        return present.get(KEY)

    def calls(self, name: str, value: str, observed: ObservedRepository | None) -> list[Call]:
        if observed is None:
            return []
        return [Call("TagResource", {"resourceArn": observed.arn, "tags": [{"Key": KEY, "Value": value}]})]


STATE = DesiredState.model_validate(
    {"version": 1, "defaults": {"tags": {"team": "platform"}}, "repositories": {"team/api": {}}}
)


@pytest.fixture
def cost_center() -> Iterator[CostCenterTag]:
    setting = CostCenterTag()
    register(setting)
    yield setting
    unregister(setting)


def api_call(name: str, repository: str) -> dict[str, Any]:
    return {
        "source": "aws.ecr",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventName": name,
            "eventSource": "ecr.amazonaws.com",
            "userIdentity": {"arn": "arn:aws:iam::123456789012:user/someone"},
            "requestParameters": {"repositoryName": repository},
        },
    }


def test_a_setting_in_one_file_is_observed_diffed_remediated_and_routed(
    cost_center: CostCenterTag, ecr: Any, run: Runner, calls: AwsCalls
) -> None:
    ecr.create_repository(repositoryName="team/api", tags=[{"Key": "team", "Value": "platform"}])
    target = Target("test", ("team/api",))

    audit = run(Mode.AUDIT, target=target, state=STATE)
    assert [(f.setting, f.expected, f.actual, f.action) for f in audit.findings] == [
        ("cost_center_tag", "platform", None, Action.DRIFT)
    ]
    assert calls.operations["ListTagsForResource"] == 1  # shared with the tags setting: read once

    calls.clear()
    enforce = run(Mode.ENFORCE, target=target, state=STATE)
    assert [(f.setting, f.action) for f in enforce.findings] == [("cost_center_tag", Action.REMEDIATED)]
    assert [c.operation for c in calls.writes] == ["TagResource"]
    arn = ecr.describe_repositories(repositoryNames=["team/api"])["repositories"][0]["repositoryArn"]
    assert {"Key": KEY, "Value": "platform"} in ecr.list_tags_for_resource(resourceArn=arn)["tags"]
    assert run(Mode.ENFORCE, target=target, state=STATE).findings == []

    routed = route(api_call(CALL, "team/api"), state=STATE, own_role_arn=None)
    assert isinstance(routed, Target)
    assert routed.repositories == ("team/api",)
    assert CALL in watched_calls()
    assert CALL in api_call_pattern("arn:aws:iam::123456789012:role/enforcer")["detail"]["eventName"]
    assert "ecr:TagResource" in required_iam_actions()


def test_an_unregistered_setting_is_gone_everywhere() -> None:
    setting = CostCenterTag()
    register(setting)
    unregister(setting)
    assert CALL not in watched_calls()
    assert route(api_call(CALL, "team/api"), state=STATE, own_role_arn=None).__class__.__name__ == "Ignored"
    with pytest.raises(ValueError, match="registered already"):
        register(tags.SPEC)
