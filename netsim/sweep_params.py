"""The parameters of a sweep: ``PATH=VALUES`` parsed, and the grid they span.

``VALUES`` is a comma list (``10Mbps,20Mbps``), a range ``start:stop:step`` with units
(inclusive of ``stop`` when it falls on the grid), or ``lin(a,b,n)`` / ``log(a,b,n)``;
``PATH`` is a dotted path into the scenario document with list indices
(``streams[1].rate``, ``network.links['wan.1'].delay``). See docs/sweeps.md.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from .yamlsource import DocPath, format_path

__all__ = ["Param", "Combination", "parse_param", "parse_path", "parse_values", "grid"]

MAX_VALUES = 10_000
"""Most values one ``--param`` may expand to."""


class SweepInputError(Exception):
    """A bad command-line value; reported in one line, exit 2."""


# --- the VALUES grammar ---------------------------------------------------------------------

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ/%]*)\s*$")
_FUNCTION = re.compile(r"^\s*(lin|log)\s*\((.*)\)\s*$", re.DOTALL)


def _quantity(text: str, what: str) -> tuple[float, str]:
    """``'100km'`` -> ``(100.0, 'km')``."""
    match = _QUANTITY.match(text)
    if not match:
        raise SweepInputError(f"{what}: expected a number with an optional unit, got {text!r}")
    return float(match.group(1)), match.group(2)


def _common_unit(parts: Sequence[tuple[float, str]], texts: Sequence[str], what: str) -> str:
    units = {unit for _, unit in parts if unit}
    if len(units) > 1:
        raise SweepInputError(
            f"{what}: {', '.join(texts)} mix units ({', '.join(sorted(units))}); use one unit"
        )
    return units.pop() if units else ""


def _number_text(value: float, digits: int) -> str:
    """A number as a user would write it: ``100``, ``0.3``, ``1e-05``."""
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


def _scalar(text: str) -> Any:
    """A value as if written in the YAML file: ``1`` -> 1, ``true`` -> True, ``10Mbps`` stays.

    Anything YAML would read as a mapping, list or date stays the text it was.
    """
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if value is None and text.strip() not in ("null", "~", "Null", "NULL"):
        return text
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return text


def parse_values(text: str, what: str = "VALUES") -> list[Any]:
    """Expand a VALUES expression into the values a parameter takes.

    Grammar (one of):

    - a comma list, ``10Mbps,20Mbps,50Mbps`` or ``1,2,3``;
    - a range ``START:STOP:STEP``, numbers with one unit (written on any or all of the
      three: ``100km:3000km:500km``, ``100:3000:500km``): START, START+STEP, ... up to STOP,
      included when it lands on the grid (to 1e-9 of a step); STEP may be negative;
    - ``lin(A,B,N)``: N evenly spaced values from A to B, both included;
    - ``log(A,B,N)``: N values from A to B, both included, evenly spaced on a log scale
      (A and B > 0).

    Generated values are written back with their unit (``600km``): a range to 12
    significant digits, lin and log to 6. Every value is then read as a YAML scalar, as if
    written in the scenario file: ``3`` is the number 3, ``true`` a boolean, ``10Mbps`` text
    (which the loader parses with its unit).

    Parameters
    ----------
    text
        The expression.
    what
        Names the parameter in error messages.

    Returns
    -------
    list
        At least one value, at most :data:`MAX_VALUES`.

    Raises
    ------
    SweepInputError
        For an expression outside the grammar.
    """
    match = _FUNCTION.match(text)
    if match:
        strings = _spaced(match.group(1), match.group(2), what)
    elif ":" in text:
        strings = _range(text, what)
    else:
        strings = [item.strip() for item in text.split(",")]
        if any(not item for item in strings):
            raise SweepInputError(f"{what}: empty value in the list {text!r}")
    if len(strings) > MAX_VALUES:
        raise SweepInputError(f"{what}: {len(strings)} values; at most {MAX_VALUES}")
    return [_scalar(item) for item in strings]


def _range(text: str, what: str) -> list[str]:
    pieces = [p.strip() for p in text.split(":")]
    if len(pieces) != 3 or not all(pieces):
        raise SweepInputError(f"{what}: a range is START:STOP:STEP, got {text!r}")
    parts = [_quantity(p, what) for p in pieces]
    unit = _common_unit(parts, pieces, what)
    (start, _), (stop, _), (step, _) = parts
    if step == 0:
        raise SweepInputError(f"{what}: the step of {text!r} must not be 0")
    if (stop - start) * step < 0:
        raise SweepInputError(f"{what}: the step of {text!r} goes away from STOP")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_VALUES:
        raise SweepInputError(f"{what}: {text!r} gives {count} values; at most {MAX_VALUES}")
    return [_number_text(start + i * step, 12) + unit for i in range(count)]


def _spaced(kind: str, inside: str, what: str) -> list[str]:
    pieces = [p.strip() for p in inside.split(",")]
    if len(pieces) != 3:
        raise SweepInputError(f"{what}: expected {kind}(A,B,N), got {kind}({inside})")
    parts = [_quantity(p, what) for p in pieces[:2]]
    unit = _common_unit(parts, pieces[:2], what)
    (a, _), (b, _) = parts
    if not re.fullmatch(r"\d+", pieces[2]) or int(pieces[2]) < 1:
        raise SweepInputError(f"{what}: N of {kind}(A,B,N) must be a whole number >= 1")
    n = int(pieces[2])
    if n > MAX_VALUES:
        raise SweepInputError(f"{what}: {n} values; at most {MAX_VALUES}")
    if kind == "log" and (a <= 0 or b <= 0):
        raise SweepInputError(f"{what}: log(A,B,N) needs A > 0 and B > 0")
    if n == 1:
        values = [a]
    elif kind == "lin":
        values = [a + (b - a) * i / (n - 1) for i in range(n)]
    else:
        la, lb = math.log(a), math.log(b)
        values = [math.exp(la + (lb - la) * i / (n - 1)) for i in range(n)]
        values[0], values[-1] = a, b
    return [_number_text(v, 6) + unit for v in values]


# --- the PATH grammar -----------------------------------------------------------------------

_TOKEN = re.compile(r"""\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]""")


def parse_path(text: str) -> DocPath:
    """A dotted path into the scenario document, as the loader's errors write it.

    ``network.links.radio-up.capacity``, ``streams[1].rate``,
    ``ambulance.modems[0].cells.spacing``; a key that is not a plain name (letters, digits,
    ``_``, ``-``) goes in quotes in brackets: ``network.links['wan.1'].delay``.

    Returns
    -------
    tuple
        Mapping keys (str) and list indices (int), outermost first.

    Raises
    ------
    SweepInputError
        For text outside that grammar.
    """
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        dotted = match is not None and match.group(0).startswith(".")
        if match is None or (dotted and pos == 0) or (not dotted and match.group(1) and pos):
            raise SweepInputError(
                f"--param {text}: not a field path (expected names separated by dots, "
                "list indices in brackets: streams[0].rate)"
            )
        name, index, single, double = match.groups()
        parts.append(
            int(index)
            if index is not None
            else next(p for p in (name, single, double) if p is not None)
        )
        pos = match.end()
    if not parts or not isinstance(parts[0], str):
        raise SweepInputError(f"--param {text}: not a field path (start with a top-level key)")
    return tuple(parts)


def _resolve(document: dict, path: DocPath, text: str) -> None:
    """Raise unless ``path`` can be written in ``document``.

    Every step but the last must exist; the last may be a key the mapping leaves out (a
    default the user now sets: the loader then checks that the key is known).
    """
    node: Any = document
    for depth, part in enumerate(path):
        where = format_path(path[:depth]) or "the document"
        last = depth == len(path) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                raise SweepInputError(f"--param {text}: no such field: {where} is not a list")
            if part >= len(node):
                raise SweepInputError(
                    f"--param {text}: no such field: {where} has {len(node)} entries"
                )
        else:
            if not isinstance(node, dict):
                raise SweepInputError(f"--param {text}: no such field: {where} is not a mapping")
            if part not in node:
                if last:
                    return
                keys = ", ".join(map(str, node)) or "none"
                raise SweepInputError(
                    f"--param {text}: no such field {part!r} in {where} (it has: {keys})"
                )
        if last and isinstance(node[part], (dict, list)):
            raise SweepInputError(
                f"--param {text}: {format_path(path)} is a "
                f"{'mapping' if isinstance(node[part], dict) else 'list'}; name a field in it"
            )
        node = node[part]


def _substitute(document: dict, assignments: Sequence[tuple[DocPath, Any]]) -> dict:
    out = copy.deepcopy(document)
    for path, value in assignments:
        node: Any = out
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return out


# --- parameters and the grid ----------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One ``--param``: the field's path (as written and parsed) and its values."""

    text: str
    path: DocPath
    values: tuple[Any, ...]


