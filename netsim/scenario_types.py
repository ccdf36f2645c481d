"""Typed quantities of the scenario format: units parsed on the way in, errors in one line.

Every quantity with a unit is an ``Annotated`` type whose ``BeforeValidator`` calls the parser
from :mod:`netsim.units` and whose JSON schema is a string with a pattern, a description and
examples. Validators raise :func:`fail` errors, which carry their final message; see
:mod:`netsim.scenario_format` for how they travel to a :class:`~netsim.errors.ScenarioError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from . import units

__all__ = [
    "fail",
    "describe",
    "RUN_NAME",
    "LINK_NAME",
    "Time",
    "PositiveTime",
    "Ratio",
    "Capacity",
    "BitRate",
    "StreamRate",
    "Size",
    "Buffer",
    "Name",
    "Text",
    "RunName",
    "Reorder",
    "Sigma",
    "Alpha",
    "Burst",
    "Percentile",
    "Seed",
    "RoutingFactor",
    "Coordinate",
    "Length",
    "PositiveLength",
    "Speed",
    "Frequency",
    "Decibel",
    "PowerDbm",
    "bytes_value",
    "time_value",
    "ratio_value",
    "link_names",
]

RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
LINK_NAME = re.compile(r"[A-Za-z0-9._-]+")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def fail(message: str, *subpath: Hashable, at_key: bool = False) -> PydanticCustomError:
    """An error with a final message, located ``subpath`` below the value being validated."""
    ctx = {"message": message, "subpath": subpath, "at_key": at_key}
    return PydanticCustomError("scenario", "{message}", ctx)


def describe(value: object) -> str:
    """How an error message shows a value the user wrote: ``'10 Mbit'``, ``a list``, ..."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, str):
        return repr(value) if value else "an empty string"
    if isinstance(value, (int, float)):
        return repr(value)
    return f"{value} (a {type(value).__name__})"


def _units_pattern(*tables: Any) -> str:
    names = sorted({name for table in tables for name in table}, key=lambda n: (-len(n), n))
    return rf"^\s*{_NUMBER}\s*(?:{'|'.join(re.escape(n) for n in names)})\s*$"


def _schema(description: str, examples: list[Any], pattern: str, zero: bool = False) -> Any:
    text: dict[str, Any] = {"type": "string", "pattern": pattern}
    schema = {"anyOf": [text, {"const": 0}]} if zero else text
    return WithJsonSchema({**schema, "description": description, "examples": examples})


def _parse(parse: Callable[[Any], Any], expected: str, value: object) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise fail(f"expected {expected}, got {describe(value)}")
    try:
        return parse(value)
    except units.UnitError as exc:
        raise fail(str(exc)) from None


def _time(strict: bool) -> Callable[[object], float]:
    def validate(value: object) -> float:
        seconds = _parse(units.parse_time, "a time such as '20ms'", value)
        if seconds < 0 or (strict and seconds == 0):
            raise fail(f"expected a time {'>' if strict else '>='} 0, got {describe(value)}")
        return seconds

    return validate


def ratio_value(value: object) -> float:
    """A ratio in [0, 1], as the ``Ratio`` type parses it."""
    return _parse(units.parse_ratio, "a ratio such as '1%' or 0.01", value)


def _bit_rate(unlimited: bool) -> Callable[[object], float]:
    def validate(value: object) -> float:
        if unlimited and isinstance(value, str) and value.strip().lower() == "unlimited":
            return math.inf
        expected = "a bit rate such as '10Mbps'" + (" or 'unlimited'" if unlimited else "")
        bps = _parse(units.parse_bit_rate, expected, value)
        if bps <= 0:
            raise fail(f"expected a bit rate > 0 such as '10Mbps', got {describe(value)}")
        return bps

    return validate


def _stream_rate(value: object) -> tuple[float, str]:
    rate, kind = _parse(units.parse_rate, "a rate such as '25Mbps' or '800pps'", value)
    if rate <= 0:
        raise fail(f"expected a rate > 0 such as '25Mbps' or '800pps', got {describe(value)}")
    return rate, kind


def bytes_value(value: object) -> float:
    """A size in whole bytes (at least 1), as the ``Size`` type parses it."""
    size = _parse(units.parse_size, "a size such as '1250B'", value)
    if size < 1:
        raise fail(f"expected a size of at least 1B, got {describe(value)}")
    return float(math.ceil(round(size, 6)))  # whole bytes; round off 1.1 * 1000 = 1100.0000002


