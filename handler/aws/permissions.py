"""The IAM actions the enforcer needs, derived from the code that makes the calls. Pulumi builds the role
from :func:`required_iam_actions`."""

from __future__ import annotations

from handler.aws.observe import READ_IAM_ACTIONS
from handler.aws.remediate import iam_actions as remediation_iam_actions
from handler.publish import PUBLISH_IAM_ACTIONS


def required_iam_actions() -> list[str]:
    """Every action a run may call: reads, each remediation unit's actions and the publishers'."""
    return sorted({*READ_IAM_ACTIONS, *remediation_iam_actions(), *PUBLISH_IAM_ACTIONS})
