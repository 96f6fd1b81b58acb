"""The registry as ``desired_state.json`` declares it: repositories, their policies, cache rules, scanning,
replication, the registry policy, and creation templates so that the repositories ECR creates lazily start
out compliant.

Every policy text, template and replication rule comes from the shared compiler in ``ecr_drift.documents``
and the settings in ``ecr_drift.settings`` (the bytes the enforcer sends too), and every repository's
settings from ``ecr_drift.desired.resolve`` (defaults overlaid by its entry). A field the desired state leaves
out is left out here as well: it is not managed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import pulumi
import pulumi_aws as aws

from ecr_drift.desired import DesiredState, RepositorySettings, resolve
from ecr_drift.desired.models import ReplicationRule
from ecr_drift.documents.creation_template import template_prefix
from ecr_drift.documents.mutability import desired_tag_mutability
from ecr_drift.documents.registry_policy import registry_policy_text
from ecr_drift.documents.replication import replication_configuration
from ecr_drift.documents.repository_documents import lifecycle_policy_text, repository_policy_text
from ecr_drift.settings.creation_templates import creation_templates
from ecr_drift.settings.tag_mutability import to_api
from infra.iam import service_trust_policy

# ECR's service principal assumes this role to create repositories from a template that sets tags or KMS.
TEMPLATE_ROLE_ACTIONS = ("ecr:CreateRepository", "ecr:TagResource")
TEMPLATE_KMS_ACTIONS = ("kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant")


class _EncryptionArgs(Protocol):
    def __init__(self, *, encryption_type: str, kms_key: str | None) -> None: ...


class _FilterArgs(Protocol):
    def __init__(self, *, filter: str, filter_type: str) -> None: ...


EncryptionArgsT = TypeVar("EncryptionArgsT", bound=_EncryptionArgs)


@dataclass(frozen=True)
class BaselineArgs:
    state: DesiredState
    account_id: pulumi.Input[str]
    region: str
    adopt_existing_repositories: bool
    protect_repositories: bool
    # Every resource here waits for these (the enforcer's function version): see infra/__main__.py.
    deploy_after: Sequence[pulumi.Resource] = ()


def mutability_args(settings: RepositorySettings, filter_args: type[_FilterArgs]) -> dict[str, Any]:
    """``image_tag_mutability`` and its exclusion filters as one value (``to_api``), or nothing."""
    if settings.image_tag_mutability is None:
        return {}
    api = to_api(
        desired_tag_mutability(settings.image_tag_mutability, settings.image_tag_mutability_exclusions)
    )
    filters = api.get("imageTagMutabilityExclusionFilters", [])
    return {
        "image_tag_mutability": api["imageTagMutability"],
        "image_tag_mutability_exclusion_filters": [
            filter_args(filter=f["filter"], filter_type=f["filterType"]) for f in filters
        ]
        or None,
    }


def encryption_args(
    settings: RepositorySettings, args_type: type[EncryptionArgsT]
) -> list[EncryptionArgsT] | None:
    if settings.encryption is None:
        return None
    return [args_type(encryption_type=settings.encryption.type, kms_key=settings.encryption.kms_key)]


def template_role_policy(repository_arns: list[str], kms_keys: list[str]) -> dict[str, Any]:
    """Create and tag repositories under the templates' prefixes only; use only the templates' KMS keys."""
    statements = [{"Effect": "Allow", "Action": list(TEMPLATE_ROLE_ACTIONS), "Resource": repository_arns}]
    if kms_keys:
        statements.append({"Effect": "Allow", "Action": list(TEMPLATE_KMS_ACTIONS), "Resource": kms_keys})
    return {"Version": "2012-10-17", "Statement": statements}


def replication_args(
    configuration: dict[str, Any],
) -> aws.ecr.ReplicationConfigurationReplicationConfigurationArgs:
    """A compiled ``replicationConfiguration`` (``replication_configuration``) as the provider's arguments."""
    return aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
        rules=[
            aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                destinations=[
                    aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                        region=d["region"], registry_id=d["registryId"]
                    )
                    for d in rule["destinations"]
                ],
                repository_filters=[
                    aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                        filter=f["filter"], filter_type=f["filterType"]
                    )
                    for f in rule.get("repositoryFilters", [])
                ]
                or None,
            )
            for rule in configuration["rules"]
        ]
    )


def template_args(template: dict[str, Any]) -> dict[str, Any]:
    """A derived template (``creation_templates``) as RepositoryCreationTemplate's arguments, role aside."""
    encryption = template.get("encryptionConfiguration")
    filters = template.get("imageTagMutabilityExclusionFilters", [])
    tags = template.get("resourceTags")
    return {
        "prefix": template["prefix"],
        "applied_fors": template["appliedFor"],
        "description": template["description"],
        "resource_tags": None if tags is None else {t["Key"]: t["Value"] for t in tags},
        "lifecycle_policy": template.get("lifecyclePolicy"),
        "repository_policy": template.get("repositoryPolicy"),
        "encryption_configurations": None
        if encryption is None
        else [
            aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                encryption_type=encryption["encryptionType"], kms_key=encryption.get("kmsKey")
            )
        ],
        "image_tag_mutability": template.get("imageTagMutability"),
        "image_tag_mutability_exclusion_filters": [
            aws.ecr.RepositoryCreationTemplateImageTagMutabilityExclusionFilterArgs(
                filter=f["filter"], filter_type=f["filterType"]
            )
            for f in filters
        ]
        or None,
    }


