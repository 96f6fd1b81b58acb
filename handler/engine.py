"""One run: observe → drift → remediate for a target, with bounded concurrency, a time budget and failure
isolation. The Lambda, the CLI and the demo all run this; it decides nothing that drift does not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from handler.aws.clients import AwsClients
from handler.aws.errors import AwsError, Sleep, error_text, is_read_operation
from handler.aws.observe import (
    describe_repositories,
    list_repositories,
    observe_registry,
    observe_repository,
)
from handler.aws.remediate import Guards, RepositoryAppeared, apply
from handler.desired import DesiredState, resolve
from handler.drift import (
    desired_registry,
    desired_repository,
    registry_changes,
    registry_reads,
    repository_changes,
    repository_reads,
    unmanaged_repository_findings,
)
from handler.findings import REGISTRY, REPOSITORY, Action, Finding, Origin, Report
from handler.state import Change
from handler.targets import Mode, Target, effective_mode

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import RepositoryTypeDef

# Below this much time left, no repository is started: one may take several calls, each retried.
SAFETY_MARGIN_MS = 30_000
ALL_REPOSITORIES = "*"  # the resource of a finding about listing the account's repositories


class AuditWriteRefused(RuntimeError):
    """A write was attempted in audit mode; the guard refused it before it left the process."""


def run(
    target: Target,
    *,
    state: DesiredState,
    mode: Mode,
    clients: AwsClients,
    time_left_ms: Callable[[], int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    allow_mass_expiry: bool = False,
) -> Report:
    """Check ``target`` against ``state``; in enforce mode, re-apply what drifted.

    AWS errors never escape: they become ``failed`` findings. ``enforcement.mode: audit`` in ``state`` wins
    over ``mode``. ``allow_mass_expiry`` lifts ``enforcement.lifecycle_guard`` for this run.
    """
    mode = effective_mode(mode, state.enforcement.mode)
    # Created before any thread starts: boto3 clients are thread-safe, their lazy creation is not.
    ecr = clients.ecr
    context = _RunContext(ecr, state, mode, sleep, allow_mass_expiry)
    report = Report(mode=str(mode), trigger=target.trigger)
    with _write_counter(ecr, refuse=mode is Mode.AUDIT) as writes:
        if target.registry:
            # An event about a registry setting names its author; a sweep has none.
            report.findings += _attributed(context.registry(), None if target.is_sweep else target.origin)
        jobs, listing = _jobs(ecr, target, state, sleep)
        report.findings += listing
        results = _check_all(context, jobs, clients.concurrency, time_left_ms, progress)
    named = set(target.repositories or ())
    for name, _ in jobs:
        findings = results.get(name)
        if findings is None:
            report.not_checked.append(name)
            continue
        report.repositories_checked.append(name)
        report.findings += _attributed(findings, target.origin if name in named else None)
    report.writes = writes.count
    return report


@dataclass(frozen=True)
class _RunContext:
    """What every repository check of one run shares."""

    ecr: ECRClient
    state: DesiredState
    mode: Mode
    sleep: Sleep
    allow_mass_expiry: bool = False

    @property
    def guards(self) -> Guards:
        return Guards(self.state.enforcement.lifecycle_guard, self.allow_mass_expiry, self.sleep)

    def registry(self) -> list[Finding]:
        desired = desired_registry(self.state)
        try:
            observed = observe_registry(self.ecr, registry_reads(desired))
            return [self.remediate(change) for change in registry_changes(desired, observed)]
        except Exception as error:  # isolation: the repositories are still checked
            return [_failed(REGISTRY, setting, error) for setting in desired.values]

    def repository(
        self, name: str, description: RepositoryTypeDef | None, *, recheck: bool = True
    ) -> list[Finding]:
        resolved = resolve(self.state, name)
        if resolved is None:
            return (
                unmanaged_repository_findings(self.state, name, description["repositoryArn"])
                if description
                else []
            )
        desired = desired_repository(self.state, resolved)
        observed = (
            observe_repository(self.ecr, description, repository_reads(desired), self.sleep)
            if description
            else None
        )
        try:
            return [self.remediate(change) for change in repository_changes(desired, observed)]
        except RepositoryAppeared as appeared:
            if not recheck:
                raise appeared.error from None
            # Created since it was read (the same event delivered twice, a person, create on push): check
            # the repository that exists now, once, instead of failing on "already exists".
            listed, _ = describe_repositories(self.ecr, [name], self.sleep)
            return self.repository(name, listed.get(name), recheck=False)

    def remediate(self, change: Change) -> Finding:
        finding = change.finding
        if self.mode is Mode.AUDIT or finding.action is not Action.DRIFT:
            return finding
        try:
            return apply(self.ecr, change, self.guards)
        except AwsError as error:
            return finding.with_action(Action.FAILED, error_text(error))


def _jobs(
    ecr: ECRClient, target: Target, state: DesiredState, sleep: Sleep
) -> tuple[list[tuple[str, RepositoryTypeDef | None]], list[Finding]]:
    """The repositories to check, each with its DescribeRepositories entry (None: it does not exist).

    A listing that fails is a ``failed`` finding instead.
    """
    if target.repositories is None:
        swept, failed = sweep_repositories(ecr, state)
        return list(swept.items()), failed
    names = list(dict.fromkeys(target.repositories))
    try:
        listed, _ = describe_repositories(ecr, names, sleep)
    except AwsError as error:
        return [], [_failed(name, REPOSITORY, error) for name in names]
    return [(name, listed.get(name)) for name in names], []


def sweep_repositories(
    ecr: ECRClient, state: DesiredState
) -> tuple[dict[str, RepositoryTypeDef | None], list[Finding]]:
    """What a sweep covers: every repository in the account, by name, then the managed names missing from
    it (None). A listing that fails is a ``failed`` finding for ``*`` instead. Shared with handler.fanout.
    """
    try:
        listed = {r["repositoryName"]: r for r in list_repositories(ecr)}
    except AwsError as error:
        return {}, [_failed(ALL_REPOSITORIES, REPOSITORY, error)]
    swept: dict[str, RepositoryTypeDef | None] = dict(sorted(listed.items()))
    swept.update((name, None) for name in state.repositories if name not in listed)
    return swept, []


def _check_all(
    context: _RunContext,
    jobs: list[tuple[str, RepositoryTypeDef | None]],
    concurrency: int,
    time_left_ms: Callable[[], int] | None,
    progress: Callable[[int, int], None] | None,
) -> dict[str, list[Finding]]:
    """Findings by repository name; a repository left out was not started for lack of time."""

    def check(name: str, description: RepositoryTypeDef | None) -> list[Finding] | None:
        # Checked when a worker picks the repository up, so a queue longer than the budget stops in time.
        if time_left_ms is not None and time_left_ms() < SAFETY_MARGIN_MS:
            return None
        try:
            return context.repository(name, description)
        except Exception as error:  # isolation: one repository's surprise must not stop the others
            return [_failed(name, REPOSITORY, error)]

    results: dict[str, list[Finding]] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="ecr-drift") as pool:
        futures = {pool.submit(check, name, description): name for name, description in jobs}
        for done, future in enumerate(as_completed(futures), start=1):
            findings = future.result()
            if findings is not None:
                results[futures[future]] = findings
            if progress is not None:
                progress(done, len(jobs))
    return results


def _attributed(findings: list[Finding], origin: Origin | None) -> list[Finding]:
    return [f.with_origin(origin) for f in findings] if origin is not None else findings


def _failed(resource: str, setting: str, error: Exception) -> Finding:
    return Finding(
        resource, setting, None, None, Action.FAILED, error=error_text(error), message="check failed"
    )


class _WriteCounter:
    """Counts the write calls made on a client (a ``before-call`` hook); in audit mode it refuses them."""

    def __init__(self, refuse: bool) -> None:
        self.count = 0
        self._refuse = refuse
        self._lock = threading.Lock()

    def __call__(self, model: Any, **_: Any) -> None:
        if is_read_operation(model.name):
            return
        if self._refuse:
            raise AuditWriteRefused(f"audit mode: {model.name} refused")
        with self._lock:
            self.count += 1


@contextmanager
def _write_counter(ecr: ECRClient, *, refuse: bool) -> Iterator[_WriteCounter]:
    counter = _WriteCounter(refuse)
    unique_id = f"ecr-drift-write-counter-{id(counter)}"
    ecr.meta.events.register("before-call.ecr.*", counter, unique_id=unique_id)
    try:
        yield counter
    finally:
        ecr.meta.events.unregister("before-call.ecr.*", unique_id=unique_id)
