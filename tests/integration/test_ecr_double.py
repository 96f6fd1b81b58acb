"""The ECR test double: what it adds to moto behaves like AWS's API, and resets with moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ecr_drift.cli.ecr_double import install_ecr_double, serve, set_aws_document_rewriting
from tests.conftest import ACCOUNT_ID, REGION

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

DOCKER_HUB_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:ecr-pullthroughcache/docker-hub"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/ecr-upstream"
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PullFromProd",
                "Effect": "Allow",
                "Principal": {"AWS": ["111122223333"]},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
)
LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10},
                "action": {"type": "expire"},
            }
        ]
    }
)


@pytest.fixture
def ecr(aws: None) -> ECRClient:
    return boto3.client("ecr", region_name=REGION)


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def create_repositories(count: int) -> list[str]:
    """Seed through moto's backend: 2500 boto3 calls would cost seconds and test nothing extra."""
    from moto.ecr.models import ecr_backends

    backend = ecr_backends[ACCOUNT_ID][REGION]
    names = [f"team/repo-{i:05d}" for i in range(count)]
    for name in names:
        backend.create_repository(
            repository_name=name,
            registry_id=None,
            encryption_config=None,  # type: ignore[arg-type]
            image_scan_config=None,
            image_tag_mutability="MUTABLE",
            tags=[],
        )
    return names


# --- pull-through cache rules ------------------------------------------------------------------------


def test_create_and_describe_cache_rule(ecr: ECRClient) -> None:
    created = ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="ecr-public", upstreamRegistryUrl="public.ecr.aws"
    )
    assert created["ecrRepositoryPrefix"] == "ecr-public"
    assert created["upstreamRegistryUrl"] == "public.ecr.aws"
    assert created["upstreamRegistry"] == "ecr-public"  # inferred from the URL, as AWS does
    assert created["registryId"] == ACCOUNT_ID
    # exactly CreatePullThroughCacheRule's output members that are set (no credentialArn, no updatedAt)
    assert set(created) - {"ResponseMetadata"} == {
        "ecrRepositoryPrefix",
        "upstreamRegistryUrl",
        "createdAt",
        "registryId",
        "upstreamRegistry",
    }

    [rule] = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert rule["createdAt"] == created["createdAt"]
    assert rule["updatedAt"] == created["createdAt"]
    assert {k: rule[k] for k in ("ecrRepositoryPrefix", "upstreamRegistryUrl", "upstreamRegistry")} == {
        "ecrRepositoryPrefix": "ecr-public",
        "upstreamRegistryUrl": "public.ecr.aws",
        "upstreamRegistry": "ecr-public",
    }


def test_cache_rule_with_credentials_and_ecr_upstream(ecr: ECRClient) -> None:
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="docker-hub",
        upstreamRegistryUrl="registry-1.docker.io",
        credentialArn=DOCKER_HUB_SECRET,
    )
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="central",
        upstreamRegistryUrl=f"210987654321.dkr.ecr.{REGION}.amazonaws.com",
        upstreamRegistry="ecr",
        customRoleArn=ROLE_ARN,
        upstreamRepositoryPrefix="shared",
    )
    rules = {
        r["ecrRepositoryPrefix"]: r for r in ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    }
    assert rules["docker-hub"]["credentialArn"] == DOCKER_HUB_SECRET
    assert rules["docker-hub"]["upstreamRegistry"] == "docker-hub"
    assert rules["central"]["customRoleArn"] == ROLE_ARN
    assert rules["central"]["upstreamRepositoryPrefix"] == "shared"


def test_duplicate_cache_rule_is_refused(ecr: ECRClient) -> None:
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    with pytest.raises(ClientError) as excinfo:
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
    assert error_code(excinfo) == "PullThroughCacheRuleAlreadyExistsException"


@pytest.mark.parametrize(
    "url",
    ["registry-1.docker.io", "ghcr.io", "registry.gitlab.com", "example.azurecr.io"],
)
def test_upstream_needing_credentials_is_refused_without(ecr: ECRClient, url: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="upstream", upstreamRegistryUrl=url)
    assert error_code(excinfo) == "UnsupportedUpstreamRegistryException"


def test_unknown_upstream_url_is_unsupported(ecr: ECRClient) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="mine", upstreamRegistryUrl="registry.example.com"
        )
    assert error_code(excinfo) == "UnsupportedUpstreamRegistryException"


