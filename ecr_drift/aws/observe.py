"""Reads: the account's ECR state as it is, in as few calls as possible. No decisions are made here.

DescribeRepositories brings what several settings need for up to 1000 repositories a call; every other read
is one a managed setting declared (``ecr_drift.settings``), made once however many settings share it. A read
that fails is recorded with its reason, never skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from botocore.exceptions import ClientError

from ecr_drift.aws.errors import (
    NOT_FOUND_DELAYS,
    AwsError,
    Sleep,
    error_code,
    error_text,
    is_not_found,
    retry_not_found,
)
from ecr_drift.state import ObservedRegistry, ObservedRepository, Read

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import RepositoryTypeDef

LIST_READ = Read("DescribeRepositories")  # listing and describing, for every managed repository
PAGE_SIZE = 1000  # DescribeRepositories' maximum
NAMES_PER_CALL = 100  # DescribeRepositories' limit on repositoryNames


def read(ecr: ECRClient, read: Read, *, name: str | None = None, arn: str | None = None) -> Any:
    """The response of ``read`` (all its pages), without metadata; None when ECR answers ``read.absent``."""
    method = xform_name(read.operation)
    parameters = {} if read.by is None else {read.by: name if read.by == "repositoryName" else arn}
    try:
        if read.paginate is not None:
            return ecr.get_paginator(method).paginate(**parameters).build_full_result()  # type: ignore[call-overload]
        response = dict(getattr(ecr, method)(**parameters))
    except ClientError as error:
        if read.absent is not None and error_code(error) == read.absent:
            return None
        raise
    response.pop("ResponseMetadata", None)
    return response


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
# One repository, the registry


def observe_repository(
    ecr: ECRClient, description: RepositoryTypeDef, reads: Collection[Read], sleep: Sleep
) -> ObservedRepository | None:
    """The repository ``description`` (a DescribeRepositories entry) plus the ``reads`` its settings need.

    None when the repository is gone by the time it is read (deleted in between).
    """
    name = description["repositoryName"]
    arn = description["repositoryArn"]
    values: dict[Read, Any] = {}
    failures: dict[Read, str] = {}
    for each in sorted(reads, key=lambda r: r.operation):
        try:
            values[each] = retry_not_found(partial(read, ecr, each, name=name, arn=arn), sleep)
        except AwsError as error:
            if is_not_found(error):
                return None
            failures[each] = error_text(error)
    return ObservedRepository(name, arn, dict(description), values, failures)


def observe_registry(ecr: ECRClient, reads: Collection[Read]) -> ObservedRegistry:
    """The registry reads asked for; a failed read is recorded in ``failures``."""
    values: dict[Read, Any] = {}
    failures: dict[Read, str] = {}
    for each in sorted(reads, key=lambda r: r.operation):
        try:
            values[each] = read(ecr, each)
        except AwsError as error:
            failures[each] = error_text(error)
    return ObservedRegistry(ecr.meta.region_name, values, failures)
