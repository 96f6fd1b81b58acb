"""Import, pure: observations as AWS returns them → a desired state that validates and finds no drift in
them, with what it cannot manage left out and said, at its JSON path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecr_drift.adoption import Adoption, adopt, render
from ecr_drift.adoption.readers import FROM_REGISTRY, FROM_REPOSITORY, repository_policy_fields
from ecr_drift.desired import DesiredState, load_desired_state_text, resolve
from ecr_drift.desired.lifecycle_rules import RawLifecyclePolicy
from ecr_drift.documents.repository_policy import PUSH_ACTIONS
from ecr_drift.drift import desired_registry, desired_repository, registry_changes, repository_changes
from ecr_drift.settings import (
    creation_templates,
    lifecycle_policy,
    pull_through_cache,
    registry_policy,
    registry_scanning,
    registry_settings,
    replication,
    repository_policy,
    repository_settings,
    tags,
)
from ecr_drift.state import ObservedRegistry, ObservedRepository

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LAMBDA = {
    "Sid": "LambdaECRImageRetrievalPolicy",
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}
PUBLIC_PUSH = {"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "ecr:PutImage"}
# AWS's own rewriting: account ids as root ARNs, a one-element list as a string, pretty-printed.
PULL_AS_AWS_RETURNS = {
    "Sid": "CrossAccountPull",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}
EXPIRE_UNTAGGED = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        }
    ]
}


def policy_text(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=2)


def repository(
    name: str,
    *,
    scan_on_push: bool = True,
    mutability: str = "IMMUTABLE",
    exclusions: tuple[dict[str, str], ...] = (),
    lifecycle: dict[str, Any] | None = EXPIRE_UNTAGGED,
    policy: str | None = None,
    tag_map: dict[str, str] | None = None,
    encryption: dict[str, str] | None = None,
) -> ObservedRepository:
    """A repository as observe reads it: its DescribeRepositories entry and its settings' reads."""
    description: dict[str, Any] = {
        "repositoryName": name,
        "imageScanningConfiguration": {"scanOnPush": scan_on_push},
        "imageTagMutability": mutability,
        "encryptionConfiguration": encryption or {"encryptionType": "AES256"},
    }
    if exclusions:
        description["imageTagMutabilityExclusionFilters"] = list(exclusions)
    reads = {
        lifecycle_policy.READ: {"lifecyclePolicyText": json.dumps(lifecycle)} if lifecycle else None,
        repository_policy.READ: {"policyText": policy} if policy else None,
        tags.READ: {"tags": [{"Key": k, "Value": v} for k, v in (tag_map or {"team": "a"}).items()]},
    }
    return ObservedRepository(name, f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}", description, reads)


def registry(
    *,
    scanning: dict[str, Any] | None = None,
    cache: tuple[dict[str, Any], ...] = (),
    rules: tuple[dict[str, Any], ...] = (),
    policy: str | None = None,
    templates: tuple[dict[str, Any], ...] = (),
) -> ObservedRegistry:
    reads = {
        registry_scanning.READ: {"scanningConfiguration": scanning or {"scanType": "BASIC", "rules": []}},
        pull_through_cache.READ: {"pullThroughCacheRules": list(cache)},
        replication.READ: {"registryId": ACCOUNT, "replicationConfiguration": {"rules": list(rules)}},
        registry_policy.READ: {"policyText": policy} if policy else None,
        creation_templates.READ: {"repositoryCreationTemplates": list(templates)},
    }
    return ObservedRegistry(REGION, reads)


def imported(observed_registry: ObservedRegistry, repositories: list[ObservedRepository]) -> DesiredState:
    """The import's text loaded as a file is; and the diff, on the very observations, finds nothing."""
    adoption = adopt(observed_registry, repositories)
    state = load_desired_state_text(render(adoption.document))
    assert registry_changes(desired_registry(state), observed_registry) == []
    for observed in repositories:
        resolved = resolve(state, observed.name)
        assert resolved is not None, f"{observed.name} is not managed"
        assert repository_changes(desired_repository(state, resolved), observed) == [], observed.name
    return state


def unmanaged(adoption: Adoption) -> dict[str, str]:
    return {u.path: u.reason for u in adoption.unmanaged}


# --- what every setting needs ----------------------------------------------------------------------------


def test_import_reads_every_registered_setting() -> None:
    """A new setting is one module in ecr_drift/settings; import must learn to read it too (readers.py)."""
    assert {s.name for s in repository_settings()} == set(FROM_REPOSITORY)
    fields = {f for s in registry_settings() for f in s.fields}
    # Creation templates are no field: import derives repository_patterns from them.
    assert fields - {"repository_patterns"} == {f"registry.{field}" for field in FROM_REGISTRY}


def test_the_output_is_deterministic_json_with_a_final_newline() -> None:
    observations = [repository("web"), repository("api")]
    text = render(adopt(registry(), observations).document)
    assert text == render(adopt(registry(), observations[::-1]).document)
    assert text.endswith("}\n")
    assert text.startswith('{\n  "defaults": {')
    assert json.loads(text)["version"] == 1


# --- repositories ---------------------------------------------------------------------------------------


