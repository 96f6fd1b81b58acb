"""What woke the Lambda, and what it should check: an event in, a :class:`Target` or an :class:`Ignored` out.

Events are parsed into models of only the fields used, and nothing in an event is trusted beyond the name
of the resource it touched: the engine re-reads the live state, so a repeated, late or forged event costs
a read and changes nothing. ``route`` never raises; anything it cannot use is ``Ignored`` with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal, Self, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ecr_drift.desired.models import CACHE_PREFIX_PATTERN, REPOSITORY_NAME_PATTERN, DesiredState
from ecr_drift.documents.problems import join_path
from ecr_drift.findings import Origin
from ecr_drift.settings import registry_settings, repository_settings
from ecr_drift.settings.base import KeyedRegistrySetting
from ecr_drift.state import RepositoryParameter
from ecr_drift.strict_model import StrictModel
from ecr_drift.targets import NO_REGISTRY, WHOLE_REGISTRY, Mode, RegistryPart, RegistryScope, Target, sweep

API_CALL = "AWS API Call via CloudTrail"
SERVICE_EVENT = "AWS Service Event via CloudTrail"
SCHEDULED_EVENT = "Scheduled Event"
ECR_EVENT_SOURCE = "ecr.amazonaws.com"

# Calls that create or delete a repository (the name is in requestParameters.repositoryName); the calls that
# change a setting are the ones the settings declare (``watched_calls``).
REPOSITORY_EXISTENCE_CALLS = frozenset({"CreateRepository", "DeleteRepository"})
REPOSITORY_ARN = re.compile(r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/(?P<name>.+)$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):role/(?:[^/]+/)*(?P<name>[^/]+)$")
ASSUMED_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:sts::(?P<account>[0-9]{12}):assumed-role/(?P<name>[^/]+)/.+$")
_VALID_NAME = re.compile(REPOSITORY_NAME_PATTERN)
# A registry item's key (cache rule or template prefix): botocore's pattern, and the longer of their bounds.
_VALID_PREFIX = re.compile(CACHE_PREFIX_PATTERN)
MAX_PREFIX_LENGTH = 256
# A manual sweep's page: its run stays well within 900 s, its answer within 6 MB, and its publishing
# (Security Hub reads 20 resources a request, 3 requests a second) within the deadline's reserve.
DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 2000
# ECR's bounds on a repository name (botocore's RepositoryName shape); the pattern alone has none.
MIN_NAME_LENGTH, MAX_NAME_LENGTH = 2, 256

RepositoryName = Annotated[
    str, Field(min_length=MIN_NAME_LENGTH, max_length=MAX_NAME_LENGTH, pattern=REPOSITORY_NAME_PATTERN)
]


@dataclass(frozen=True)
class Ignored:
    """An event that needs no run. ``warning`` marks the ones that look like a mistake upstream."""

    reason: str
    warning: bool = False


@dataclass(frozen=True)
class ManualTarget(Target):
    """A manual invoke also says which mode it asks for (see ``EnforcerConfig.effective_mode``)."""

    requested_mode: Mode = Mode.AUDIT
    # A person lifts `enforcement.blast_radius` for this one run (`ecr-drift enforce --allow-mass-change`).
    allow_mass_change: bool = False
    # A sweep is answered a page at a time (ecr_drift.pages): the repositories after this name, in name order.
    start_after: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE


# ---- models of the fields used ---------------------------------------------------------------------------


class _AwsModel(BaseModel):
    # AWS adds fields to its events over time: unknown ones are ignored, the ones used are type-checked.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class SessionIssuer(_AwsModel):
    arn: str | None = None


class SessionContext(_AwsModel):
    session_issuer: SessionIssuer | None = Field(default=None, alias="sessionIssuer")


class UserIdentity(_AwsModel):
    arn: str | None = None
    invoked_by: str | None = Field(default=None, alias="invokedBy")
    session_context: SessionContext | None = Field(default=None, alias="sessionContext")

    @property
    def issuer_arn(self) -> str | None:
        context = self.session_context
        return context.session_issuer.arn if context and context.session_issuer else None


class RequestParameters(_AwsModel):
    """The repository's name; the other parameters are kept unchecked, as ``model_extra``: a registry call
    names its item (a cache rule's or a template's prefix) by the parameter its setting declares, and one of
    the wrong type must not make the whole event unreadable (``_registry_part``)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    repository_name: str | None = Field(default=None, alias="repositoryName")
    resource_arn: str | None = Field(default=None, alias="resourceArn")  # the tagging calls


