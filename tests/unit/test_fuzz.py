"""Fuzzing the two inputs nobody controls: events, and the desired state people write.

Events: tests/unit/test_events.py already feeds ``route`` and the handler arbitrary JSON and real events with
top-level or ``detail`` keys replaced or removed, and test_lambda_handler.py runs mutated events through the
real engine. What is added here reaches every depth (``userIdentity.sessionContext.sessionIssuer.arn``,
``requestParameters.repositoryName``, list items): keys deleted and values swapped for another JSON type
anywhere in every file of tests/events, plus two properties: a name that reaches the engine is always a
valid repository name, and an event the enforcer's own role made stays ignored while either of its ARNs
survives.

Desired states: documents generated from the committed ``desired_state.schema.json`` (hypothesis-jsonschema)
are either rejected with messages that each name a JSON path, or compile, for every repository they name or
pattern they hold, into documents ECR accepts: the compiler's own validators, ECR's size limits.
"""

from __future__ import annotations

import copy
import json
import re
import types
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import hypothesis_jsonschema._from_schema as jsonschema_strategies
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as conjecture_utils
from hypothesis_jsonschema import from_schema

from ecr_drift.desired import DesiredState, resolve
from ecr_drift.desired.loading import validate_document
from ecr_drift.desired.models import REPOSITORY_NAME_PATTERN, absent_not_null
from ecr_drift.documents.lifecycle import (
    MAX_POLICY_CHARS,
    canonical_lifecycle_policy,
    validate_lifecycle_policy,
)
from ecr_drift.documents.repository_documents import lifecycle_policy_text, repository_policy_text
from ecr_drift.documents.repository_policy import MAX_POLICY_TEXT_LENGTH, parse_repository_policy
from ecr_drift.drift import desired_repository, missing_repository_changes
from ecr_drift.events import Ignored, route
from ecr_drift.findings import Report
from ecr_drift.state import RepositoryOptions
from ecr_drift.targets import Target
from tests.conftest import ROOT
from tests.lambda_harness import ENFORCER_ROLE, event_files, invoke, lambda_environment, load_event
from tests.unit.test_events import JSON

# ---- events mutated at any depth ---------------------------------------------------------------------------

Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every place in a JSON value: object keys and list items, at every depth."""
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def json_kind(value: Any) -> str:
    return (
        "object" if isinstance(value, dict) else "array" if isinstance(value, list) else type(value).__name__
    )


@st.composite
def deeply_mutated(draw: st.DrawFn, names: list[str]) -> Any:
    """A real event with 1-4 places anywhere in it deleted, or given a value of another JSON type."""
    event = copy.deepcopy(load_event(draw(st.sampled_from(names))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        places = list(paths(event))
        if not places:
            break
        *parent_path, key = draw(st.sampled_from(places))
        parent = event
        for step in parent_path:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            kind = json_kind(parent[key])
            parent[key] = draw(JSON.filter(lambda value, kind=kind: json_kind(value) != kind))
    return event


def at(event: Any, *path: str) -> Any:
    for key in path:
        event = event.get(key) if isinstance(event, dict) else None
    return event


@settings(max_examples=300, deadline=None)
@given(event=deeply_mutated(event_files()))
def test_route_never_raises_and_only_valid_names_reach_the_engine(
    event: Any, example_state: DesiredState
) -> None:
    result = route(event, state=example_state, own_role_arn=ENFORCER_ROLE)

    assert isinstance(result, Target | Ignored)
    if isinstance(result, Target) and result.repositories:
        for name in result.repositories:
            assert isinstance(name, str)
            assert re.fullmatch(REPOSITORY_NAME_PATTERN, name), name


OWN_SESSION = load_event("own_role_event.json")["detail"]["userIdentity"]["arn"]


@settings(max_examples=300, deadline=None)
@given(event=deeply_mutated(["own_role_event.json"]))
def test_the_enforcers_own_event_stays_ignored_while_its_identity_survives(
    event: Any, example_state: DesiredState
) -> None:
    identity = ("detail", "userIdentity")
    survives = at(event, *identity, "arn") == OWN_SESSION or (
        at(event, *identity, "sessionContext", "sessionIssuer", "arn") == ENFORCER_ROLE
    )

    result = route(event, state=example_state, own_role_arn=ENFORCER_ROLE)

    if survives:
        assert isinstance(result, Ignored), result


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=deeply_mutated(event_files()))
def test_the_handler_answers_every_deeply_mutated_event(
    event: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The handler's own path with the engine stubbed (test_lambda_handler.py runs the real engine)."""
    from ecr_drift import engine

    lambda_environment(monkeypatch)
    monkeypatch.setattr(engine, "run", lambda target, **_: Report(mode="audit", trigger=target.trigger))

    response = invoke(event)

    assert response["status"] in {"ok", "ignored"}, response
    json.dumps(response)  # what Lambda serialises
    capsys.readouterr()


