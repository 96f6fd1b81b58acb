"""`ecr-drift import` on moto: whatever the account holds, the file it writes validates, an audit right after
finds nothing (no drift, no unmanaged repository) and an enforce writes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from typer.testing import CliRunner

from ecr_drift import engine
from ecr_drift.aws.clients import AwsClients
from ecr_drift.cli.app import app
from ecr_drift.cli.ecr_double import install_ecr_double, set_aws_document_rewriting
from ecr_drift.desired import DesiredState, RepositorySettings, load_desired_state_text, resolve
from ecr_drift.documents.repository_documents import lifecycle_policy_text
from ecr_drift.documents.repository_policy import PULL_ACTIONS
from ecr_drift.findings import Report
from ecr_drift.settings.creation_templates import creation_templates
from ecr_drift.targets import Mode, sweep
from tests.conftest import ACCOUNT_ID, REGION
from tests.integration.conftest import Runner

runner = CliRunner()


def imported() -> tuple[DesiredState, dict[str, Any], str]:
    """``ecr-drift import --output -`` on the account: the state, its JSON, and the summary on stderr."""
    result = runner.invoke(app, ["import", "--output", "-"])
    assert result.exit_code == 0, result.output
    return load_desired_state_text(result.stdout), json.loads(result.stdout), result.stderr


def assert_no_drift(audit: Report, enforce: Report) -> None:
    assert [(f.resource, f.setting, f.message) for f in audit.findings] == []
    assert [(f.resource, f.setting, f.message) for f in enforce.findings] == []
    assert enforce.writes == 0


# --- the demo's account ---------------------------------------------------------------------------------


def test_the_demos_account_comes_back_as_its_desired_state(
    baseline: Report, run: Runner, example_state: DesiredState
) -> None:
    state, document, summary = imported()
    assert_no_drift(run(Mode.AUDIT, state=state), run(Mode.ENFORCE, state=state))
    assert document["repositories"] == {
        "admin-dashboard": {"pull_account_ids": ["111122223333"]},
        "internal-dashboard": {"image_tag_mutability": "MUTABLE", "image_tag_mutability_exclusions": []},
        "temporal-worker": {},
        "utila-cosigner": {"tags": {"team": "custody"}},
    }
    assert state.defaults.lifecycle == example_state.defaults.lifecycle  # shorthand, as it was written
    assert state.repository_patterns == example_state.repository_patterns
    assert state.registry == example_state.registry.model_copy(update={"policy_statements": []})
    assert "imported 4 repositories" in summary


# --- generated accounts ---------------------------------------------------------------------------------

KMS_ALIAS = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/team"
LAMBDA = {
    "Sid": "LambdaECRImageRetrievalPolicy",
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}
PULL = {
    "Sid": "CrossAccountPull",
    "Effect": "Allow",
    "Principal": {"AWS": ["111122223333"]},
    "Action": list(PULL_ACTIONS),
}
DENY = {"Sid": "DenyDelete", "Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository"}
PUBLIC = {
    "Sid": "Anyone",
    "Effect": "Allow",
    "Principal": "*",
    "Action": ["ecr:BatchGetImage", "ecr:PutImage"],
}
RELEASES = [{"tag_status": "untagged", "max_age_days": 7}, {"tag_prefixes": ["v"], "max_images": 30}]
ANY_30_DAYS = [{"tag_status": "any", "max_age_days": 30}]
RENUMBERED = {  # priorities the shorthand does not number so: imported raw
    "rules": [
        {
            "rulePriority": 3,
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 2},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 7,
            "selection": {
                "tagStatus": "any",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 9,
            },
            "action": {"type": "expire"},
        },
    ]
}
MUTABILITIES = [("MUTABLE", ()), ("IMMUTABLE", ()), ("IMMUTABLE_WITH_EXCLUSION", ("latest",))]
ENCRYPTIONS = [
    {"encryptionType": "AES256"},
    {"encryptionType": "KMS"},
    {"encryptionType": "KMS", "kmsKey": KMS_ALIAS},
]
# A cache prefix's settings, as a pattern gives them; its template is the one the enforcer derives.
CACHED = {
    "image_tag_mutability": "MUTABLE",
    "lifecycle": ANY_30_DAYS,
    "tags": {"team": "a"},
    "encryption": {"type": "AES256"},
}


def lifecycle_document(rules: list[dict[str, Any]]) -> dict[str, Any]:
    settings = RepositorySettings.model_validate({"lifecycle": rules})
    return json.loads(lifecycle_policy_text(settings) or "{}")


@dataclass(frozen=True)
class Repository:
    """A repository to create, as someone might have set it up by hand."""

    name: str
    scan_on_push: bool = True
    mutability: tuple[str, tuple[str, ...]] = ("MUTABLE", ())
    lifecycle: dict[str, Any] | None = None
    statements: tuple[dict[str, Any], ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    encryption: dict[str, str] = field(default_factory=lambda: {"encryptionType": "AES256"})

    def create(self, ecr: Any) -> None:
        value, exclusions = self.mutability
        filters = [{"filter": f, "filterType": "WILDCARD"} for f in exclusions]
        ecr.create_repository(
            repositoryName=self.name,
            imageScanningConfiguration={"scanOnPush": self.scan_on_push},
            imageTagMutability=value,
            **({"imageTagMutabilityExclusionFilters": filters} if filters else {}),
            encryptionConfiguration=self.encryption,
            tags=[{"Key": k, "Value": v} for k, v in self.tags.items()],
        )
        if self.lifecycle is not None:
            ecr.put_lifecycle_policy(repositoryName=self.name, lifecyclePolicyText=json.dumps(self.lifecycle))
        if self.statements:
            policy = {"Version": "2012-10-17", "Statement": list(self.statements)}
            ecr.set_repository_policy(repositoryName=self.name, policyText=json.dumps(policy))


@st.composite
def repository(draw: st.DrawFn, name: str) -> Repository:
    return Repository(
        name,
        scan_on_push=draw(st.booleans()),
        mutability=draw(st.sampled_from(MUTABILITIES)),
        lifecycle=draw(
            st.sampled_from([None, lifecycle_document(RELEASES), lifecycle_document(ANY_30_DAYS), RENUMBERED])
        ),
        statements=draw(st.sampled_from([(), (PULL,), (DENY, LAMBDA), (LAMBDA,), (PUBLIC,)])),
        tags=draw(st.dictionaries(st.sampled_from(["team", "env"]), st.sampled_from(["a", "b"]), max_size=2)),
        encryption=draw(st.sampled_from(ENCRYPTIONS)),
    )


@dataclass(frozen=True)
class Account:
    repositories: list[Repository]
    cache_template: bool  # a pull-through cache rule for `cache`: with its creation template, or without
    scanning: dict[str, Any]
    registry_statements: tuple[dict[str, Any], ...]
    replication: bool

    def create(self, ecr: Any) -> None:
        for each in self.repositories:
            each.create(ecr)
        if any(r.name.startswith("cache/") for r in self.repositories):
            ecr.create_pull_through_cache_rule(
                ecrRepositoryPrefix="cache", upstreamRegistryUrl="public.ecr.aws"
            )
        if self.cache_template:
            ecr.create_repository_creation_template(**creation_templates(CACHE_PATTERN)["cache"])
        ecr.put_registry_scanning_configuration(**self.scanning)
        if self.registry_statements:
            policy = {"Version": "2012-10-17", "Statement": list(self.registry_statements)}
            ecr.put_registry_policy(policyText=json.dumps(policy))
        if self.replication:
            destination = {"region": "eu-central-1", "registryId": ACCOUNT_ID}
            ecr.put_replication_configuration(
                replicationConfiguration={"rules": [{"destinations": [destination]}]}
            )


CACHE_PATTERN = DesiredState.model_validate(
    {
        "version": 1,
        "registry": {"pull_through_cache": {"cache": {"upstream_registry_url": "public.ecr.aws"}}},
        "repository_patterns": {"cache/*": CACHED},
    }
)
RESOURCE = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/*"
REPLICATE = {
    "Sid": "Replicate",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
    "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": RESOURCE,
}
SCANNING = [
    {"scanType": "BASIC", "rules": []},
    {
        "scanType": "BASIC",
        "rules": [
            {
                "scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
            }
        ],
    },
    {
        "scanType": "ENHANCED",
        "rules": [
            {
                "scanFrequency": "CONTINUOUS_SCAN",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
            }
        ],
    },
]


@st.composite
def accounts(draw: st.DrawFn) -> Account:
    names = draw(st.lists(st.sampled_from(["api", "web", "team/jobs"]), min_size=1, max_size=3, unique=True))
    own = [draw(repository(name)) for name in names]
    # Repositories ECR created from the cache's template: its settings, and a scan on push of their own.
    cached = [
        Repository(
            name,
            scan_on_push=draw(st.booleans()),
            lifecycle=lifecycle_document(ANY_30_DAYS),
            tags={"team": "a"},
        )
        for name in draw(st.lists(st.sampled_from(["cache/nginx", "cache/library/redis"]), unique=True))
    ]
    return Account(
        repositories=own + cached,
        cache_template=bool(cached) and draw(st.booleans()),
        scanning=draw(st.sampled_from(SCANNING)),
        registry_statements=draw(st.sampled_from([(), (REPLICATE,), ({**REPLICATE, "Principal": "*"},)])),
        replication=draw(st.booleans()),
    )


@pytest.mark.slow
@settings(max_examples=12, suppress_health_check=[HealthCheck.too_slow])
@given(accounts())
def test_whatever_an_account_holds_import_finds_no_drift_in_it(account: Account) -> None:
    install_ecr_double()
    with mock_aws():
        set_aws_document_rewriting(True)  # policies come back as AWS rewrites them
        clients = AwsClients(boto3.Session(region_name=REGION))
        account.create(clients.ecr)
        state, document, summary = imported()

        def run(mode: Mode) -> Report:
            return engine.run(sweep("test"), state=state, mode=mode, clients=clients, sleep=lambda _: None)

        assert_no_drift(run(Mode.AUDIT), run(Mode.ENFORCE))
    for each in account.repositories:
        assert resolve(state, each.name) is not None, f"{each.name} is not managed"
    if account.cache_template:
        assert document["repository_patterns"].keys() == {"cache/*"}
    if any(KMS_ALIAS in r.encryption.values() for r in account.repositories):
        assert ".encryption.kms_key: must be a KMS key ARN, not an alias" in summary
