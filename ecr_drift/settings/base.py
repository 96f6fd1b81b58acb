"""What a managed setting is: one class that says everything about it, in one place.

A setting declares the desired field(s) it manages, the reads it needs, how a read becomes its canonical form,
how the desired value becomes the canonical form (through ``ecr_drift.documents`` for documents), the write
calls that turn one into the other (with their IAM actions, and which ones subtract), the CloudTrail calls
that can change it, and its label. It is pure: it never calls AWS. ``ecr_drift.drift`` loops over the
registered settings, ``ecr_drift.aws`` makes the reads and the calls they ask for, and event routing, the
EventBridge pattern and the IAM role are derived from the declarations.

Canonical values are JSON-serialisable, so two values are in line exactly when their JSON texts are equal,
and a finding reads the same in a log line, an SNS message and the CLI.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from ecr_drift.desired.models import DesiredState, RepositorySettings
from ecr_drift.documents.canonical_json import dumps
from ecr_drift.state import (
    Call,
    ObservedRegistry,
    ObservedRepository,
    Read,
    RepositoryOptions,
    RepositoryParameter,
    Write,
)

D = TypeVar("D")
Severity = Literal["LOW", "MEDIUM", "HIGH"]


@dataclass(frozen=True)
class RepositoryEvent:
    """A CloudTrail call that changes a repository setting, and the request parameter naming it."""

    name: str
    by: RepositoryParameter = "repositoryName"


def same(expected: Any, actual: Any) -> bool:
    """Compared as canonical JSON text: Python's ``1 == 1.0 == True`` must not hide a change."""
    return dumps(expected) == dumps(actual)


class _Declared(ABC):
    name: ClassVar[str]  # the finding's ``setting``; stable, machines filter on it
    title: ClassVar[str]  # how people read it: "scan on push"
    title_is_plural: ClassVar[bool] = False  # "tags differ", not "tags differs"
    fields: ClassVar[tuple[str, ...]]  # the desired state's field(s) this setting manages
    reads: ClassVar[tuple[Read, ...]] = ()
    writes: ClassVar[tuple[Write, ...]] = ()
    severity: ClassVar[Severity] = "MEDIUM"  # of its Security Hub findings

    @property
    def iam_actions(self) -> tuple[str, ...]:
        return (
            *(read.iam_action for read in self.reads),
            *(action for write in self.writes for action in write.iam_actions),
        )

    def in_line(self, expected: Any, actual: Any) -> bool:
        return same(expected, actual)

    @property
    def differs(self) -> str:
        """The message of its drift: ``scan on push differs``, ``tags differ``."""
        return f"{self.title} {'differ' if self.title_is_plural else 'differs'}"


class RepositorySetting(_Declared, Generic[D]):
    """A setting of each repository. ``D`` is its compiled desired value.

    ``reads`` are per-repository reads; a setting with none is read from the repository's DescribeRepositories
    entry, which comes 1000 repositories a call. ``report_only``: drift is reported with this message and
    never written (encryption is fixed at creation).
    """

    events: ClassVar[tuple[RepositoryEvent, ...]] = ()
    report_only: ClassVar[str | None] = None
    # What CreateRepository needs beyond its own action when it is given this setting's parameters.
    creation_iam_actions: ClassVar[tuple[str, ...]] = ()
    # UpdateRepositoryCreationTemplate's parameters that take this setting off a template.
    template_reset: ClassVar[Mapping[str, Any]] = {}

    @abstractmethod
    def desired(self, settings: RepositorySettings, options: RepositoryOptions) -> D | None:
        """The compiled desired value; None when the effective settings leave it unmanaged."""

    def expected(self, value: D, observed: ObservedRepository | None) -> Any:
        """The canonical value the repository must have (``observed`` None: it does not exist yet)."""
        return value

    @abstractmethod
    def actual(self, value: D, observed: ObservedRepository) -> Any:
        """The canonical value the repository has. ``ValueError``: what ECR returned is not understood."""

    def calls(self, name: str, value: D, observed: ObservedRepository | None) -> list[Call]:
        """The writes that make the repository hold ``value``; ``observed`` None: a repository just created
        with only what :meth:`creation_parameters` gave it."""
        raise NotImplementedError(f"{self.name} is only reported")

    def creation_parameters(self, value: D) -> dict[str, Any]:
        """What CreateRepository can set at once; the rest follows as :meth:`calls` on the new repository."""
        return {}

    def template_parameters(self, value: D) -> dict[str, Any]:
        """What a repository creation template sets for it (CreateRepositoryCreationTemplate's parameters);
        {}: templates do not carry it."""
        return {}

    def template_canonical(self, template: Mapping[str, Any]) -> Any:
        """Its canonical value in a template: in :meth:`template_parameters`' output or in a
        DescribeRepositoryCreationTemplates entry (one function for both, so they compare)."""
        return None