def _buffer(value: object) -> tuple[float, str]:
    expected = "a buffer such as '64KB', '100 packets' or 'unlimited'"
    limit, kind = _parse(units.parse_buffer, expected, value)
    if limit <= 0:
        raise fail(f"expected a buffer > 0 such as '64KB' or '100 packets', got {describe(value)}")
    return limit, kind


def _number(
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    integer: bool = False,
    description: str = "",
) -> Any:
    """A plain number (never a bool or a numeric string) within bounds, as an Annotated type."""
    bounds = [
        f"{op} {bound:g}" for op, bound in ((">", gt), (">=", ge), ("<=", le)) if bound is not None
    ]
    kind = "a whole number" if integer else "a number"
    expected = kind + (" " + " and ".join(bounds) if bounds else "")

    def validate(value: object) -> float | int:
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or not math.isfinite(value):  # type: ignore[arg-type]
            raise fail(f"expected {expected}, got {describe(value)}")
        if (
            (gt is not None and value <= gt)
            or (ge is not None and value < ge)
            or (le is not None and value > le)
        ):
            raise fail(f"expected {expected}, got {describe(value)}")
        return value  # type: ignore[return-value]

    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    schema |= {
        k: v
        for k, v in (("exclusiveMinimum", gt), ("minimum", ge), ("maximum", le))
        if v is not None
    }
    if description:
        schema["description"] = description
    return Annotated[int if integer else float, BeforeValidator(validate), WithJsonSchema(schema)]


def _text(nonempty: bool) -> Callable[[object], str]:
    def validate(value: object) -> str:
        if not isinstance(value, str):
            hint = "" if value is None or isinstance(value, (list, dict)) else " (quote it)"
            raise fail(f"expected text, got {describe(value)}{hint}")
        if nonempty and not value.strip():
            raise fail("expected a non-empty name, got an empty string")
        return value

    return validate


def _run_name(value: object) -> str:
    text = _text(True)(value)
    if not RUN_NAME.fullmatch(text):
        raise fail(
            "expected a name of letters, digits, '.', '_' and '-' that starts with a letter or "
            f"digit (it names the output folder), got {describe(value)}"
        )
    return text


def time_value(value: object) -> float:
    """A time >= 0 in seconds, as the ``Time`` type parses it."""
    return _time(False)(value)


