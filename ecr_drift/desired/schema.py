"""The JSON Schema of ``desired_state.json``, from the models; a test keeps the committed copy current."""

from __future__ import annotations

import json
from typing import Any

from ecr_drift.desired.models import DesiredState

SCHEMA_FILE = "desired_state.schema.json"


def desired_state_schema() -> dict[str, Any]:
    schema = DesiredState.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/ecr-drift-enforcer/ecr-drift-enforcer/desired_state.schema.json",
        "title": "ecr-drift-enforcer desired state",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def render_schema() -> str:
    return json.dumps(desired_state_schema(), indent=2, sort_keys=True) + "\n"