@dataclass
class Combination:
    """One point of the grid: the values, the scenario with them, and its runs."""

    index: int
    params: dict[str, Any]
    text: str
    sha256: str
    name: str
    seeds: list[int]
    duration_s: float
    keys: list[str] = field(default_factory=list)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_param(spec: str) -> Param:
    """``PATH=VALUES`` -> :class:`Param` (see :func:`parse_path`, :func:`parse_values`)."""
    path_text, sep, values_text = spec.partition("=")
    path_text = path_text.strip()
    if not sep or not path_text or not values_text.strip():
        raise SweepInputError(f"--param {spec}: expected PATH=VALUES, such as streams[0].rate=1,2")
    path = parse_path(path_text)
    return Param(path_text, path, tuple(parse_values(values_text, f"--param {path_text}")))


def grid(params: Sequence[Param], sample: int | None = None, seed: int = 0) -> list[tuple]:
    """The combinations of values, first parameter varying slowest (cartesian product).

    With ``sample``, that many distinct points drawn at random (``random.Random(seed)``),
    in grid order; all of them when the grid is no larger.
    """
    sizes = [len(p.values) for p in params]
    total = math.prod(sizes)
    if sample is None or sample >= total:
        return list(itertools.product(*(p.values for p in params)))
    chosen = sorted(random.Random(seed).sample(range(total), sample))
    out = []
    for flat in chosen:
        point = []
        for p, size in zip(reversed(params), reversed(sizes), strict=True):
            flat, i = divmod(flat, size)
            point.append(p.values[i])
        out.append(tuple(reversed(point)))
    return out
