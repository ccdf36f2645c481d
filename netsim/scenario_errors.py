"""A pydantic validation error of a scenario file as one :class:`~netsim.errors.ScenarioError`.

Pydantic reports every problem it finds, some nested inside others (the workloads' and the
transports' own models). :func:`first_error` flattens them into located messages in the
user's words ("expected a number, got 'fast'", "unknown key 'bandwith'; did you mean
'bandwidth'?") and reports the one written first in the file, with its line and field.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .errors import ScenarioError
from .scenario_types import describe
from .yamlsource import DocPath, LineMap, format_path

__all__ = ["first_error"]


@dataclass(frozen=True)
class _Problem:
    path: DocPath
    message: str
    at_key: bool = False
    missing: bool = False


def _problems(
    errors: Sequence[Any], prefix: DocPath = (), keys: Sequence[str] = (), what: str = ""
) -> Iterator[_Problem]:
    """Flatten pydantic errors (``nested`` ones included) into located messages."""
    for error in errors:
        path = prefix + tuple(error["loc"])
        kind, ctx = error["type"], error.get("ctx") or {}
        if kind == "nested":
            yield from _problems(ctx["errors"], path, ctx.get("keys", ()), ctx.get("what", ""))
        elif kind == "scenario":
            yield _Problem(path + tuple(ctx["subpath"]), ctx["message"], ctx["at_key"])
        elif kind == "extra_forbidden":
            yield _Problem(path, _unknown_key(path[-1], keys, what), at_key=True)
        elif kind == "missing":
            yield _Problem(path, "required field is missing", missing=True)
        else:
            yield _Problem(path, _message(kind, ctx, error.get("input")))


def _unknown_key(key: object, keys: Sequence[str], what: str) -> str:
    close = difflib.get_close_matches(str(key), keys, n=3, cutoff=0.6)
    if close:
        return f"unknown key {key!r}; did you mean {' or '.join(map(repr, close))}?"
    return f"unknown key {key!r}; {what or 'this mapping'} takes: {', '.join(keys)}"


_EXPECTED = {
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _message(kind: str, ctx: dict[str, Any], value: object) -> str:
    """A pydantic error type as 'expected ..., got ...'."""
    got = describe(value)
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {got}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"expected at least {n} {'entry' if n == 1 else 'entries'}, got {got}"
    if kind in _BOUNDS:
        return f"expected a value {_BOUNDS[kind]} {next(iter(ctx.values()), '')}, got {got}"
    return f"invalid value {got} ({kind})"


def first_error(exc: ValidationError, lines: LineMap, filename: str) -> ScenarioError:
    """The error written first in the file; a missing field counts at its mapping's end."""
    problems = list(_problems(exc.errors(include_url=False)))

    def position(item: tuple[int, _Problem]) -> tuple[int, bool, int]:
        index, problem = item
        if problem.missing:
            line = lines.end_line(problem.path)
        else:
            line = lines.line(problem.path, problem.at_key)
        return (line or 0, problem.missing, index)

    _, first = min(enumerate(problems), key=position)
    line = lines.line(first.path, first.at_key)
    return ScenarioError(first.message, filename, line, format_path(first.path))
