"""The registry policy: ``registry.policy_statements``, built by ``ecr_drift.documents.registry_policy`` (the
text Pulumi sends too); ``[]`` means the registry must have none. Read with GetRegistryPolicy."""

from __future__ import annotations

from typing import Any

from ecr_drift.desired.models import DesiredState
from ecr_drift.documents.canonical_json import canonical_or_text
from ecr_drift.documents.iam_policy import removes_statements
from ecr_drift.documents.registry_policy import (
    WHAT,
    build_registry_policy,
    canonical_registry_policy,
    render_registry_policy,
)
from ecr_drift.settings.base import RegistrySetting
from ecr_drift.state import Call, ObservedRegistry, Read, Write

NOT_FOUND = "RegistryPolicyNotFoundException"
READ = Read("GetRegistryPolicy", absent=NOT_FOUND)
PUT = "PutRegistryPolicy"
DELETE = "DeleteRegistryPolicy"

Document = dict[str, Any]


class RegistryPolicy(RegistrySetting[Document]):
    name = "registry_policy"
    title = "registry policy"
    fields = ("registry.policy_statements",)
    reads = (READ,)
    writes = (Write(PUT, subtractive=True), Write(DELETE, subtractive=True))
    events = (PUT, DELETE)
    severity = "HIGH"

    def desired(self, state: DesiredState) -> Document | None:
        statements = state.registry.policy_statements
        return None if statements is None else build_registry_policy(statements)

    def expected(self, value: Document, observed: ObservedRegistry | None) -> Any:
        return canonical_registry_policy(value) if value["Statement"] else None

    def actual(self, value: Document, observed: ObservedRegistry) -> Any:
        return canonical_or_text(_text(observed), canonical_registry_policy)

    def calls(self, value: Document, observed: ObservedRegistry) -> list[Call]:
        if not value["Statement"]:
            return [Call(DELETE, {}, subtractive=True, absent_ok=NOT_FOUND)]
        text = _text(observed)
        subtractive = removes_statements(text, value, WHAT)
        return [Call(PUT, {"policyText": render_registry_policy(value)}, subtractive=subtractive)]


def _text(observed: ObservedRegistry) -> str | None:
    response = observed.reads.get(READ)
    return response["policyText"] if response else None


SPEC = RegistryPolicy()
