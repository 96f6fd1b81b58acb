"""A recorder of every call a boto3 client makes, through botocore's ``before-call`` event hooks.

Independent of the code under test on purpose: it classifies writes itself, from the operation name.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Operations that change nothing, by name; every other operation counts as a write.
READ_PREFIXES = ("Describe", "Get", "List", "BatchGet", "Validate")


@dataclass(frozen=True)
class Call:
    operation: str
    params: dict[str, Any]

    @property
    def is_write(self) -> bool:
        return not self.operation.startswith(READ_PREFIXES)


@dataclass
class AwsCalls:
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def attach(self, client: Any) -> AwsCalls:
        client.meta.events.register("before-call.*.*", self._record)
        return self

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b"{}"  # ECR speaks JSON: the request body is the API parameters
        with self._lock:
            self.calls.append(Call(model.name, json.loads(body)))

    @property
    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.is_write]

    @property
    def operations(self) -> Counter[str]:
        return Counter(c.operation for c in self.calls)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
