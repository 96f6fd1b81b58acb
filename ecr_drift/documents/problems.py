"""A problem found while validating input, located by its JSON path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    message: str

    def under(self, prefix: str) -> Problem:
        """The same problem seen from an enclosing document, whose path to this one is ``prefix``."""
        if not prefix:
            return self
        if not self.path:
            return Problem(prefix, self.message)
        joiner = "" if self.path.startswith("[") else "."
        return Problem(f"{prefix}{joiner}{self.path}", self.message)

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.message}"


class DocumentError(ValueError):
    """Raised by the compiler when its input would produce a document ECR rejects."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def join_path(*parts: str | int) -> str:
    """``join_path("repositories", "api", "lifecycle", 1)`` → ``repositories.api.lifecycle[1]``."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path


_SIMPLE_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-$")
# No key of the contract is longer (repository names); a longer one is shortened in paths, so that a
# 100,000-character key does not become a 100,000-character message.
_LONGEST_KEY = 256
_SHOWN_OF_A_LONG_KEY = 64


def path_key(key: str) -> str:
    """A mapping key as a path segment: plain when simple, quoted when it holds `.`, `/`, `*` and the like.

    Letters of any script show as themselves (``"café"``); what a terminal would hide or garble (control
    and format characters, odd spaces, lone surrogates) stays a ``\\u`` escape.
    """
    if len(key) > _LONGEST_KEY:
        return f'{_quoted(key[:_SHOWN_OF_A_LONG_KEY])[:-1]}…" ({len(key)} characters)'
    return key if key and set(key) <= _SIMPLE_KEY else _quoted(key)


def _quoted(key: str) -> str:
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in json.dumps(key, ensure_ascii=False))


# bool before int: True is an int to Python.
_JSON_TYPES = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "an object"),
)


def json_type(value: Any) -> str:
    """What kind of JSON value ``value`` is. A message names the type received, never the value: a secret
    pasted in the wrong place must not reach a log."""
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)