def link_names(value: object) -> object:
    """Check the keys of the ``links`` mapping; the values are checked by their model."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or not LINK_NAME.fullmatch(key):
                message = "expected a link name of letters, digits, '.', '_' and '-'"
                raise fail(f"{message}, got {describe(key)}", key, at_key=True)
    return value


TIME_PATTERN = _units_pattern(units.TIME_UNITS)
_TIME_DOC = "a time with a unit: ns, us, ms, s, min or h"
Time = Annotated[
    float,
    BeforeValidator(_time(False)),
    _schema(_TIME_DOC + "; >= 0, a bare 0 allowed", ["0ms", "20ms", "1.5s"], TIME_PATTERN, True),
]
PositiveTime = Annotated[
    float,
    BeforeValidator(_time(True)),
    _schema(_TIME_DOC + "; > 0", ["600s", "10min"], TIME_PATTERN),
]
Ratio = Annotated[
    float,
    BeforeValidator(ratio_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": rf"^\s*{_NUMBER}\s*%\s*$"},
                {"type": "number", "minimum": 0, "maximum": 1},
            ],
            "description": "a ratio in [0, 1], as a percentage '1%' or a number 0.01",
            "examples": ["1%", "0.1%", 0.01],
        }
    ),
]
BIT_RATE_PATTERN = _units_pattern(units.BIT_RATE_UNITS)
Capacity = Annotated[
    float,
    BeforeValidator(_bit_rate(True)),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^\s*unlimited\s*$|{BIT_RATE_PATTERN}",
            "description": "a bit rate > 0 (bps, kbps, Mbps, Gbps, bit/s, ...) or 'unlimited'",
            "examples": ["10Mbps", "1Gbps", "unlimited"],
        }
    ),
]
BitRate = Annotated[
    float,
    BeforeValidator(_bit_rate(False)),
    _schema("a bit rate > 0 (bps, kbps, Mbps, Gbps, bit/s, ...)", ["5Mbps"], BIT_RATE_PATTERN),
]
StreamRate = Annotated[
    Any,
    BeforeValidator(_stream_rate),
    _schema(
        "a packet rate (pps, kpps, Mpps) or a bit rate (bps, kbps, Mbps, ...), > 0",
        ["800pps", "25Mbps"],
        _units_pattern(units.BIT_RATE_UNITS, units.PACKET_RATE_UNITS),
    ),
]
Size = Annotated[
    float,
    BeforeValidator(bytes_value),
    _schema(
        "a size of at least 1 byte (B, KB = 1000 B, KiB = 1024 B, MB, MiB, ...)",
        ["1250B", "64KB", "1MiB"],
        _units_pattern(units.SIZE_UNITS),
    ),
]
_BUFFER_UNITS = _units_pattern(units.SIZE_UNITS, {u: 1 for u in units.PACKET_COUNT_UNITS})
Buffer = Annotated[
    Any,
    BeforeValidator(_buffer),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^\s*(?:unlimited|inf|none)\s*$|{_BUFFER_UNITS}",
            "description": "drop-tail limit: 'unlimited', a size or a count of packets",
            "examples": ["unlimited", "64KB", "100 packets"],
        }
    ),
]
Name = Annotated[
    str, BeforeValidator(_text(True)), WithJsonSchema({"type": "string", "minLength": 1})
]
Text = Annotated[str, BeforeValidator(_text(False)), WithJsonSchema({"type": "string"})]
Reorder = Annotated[bool, Field(strict=True, description="let packets overtake each other")]
Sigma = _number(ge=0, description="standard deviation of the log of the delay")
Alpha = _number(gt=0, description="tail index of the Lomax (Pareto II) law")
Burst = _number(ge=1, description="mean length of a loss burst, in packets")
Percentile = _number(gt=0, le=100, description="latency percentile, default 99")
Seed = _number(ge=0, integer=True, description="root random seed")
RoutingFactor = _number(ge=1, description="length of the fibre path over the distance")

RunName = Annotated[
    str,
    BeforeValidator(_run_name),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^{RUN_NAME.pattern}$",
            "description": "the run's name; it names the output folder",
        }
    ),
]


def _quantity(
    parse: Callable[[Any], float],
    what: str,
    example: str,
    *,
    minimum: float | None = None,
    strict: bool = False,
) -> Callable[[object], float]:
    def validate(value: object) -> float:
        number = _parse(parse, f"{what} such as {example}", value)
        if minimum is not None and (number < minimum or (strict and number == minimum)):
            bound = f"{'>' if strict else '>='} {minimum:g}"
            raise fail(f"expected {what} {bound} such as {example}, got {describe(value)}")
        return number

    return validate


_LENGTH = _units_pattern(units.LENGTH_UNITS)
Coordinate = Annotated[
    float,
    BeforeValidator(_quantity(units.parse_length, "a length", "'500m'")),
    _schema("a coordinate in m or km", ["0m", "2.5km"], _LENGTH, True),
]
Length = Annotated[
    float,
    BeforeValidator(_quantity(units.parse_length, "a length", "'500m'", minimum=0.0)),
    _schema("a length >= 0 in m or km", ["50m", "3km"], _LENGTH, True),
]
PositiveLength = Annotated[
    float,
    BeforeValidator(_quantity(units.parse_length, "a length", "'500m'", minimum=0.0, strict=True)),
    _schema("a length > 0 in m or km", ["500m", "3000km"], _LENGTH),
]
Speed = Annotated[
    float,
    BeforeValidator(_quantity(units.parse_speed, "a speed", "'50km/h'", minimum=0.0, strict=True)),
    _schema("a speed > 0 in km/h or m/s", ["50km/h", "14m/s"], _units_pattern(units.SPEED_UNITS)),
]
Frequency = Annotated[
    float,
    BeforeValidator(
        _quantity(units.parse_frequency, "a frequency", "'3.5GHz'", minimum=0.0, strict=True)
    ),
    _schema(
        "a frequency > 0 in Hz, kHz, MHz or GHz",
        ["3.5GHz", "20MHz"],
        _units_pattern(units.FREQUENCY_UNITS),
    ),
]
Decibel = Annotated[
    float,
    BeforeValidator(_quantity(units.parse_db, "a level", "'3dB'")),
    _schema("a level in dB", ["3dB", "-10dB"], _units_pattern({"dB": 1}), True),
]
PowerDbm = Annotated[
    float,
    BeforeValidator(_quantity(units.parse_dbm, "a power", "'23dBm'")),
    _schema(
        "a power in dBm, mW or W", ["23dBm", "46dBm"], _units_pattern({"dBm": 1, "mW": 1, "W": 1})
    ),
]
