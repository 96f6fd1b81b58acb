"""Who the enforcer runs as: its own CloudTrail events must never trigger it again."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

# A Lambda's credentials are an assumed-role session of its execution role.
_ASSUMED_ROLE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>[0-9]{12}):assumed-role/(?P<name>[^/]+)/.+$"
)


def caller_role_arn(sts: STSClient) -> str | None:
    """The IAM role behind the caller's credentials (STS GetCallerIdentity); None when they are not a
    role's. The ARN has no path (a session ARN does not carry it): roles are matched by account and name."""
    match = _ASSUMED_ROLE.fullmatch(sts.get_caller_identity()["Arn"])
    if match is None:
        return None
    return f"arn:{match['partition']}:iam::{match['account']}:role/{match['name']}"
