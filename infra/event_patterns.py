"""The EventBridge patterns that wake the enforcer, as plain dicts (tested by routing events through moto).

The watched calls are the router's (``ecr_drift.events.watched_calls``, from the settings' declarations), so a
call the enforcer acts on is never filtered out before it arrives, and no call it ignores costs an invocation.
"""

from __future__ import annotations

from typing import Any

from ecr_drift.events import API_CALL, ECR_EVENT_SOURCE, SERVICE_EVENT, watched_calls


def api_call_pattern(enforcer_role_arn: str) -> dict[str, Any]:
    """Successful ECR write calls made by anyone but the enforcer itself."""
    issuer_arn = ("userIdentity", "sessionContext", "sessionIssuer", "arn")
    return {
        "source": ["aws.ecr"],
        "detail-type": [API_CALL],
        "detail": {
            "eventSource": [ECR_EVENT_SOURCE],
            "eventName": list(watched_calls()),
            "errorCode": [{"exists": False}],  # a failed call changed nothing
            # `anything-but` never matches a missing field, and root and IAM users have no sessionIssuer:
            # `$or` with `exists: false` keeps their calls. The router still drops the enforcer's own.
            "$or": [
                _nested(issuer_arn, [{"anything-but": [enforcer_role_arn]}]),
                _nested(issuer_arn, [{"exists": False}]),
            ],
        },
    }


def repository_created_pattern() -> dict[str, Any]:
    """Repositories ECR creates itself (first pull through a cache rule, create on push)."""
    return {
        "source": ["aws.ecr"],
        "detail-type": [SERVICE_EVENT],
        "detail": {"eventSource": [ECR_EVENT_SOURCE], "eventName": ["CreateRepository"]},
    }


def _nested(path: tuple[str, ...], leaf: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"a": {"b": leaf}}`` for the path ("a", "b")."""
    head, *rest = path
    return {head: _nested(tuple(rest), leaf) if rest else leaf}
