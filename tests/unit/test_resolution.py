"""Effective settings: defaults overlaid by a repository's entry or its most specific pattern."""

from __future__ import annotations

import itertools
from fnmatch import fnmatchcase

from hypothesis import given
from hypothesis import strategies as st

from ecr_drift.desired import DesiredState, load_desired_state_text, resolve
from ecr_drift.desired.resolution import globs_overlap, literal_prefix, tied_patterns


def _state(**extra: object) -> DesiredState:
    import json

    doc = {
        "version": 1,
        "defaults": {"scan_on_push": True, "tags": {"team": "platform", "managed-by": "x"}, "lifecycle": []},
        "repositories": {"api": {"scan_on_push": False, "tags": {"team": "api"}}},
        "repository_patterns": {
            "cache/*": {"image_tag_mutability": "MUTABLE"},
            "cache/quay/*": {"image_tag_mutability": "IMMUTABLE"},
        },
        **extra,
    }
    return load_desired_state_text(json.dumps(doc))


def test_named_entry_overrides_defaults_field_by_field() -> None:
    resolved = resolve(_state(), "api")
    assert resolved is not None
    assert resolved.named
    assert resolved.settings.scan_on_push is False
    assert resolved.settings.lifecycle == []  # inherited from defaults


def test_tags_merge_and_the_entry_wins() -> None:
    resolved = resolve(_state(), "api")
    assert resolved is not None
    assert resolved.settings.tags == {"team": "api", "managed-by": "x"}


def test_fields_set_nowhere_stay_unmanaged() -> None:
    resolved = resolve(_state(), "api")
    assert resolved is not None
    assert resolved.settings.image_tag_mutability is None
    assert resolved.settings.encryption is None
    assert not resolved.settings.manages_policy


def test_most_specific_pattern_wins() -> None:
    resolved = resolve(_state(), "cache/quay/coreos/etcd")
    assert resolved is not None
    assert (resolved.source, resolved.pattern) == ("pattern", "cache/quay/*")
    assert resolved.settings.image_tag_mutability == "IMMUTABLE"
    other = resolve(_state(), "cache/k8s/pause")
    assert other is not None
    assert other.pattern == "cache/*"


def test_pattern_star_matches_slashes() -> None:
    resolved = resolve(_state(), "cache/a/b/c")
    assert resolved is not None
    assert resolved.pattern == "cache/*"


def test_named_repository_never_uses_a_pattern() -> None:
    state = _state(repositories={"cache/pinned": {}})
    resolved = resolve(state, "cache/pinned")
    assert resolved is not None
    assert resolved.named
    assert resolved.pattern is None
    assert resolved.settings.image_tag_mutability is None


def test_unmatched_repository_is_unmanaged() -> None:
    assert resolve(_state(), "someone-elses-repo") is None


def test_example_resolution(example_state: DesiredState) -> None:
    internal = resolve(example_state, "internal-dashboard")
    assert internal is not None
    assert internal.settings.image_tag_mutability == "MUTABLE"
    assert internal.settings.image_tag_mutability_exclusions == []
    cached = resolve(example_state, "ecr-public/docker/library/nginx")
    assert cached is not None
    assert cached.pattern == "ecr-public/*"
    assert cached.settings.scan_on_push is True


def test_literal_prefix() -> None:
    assert literal_prefix("ecr-public/*") == "ecr-public/"
    assert literal_prefix("plain") == "plain"


def test_ties_need_equal_prefix_length_and_an_overlap() -> None:
    assert tied_patterns(["team-a/*", "team-b/*"]) == []  # same length, never the same name
    assert tied_patterns(["a/*-svc", "a/x*"]) == []  # a/x* has the longer literal prefix: it wins
    assert tied_patterns(["a/*-svc", "a/*-api"]) == []  # no name ends in both
    assert tied_patterns(["a/*-svc", "a/*"]) == [("a/*-svc", "a/*")]  # a/x-svc matches both


GLOB = st.text(alphabet="ab*", max_size=5)


@given(GLOB, GLOB)
def test_globs_overlap_agrees_with_brute_force(first: str, second: str) -> None:
    # Any witness is at most as long as both patterns' literal characters together; search all of them.
    limit = len(first.replace("*", "")) + len(second.replace("*", "")) + 1
    names = ("".join(p) for n in range(limit + 1) for p in itertools.product("ab", repeat=n))
    expected = any(fnmatchcase(name, first) and fnmatchcase(name, second) for name in names)
    assert globs_overlap(first, second) == expected
