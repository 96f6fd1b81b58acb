"""Reading ``desired_state.json``: strict JSON (duplicate keys, line and column), the models, the checks.

Every problem is reported with its JSON path, never as a traceback, and all of them at once so a user fixes
the file in one pass.
"""

from __future__ import annotations

import codecs
import copy
import difflib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ecr_drift.desired.checks import STAND_INS, Home, semantic_problems
from ecr_drift.desired.models import PATTERN_MEANINGS, UNION_TAGS, DesiredState
from ecr_drift.desired.summary import count
from ecr_drift.documents.problems import Problem, join_path, json_type, path_key

# Far deeper than any valid desired state (a raw lifecycle policy's tag list is 9 levels down) and far below
# Python's recursion limit, so nothing that walks the parsed value can run out of stack.
MAX_DEPTH = 64
# A JSON string (skipped whole), or a bracket outside of one.
_BRACKETS_OUTSIDE_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
# What json.loads leaves of a `\ud800`-style escape without its other half: not a character, and not text
# that pydantic, a terminal or AWS accept.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_TEXT = "has an unpaired \\uD800-\\uDFFF escape: half of a character, not text"
# json's messages that say too little: two end in a dangling "at" (its own text adds the position after).
_JSON_MESSAGES = {
    "Invalid control character at": (
        "a control character inside a string; write a tab as \\t, a line break as \\n"
    ),
    "Unterminated string starting at": "a string starts here and is never closed",
    "Extra data": "more text after the end of the JSON value (a second value, or a bracket too many?)",
}
# A location in the JSON: object keys and list indexes; `[key]` where pydantic blames a key itself.
JsonLoc = tuple[int | str, ...]


class DesiredStateError(Exception):
    """The desired state cannot be used; ``problems`` says where and why."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            f"{source}: {count(len(problems), 'problem')}\n" + "\n".join(f"  {p}" for p in problems)
        )


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys it saw more than once (json keeps only the last)."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj and key not in obj.duplicates:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


class _Refused(ValueError):
    """JSON text the parser's hooks refuse, with the message to show."""


def _reject_constant(name: str) -> Any:
    raise _Refused(f"invalid JSON: {name} is not valid JSON")