@pytest.mark.parametrize(
    "arguments",
    [
        {"ecrRepositoryPrefix": "Upper"},
        {"ecrRepositoryPrefix": "a" * 31},
        {"ecrRepositoryPrefix": "bad//prefix"},
        {"credentialArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:not-the-required-prefix"},
        {"upstreamRepositoryPrefix": "-bad"},
    ],
)
def test_invalid_cache_rule_parameters(ecr: ECRClient, arguments: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        ecr.create_pull_through_cache_rule(
            **{"ecrRepositoryPrefix": "quay", "upstreamRegistryUrl": "quay.io", **arguments}
        )
    assert error_code(excinfo) == "InvalidParameterException"


def test_update_changes_only_credentials_and_role(ecr: ECRClient) -> None:
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="docker-hub",
        upstreamRegistryUrl="registry-1.docker.io",
        credentialArn=DOCKER_HUB_SECRET,
    )
    new_secret = DOCKER_HUB_SECRET + "-rotated"
    updated = ecr.update_pull_through_cache_rule(
        ecrRepositoryPrefix="docker-hub", credentialArn=new_secret, customRoleArn=ROLE_ARN
    )
    assert updated["credentialArn"] == new_secret
    assert updated["customRoleArn"] == ROLE_ARN
    # UpdatePullThroughCacheRule's output shape has neither the upstream URL nor createdAt
    assert set(updated) - {"ResponseMetadata"} == {
        "ecrRepositoryPrefix",
        "registryId",
        "updatedAt",
        "credentialArn",
        "customRoleArn",
    }

    [rule] = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert rule["credentialArn"] == new_secret
    assert rule["upstreamRegistryUrl"] == "registry-1.docker.io"
    assert rule["updatedAt"] >= rule["createdAt"]

    with pytest.raises(ClientError) as excinfo:
        ecr.update_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub")
    assert error_code(excinfo) == "InvalidParameterException"


def test_delete_returns_the_rule_and_removes_it(ecr: ECRClient) -> None:
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="k8s", upstreamRegistryUrl="registry.k8s.io")
    deleted = ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="k8s")
    assert deleted["upstreamRegistryUrl"] == "registry.k8s.io"
    assert ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []


@pytest.mark.parametrize(
    ("operation", "arguments"),
    [
        ("describe_pull_through_cache_rules", {"ecrRepositoryPrefixes": ["missing"]}),
        ("update_pull_through_cache_rule", {"ecrRepositoryPrefix": "missing", "customRoleArn": ROLE_ARN}),
        ("delete_pull_through_cache_rule", {"ecrRepositoryPrefix": "missing"}),
        ("validate_pull_through_cache_rule", {"ecrRepositoryPrefix": "missing"}),
    ],
)
def test_missing_cache_rule_is_not_found(ecr: ECRClient, operation: str, arguments: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as excinfo:
        getattr(ecr, operation)(**arguments)
    assert error_code(excinfo) == "PullThroughCacheRuleNotFoundException"


def test_describe_cache_rules_filters_by_prefix_and_pages(ecr: ECRClient) -> None:
    for prefix in ("quay-a", "quay-b", "quay-c", "quay-d", "quay-e"):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=prefix, upstreamRegistryUrl="quay.io")

    filtered = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["quay-d", "quay-b"])
    assert [r["ecrRepositoryPrefix"] for r in filtered["pullThroughCacheRules"]] == ["quay-d", "quay-b"]

    pages = list(
        ecr.get_paginator("describe_pull_through_cache_rules").paginate(PaginationConfig={"PageSize": 2})
    )
    assert [len(p["pullThroughCacheRules"]) for p in pages] == [2, 2, 1]


def test_cache_rule_limit(aws: None) -> None:
    # botocore retries LimitExceededException as throttling, with back-off: one attempt keeps this fast.
    ecr = boto3.client("ecr", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))
    for i in range(50):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=f"quay-{i}", upstreamRegistryUrl="quay.io")
    with pytest.raises(ClientError) as excinfo:
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay-50", upstreamRegistryUrl="quay.io")
    assert error_code(excinfo) == "LimitExceededException"


def test_validate_checks_that_the_secret_exists(ecr: ECRClient) -> None:
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public", upstreamRegistryUrl="public.ecr.aws")
    assert ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="ecr-public")["isValid"] is True

    secrets = boto3.client("secretsmanager", region_name=REGION)
    secret_arn = secrets.create_secret(Name="ecr-pullthroughcache/ghcr", SecretString="{}")["ARN"]
    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="ghcr", upstreamRegistryUrl="ghcr.io", credentialArn=secret_arn
    )
    valid = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="ghcr")
    assert valid["isValid"] is True
    assert valid["credentialArn"] == secret_arn

    ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="docker-hub",
        upstreamRegistryUrl="registry-1.docker.io",
        credentialArn=DOCKER_HUB_SECRET,
    )
    invalid = ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix="docker-hub")
    assert invalid["isValid"] is False
    assert DOCKER_HUB_SECRET in invalid["failure"]


