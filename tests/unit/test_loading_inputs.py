"""Odd inputs to loading (encodings, empty files, huge numbers, values of the wrong kind, unusual keys) are
told in the product's words, with a JSON path, never in the wording of the library that noticed."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ecr_drift.desired import DesiredStateError, load_desired_state, load_desired_state_text
from ecr_drift.documents.problems import path_key
from tests.conftest import EXAMPLE_PATH

EXAMPLE: dict[str, Any] = json.loads(EXAMPLE_PATH.read_text())
# What Python, json or pydantic say in their own words; none may reach a message.
LIBRARY_WORDING = re.compile(
    r"instance of|dictionary|sys\.|set_int_max_str_digits|utf-8-sig|codec|decode|position \d|"
    r"unicode string|Value error|pydantic|after validation|\bat$",
    re.IGNORECASE,
)


def _problems_of_text(text: str) -> list[tuple[str, str]]:
    with pytest.raises(DesiredStateError) as caught:
        load_desired_state_text(text)
    return [(p.path, p.message) for p in caught.value.problems]


def _problems_of_file(tmp_path: Path, content: bytes) -> list[tuple[str, str]]:
    path = tmp_path / "desired_state.json"
    path.write_bytes(content)
    with pytest.raises(DesiredStateError) as caught:
        load_desired_state(path)
    return [(p.path, p.message) for p in caught.value.problems]


def _assert_in_our_words(problems: list[tuple[str, str]]) -> None:
    assert problems
    for _, message in problems:
        assert not LIBRARY_WORDING.search(message), message


# ---- the top level -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [("[]", "a list"), ('"x"', "a string"), ("1", "an integer"), ("null", "null"), ("true", "a boolean")],
)
def test_a_top_level_that_is_not_an_object(text: str, kind: str) -> None:
    problems = _problems_of_text(text)

    assert problems == [("", f"a desired state must be a JSON object (got {kind})")]


@pytest.mark.parametrize(
    ("path", "value", "kind"),
    [
        (("defaults",), "x", "a string"),
        (("repositories", "temporal-worker"), [], "a list"),
        (("repositories",), [], "a list"),
        (("enforcement",), 1, "an integer"),
        (("registry", "pull_through_cache"), [], "a list"),
    ],
)
def test_an_object_of_the_wrong_kind_is_named_as_json_says(
    path: tuple[str, ...], value: Any, kind: str
) -> None:
    doc = copy.deepcopy(EXAMPLE)
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value

    problems = _problems_of_text(json.dumps(doc))

    where = ".".join(path)
    assert [p for p in problems if p[0] == where] == [(where, f"must be a JSON object (got {kind})")]
    _assert_in_our_words(problems)


@pytest.mark.parametrize("text", ["", "   \n\t\n"], ids=["empty", "whitespace"])
def test_an_empty_file(text: str) -> None:
    assert _problems_of_text(text) == [("", "the file holds no JSON value: it is empty or only whitespace")]


def test_sizes_of_lists_and_objects_are_counted_in_json_words() -> None:
    doc = copy.deepcopy(EXAMPLE)
    doc["defaults"]["tags"] = {f"k{i}": "v" for i in range(51)}
    doc["defaults"]["image_tag_mutability_exclusions"] = ["a", "b", "c", "d", "e", "f"]
    doc["registry"]["replication"] = [{"destinations": []}]

    assert set(_problems_of_text(json.dumps(doc))) == {
        ("defaults.tags", "must have at most 50 entries"),
        ("defaults.image_tag_mutability_exclusions", "must have at most 5 items (it has 6)"),
        ("registry.replication[0].destinations", "must have at least 1 item (it has 0)"),
    }


# ---- numbers -------------------------------------------------------------------------------------------


def test_a_huge_integer_is_named_as_such() -> None:
    problems = _problems_of_text('{"version": ' + "1" * 5_000 + "}")

    assert problems == [("", "a number with more than 4300 digits; no setting takes one that long")]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant: str) -> None:
    assert _problems_of_text('{"version": ' + constant + "}") == [
        ("", f"invalid JSON: {constant} is not valid JSON")
    ]


# ---- syntax ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"version": 1, "x": "a\tb"}',
            "invalid JSON at line 1, column 23: a control character inside a string; write a tab as \\t",
        ),
        (
            '{"version": 1, "x": "ab',
            "invalid JSON at line 1, column 21: a string starts here and is never closed",
        ),
        ('{"version": 1}}', "invalid JSON at line 1, column 15: more text after the end of the JSON value"),
    ],
    ids=["tab-in-string", "unterminated", "extra-data"],
)
def test_json_messages_that_say_too_little_are_reworded(text: str, message: str) -> None:
    [(path, got)] = _problems_of_text(text)

    assert path == ""
    assert got.startswith(message), got
    _assert_in_our_words([(path, got)])


def test_a_lone_surrogate_escape_is_named_by_its_path() -> None:
    problems = _problems_of_text('{"version": 1, "defaults": {"tags": {"team": "a\\ud800b"}}}')

    assert problems == [
        (
            "defaults.tags.team",
            "has an unpaired \\uD800-\\uDFFF escape: half of a character, not text",
        )
    ]


# ---- encodings ---------------------------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "desired_state.json"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_PATH.read_bytes())

    assert load_desired_state(path) == load_desired_state(EXAMPLE_PATH)
    assert load_desired_state_text("\ufeff" + EXAMPLE_PATH.read_text()) == load_desired_state(EXAMPLE_PATH)


def test_positions_after_a_byte_order_mark_are_what_an_editor_shows() -> None:
    assert _problems_of_text('\ufeff{"version": 1,}') == [
        ("", "invalid JSON at line 1, column 15: Expecting property name enclosed in double quotes")
    ]


def test_bytes_that_are_not_utf8_are_located(tmp_path: Path) -> None:
    problems = _problems_of_file(tmp_path, b'{"version": 1,\n "defaults": {"tags": {"team": "caf\xe9"}}}')

    assert problems == [("", "the file is not UTF-8 text at byte offset 50 (line 2); save it as UTF-8")]


def test_a_utf16_file_is_told_to_be_saved_as_utf8(tmp_path: Path) -> None:
    problems = _problems_of_file(tmp_path, '{"version": 1}'.encode("utf-16"))

    assert problems == [("", "the file is UTF-16 text, not UTF-8; save it as UTF-8")]


# ---- keys in paths -------------------------------------------------------------------------------------


def test_non_ascii_keys_print_as_themselves() -> None:
    problems = _problems_of_text('{"version": 1, "repositories": {"café": {}}}')

    assert [path for path, _ in problems] == ['repositories."café"']
    assert "\\u" not in str(problems)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("api", "api"),
        ("team/*", '"team/*"'),
        ("café", '"café"'),
        ("日本", '"日本"'),
        ("a\u200bb", '"a\\u200bb"'),  # invisible: escaped
        ("a\u202eb", '"a\\u202eb"'),  # reverses what follows on a terminal: escaped
        ("a\nb", '"a\\nb"'),
        ("a\ud800", '"a\\ud800"'),  # a lone surrogate cannot even be printed
        ("a\u00a0b", '"a\\u00a0b"'),  # looks like a space
    ],
)
def test_path_key_shows_letters_and_escapes_what_a_terminal_would_hide(key: str, shown: str) -> None:
    assert path_key(key) == shown


def test_a_key_longer_than_any_valid_one_is_shortened_in_paths() -> None:
    problems = _problems_of_text('{"version": 1, "repositories": {"' + "a" * 100_000 + '": {}}}')

    assert problems == [
        (
            'repositories."' + "a" * 64 + '…" (100000 characters)',
            "String should have at most 256 characters (got a string)",
        )
    ]
    assert path_key("a" * 256) == "a" * 256  # the longest valid key is shown whole


# ---- a sweep of odd inputs -----------------------------------------------------------------------------

ODD_VALUES: list[Any] = [None, True, 0, -1, 1.5, 1e308, "", "x" * 10_000, [], [None], {}, {"": None}]


def _places(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    places = []
    for key, child in children:
        places.append((*prefix, key))
        places += _places(child, (*prefix, key))
    return places


@pytest.mark.parametrize("odd", ODD_VALUES, ids=[type(v).__name__ + str(i) for i, v in enumerate(ODD_VALUES)])
def test_every_place_given_an_odd_value_is_told_in_our_words(odd: Any) -> None:
    """Each place of the example in turn gets ``odd``: every problem then names a path, in our words."""
    for place in _places(EXAMPLE):
        doc = copy.deepcopy(EXAMPLE)
        node: Any = doc
        for part in place[:-1]:
            node = node[part]
        node[place[-1]] = odd
        try:
            load_desired_state_text(json.dumps(doc))
        except DesiredStateError as error:
            problems = [(p.path, p.message) for p in error.problems]
            _assert_in_our_words(problems)
            assert all(path for path, _ in problems), problems
