"""The baseline component on a desired state with what the example lacks: unmanaged fields, ``lifecycle: []``,
KMS, push access, and patterns that do and do not translate into creation templates."""

from __future__ import annotations

import copy
import json

import pytest

from ecr_drift.desired import DesiredState, load_desired_state_text
from ecr_drift.desired.resolution import overlay
from ecr_drift.documents.creation_template import applied_for, template_prefix
from ecr_drift.documents.replication import replication_configuration
from ecr_drift.documents.repository_documents import lifecycle_policy_text, repository_policy_text
from ecr_drift.settings import creation_templates as creation_templates_setting
from ecr_drift.settings import registry_policy
from ecr_drift.settings.creation_templates import creation_templates
from ecr_drift.state import ObservedRegistry
from infra.components.baseline import BaselineArgs, RegistryBaseline
from tests.conftest import ACCOUNT_ID, REGION
from tests.infra.conftest import StackRun, run_under_mocks

PARTNER = "111122223333"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
STATE = {
    "version": 1,
    "registry": {
        "pull_through_cache": {"quay": {"upstream_registry_url": "quay.io"}},
        "replication": [
            {"destinations": [{"region": "us-east-1"}, {"region": "eu-west-2", "account_id": PARTNER}]},
            {"destinations": [{"region": "eu-central-1"}], "repository_prefixes": ["team-a/", "quay"]},
        ],
        "policy_statements": [
            {
                "Sid": "ReplicationFromPartner",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
                "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/*",
            }
        ],
    },
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


def baseline(stack: str, state: DesiredState) -> StackRun:
    """The baseline component alone for ``state``, under Pulumi's mocks."""
    args = BaselineArgs(
        state=state,
        account_id=ACCOUNT_ID,
        region=REGION,
        adopt_existing_repositories=False,
        protect_repositories=False,
    )
    return run_under_mocks(stack, {"aws:region": REGION}, lambda: RegistryBaseline("registry", args))


@pytest.fixture(scope="module")
def run(state: DesiredState) -> StackRun:
    return baseline("test", state)


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


# ---- registry settings and templates: the enforcer's very bytes ------------------------------------------


def test_registry_policy_is_the_text_the_enforcer_puts(run: StackRun, state: DesiredState) -> None:
    (resource,) = run.of_type("aws:ecr/registryPolicy:RegistryPolicy")
    [put] = registry_policy.SPEC.calls(registry_policy.SPEC.desired(state) or {}, ObservedRegistry(REGION))
    assert resource.inputs["policy"] == put.parameters["policyText"]


def test_empty_registry_settings_declare_no_resource() -> None:
    document = {"version": 1, "registry": {"replication": [], "policy_statements": []}}
    empty = baseline("empty", load_desired_state_text(json.dumps(document)))
    assert not empty.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    assert not empty.of_type("aws:ecr/registryPolicy:RegistryPolicy")


def test_templates_are_what_the_enforcer_creates(run: StackRun, state: DesiredState) -> None:
    """Pulumi's template arguments and the enforcer's CreateRepositoryCreationTemplate come from one place."""
    created = {
        call.parameters["prefix"]: call.parameters
        for prefix, template in creation_templates(state).items()
        for call in creation_templates_setting.SPEC.item_calls(prefix, template, None)
    }
    deployed = {
        t.inputs["prefix"]: t.inputs
        for t in run.of_type("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
    }
    assert deployed.keys() == created.keys() == {"quay", "team-a"}
    for prefix, parameters in created.items():
        inputs = deployed[prefix]
        assert inputs["appliedFors"] == parameters["appliedFor"]
        assert inputs["description"] == parameters["description"]
        assert inputs["imageTagMutability"] == parameters["imageTagMutability"]
        assert inputs.get("lifecyclePolicy") == parameters.get("lifecyclePolicy")
        assert inputs.get("repositoryPolicy") == parameters.get("repositoryPolicy")
        assert inputs["resourceTags"] == {t["Key"]: t["Value"] for t in parameters["resourceTags"]}


def test_replication_inputs_are_exactly_the_compiled_configuration(
    run: StackRun, state: DesiredState
) -> None:
    (resource,) = run.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    assert state.registry.replication is not None
    # No prefixes: no repositoryFilters at all (ECR rejects an empty filter list).
    assert resource.inputs["replicationConfiguration"] == replication_configuration(
        state.registry.replication, ACCOUNT_ID
    )
    assert "repositoryFilters" not in resource.inputs["replicationConfiguration"]["rules"][0]


def test_absent_registry_settings_declare_no_resource() -> None:
    absent = baseline("absent", load_desired_state_text(json.dumps({"version": 1})))
    assert not absent.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    assert not absent.of_type("aws:ecr/registryPolicy:RegistryPolicy")


def test_template_policy_texts_are_byte_identical_with_the_shared_renderers() -> None:
    document = copy.deepcopy(STATE)
    document["repository_patterns"]["quay/*"].update(  # type: ignore[index]
        lifecycle=[{"tag_status": "untagged", "max_age_days": 3}, {"max_images": 20}],
        pull_account_ids=[PARTNER],
    )
    state = load_desired_state_text(json.dumps(document))
    run = baseline("policies", state)
    (template,) = [
        t
        for t in run.of_type("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
        if t.inputs["prefix"] == "quay"
    ]
    compiled = creation_templates(state)["quay"]
    settings = overlay(state.defaults, state.repository_patterns["quay/*"])
    assert (
        template.inputs["lifecyclePolicy"] == compiled["lifecyclePolicy"] == lifecycle_policy_text(settings)
    )
    assert (
        template.inputs["repositoryPolicy"]
        == compiled["repositoryPolicy"]
        == repository_policy_text(settings)
    )
