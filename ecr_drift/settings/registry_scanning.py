"""Registry scanning: ``registry.scanning`` (scan type, rules); read with GetRegistryScanningConfiguration."""

from __future__ import annotations

from typing import Any

from ecr_drift.desired.models import DesiredState, RegistryScanning
from ecr_drift.documents.canonical_json import dumps
from ecr_drift.settings.base import RegistrySetting
from ecr_drift.state import Call, ObservedRegistry, Read, Write

READ = Read("GetRegistryScanningConfiguration")
PUT = "PutRegistryScanningConfiguration"
# Switching between BASIC and ENHANCED turns Amazon Inspector's ECR scanning on or off, and turning it on
# creates Inspector's service-linked role (ECR user guide, "IAM permissions required for enhanced scanning").
INSPECTOR_ACTIONS = ("inspector2:Disable", "inspector2:Enable", "inspector2:ListAccountPermissions")
INSPECTOR_SERVICE_LINKED_ROLE = "inspector2.amazonaws.com"


class RegistryScanningSetting(RegistrySetting[RegistryScanning]):
    name = "registry_scanning"
    title = "registry scanning configuration"
    fields = ("registry.scanning",)
    reads = (READ,)
    writes = (
        Write(
            PUT,
            implied_iam_actions=INSPECTOR_ACTIONS,
            service_linked_roles=(INSPECTOR_SERVICE_LINKED_ROLE,),
        ),
    )
    events = (PUT,)

    def desired(self, state: DesiredState) -> RegistryScanning | None:
        return state.registry.scanning

    def expected(self, value: RegistryScanning, observed: ObservedRegistry | None) -> Any:
        return _canonical(value.scan_type, [(rule.frequency, rule.filters) for rule in value.rules])

    def actual(self, value: RegistryScanning, observed: ObservedRegistry) -> Any:
        configuration = observed.reads[READ].get("scanningConfiguration", {})
        # filterType is always WILDCARD.
        rules = [
            (rule["scanFrequency"], [f["filter"] for f in rule.get("repositoryFilters", [])])
            for rule in configuration.get("rules", [])
        ]
        return _canonical(configuration.get("scanType", "BASIC"), rules)

    def calls(self, value: RegistryScanning, observed: ObservedRegistry) -> list[Call]:
        rules = [
            {
                "scanFrequency": rule.frequency,
                "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in rule.filters],
            }
            for rule in value.rules
        ]
        return [Call(PUT, {"scanType": value.scan_type, "rules": rules})]


def _canonical(scan_type: str, rules: list[tuple[str, list[str]]]) -> dict[str, Any]:
    # Neither rule order nor filter order (nor a repeated filter) means anything to ECR.
    canonical = [{"frequency": frequency, "filters": sorted(set(filters))} for frequency, filters in rules]
    return {"scan_type": scan_type, "rules": sorted(canonical, key=dumps)}


SPEC = RegistryScanningSetting()
