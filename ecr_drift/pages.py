"""A manual sweep, a page at a time: one synchronous invoke runs for at most 900 s and answers at most 6 MB,
and a registry can hold 100,000 repositories.

The first page checks the registry and the first ``page_size`` repositories in name order (the account's,
then the managed ones missing from it); its answer's ``next_page`` names where the next invoke starts
(``{"action": ..., "start_after": next_page}``). `ecr-drift invoke` follows the pages itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ecr_drift.engine import sweep_repositories
from ecr_drift.events import ManualTarget
from ecr_drift.findings import Finding

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

    from ecr_drift.desired import DesiredState


def manual_page(
    ecr: ECRClient, state: DesiredState, target: ManualTarget
) -> tuple[ManualTarget, str | None, list[Finding]]:
    """The page of ``target`` (a manual sweep) as a target naming its repositories; the name the next page
    starts after (None on the last page); a listing that failed, as findings."""
    swept, failed = sweep_repositories(ecr, state)
    names = sorted(name for name in swept if target.start_after is None or name > target.start_after)
    page = names[: target.page_size]
    next_page = page[-1] if len(names) > len(page) else None
    return replace(target, repositories=tuple(page)), next_page, failed
