"""Drift: the desired settings of a repository or the registry, against what observe read → findings.

Pure: no AWS, no I/O (observe's types are imported for type checking only). Every ``expected`` and
``actual`` is a canonical, JSON-serialisable value, so two values are in line exactly when their JSON texts
are equal, and a finding reads the same in a log line, an SNS message and the CLI. A setting the desired
state does not manage is never looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from handler.desired.models import DesiredState, PullThroughCacheRule, Registry, RegistryScanning
from handler.desired.resolution import Resolved
from handler.documents.canonical_json import dumps
from handler.documents.lifecycle import canonical_lifecycle_policy
from handler.documents.mutability import TagMutability, desired_tag_mutability
from handler.documents.repository_documents import lifecycle_document, repository_policy_document
from handler.documents.repository_policy import (
    canonical_repository_policy,
    desired_policy_with_kept,
    parse_repository_policy,
)
from handler.findings import REGISTRY, Action, Finding, Setting

if TYPE_CHECKING:
    from handler.aws.observe import ObservedRegistry, ObservedRepository

# The default upstream prefix: DescribePullThroughCacheRules may return it for a rule created without one.
ROOT_PREFIX = "ROOT"
# The settings DescribeRepositories does not bring: each costs one call per repository.
PER_REPOSITORY_READS = frozenset({Setting.LIFECYCLE_POLICY, Setting.REPOSITORY_POLICY, Setting.TAGS})
ENCRYPTION_MESSAGE = "encryption differs; it is set at creation, so it is reported, never remediated"
# Tags AWS sets itself (CloudFormation, ...): no user can remove them, so they are never drift.
AWS_TAG_PREFIX = "aws:"


@dataclass(frozen=True)
class DesiredRepository:
    """The effective settings of one repository compiled to ECR's terms; ``None`` fields are unmanaged.

    ``lifecycle_policy`` is the compiled document (``{"rules": []}``: the repository must have none) and
    ``repository_policy`` the built one, before the observed statements in ``keep_policy_sids`` are merged.
    """

    name: str
    named: bool
    scan_on_push: bool | None = None
    tag_mutability: TagMutability | None = None
    lifecycle_policy: dict[str, Any] | None = None
    repository_policy: dict[str, Any] | None = None
    tags: dict[str, str] | None = None
    encryption: dict[str, str] | None = None
    keep_policy_sids: frozenset[str] = field(default_factory=frozenset)
    remove_unmanaged_tags: bool = False
    recreate_if_missing: bool = True

    @property
    def managed(self) -> tuple[Setting, ...]:
        """The settings this repository manages, in the order findings list them."""
        values = {
            Setting.SCAN_ON_PUSH: self.scan_on_push,
            Setting.TAG_MUTABILITY: self.tag_mutability,
            Setting.LIFECYCLE_POLICY: self.lifecycle_policy,
            Setting.REPOSITORY_POLICY: self.repository_policy,
            Setting.TAGS: self.tags,
            Setting.ENCRYPTION: self.encryption,
        }
        return tuple(setting for setting, value in values.items() if value is not None)

    @property
    def reads(self) -> frozenset[Setting]:
        """The settings that cost a read of their own (DescribeRepositories brings the others)."""
        return frozenset(self.managed) & PER_REPOSITORY_READS


def desired_repository(state: DesiredState, resolved: Resolved) -> DesiredRepository:
    """Compile ``resolved``'s settings. The state was validated at load, so compiling cannot fail here."""
    settings = resolved.settings
    enforcement = state.enforcement
    encryption = settings.encryption
    return DesiredRepository(
        name=resolved.name,
        named=resolved.named,
        scan_on_push=settings.scan_on_push,
        tag_mutability=(
            desired_tag_mutability(settings.image_tag_mutability, settings.image_tag_mutability_exclusions)
            if settings.image_tag_mutability is not None
            else None
        ),
        lifecycle_policy=lifecycle_document(settings),
        repository_policy=repository_policy_document(settings),
        tags=dict(settings.tags) if settings.tags is not None else None,
        encryption=(
            {"type": encryption.type, **({"kms_key": encryption.kms_key} if encryption.kms_key else {})}
            if encryption is not None
            else None
        ),
        keep_policy_sids=frozenset(enforcement.keep_policy_sids),
        remove_unmanaged_tags=enforcement.remove_unmanaged_tags,
        recreate_if_missing=enforcement.recreate_missing_repositories,
    )


