"""Writes: one small unit per setting, each declaring the exact IAM actions it calls.

A unit is handed a ``drift`` finding and writes only what that finding says differs, with documents rendered
by the shared compiler (the bytes Pulumi sends too). Units never delete a repository or an image: the only
deletions are of a lifecycle policy, a repository policy, tags and a pull-through cache rule, each because the
desired state says so. The role the enforcer runs with is built from ``iam_actions``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from handler.aws.observe import ObservedRepository, Sleep, is_read_operation, retry_not_found
from handler.desired.models import LifecycleGuard
from handler.desired.upstreams import upstream_registry
from handler.documents.lifecycle import render_lifecycle_policy
from handler.documents.lifecycle_preview import Image, preview
from handler.documents.mutability import to_api
from handler.documents.repository_policy import render_repository_policy
from handler.drift import DesiredRepository, policy_to_apply
from handler.findings import Action, Finding, Setting

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import RegistryScanningRuleTypeDef

U = TypeVar("U", bound="Unit")
MASS_EXPIRY_EXAMPLES = 3  # images named in a blocked finding, so a person can check what would go


@dataclass(frozen=True)
class Subject:
    """What a unit may need beyond its finding: a repository's compiled settings and what was read."""

    desired: DesiredRepository | None = None
    observed: ObservedRepository | None = None
    guard: LifecycleGuard = field(default_factory=LifecycleGuard)
    sleep: Sleep = time.sleep
    # A person's explicit override (`ecr-drift enforce --allow-mass-expiry`); the Lambda never sets it.
    allow_mass_expiry: bool = False

    @property
    def repository(self) -> DesiredRepository:
        assert self.desired is not None, "a repository unit is always given the repository's settings"
        return self.desired


class Unit(ABC):
    """Remediation of one setting. ``apply`` returns the finding with its new action; AWS errors propagate.

    ``calls`` are the ECR operations ``apply`` may make, in the order `ecr-drift plan` shows them;
    ``implied_iam_actions`` are what those calls need beyond their own action (tags or a KMS key on creation).
    """

    setting: ClassVar[Setting]
    calls: ClassVar[tuple[str, ...]]
    implied_iam_actions: ClassVar[tuple[str, ...]] = ()

    @property
    def iam_actions(self) -> tuple[str, ...]:
        return (*(f"ecr:{call}" for call in self.calls), *self.implied_iam_actions)

    @abstractmethod
    def apply(self, ecr: ECRClient, finding: Finding, subject: Subject) -> Finding: ...


UNITS: dict[Setting, Unit] = {}


