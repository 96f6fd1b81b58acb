"""How a finding reads for people: shared by the SNS message and the Security Hub description."""

from __future__ import annotations

import json
from typing import Any

from ecr_drift.findings import Finding, Origin


def value_text(value: Any, limit: int = 300) -> str:
    """A canonical value as compact JSON, cut at ``limit`` characters."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def origin_text(origin: Origin | None) -> str | None:
    """``changed by … from … at … (EventName, event …)``, or None when no CloudTrail event is known."""
    if origin is None or not origin.principal_arn:
        return None
    parts = [f"changed by {origin.principal_arn}"]
    if origin.source_ip:
        parts.append(f"from {origin.source_ip}")
    if origin.event_time:
        parts.append(f"at {origin.event_time}")
    call = ", ".join(p for p in (origin.event_name, origin.event_id and f"event {origin.event_id}") if p)
    return " ".join(parts) + (f" ({call})" if call else "")


def finding_title(finding: Finding) -> str:
    return f"{finding.resource} / {finding.label}: {finding.action}"
