"""The registry as ``desired_state.json`` declares it: repositories, their policies, cache rules, scanning,
and creation templates so that the repositories ECR creates lazily start out compliant.

Every policy text comes from the shared compiler in ``handler.documents`` (the bytes the enforcer sends too),
and every repository's settings from ``handler.desired.resolve`` (defaults overlaid by its entry). A field
the desired state leaves out is left out here as well: it is not managed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import pulumi
import pulumi_aws as aws

from handler.desired import DesiredState, RepositorySettings, resolve
from handler.desired.resolution import literal_prefix, overlay
from handler.documents.mutability import desired_tag_mutability, to_api
from handler.documents.repository_documents import lifecycle_policy_text, repository_policy_text
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


def template_prefix(pattern: str) -> str | None:
    """The creation-template prefix covering exactly the names ``pattern`` matches, or None.

    A template applies to the repositories under one namespace (``prefix/...``), so only ``<namespace>/*``
    translates; other patterns are enforced when ECR reports the repository's creation.
    """
    namespace = pattern.removesuffix("/*")
    return namespace if pattern.endswith("/*") and "*" not in namespace else None


def applied_for(pattern: str, cache_prefixes: Sequence[str]) -> str:
    """PULL_THROUGH_CACHE under a cache rule's prefix; anywhere else the repository appears on push."""
    prefix = literal_prefix(pattern)
    under_cache = any(prefix.startswith(f"{cache.rstrip('/')}/") for cache in cache_prefixes)
    return "PULL_THROUGH_CACHE" if under_cache else "CREATE_ON_PUSH"


class RegistryBaseline(pulumi.ComponentResource):
    """Repositories, lifecycle and repository policies, cache rules, registry scanning, creation templates."""

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
        self._creation_templates()
        self.repository_urls = pulumi.Output.all(
            **{repo: r.repository_url for repo, r in self.repositories.items()}
        )
        self.register_outputs({"repository_urls": self.repository_urls})

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(self._args.deploy_after), **options)

    def _repository(self, name: str) -> aws.ecr.Repository:
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
            ),
        )
        if (lifecycle := lifecycle_policy_text(settings)) is not None:
            aws.ecr.LifecyclePolicy(
                f"{name}-lifecycle", repository=repository.name, policy=lifecycle, opts=self._child()
            )
        if (policy := repository_policy_text(settings)) is not None:
            aws.ecr.RepositoryPolicy(
                f"{name}-policy", repository=repository.name, policy=policy, opts=self._child()
            )
        return repository

    def _creation_templates(self) -> None:
        state = self._args.state
        cache_prefixes = list(state.registry.pull_through_cache or {})
        templates: list[tuple[str, str, RepositorySettings]] = []
        for pattern, entry in state.repository_patterns.items():
            prefix = template_prefix(pattern)
            if prefix is None:
                pulumi.log.info(
                    f"repository pattern {pattern!r} has no creation template (not <namespace>/*)"
                )
                continue
            templates.append((pattern, prefix, overlay(state.defaults, entry)))
        if not templates:
            return
        role = self._template_role([prefix for _, prefix, _ in templates], [s for _, _, s in templates])
        for pattern, prefix, settings in templates:
            aws.ecr.RepositoryCreationTemplate(
                f"template-{prefix}",
                prefix=prefix,
                applied_fors=[applied_for(pattern, cache_prefixes)],
                description=f"ecr-drift-enforcer: settings of repository_patterns {pattern!r}",
                custom_role_arn=role.arn,
                resource_tags=settings.tags,
                lifecycle_policy=lifecycle_policy_text(settings),
                repository_policy=repository_policy_text(settings),
                encryption_configurations=encryption_args(
                    settings, aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs
                ),
                **mutability_args(
                    settings, aws.ecr.RepositoryCreationTemplateImageTagMutabilityExclusionFilterArgs
                ),
                opts=self._child(),
            )

    def _template_role(self, prefixes: list[str], settings: list[RepositorySettings]) -> aws.iam.Role:
        """The role ECR assumes to create a templated repository and tag it (and use its KMS key)."""
        args = self._args
        repositories = pulumi.Output.from_input(args.account_id).apply(
            lambda account: [f"arn:aws:ecr:{args.region}:{account}:repository/{p}/*" for p in prefixes]
        )
        kms_keys = sorted({s.encryption.kms_key for s in settings if s.encryption and s.encryption.kms_key})
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
