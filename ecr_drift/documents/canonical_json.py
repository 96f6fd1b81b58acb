"""The one deterministic JSON text, and parsing AWS policy text with errors that say where it is broken."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def dumps(value: Any) -> str:
    """Sorted keys, no whitespace, ASCII only: equal values always give byte-identical text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def loads_object(text: str, what: str) -> dict[str, Any]:
    """Parse ``text`` as a JSON object; ``what`` names the document in the ``ValueError``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{what} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def canonical_or_text(text: str | None, canonical: Callable[[str], dict[str, Any]]) -> Any:
    """The canonical form of an observed document; its raw text when it is not one (shown, then rewritten)."""
    if text is None:
        return None
    try:
        return canonical(text)
    except ValueError:
        return text