class RepositoryAppeared(Exception):
    """A missing repository was created by someone else between the read and the CreateRepository."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def register(cls: type[U]) -> type[U]:
    UNITS[cls.setting] = cls()
    return cls


def remediated(finding: Finding) -> Finding:
    return finding.with_action(Action.REMEDIATED)


# ---------------------------------------------------------------------------------------------------------
# Repository settings


@register
class ScanOnPushUnit(Unit):
    setting = Setting.SCAN_ON_PUSH
    calls = ("PutImageScanningConfiguration",)

    def apply(self, ecr: ECRClient, finding: Finding, subject: Subject) -> Finding:
        desired = subject.repository
        assert desired.scan_on_push is not None
        ecr.put_image_scanning_configuration(
            repositoryName=desired.name, imageScanningConfiguration={"scanOnPush": desired.scan_on_push}
        )
        return remediated(finding)


@register
class TagMutabilityUnit(Unit):
    setting = Setting.TAG_MUTABILITY
    calls = ("PutImageTagMutability",)

    def apply(self, ecr: ECRClient, finding: Finding, subject: Subject) -> Finding:
        desired = subject.repository
        assert desired.tag_mutability is not None
        ecr.put_image_tag_mutability(repositoryName=desired.name, **to_api(desired.tag_mutability))
        return remediated(finding)


@register
class LifecyclePolicyUnit(Unit):
    """Put the policy, unless it would expire more images at once than ``lifecycle_guard`` allows and
    the run does not allow mass expiry."""

    setting = Setting.LIFECYCLE_POLICY
    calls = ("PutLifecyclePolicy", "DeleteLifecyclePolicy", "DescribeImages")

    def apply(self, ecr: ECRClient, finding: Finding, subject: Subject) -> Finding:
        desired = subject.repository
        document = desired.lifecycle_policy
        assert document is not None
        if not document["rules"]:
            with suppress(ecr.exceptions.LifecyclePolicyNotFoundException):  # already none
                ecr.delete_lifecycle_policy(repositoryName=desired.name)
            return remediated(finding)
        excess = _mass_expiry(ecr, desired.name, document, subject.guard)
        if excess and not subject.allow_mass_expiry:
            message = f"not applied: {excess}; `ecr-drift enforce --allow-mass-expiry` applies it anyway"
            return replace(finding, action=Action.BLOCKED, message=message)
        put_lifecycle_policy(ecr, desired.name, document, subject.sleep)
        if excess:  # applied by override: the finding keeps what it cost
            return replace(remediated(finding), message=f"applied, mass expiry allowed: {excess}")
        return remediated(finding)


@register
class RepositoryPolicyUnit(Unit):
    setting = Setting.REPOSITORY_POLICY
    calls = ("SetRepositoryPolicy", "DeleteRepositoryPolicy")

    def apply(self, ecr: ECRClient, finding: Finding, subject: Subject) -> Finding:
        desired = subject.repository
        observed_text = subject.observed.repository_policy if subject.observed else None
        document = policy_to_apply(desired, observed_text)
        if document is None:
            with suppress(ecr.exceptions.RepositoryPolicyNotFoundException):  # already none
                ecr.delete_repository_policy(repositoryName=desired.name)
        else:
            set_repository_policy(ecr, desired.name, document, subject.sleep)
        return remediated(finding)


@register
class TagsUnit(Unit):
    """Tag what is missing or different; untag extra keys (listed only with remove_unmanaged_tags)."""

    setting = Setting.TAGS
    calls = ("TagResource", "UntagResource")

    def apply(self, ecr: ECRClient, finding: Finding, subject: Subject) -> Finding:
        assert subject.observed is not None, "tags of a repository that exists"
        arn = subject.observed.arn
        expected: dict[str, str] = finding.expected
        actual: dict[str, str] = finding.actual
        changed = {key: value for key, value in expected.items() if actual.get(key) != value}
        extra = sorted(actual.keys() - expected.keys())
        if changed:
            ecr.tag_resource(resourceArn=arn, tags=_tag_list(changed))
        if extra:
            ecr.untag_resource(resourceArn=arn, tagKeys=extra)
        return remediated(finding)


@register
class MissingRepositoryUnit(Unit):
    """Create the repository with every managed setting; lifecycle and policy follow once it exists."""

    setting = Setting.REPOSITORY
    calls = ("CreateRepository", "PutLifecyclePolicy", "SetRepositoryPolicy")
    # Tags on creation need ecr:TagResource; with a KMS key, ECR checks the key and creates a grant on it.
    implied_iam_actions = ("ecr:TagResource", "kms:CreateGrant", "kms:DescribeKey")

    def apply(self, ecr: ECRClient, finding: Finding, subject: Subject) -> Finding:
        desired = subject.repository
        parameters: dict[str, Any] = {"repositoryName": desired.name}
        if desired.tag_mutability is not None:
            parameters.update(to_api(desired.tag_mutability))
        if desired.scan_on_push is not None:
            parameters["imageScanningConfiguration"] = {"scanOnPush": desired.scan_on_push}
        if desired.encryption is not None:
            parameters["encryptionConfiguration"] = {
                "encryptionType": desired.encryption["type"],
                **({"kmsKey": desired.encryption["kms_key"]} if "kms_key" in desired.encryption else {}),
            }
        if desired.tags:
            parameters["tags"] = _tag_list(desired.tags)
        try:
            ecr.create_repository(**parameters)
        except ecr.exceptions.RepositoryAlreadyExistsException as error:
            raise RepositoryAppeared(error) from error  # the engine checks the one that exists instead
        # A new repository has no images: the lifecycle guard has nothing to protect.
        if desired.lifecycle_policy and desired.lifecycle_policy["rules"]:
            put_lifecycle_policy(ecr, desired.name, desired.lifecycle_policy, subject.sleep)
        policy = policy_to_apply(desired, None) if desired.repository_policy is not None else None
        if policy is not None:
            set_repository_policy(ecr, desired.name, policy, subject.sleep)
        return remediated(finding)


def put_lifecycle_policy(ecr: ECRClient, name: str, document: dict[str, Any], sleep: Sleep) -> None:
    text = render_lifecycle_policy(document)
    retry_not_found(lambda: ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=text), sleep)


def set_repository_policy(ecr: ECRClient, name: str, document: dict[str, Any], sleep: Sleep) -> None:
    text = render_repository_policy(document)
    retry_not_found(lambda: ecr.set_repository_policy(repositoryName=name, policyText=text), sleep)


def _tag_list(tags: dict[str, str]) -> list[Any]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def _mass_expiry(ecr: ECRClient, name: str, document: dict[str, Any], guard: LifecycleGuard) -> str | None:
    """What applying ``document`` now would expire beyond ``guard``, with examples; None within it.

    The local evaluator decides. Only ``expire`` results count: a ``transition`` moves an image to archive
    storage, where it can still be restored.
    """
    images = [
        Image(
            digest=detail["imageDigest"],
            tags=tuple(detail.get("imageTags", ())),
            pushed_at=detail["imagePushedAt"],
            last_pulled_at=detail.get("lastRecordedPullTime"),
        )
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=name)
        for detail in page["imageDetails"]
    ]
    if not images:
        return None
    expired = [e.digest for e in preview(document, images, datetime.now(UTC)) if e.action == "expire"]
    if len(expired) <= guard.max_expire_images and len(expired) / len(images) <= guard.max_expire_fraction:
        return None
    tags = {image.digest: image.tags for image in images}
    examples = ", ".join(
        f"{digest} ({', '.join(tags[digest]) or 'untagged'})" for digest in expired[:MASS_EXPIRY_EXAMPLES]
    )
    return (
        f"it would expire {len(expired)} of {len(images)} images at once "
        f"(lifecycle_guard allows {guard.max_expire_images} and {guard.max_expire_fraction:.0%}), "
        f"oldest first: {examples}"
    )


# ---------------------------------------------------------------------------------------------------------
# Registry settings


@register
class RegistryScanningUnit(Unit):
    setting = Setting.REGISTRY_SCANNING
    calls = ("PutRegistryScanningConfiguration",)
    # Switching between BASIC and ENHANCED turns Amazon Inspector's ECR scanning on or off.
    implied_iam_actions = ("inspector2:Disable", "inspector2:Enable", "inspector2:ListAccountPermissions")

    def apply(self, ecr: ECRClient, finding: Finding, subject: Subject) -> Finding:
        expected = finding.expected  # drift's canonical form of registry.scanning
        rules: list[RegistryScanningRuleTypeDef] = [
            {
                "scanFrequency": rule["frequency"],
                "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in rule["filters"]],
            }
            for rule in expected["rules"]
        ]
        ecr.put_registry_scanning_configuration(scanType=expected["scan_type"], rules=rules)
        return remediated(finding)


@register
class PullThroughCacheRuleUnit(Unit):
    """Create a missing rule, update its credential or role, or replace it when its upstream changed.

    Replacing deletes the rule only: cached repositories and their images stay.
    """

    setting = Setting.PULL_THROUGH_CACHE_RULE
    calls = ("CreatePullThroughCacheRule", "UpdatePullThroughCacheRule", "DeletePullThroughCacheRule")

    def apply(self, ecr: ECRClient, finding: Finding, subject: Subject) -> Finding:
        prefix = finding.key
        assert prefix is not None
        want: dict[str, str] = finding.expected
        have: dict[str, str] | None = finding.actual
        if have is not None and _needs_replacing(want, have):
            # Deleted by someone since it was read: gone is what this delete wanted, so create it now.
            with suppress(ecr.exceptions.PullThroughCacheRuleNotFoundException):
                ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix=prefix)
            have = None
        if have is None:
            _create_cache_rule(ecr, prefix, want)
        else:
            ecr.update_pull_through_cache_rule(ecrRepositoryPrefix=prefix, **_credentials(want))
        return remediated(finding)


def _needs_replacing(want: dict[str, str], have: dict[str, str]) -> bool:
    # UpdatePullThroughCacheRule sets a credential or role; it cannot change the upstream or drop either.
    fixed = ("upstream_registry_url", "upstream_repository_prefix")
    dropped = any(key in have and key not in want for key in ("credential_arn", "custom_role_arn"))
    return dropped or any(want.get(key) != have.get(key) for key in fixed)


def _credentials(rule: dict[str, str]) -> dict[str, Any]:
    names = {"credential_arn": "credentialArn", "custom_role_arn": "customRoleArn"}
    return {api: rule[key] for key, api in names.items() if key in rule}


def _create_cache_rule(ecr: ECRClient, prefix: str, rule: dict[str, str]) -> None:
    url = rule["upstream_registry_url"]
    parameters: dict[str, Any] = {
        "ecrRepositoryPrefix": prefix,
        "upstreamRegistryUrl": url,
        **_credentials(rule),
    }
    registry = upstream_registry(url)
    if registry is not None:
        parameters["upstreamRegistry"] = registry
    if "upstream_repository_prefix" in rule:
        parameters["upstreamRepositoryPrefix"] = rule["upstream_repository_prefix"]
    ecr.create_pull_through_cache_rule(**parameters)


def iam_actions() -> list[str]:
    """Every IAM action any unit needs."""
    return sorted({action for unit in UNITS.values() for action in unit.iam_actions})


def planned_calls() -> dict[str, list[str]]:
    """The write calls that remediating each setting may make, for `ecr-drift plan`."""
    return {
        str(setting): [c for c in unit.calls if not is_read_operation(c)] for setting, unit in UNITS.items()
    }
