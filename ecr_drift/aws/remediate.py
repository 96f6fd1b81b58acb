"""Writes: the calls a change asks for, made exactly as the settings built them (documents rendered by the
shared compiler: the bytes Pulumi sends too).

Settings never delete a repository or an image: the only deletions are of a lifecycle policy, a repository
or registry policy, tags and a pull-through cache rule, each because the desired state says so. A lifecycle
policy is put only after the lifecycle guard has counted what it would expire.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from botocore import xform_name
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from ecr_drift.aws.deadline import time_for_calls
from ecr_drift.aws.errors import (
    AwsError,
    Sleep,
    error_code,
    error_text,
    is_read_operation,
    retry_not_found,
)
from ecr_drift.aws.lifecycle_guard import blocked_message, mass_expiry
from ecr_drift.aws.observe import read
from ecr_drift.desired.models import LifecycleGuard
from ecr_drift.drift import CREATE_REPOSITORY
from ecr_drift.findings import Action, Finding
from ecr_drift.state import Call, Change, Refresh

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

ALREADY_EXISTS = "RepositoryAlreadyExistsException"
# A call whose failure leaves something broken (a rule deleted to be re-created) is tried this many times,
# waiting IF_FAILED_DELAY seconds more each time, beyond botocore's own retries of throttling.
IF_FAILED_ATTEMPTS = 3
IF_FAILED_DELAY = 1.0
# Calls that destroy images or repositories: refused whatever a setting asks for (defence in depth; a test
# also checks no setting names them).
NEVER_CALLED = frozenset({"DeleteRepository", "BatchDeleteImage", "PutImage", "UpdateImageStorageClass"})
# Errors after which a call may have been made all the same: its answer was lost (a read timeout, a dropped
# connection). botocore retries them, and a create's retry then finds it made (AlreadyExists).
ANSWER_LOST = (BotocoreConnectionError, HTTPClientError)
LEFT_FOR_NEXT_RUN = (
    "not fixed: too little time was left in the run for all of {calls} with retries, and stopping halfway "
    "would leave it broken; left for the next run"
)
CONFIRMED = "{operation} answered {error}, yet the change holds: confirmed by a re-read"


class CallRefused(RuntimeError):
    """A setting asked for a call that could destroy data."""


@dataclass(frozen=True)
class Guards:
    """What limits a run's writes beyond the desired state itself."""

    lifecycle: LifecycleGuard = field(default_factory=LifecycleGuard)
    # A person's explicit override (`ecr-drift enforce --allow-mass-expiry`); the Lambda never sets it.
    allow_mass_expiry: bool = False
    sleep: Sleep = time.sleep
    # The run's remaining time (None: unbounded): a change that must not stop halfway starts only within it.
    time_left_ms: Callable[[], int] | None = None


