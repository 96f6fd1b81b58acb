"""One run: observe → drift → remediate for a target, with bounded concurrency, a time budget and failure
isolation. The Lambda, the CLI and the demo all run this; it decides nothing that drift does not.
"""

from __future__ import annotations

import difflib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from ecr_drift.aws.clients import AwsClients
from ecr_drift.aws.deadline import LAST_RETRY_MS, deadline
from ecr_drift.aws.errors import AwsError, Sleep, error_text, is_read_operation
from ecr_drift.aws.lifecycle_guard import blocked_message, mass_expiry
from ecr_drift.aws.observe import (
    describe_repositories,
    list_repositories,
    observe_registry,
    observe_repository,
)
from ecr_drift.aws.remediate import Guards, RepositoryAppeared, apply
from ecr_drift.blast_radius import held, over_limit
from ecr_drift.desired import DesiredState, resolve
from ecr_drift.drift import (
    CREATE_REPOSITORY,
    desired_registry,
    desired_repository,
    registry_changes,
    registry_reads,
    repository_changes,
    repository_reads,
    unmanaged_repository_findings,
)
from ecr_drift.findings import REGISTRY, REPOSITORY, Action, Finding, Origin, Report
from ecr_drift.state import Change
from ecr_drift.targets import Mode, RegistryPart, RegistryScope, Target, effective_mode

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecr.type_defs import RepositoryTypeDef

ALL_REPOSITORIES = "*"  # the resource of a finding about listing the account's repositories
# Below this much time left, no repository is started (nor fixed): its calls would be cut short by the
# deadline anyway (ecr_drift.aws.deadline), and the time left is the publishing's.
SAFETY_MARGIN_MS = LAST_RETRY_MS
OUT_OF_TIME = "not fixed: the run ran out of time before this repository's writes (the next run fixes it)"

T = TypeVar("T")
R = TypeVar("R")


class AuditWriteRefused(RuntimeError):
    """A write was attempted in audit mode; the guard refused it before it left the process."""