# --- DescribeRepositories pagination ------------------------------------------------------------------


def test_describe_repositories_pages_of_1000(ecr: ECRClient) -> None:
    names = create_repositories(2500)
    pages = list(ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 1000}))
    assert [len(p["repositories"]) for p in pages] == [1000, 1000, 500]
    seen = [r["repositoryName"] for p in pages for r in p["repositories"]]
    assert sorted(seen) == names  # every repository exactly once
    assert "nextToken" not in pages[-1]
    # moto's own serialisation is kept
    assert pages[0]["repositories"][0]["imageScanningConfiguration"] == {"scanOnPush": False}


def test_describe_repositories_default_page_is_100(ecr: ECRClient) -> None:
    create_repositories(150)
    first = ecr.describe_repositories()
    assert len(first["repositories"]) == 100
    second = ecr.describe_repositories(nextToken=first["nextToken"])
    assert len(second["repositories"]) == 50
    assert "nextToken" not in second


def test_paging_survives_a_deletion_between_pages(ecr: ECRClient) -> None:
    names = create_repositories(5)
    first = ecr.describe_repositories(maxResults=2)
    ecr.delete_repository(repositoryName=names[0])
    rest = ecr.describe_repositories(nextToken=first["nextToken"])
    assert [r["repositoryName"] for r in rest["repositories"]] == names[2:]


def test_describe_repositories_by_name_keeps_moto_behaviour(ecr: ECRClient) -> None:
    names = create_repositories(3)
    found = ecr.describe_repositories(repositoryNames=names[:2])["repositories"]
    assert [r["repositoryName"] for r in found] == names[:2]
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories(repositoryNames=["nope"])
    assert error_code(excinfo) == "RepositoryNotFoundException"


@pytest.mark.parametrize(
    "arguments",
    [
        {"maxResults": 1001},
        {"nextToken": "not-a-token"},
        {"repositoryNames": ["team/repo-00000"], "maxResults": 10},
    ],
)
def test_describe_repositories_bad_paging_parameters(ecr: ECRClient, arguments: dict[str, Any]) -> None:
    create_repositories(1)
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories(**arguments)
    assert error_code(excinfo) == "InvalidParameterException"


# --- repository creation templates --------------------------------------------------------------------


def test_creation_template_crud(ecr: ECRClient) -> None:
    created = ecr.create_repository_creation_template(
        prefix="docker-hub",
        description="images pulled through Docker Hub",
        appliedFor=["PULL_THROUGH_CACHE"],
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
        lifecyclePolicy=LIFECYCLE,
        resourceTags=[{"Key": "team", "Value": "platform"}],
    )
    template = created["repositoryCreationTemplate"]
    assert created["registryId"] == ACCOUNT_ID
    assert template["prefix"] == "docker-hub"
    assert template["encryptionConfiguration"] == {
        "encryptionType": "AES256"
    }  # filled in, as for repositories
    assert template["lifecyclePolicy"] == LIFECYCLE
    assert template["resourceTags"] == [{"Key": "team", "Value": "platform"}]
    assert template["createdAt"] == template["updatedAt"]

    updated = ecr.update_repository_creation_template(
        prefix="docker-hub", imageTagMutability="IMMUTABLE", lifecyclePolicy="", customRoleArn=ROLE_ARN
    )["repositoryCreationTemplate"]
    assert updated["imageTagMutability"] == "IMMUTABLE"
    assert "lifecyclePolicy" not in updated  # an empty text clears it
    assert updated["customRoleArn"] == ROLE_ARN
    assert updated["description"] == "images pulled through Docker Hub"  # members not sent are kept

    [described] = ecr.describe_repository_creation_templates()["repositoryCreationTemplates"]
    assert described == updated

    deleted = ecr.delete_repository_creation_template(prefix="docker-hub")
    assert deleted["repositoryCreationTemplate"]["prefix"] == "docker-hub"
    assert ecr.describe_repository_creation_templates()["repositoryCreationTemplates"] == []


