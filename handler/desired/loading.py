"""Reading ``desired_state.json``: strict JSON (duplicate keys, line and column), the models, the checks.

Every problem is reported with its JSON path, never as a traceback, and all of them at once so a user fixes
the file in one pass.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from handler.desired.checks import Home, semantic_problems
from handler.desired.models import PATTERN_MEANINGS, UNION_TAGS, DesiredState
from handler.documents.problems import Problem, join_path, json_type, path_key

# Far deeper than any valid desired state (a raw lifecycle policy's tag list is 9 levels down) and far below
# Python's recursion limit, so nothing that walks the parsed value can run out of stack.
MAX_DEPTH = 64
# A JSON string (skipped whole), or a bracket outside of one.
_BRACKETS_OUTSIDE_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class DesiredStateError(Exception):
    """The desired state cannot be used; ``problems`` says where and why."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems))


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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _duplicate_problems(value: Any, path: str = "") -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(value, _Object):
        problems += [
            Problem(_child(path, key), "duplicate key: JSON keeps only the last value, so the first is lost")
            for key in value.duplicates
        ]
        for key, item in value.items():
            problems += _duplicate_problems(item, _child(path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += _duplicate_problems(item, f"{path}[{index}]")
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
    """Parse JSON text; syntax errors name line and column, duplicate keys name their path."""
    if (deep := _too_deep(text)) is not None:
        return None, [deep]
    try:
        value = json.loads(text, object_pairs_hook=_object_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        return None, [Problem("", f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}")]
    except ValueError as error:
        return None, [Problem("", f"invalid JSON: {error}")]
    return value, _duplicate_problems(value)


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in UNION_TAGS or part == "[key]" or part.startswith("function-"):
            continue
        else:
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
        else:
            # pydantic's own messages name what is expected (`Input should be 'audit' or 'enforce'`), never
            # the input; ours (value errors) name fields.
            message = item["msg"].removeprefix("Value error, ")
            if kind not in {"value_error", "assertion_error"}:
                message += f" (got {json_type(item['input'])})"
        problems.append(Problem(path, message))
    return problems


def validate_document(data: Any, *, home: Home | None = None) -> tuple[DesiredState | None, list[Problem]]:
    """Validate parsed JSON: the models first, then the checks across fields.

    ``home``, the (region, account id) of the registry when known, adds the checks that need it.
    """
    try:
        state = DesiredState.model_validate(data, by_alias=True)
    except ValidationError as error:
        return None, _pydantic_problems(error)
    problems = semantic_problems(state, home=home)
    return (None, problems) if problems else (state, [])


def load_desired_state_text(
    text: str, source: str = "desired_state.json", *, home: Home | None = None
) -> DesiredState:
    """Parse and validate; raises :class:`DesiredStateError` listing every problem."""
    data, problems = parse_json_text(text)
    if not problems:
        state, problems = validate_document(data, home=home)
        if state is not None:
            return state
    raise DesiredStateError(source, sorted(set(problems), key=lambda p: (p.path, p.message)))


def load_desired_state(path: str | Path, *, home: Home | None = None) -> DesiredState:
    """Read and validate ``path``; raises :class:`DesiredStateError` on any problem.

    ``home``: the (region, account id) of the registry it is applied to, when known (``semantic_problems``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise DesiredStateError(str(path), [Problem("", f"cannot read {path}: {reason}")]) from None
    return load_desired_state_text(text, str(path), home=home)


__all__ = [
    "DesiredStateError",
    "join_path",
    "load_desired_state",
    "load_desired_state_text",
    "parse_json_text",
    "path_key",
    "validate_document",
]
