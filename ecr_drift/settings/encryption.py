"""Encryption: ``encryption``, read from DescribeRepositories. Fixed when a repository is created, so drift
is reported and never remediated (the fix would be recreating the repository)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecr_drift.desired.models import RepositorySettings
from ecr_drift.settings.base import RepositorySetting
from ecr_drift.state import ObservedRepository, RepositoryOptions

Value = dict[str, str]


class Encryption(RepositorySetting[Value]):
    name = "encryption"
    title = "encryption"
    fields = ("encryption",)
    # With a KMS key, ECR checks the key and creates a grant on it.
    creation_iam_actions = ("kms:CreateGrant", "kms:DescribeKey")
    report_only = "encryption differs; it is set at creation, so it is reported, never remediated"

    def desired(self, settings: RepositorySettings, options: RepositoryOptions) -> Value | None:
        if settings.encryption is None:
            return None
        key = settings.encryption.kms_key
        return {"type": settings.encryption.type, **({"kms_key": key} if key else {})}

    def actual(self, value: Value, observed: ObservedRepository) -> Any:
        return canonical(observed.description.get("encryptionConfiguration"))

    def in_line(self, expected: Any, actual: Any) -> bool:
        # Without a kms_key, KMS means "whatever key": ECR reports the AWS managed key's ARN then.
        return bool(
            expected["type"] == actual.get("type")
            and ("kms_key" not in expected or expected["kms_key"] == actual.get("kms_key"))
        )

    def creation_parameters(self, value: Value) -> dict[str, Any]:
        return {"encryptionConfiguration": api(value)}

    def template_parameters(self, value: Value) -> dict[str, Any]:
        return {"encryptionConfiguration": api(value)}

    def template_canonical(self, template: Mapping[str, Any]) -> Any:
        return canonical(template.get("encryptionConfiguration"))


def api(value: Value) -> dict[str, str]:
    return {"encryptionType": value["type"], **({"kmsKey": value["kms_key"]} if "kms_key" in value else {})}


def canonical(configuration: Mapping[str, Any] | None) -> Value:
    """From an ``encryptionConfiguration``; ECR's default is AES256."""
    configuration = configuration or {"encryptionType": "AES256"}
    key = configuration.get("kmsKey")
    return {"type": configuration["encryptionType"], **({"kms_key": key} if key else {})}


SPEC = Encryption()
