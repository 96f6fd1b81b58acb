"""The inverse of the lifecycle compiler: an ECR lifecycle policy → the shorthand rules that compile to it.

Pure: no AWS, no I/O. A policy is only given as shorthand when compiling that shorthand back gives exactly the
same canonical policy (``ecr_drift.documents.lifecycle``); anything the shorthand cannot say (priorities that
are not 1, 2, 3, …, archive rules, pull-based ages, keys ECR may add) is kept as the raw policy instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ecr_drift.desired.lifecycle_rules import LifecycleRule
from ecr_drift.documents.canonical_json import dumps
from ecr_drift.documents.lifecycle import canonical_lifecycle_policy, compile_lifecycle_policy
from ecr_drift.documents.problems import DocumentError

# ECR's count type → the shorthand field that compiles to it.
_COUNT_FIELDS = {"imageCountMoreThan": "max_images", "sinceImagePushed": "max_age_days"}


def lifecycle_field(document: dict[str, Any]) -> list[dict[str, Any]] | dict[str, Any]:
    """The desired state's ``lifecycle`` for the ECR lifecycle policy ``document``: shorthand rules when they
    compile to exactly the same canonical policy, else ``{"raw": <canonical policy>}``.

    Raises ValueError when ``document`` is not a lifecycle policy at all (``canonical_lifecycle_policy``).
    """
    canonical = canonical_lifecycle_policy(document)
    rules = shorthand_rules(canonical)
    if rules is None:
        return {"raw": canonical}
    return [rule.model_dump(exclude_none=True) for rule in rules]


def shorthand_rules(document: dict[str, Any]) -> list[LifecycleRule] | None:
    """The shorthand rules that compile to ``document``, or None when no shorthand does."""
    canonical = canonical_lifecycle_policy(document)
    rules = [_shorthand_rule(rule) for rule in canonical["rules"]]
    if not rules or any(rule is None for rule in rules):
        return None
    shorthand = [rule for rule in rules if rule is not None]
    try:
        compiled = compile_lifecycle_policy(shorthand)
    except DocumentError:
        return None
    # The proof: whatever the guesses above missed (priorities, actions, storage classes, unknown keys)
    # shows as a difference here.
    same = dumps(canonical_lifecycle_policy(compiled)) == dumps(canonical)
    return shorthand if same else None


def _shorthand_rule(rule: dict[str, Any]) -> LifecycleRule | None:
    """The shorthand rule that ``rule`` most likely came from; its priority and action are checked later."""
    selection = rule.get("selection")
    if not isinstance(selection, dict) or selection.get("countType") not in _COUNT_FIELDS:
        return None
    status = selection.get("tagStatus")
    fields: dict[str, Any] = {
        "description": rule.get("description"),
        # `tagged` is implied by the tag lists; `untagged` and `any` are written out, which reads better.
        "tag_status": None if status == "tagged" else status,
        "tag_prefixes": selection.get("tagPrefixList"),
        "tag_patterns": selection.get("tagPatternList"),
        _COUNT_FIELDS[selection["countType"]]: selection.get("countNumber"),
    }
    try:
        return LifecycleRule.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError:  # out of the shorthand's range (a description too long, a count too high)
        return None
