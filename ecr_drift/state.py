"""Pure types of the loop: what to read, what was read, what the desired state compiles to, what to write.

Nothing here calls AWS. Settings (``ecr_drift.settings``) declare :class:`Read`\\ s and turn the observed and
desired shapes into findings and :class:`Call`\\ s; ``ecr_drift.aws`` makes the reads and the calls. So the
diff is a pure function from (desired, observed) to (finding, calls), and everything about a setting can be
tested without AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ecr_drift.findings import Finding

# How a call names its repository: most ECR calls take its name, the tagging calls its ARN.
RepositoryParameter = Literal["repositoryName", "resourceArn"]


@dataclass(frozen=True)
class Read:
    """One ECR read a setting needs. Equal reads are made once per repository (or registry) and shared.

    ``by``: the parameter naming the repository; None for a registry read. ``absent``: the error code that
    means "there is none" (the read then gives None). ``paginate``: the result list collected across pages.
    """

    operation: str
    by: RepositoryParameter | None = None
    absent: str | None = None
    paginate: str | None = None

    @property
    def iam_action(self) -> str:
        return f"ecr:{self.operation}"


@dataclass(frozen=True)
class Write:
    """A write call a setting may make, declared for the role and for `ecr-drift plan`.

    ``implied_iam_actions``: what the call needs beyond its own action (tags on creation, a KMS grant), the
    dependent actions the Service Authorization Reference lists for it included (checked against it by
    tests/infra/test_iam_reference.py). ``service_linked_roles``: the AWS services (``iam:AWSServiceName``)
    whose service-linked role the call creates when the account lacks it; it implies
    iam:CreateServiceLinkedRole, which the role grants for those services only.
    ``subtractive``: it can remove something (a statement, a policy, a rule, a tag) rather than only add.
    """

    operation: str
    implied_iam_actions: tuple[str, ...] = ()
    service_linked_roles: tuple[str, ...] = ()
    subtractive: bool = False

    @property
    def iam_actions(self) -> tuple[str, ...]:
        linked = ("iam:CreateServiceLinkedRole",) if self.service_linked_roles else ()
        return (f"ecr:{self.operation}", *self.implied_iam_actions, *linked)


@dataclass(frozen=True)
class Call:
    """One write to make, with its exact parameters.

    ``subtractive``: this call removes something (a policy, statements, a rule, tags): what the blast-radius
    guard counts. ``absent_ok``: an error code meaning the call's aim already holds (deleting what is gone).
    ``lifecycle_guard``: a lifecycle document whose expiries the lifecycle guard counts before the call.
    ``if_failed``: what is broken when this call fails after the change's earlier calls succeeded (a rule
    deleted to be re-created); such a call is retried before it is given up, and its change starts only
    when the run has time left for all its calls. ``refresh``: build the call
    again from a read made right before it, and check that read's kept parts survive it (see
    :class:`Refresh`).
    """

    operation: str
    parameters: Mapping[str, Any]
    subtractive: bool = False
    absent_ok: str | None = None
    lifecycle_guard: Mapping[str, Any] | None = None
    if_failed: str | None = None
    refresh: Refresh | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Refresh:
    """A write that must not lose what someone else adds between the run's read and the write (a kept policy
    statement): the executor reads ``read`` right before the write and writes ``rebuild([that read])``
    instead; then reads again, and if ``kept`` of the first read is not all in ``kept`` of the second (a
    concurrent write removed it), writes ``rebuild([first, second])`` to put it back. ``rebuild`` gives None
    when the reads already hold what is wanted.
    """

    read: Read
    rebuild: Callable[[Sequence[Any]], Call | None]
    kept: Callable[[Any], frozenset[str]]


@dataclass(frozen=True)
class Change:
    """A finding and the calls that would put it right (none for one that is only reported)."""

    finding: Finding
    calls: tuple[Call, ...] = ()


@dataclass(frozen=True)
class RepositoryOptions:
    """The ``enforcement`` options that shape what a repository's settings compile to."""

    keep_policy_sids: frozenset[str] = frozenset()
    remove_unmanaged_tags: bool = False
    recreate_if_missing: bool = True


@dataclass(frozen=True)
class DesiredRepository:
    """One repository's effective settings, each compiled by its setting; a setting absent is unmanaged."""

    name: str
    named: bool
    values: Mapping[str, Any]
    options: RepositoryOptions = field(default_factory=RepositoryOptions)


@dataclass(frozen=True)
class ObservedRepository:
    """One repository as read: its DescribeRepositories entry and the per-repository reads its settings
    asked for (None: ECR has none). ``failures``: each read that failed, and why."""

    name: str
    arn: str
    description: Mapping[str, Any]
    reads: Mapping[Read, Any] = field(default_factory=dict)
    failures: Mapping[Read, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DesiredRegistry:
    """The registry settings the desired state manages, each compiled by its setting."""

    values: Mapping[str, Any]


@dataclass(frozen=True)
class ObservedRegistry:
    """The registry reads the managed settings asked for, in ``region``; ``failures`` as for a repository."""

    region: str | None = None
    reads: Mapping[Read, Any] = field(default_factory=dict)
    failures: Mapping[Read, str] = field(default_factory=dict)