class RegistryBaseline(pulumi.ComponentResource):
    """Repositories, lifecycle and repository policies, cache rules, registry scanning, replication, the
    registry policy, creation templates."""

    repositories: dict[str, aws.ecr.Repository]

    def __init__(self, name: str, args: BaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ecr-drift-enforcer:registry:Baseline", name, None, opts)
        self._args = args
        state = args.state
        self.repositories = {repo: self._repository(repo) for repo in state.repositories}
        for prefix, rule in (state.registry.pull_through_cache or {}).items():
            aws.ecr.PullThroughCacheRule(
                f"cache-{prefix}",
                ecr_repository_prefix=prefix,
                upstream_registry_url=rule.upstream_registry_url,
                credential_arn=rule.credential_arn,
                custom_role_arn=rule.custom_role_arn,
                upstream_repository_prefix=rule.upstream_repository_prefix,
                opts=self._child(),
            )
        if state.registry.scanning is not None:
            aws.ecr.RegistryScanningConfiguration(
                "registry-scanning",
                scan_type=state.registry.scanning.scan_type,
                rules=[
                    aws.ecr.RegistryScanningConfigurationRuleArgs(
                        scan_frequency=rule.frequency,
                        repository_filters=[
                            aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(
                                filter=f, filter_type="WILDCARD"
                            )
                            for f in rule.filters
                        ],
                    )
                    for rule in state.registry.scanning.rules
                ],
                opts=self._child(),
            )
        if state.registry.replication:
            self._replication(state.registry.replication)
        # `[]` declares no resource, as for the replication rules above: the enforcer deletes the registry
        # policy (DeleteRegistryPolicy) and puts an empty rule list (PutReplicationConfiguration). The
        # provider can hold neither "no policy" nor "no rules" (its rule block is required, and it reads a
        # configuration without rules as deleted); a stack that declared them deletes them: the same result.
        if (registry_policy := registry_policy_text(state.registry.policy_statements)) is not None:
            aws.ecr.RegistryPolicy("registry-policy", policy=registry_policy, opts=self._child())
        self._creation_templates()
        self.repository_urls = pulumi.Output.all(
            **{repo: r.repository_url for repo, r in self.repositories.items()}
        )
        self.register_outputs({"repository_urls": self.repository_urls})

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(self._args.deploy_after), **options)

    def _repository(self, name: str) -> aws.ecr.Repository:
        """A repository and its policies. Like the enforcer, Pulumi never deletes them (``retain_on_delete``):
        a repository taken out of the file, or `pulumi destroy`, leaves it, its images and its policies as
        they are, and only drops them from the stack's state."""
        resolved = resolve(self._args.state, name)
        assert resolved is not None, "a named repository always resolves"
        settings = resolved.settings
        scanning = (
            None
            if settings.scan_on_push is None
            else aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=settings.scan_on_push)
        )
        repository = aws.ecr.Repository(
            name,
            name=name,
            image_scanning_configuration=scanning,
            encryption_configurations=encryption_args(
                settings, aws.ecr.RepositoryEncryptionConfigurationArgs
            ),
            tags=settings.tags,
            force_delete=False,  # a repository holding images is never deleted by an update
            **mutability_args(settings, aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs),
            opts=self._child(
                # Adopting: the repository exists, so it is imported rather than created (CreateRepository
                # would fail). Its policies need no import: Put/SetPolicy overwrite whatever is there.
                import_=name if self._args.adopt_existing_repositories else None,
                protect=self._args.protect_repositories,
                retain_on_delete=True,
            ),
        )
        if (lifecycle := lifecycle_policy_text(settings)) is not None:
            aws.ecr.LifecyclePolicy(
                f"{name}-lifecycle",
                repository=repository.name,
                policy=lifecycle,
                opts=self._child(retain_on_delete=True),
            )
        if (policy := repository_policy_text(settings)) is not None:
            aws.ecr.RepositoryPolicy(
                f"{name}-policy",
                repository=repository.name,
                policy=policy,
                opts=self._child(retain_on_delete=True),
            )
        return repository

    def _replication(self, rules: Sequence[ReplicationRule]) -> None:
        """The rules compiled for this account: a destination without account_id is in this account."""
        configuration = pulumi.Output.from_input(self._args.account_id).apply(
            lambda account: replication_args(replication_configuration(rules, account))
        )
        aws.ecr.ReplicationConfiguration(
            "replication", replication_configuration=configuration, opts=self._child()
        )

    def _creation_templates(self) -> None:
        state = self._args.state
        templates = creation_templates(state)
        for pattern in state.repository_patterns:
            if template_prefix(pattern) is None:
                pulumi.log.info(
                    f"repository pattern {pattern!r} has no creation template (not <namespace>/*)"
                )
        if not templates:
            return
        kms_keys = sorted(
            {
                key
                for t in templates.values()
                if (key := t.get("encryptionConfiguration", {}).get("kmsKey")) is not None
            }
        )
        role = self._template_role(list(templates), kms_keys)
        for prefix, template in templates.items():
            aws.ecr.RepositoryCreationTemplate(
                f"template-{prefix}", custom_role_arn=role.arn, **template_args(template), opts=self._child()
            )

    def _template_role(self, prefixes: list[str], kms_keys: list[str]) -> aws.iam.Role:
        """The role ECR assumes to create a templated repository and tag it (and use its KMS key)."""
        args = self._args
        repositories = pulumi.Output.from_input(args.account_id).apply(
            lambda account: [f"arn:aws:ecr:{args.region}:{account}:repository/{p}/*" for p in prefixes]
        )
        role = aws.iam.Role(
            "creation-template-role",
            description="Assumed by ECR to create repositories from ecr-drift-enforcer's creation templates",
            assume_role_policy=service_trust_policy("ecr.amazonaws.com"),
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            "creation-template-role-policy",
            role=role.id,
            policy=repositories.apply(lambda arns: json.dumps(template_role_policy(arns, kms_keys))),
            opts=self._child(),
        )
        return role