def test_creation_template_errors(ecr: ECRClient) -> None:
    ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["CREATE_ON_PUSH"])
    with pytest.raises(ClientError) as excinfo:
        ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"])
    assert error_code(excinfo) == "TemplateAlreadyExistsException"
    with pytest.raises(ClientError) as excinfo:
        ecr.update_repository_creation_template(prefix="missing", description="x")
    assert error_code(excinfo) == "TemplateNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        ecr.delete_repository_creation_template(prefix="missing")
    assert error_code(excinfo) == "TemplateNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        ecr.create_repository_creation_template(prefix="team", appliedFor=["SOMETIMES"])  # type: ignore[list-item]
    assert error_code(excinfo) == "InvalidParameterException"


def test_describe_creation_templates_filters_and_pages(ecr: ECRClient) -> None:
    for prefix in ("a", "b", "c"):
        ecr.create_repository_creation_template(prefix=prefix, appliedFor=["REPLICATION"])
    filtered = ecr.describe_repository_creation_templates(prefixes=["c", "missing"])
    assert [t["prefix"] for t in filtered["repositoryCreationTemplates"]] == ["c"]
    first = ecr.describe_repository_creation_templates(maxResults=2)
    second = ecr.describe_repository_creation_templates(maxResults=2, nextToken=first["nextToken"])
    assert [
        t["prefix"] for t in first["repositoryCreationTemplates"] + second["repositoryCreationTemplates"]
    ] == [
        "a",
        "b",
        "c",
    ]


# --- reset, document rewriting, server ----------------------------------------------------------------


def test_state_is_reset_when_moto_restarts() -> None:
    from moto import mock_aws

    install_ecr_double()
    with mock_aws():
        ecr = boto3.client("ecr", region_name=REGION)
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay", upstreamRegistryUrl="quay.io")
        ecr.create_repository_creation_template(prefix="quay", appliedFor=["PULL_THROUGH_CACHE"])
        ecr.create_repository(repositoryName="app")
        ecr.set_repository_policy(repositoryName="app", policyText=POLICY)
        set_aws_document_rewriting(True)
    with mock_aws():
        ecr = boto3.client("ecr", region_name=REGION)
        assert ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []
        assert ecr.describe_repository_creation_templates()["repositoryCreationTemplates"] == []
        ecr.create_repository(repositoryName="app")
        ecr.set_repository_policy(repositoryName="app", policyText=POLICY)
        assert ecr.get_repository_policy(repositoryName="app")["policyText"] == POLICY  # rewriting is off


def test_documents_are_verbatim_by_default(ecr: ECRClient) -> None:
    ecr.create_repository(repositoryName="app")
    ecr.set_repository_policy(repositoryName="app", policyText=POLICY)
    ecr.put_lifecycle_policy(repositoryName="app", lifecyclePolicyText=LIFECYCLE)
    assert ecr.get_repository_policy(repositoryName="app")["policyText"] == POLICY
    assert ecr.get_lifecycle_policy(repositoryName="app")["lifecyclePolicyText"] == LIFECYCLE


def test_aws_document_rewriting(ecr: ECRClient) -> None:
    ecr.create_repository(repositoryName="app")
    ecr.set_repository_policy(repositoryName="app", policyText=POLICY)
    ecr.put_lifecycle_policy(repositoryName="app", lifecyclePolicyText=LIFECYCLE)
    set_aws_document_rewriting(True)

    text = ecr.get_repository_policy(repositoryName="app")["policyText"]
    assert text == (
        "{\n"
        '  "Version" : "2012-10-17",\n'
        '  "Statement" : [ {\n'
        '    "Sid" : "PullFromProd",\n'
        '    "Effect" : "Allow",\n'
        '    "Principal" : {\n'
        '      "AWS" : "arn:aws:iam::111122223333:root"\n'
        "    },\n"
        '    "Action" : [ "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer" ]\n'
        "  } ]\n"
        "}"
    )

    lifecycle = ecr.get_lifecycle_policy(repositoryName="app")["lifecyclePolicyText"]
    assert lifecycle != LIFECYCLE
    assert json.loads(lifecycle) == json.loads(LIFECYCLE)

    set_aws_document_rewriting(False)
    assert ecr.get_repository_policy(repositoryName="app")["policyText"] == POLICY


@pytest.fixture
def served() -> Iterator[str]:
    server, endpoint = serve()
    yield endpoint
    server.stop()


def test_serve_on_loopback(served: str) -> None:
    assert served.startswith("http://127.0.0.1:")
    ecr = boto3.client("ecr", region_name=REGION, endpoint_url=served)
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="served", upstreamRegistryUrl="public.ecr.aws")
    rules = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["served"])["pullThroughCacheRules"]
    assert [r["upstreamRegistry"] for r in rules] == ["ecr-public"]


def test_serve_refuses_a_non_loopback_address() -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve(host="0.0.0.0")