def test_the_common_settings_become_defaults_and_an_entry_holds_what_differs() -> None:
    state = imported(
        registry(),
        [
            repository("api"),
            repository("web"),
            repository("jobs", scan_on_push=False, tag_map={"team": "a", "cost": "x"}, lifecycle=None),
        ],
    )
    document = json.loads(render(adopt(registry(), [repository("api"), repository("web")]).document))
    assert document["repositories"] == {"api": {}, "web": {}}
    assert state.repositories["jobs"].model_dump(exclude_none=True) == {
        "scan_on_push": False,
        "lifecycle": [],
        "tags": {"cost": "x"},
    }
    assert state.defaults.lifecycle is not None
    assert state.defaults.tags == {"team": "a"}


def test_account_statements_become_account_ids_and_kept_statements_are_left_out() -> None:
    push = {
        **PULL_AS_AWS_RETURNS,
        "Sid": "CrossAccountPush",
        "Action": list(PUSH_ACTIONS),
        "Principal": {"AWS": "444455556666"},
    }
    pull = {**PULL_AS_AWS_RETURNS, "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"]}}
    deny = {"Sid": "DenyDelete", "Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository"}
    text = policy_text(LAMBDA, deny, push, pull)
    assert repository_policy_fields(text) == {
        "pull_account_ids": ["111122223333"],
        "push_account_ids": ["444455556666"],
        "policy_statements": [deny],  # as written, not in the canonical form's lower case
    }
    state = imported(
        registry(), [repository("api", policy=text), repository("web", policy=policy_text(LAMBDA))]
    )
    assert state.repositories["web"].policy_statements is None  # the default: no statement but kept ones
    assert state.defaults.policy_statements == []


def test_an_account_statement_the_compiler_would_not_write_leaves_the_policy_unmanaged() -> None:
    narrowed = {**PULL_AS_AWS_RETURNS, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}
    adoption = adopt(registry(), [repository("api", policy=policy_text(narrowed)), repository("web")])
    assert "reserved" in unmanaged(adoption)["repositories.api.policy_statements"]
    imported(registry(), [repository("api", policy=policy_text(narrowed)), repository("web")])


def test_a_dangerous_statement_leaves_that_policy_unmanaged_and_says_where() -> None:
    observations = [repository("api", policy=policy_text(PUBLIC_PUSH)), repository("web"), repository("jobs")]
    adoption = adopt(registry(), observations)
    reason = unmanaged(adoption)["repositories.api.policy_statements[0].Principal"]
    assert "allows anyone with an AWS account" in reason
    state = imported(registry(), observations)
    api = resolve(state, "api")
    assert api is not None
    assert not api.settings.manages_policy
    # An entry cannot unset a default: the others say "no policy" each, and the summary says why.
    assert state.repositories["web"].policy_statements == []
    assert any("repository policy is not in defaults" in note and "api" in note for note in adoption.notes)


