"""The base of every model that parses user input: unknown fields are errors, values are not coerced."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    # A typo such as "scan_on_pusj" must be an error, never a silently unmanaged setting.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
