"""Effective settings: defaults overlaid by a repository's entry or its most specific pattern."""

from __future__ import annotations

import itertools
import json
from fnmatch import fnmatchcase
from functools import cache

from hypothesis import given
from hypothesis import strategies as st

from ecr_drift.desired import DesiredState, load_desired_state_text, resolve
from ecr_drift.desired.checks import semantic_problems
from ecr_drift.desired.resolution import Glob, PatternIndex, literal_prefix, tied_patterns
from ecr_drift.documents.problems import path_key


def _state(**extra: object) -> DesiredState:
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


def test_star_heavy_patterns() -> None:
    # 80 stars each, one literal prefix: the pairwise walk this replaced took 44 s to validate 40 of them.
    patterns = ["s-" + "*ab" * 80 + f"*-{i:03d}" for i in range(40)]
    assert tied_patterns(patterns) == []
    index = PatternIndex(patterns)
    assert index.winner("s-" + "ab" * 80 + "-007") == patterns[7]
    assert index.winner("s-" + "xab" * 80 + "y-039") == patterns[39]
    assert index.winner("s-" + "ab" * 79 + "-007") is None  # one `ab` short
    assert index.winner("s-" + "ab" * 80 + "-040") is None
    assert tied_patterns([*patterns, "s-*-007"]) == [(patterns[7], "s-*-007")]
    assert tied_patterns([*patterns, "s-*7"]) == [(patterns[i], "s-*7") for i in (7, 17, 27, 37)]


def test_equal_prefix_patterns() -> None:
    patterns = [f"svc-*-{i:04d}" for i in range(4000)]
    assert tied_patterns(patterns) == []
    index = PatternIndex(patterns)
    assert index.winner("svc-api-0042") == "svc-*-0042"
    assert index.winner("svc-a/b/c-3999") == "svc-*-3999"
    assert index.winner("svc--0042") == "svc-*-0042"  # the star matches nothing
    assert index.winner("svc-0042") is None  # the prefix and the suffix would overlap
    assert index.winner("svc-api-4000") is None
    assert PatternIndex([*patterns, "svc-api-*"]).winner("svc-api-0042") == "svc-api-*"  # longer prefix
    assert tied_patterns([*patterns, "svc-*"]) == [(pattern, "svc-*") for pattern in patterns]


def test_a_plain_pattern_ties_only_with_its_prefix_and_stars() -> None:
    assert tied_patterns(["a/b", "a/b**", "a/b*c", "a/*"]) == [("a/b", "a/b**"), ("a/b**", "a/b*c")]
    assert PatternIndex(["a/*", "a/b"]).winner("a/b") == "a/b"  # the whole name is the longer prefix
    assert PatternIndex(["a/b*", "a/b"]).winner("a/b") == "a/b*"  # tied (invalid): the first, as before


def test_each_state_resolves_with_its_own_patterns() -> None:
    # States come and go (and their ids are reused): each resolves against its own patterns, never another's.
    for i in range(20):
        state = DesiredState.model_validate({"version": 1, "repository_patterns": {f"p{i}/*": {}}})
        resolved = resolve(state, f"p{i}/x")
        assert resolved is not None
        assert resolved.pattern == f"p{i}/*"
        assert resolve(state, f"p{i + 1}/x") is None


# The implementation the index replaced (issue 19): every pattern against every name, and every pair of
# patterns walked. Slow but plain, so the fast one must agree with it on every input.
def _reference_overlap(first: str, second: str) -> bool:
    @cache
    def walk(i: int, j: int) -> bool:
        if i == len(first) and j == len(second):
            return True
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        if a == "*" and walk(i + 1, j):  # first's star matches nothing more
            return True
        if b == "*" and walk(i, j + 1):
            return True
        if a == "*" and b is not None and b != "*" and walk(i, j + 1):  # first's star eats second's char
            return True
        if b == "*" and a is not None and a != "*" and walk(i + 1, j):
            return True
        return a is not None and a == b and a != "*" and walk(i + 1, j + 1)

    return walk(0, 0)


def _reference_ties(patterns: list[str]) -> list[tuple[str, str]]:
    return [
        (first, second)
        for index, first in enumerate(patterns)
        for second in patterns[index + 1 :]
        if len(literal_prefix(first)) == len(literal_prefix(second)) and _reference_overlap(first, second)
    ]


def _reference_winner(patterns: list[str], name: str) -> str | None:
    matches = [p for p in patterns if fnmatchcase(name, p)]
    return max(matches, key=lambda p: len(literal_prefix(p)), default=None)


