"""IAM documents the stack builds, as dicts rendered with json.dumps (never hand-written JSON)."""

from __future__ import annotations

import json


def service_trust_policy(service: str) -> str:
    """A trust policy letting one AWS service (e.g. ``lambda.amazonaws.com``) assume the role."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