# ---- desired states from the committed schema -------------------------------------------------------------

SCHEMA = json.loads((ROOT / "desired_state.schema.json").read_text())


class _LegacyMany:
    """hypothesis-jsonschema 0.23 drives hypothesis' private ``many`` with ``more()`` and ``reject()``;
    hypothesis 6.150+ only iterates it. This adapter gives the old calls the new object's semantics."""

    _STOP = object()

    def __init__(self, data: Any, **sizes: Any) -> None:
        self._many = conjecture_utils.many(data, **sizes)
        self._many.__enter__()
        self._elements = iter(self._many)

    def more(self) -> bool:
        if next(self._elements, self._STOP) is self._STOP:
            self._many.__exit__(None)
            return False
        return True

    def reject(self) -> None:
        self._many.reject()


def _merged_once(merge: Any) -> Any:
    """hypothesis-jsonschema merges and re-canonicalises an object's property schemas at every draw (~0.2 s
    per desired state); the same schemas always give the same strategy, so build each once."""
    built: dict[tuple[str, int, int], Any] = {}

    def merged(schemas: list[Any], *, alphabet: Any, custom_formats: Any) -> Any:
        key = (json.dumps(schemas, sort_keys=True), id(alphabet), id(custom_formats))
        if key not in built:
            built[key] = merge(schemas, alphabet=alphabet, custom_formats=custom_formats)
        return built[key]

    return merged


if not hasattr(conjecture_utils.many, "more"):
    jsonschema_strategies.cu = types.SimpleNamespace(many=_LegacyMany)  # type: ignore[attr-defined]
jsonschema_strategies.merged_as_strategies = _merged_once(jsonschema_strategies.merged_as_strategies)

# Deferred: building a strategy canonicalises its schema (~0.15 s each), not worth paying at collection.
DOCUMENTS = st.deferred(lambda: from_schema(SCHEMA))
DEFINITIONS = SCHEMA["$defs"]


def from_definition(name: str, *, drop: tuple[str, ...] = (), require: tuple[str, ...] = ()) -> Any:
    """Values of the committed schema's ``$defs[name]``, narrowed to what its JSON Schema cannot say: the
    ``drop`` properties left out, the ``require`` ones always given, and no null (the models read absent)."""
    definition = copy.deepcopy(DEFINITIONS[name])
    for key in drop:
        del definition["properties"][key]
    absent_not_null(definition)
    for field in definition["properties"].values():
        field.pop("default", None)
        if field.get("items", {}).get("type") == "string":  # a blank tag filter or action is a compile error
            field["items"].setdefault("minLength", 1)
    definition["required"] = sorted({*definition.get("required", ()), *require})
    return st.deferred(lambda: from_schema({**definition, "$defs": DEFINITIONS}))