def test_a_kms_key_given_as_an_alias_leaves_encryption_unmanaged() -> None:
    alias = {"encryptionType": "KMS", "kmsKey": f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/team"}
    key = {"encryptionType": "KMS", "kmsKey": KEY}
    observations = [repository("api", encryption=alias), repository("web", encryption=key)]
    adoption = adopt(registry(), observations)
    assert "not an alias" in unmanaged(adoption)["repositories.api.encryption.kms_key"]
    state = imported(registry(), observations)
    assert state.repositories["web"].encryption is not None
    assert state.repositories["web"].encryption.kms_key == KEY


def test_an_exclusion_filter_of_an_unknown_type_leaves_mutability_unmanaged() -> None:
    regex = ({"filter": "^v[0-9]+$", "filterType": "REGEX"},)
    observations = [repository("api", mutability="IMMUTABLE_WITH_EXCLUSION", exclusions=regex)]
    adoption = adopt(registry(), observations)
    assert "REGEX" in unmanaged(adoption)["repositories.api.image_tag_mutability_exclusions"]
    imported(registry(), observations)


def test_a_lifecycle_policy_the_shorthand_cannot_say_is_kept_raw() -> None:
    renumbered = {"rules": [{**EXPIRE_UNTAGGED["rules"][0], "rulePriority": 10}]}
    state = imported(registry(), [repository("api", lifecycle=renumbered)])
    assert isinstance(state.defaults.lifecycle, RawLifecyclePolicy)
    assert state.defaults.lifecycle.raw["rules"][0]["rulePriority"] == 10


# --- the registry ---------------------------------------------------------------------------------------


def test_registry_settings_are_imported_and_a_destination_in_this_account_names_no_account() -> None:
    rules = [
        {
            "destinations": [
                {"region": "eu-central-1", "registryId": ACCOUNT},
                {"region": REGION, "registryId": "999988887777"},
            ],
            "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}],
        }
    ]
    cache = [
        {
            "ecrRepositoryPrefix": "cache",
            "upstreamRegistryUrl": "public.ecr.aws",
            "upstreamRegistry": "ecr-public",
        }
    ]
    scanning = {
        "scanType": "BASIC",
        "rules": [
            {
                "scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
            }
        ],
    }
    state = imported(registry(scanning=scanning, cache=cache, rules=rules), [])
    assert state.registry.model_dump(exclude_none=True) == {
        "scanning": {"scan_type": "BASIC", "rules": [{"frequency": "SCAN_ON_PUSH", "filters": ["*"]}]},
        "pull_through_cache": {"cache": {"upstream_registry_url": "public.ecr.aws"}},
        "replication": [
            {
                "destinations": [
                    {"region": "eu-central-1"},
                    {"region": REGION, "account_id": "999988887777"},
                ],
                "repository_prefixes": ["prod"],
            }
        ],
        "policy_statements": [],
    }


def test_a_dangerous_registry_policy_is_left_unmanaged() -> None:
    public = {**PUBLIC_PUSH, "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*"}
    observed = registry(policy=policy_text(public))
    adoption = adopt(observed, [])
    assert "registry.policy_statements[0].Principal" in unmanaged(adoption)
    assert "policy_statements" not in adoption.document["registry"]
    imported(observed, [])


def test_enhanced_scanning_leaves_scan_on_push_out() -> None:
    enhanced = {
        "scanType": "ENHANCED",
        "rules": [
            {
                "scanFrequency": "CONTINUOUS_SCAN",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
            }
        ],
    }
    adoption = adopt(registry(scanning=enhanced), [repository("api")])
    assert "scan_on_push" not in adoption.document["defaults"]
    assert any("ENHANCED" in note for note in adoption.notes)
    imported(registry(scanning=enhanced), [repository("api")])


# --- patterns -------------------------------------------------------------------------------------------

CACHE_RULE = {
    "ecrRepositoryPrefix": "cache",
    "upstreamRegistryUrl": "public.ecr.aws",
    "upstreamRegistry": "ecr-public",
}


def template_for(settings: dict[str, Any]) -> dict[str, Any]:
    """The creation template the enforcer derives for `cache/*` with ``settings``, as ECR lists it."""
    state = load_desired_state_text(
        json.dumps(
            {
                "version": 1,
                "registry": {"pull_through_cache": {"cache": {"upstream_registry_url": "public.ecr.aws"}}},
                "repository_patterns": {"cache/*": settings},
            }
        )
    )
    return {**creation_templates.creation_templates(state)["cache"], "createdAt": "2025-01-01T00:00:00Z"}


CACHED = {
    "image_tag_mutability": "MUTABLE",
    "lifecycle": [{"tag_status": "any", "max_age_days": 30}],
    "tags": {"team": "a"},
    "encryption": {"type": "AES256"},
}


def cached_repository(name: str) -> ObservedRepository:
    any_30_days = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "any",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 30,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    return repository(name, mutability="MUTABLE", lifecycle=any_30_days)


def test_a_creation_template_becomes_a_pattern_covering_the_repositories_under_it() -> None:
    observed = registry(cache=[CACHE_RULE], templates=[template_for(CACHED)])
    observations = [repository("api"), cached_repository("cache/nginx"), cached_repository("cache/redis")]
    odd = repository("cache/odd", mutability="MUTABLE")
    adoption = adopt(observed, [*observations, odd])
    assert adoption.covered == {"cache/nginx": "cache/*", "cache/redis": "cache/*"}
    assert set(adoption.document["repositories"]) == {"api", "cache/odd"}
    assert any("cache/odd" in note for note in adoption.notes)
    state = imported(observed, [*observations, odd])
    later = resolve(state, "cache/created-later")
    assert later is not None
    assert later.settings.image_tag_mutability == "MUTABLE"


def test_without_a_template_the_cached_repositories_are_listed_by_name() -> None:
    observed = registry(cache=[CACHE_RULE])
    adoption = adopt(observed, [cached_repository("cache/nginx")])
    assert "repository_patterns" not in adoption.document
    assert any("no creation template" in note for note in adoption.notes)
    imported(observed, [cached_repository("cache/nginx")])


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ({"appliedFor": ["REPLICATION"]}, 'repository_patterns."cache/*"'),
        ({"prefix": "ROOT"}, 'repository_patterns."ROOT/*"'),
        (
            {"repositoryPolicy": policy_text(PUBLIC_PUSH)},
            'repository_patterns."cache/*".policy_statements[0].Principal',
        ),
    ],
)
def test_a_template_no_pattern_derives_means_no_patterns_at_all(template: dict[str, Any], path: str) -> None:
    observed = registry(cache=[CACHE_RULE], templates=[{**template_for(CACHED), **template}])
    adoption = adopt(observed, [cached_repository("cache/nginx")])
    assert "repository_patterns" not in adoption.document
    assert "no repository_patterns" in unmanaged(adoption)[path]
    imported(observed, [cached_repository("cache/nginx")])


def test_with_named_repositories_there_are_no_patterns() -> None:
    observed = registry(cache=[CACHE_RULE], templates=[template_for(CACHED)])
    adoption = adopt(observed, [cached_repository("cache/nginx")], patterns=False)
    assert adoption.document["repositories"] == {"cache/nginx": {}}
    assert "repository_patterns" not in adoption.document
    assert adoption.unmanaged == []
