"""What AWS lets each output carry, and how the outputs stay inside it without leaving anything out silently.

Every finding is one line of the function's log (``log_findings``), whatever an output leaves out; an output
that must cut says how much it left out and that the rest is in the log:

- the Lambda's response (``bounded_response``): at most 6 MB of JSON for a synchronous invoke;
- SNS (``ecr_drift.publish.sns``): at most 256 KB a message, a subject under 100 characters;
- EventBridge (``ecr_drift.publish.eventbridge``): at most 10 entries and 256 KB a PutEvents request.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ecr_drift.findings import Action, Finding, Report

RESPONSE_LIMIT = 6 * 1024 * 1024  # Lambda: a synchronous invoke's response, its JSON
# A round MiB below the limit: room for fields added to the response later without revisiting this.
RESPONSE_BUDGET = RESPONSE_LIMIT - 1024 * 1024
# The order findings are kept in when an output cannot carry them all: what needs a person first.
IMPORTANCE = (Action.FAILED, Action.BLOCKED, Action.DRIFT, Action.REPORTED, Action.REMEDIATED)
_LOG = "CloudWatch Logs of this invocation"
# The response's lists, in the order they take the room the rest leaves, and where the items a response
# leaves out of each can be read. The findings come last and take all that is left; each list before them
# takes at most a ``LIST_SHARE``th of the budget, so only a huge one is cut and it cannot crowd them out.
WHERE_LEFT_OUT = {
    "publish_errors": f"{_LOG}: one 'finding not published' line each",
    "not_checked": f"{_LOG}: the 'run finished' line lists them",
    "repositories_checked": "not logged (the count is exact): audit fewer repositories to list them",
    "findings": f"{_LOG}: one line per finding, under the key 'finding'",
}
LIST_SHARE = 8


def json_size(value: Any) -> int:
    """Bytes of ``value`` as ``json.dumps`` writes it by default, as botocore writes a JSON request body and
    the Lambda runtime a response (up to Python 3.11; later runtimes write non-ASCII as UTF-8, which is never
    longer than the ``\\uXXXX`` escapes counted here)."""
    return len(json.dumps(value, default=str))  # ASCII only: characters are bytes


def fit(sizes: Iterable[int], room: int) -> tuple[int, int]:
    """How many items, taken from the first, fit in ``room`` bytes given their ``sizes``; and the bytes used.

    Stops at the first item that does not fit, so what is left out is always the tail: it can be counted.
    """
    count = used = 0
    for size in sizes:
        if used + size > room:
            break
        count, used = count + 1, used + size
    return count, used


def most_important_first(findings: Iterable[Finding]) -> list[Finding]:
    """Failed, blocked, drift, reported, then remediated; the engine's order within each (a stable sort)."""
    return sorted(findings, key=lambda finding: IMPORTANCE.index(finding.action))


def bounded_response(
    status: str,
    report: Report,
    *,
    publish_errors: list[str],
    extra: dict[str, Any],
    budget: int = RESPONSE_BUDGET,
) -> dict[str, Any]:
    """The Lambda's response: ``{"status", **report.to_dict(), "publish_errors", **extra}``, whole when its
    JSON fits in ``budget`` bytes.

    When it does not, the lists of ``WHERE_LEFT_OUT`` are cut to fit as it says, the findings most important
    first (and listed in that order); the rest stays whole: status, mode, trigger, ``summary`` (the count of
    every finding by action), writes, ``fan_out``. Then an ``omitted`` object says, for each list it cut,
    how many items it left out of how many, and where they are; for the findings also by action and by
    setting::

        "omitted": {"findings": {"left_out": 1180, "total": 3000, "where": "CloudWatch Logs ...",
                                 "by_action": {"drift": 1180}, "by_setting": {"lifecycle_policy": 1180}}}
    """
    whole = {"status": status, **report.to_dict(), "publish_errors": publish_errors, **extra}
    if json_size(whole) <= budget:
        return whole
    lists: dict[str, list[Any]] = {
        "publish_errors": publish_errors,
        "not_checked": whole["not_checked"],
        "repositories_checked": whole["repositories_checked"],
        "findings": [f.to_dict() for f in most_important_first(report.findings)],
    }
    # Room for the lists once the rest is in, with ``omitted`` at its largest: every item left out (no count
    # it would hold has more digits than a total).
    emptied: dict[str, list[Any]] = {name: [] for name in lists}
    room = budget - json_size({**whole, **emptied, "omitted": _omitted(lists, {})})
    kept: dict[str, int] = {}
    for name, items in lists.items():
        share = room if name == "findings" else min(room, budget // LIST_SHARE)
        # An element takes its JSON and the ", " separating it from the next.
        kept[name], used = fit((json_size(item) + 2 for item in items), share)
        room -= used
    cut = {name: items[: kept[name]] for name, items in lists.items()}
    return {**whole, **cut, "omitted": _omitted(lists, kept)}


def _omitted(lists: dict[str, list[Any]], kept: dict[str, int]) -> dict[str, Any]:
    """For each list ``kept`` cut short (a list it does not name is left out whole): what was left out."""
    omitted: dict[str, Any] = {}
    for name, items in lists.items():
        left_out = items[kept.get(name, 0) :]
        if not left_out:
            continue
        omitted[name] = {"left_out": len(left_out), "total": len(items), "where": WHERE_LEFT_OUT[name]}
        if name == "findings":
            omitted[name] |= {
                "by_action": dict(Counter(f["action"] for f in left_out)),
                "by_setting": dict(Counter(f["setting"] for f in left_out)),
            }
    return omitted
