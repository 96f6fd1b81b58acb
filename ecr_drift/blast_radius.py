"""The blast-radius guard: no run removes access, policies, tags or rules on many resources at once.

Pure. A desired state that is wrong in a broad way (``"*": {"policy_statements": []}``) would otherwise strip
every repository in the account in one run, other teams' included. So a run first plans every change; when
its subtractive calls (``Call.subtractive``) touch more repositories than
``enforcement.blast_radius.max_repositories``, none of those changes is made (each is ``blocked``), and the
additive fixes still are. Each registry setting or item with a subtractive change counts as one more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ecr_drift.findings import REGISTRY, Action
from ecr_drift.state import Change

OVERRIDE = '`ecr-drift enforce --allow-mass-change` (or a manual invoke with "allow_mass_change": true)'


def is_subtractive(change: Change) -> bool:
    return any(call.subtractive for call in change.calls)


def touched(changes: Iterable[Change]) -> set[str]:
    """The repositories, and registry settings or items, that the subtractive changes would touch."""
    return {
        f"{REGISTRY}:{change.finding.label}"
        if change.finding.resource == REGISTRY
        else change.finding.resource
        for change in changes
        if is_subtractive(change)
    }


def over_limit(changes: Iterable[Change], limit: int) -> int | None:
    """How many resources the subtractive changes touch when that is over ``limit``; None within it."""
    count = len(touched(changes))
    return count if count > limit else None


def held(change: Change, count: int, limit: int) -> Change:
    """``change`` blocked, its calls dropped, when it is subtractive; unchanged otherwise."""
    if not is_subtractive(change):
        return change
    message = (
        f"not applied: this run would remove access, policies, tags or rules on {count} repositories and "
        f"registry settings, over enforcement.blast_radius.max_repositories ({limit}); {OVERRIDE} applies "
        "it anyway"
    )
    return Change(replace(change.finding, action=Action.BLOCKED, message=message))