GLOB = st.text(alphabet="ab*", max_size=5)


@given(GLOB, GLOB)
def test_reference_overlap_agrees_with_brute_force(first: str, second: str) -> None:
    # Any witness is at most as long as both patterns' literal characters together; search all of them.
    limit = len(first.replace("*", "")) + len(second.replace("*", "")) + 1
    names = ("".join(p) for n in range(limit + 1) for p in itertools.product("ab", repeat=n))
    expected = any(fnmatchcase(name, first) and fnmatchcase(name, second) for name in names)
    assert _reference_overlap(first, second) == expected


# Two letters and `/` make shared prefixes, suffixes and ties common; `/` is an ordinary character to `*`.
PATTERN = st.text(alphabet="ab/*", min_size=1, max_size=7)
NAME = st.text(alphabet="ab/", max_size=10)


@st.composite
def _names(draw: st.DrawFn, patterns: list[str]) -> str:
    """Any name, or one of ``patterns`` with its stars filled in, so that matches and ties are common."""
    if not patterns or draw(st.booleans()):
        return draw(NAME)
    parts = draw(st.sampled_from(patterns)).split("*")
    fills = draw(
        st.lists(st.text(alphabet="ab/", max_size=3), min_size=len(parts) - 1, max_size=len(parts) - 1)
    )
    return "".join(part + fill for part, fill in itertools.zip_longest(parts, fills, fillvalue=""))


@given(st.data(), PATTERN)
def test_glob_matches_as_fnmatch(data: st.DataObject, pattern: str) -> None:
    name = data.draw(_names([pattern]))
    assert Glob.of(pattern).matches(name) == fnmatchcase(name, pattern)


@given(st.data(), st.lists(PATTERN, max_size=8))
def test_index_picks_the_reference_winner(data: st.DataObject, patterns: list[str]) -> None:
    index = PatternIndex(patterns)
    for _ in range(5):
        name = data.draw(_names(patterns))
        assert index.winner(name) == _reference_winner(patterns, name)


# Patterns under one prefix with many suffix lengths: the index finds a name's endings by set intersection.
MANY_SUFFIXES = st.lists(st.text(alphabet="ab/*", max_size=9).map(lambda rest: f"a*{rest}"), min_size=6)


@given(st.data(), MANY_SUFFIXES)
def test_index_with_many_suffix_lengths_picks_the_reference_winner(
    data: st.DataObject, patterns: list[str]
) -> None:
    index = PatternIndex(patterns)
    for _ in range(5):
        name = data.draw(_names(patterns))
        assert index.winner(name) == _reference_winner(patterns, name)


def test_a_file_made_to_defeat_the_index() -> None:
    # Prefixes that all start the name, and in each a suffix of every length: still the reference's winners.
    patterns = ["a" * k + "*z" + "y" * m for k in range(1, 6) for m in range(12)]
    index = PatternIndex(patterns)
    names = ["a" * 7 + tail for tail in ("", "b", "z", "zy", "yzyyy", "zyyyyyyyyyyy", "zyyyyyyyyyyyy")]
    for name in [*names, "aaz", "aazy", "a" * 5 + "zy"]:
        assert index.winner(name) == _reference_winner(patterns, name)
    assert index.winner("a" * 7 + "yzyyy") == "aaaaa*zyyy"
    assert tied_patterns(patterns) == []


@given(st.data(), st.lists(PATTERN, max_size=8, unique=True))
def test_resolve_picks_the_reference_winner(data: st.DataObject, patterns: list[str]) -> None:
    state = DesiredState.model_validate({"version": 1, "repository_patterns": {p: {} for p in patterns}})
    for _ in range(5):
        name = data.draw(_names(patterns))
        resolved = resolve(state, name)
        assert (resolved.pattern if resolved else None) == _reference_winner(patterns, name)


@given(st.lists(PATTERN, max_size=10))
def test_ties_are_the_reference_ties(patterns: list[str]) -> None:
    assert tied_patterns(patterns) == _reference_ties(patterns)


@given(st.lists(PATTERN, max_size=10, unique=True))
def test_validation_reports_the_reference_ties(patterns: list[str]) -> None:
    state = DesiredState.model_validate({"version": 1, "repository_patterns": {p: {} for p in patterns}})
    reported = [(p.path, p.message) for p in semantic_problems(state) if "ties with" in p.message]
    expected = [
        (f"repository_patterns.{path_key(second)}", f"ties with {first!r}")
        for first, second in _reference_ties(patterns)
    ]
    assert [(path, message.split(":")[0]) for path, message in reported] == expected