class UnknownRepositories(ValueError):
    """Repositories a person named that do not exist and that no name or pattern of the desired state
    manages: most likely typos, which a run would otherwise call compliant. ``suggestions``: each such name,
    with the desired and existing names close to it; ``problems``: a sentence for each."""

    def __init__(self, suggestions: dict[str, list[str]]) -> None:
        self.suggestions = suggestions
        self.problems = [
            f"no repository named {name}: it does not exist and the desired state does not manage it"
            + (f"; did you mean {' or '.join(close)}?" if close else "")
            for name, close in suggestions.items()
        ]
        super().__init__("; ".join(self.problems))


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
    allow_mass_change: bool = False,
    on_findings: Callable[[list[Finding]], None] | None = None,
    refuse_unknown: bool = False,
    predict_guards: bool = False,
) -> Report:
    """Check ``target`` against ``state``; in enforce mode, re-apply what drifted.

    Two phases: every repository (and the registry) is read and diffed first, so the blast-radius guard
    sees the whole run's subtractive changes before any is made; then the changes are made. AWS errors never
    escape: they become ``failed`` findings. ``enforcement.mode: audit`` in ``state`` wins over ``mode``.
    ``allow_mass_expiry`` lifts ``enforcement.lifecycle_guard`` and ``allow_mass_change``
    ``enforcement.blast_radius`` for this run. ``on_findings`` gets each repository's findings (and the
    registry's, and the listing's) as soon as they are final, so a run killed later still leaves them.

    ``refuse_unknown``: the target's repositories were named by a person (`ecr-drift -r`, a manual invoke);
    one that does not exist and is not managed raises :class:`UnknownRepositories` before anything is
    written. ``predict_guards`` (audit mode, `ecr-drift plan`): the findings enforce's guards would block are
    shown ``blocked``, the blast radius counted as enforce counts it, the lifecycle guard on the images
    (DescribeImages, a read).
    """
    mode = effective_mode(mode, state.enforcement.mode)
    if time_left_ms is not None and time_left_ms() < SAFETY_MARGIN_MS:  # not even the listing would finish
        return Report(
            mode=str(mode),
            trigger=target.trigger,
            not_checked=list(target.repositories or (ALL_REPOSITORIES,)),
        )
    # Created before any thread starts: boto3 clients are thread-safe, their lazy creation is not.
    ecr = clients.ecr
    context = _RunContext(ecr, state, mode, sleep, allow_mass_expiry, predict_guards, time_left_ms)
    named = set(target.repositories or ())
    done = _Done(on_findings)
    with _write_counter(ecr, refuse=mode is Mode.AUDIT) as writes, deadline(ecr, time_left_ms):
        registry = context.plan_registry(target.registry) if target.registry else []
        jobs, listing = _jobs(ecr, target, state, sleep)
        if refuse_unknown:
            _refuse_unknown(ecr, state, jobs)
        done.add(ALL_REPOSITORIES, [context.planned(Change(finding)) for finding in listing])
        counter = _Progress(len(jobs), progress)

        def plan(name: str, description: RepositoryTypeDef | None) -> list[Change]:
            changes = context.plan_repository(name, description)
            counter.advance()
            return changes

        plans = _in_parallel(jobs, plan, clients.concurrency, time_left_ms)
        # Like the lifecycle guard, it holds writes: an audit shows drift as it is, a plan what enforce holds.
        over = None
        if (mode is Mode.ENFORCE or predict_guards) and not allow_mass_change:
            over, registry, plans = _blast_radius(
                registry, plans, state.enforcement.blast_radius.max_repositories
            )
        # An event about a registry setting names its author; a sweep has none.
        registry_origin = None if target.is_sweep else target.origin
        done.add(REGISTRY, _attributed([context.remediate(c) for c in registry], registry_origin))
        to_fix = [(name, changes) for name, changes in plans.items() if context.fixes(changes)]
        counter.grow(len(to_fix))  # reading a repository is a step, and so is fixing one
        for name, changes in plans.items():
            if not context.fixes(changes):
                done.add(
                    name, _attributed([context.planned(c) for c in changes], _origin(target, name, named))
                )

        def fix(name: str, changes: list[Change]) -> list[Finding]:
            findings = _attributed(context.fix(name, changes, over), _origin(target, name, named))
            done.add(name, findings)
            counter.advance()
            return findings

        fixed = _in_parallel(to_fix, fix, clients.concurrency, time_left_ms)
        for name, changes in to_fix:
            if name not in fixed:  # planned, but no time left to fix it: said, and checked again next run
                unfixed = [replace(c.finding, message=OUT_OF_TIME) if c.calls else c.finding for c in changes]
                done.add(name, unfixed, checked=False)
    report = Report(mode=str(mode), trigger=target.trigger, writes=writes.count)
    done.fill(report, [name for name, _ in jobs])
    return report


class _Done:
    """A run's final findings, by resource, each batch handed to ``on_findings`` as soon as it is final; the
    report lists them in a fixed order whatever order the threads finished in."""

    def __init__(self, on_findings: Callable[[list[Finding]], None] | None) -> None:
        self._on_findings = on_findings
        self._findings: dict[str, list[Finding]] = {}
        self._not_checked: set[str] = set()
        self._lock = threading.Lock()

    def add(self, resource: str, findings: list[Finding], *, checked: bool = True) -> None:
        with self._lock:
            self._findings[resource] = findings
            if not checked:
                self._not_checked.add(resource)
        if self._on_findings is not None and findings:
            self._on_findings(findings)

    def fill(self, report: Report, names: list[str]) -> None:
        """Registry, listing, then each repository in ``names`` order; one not done is not checked."""
        for resource in (REGISTRY, ALL_REPOSITORIES, *names):
            report.findings += self._findings.get(resource, [])
        report.repositories_checked = [n for n in names if n in self._findings and n not in self._not_checked]
        report.not_checked = [n for n in names if n not in self._findings or n in self._not_checked]


