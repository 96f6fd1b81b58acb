"""Reads: the account's ECR state as it is, in as few calls as possible. No decisions are made here.

DescribeRepositories brings scan on push, tag mutability and encryption for up to 1000 repositories a call;
lifecycle policy, repository policy and tags cost one call each per repository, so only the ones a
repository's managed settings need are made. A read that fails is recorded with its reason, never skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from handler.documents.mutability import TagMutability, observed_tag_mutability
from handler.findings import Setting

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import RepositoryTypeDef

T = TypeVar("T")
Sleep = Callable[[float], None]

READ_IAM_ACTIONS = (
    "ecr:DescribePullThroughCacheRules",
    "ecr:DescribeRepositories",
    "ecr:GetLifecyclePolicy",
    "ecr:GetRegistryScanningConfiguration",
    "ecr:GetRepositoryPolicy",
    "ecr:ListTagsForResource",
)
PAGE_SIZE = 1000  # DescribeRepositories' maximum
NAMES_PER_CALL = 100  # DescribeRepositories' limit on repositoryNames
# Reads right after a repository appeared can briefly answer "not found": three tries within ~1.5 s.
NOT_FOUND_DELAYS = (0.5, 1.0)
# Operations that change nothing; every other operation is a write (audit mode makes none).
READ_OPERATION_PREFIXES = ("Describe", "Get", "List", "BatchGet", "BatchCheck", "Validate")
REPOSITORY_NOT_FOUND = "RepositoryNotFoundException"
ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied"})
AwsError = (ClientError, BotoCoreError)


@dataclass(frozen=True)
class ObservedRepository:
    """One repository as read. A document or tag map that was not read (unmanaged) is None, like a missing
    one; ``failures`` maps each setting whose read failed to the reason."""

    name: str
    arn: str
    scan_on_push: bool
    tag_mutability: TagMutability | None
    encryption: dict[str, str]
    lifecycle_policy: str | None = None
    repository_policy: str | None = None
    tags: dict[str, str] | None = None
    failures: dict[Setting, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObservedRegistry:
    """``scanning`` is GetRegistryScanningConfiguration's ``scanningConfiguration`` and the cache rules are
    DescribePullThroughCacheRules entries by prefix; either is None when not read."""

    scanning: dict[str, Any] | None = None
    pull_through_cache_rules: dict[str, dict[str, Any]] | None = None
    failures: dict[Setting, str] = field(default_factory=dict)


def error_text(error: Exception) -> str:
    """What went wrong, for a ``failed`` finding; an access denial names the IAM action the role lacks."""
    if isinstance(error, ClientError):
        code = _code(error) or "Unknown"
        text = f"{code}: {error.response.get('Error', {}).get('Message', '')}".rstrip(": ")
        if code in ACCESS_DENIED:
            text += f" (the role needs ecr:{error.operation_name})"
        return text
    return f"{type(error).__name__}: {error}"


def is_read_operation(operation: str) -> bool:
    return operation.startswith(READ_OPERATION_PREFIXES)


def is_not_found(error: Exception) -> bool:
    return _code(error) == REPOSITORY_NOT_FOUND


def _code(error: Exception) -> str | None:
    return error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None


def retry_not_found(call: Callable[[], T], sleep: Sleep) -> T:
    """``call()``, tried again briefly while it answers RepositoryNotFoundException (ECR's read lag)."""
    for delay in NOT_FOUND_DELAYS:
        try:
            return call()
        except ClientError as error:
            if not is_not_found(error):
                raise
        sleep(delay)
    return call()


# ---------------------------------------------------------------------------------------------------------
# Listing


def list_repositories(ecr: ECRClient) -> list[RepositoryTypeDef]:
    """Every repository in the registry, 1000 a call."""
    pages = ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": PAGE_SIZE})
    return [repository for page in pages for repository in page["repositories"]]


def describe_repositories(
    ecr: ECRClient, names: Sequence[str], sleep: Sleep
) -> tuple[dict[str, RepositoryTypeDef], list[str]]:
    """The named repositories that exist, by name, and the names that do not (after a brief retry)."""
    found: dict[str, RepositoryTypeDef] = {}
    missing: list[str] = []
    unique = list(dict.fromkeys(names))
    for start in range(0, len(unique), NAMES_PER_CALL):
        described, absent = _describe_batch(ecr, unique[start : start + NAMES_PER_CALL])
        found.update(described)
        missing += absent
    for delay in NOT_FOUND_DELAYS:
        if not missing:
            break
        sleep(delay)
        retried = [_describe_batch(ecr, [name]) for name in missing]
        missing = [name for described, absent in retried for name in absent]
        found.update({name: r for described, _ in retried for name, r in described.items()})
    return found, missing


def _describe_batch(ecr: ECRClient, names: list[str]) -> tuple[dict[str, RepositoryTypeDef], list[str]]:
    try:
        repositories = ecr.describe_repositories(repositoryNames=names)["repositories"]
        return {r["repositoryName"]: r for r in repositories}, []
    except ClientError as error:
        if not is_not_found(error):
            raise
    # One missing name fails the whole call and the message is not a contract: ask name by name.
    if len(names) == 1:
        return {}, names
    found: dict[str, RepositoryTypeDef] = {}
    missing: list[str] = []
    for name in names:
        described, absent = _describe_batch(ecr, [name])
        found.update(described)
        missing += absent
    return found, missing


# ---------------------------------------------------------------------------------------------------------
# One repository


def observe_repository(
    ecr: ECRClient, description: RepositoryTypeDef, reads: Collection[Setting], sleep: Sleep
) -> ObservedRepository | None:
    """The repository ``description`` (a DescribeRepositories entry) plus the ``reads`` it needs.

    None when the repository is gone by the time it is read (deleted in between).
    """
    name = description["repositoryName"]
    arn = description["repositoryArn"]
    failures: dict[Setting, str] = {}
    try:
        mutability: TagMutability | None = observed_tag_mutability(description)
    except ValueError as error:
        mutability = None
        failures[Setting.TAG_MUTABILITY] = str(error)
    values: dict[Setting, Any] = {}
    readers: dict[Setting, Callable[[], Any]] = {
        Setting.LIFECYCLE_POLICY: lambda: _lifecycle_policy(ecr, name),
        Setting.REPOSITORY_POLICY: lambda: _repository_policy(ecr, name),
        Setting.TAGS: lambda: _tags(ecr, arn),
    }
    for setting in sorted(set(reads) & readers.keys()):
        try:
            values[setting] = retry_not_found(readers[setting], sleep)
        except AwsError as error:
            if is_not_found(error):
                return None
            failures[setting] = error_text(error)
    encryption = description.get("encryptionConfiguration", {"encryptionType": "AES256"})
    return ObservedRepository(
        name=name,
        arn=arn,
        scan_on_push=description.get("imageScanningConfiguration", {}).get("scanOnPush", False),
        tag_mutability=mutability,
        encryption={
            "type": encryption["encryptionType"],
            **({"kms_key": encryption["kmsKey"]} if "kmsKey" in encryption else {}),
        },
        lifecycle_policy=values.get(Setting.LIFECYCLE_POLICY),
        repository_policy=values.get(Setting.REPOSITORY_POLICY),
        tags=values.get(Setting.TAGS),
        failures=failures,
    )


def _lifecycle_policy(ecr: ECRClient, name: str) -> str | None:
    try:
        return ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        return None


def _repository_policy(ecr: ECRClient, name: str) -> str | None:
    try:
        return ecr.get_repository_policy(repositoryName=name)["policyText"]
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        return None


def _tags(ecr: ECRClient, arn: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in ecr.list_tags_for_resource(resourceArn=arn).get("tags", [])}


# ---------------------------------------------------------------------------------------------------------
# Registry


def observe_registry(ecr: ECRClient, *, scanning: bool, pull_through_cache: bool) -> ObservedRegistry:
    """The registry settings asked for; a failed read is recorded in ``failures``."""
    failures: dict[Setting, str] = {}
    scanning_configuration = None
    rules = None
    if scanning:
        try:
            response = ecr.get_registry_scanning_configuration()
            scanning_configuration = dict(response.get("scanningConfiguration", {}))
        except AwsError as error:
            failures[Setting.REGISTRY_SCANNING] = error_text(error)
    if pull_through_cache:
        try:
            rules = {rule["ecrRepositoryPrefix"]: dict(rule) for rule in _cache_rules(ecr)}
        except AwsError as error:
            failures[Setting.PULL_THROUGH_CACHE_RULE] = error_text(error)
    return ObservedRegistry(scanning_configuration, rules, failures)


def _cache_rules(ecr: ECRClient) -> Iterable[Any]:
    for page in ecr.get_paginator("describe_pull_through_cache_rules").paginate():
        yield from page["pullThroughCacheRules"]
