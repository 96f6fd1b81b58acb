"""The baseline component on a desired state with what the example lacks: unmanaged fields, ``lifecycle: []``,
KMS, push access, and patterns that do and do not translate into creation templates."""

from __future__ import annotations

import json

import pytest

from handler.desired import DesiredState, load_desired_state_text
from infra.components.baseline import BaselineArgs, RegistryBaseline, applied_for, template_prefix
from tests.conftest import ACCOUNT_ID, REGION
from tests.infra.conftest import StackRun, run_under_mocks

KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
STATE = {
    "version": 1,
    "registry": {"pull_through_cache": {"quay": {"upstream_registry_url": "quay.io"}}},
    "defaults": {"tags": {"managed-by": "ecr-drift-enforcer"}},
    "repositories": {
        "bare": {},
        "no-lifecycle": {"lifecycle": [], "scan_on_push": False},
        "kms-repo": {"encryption": {"type": "KMS", "kms_key": KMS_KEY}, "push_account_ids": ["111122223333"]},
    },
    "repository_patterns": {
        "quay/*": {
            "image_tag_mutability": "IMMUTABLE",
            "image_tag_mutability_exclusions": ["latest", "dev-*"],
        },
        "team-a/*": {"image_tag_mutability": "MUTABLE"},
        "apps/svc-*": {"scan_on_push": True},
    },
}


@pytest.fixture(scope="module")
def state() -> DesiredState:
    return load_desired_state_text(json.dumps(STATE))


@pytest.fixture(scope="module")
def run(state: DesiredState) -> StackRun:
    args = BaselineArgs(
        state=state,
        account_id=ACCOUNT_ID,
        region=REGION,
        adopt_existing_repositories=False,
        protect_repositories=False,
    )
    return run_under_mocks("test", {"aws:region": REGION}, lambda: RegistryBaseline("registry", args))


def test_unmanaged_fields_are_left_out(run: StackRun) -> None:
    inputs = run.one("aws:ecr/repository:Repository", "bare").inputs
    for field in ("imageScanningConfiguration", "imageTagMutability", "encryptionConfigurations"):
        assert field not in inputs
    assert inputs["tags"] == {"managed-by": "ecr-drift-enforcer"}
    assert not run.of_type("aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration")


def test_an_empty_lifecycle_means_no_policy_resource(run: StackRun) -> None:
    assert run.one("aws:ecr/repository:Repository", "no-lifecycle").inputs["imageScanningConfiguration"] == {
        "scanOnPush": False
    }
    assert not run.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")


def test_kms_encryption_and_push_access(run: StackRun) -> None:
    inputs = run.one("aws:ecr/repository:Repository", "kms-repo").inputs
    assert inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": KMS_KEY}]
    (policy,) = run.of_type("aws:ecr/repositoryPolicy:RepositoryPolicy")
    sids = [s["Sid"] for s in json.loads(policy.inputs["policy"])["Statement"]]
    assert sids == ["CrossAccountPull", "CrossAccountPush"]


def test_templates_for_namespace_patterns_only(run: StackRun) -> None:
    templates = {
        t.inputs["prefix"]: t.inputs
        for t in run.of_type("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
    }
    assert templates.keys() == {"quay", "team-a"}
    assert templates["quay"]["appliedFors"] == ["PULL_THROUGH_CACHE"]
    assert templates["quay"]["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert templates["quay"]["imageTagMutabilityExclusionFilters"] == [
        {"filter": "dev-*", "filterType": "WILDCARD"},
        {"filter": "latest", "filterType": "WILDCARD"},
    ]
    assert templates["team-a"]["appliedFors"] == ["CREATE_ON_PUSH"]
    assert templates["team-a"]["imageTagMutability"] == "MUTABLE"
    assert "lifecyclePolicy" not in templates["team-a"]
    role_policy = json.loads(
        run.one("aws:iam/rolePolicy:RolePolicy", "creation-template-role-policy").inputs["policy"]
    )
    assert role_policy["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["ecr:CreateRepository", "ecr:TagResource"],
            "Resource": [
                f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/quay/*",
                f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/team-a/*",
            ],
        }
    ]


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [("quay/*", "quay"), ("ecr-public/library/*", "ecr-public/library"), ("apps/svc-*", None), ("*", None)],
)
def test_template_prefix(pattern: str, prefix: str | None) -> None:
    assert template_prefix(pattern) == prefix


@pytest.mark.parametrize(
    ("pattern", "applied"),
    [
        ("quay/*", "PULL_THROUGH_CACHE"),
        ("quay/library/*", "PULL_THROUGH_CACHE"),
        ("quayside/*", "CREATE_ON_PUSH"),
        ("team-a/*", "CREATE_ON_PUSH"),
    ],
)
def test_applied_for(pattern: str, applied: str) -> None:
    assert applied_for(pattern, ["quay"]) == applied
