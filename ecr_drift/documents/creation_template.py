"""Creation templates: which ``repository_patterns`` get one, under which prefix, applied for what.

Pure: no AWS, no I/O. ECR applies a template to the repositories it creates under a namespace (pull through
cache, create on push), so only ``<namespace>/*`` patterns translate. What a template sets comes from each
repository setting (``ecr_drift.settings.creation_templates``), so Pulumi and the enforcer send the same
bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ecr_drift.desired.resolution import literal_prefix

# botocore's ECR model, `Prefix` without its ROOT alternative and its optional trailing slash.
_PREFIX = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
MAX_PREFIX_LENGTH = 256
# botocore's ECR model: RepositoryTemplateDescription is at most 256 characters.
MAX_DESCRIPTION_LENGTH = 256
PULL_THROUGH_CACHE = "PULL_THROUGH_CACHE"
CREATE_ON_PUSH = "CREATE_ON_PUSH"


def template_prefix(pattern: str) -> str | None:
    """The creation-template prefix covering exactly the names ``pattern`` matches, or None.

    A template applies to the repositories under one namespace (``prefix/...``), so only ``<namespace>/*``
    translates; other patterns are enforced when ECR reports the repository's creation.
    """
    namespace = pattern.removesuffix("/*")
    if not pattern.endswith("/*") or len(namespace) > MAX_PREFIX_LENGTH or not _PREFIX.fullmatch(namespace):
        return None
    return namespace


def applied_for(pattern: str, cache_prefixes: Sequence[str]) -> str:
    """PULL_THROUGH_CACHE under a cache rule's prefix; anywhere else the repository appears on push."""
    prefix = literal_prefix(pattern)
    under_cache = any(prefix.startswith(f"{cache.rstrip('/')}/") for cache in cache_prefixes)
    return PULL_THROUGH_CACHE if under_cache else CREATE_ON_PUSH


def template_description(pattern: str) -> str:
    """Says where the template comes from; cut to ECR's 256 characters for a very long pattern."""
    description = f"ecr-drift-enforcer: settings of repository_patterns {pattern!r}"
    if len(description) <= MAX_DESCRIPTION_LENGTH:
        return description
    return description[: MAX_DESCRIPTION_LENGTH - 3] + "..."