class RepositoryAppeared(Exception):
    """A missing repository was created by someone else between the read and the CreateRepository."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def apply(
    ecr: ECRClient, change: Change, guards: Guards, holds: Callable[[Finding], bool] | None = None
) -> Finding:
    """Make ``change``'s calls in order; the finding with its new action.

    Never raises but :class:`RepositoryAppeared`: a call that fails makes the finding ``failed``, saying
    which of the change's calls were made before it and what its failure left broken. When the failure
    leaves unknown whether the change was made (:func:`_outcome_unknown`), ``holds`` re-reads the
    finding's setting: the finding is ``remediated`` when it is as desired. A change that must not stop
    halfway is not started without the time for all its calls (it stays ``drift``, left for the next run).
    """
    finding = change.finding
    if guards.time_left_ms is not None and guards.time_left_ms() < _time_needed_ms(change):
        calls = ", ".join(call.operation for call in change.calls)
        return replace(finding, message=LEFT_FOR_NEXT_RUN.format(calls=calls))
    notes: list[str] = []
    made: list[str] = []
    for call in change.calls:
        try:
            if call.lifecycle_guard is not None:
                name = call.parameters["repositoryName"]
                expiry = mass_expiry(ecr, name, call.lifecycle_guard, guards.lifecycle)
                if expiry and not guards.allow_mass_expiry:
                    return replace(finding, action=Action.BLOCKED, message=blocked_message(expiry))
                if expiry:  # applied by override: the finding keeps what it cost
                    notes.append(f"applied, mass expiry allowed: {expiry}")
            notes += _make(ecr, call, guards.sleep)
        except RepositoryAppeared:
            raise
        except Exception as error:  # isolation: what this change did so far is said, the run goes on
            return _after_failure(finding, call, error, made, notes, holds)
        made.append(call.operation)
    remediated = finding.with_action(Action.REMEDIATED)
    return replace(remediated, message="; ".join(notes)) if notes else remediated


def _after_failure(
    finding: Finding,
    call: Call,
    error: Exception,
    made: list[str],
    notes: list[str],
    holds: Callable[[Finding], bool] | None,
) -> Finding:
    """``finding`` once ``call`` failed with ``error``: ``remediated`` when that leaves unknown whether the
    change was made and a re-read finds it holds, else ``failed``."""
    message = _failure(call, made)
    if holds is not None and _outcome_unknown(error):
        if holds(finding):
            confirmed = CONFIRMED.format(operation=call.operation, error=error_text(error))
            return replace(finding.with_action(Action.REMEDIATED), message="; ".join([*notes, confirmed]))
        message += "; a re-read did not find it as desired"
    return replace(finding, action=Action.FAILED, error=error_text(error), message=message)


def _outcome_unknown(error: Exception) -> bool:
    """Whether a change may hold although one of its calls failed with ``error``: the call's answer was lost,
    what a create makes exists already (made by a try whose answer was lost, or by someone else), or a read
    made for a write failed (the read-back after it): only a re-read tells."""
    if isinstance(error, ANSWER_LOST) or _already_exists(error):
        return True
    return isinstance(error, ClientError) and is_read_operation(error.operation_name)


def _already_exists(error: Exception) -> bool:
    return (error_code(error) or "").endswith("AlreadyExistsException")


def _time_needed_ms(change: Change) -> int:
    """The time left that ``change`` needs to start: every try of every call (a call with ``if_failed``
    mends what an earlier one removed, and is tried IF_FAILED_ATTEMPTS times), with the waits between
    them. 0 for a change without such a call: stopping it halfway leaves nothing broken."""
    mending = sum(1 for call in change.calls if call.if_failed)
    if not mending:
        return 0
    attempts = len(change.calls) + mending * (IF_FAILED_ATTEMPTS - 1)
    waits_s = mending * sum(IF_FAILED_DELAY * attempt for attempt in range(1, IF_FAILED_ATTEMPTS))
    return time_for_calls(attempts) + int(waits_s * 1000)


def _failure(call: Call, made: list[str]) -> str:
    said = [f"{call.operation} failed"]
    if made:
        said.append(f"after {', '.join(made)} succeeded")
    if made and call.if_failed:
        said.append(f": {call.if_failed}")
    return " ".join(said).replace(" :", ":")


def _make(ecr: ECRClient, call: Call, sleep: Sleep) -> list[str]:
    """Make ``call`` (rebuilt from a fresh read when it asks for it); notes on what else it took."""
    if call.refresh is not None:
        return _make_refreshed(ecr, call, call.refresh, sleep)
    attempts = IF_FAILED_ATTEMPTS if call.if_failed else 1
    for attempt in range(1, attempts):
        try:
            execute(ecr, call, sleep)
            return []
        except AwsError as error:
            if _already_exists(error):  # trying again cannot change that: a re-read tells if it holds
                raise
            sleep(IF_FAILED_DELAY * attempt)
    execute(ecr, call, sleep)
    return []


def _make_refreshed(ecr: ECRClient, call: Call, refresh: Refresh, sleep: Sleep) -> list[str]:
    names = {"name": call.parameters.get("repositoryName"), "arn": call.parameters.get("resourceArn")}
    before = read(ecr, refresh.read, **names)
    if (fresh := refresh.rebuild([before])) is not None:
        execute(ecr, fresh, sleep)
    after = read(ecr, refresh.read, **names)
    lost = refresh.kept(before) - refresh.kept(after)
    if not lost or (again := refresh.rebuild([before, after])) is None:
        return []
    execute(ecr, again, sleep)
    return [f"{', '.join(sorted(lost))} removed by a concurrent write and put back"]


def execute(ecr: ECRClient, call: Call, sleep: Sleep) -> None:
    if call.operation in NEVER_CALLED:
        raise CallRefused(f"{call.operation} is never called by the enforcer")
    method = getattr(ecr, xform_name(call.operation))
    try:
        if call.operation == CREATE_REPOSITORY or "repositoryName" not in call.parameters:
            method(**call.parameters)
        else:  # right after CreateRepository, ECR can briefly answer "not found"
            retry_not_found(lambda: method(**call.parameters), sleep)
    except ClientError as error:
        code = error_code(error)
        if code is not None and code == call.absent_ok:  # already as wanted
            return
        if call.operation == CREATE_REPOSITORY and code == ALREADY_EXISTS:
            raise RepositoryAppeared(error) from error  # the engine checks the one that exists instead
        raise
