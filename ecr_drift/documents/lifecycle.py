"""Lifecycle policies: the shorthand of ``desired_state.json`` → the exact ECR lifecycle policy document.

Pure: no AWS, no I/O. Pulumi and the Lambda both call :func:`render_lifecycle_policy`, so the text they set
is byte-identical; drift is judged on :func:`canonical_lifecycle_policy`, never on raw text.

ECR's rules come from the user guide pages "Lifecycle policy properties" and "How lifecycle policies work"
(evaluation rules); where a rule names a storage class it is checked per storage class, as the guide's own
"Combining archive and expire rules" example needs (an ``any`` rule on each class).
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator
from typing import Any, TypeGuard

from ecr_drift.desired.lifecycle_rules import LifecycleRule, LifecycleSpec, RawLifecyclePolicy
from ecr_drift.documents.canonical_json import dumps, loads_object
from ecr_drift.documents.problems import DocumentError, Problem, json_type

MAX_RULES = 50
MAX_POLICY_CHARS = 30_720  # botocore's LifecyclePolicyText max; its min (100) is below any valid policy
MAX_WILDCARDS = 4
TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
AGE_COUNT_TYPES = frozenset({"sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"})
STORAGE_CLASSES = ("standard", "archive")
ACTION_TYPES = ("expire", "transition")
TAG_LISTS = ("tagPrefixList", "tagPatternList")
_DOCUMENT_KEYS = ("rules",)
_RULE_KEYS = ("rulePriority", "description", "selection", "action")
_SELECTION_KEYS = ("tagStatus", *TAG_LISTS, "storageClass", "countType", "countUnit", "countNumber")
_ACTION_KEYS = ("type", "targetStorageClass")
# Each count type works on one storage class only, and with one action only where ECR says so.
_STORAGE_CLASS_OF = {"sinceImageTransitioned": "archive"}
_ACTION_OF = {"sinceImagePulled": "transition", "sinceImageTransitioned": "expire"}


def compile_lifecycle_policy(spec: LifecycleSpec) -> dict[str, Any]:
    """The ECR lifecycle policy document for ``spec``; raises :class:`DocumentError` if ECR would reject it.

    ``[]`` compiles to ``{"rules": []}``: the repository must have no policy, so nothing is ever sent to ECR
    and ECR's "at least one rule" does not apply.
    """
    if isinstance(spec, RawLifecyclePolicy):
        document = spec.raw
        problems = [p.under("raw") for p in validate_lifecycle_policy(document)]
    else:
        problems = _shorthand_problems(spec)
        document = {"rules": [ecr_rule(rule, i) for i, rule in enumerate(spec, start=1)]}
        if spec and not problems:
            problems = [_shorthand_path(p) for p in validate_lifecycle_policy(document)]
    if problems:
        raise DocumentError(problems)
    return document


def ecr_rule(rule: LifecycleRule, priority: int) -> dict[str, Any]:
    """The ECR lifecycle rule that shorthand ``rule`` compiles to, at ``priority``."""
    selection: dict[str, Any] = {"tagStatus": rule.effective_tag_status}
    if rule.tag_prefixes is not None:
        selection["tagPrefixList"] = list(rule.tag_prefixes)
    if rule.tag_patterns is not None:
        selection["tagPatternList"] = list(rule.tag_patterns)
    if rule.max_images is not None:
        selection["countType"] = "imageCountMoreThan"
        selection["countNumber"] = rule.max_images
    elif rule.max_age_days is not None:
        selection["countType"] = "sinceImagePushed"
        selection["countUnit"] = "days"
        selection["countNumber"] = rule.max_age_days
    compiled: dict[str, Any] = {"rulePriority": priority}
    if rule.description:
        compiled["description"] = rule.description
    compiled["selection"] = selection
    compiled["action"] = {"type": "expire"}
    return compiled


# ---------------------------------------------------------------------------------------------------------
# Rendering and comparison


def render_lifecycle_policy(document: dict[str, Any]) -> str:
    """THE lifecycle policy text: the only renderer, used by Pulumi and by the Lambda alike.

    Compact JSON of the canonical form with sorted keys, so equal policies always render to equal bytes and
    the two writers can never fight over formatting or rule order.
    """
    return dumps(canonical_lifecycle_policy(document))


def canonical_lifecycle_policy(document_or_text: str | dict[str, Any]) -> dict[str, Any]:
    """The form in which two lifecycle policies are compared (ECR returns its own formatting).

    Rules are sorted by ``rulePriority``; tag lists are sorted and de-duplicated (their entries are ANDed, so
    order and repetition mean nothing); an empty description is dropped; a missing action is ECR's default
    ``expire``; ``storageClass: standard`` (ECR's default) is dropped. Keys ECR may add later are kept, so
    they show as a difference rather than vanish. Raises ValueError for text that is not JSON or a document
    that is not an object with a ``rules`` list of objects.
    """
    document = (
        loads_object(document_or_text, "lifecycle policy text")
        if isinstance(document_or_text, str)
        else document_or_text
    )
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list) or not all(isinstance(rule, dict) for rule in rules):
        raise ValueError('not an ECR lifecycle policy: expected an object with a "rules" list of objects')
    canonical = copy.deepcopy(document)
    canonical["rules"] = sorted((_canonical_rule(rule) for rule in canonical["rules"]), key=_priority_order)
    return canonical


def lifecycle_policies_equal(a: str | dict[str, Any], b: str | dict[str, Any]) -> bool:
    """Whether ``a`` and ``b`` are the same policy to ECR, whatever their formatting and ordering."""
    # Compared as rendered text, not dicts: Python's `1 == 1.0 == True` must not hide a change.
    return dumps(canonical_lifecycle_policy(a)) == dumps(canonical_lifecycle_policy(b))


def _canonical_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """``rule`` normalised in place: it is the caller's private deep copy."""
    if not rule.get("description"):
        rule.pop("description", None)
    rule.setdefault("action", {"type": "expire"})
    selection = rule.get("selection")
    if isinstance(selection, dict):
        for key in TAG_LISTS:
            tags = selection.get(key)
            if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
                selection[key] = sorted(set(tags))
        if selection.get("storageClass") == "standard":
            del selection["storageClass"]
    return rule


def _priority_order(rule: dict[str, Any]) -> float:
    # A malformed priority sorts last instead of failing: the comparison then reports the difference.
    priority = rule.get("rulePriority")
    return priority if _is_int(priority) else math.inf


# ---------------------------------------------------------------------------------------------------------
# Validation of an ECR lifecycle policy document


def validate_lifecycle_policy(document: object) -> list[Problem]:
    """Everything ECR would reject in ``document``, with paths relative to it (``rules[1].selection...``).

    ``document`` is typed ``object``: a raw policy is whatever the user wrote, and saying so is a problem.
    """
    if not isinstance(document, dict):
        return [Problem("", f"a lifecycle policy must be a JSON object, got {_got(document)}")]
    problems = _unknown_keys("", document, _DOCUMENT_KEYS)
    rules = document.get("rules")
    if not isinstance(rules, list):
        return [*problems, Problem("rules", f"must be a list of rules, got {_got(rules)}")]
    if not rules:
        problems.append(Problem("rules", "must contain at least one rule"))
    if len(rules) > MAX_RULES:
        problems.append(Problem("rules", f"has {len(rules)} rules; ECR allows at most {MAX_RULES}"))
    for index, rule in enumerate(rules):
        problems += _rule_problems(f"rules[{index}]", rule)
    problems += _cross_rule_problems([(i, rule) for i, rule in enumerate(rules) if isinstance(rule, dict)])
    if not problems and len(text := render_lifecycle_policy(document)) > MAX_POLICY_CHARS:
        problems.append(
            Problem(
                "", f"the rendered policy is {len(text)} characters; ECR allows at most {MAX_POLICY_CHARS}"
            )
        )
    return problems


def _rule_problems(path: str, rule: Any) -> list[Problem]:
    if not isinstance(rule, dict):
        return [Problem(path, f"a rule must be a JSON object, got {_got(rule)}")]
    problems = _unknown_keys(path, rule, _RULE_KEYS)
    priority = rule.get("rulePriority")
    if not _is_int(priority) or priority < 1:
        problems.append(Problem(f"{path}.rulePriority", _positive_integer(priority)))
    description = rule.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(Problem(f"{path}.description", f"must be a string, got {_got(description)}"))
    selection, action = rule.get("selection"), rule.get("action")
    for key, value in (("selection", selection), ("action", action)):
        if not isinstance(value, dict):
            problems.append(Problem(f"{path}.{key}", f"must be a JSON object, got {_got(value)}"))
    if isinstance(selection, dict):
        problems += _selection_problems(f"{path}.selection", selection)
    if isinstance(action, dict):
        problems += _action_problems(f"{path}.action", action)
    if isinstance(selection, dict) and isinstance(action, dict):
        problems += _action_pairing_problems(path, selection.get("countType"), action.get("type"))
    return problems


def _selection_problems(path: str, selection: dict[str, Any]) -> list[Problem]:
    problems = _unknown_keys(path, selection, _SELECTION_KEYS)
    status = selection.get("tagStatus")
    if status not in TAG_STATUSES:
        problems.append(
            Problem(f"{path}.tagStatus", f"must be one of {_choices(TAG_STATUSES)}, got {_got(status)}")
        )
    problems += _tag_selection_problems(path, status, selection)
    problems += _count_problems(path, selection)
    return problems


def _tag_selection_problems(path: str, status: Any, selection: dict[str, Any]) -> list[Problem]:
    given = [key for key in TAG_LISTS if key in selection]
    problems: list[Problem] = []
    for key in given:
        problems += [
            p.under(path) for p in _tag_list_problems(key, selection[key], patterns=key == "tagPatternList")
        ]
        if status in ("untagged", "any"):
            problems.append(
                Problem(
                    f"{path}.{key}",
                    f'is only allowed with tagStatus "tagged", not with tagStatus {_show(status)}',
                )
            )
    if len(given) == 2:
        problems.append(Problem(f"{path}.tagPatternList", "give tagPrefixList or tagPatternList, not both"))
    if status == "tagged" and not given:
        problems.append(
            Problem(f"{path}.tagStatus", 'tagStatus "tagged" needs a tagPrefixList or a tagPatternList')
        )
    return problems


def _tag_list_problems(key: str, tags: Any, *, patterns: bool) -> list[Problem]:
    """Problems of one tag prefix or pattern list (shorthand or ECR), with paths starting at ``key``."""
    if not isinstance(tags, list) or not tags:
        return [Problem(key, f"must be a non-empty list of strings, got {_got(tags)}")]
    problems = []
    for index, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag:
            problems.append(Problem(f"{key}[{index}]", f"must be a non-empty string, got {_got(tag)}"))
        elif patterns and tag.count("*") > MAX_WILDCARDS:
            problems.append(
                Problem(
                    f"{key}[{index}]",
                    f'has {tag.count("*")} "*" wildcards; ECR allows at most {MAX_WILDCARDS}',
                )
            )
    return problems


def _count_problems(path: str, selection: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    count_type, unit, number = (selection.get(k) for k in ("countType", "countUnit", "countNumber"))
    if count_type not in COUNT_TYPES:
        problems.append(
            Problem(f"{path}.countType", f"must be one of {_choices(COUNT_TYPES)}, got {_got(count_type)}")
        )
    elif count_type in AGE_COUNT_TYPES and unit != "days":
        problems.append(
            Problem(
                f"{path}.countUnit", f'must be "days" with countType {_show(count_type)}, got {_got(unit)}'
            )
        )
    elif count_type == "imageCountMoreThan" and "countUnit" in selection:
        problems.append(Problem(f"{path}.countUnit", 'is not allowed with countType "imageCountMoreThan"'))
    if not _is_int(number) or number < 1:
        problems.append(Problem(f"{path}.countNumber", _positive_integer(number)))
    storage_class = selection.get("storageClass", "standard")
    if storage_class not in STORAGE_CLASSES:
        problems.append(
            Problem(
                f"{path}.storageClass",
                f"must be one of {_choices(STORAGE_CLASSES)}, got {_got(storage_class)}",
            )
        )
    elif count_type in COUNT_TYPES and storage_class != (
        needed := _STORAGE_CLASS_OF.get(count_type, "standard")
    ):
        problems.append(
            Problem(
                f"{path}.storageClass",
                f"must be {_show(needed)} with countType {_show(count_type)}, got {_show(storage_class)}",
            )
        )
    return problems


def _action_problems(path: str, action: dict[str, Any]) -> list[Problem]:
    problems = _unknown_keys(path, action, _ACTION_KEYS)
    kind, target = action.get("type"), action.get("targetStorageClass")
    if kind not in ACTION_TYPES:
        problems.append(Problem(f"{path}.type", f"must be one of {_choices(ACTION_TYPES)}, got {_got(kind)}"))
    elif kind == "transition" and target != "archive":
        problems.append(
            Problem(
                f"{path}.targetStorageClass",
                f'must be "archive" with action "transition", got {_got(target)}',
            )
        )
    elif kind == "expire" and "targetStorageClass" in action:
        problems.append(Problem(f"{path}.targetStorageClass", 'is not allowed with action "expire"'))
    return problems


def _action_pairing_problems(path: str, count_type: Any, kind: Any) -> list[Problem]:
    needed = _ACTION_OF.get(count_type) if isinstance(count_type, str) else None
    if needed is None or kind not in ACTION_TYPES or kind == needed:
        return []
    return [
        Problem(
            f"{path}.action.type",
            f"must be {_show(needed)} with countType {_show(count_type)}, got {_show(kind)}",
        )
    ]


def _cross_rule_problems(rules: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    problems = _duplicate_priorities(rules)
    for storage_class, members in _by_storage_class(rules):
        problems += _any_rule_not_last(storage_class, members)
        problems += _repeated_selections(members)
    return problems


def _duplicate_priorities(rules: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    first: dict[int, int] = {}
    problems = []
    for index, rule in rules:
        priority = rule.get("rulePriority")
        if not _is_int(priority):
            continue
        if priority in first:
            problems.append(
                Problem(
                    f"rules[{index}].rulePriority",
                    f"{priority} is also the rulePriority of rules[{first[priority]}]; "
                    "each rule needs its own",
                )
            )
        first.setdefault(priority, index)
    return problems


def _by_storage_class(
    rules: list[tuple[int, dict[str, Any]]],
) -> Iterator[tuple[str, list[tuple[int, dict[str, Any]]]]]:
    """Rules grouped by the storage class they select: ECR's ordering rules hold within each class."""
    for storage_class in STORAGE_CLASSES:
        members = [
            (index, rule)
            for index, rule in rules
            if isinstance(selection := rule.get("selection"), dict)
            and selection.get("storageClass", "standard") == storage_class
        ]
        if members:
            yield storage_class, members


def _any_rule_not_last(storage_class: str, rules: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    priorities = [p for _, rule in rules if _is_int(p := rule.get("rulePriority"))]
    if not priorities:
        return []
    highest = max(priorities)
    scope = "" if storage_class == "standard" else f' among rules on storageClass "{storage_class}"'
    return [
        Problem(
            f"rules[{index}].rulePriority",
            f'rule with tagStatus "any" must have the highest rulePriority{scope} '
            f"(has {rule['rulePriority']}, highest is {highest})",
        )
        for index, rule in rules
        if rule["selection"].get("tagStatus") == "any"
        and _is_int(rule.get("rulePriority"))
        and rule["rulePriority"] < highest
    ]


def _repeated_selections(rules: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    """One untagged rule, and unique tag lists, per storage class ("How lifecycle policies work").

    A repeated selection could never expire anything: its images all match the earlier rule's selection.
    """
    seen: dict[tuple[str, frozenset[str]], int] = {}
    problems = []
    for index, rule in rules:
        selection = rule["selection"]
        key = _selection_key(selection)
        if key is None:
            continue
        if key in seen:
            field = "tagStatus" if key[0] == "untagged" else key[0]
            what = "untagged images" if key[0] == "untagged" else f"the same {key[0]} entries"
            problems.append(
                Problem(
                    f"rules[{index}].selection.{field}",
                    f"only one rule may select {what}; rules[{seen[key]}] already does",
                )
            )
        seen.setdefault(key, index)
    return problems


def _selection_key(selection: dict[str, Any]) -> tuple[str, frozenset[str]] | None:
    if selection.get("tagStatus") == "untagged":
        return ("untagged", frozenset())
    if selection.get("tagStatus") != "tagged":
        return None
    for key in TAG_LISTS:
        tags = selection.get(key)
        if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
            return (key, frozenset(tags))
    return None


# ---------------------------------------------------------------------------------------------------------
# Validation of the shorthand


def _shorthand_problems(rules: list[LifecycleRule]) -> list[Problem]:
    """What ECR would reject, in the shorthand's own terms, with paths relative to the list (``[1]...``)."""
    problems = [
        p.under(f"[{index}]")
        for index, rule in enumerate(rules)
        for p in _shorthand_rule_problems(rule, is_last=index == len(rules) - 1)
    ]
    untagged = [index for index, rule in enumerate(rules) if rule.effective_tag_status == "untagged"]
    problems += [
        Problem(
            f"[{index}].tag_status", f"only one rule may select untagged images; [{untagged[0]}] already does"
        )
        for index in untagged[1:]
    ]
    if len(rules) > MAX_RULES:
        problems.append(Problem("", f"has {len(rules)} rules; ECR allows at most {MAX_RULES}"))
    return problems


def _shorthand_rule_problems(rule: LifecycleRule, *, is_last: bool) -> list[Problem]:
    problems: list[Problem] = []
    if rule.max_images is not None and rule.max_age_days is not None:
        problems.append(
            Problem(
                "max_age_days",
                "give exactly one of max_images or max_age_days, not both",
            )
        )
    elif rule.max_images is None and rule.max_age_days is None:
        problems.append(
            Problem(
                "", "give exactly one of max_images (keep the newest N) or max_age_days (expire after N days)"
            )
        )
    tag_lists = {"tag_prefixes": rule.tag_prefixes, "tag_patterns": rule.tag_patterns}
    given = [key for key, tags in tag_lists.items() if tags is not None]
    for key in given:
        problems += _tag_list_problems(key, tag_lists[key], patterns=key == "tag_patterns")
    if len(given) == 2:
        problems.append(Problem("tag_patterns", "give tag_prefixes or tag_patterns, not both"))
    problems += _shorthand_status_problems(rule, given, is_last=is_last)
    return problems


def _shorthand_status_problems(rule: LifecycleRule, given: list[str], *, is_last: bool) -> list[Problem]:
    status = rule.tag_status
    if status in ("untagged", "any") and given:
        return [
            Problem(
                "tag_status",
                f'tag_status "{status}" cannot be combined with {" or ".join(given)}: tag filters need '
                'tag_status "tagged" (or leave tag_status out)',
            )
        ]
    if status == "tagged" and not given:
        return [Problem("tag_status", 'tag_status "tagged" needs tag_prefixes or tag_patterns')]
    if rule.effective_tag_status == "any" and not is_last:
        how = 'tag_status "any"' if status else 'no tag_prefixes or tag_patterns, so tag_status "any"'
        return [Problem("tag_status", f"this rule selects every image ({how}), so it must be the last rule")]
    return []


def _shorthand_path(problem: Problem) -> Problem:
    """A problem found on the compiled ECR document, moved to the shorthand rule it came from.

    Rule ``rules[i]`` of the document is shorthand rule ``[i]``; a document-wide problem belongs to the list.
    """
    match = re.match(r"rules\[(\d+)\]", problem.path)
    return Problem(f"[{match.group(1)}]" if match else "", problem.message)


# ---------------------------------------------------------------------------------------------------------
# Small helpers for messages


def _unknown_keys(path: str, obj: dict[str, Any], allowed: tuple[str, ...]) -> list[Problem]:
    return [
        Problem(f"{path}.{key}" if path else str(key), f"unknown key; allowed keys are {_choices(allowed)}")
        for key in obj
        if key not in allowed
    ]


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any) -> str:
    """A value already known to be one of ECR's names (a count type, a storage class), as JSON."""
    return json.dumps(value)


def _got(value: Any) -> str:
    """A value that is not valid, described by its type only: the file's values are never echoed."""
    if value in ("", [], {}):
        return f"an empty {json_type(value).removeprefix('a ').removeprefix('an ')}"
    return "nothing" if value is None else json_type(value)


def _positive_integer(value: Any) -> str:
    return "must be an integer of 1 or more" + ("" if _is_int(value) else f", got {_got(value)}")


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(json.dumps(v) for v in values)