# ---------------------------------------------------------------------------------------------------------
# Canonical forms


def mutability_json(mutability: TagMutability) -> dict[str, Any]:
    return {"value": mutability.value, "exclusions": list(mutability.exclusions)}


def lifecycle_json(document: dict[str, Any]) -> dict[str, Any] | None:
    """A desired lifecycle policy as findings show it; no rule means "no policy"."""
    return canonical_lifecycle_policy(document) if document["rules"] else None


def policy_to_apply(desired: DesiredRepository, observed_text: str | None) -> dict[str, Any] | None:
    """The repository policy to write: the desired statements plus the observed ones whose Sid is kept.

    ``None`` when that leaves no statement: the repository must have no policy. Observed text that is not a
    policy contributes nothing to keep.
    """
    assert desired.repository_policy is not None, "only called for a managed repository policy"
    try:
        observed = parse_repository_policy(observed_text) if observed_text is not None else None
        document = desired_policy_with_kept(desired.repository_policy, observed, desired.keep_policy_sids)
    except ValueError:
        document = desired_policy_with_kept(desired.repository_policy, None, desired.keep_policy_sids)
    return document if document["Statement"] else None


def scanning_json(scanning: RegistryScanning) -> dict[str, Any]:
    return _scanning(scanning.scan_type, [(rule.frequency, rule.filters) for rule in scanning.rules])