class RepositoryElement(_AwsModel):
    repository_name: str | None = Field(default=None, alias="repositoryName")


class ResponseElements(_AwsModel):
    repository: RepositoryElement | None = None  # CreateRepository


class ServiceEventDetails(_AwsModel):
    repository_name: str | None = Field(default=None, alias="repositoryName")


class CloudTrailResource(_AwsModel):
    arn: str | None = Field(default=None, alias="ARN")


class CloudTrailDetail(_AwsModel):
    """``detail`` of an "AWS API Call via CloudTrail" or "AWS Service Event via CloudTrail" event."""

    event_name: str = Field(alias="eventName")
    event_source: str = Field(alias="eventSource")
    event_time: str | None = Field(default=None, alias="eventTime")
    event_id: str | None = Field(default=None, alias="eventID")
    error_code: str | None = Field(default=None, alias="errorCode")
    user_identity: UserIdentity | None = Field(default=None, alias="userIdentity")
    source_ip_address: str | None = Field(default=None, alias="sourceIPAddress")
    user_agent: str | None = Field(default=None, alias="userAgent")
    request_parameters: RequestParameters | None = Field(default=None, alias="requestParameters")
    response_elements: ResponseElements | None = Field(default=None, alias="responseElements")
    service_event_details: ServiceEventDetails | None = Field(default=None, alias="serviceEventDetails")
    resources: list[CloudTrailResource] | None = None


class EventEnvelope(_AwsModel):
    """The EventBridge envelope; ``detail`` is parsed by the route that knows its shape."""

    detail_type: str = Field(alias="detail-type")
    source: str
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any]


class ManualInvoke(StrictModel):
    """``{"action": "audit" | "enforce", "repositories": [...], "allow_mass_change": false}``; no
    ``repositories`` means every one, a page at a time: ``start_after`` (the previous answer's
    ``next_page``) and ``page_size``."""

    action: Literal["audit", "enforce"]
    repositories: list[RepositoryName] | None = Field(
        default=None, min_length=1, description="Omit to check every repository and the registry."
    )
    allow_mass_change: bool = Field(
        default=False, description="Lift `enforcement.blast_radius` for this run (enforce only)."
    )
    start_after: RepositoryName | None = Field(
        default=None, description="A sweep's next page: the repositories after this name (`next_page`)."
    )
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)

    @model_validator(mode="after")
    def _pages_of_a_sweep_only(self) -> Self:
        if self.repositories is not None and self.start_after is not None:
            raise ValueError("start_after pages a sweep: give it without repositories")
        return self


# ---- routing ---------------------------------------------------------------------------------------------


def route(event: Any, *, state: DesiredState, own_role_arn: str | None) -> Target | Ignored:
    """The target an event asks for, or why it asks for nothing. Never raises."""
    if not isinstance(event, dict):
        return Ignored(f"not an event: expected a JSON object, got {type(event).__name__}", warning=True)
    if "detail-type" not in event and "source" not in event:
        return _route_manual(event)
    try:
        envelope = EventEnvelope.model_validate(event)
    except ValidationError as error:
        return Ignored(f"malformed event: {validation_errors(error)}", warning=True)
    if (envelope.source, envelope.detail_type) == ("aws.events", SCHEDULED_EVENT):
        return sweep("schedule")
    if envelope.source != "aws.ecr" or envelope.detail_type not in (API_CALL, SERVICE_EVENT):
        return Ignored(
            f"unsupported event: source {envelope.source!r}, detail-type {envelope.detail_type!r}",
            warning=True,
        )
    try:
        detail = CloudTrailDetail.model_validate(envelope.detail)
    except ValidationError as error:
        return Ignored(f"malformed CloudTrail detail: {validation_errors(error)}", warning=True)
    if detail.event_source != ECR_EVENT_SOURCE:
        return Ignored(f"event source {detail.event_source!r} is not ECR", warning=True)
    if detail.error_code:
        return Ignored(f"{detail.event_name} failed with {detail.error_code}: nothing changed")
    if envelope.detail_type == SERVICE_EVENT:
        return _route_service_event(detail, envelope)
    return _route_api_call(detail, state, own_role_arn)


