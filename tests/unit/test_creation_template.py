"""Creation templates: which repository patterns get one, under which prefix, applied for what."""

from __future__ import annotations

import pytest

from ecr_drift.documents.creation_template import (
    CREATE_ON_PUSH,
    MAX_DESCRIPTION_LENGTH,
    PULL_THROUGH_CACHE,
    applied_for,
    template_description,
    template_prefix,
)


@pytest.mark.parametrize(
    "pattern",
    [
        "a/*/b/*",  # a star inside the namespace
        "a..b/*",  # no repository name has `..`: ECR refuses such a prefix
        "/*",
        "team//*",
        "x" * 257 + "/*",  # ECR's prefixes have at most 256 characters
    ],
)
def test_no_template_for_a_namespace_ecr_would_refuse(pattern: str) -> None:
    assert template_prefix(pattern) is None


def test_the_longest_prefix_ecr_accepts() -> None:
    assert template_prefix("x" * 256 + "/*") == "x" * 256
    assert template_prefix("x" * 200 + "/y/*") == "x" * 200 + "/y"


def test_applied_for_follows_the_cache_prefix_with_or_without_its_slash() -> None:
    assert applied_for("quay/library/*", ["quay/"]) == PULL_THROUGH_CACHE
    assert applied_for("quay/*", []) == CREATE_ON_PUSH


def test_the_description_names_the_pattern() -> None:
    assert template_description("team/*") == "ecr-drift-enforcer: settings of repository_patterns 'team/*'"


def test_a_long_pattern_gets_a_description_ecr_accepts() -> None:
    pattern = "a" * 250 + "/*"
    description = template_description(pattern)
    assert len(description) == MAX_DESCRIPTION_LENGTH
    assert description.startswith("ecr-drift-enforcer: settings of repository_patterns 'aaa")
    assert description.endswith("...")
