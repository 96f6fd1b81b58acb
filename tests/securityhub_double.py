"""Security Hub on moto, closer to AWS where the enforcer depends on it: moto lacks BatchUpdateFindings, and
its GetFindings ignores ``Filters`` (every query answers with every finding), which would hide what a query
costs.

Both doubles are botocore ``before-call`` hooks that answer instead of moto's endpoint, over moto's store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

from ecr_drift.aws.clients import AwsClients
from tests.conftest import ACCOUNT_ID, REGION


def _store() -> Any:
    from moto.securityhub.models import securityhub_backends

    return securityhub_backends[ACCOUNT_ID][REGION]


def _answer(parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse("", 200, HTTPHeaders(), None), parsed


class BatchUpdateFindingsDouble:
    """moto lacks BatchUpdateFindings: record the calls, set the workflow in moto's store as AWS would."""

    def __init__(self, clients: AwsClients) -> None:
        self.calls: list[dict[str, Any]] = []
        clients.securityhub.meta.events.register(
            "before-call.securityhub.BatchUpdateFindings",
            self,  # type: ignore[arg-type]  # a before-call hook may answer instead of AWS
        )

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = json.loads(params["body"])  # before-call sees the serialised request
        self.calls.append(params)
        ids = {i["Id"] for i in params["FindingIdentifiers"]}
        for finding in _store().findings:
            if finding.id in ids:
                finding.data["Workflow"] = params["Workflow"]
        return _answer({"ProcessedFindings": params["FindingIdentifiers"], "UnprocessedFindings": []})

    @property
    def resolved(self) -> list[str]:
        return [i["Id"] for call in self.calls for i in call["FindingIdentifiers"]]


class GetFindingsDouble:
    """GetFindings over moto's store with the ``ProductFields`` filter applied (EQUALS filters of one field
    are ORed, as in AWS) and pages of ``MaxResults``, so that a query returns, and costs, what AWS's would.
    The other filters are left out: the enforcer checks them again on what it gets."""

    def __init__(self, clients: AwsClients) -> None:
        clients.securityhub.meta.events.register(
            "before-call.securityhub.GetFindings",
            self,  # type: ignore[arg-type]  # a before-call hook may answer instead of AWS
        )

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        request = json.loads(params["body"])
        wanted = {(f["Key"], f["Value"]) for f in request.get("Filters", {}).get("ProductFields", [])}
        matching = [
            f.as_dict()
            for f in _store().findings
            if not wanted or wanted & set(f.as_dict().get("ProductFields", {}).items())
        ]
        start, size = int(request.get("NextToken", 0)), request.get("MaxResults", 100)
        end = start + size
        return _answer(
            {"Findings": matching[start:end]} | ({"NextToken": str(end)} if end < len(matching) else {})
        )


@dataclass
class FakeTime:
    """A clock for ``securityhub.Pacer`` that moves when slept on, or when a test moves ``now``."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