def repository_calls_by_parameter() -> dict[str, RepositoryParameter]:
    """The CloudTrail calls that change a repository (its existence or a setting), each with the request
    parameter that names the repository."""
    calls: dict[str, RepositoryParameter] = dict.fromkeys(REPOSITORY_EXISTENCE_CALLS, "repositoryName")
    calls.update((event.name, event.by) for s in repository_settings() for event in s.events)
    return calls


def registry_calls_watched() -> frozenset[str]:
    """The CloudTrail calls that change a registry setting: that setting (or the item named) is checked."""
    return frozenset(call for s in registry_settings() for call in s.events)


def watched_calls() -> tuple[str, ...]:
    """Every call the enforcer acts on, for the EventBridge pattern (no call it ignores costs a run)."""
    return tuple(sorted(repository_calls_by_parameter().keys() | registry_calls_watched()))


def _route_manual(event: dict[str, Any]) -> Target | Ignored:
    try:
        invoke = ManualInvoke.model_validate(event)
    except ValidationError as error:
        return Ignored(f"invalid manual invoke: {validation_errors(error)}", warning=True)
    requested = Mode(invoke.action)
    if invoke.repositories is None:
        return ManualTarget(
            trigger="manual",
            repositories=None,
            # The first page checks the registry.
            registry=WHOLE_REGISTRY if invoke.start_after is None else NO_REGISTRY,
            requested_mode=requested,
            allow_mass_change=invoke.allow_mass_change,
            start_after=invoke.start_after,
            page_size=invoke.page_size,
        )
    names = tuple(dict.fromkeys(invoke.repositories))  # drop repeats, keep the order given
    return ManualTarget(
        trigger="manual",
        repositories=names,
        requested_mode=requested,
        allow_mass_change=invoke.allow_mass_change,
    )


def _route_api_call(
    detail: CloudTrailDetail, state: DesiredState, own_role_arn: str | None
) -> Target | Ignored:
    name = detail.event_name
    repository_calls = repository_calls_by_parameter()
    registry_calls = registry_calls_watched()
    if name not in repository_calls.keys() | registry_calls:
        return Ignored(f"{name} changes no setting the enforcer manages")
    identity = detail.user_identity or UserIdentity()
    principals = [arn for arn in (identity.issuer_arn, identity.arn) if arn]
    if own_role_arn and any(_same_role(arn, own_role_arn) for arn in principals):
        return Ignored(f"{name} was made by the enforcer's own role: its own remediation")
    for glob in state.enforcement.ignore_principals:
        if matched := next((arn for arn in principals if principal_matches(arn, glob)), None):
            return Ignored(f"{name} by {matched}, which matches ignore_principals {glob!r}")
    origin = _origin(detail)
    trigger = f"cloudtrail:{name}"
    parameters = detail.request_parameters or RequestParameters()
    if name in registry_calls:
        part, fallback = _registry_part(name, parameters)
        scope = RegistryScope(frozenset({part}))
        return Target(trigger=trigger, repositories=(), registry=scope, origin=origin, fallback=fallback)
    if repository_calls[name] == "resourceArn":
        repository = _name_in_arn(parameters.resource_arn)
    else:
        repository = parameters.repository_name
    if not _is_repository_name(repository):
        return Ignored(f"{name} names no valid repository ({_shown(repository)})", warning=True)
    return Target(trigger=trigger, repositories=(repository,), origin=origin)