def _parse_int(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # Python converts at most sys.get_int_max_str_digits() digits (4300 by default)
        limit = sys.get_int_max_str_digits()
        raise _Refused(f"a number with more than {limit} digits; no setting takes one that long") from None


def _nodes(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every value in ``value``, itself first, with its path."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, _child(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, f"{path}[{index}]")


def _duplicate_problems(nodes: list[tuple[str, Any]]) -> list[Problem]:
    return [
        Problem(_child(path, key), "duplicate key: JSON keeps only the last value, so the first is lost")
        for path, value in nodes
        if isinstance(value, _Object)
        for key in value.duplicates
    ]


def _not_text_problems(nodes: list[tuple[str, Any]]) -> list[Problem]:
    problems = [
        Problem(path, _NOT_TEXT)
        for path, value in nodes
        if isinstance(value, str) and _LONE_SURROGATE.search(value)
    ]
    problems += [
        Problem(_child(path, key), f"its key {_NOT_TEXT}")
        for path, value in nodes
        if isinstance(value, dict)
        for key in value
        if _LONE_SURROGATE.search(key)
    ]
    return problems


def _child(path: str, key: str) -> str:
    segment = path_key(key)
    return f"{path}.{segment}" if path else segment


def _too_deep(text: str) -> Problem | None:
    """The first bracket nested deeper than ``MAX_DEPTH``, by line and column, or None.

    Counted on the text, before parsing: json, the duplicate-key walk and pydantic all recurse, and a file
    of 100,000 `[` would end in a RecursionError (a traceback, not a problem) at a depth that depends on the
    stack it runs on. Strings are skipped, so brackets inside them do not count.
    """
    depth = 0
    for token in _BRACKETS_OUTSIDE_STRINGS.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, token.start()) + 1
                column = token.start() - text.rfind("\n", 0, token.start())
                return Problem(
                    "",
                    f"nested deeper than {MAX_DEPTH} levels at line {line}, column {column}; "
                    "no valid desired state nests more than 10",
                )
        elif bracket in "]}":
            depth -= 1
    return None


def parse_json_text(text: str) -> tuple[Any, list[Problem]]:
    """Parse JSON text; syntax errors name line and column, duplicate keys name their path.

    ``(None, problems)`` when the text cannot be used; else the value and its duplicate keys, which leave a
    value all the same (the last one), so that the rest can still be checked.
    """
    # A UTF-8 byte-order mark (some Windows editors write one) is accepted, as jq and most JSON tools do and
    # RFC 8259 allows; lines and columns are then counted as an editor shows them, without it.
    text = text.removeprefix("\ufeff")
    if not text.strip(" \t\r\n"):  # JSON's whitespace
        return None, [Problem("", "the file holds no JSON value: it is empty or only whitespace")]
    if (deep := _too_deep(text)) is not None:
        return None, [deep]
    try:
        value = json.loads(
            text, object_pairs_hook=_object_pairs, parse_constant=_reject_constant, parse_int=_parse_int
        )
    except json.JSONDecodeError as error:
        message = _JSON_MESSAGES.get(error.msg, error.msg)
        return None, [Problem("", f"invalid JSON at line {error.lineno}, column {error.colno}: {message}")]
    except _Refused as error:
        return None, [Problem("", str(error))]
    nodes = list(_nodes(value))
    if not_text := _not_text_problems(nodes):
        return None, not_text
    return value, _duplicate_problems(nodes)


def _json_loc(loc: tuple[int | str, ...]) -> JsonLoc:
    """A pydantic error location without the parts that are pydantic's, not the JSON's (union tags)."""
    return tuple(p for p in loc if isinstance(p, int) or not (p in UNION_TAGS or p.startswith("function-")))


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in _json_loc(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":
            path = _child(path, part)
    return path


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose fields an error location's last part belongs to, to list the fields it allows."""
    current: Any = DesiredState
    for part in loc[:-1]:
        current = _step(current, part)
    current = _strip(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _strip(annotation: Any) -> Any:
    """Drop ``Annotated`` and ``| None`` around a type."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return _strip(args[0])
    return annotation


def _step(annotation: Any, part: int | str) -> Any:
    """The type one location part further down: a model's field, a mapping's value, a list's item."""
    annotation = _strip(annotation)
    origin = get_origin(annotation)
    if origin in (Union, UnionType):  # a tagged union: the part is the tag
        for member in get_args(annotation):
            metadata = getattr(member, "__metadata__", ())
            if any(getattr(m, "tag", None) == part for m in metadata):
                return member
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
        field = annotation.model_fields.get(part) or next(
            (f for f in annotation.model_fields.values() if f.alias == part), None
        )
        return field.annotation if field else None
    if origin is dict:
        return get_args(annotation)[1]
    if origin is list:
        return get_args(annotation)[0]
    return None


def _pydantic_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        path = _loc_to_path(loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc)
            allowed = sorted(
                (f.alias or name)
                for name, f in (model.model_fields.items() if model else ())
                if not f.exclude
            )
            unknown = str(loc[-1])
            close = difflib.get_close_matches(unknown, allowed, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            message = f"unknown field `{unknown}`{hint} (allowed: {', '.join(allowed)})"
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "string_pattern_mismatch" and item["ctx"]["pattern"] in PATTERN_MEANINGS:
            message = f"must be {PATTERN_MEANINGS[item['ctx']['pattern']]}"
        elif kind in {"too_long", "too_short"}:
            message = _length_message(item["ctx"])
        elif kind in {"model_type", "dict_type"}:  # pydantic: "a valid dictionary or instance of <class>"
            what = "must be a JSON object" if loc else "a desired state must be a JSON object"
            message = f"{what} (got {json_type(item['input'])})"
        else:
            # pydantic's own messages name what is expected (`Input should be 'audit' or 'enforce'`), never
            # the input; ours (value errors) name fields.
            message = item["msg"].removeprefix("Value error, ")
            if kind not in {"value_error", "assertion_error"}:
                message += f" (got {json_type(item['input'])})"
        problems.append(Problem(path, message))
    return problems


def _length_message(ctx: dict[str, Any]) -> str:
    """A list or object of the wrong size, without pydantic's "Dictionary" and "after validation"."""
    things = ("entry", "entries") if ctx["field_type"] == "Dictionary" else ("item", "items")
    bound, limit = ("at most", ctx["max_length"]) if "max_length" in ctx else ("at least", ctx["min_length"])
    got = "" if ctx.get("actual_length") is None else f" (it has {ctx['actual_length']})"
    return f"must have {bound} {count(limit, *things)}{got}"


# How deep in each section the part lies that a model error takes out of the checks (``_unit``): a setting
# of defaults, of a repository or pattern entry or of enforcement; a pull-through cache rule; any other
# registry section whole (its checks name positions in its lists, which taking out an item would shift).
_UNIT_DEPTHS: dict[JsonLoc, int] = {
    ("repositories",): 3,
    ("repository_patterns",): 3,
    ("registry", "pull_through_cache"): 3,
    ("registry",): 2,
    ("defaults",): 2,
    ("enforcement",): 2,
}
# `version` is required, and no check reads it.
_STAND_INS: dict[tuple[type[BaseModel], str], Any] = {(DesiredState, "version"): 1, **STAND_INS}


def _unit(loc: JsonLoc) -> JsonLoc:
    """The part of the document that a model error at ``loc`` leaves the checks unable to use."""
    if "[key]" in loc:  # the key itself is wrong: its whole entry goes
        loc = loc[: loc.index("[key]")]
    depth = next((d for prefix, d in _UNIT_DEPTHS.items() if loc[: len(prefix)] == prefix), 1)
    return loc[:depth]


def _take_out(document: Any, unit: JsonLoc) -> bool:
    """Remove ``unit`` from ``document`` or put its stand-in there; False when it is not there to remove."""
    if not unit:
        return False
    node = document
    for part in unit[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    last = unit[-1]
    if not isinstance(node, dict):
        return False
    if (stand_in := (_model_at(unit), last)) in _STAND_INS:
        node[last] = _STAND_INS[stand_in]
    elif last in node:
        del node[last]
    else:
        return False
    return True


def _checkable_part(data: Any, error: ValidationError) -> DesiredState | None:
    """``data`` less what the models rejected (``_unit``, ``STAND_INS``), for the checks to run on the rest.

    Repeated while the models still reject something (a check of an object around what was taken out);
    None when nothing is left to take out (the top level is not an object).
    """
    document = copy.deepcopy(data)
    while True:
        taken = [_take_out(document, _unit(_json_loc(item["loc"]))) for item in error.errors()]
        if not any(taken):
            return None
        try:
            return DesiredState.model_validate(document, by_alias=True)
        except ValidationError as again:
            error = again


def validate_document(data: Any, *, home: Home | None = None) -> tuple[DesiredState | None, list[Problem]]:
    """Validate parsed JSON: the models first, then the checks across fields.

    When the models reject parts of it, the checks still run on the rest, so that one pass reports every
    problem that can be known. ``home``, the (region, account id) of the registry when known, adds the
    checks that need it.
    """
    try:
        state = DesiredState.model_validate(data, by_alias=True)
    except ValidationError as error:
        checkable = _checkable_part(data, error)
        checked = semantic_problems(checkable, home=home) if checkable is not None else []
        return None, _pydantic_problems(error) + checked
    problems = semantic_problems(state, home=home)
    return (None, problems) if problems else (state, [])


def load_desired_state_text(
    text: str, source: str = "desired_state.json", *, home: Home | None = None
) -> DesiredState:
    """Parse and validate; raises :class:`DesiredStateError` listing every problem."""
    data, problems = parse_json_text(text)
    if data is not None or not problems:  # parsed, duplicate keys or not
        state, checked = validate_document(data, home=home)
        if state is not None and not problems:
            return state
        problems += checked
    raise DesiredStateError(source, sorted(set(problems), key=lambda p: (p.path, p.message)))


def _read_text(path: Path) -> str:
    """The text of ``path``; raises :class:`DesiredStateError` when it cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DesiredStateError(
            str(path), [Problem("", f"cannot read {path}: {error.strerror or error}")]
        ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # e.g. Windows PowerShell's `>`
        message = "the file is UTF-16 text, not UTF-8; save it as UTF-8"
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            message = (
                f"the file is not UTF-8 text at byte offset {error.start} (line {line}); save it as UTF-8"
            )
    raise DesiredStateError(str(path), [Problem("", message)])


def load_desired_state(path: str | Path, *, home: Home | None = None) -> DesiredState:
    """Read and validate ``path``; raises :class:`DesiredStateError` on any problem.

    ``home``: the (region, account id) of the registry it is applied to, when known (``semantic_problems``).
    """
    path = Path(path)
    return load_desired_state_text(_read_text(path), str(path), home=home)


__all__ = [
    "DesiredStateError",
    "join_path",
    "load_desired_state",
    "load_desired_state_text",
    "parse_json_text",
    "path_key",
    "validate_document",
]
