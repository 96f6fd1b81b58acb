"""Repository creation templates: one per ``<namespace>/*`` repository pattern, derived from that pattern's
effective settings (PULL_THROUGH_CACHE under a cache rule's prefix, CREATE_ON_PUSH elsewhere), so that a
repository ECR creates lazily starts out in line. Not a field of the contract: managed whenever the desired
state has repository patterns. Each repository setting says how it appears in a template.

A missing template is created, a different one updated; a template for a prefix the desired state does not
declare is reported, never deleted. Templates carry no scan on push, and ECR applies a template only to
repositories created after it, so the enforcer still fixes each repository as it appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecr_drift.desired.models import DesiredState, RepositorySettings
from ecr_drift.desired.resolution import overlay
from ecr_drift.documents.creation_template import applied_for, template_description, template_prefix
from ecr_drift.settings.base import KeyedRegistrySetting, repository_settings
from ecr_drift.state import Call, ObservedRegistry, Read, RepositoryOptions, Write

READ = Read("DescribeRepositoryCreationTemplates", paginate="repositoryCreationTemplates")
CREATE = "CreateRepositoryCreationTemplate"
UPDATE = "UpdateRepositoryCreationTemplate"
DELETE = "DeleteRepositoryCreationTemplate"
# What ECR checks of the caller when a template is created or updated (the Service Authorization Reference's
# dependent actions): it may create, and put the policies of, the repositories the template shapes, and ECR
# creates AWSServiceRoleForECRTemplate for a template without a customRoleArn. The reference also lists
# iam:PassRole, needed only with a customRoleArn, which the enforcer's template calls never carry.
TEMPLATE_IAM_ACTIONS = ("ecr:CreateRepository", "ecr:PutLifecyclePolicy", "ecr:SetRepositoryPolicy")
SERVICE_LINKED_ROLE = "ecr.amazonaws.com"

Template = dict[str, Any]  # CreateRepositoryCreationTemplate's parameters (ECR assumes its own role)


class CreationTemplates(KeyedRegistrySetting[Template]):
    name = "creation_template"
    title = "repository creation template"
    item = "template"
    item_parameter = "prefix"
    fields = ("repository_patterns",)
    reads = (READ,)
    writes = (
        Write(CREATE, implied_iam_actions=TEMPLATE_IAM_ACTIONS, service_linked_roles=(SERVICE_LINKED_ROLE,)),
        Write(
            UPDATE,
            implied_iam_actions=TEMPLATE_IAM_ACTIONS,
            service_linked_roles=(SERVICE_LINKED_ROLE,),
            subtractive=True,
        ),
    )
    events = (CREATE, UPDATE, DELETE)

    def desired(self, state: DesiredState) -> Mapping[str, Template] | None:
        if not state.repository_patterns:
            return None
        return creation_templates(state)

    def observed_items(self, observed: ObservedRegistry) -> Mapping[str, Mapping[str, Any]]:
        return {t["prefix"]: t for t in observed.reads[READ]["repositoryCreationTemplates"]}

    def canonical_item(self, item: Template) -> Any:
        return canonical_template(item)

    def canonical_observed_item(self, item: Mapping[str, Any]) -> Any:
        return canonical_template(item)

    def item_calls(self, key: str, want: Template, have: Mapping[str, Any] | None) -> list[Call]:
        if have is None:
            return [Call(CREATE, want)]
        # Update sets only what it is given: what the template must not have is reset explicitly.
        resets = {k: v for s in repository_settings() for k, v in s.template_reset.items()}
        return [Call(UPDATE, {**resets, **want}, subtractive=True)]


def creation_templates(state: DesiredState) -> dict[str, Template]:
    """The templates the desired state derives, by prefix: what Pulumi creates and the enforcer keeps."""
    cache_prefixes = list(state.registry.pull_through_cache or {})
    templates: dict[str, Template] = {}
    for pattern, entry in state.repository_patterns.items():
        prefix = template_prefix(pattern)
        if prefix is not None:
            settings = overlay(state.defaults, entry)
            templates[prefix] = template(pattern, prefix, settings, applied_for(pattern, cache_prefixes))
    return templates


def template(pattern: str, prefix: str, settings: RepositorySettings, applied: str) -> Template:
    parameters: Template = {
        "prefix": prefix,
        "description": template_description(pattern),
        "appliedFor": [applied],
    }
    for setting in repository_settings():
        value = setting.desired(settings, RepositoryOptions())
        if value is not None:
            parameters.update(setting.template_parameters(value))
    return parameters


def canonical_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a template (parameters or a DescribeRepositoryCreationTemplates entry) that shape the
    repositories it creates; the description, the role and the timestamps are not compared."""
    canonical: dict[str, Any] = {"appliedFor": sorted(template.get("appliedFor", []))}
    for setting in repository_settings():
        if (value := setting.template_canonical(template)) is not None:
            canonical[setting.name] = value
    return canonical


SPEC = CreationTemplates()