# Whole documents are nearly always rejected for one field (a rule with both max_images and max_age_days, a
# statement with neither Principal nor NotPrincipal): to compile often too, settings blocks get rules and
# statements from the schema's definitions narrowed to exactly one of each such pair.
RULES = st.one_of(
    [
        from_definition("LifecycleRule", drop=(other, *tags), require=(count,))
        for count, other in (("max_images", "max_age_days"), ("max_age_days", "max_images"))
        for tags in (("tag_prefixes",), ("tag_patterns",), ("tag_prefixes", "tag_patterns"))
    ]
)
STATEMENTS = st.one_of(
    [
        from_definition("PolicyStatement", drop=(principal[1], action[1]), require=(principal[0], action[0]))
        for principal in (("Principal", "NotPrincipal"), ("NotPrincipal", "Principal"))
        for action in (("Action", "NotAction"), ("NotAction", "Action"))
    ]
)


def selects_everything(rule: dict[str, Any]) -> bool:
    return not {"tag_prefixes", "tag_patterns"} & rule.keys() and rule.get("tag_status") in (None, "any")


SETTINGS = st.builds(
    lambda block, rules, statements: {
        **block,
        **({"lifecycle": rules} if rules is not None else {}),
        **({"policy_statements": statements} if statements is not None else {}),
    },
    from_definition("RepositorySettings", drop=("lifecycle", "policy_statements")),
    # Rules selecting every image sorted last, as ECR requires: otherwise nearly every list is rejected.
    st.none()
    | st.lists(RULES, min_size=1, max_size=3).map(lambda rules: sorted(rules, key=selects_everything)),
    st.none() | st.lists(STATEMENTS, max_size=3),
)
REPOSITORY_BLOCKS = st.fixed_dictionaries(
    {"version": st.just(1)},
    optional={
        "defaults": SETTINGS,
        "repositories": st.dictionaries(st.sampled_from(["api", "team/web-app", "x9"]), SETTINGS, max_size=3),
        "repository_patterns": st.dictionaries(st.sampled_from(["cache/*", "team/*"]), SETTINGS, max_size=2),
    },
)
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def check_desired_state(document: Any) -> None:
    """Rejected with located messages, or every managed repository compiles to what ECR accepts."""
    state, problems = validate_document(document)
    if state is None:
        assert problems
        for problem in problems:
            assert problem.path, f"no JSON path: {problem}"
            assert problem.message, f"no message at {problem.path}"
        return
    assert problems == []
    names = [*state.repositories, *(pattern.replace("*", "x") for pattern in state.repository_patterns)]
    for name in names:
        resolved = resolve(state, name)
        assert resolved is not None, name
        check_repository_documents(state, resolved)


def check_repository_documents(state: DesiredState, resolved: Any) -> None:
    settings_ = resolved.settings
    lifecycle = lifecycle_policy_text(settings_)
    if lifecycle is not None:
        assert len(lifecycle) <= MAX_POLICY_CHARS
        assert validate_lifecycle_policy(json.loads(lifecycle)) == [], lifecycle
        assert canonical_lifecycle_policy(lifecycle) == json.loads(lifecycle)  # rendered canonical
    policy = repository_policy_text(settings_)
    if policy is not None:
        assert len(policy) <= MAX_POLICY_TEXT_LENGTH
        statements = parse_repository_policy(policy)["Statement"]
        sids = [statement["Sid"] for statement in statements]
        assert len(sids) == len(set(sids)), sids
        for statement in statements:
            assert "Resource" not in statement
            assert ("Principal" in statement) != ("NotPrincipal" in statement), statement
            assert ("Action" in statement) != ("NotAction" in statement), statement
    # What the enforcer would send to create it: every setting's parameters, within ECR's limits.
    desired = replace(desired_repository(state, resolved), named=True, options=RepositoryOptions())
    [change] = missing_repository_changes(desired)
    create = change.calls[0].parameters
    assert len(create.get("imageTagMutabilityExclusionFilters", [])) <= 5
    assert len(create.get("tags", [])) <= 50


@settings(FUZZ, max_examples=30)
@given(document=DOCUMENTS)
def test_schema_documents_are_rejected_with_paths_or_compile(document: Any) -> None:
    check_desired_state(document)


@settings(FUZZ, max_examples=80)
@given(document=REPOSITORY_BLOCKS)
def test_schema_settings_blocks_are_rejected_with_paths_or_compile(document: Any) -> None:
    check_desired_state(document)
