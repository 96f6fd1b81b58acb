"""Per-repository scan on push: ``scan_on_push``, read from DescribeRepositories."""

from __future__ import annotations

from typing import Any

from ecr_drift.desired.models import RepositorySettings
from ecr_drift.settings.base import RepositoryEvent, RepositorySetting
from ecr_drift.state import Call, ObservedRepository, RepositoryOptions, Write

PUT = "PutImageScanningConfiguration"


class ScanOnPush(RepositorySetting[bool]):
    name = "scan_on_push"
    title = "scan on push"
    fields = ("scan_on_push",)
    writes = (Write(PUT),)
    events = (RepositoryEvent(PUT),)

    def desired(self, settings: RepositorySettings, options: RepositoryOptions) -> bool | None:
        return settings.scan_on_push

    def actual(self, value: bool, observed: ObservedRepository) -> Any:
        return bool(observed.description.get("imageScanningConfiguration", {}).get("scanOnPush", False))

    def calls(self, name: str, value: bool, observed: ObservedRepository | None) -> list[Call]:
        if observed is None:  # set by CreateRepository
            return []
        return [Call(PUT, {"repositoryName": name, "imageScanningConfiguration": {"scanOnPush": value}})]

    def creation_parameters(self, value: bool) -> dict[str, Any]:
        return {"imageScanningConfiguration": {"scanOnPush": value}}


SPEC = ScanOnPush()
