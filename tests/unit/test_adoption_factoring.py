"""Factoring: whatever the repositories' settings, the factored desired state resolves back to them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ecr_drift.adoption.factoring import IMPLICIT, Factored, Fields, Unmanaged, Value, factor
from ecr_drift.desired import DesiredState, RepositorySettings, load_desired_state_text, resolve

PATTERN = "cache/*"
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
RAW_LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 5,
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3},
            "action": {"type": "expire"},
        }
    ]
}
DENY_ALL = {"Sid": "DenyDelete", "Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository"}
# Each setting's fields, as the readers give them: every field of the setting.
VALUES: dict[str, st.SearchStrategy[Fields]] = {
    "scan_on_push": st.builds(lambda v: {"scan_on_push": v}, st.booleans()),
    "image_tag_mutability": st.builds(
        lambda m, e: {"image_tag_mutability": m, "image_tag_mutability_exclusions": e},
        st.sampled_from(["MUTABLE", "IMMUTABLE"]),
        st.sampled_from([[], ["latest"], ["dev-*", "latest"]]),
    ),
    "lifecycle_policy": st.builds(
        lambda rules: {"lifecycle": rules},
        st.sampled_from(
            [
                [],
                [{"tag_status": "any", "max_images": 10}],
                [{"tag_status": "untagged", "max_age_days": 7}, {"tag_prefixes": ["v"], "max_images": 30}],
                {"raw": RAW_LIFECYCLE},
            ]
        ),
    ),
    "repository_policy": st.builds(
        lambda pull, push, statements: {
            "pull_account_ids": pull,
            "push_account_ids": push,
            "policy_statements": statements,
        },
        st.sampled_from([[], ["111122223333"], ["111122223333", "222233334444"]]),
        st.sampled_from([[], ["333344445555"]]),
        st.sampled_from([[], [DENY_ALL]]),
    ),
    "tags": st.builds(
        lambda tags: {"tags": tags},
        st.dictionaries(st.sampled_from(["team", "env", "owner"]), st.sampled_from(["a", "b"]), max_size=3),
    ),
    "encryption": st.sampled_from(
        [{"encryption": {"type": "AES256"}}, {"encryption": {"type": "KMS", "kms_key": KMS_KEY}}]
    ),
}
FIELDS = {
    "scan_on_push": ("scan_on_push",),
    "image_tag_mutability": ("image_tag_mutability", "image_tag_mutability_exclusions"),
    "lifecycle_policy": ("lifecycle",),
    "repository_policy": ("pull_account_ids", "push_account_ids", "policy_statements"),
    "tags": ("tags",),
    "encryption": ("encryption",),
}
NAMES = ["api", "web", "jobs", "cache/nginx", "cache/redis", "cache/library/node"]


def _value(setting: str, unmanaged: bool) -> st.SearchStrategy[Value]:
    if not unmanaged:
        return VALUES[setting]
    return st.one_of(VALUES[setting], st.just(Unmanaged(f"somewhere.{setting}", "cannot say it")))


def _repository(unmanaged: bool) -> st.SearchStrategy[dict[str, Value]]:
    return st.fixed_dictionaries({setting: _value(setting, unmanaged) for setting in VALUES})


@st.composite
def accounts(draw: st.DrawFn) -> tuple[dict[str, dict[str, Value]], dict[str, dict[str, Fields]]]:
    """Repositories (some with a setting that must stay unmanaged), and maybe a pattern for `cache/`, whose
    repositories often share its settings as they would if ECR created them from its template."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=len(NAMES), unique=True))
    template = draw(st.fixed_dictionaries({s: VALUES[s] for s in VALUES if s != "scan_on_push"}))
    patterns = {PATTERN: template} if draw(st.booleans()) else {}
    repositories = {}
    for name in names:
        settings = draw(_repository(unmanaged=draw(st.integers(0, 4)) == 0))
        if patterns and name.startswith("cache/") and draw(st.booleans()):
            settings = {**settings, **template}
        repositories[name] = settings
    return repositories, patterns


def document(factored: Factored) -> dict[str, Any]:
    return {
        "version": 1,
        "defaults": factored.defaults,
        "repositories": factored.repositories,
        "repository_patterns": factored.patterns,
    }


