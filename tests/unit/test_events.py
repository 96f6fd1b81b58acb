"""Routing: every event file to its target or its reason, origins, and no input ever raising."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_drift.desired import DesiredState
from ecr_drift.events import Ignored, ManualTarget, route
from ecr_drift.findings import Origin, Report
from ecr_drift.targets import WHOLE_REGISTRY, Mode, RegistryPart, RegistryScope, Target
from tests.lambda_harness import (
    CONSOLE_SESSION,
    ENFORCER_ROLE,
    event_files,
    invoke,
    lambda_environment,
    load_event,
)

CI_SESSION = "arn:aws:sts::123456789012:assumed-role/github-actions-ci/GitHubActions"

# file → (trigger, repositories, registry parts) for a target, or the start of the reason it is ignored
ROUTES: dict[str, tuple[str, tuple[str, ...] | None, list[str]] | str] = {
    "put_image_scanning_configuration_console.json": (
        "cloudtrail:PutImageScanningConfiguration",
        ("utila-cosigner",),
        [],
    ),
    "put_lifecycle_policy_ci_role.json": ("cloudtrail:PutLifecyclePolicy", ("temporal-worker",), []),
    "put_image_tag_mutability.json": ("cloudtrail:PutImageTagMutability", ("admin-dashboard",), []),
    "set_repository_policy.json": ("cloudtrail:SetRepositoryPolicy", ("admin-dashboard",), []),
    "delete_repository.json": ("cloudtrail:DeleteRepository", ("temporal-worker",), []),
    "tag_resource.json": ("cloudtrail:TagResource", ("utila-cosigner",), []),
    "untag_resource.json": ("cloudtrail:UntagResource", ("internal-dashboard",), []),
    "delete_lifecycle_policy.json": ("cloudtrail:DeleteLifecyclePolicy", ("utila-cosigner",), []),
    "delete_pull_through_cache_rule.json": (
        "cloudtrail:DeletePullThroughCacheRule",
        (),
        ["pull_through_cache_rule [ecr-public]"],
    ),
    "put_registry_scanning_configuration.json": (
        "cloudtrail:PutRegistryScanningConfiguration",
        (),
        ["registry_scanning"],
    ),
    "put_replication_configuration.json": ("cloudtrail:PutReplicationConfiguration", (), ["replication"]),
    "delete_registry_policy.json": ("cloudtrail:DeleteRegistryPolicy", (), ["registry_policy"]),
    "delete_repository_creation_template.json": (
        "cloudtrail:DeleteRepositoryCreationTemplate",
        (),
        ["creation_template [ecr-public]"],
    ),
    "service_event_pull_through_cache.json": (
        "service-event:CreateRepository",
        ("ecr-public/library/nginx",),
        [],
    ),
    "scheduled_event.json": ("schedule", None, ["*"]),
    "manual_audit.json": ("manual", None, ["*"]),
    "manual_enforce_repositories.json": ("manual", ("utila-cosigner", "admin-dashboard"), []),
    "failed_access_denied.json": "PutImageTagMutability failed with AccessDenied: nothing changed",
    "own_role_event.json": "PutImageScanningConfiguration was made by the enforcer's own role",
    "pulumi_deploy_role.json": (
        "SetRepositoryPolicy by arn:aws:iam::123456789012:role/pulumi-deploy, which matches ignore_principals"
    ),
    "policy_execution_event.json": "lifecycle policy run (PolicyExecutionEvent)",
    "manual_invalid_action.json": "invalid manual invoke: action: Input should be 'audit' or 'enforce'",
    "manual_repositories_not_list.json": "invalid manual invoke: repositories: Input should be a valid list",
    "malformed_not_object.json": "not an event: expected a JSON object, got list",
    "malformed_missing_detail.json": "malformed event: detail: Field required",
    "malformed_wrong_types.json": "malformed CloudTrail detail: eventName: Input should be a valid string",
}
WARNINGS = {
    name for name in ROUTES if name.startswith(("malformed_", "manual_invalid", "manual_repositories"))
}


def route_file(name: str, state: DesiredState, own_role_arn: str | None = ENFORCER_ROLE) -> Target | Ignored:
    return route(load_event(name), state=state, own_role_arn=own_role_arn)


def test_every_event_file_has_an_expected_route() -> None:
    assert sorted(ROUTES) == event_files()


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_event_file_routes(name: str, example_state: DesiredState) -> None:
    result = route_file(name, example_state)
    expected = ROUTES[name]

    if isinstance(expected, str):
        assert isinstance(result, Ignored), result
        assert result.reason.startswith(expected), result.reason
        assert result.warning is (name in WARNINGS)
    else:
        assert isinstance(result, Target), result
        assert (result.trigger, result.repositories, result.registry.labels) == expected


def test_origin_of_a_console_change(example_state: DesiredState) -> None:
    target = route_file("put_image_scanning_configuration_console.json", example_state)

    assert isinstance(target, Target)
    assert target.origin == Origin(
        principal_arn=CONSOLE_SESSION,
        source_ip="198.51.100.23",
        user_agent=load_event("put_image_scanning_configuration_console.json")["detail"]["userAgent"],
        event_time="2025-11-20T09:14:03Z",
        event_id=load_event("put_image_scanning_configuration_console.json")["detail"]["eventID"],
        event_name="PutImageScanningConfiguration",
    )


def test_origin_of_a_ci_role_and_of_ecr_itself(example_state: DesiredState) -> None:
    ci = route_file("put_lifecycle_policy_ci_role.json", example_state)
    service = route_file("service_event_pull_through_cache.json", example_state)

    assert isinstance(ci, Target)
    assert ci.origin is not None
    assert (ci.origin.principal_arn, ci.origin.source_ip) == (CI_SESSION, "20.57.79.160")
    assert ci.origin.user_agent is not None
    assert ci.origin.user_agent.startswith("aws-cli/2.22.12")
    assert isinstance(service, Target)
    assert service.origin is not None
    assert (service.origin.principal_arn, service.origin.event_name) == (
        "ecr.amazonaws.com",
        "CreateRepository",
    )


def test_schedules_and_manual_invokes_carry_no_origin(example_state: DesiredState) -> None:
    for name in ("scheduled_event.json", "manual_audit.json", "manual_enforce_repositories.json"):
        target = route_file(name, example_state)
        assert isinstance(target, Target)
        assert target.origin is None


def test_manual_invokes_say_which_mode_they_ask_for(example_state: DesiredState) -> None:
    audit = route_file("manual_audit.json", example_state)
    enforce = route_file("manual_enforce_repositories.json", example_state)

    assert isinstance(audit, ManualTarget)
    assert audit.requested_mode is Mode.AUDIT
    assert audit.is_sweep
    assert isinstance(enforce, ManualTarget)
    assert enforce.requested_mode is Mode.ENFORCE


def registry_call(call: str, parameters: Any) -> dict[str, Any]:
    event = load_event("delete_pull_through_cache_rule.json")
    event["detail"] |= {"eventName": call, "requestParameters": parameters}
    return event


@pytest.mark.parametrize(
    ("call", "parameters", "part"),
    [
        ("CreatePullThroughCacheRule", {"ecrRepositoryPrefix": "quay"}, "pull_through_cache_rule [quay]"),
        ("UpdatePullThroughCacheRule", {"ecrRepositoryPrefix": "quay"}, "pull_through_cache_rule [quay]"),
        ("DeletePullThroughCacheRule", {"ecrRepositoryPrefix": "quay"}, "pull_through_cache_rule [quay]"),
        ("CreateRepositoryCreationTemplate", {"prefix": "team/x"}, "creation_template [team/x]"),
        ("UpdateRepositoryCreationTemplate", {"prefix": "ROOT"}, "creation_template [ROOT]"),
        ("DeleteRepositoryCreationTemplate", {"prefix": "team/"}, "creation_template [team/]"),
        ("PutRegistryScanningConfiguration", {"scanType": "BASIC"}, "registry_scanning"),
        ("PutReplicationConfiguration", None, "replication"),
        ("PutRegistryPolicy", {"policyText": "{}"}, "registry_policy"),
        ("DeleteRegistryPolicy", None, "registry_policy"),
    ],
)
def test_a_registry_call_checks_the_item_or_setting_it_changed(
    call: str, parameters: Any, part: str, example_state: DesiredState
) -> None:
    target = route(registry_call(call, parameters), state=example_state, own_role_arn=None)

    assert isinstance(target, Target)
    assert (target.repositories, target.registry.labels, target.fallback) == ((), [part], None)


def test_an_item_part_covers_its_item_and_its_setting_s_keyless_findings_only() -> None:
    scope = RegistryScope(frozenset({RegistryPart("creation_template", "team/")}))

    assert scope.checks("creation_template")
    assert not scope.checks("pull_through_cache_rule")
    assert scope.covers("creation_template", "team")  # ECR's prefix, with or without its trailing slash
    assert scope.covers("creation_template", None)  # the setting's read failing: read for this item too
    assert not scope.covers("creation_template", "team/x")
    assert not scope.covers("pull_through_cache_rule", "team")
    assert WHOLE_REGISTRY.covers("pull_through_cache_rule", "team")


@pytest.mark.parametrize(
    ("parameters", "shown"),
    [
        (None, "None"),
        ({}, "None"),
        ({"ecrRepositoryPrefix": 7}, "a int"),
        ({"ecrRepositoryPrefix": ["quay"]}, "a list"),
        ({"ecrRepositoryPrefix": "Not A Prefix"}, "'Not A Prefix'"),
        ({"ecrRepositoryPrefix": "a" * 300}, "a name of 300 characters"),
    ],
)
def test_a_missing_or_malformed_item_key_checks_the_whole_setting(
    parameters: Any, shown: str, example_state: DesiredState
) -> None:
    event = registry_call("DeletePullThroughCacheRule", parameters)

    target = route(event, state=example_state, own_role_arn=None)

    assert isinstance(target, Target)
    assert target.registry.labels == ["pull_through_cache_rule"]
    assert target.fallback is not None
    assert target.fallback.startswith(
        f"DeletePullThroughCacheRule names no valid ecrRepositoryPrefix ({shown}"
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "action: Field required"),
        ({"action": "audit", "repositories": []}, "repositories: List should have at least 1 item"),
        (
            {"action": "audit", "repositories": ["utila-cosigner", 7]},
            "repositories[1]: Input should be a valid string",
        ),
        (
            {"action": "audit", "repositories": ["Not_A_Repo!"]},
            "repositories[0]: String should match pattern",
        ),
        ({"action": "enforce", "repos": ["utila-cosigner"]}, "repos: Extra inputs are not permitted"),
        ({"action": "AUDIT"}, "action: Input should be 'audit' or 'enforce'"),
    ],
)
def test_invalid_manual_payloads_are_ignored_with_the_validation_message(
    payload: dict[str, Any], reason: str, example_state: DesiredState
) -> None:
    result = route(payload, state=example_state, own_role_arn=None)

    assert isinstance(result, Ignored)
    assert result.warning
    assert reason in result.reason


def test_manual_repositories_drop_repeats_in_order(example_state: DesiredState) -> None:
    payload = {"action": "audit", "repositories": ["b-repo", "a-repo", "b-repo"]}

    target = route(payload, state=example_state, own_role_arn=None)

    assert isinstance(target, Target)
    assert target.repositories == ("b-repo", "a-repo")


def test_own_role_is_recognised_in_every_form(example_state: DesiredState) -> None:
    event = load_event("own_role_event.json")
    identity = event["detail"]["userIdentity"]
    del identity["sessionContext"]  # only the session ARN: assumed-role/NAME/SESSION, no path
    with_path = "arn:aws:iam::123456789012:role/service-role/ECR-Drift-Enforcer"
    identity["arn"] = "arn:aws:sts::123456789012:assumed-role/ecr-drift-enforcer/1732093201"

    assert isinstance(route(event, state=example_state, own_role_arn=ENFORCER_ROLE), Ignored)
    assert isinstance(route(event, state=example_state, own_role_arn=with_path), Ignored)
    other_account = "arn:aws:iam::999999999999:role/ecr-drift-enforcer"
    assert isinstance(route(event, state=example_state, own_role_arn=other_account), Target)


def test_own_role_events_are_acted_on_when_the_role_is_unknown(example_state: DesiredState) -> None:
    assert isinstance(route_file("own_role_event.json", example_state, own_role_arn=None), Target)


def test_ignore_principals_match_the_session_arn_too(example_state: DesiredState) -> None:
    state = example_state.model_copy(
        update={
            "enforcement": example_state.enforcement.model_copy(
                update={"ignore_principals": ["arn:aws:sts::123456789012:assumed-role/github-actions-ci/*"]}
            )
        }
    )

    result = route_file("put_lifecycle_policy_ci_role.json", state)

    assert isinstance(result, Ignored)
    assert "arn:aws:sts::123456789012:assumed-role/github-actions-ci/*" in result.reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda e: e["detail"].update(eventName="DescribeRepositories"),
            "DescribeRepositories changes no setting",
        ),
        (lambda e: e["detail"].update(eventName="PutImage"), "PutImage changes no setting"),
        (lambda e: e["detail"].update(eventSource="ecr-public.amazonaws.com"), "event source"),
        (lambda e: e.update(source="aws.s3"), "unsupported event: source 'aws.s3'"),
        (lambda e: e.update({"detail-type": "ECR Image Action"}), "unsupported event"),
        (lambda e: e["detail"].update(requestParameters=None), "names no valid repository (None)"),
        (
            lambda e: e["detail"]["requestParameters"].update(repositoryName="../etc"),
            "names no valid repository",
        ),
        (lambda e: e["detail"].update(requestParameters=["utila-cosigner"]), "malformed CloudTrail detail"),
    ],
)
def test_unusable_api_calls_are_ignored(change: Any, reason: str, example_state: DesiredState) -> None:
    event = load_event("put_image_scanning_configuration_console.json")
    change(event)

    result = route(event, state=example_state, own_role_arn=ENFORCER_ROLE)

    assert isinstance(result, Ignored)
    assert reason in result.reason


def test_tag_calls_on_something_else_than_a_repository_are_ignored(example_state: DesiredState) -> None:
    event = load_event("tag_resource.json")
    event["detail"]["requestParameters"]["resourceArn"] = "arn:aws:ecr:eu-west-1:123456789012:registry"

    result = route(event, state=example_state, own_role_arn=None)

    assert isinstance(result, Ignored)
    assert "TagResource names no valid repository" in result.reason


def test_service_event_finds_the_repository_elsewhere(example_state: DesiredState) -> None:
    event = load_event("service_event_pull_through_cache.json")
    del event["detail"]["serviceEventDetails"]

    from_resources = route(event, state=example_state, own_role_arn=None)
    event["detail"]["resources"] = []
    event["detail"]["requestParameters"] = {"repositoryName": "ecr-public/library/alpine"}
    from_parameters = route(event, state=example_state, own_role_arn=None)
    event["detail"]["requestParameters"] = None
    nothing = route(event, state=example_state, own_role_arn=None)

    assert isinstance(from_resources, Target)
    assert from_resources.repositories == ("ecr-public/library/nginx",)
    assert isinstance(from_parameters, Target)
    assert from_parameters.repositories == ("ecr-public/library/alpine",)
    assert isinstance(nothing, Ignored)
    assert nothing.warning


def test_other_service_events_are_ignored(example_state: DesiredState) -> None:
    event = load_event("service_event_pull_through_cache.json")
    event["detail"]["eventName"] = "ReplicateImage"

    result = route(event, state=example_state, own_role_arn=None)

    assert isinstance(result, Ignored)
    assert "service event ReplicateImage" in result.reason


# ---- names longer than ECR allows ------------------------------------------------------------------------

LONG_NAME = "a" * 10_000  # matches the name pattern, which has no length bound
ARN_PREFIX = "arn:aws:ecr:eu-west-1:123456789012:repository/"


def _only_service_name_at(place: str, name: str) -> dict[str, Any]:
    """The pull through cache service event with ``name`` in one of the places a name is read from."""
    event = load_event("service_event_pull_through_cache.json")
    detail = event["detail"]
    detail["serviceEventDetails"] = detail["resources"] = None
    event["resources"] = []
    if place == "serviceEventDetails":
        detail["serviceEventDetails"] = {"repositoryName": name}
    elif place == "requestParameters":
        detail["requestParameters"] = {"repositoryName": name}
    elif place == "responseElements":
        detail["responseElements"] = {"repository": {"repositoryName": name}}
    elif place == "detail.resources":
        detail["resources"] = [{"ARN": ARN_PREFIX + name}]
    else:
        event["resources"] = [ARN_PREFIX + name]
    return event


SERVICE_PLACES = [
    "serviceEventDetails",
    "requestParameters",
    "responseElements",
    "detail.resources",
    "resources",
]


@pytest.mark.parametrize("place", SERVICE_PLACES)
def test_service_event_with_a_name_longer_than_ecr_allows_is_ignored(
    place: str, example_state: DesiredState
) -> None:
    assert isinstance(
        route(_only_service_name_at(place, "b" * 256), state=example_state, own_role_arn=None), Target
    )

    result = route(_only_service_name_at(place, LONG_NAME), state=example_state, own_role_arn=None)

    assert result == Ignored("service event CreateRepository names no valid repository", warning=True)


def test_service_event_skips_an_overlong_name_for_a_valid_one(example_state: DesiredState) -> None:
    event = load_event("service_event_pull_through_cache.json")
    event["detail"]["serviceEventDetails"]["repositoryName"] = LONG_NAME

    result = route(event, state=example_state, own_role_arn=None)

    assert isinstance(result, Target)
    assert result.repositories == ("ecr-public/library/nginx",)


@pytest.mark.parametrize(
    ("file", "field", "prefix"),
    [
        ("put_image_scanning_configuration_console.json", "repositoryName", ""),
        ("delete_repository.json", "repositoryName", ""),
        ("tag_resource.json", "resourceArn", ARN_PREFIX),
        ("untag_resource.json", "resourceArn", ARN_PREFIX),
    ],
)
def test_api_call_with_a_name_longer_than_ecr_allows_is_ignored(
    file: str, field: str, prefix: str, example_state: DesiredState
) -> None:
    event = load_event(file)
    event["detail"]["requestParameters"][field] = prefix + "c" * 256
    assert isinstance(route(event, state=example_state, own_role_arn=None), Target)
    event["detail"]["requestParameters"][field] = prefix + LONG_NAME

    result = route(event, state=example_state, own_role_arn=None)

    assert isinstance(result, Ignored)
    assert result.warning
    name = event["detail"]["eventName"]
    # described, not copied into the log line
    assert result.reason == (
        f"{name} names no valid repository (a name of 10000 characters; ECR allows at most 256)"
    )


def test_manual_invoke_with_a_name_longer_than_ecr_allows_is_ignored(example_state: DesiredState) -> None:
    result = route({"action": "audit", "repositories": [LONG_NAME]}, state=example_state, own_role_arn=None)

    assert result == Ignored(
        "invalid manual invoke: repositories[0]: String should have at most 256 characters", warning=True
    )


def test_a_one_character_name_is_not_a_repository(example_state: DesiredState) -> None:
    event = load_event("put_image_scanning_configuration_console.json")
    event["detail"]["requestParameters"]["repositoryName"] = "a"

    result = route(event, state=example_state, own_role_arn=None)

    assert result == Ignored("PutImageScanningConfiguration names no valid repository ('a')", warning=True)


# ---- IAM role names ignore case --------------------------------------------------------------------------


def _ignoring(state: DesiredState, *globs: str) -> DesiredState:
    enforcement = state.enforcement.model_copy(update={"ignore_principals": list(globs)})
    return state.model_copy(update={"enforcement": enforcement})


@pytest.mark.parametrize(
    "glob",
    [
        "arn:aws:iam::123456789012:role/Pulumi-Deploy",
        "arn:aws:iam::123456789012:role/PULUMI-*",
        "arn:aws:sts::123456789012:assumed-role/Pulumi-Deploy/*",
    ],
)
def test_ignore_principals_match_role_names_in_any_case(glob: str, example_state: DesiredState) -> None:
    result = route_file("pulumi_deploy_role.json", _ignoring(example_state, glob))

    assert isinstance(result, Ignored)
    assert f"ignore_principals {glob!r}" in result.reason


@pytest.mark.parametrize("only", ["sessionIssuer", "session"])
def test_a_role_spelt_in_another_case_is_still_ignored(only: str, example_state: DesiredState) -> None:
    event = load_event("pulumi_deploy_role.json")
    identity = event["detail"]["userIdentity"]
    if only == "session":
        del identity["sessionContext"]
        identity["arn"] = "arn:aws:sts::123456789012:assumed-role/PULUMI-Deploy/pulumi-1"
    else:
        identity["sessionContext"]["sessionIssuer"]["arn"] = "arn:aws:iam::123456789012:role/PULUMI-Deploy"
        del identity["arn"]
    state = _ignoring(
        example_state,
        "arn:aws:iam::123456789012:role/pulumi-deploy",
        "arn:aws:sts::123456789012:assumed-role/pulumi-deploy/*",
    )

    assert isinstance(route(event, state=state, own_role_arn=None), Ignored)
    assert isinstance(
        route(
            event, state=_ignoring(example_state, "arn:aws:iam::123456789012:role/pulumi"), own_role_arn=None
        ),
        Target,
    )


@pytest.mark.parametrize(
    ("principal_arn", "own_role_arn"),
    [
        ("arn:aws:sts::123456789012:assumed-role/ECR-DRIFT-ENFORCER/1732093201", ENFORCER_ROLE),
        ("arn:aws:iam::123456789012:role/Ecr-Drift-Enforcer", ENFORCER_ROLE),
        (
            "arn:aws:sts::123456789012:assumed-role/ecr-drift-enforcer/1732093201",
            "arn:aws:iam::123456789012:role/service-role/ECR-Drift-Enforcer",
        ),
    ],
)
def test_own_role_is_recognised_in_any_case(
    principal_arn: str, own_role_arn: str, example_state: DesiredState
) -> None:
    event = load_event("own_role_event.json")
    identity = event["detail"]["userIdentity"]
    del identity["sessionContext"]
    identity["arn"] = principal_arn

    result = route(event, state=example_state, own_role_arn=own_role_arn)

    assert isinstance(result, Ignored)
    assert "the enforcer's own role" in result.reason


# ---- nothing ever raises ---------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = ["detail-type", "source", "detail", "resources", "action", "repositories", "id"]
DETAIL_KEYS = [
    "eventName",
    "eventSource",
    "errorCode",
    "userIdentity",
    "requestParameters",
    "responseElements",
    "serviceEventDetails",
    "resources",
    "sourceIPAddress",
    "eventID",
]


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    """A real event with a few fields replaced by arbitrary JSON or removed, at the top or in ``detail``."""
    event = copy.deepcopy(load_event(draw(st.sampled_from(event_files()))))
    if not isinstance(event, dict):
        return draw(JSON)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at_detail = isinstance(event.get("detail"), dict) and draw(st.booleans())
        where = event["detail"] if at_detail else event
        key = draw(st.sampled_from(DETAIL_KEYS if at_detail else KEYS))
        if draw(st.booleans()):
            where.pop(key, None)
        else:
            where[key] = draw(JSON)
    return event


@given(event=JSON)
def test_route_never_raises_on_arbitrary_json(event: Any, example_state: DesiredState) -> None:
    assert isinstance(route(event, state=example_state, own_role_arn=ENFORCER_ROLE), Target | Ignored)


@settings(max_examples=300)
@given(event=mutated_events())
def test_route_never_raises_on_mutated_events(event: Any, example_state: DesiredState) -> None:
    assert isinstance(route(event, state=example_state, own_role_arn=ENFORCER_ROLE), Target | Ignored)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=JSON | mutated_events())
def test_lambda_handler_never_raises(
    event: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The handler's own path (routing, modes, response) with the engine stubbed: no AWS here."""
    from ecr_drift import engine

    lambda_environment(monkeypatch)
    monkeypatch.setattr(engine, "run", lambda target, **_: Report(mode="audit", trigger=target.trigger))

    response = invoke(json.loads(json.dumps(event)))

    assert response["status"] in {"ok", "ignored"}, response
    json.dumps(response)  # the response is what Lambda serialises
    capsys.readouterr()