def _registry_part(call: str, parameters: RequestParameters) -> tuple[RegistryPart, str | None]:
    """What a registry call can have changed: the item it names (no other registry item depends on one: see
    the settings), or its whole setting; with why the whole setting when the call names no usable item."""
    setting = next(s for s in registry_settings() if call in s.events)
    if not isinstance(setting, KeyedRegistrySetting):
        return RegistryPart(setting.name), None
    key = (parameters.model_extra or {}).get(setting.item_parameter)
    if isinstance(key, str) and len(key) <= MAX_PREFIX_LENGTH and _VALID_PREFIX.fullmatch(key):
        return RegistryPart(setting.name, key), None
    shown = _shown(key) if key is None or isinstance(key, str) else f"a {type(key).__name__}"
    return RegistryPart(setting.name), f"{call} names no valid {setting.item_parameter} ({shown})"


def _route_service_event(detail: CloudTrailDetail, envelope: EventEnvelope) -> Target | Ignored:
    """ECR acting on its own: a repository it created (pull through cache, create on push), lifecycle runs.

    ECR puts the created repository's name in ``serviceEventDetails.repositoryName``; the other places are
    read too, as the event's shape is not part of any API contract.
    """
    name = detail.event_name
    if name == "PolicyExecutionEvent":
        return Ignored("lifecycle policy run (PolicyExecutionEvent): ECR expired images, no setting changed")
    if name != "CreateRepository":
        return Ignored(f"service event {name} changes no setting the enforcer manages")
    parameters = detail.request_parameters or RequestParameters()
    response = detail.response_elements or ResponseElements()
    candidates = [
        detail.service_event_details.repository_name if detail.service_event_details else None,
        parameters.repository_name,
        response.repository.repository_name if response.repository else None,
        *(_name_in_arn(resource.arn) for resource in detail.resources or ()),
        *(_name_in_arn(arn) for arn in envelope.resources),
    ]
    repository = next((c for c in candidates if _is_repository_name(c)), None)
    if repository is None:
        return Ignored("service event CreateRepository names no valid repository", warning=True)
    return Target(trigger=f"service-event:{name}", repositories=(repository,), origin=_origin(detail))


def _origin(detail: CloudTrailDetail) -> Origin:
    identity = detail.user_identity or UserIdentity()
    return Origin(
        principal_arn=identity.arn or identity.issuer_arn or identity.invoked_by,
        source_ip=detail.source_ip_address,
        user_agent=detail.user_agent,
        event_time=detail.event_time,
        event_id=detail.event_id,
        event_name=detail.event_name,
    )


def _is_repository_name(name: str | None) -> TypeGuard[str]:
    """A name ECR could have given a repository: anything else in an event is never acted on."""
    return (
        name is not None
        and MIN_NAME_LENGTH <= len(name) <= MAX_NAME_LENGTH
        and bool(_VALID_NAME.fullmatch(name))
    )


def _shown(name: str | None) -> str:
    """The name for a log line; one longer than ECR allows is described, not copied in."""
    if name is not None and len(name) > MAX_NAME_LENGTH:
        return f"a name of {len(name)} characters; ECR allows at most {MAX_NAME_LENGTH}"
    return repr(name)


def principal_matches(arn: str, glob: str) -> bool:
    """An ``ignore_principals`` glob against a caller's ARN, ignoring case: IAM role (and user) names are
    unique in an account regardless of case and path, so `Pulumi-Deploy` is the role `pulumi-deploy`. The
    rest of an ARN is lowercase or digits (partition, service, account id), and a session name is the
    caller's free choice: folding them too widens nothing."""
    return fnmatchcase(arn.lower(), glob.lower())


def _same_role(principal_arn: str, role_arn: str) -> bool:
    """A role ARN or one of its sessions (``assumed-role/NAME/…`` has no path; IAM names ignore case)."""
    return (key := _role_key(principal_arn)) is not None and key == _role_key(role_arn)


def _role_key(arn: str) -> tuple[str, str] | None:
    match = ROLE_ARN.fullmatch(arn) or ASSUMED_ROLE_ARN.fullmatch(arn)
    return (match["account"], match["name"].lower()) if match else None


def _name_in_arn(arn: str | None) -> str | None:
    match = REPOSITORY_ARN.fullmatch(arn) if arn else None
    return match["name"] if match else None


def validation_errors(error: ValidationError) -> str:
    """Every problem on one line, each with its path in the input."""
    return "; ".join(
        f"{join_path(*item['loc']) or '(root)'}: {item['msg']}" for item in error.errors(include_url=False)
    )