@dataclass(frozen=True)
class Difference:
    """One way the registry differs from a registry setting; ``calls`` put it right (none: only reported)."""

    expected: Any
    actual: Any
    message: str
    calls: tuple[Call, ...] = ()
    key: str | None = None
    reported: bool = False


class RegistrySetting(_Declared, Generic[D]):
    """A setting of the registry as a whole. ``events`` are the CloudTrail calls that can change it."""

    events: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def desired(self, state: DesiredState) -> D | None:
        """The compiled desired value; None when the desired state leaves it unmanaged."""

    def expected(self, value: D, observed: ObservedRegistry | None) -> Any:
        """The canonical value the registry must have (``observed`` None: its read failed)."""
        return value

    @abstractmethod
    def actual(self, value: D, observed: ObservedRegistry) -> Any: ...

    @abstractmethod
    def calls(self, value: D, observed: ObservedRegistry) -> list[Call]: ...

    def problem(self, value: D, observed: ObservedRegistry) -> str | None:
        """Why ``value`` cannot be applied to this registry (then reported, never written), or None."""
        return None

    def differences(self, value: D, observed: ObservedRegistry) -> list[Difference]:
        expected, actual = self.expected(value, observed), self.actual(value, observed)
        if self.in_line(expected, actual):
            return []
        if (problem := self.problem(value, observed)) is not None:
            return [Difference(expected, actual, problem, reported=True)]
        calls = tuple(self.calls(value, observed))
        return [Difference(expected, actual, self.differs, calls)]


class KeyedRegistrySetting(RegistrySetting[Mapping[str, D]]):
    """Items of the registry by key (cache rules, creation templates by prefix): one finding per key.

    An item in the account that the desired state does not declare is reported, never deleted: another
    team may rely on it.
    """

    item: ClassVar[str]  # "rule", "template": how a message names one
    # The request parameter of its ``events`` naming the item (its key): such an event checks that item only.
    item_parameter: ClassVar[str]

    @abstractmethod
    def observed_items(self, observed: ObservedRegistry) -> Mapping[str, Mapping[str, Any]]:
        """The items in the account by key, as ECR returns them."""

    @abstractmethod
    def canonical_item(self, item: D) -> Any: ...

    @abstractmethod
    def canonical_observed_item(self, item: Mapping[str, Any]) -> Any: ...

    @abstractmethod
    def item_calls(self, key: str, want: D, have: Mapping[str, Any] | None) -> list[Call]:
        """The writes that make item ``key`` hold ``want`` (``have``: as ECR returned it, None: missing)."""

    def expected(self, value: Mapping[str, D], observed: ObservedRegistry | None) -> Any:
        return {key: self.canonical_item(item) for key, item in sorted(value.items())}

    def actual(self, value: Mapping[str, D], observed: ObservedRegistry) -> Any:
        items = self.observed_items(observed)
        return {key: self.canonical_observed_item(item) for key, item in sorted(items.items())}

    def calls(self, value: Mapping[str, D], observed: ObservedRegistry) -> list[Call]:
        return [call for d in self.differences(value, observed) for call in d.calls]

    def differences(self, value: Mapping[str, D], observed: ObservedRegistry) -> list[Difference]:
        items = self.observed_items(observed)
        expected, actual = self.expected(value, observed), self.actual(value, observed)
        differences: list[Difference] = []
        for key in sorted(expected.keys() | actual.keys()):
            want, have = expected.get(key), actual.get(key)
            if self.in_line(want, have):
                continue
            if key not in value:  # reported, never deleted: another team may rely on it
                message = f"{self.item} not in the desired state"
                differences.append(Difference(None, have, message, key=key, reported=True))
                continue
            message = f"{self.item} missing" if have is None else f"{self.item} differs"
            calls = tuple(self.item_calls(key, value[key], items.get(key)))
            differences.append(Difference(want, have, message, calls, key=key))
        return differences


# ---------------------------------------------------------------------------------------------------------
# The registered settings: the package's __init__ registers each module's SPEC; a test may add its own.

AnySetting = RepositorySetting[Any] | RegistrySetting[Any]
_REPOSITORY: list[RepositorySetting[Any]] = []
_REGISTRY: list[RegistrySetting[Any]] = []


def register(setting: AnySetting) -> None:
    """Add ``setting`` to the ones every run checks (a test may register a throwaway one)."""
    if any(other.name == setting.name for other in (*_REPOSITORY, *_REGISTRY)):
        raise ValueError(f"a setting named {setting.name!r} is registered already")
    if isinstance(setting, RepositorySetting):
        _REPOSITORY.append(setting)
    else:
        _REGISTRY.append(setting)


def unregister(setting: AnySetting) -> None:
    if isinstance(setting, RepositorySetting):
        _REPOSITORY.remove(setting)
    else:
        _REGISTRY.remove(setting)


def repository_settings() -> tuple[RepositorySetting[Any], ...]:
    return tuple(_REPOSITORY)


def registry_settings() -> tuple[RegistrySetting[Any], ...]:
    return tuple(_REGISTRY)