def observed_scanning_json(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """From GetRegistryScanningConfiguration's ``scanningConfiguration`` (filterType is always WILDCARD)."""
    rules = [
        (rule["scanFrequency"], [f["filter"] for f in rule.get("repositoryFilters", [])])
        for rule in configuration.get("rules", [])
    ]
    return _scanning(configuration.get("scanType", "BASIC"), rules)


def _scanning(scan_type: str, rules: list[tuple[str, list[str]]]) -> dict[str, Any]:
    # Neither rule order nor filter order (nor a repeated filter) means anything to ECR.
    canonical = [{"frequency": frequency, "filters": sorted(set(filters))} for frequency, filters in rules]
    return {"scan_type": scan_type, "rules": sorted(canonical, key=dumps)}


def cache_rule_json(rule: PullThroughCacheRule) -> dict[str, str]:
    return _cache_rule(
        rule.upstream_registry_url, rule.credential_arn, rule.custom_role_arn, rule.upstream_repository_prefix
    )


def observed_cache_rule_json(rule: Mapping[str, Any]) -> dict[str, str]:
    """From one DescribePullThroughCacheRules entry."""
    return _cache_rule(
        rule["upstreamRegistryUrl"],
        rule.get("credentialArn"),
        rule.get("customRoleArn"),
        rule.get("upstreamRepositoryPrefix"),
    )


def _cache_rule(url: str, credential: str | None, role: str | None, prefix: str | None) -> dict[str, str]:
    values = {
        "upstream_registry_url": url,
        "credential_arn": credential,
        "custom_role_arn": role,
        "upstream_repository_prefix": None if prefix == ROOT_PREFIX else prefix,
    }
    return {key: value for key, value in values.items() if value}


# ---------------------------------------------------------------------------------------------------------
# Repositories


def expected_value(desired: DesiredRepository, setting: Setting) -> Any:
    """The canonical value ``setting`` must have, before any observed policy statement is kept."""
    match setting:
        case Setting.SCAN_ON_PUSH:
            return desired.scan_on_push
        case Setting.TAG_MUTABILITY:
            assert desired.tag_mutability is not None
            return mutability_json(desired.tag_mutability)
        case Setting.LIFECYCLE_POLICY:
            assert desired.lifecycle_policy is not None
            return lifecycle_json(desired.lifecycle_policy)
        case Setting.REPOSITORY_POLICY:
            document = policy_to_apply(desired, None)
            return canonical_repository_policy(document) if document is not None else None
        case Setting.TAGS:
            return dict(sorted((desired.tags or {}).items()))
        case Setting.ENCRYPTION:
            return desired.encryption
    raise ValueError(f"{setting} is not a repository setting")


def repository_findings(desired: DesiredRepository, observed: ObservedRepository | None) -> list[Finding]:
    """Findings for one managed repository; ``observed`` is None when it does not exist."""
    if observed is None:
        return missing_repository_findings(desired)
    findings: list[Finding] = []
    for setting in desired.managed:
        if setting in observed.failures:
            findings.append(
                Finding(
                    desired.name,
                    setting,
                    expected_value(desired, setting),
                    None,
                    Action.FAILED,
                    error=observed.failures[setting],
                    message=f"could not read {setting}",
                )
            )
            continue
        expected, actual = _COMPARED[setting](desired, observed)
        if not _EQUAL.get(setting, _same)(expected, actual):
            if setting is Setting.ENCRYPTION:
                # Fixed at creation: changing it means recreating the repository, which is never done.
                findings.append(
                    Finding(
                        desired.name, setting, expected, actual, Action.REPORTED, message=ENCRYPTION_MESSAGE
                    )
                )
            else:
                findings.append(
                    Finding(desired.name, setting, expected, actual, message=f"{setting} differs")
                )
    return findings


def missing_repository_findings(desired: DesiredRepository) -> list[Finding]:
    """A named repository that does not exist. Pattern repositories are created lazily (pull through cache,
    create on push): their absence is not drift."""
    if not desired.named:
        return []
    return [
        Finding(
            desired.name,
            Setting.REPOSITORY,
            {str(setting): expected_value(desired, setting) for setting in desired.managed},
            None,
            Action.DRIFT if desired.recreate_if_missing else Action.REPORTED,
            message="managed repository does not exist",
        )
    ]


def unmanaged_repository_findings(state: DesiredState, name: str, arn: str) -> list[Finding]:
    if state.enforcement.unmanaged_repositories == "ignore":
        return []
    return [
        Finding(
            name,
            Setting.UNMANAGED_REPOSITORY,
            None,
            arn,
            Action.REPORTED,
            message="matches no repository and no pattern in the desired state",
        )
    ]


def _same(expected: Any, actual: Any) -> bool:
    # Compared as text: Python's `1 == 1.0 == True` must not hide a change.
    return dumps(expected) == dumps(actual)


def _scan_on_push(desired: DesiredRepository, observed: ObservedRepository) -> tuple[Any, Any]:
    return desired.scan_on_push, observed.scan_on_push


def _tag_mutability(desired: DesiredRepository, observed: ObservedRepository) -> tuple[Any, Any]:
    # observe records a failure instead of a value it cannot parse, so the value is there.
    assert observed.tag_mutability is not None
    return expected_value(desired, Setting.TAG_MUTABILITY), mutability_json(observed.tag_mutability)


def _lifecycle_policy(desired: DesiredRepository, observed: ObservedRepository) -> tuple[Any, Any]:
    return (
        expected_value(desired, Setting.LIFECYCLE_POLICY),
        _canonical_or_text(observed.lifecycle_policy, canonical_lifecycle_policy),
    )


def _repository_policy(desired: DesiredRepository, observed: ObservedRepository) -> tuple[Any, Any]:
    document = policy_to_apply(desired, observed.repository_policy)
    expected = canonical_repository_policy(document) if document is not None else None
    return expected, _canonical_or_text(observed.repository_policy, canonical_repository_policy)


def _tags(desired: DesiredRepository, observed: ObservedRepository) -> tuple[Any, Any]:
    expected = expected_value(desired, Setting.TAGS)
    present = {k: v for k, v in (observed.tags or {}).items() if not k.startswith(AWS_TAG_PREFIX)}
    # Unless told to remove them, tags the desired state does not name are none of its business.
    actual = present if desired.remove_unmanaged_tags else {k: v for k, v in present.items() if k in expected}
    return expected, dict(sorted(actual.items()))


def _encryption(desired: DesiredRepository, observed: ObservedRepository) -> tuple[Any, Any]:
    return desired.encryption, observed.encryption


def _encryption_equal(expected: Any, actual: Any) -> bool:
    # Without a kms_key, KMS means "whatever key": ECR reports the AWS managed key's ARN then.
    return bool(
        expected["type"] == actual.get("type")
        and ("kms_key" not in expected or expected["kms_key"] == actual.get("kms_key"))
    )


def _canonical_or_text(text: str | None, canonical: Callable[[str], dict[str, Any]]) -> Any:
    """The canonical form of an observed document; its raw text when it is not one (shown, then rewritten)."""
    if text is None:
        return None
    try:
        return canonical(text)
    except ValueError:
        return text


_COMPARED: dict[Setting, Callable[[DesiredRepository, ObservedRepository], tuple[Any, Any]]] = {
    Setting.SCAN_ON_PUSH: _scan_on_push,
    Setting.TAG_MUTABILITY: _tag_mutability,
    Setting.LIFECYCLE_POLICY: _lifecycle_policy,
    Setting.REPOSITORY_POLICY: _repository_policy,
    Setting.TAGS: _tags,
    Setting.ENCRYPTION: _encryption,
}
_EQUAL: dict[Setting, Callable[[Any, Any], bool]] = {Setting.ENCRYPTION: _encryption_equal}


# ---------------------------------------------------------------------------------------------------------
# Registry


def registry_findings(registry: Registry, observed: ObservedRegistry) -> list[Finding]:
    """Registry scanning and pull-through cache rules, each compared only when the desired state has it."""
    findings: list[Finding] = []
    if registry.scanning is not None:
        findings += _scanning_findings(registry.scanning, observed)
    if registry.pull_through_cache is not None:
        findings += _cache_rule_findings(registry.pull_through_cache, observed)
    return findings


def _scanning_findings(scanning: RegistryScanning, observed: ObservedRegistry) -> list[Finding]:
    expected = scanning_json(scanning)
    setting = Setting.REGISTRY_SCANNING
    if setting in observed.failures:
        return [_registry_failure(setting, expected, observed.failures[setting])]
    assert observed.scanning is not None
    actual = observed_scanning_json(observed.scanning)
    if _same(expected, actual):
        return []
    return [Finding(REGISTRY, setting, expected, actual, message="registry scanning configuration differs")]


def _cache_rule_findings(
    rules: Mapping[str, PullThroughCacheRule], observed: ObservedRegistry
) -> list[Finding]:
    expected = {prefix: cache_rule_json(rule) for prefix, rule in rules.items()}
    setting = Setting.PULL_THROUGH_CACHE_RULE
    if setting in observed.failures:
        return [_registry_failure(setting, expected, observed.failures[setting])]
    assert observed.pull_through_cache_rules is not None
    actual = {
        prefix: observed_cache_rule_json(rule) for prefix, rule in observed.pull_through_cache_rules.items()
    }
    findings: list[Finding] = []
    for prefix in sorted(expected.keys() | actual.keys()):
        want, have = expected.get(prefix), actual.get(prefix)
        if want == have:
            continue
        if want is None:  # reported, never deleted: another team may rely on it
            finding = Finding(
                REGISTRY, setting, None, have, Action.REPORTED, message="rule not in the desired state"
            )
        else:
            finding = Finding(
                REGISTRY, setting, want, have, message="rule missing" if have is None else "rule differs"
            )
        findings.append(replace(finding, key=prefix))
    return findings


def _registry_failure(setting: Setting, expected: Any, error: str) -> Finding:
    message = f"could not read {setting}"
    return Finding(REGISTRY, setting, expected, None, Action.FAILED, error=error, message=message)
