"""The committed JSON Schema is current, and it accepts the example."""

from __future__ import annotations

import json

import jsonschema

from ecr_drift.desired.schema import SCHEMA_FILE, desired_state_schema, render_schema
from tests.conftest import EXAMPLE_PATH, ROOT


def test_committed_schema_is_current() -> None:
    committed = (ROOT / SCHEMA_FILE).read_text()
    assert committed == render_schema(), "desired_state.schema.json is stale: run `make schema`"


def test_schema_accepts_the_example_and_rejects_an_unknown_field() -> None:
    example = json.loads(EXAMPLE_PATH.read_text())
    validator = jsonschema.Draft202012Validator(desired_state_schema())
    validator.validate(example)
    example["defaults"]["scan_on_pusj"] = True
    assert not validator.is_valid(example)


def test_example_points_editors_at_the_schema() -> None:
    assert json.loads(EXAMPLE_PATH.read_text())["$schema"] == f"./{SCHEMA_FILE}"