class _Progress:
    """Repositories done (read, diffed and, if need be, fixed) of all the run's, for a progress bar."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self._total = total
        self._done = 0
        self._progress = progress
        self._lock = threading.Lock()

    def grow(self, steps: int) -> None:
        with self._lock:
            self._total += steps

    def advance(self) -> None:
        with self._lock:
            self._done += 1
            done, total = self._done, self._total
        if self._progress is not None:
            self._progress(done, total)


def _blast_radius(
    registry: list[Change], plans: dict[str, list[Change]], limit: int
) -> tuple[int | None, list[Change], dict[str, list[Change]]]:
    """The run's changes with the subtractive ones held when they touch more than ``limit`` resources, and
    how many they touch then (None within the limit)."""
    over = over_limit([*registry, *(change for plan in plans.values() for change in plan)], limit)
    if over is None:
        return None, registry, plans
    held_plans = {name: [held(change, over, limit) for change in plan] for name, plan in plans.items()}
    return over, [held(change, over, limit) for change in registry], held_plans


def _origin(target: Target, name: str, named: set[str]) -> Origin | None:
    return target.origin if name in named else None


@dataclass(frozen=True)
class _RunContext:
    """What every repository check of one run shares."""

    ecr: ECRClient
    state: DesiredState
    mode: Mode
    sleep: Sleep
    allow_mass_expiry: bool = False
    predict_guards: bool = False
    time_left_ms: Callable[[], int] | None = None

    @property
    def guards(self) -> Guards:
        lifecycle = self.state.enforcement.lifecycle_guard
        return Guards(lifecycle, self.allow_mass_expiry, self.sleep, self.time_left_ms)

    @property
    def counts_expiries(self) -> bool:
        """A plan counts what each lifecycle policy would expire, as enforce does before putting it."""
        return self.mode is Mode.AUDIT and self.predict_guards and not self.allow_mass_expiry

    def plan_registry(self, scope: RegistryScope) -> list[Change]:
        """The changes of the registry settings and items ``scope`` covers; only their settings are read."""
        desired = desired_registry(self.state, scope)
        try:
            observed = observe_registry(self.ecr, registry_reads(desired))
            changes = registry_changes(desired, observed)
        except Exception as error:  # isolation: the repositories are still checked
            return [Change(_failed(REGISTRY, setting, error)) for setting in desired.values]
        # An item's setting is read whole (one call): its other items are not this run's to report or fix.
        return [change for change in changes if scope.covers(change.finding.setting, change.finding.key)]

    def plan_repository(
        self, name: str, description: RepositoryTypeDef | None, only: str | None = None
    ) -> list[Change]:
        """The changes of repository ``name``; ``only``: of that one setting, only its reads made."""
        try:
            resolved = resolve(self.state, name)
            if resolved is None:
                arn = description["repositoryArn"] if description else None
                findings = unmanaged_repository_findings(self.state, name, arn) if arn else []
                return [Change(finding) for finding in findings]
            desired = desired_repository(self.state, resolved)
            if only is not None:
                desired = replace(desired, values={only: desired.values[only]})
            observed = (
                observe_repository(self.ecr, description, repository_reads(desired), self.sleep)
                if description
                else None
            )
            return repository_changes(desired, observed)
        except Exception as error:  # isolation: one repository's surprise must not stop the others
            return [Change(_failed(name, REPOSITORY, error))]

    def fixes(self, plan: list[Change]) -> bool:
        """Whether ``plan`` has work for the run's second phase: writes to make; in a plan, lifecycle
        policies whose expiries to count (reads, made in parallel as the writes are)."""
        if self.mode is Mode.ENFORCE:
            return any(change.calls for change in plan)
        calls = (call for change in plan for call in change.calls)
        return self.counts_expiries and any(call.lifecycle_guard is not None for call in calls)

    def fix(self, name: str, plan: list[Change], over: int | None) -> list[Finding]:
        """``plan``'s changes made (in audit mode, ``planned``); ``over``: what the run's subtractive changes
        touch, when that is over its blast radius (see ``run``)."""
        try:
            return [self.remediate(change) for change in plan]
        except RepositoryAppeared:
            pass
        # Created since it was read (the same event delivered twice, a person, create on push): check the
        # repository that exists now, once, instead of failing on "already exists".
        try:
            listed, _ = describe_repositories(self.ecr, [name], self.sleep)
            again = self.plan_repository(name, listed.get(name))
            if over is not None:  # no subtraction slips past the guard this way either
                limit = self.state.enforcement.blast_radius.max_repositories
                again = [held(change, over, limit) for change in again]
            return [self.remediate(change) for change in again]
        except RepositoryAppeared as appeared:
            return [_failed(name, REPOSITORY, appeared.error)]
        except Exception as error:  # isolation: one repository's surprise must not stop the others
            return [_failed(name, REPOSITORY, error)]

    def remediate(self, change: Change) -> Finding:
        """``change`` made; in audit mode, as ``planned``."""
        if self.mode is Mode.AUDIT:
            return self.planned(change)
        if change.finding.action is not Action.DRIFT:
            return change.finding
        return apply(self.ecr, change, self.guards, self.holds)

    def holds(self, finding: Finding) -> bool:
        """Whether a re-read finds ``finding``'s setting (its item) as desired: what tells whether a write
        whose answer was lost was made. The repository is described again, as its settings may read it."""
        if finding.resource == REGISTRY:
            return not self.plan_registry(
                RegistryScope(frozenset({RegistryPart(finding.setting, finding.key)}))
            )
        try:
            listed, _ = describe_repositories(self.ecr, [finding.resource], self.sleep)
        except AwsError:
            return False
        description = listed.get(finding.resource)
        # A repository gone is not as desired (a pattern's repository missing would otherwise have no change).
        only = None if finding.setting == REPOSITORY else finding.setting
        return description is not None and not self.plan_repository(finding.resource, description, only)

    def planned(self, change: Change) -> Finding:
        """In audit mode, ``change``'s finding with the calls enforce would make for it, or blocked when a
        plan finds that the lifecycle guard would block it; in enforce mode, the finding as it is."""
        if self.mode is not Mode.AUDIT:
            return change.finding
        if self.counts_expiries and (blocked := self._expiry_block(change)) is not None:
            return blocked
        return replace(change.finding, calls=tuple(call.operation for call in change.calls))

    def _expiry_block(self, change: Change) -> Finding | None:
        """``change`` as enforce's lifecycle guard would leave it, when it would not let it through."""
        for call in change.calls:
            if call.operation == CREATE_REPOSITORY:  # a repository enforce creates has no images to expire
                return None
            if call.lifecycle_guard is None:
                continue
            try:
                name = call.parameters["repositoryName"]
                expiry = mass_expiry(
                    self.ecr, name, call.lifecycle_guard, self.state.enforcement.lifecycle_guard
                )
            except Exception as error:  # isolation, as in enforce, where this read fails the change too
                message = "could not count what the lifecycle policy would expire"
                return replace(
                    change.finding, action=Action.FAILED, error=error_text(error), message=message, calls=()
                )
            if expiry:
                blocked = blocked_message(expiry)
                return replace(change.finding, action=Action.BLOCKED, message=blocked, calls=())
        return None


