"""Replication: ``registry.replication``, compiled by ``ecr_drift.documents.replication``; read from
DescribeRegistry, written with PutReplicationConfiguration (an empty rule list: no replication)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecr_drift.desired.models import DesiredState, ReplicationRule
from ecr_drift.documents.replication import canonical_replication, replication_configuration
from ecr_drift.settings.base import RegistrySetting
from ecr_drift.state import Call, ObservedRegistry, Read, Write

READ = Read("DescribeRegistry")
PUT = "PutReplicationConfiguration"
# The first configuration creates AWSServiceRoleForECRReplication.
SERVICE_LINKED_ROLE = "replication.ecr.amazonaws.com"
# Shown as the account of destinations without `account_id` while the registry's own id is unknown.
THIS_ACCOUNT = "this-account"

Rules = Sequence[ReplicationRule]


class Replication(RegistrySetting[Rules]):
    name = "replication"
    title = "replication configuration"
    fields = ("registry.replication",)
    reads = (READ,)
    writes = (Write(PUT, service_linked_roles=(SERVICE_LINKED_ROLE,), subtractive=True),)
    events = (PUT,)
    severity = "MEDIUM"

    def desired(self, state: DesiredState) -> Rules | None:
        return state.registry.replication

    def expected(self, value: Rules, observed: ObservedRegistry | None) -> Any:
        return canonical_replication(replication_configuration(value, _account(observed)))

    def actual(self, value: Rules, observed: ObservedRegistry) -> Any:
        return canonical_replication(observed.reads[READ].get("replicationConfiguration") or {})

    def problem(self, value: Rules, observed: ObservedRegistry) -> str | None:
        account = _account(observed)
        itself = sorted(
            destination.region
            for rule in value
            for destination in rule.destinations
            if destination.region == observed.region and (destination.account_id or account) == account
        )
        if itself:
            return (
                f"a destination ({itself[0]}, this account) is this registry: ECR rejects replicating to it"
            )
        return None

    def calls(self, value: Rules, observed: ObservedRegistry) -> list[Call]:
        configuration = replication_configuration(value, _account(observed))
        kept = canonical_replication(configuration)["rules"]
        before = self.actual(value, observed)["rules"]
        subtractive = any(rule not in kept for rule in before)
        return [Call(PUT, {"replicationConfiguration": configuration}, subtractive=subtractive)]


def _account(observed: ObservedRegistry | None) -> str:
    response = observed.reads.get(READ) if observed is not None else None
    return str(response["registryId"]) if response else THIS_ACCOUNT


SPEC = Replication()