def effective(settings: RepositorySettings, setting: str) -> Fields | None:
    """A setting's fields as the resolved settings give them, the implicit ones filled in; None: unmanaged."""
    dumped = settings.model_dump(mode="json", exclude_none=True, warnings=False)  # a raw lifecycle warns
    if not any(f in dumped for f in FIELDS[setting]):
        return None
    return {f: dumped.get(f, IMPLICIT.get(f)) for f in FIELDS[setting]}


def assert_resolves_back(state: DesiredState, name: str, settings: dict[str, Value]) -> None:
    resolved = resolve(state, name)
    assert resolved is not None, name
    for setting, value in settings.items():
        got = effective(resolved.settings, setting)
        if isinstance(value, Unmanaged):
            assert got is None, (name, setting)
        elif setting == "tags":  # no tags at all: left out (`tags` only asks for tags to be present)
            assert (got or {"tags": {}}) == value, (name, setting)
        else:
            assert got == value, (name, setting)


@given(accounts())
def test_the_factored_state_validates_and_resolves_back_to_every_repositorys_settings(
    account: tuple[dict[str, dict[str, Value]], dict[str, dict[str, Fields]]],
) -> None:
    repositories, patterns = account
    factored = factor(repositories, patterns)
    state = load_desired_state_text(json.dumps(document(factored)))
    for name, settings in repositories.items():
        assert_resolves_back(state, name, settings)
        resolved = resolve(state, name)
        assert resolved is not None
        assert resolved.pattern == factored.covered.get(name)
    for pattern, template in patterns.items():  # a repository ECR creates there later starts as the template
        assert_resolves_back(state, pattern.replace("*", "not-yet-created"), dict(template))


def test_the_most_common_values_become_defaults_and_entries_hold_only_differences() -> None:
    same = {
        "scan_on_push": {"scan_on_push": True},
        "repository_policy": {"pull_account_ids": [], "push_account_ids": [], "policy_statements": []},
        "tags": {"tags": {"team": "a", "env": "prod"}},
    }
    factored = factor(
        {
            "api": same,
            "web": same,
            "jobs": {
                **same,
                "scan_on_push": {"scan_on_push": False},
                "repository_policy": {**same["repository_policy"], "pull_account_ids": ["111122223333"]},
                "tags": {"tags": {"team": "b", "env": "prod", "cost": "x"}},
            },
        },
        {},
    )
    assert factored.defaults == {
        "scan_on_push": True,
        "policy_statements": [],  # no repository policy: its fields left out but one
        "tags": {"team": "a", "env": "prod"},
    }
    assert factored.repositories == {
        "api": {},
        "jobs": {
            "scan_on_push": False,
            "pull_account_ids": ["111122223333"],
            "tags": {"team": "b", "cost": "x"},
        },
        "web": {},
    }


def test_a_tag_only_some_repositories_have_cannot_be_a_default() -> None:
    factored = factor({"api": {"tags": {"tags": {"team": "a"}}}, "web": {"tags": {"tags": {}}}}, {})
    assert "tags" not in factored.defaults
    assert factored.repositories == {"api": {"tags": {"team": "a"}}, "web": {}}


def test_one_repository_that_must_leave_a_setting_unmanaged_keeps_it_out_of_defaults() -> None:
    aes = {"encryption": {"type": "AES256"}}
    factored = factor(
        {
            "api": {"encryption": aes},
            "web": {"encryption": aes},
            "kms": {"encryption": Unmanaged("x", "alias")},
        },
        {},
    )
    assert factored.defaults == {}
    assert factored.repositories == {"api": aes, "kms": {}, "web": aes}


def test_a_pattern_covers_the_repositories_that_have_its_settings_and_the_others_are_named() -> None:
    cached = {
        "image_tag_mutability": {"image_tag_mutability": "MUTABLE", "image_tag_mutability_exclusions": []}
    }
    factored = factor(
        {
            "cache/nginx": {**cached, "scan_on_push": {"scan_on_push": False}},
            "cache/redis": {**cached, "scan_on_push": {"scan_on_push": False}},
            "cache/odd": {**cached, "scan_on_push": {"scan_on_push": True}},
        },
        {PATTERN: cached},
    )
    assert factored.covered == {"cache/nginx": PATTERN, "cache/redis": PATTERN}
    assert factored.patterns == {PATTERN: {}}
    assert factored.defaults == {"image_tag_mutability": "MUTABLE", "scan_on_push": False}
    assert factored.repositories == {"cache/odd": {"scan_on_push": True}}