def _refuse_unknown(
    ecr: ECRClient, state: DesiredState, jobs: list[tuple[str, RepositoryTypeDef | None]]
) -> None:
    """:class:`UnknownRepositories` for the jobs' repositories that do not exist and that nothing manages."""
    unknown = [name for name, description in jobs if description is None and resolve(state, name) is None]
    if not unknown:
        return
    try:  # only for the suggestions: without the listing, the desired names still give some
        existing = [repository["repositoryName"] for repository in list_repositories(ecr)]
    except AwsError:
        existing = []
    known = list(dict.fromkeys([*state.repositories, *existing]))
    raise UnknownRepositories({name: difflib.get_close_matches(name, known) for name in unknown})


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
    it (None). A listing that fails is a ``failed`` finding for ``*`` instead. Shared with ecr_drift.fanout.
    """
    try:
        listed = {r["repositoryName"]: r for r in list_repositories(ecr)}
    except AwsError as error:
        return {}, [_failed(ALL_REPOSITORIES, REPOSITORY, error)]
    swept: dict[str, RepositoryTypeDef | None] = dict(sorted(listed.items()))
    swept.update((name, None) for name in state.repositories if name not in listed)
    return swept, []


def _in_parallel(
    jobs: Sequence[tuple[str, T]],
    work: Callable[[str, T], R],
    concurrency: int,
    time_left_ms: Callable[[], int] | None,
) -> dict[str, R]:
    """``work(name, item)`` for each job, by name; a job left out was not started for lack of time."""

    def start(name: str, item: T) -> R | None:
        # Checked when a worker picks the job up, so a queue longer than the budget stops in time.
        if time_left_ms is not None and time_left_ms() < SAFETY_MARGIN_MS:
            return None
        return work(name, item)

    results: dict[str, R] = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="ecr-drift") as pool:
        futures = {pool.submit(start, name, item): name for name, item in jobs}
        for future in as_completed(futures):
            if (result := future.result()) is not None:
                results[futures[future]] = result
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
