"""Units at the edge: parse strings such as ``20ms`` or ``25Mbps`` to SI, and print them back.

Inside medlink every quantity is SI: seconds, bits per second, bytes for packet sizes (a
packet is counted in whole bytes on the wire), and plain ratios. Strings with units are parsed
exactly once, when a scenario is loaded, and formatted back only in views.

Every parser raises :class:`UnitError` with a short message saying what was expected; the
scenario loader adds the file, line and field.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "UnitError",
    "parse_time",
    "parse_rate",
    "parse_bit_rate",
    "parse_size",
    "parse_ratio",
    "parse_buffer",
    "parse_length",
    "parse_speed",
    "parse_frequency",
    "parse_db",
    "parse_dbm",
    "format_time",
    "format_rate",
    "format_size",
]


class UnitError(ValueError):
    """A value that does not parse as the quantity it should be."""


_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ/%]*)\s*$")

TIME_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "min": 60.0,
    "h": 3600.0,
}
BIT_RATE_UNITS = {
    "bps": 1.0,
    "kbps": 1e3,
    "Mbps": 1e6,
    "Gbps": 1e9,
    "bit/s": 1.0,
    "kbit/s": 1e3,
    "Mbit/s": 1e6,
    "Gbit/s": 1e9,
}
PACKET_RATE_UNITS = {"pps": 1.0, "kpps": 1e3, "Mpps": 1e6}
SIZE_UNITS = {
    "B": 1,
    "KB": 1000,
    "kB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
PACKET_COUNT_UNITS = ("p", "pkt", "pkts", "packet", "packets")
LENGTH_UNITS = {"m": 1.0, "km": 1000.0}
SPEED_UNITS = {"m/s": 1.0, "km/h": 1000.0 / 3600.0, "kmh": 1000.0 / 3600.0}
FREQUENCY_UNITS = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}


def _split(value: object, what: str, example: str) -> tuple[float, str]:
    """Split ``'20ms'`` into ``(20.0, 'ms')``; numbers come back with an empty unit."""
    if isinstance(value, bool):
        raise UnitError(f"expected {what} such as {example}, got {value!r}")
    if isinstance(value, (int, float)):
        number, unit = float(value), ""
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if not match:
            raise UnitError(f"expected {what} such as {example}, got {value!r}")
        number, unit = float(match.group(1)), match.group(2)
    else:
        raise UnitError(f"expected {what} such as {example}, got {type(value).__name__}")
    if not math.isfinite(number):
        raise UnitError(f"expected {what} that is finite, got {value!r}")
    return number, unit


def _scaled(value: object, table: dict[str, float], what: str, example: str) -> float:
    number, unit = _split(value, what, example)
    if unit == "":
        if number == 0:
            return 0.0
        raise UnitError(f"{what} {value!r} needs a unit, such as {example}")
    if unit not in table:
        known = ", ".join(table)
        raise UnitError(f"unknown unit {unit!r} in {value!r}: {what} takes {known}")
    return number * table[unit]


def parse_time(value: object) -> float:
    """Parse a duration such as ``250us``, ``20ms``, ``1.5s`` or ``10min`` to seconds.

    A bare ``0`` is accepted; any other bare number is an error, because a unit-less time is
    ambiguous.
    """
    return _scaled(value, TIME_UNITS, "a time", "'20ms'")


def parse_rate(value: object) -> tuple[float, str]:
    """Parse a bit rate (``25Mbps``) or a packet rate (``800pps``).

    Returns
    -------
    (rate, kind)
        ``kind`` is ``"bps"`` (bits per second) or ``"pps"`` (packets per second).
    """
    number, unit = _split(value, "a rate", "'25Mbps' or '800pps'")
    if unit in BIT_RATE_UNITS:
        return number * BIT_RATE_UNITS[unit], "bps"
    if unit in PACKET_RATE_UNITS:
        return number * PACKET_RATE_UNITS[unit], "pps"
    if unit == "" and number == 0:
        return 0.0, "bps"
    if unit == "":
        raise UnitError(f"rate {value!r} needs a unit, such as '25Mbps' or '800pps'")
    known = ", ".join([*BIT_RATE_UNITS, *PACKET_RATE_UNITS])
    raise UnitError(f"unknown unit {unit!r} in {value!r}: a rate takes {known}")


def parse_bit_rate(value: object) -> float:
    """Parse a bit rate only (``10Mbps``) to bits per second."""
    return _scaled(value, BIT_RATE_UNITS, "a bit rate", "'10Mbps'")


def parse_size(value: object) -> float:
    """Parse a size such as ``1250B``, ``64KB`` (10^3) or ``1MiB`` (2^20) to bytes."""
    return _scaled(value, SIZE_UNITS, "a size", "'1250B'")


def parse_ratio(value: object) -> float:
    """Parse a ratio written ``1%`` or ``0.01``; it must lie in [0, 1]."""
    number, unit = _split(value, "a ratio", "'1%' or 0.01")
    if unit == "%":
        number /= 100.0
    elif unit != "":
        raise UnitError(f"expected a ratio such as '1%' or 0.01, got {value!r}")
    if not 0.0 <= number <= 1.0:
        raise UnitError(f"a ratio must lie between 0% and 100%, got {value!r}")
    return number


def parse_buffer(value: object) -> tuple[float, str]:
    """Parse a drop-tail limit: ``unlimited``, a size (``64KB``) or a count (``100 packets``).

    Returns
    -------
    (limit, kind)
        ``kind`` is ``"unlimited"`` (limit is ``inf``), ``"bytes"`` or ``"packets"``.
    """
    if isinstance(value, str) and value.strip().lower() in ("unlimited", "inf", "none"):
        return math.inf, "unlimited"
    number, unit = _split(value, "a buffer", "'64KB', '100 packets' or 'unlimited'")
    if unit in PACKET_COUNT_UNITS:
        if number != int(number) or number < 1:
            raise UnitError(f"a buffer in packets must be a whole number >= 1, got {value!r}")
        return number, "packets"
    if unit in SIZE_UNITS:
        return number * SIZE_UNITS[unit], "bytes"
    raise UnitError(
        f"expected a buffer such as '64KB', '100 packets' or 'unlimited', got {value!r}"
    )


def parse_length(value: object) -> float:
    """Parse a length such as ``500m`` or ``3.2km`` to metres (may be negative: a coordinate)."""
    return _scaled(value, LENGTH_UNITS, "a length", "'500m'")


def parse_speed(value: object) -> float:
    """Parse a speed such as ``50km/h`` or ``14m/s`` to metres per second."""
    return _scaled(value, SPEED_UNITS, "a speed", "'50km/h'")


def parse_frequency(value: object) -> float:
    """Parse a frequency such as ``3.5GHz`` or ``20MHz`` to hertz."""
    return _scaled(value, FREQUENCY_UNITS, "a frequency", "'3.5GHz'")


def parse_db(value: object) -> float:
    """Parse a power ratio in decibels, ``3dB`` (a bare 0 is accepted)."""
    return _scaled(value, {"dB": 1.0}, "a level in dB", "'3dB'")


def parse_dbm(value: object) -> float:
    """Parse a power, ``23dBm``, ``200mW`` or ``20W``, to dBm."""
    number, unit = _split(value, "a power", "'23dBm'")
    if unit == "dBm":
        return number
    if unit in ("mW", "W"):
        milliwatts = number * (1.0 if unit == "mW" else 1000.0)
        if milliwatts <= 0:
            raise UnitError(f"a power in {unit} must be > 0, got {value!r}")
        return 10.0 * math.log10(milliwatts)
    if unit == "":
        raise UnitError(f"power {value!r} needs a unit, such as '23dBm'")
    raise UnitError(f"unknown unit {unit!r} in {value!r}: a power takes dBm, mW, W")


def format_time(seconds: float) -> str:
    """Format seconds with a readable unit: ``0.0203`` -> ``'20.3ms'``."""
    if not math.isfinite(seconds):
        return "-"
    magnitude = abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if magnitude >= scale:
            return f"{seconds / scale:.4g}{unit}"
    return "0s" if seconds == 0 else f"{seconds / 1e-9:.4g}ns"


def format_rate(bps: float) -> str:
    """Format bits per second: ``2.5e7`` -> ``'25Mbps'``."""
    if not math.isfinite(bps):
        return "unlimited"
    for unit, scale in (("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if abs(bps) >= scale:
            return f"{bps / scale:.4g}{unit}"
    return f"{bps:.4g}bps"


def format_size(nbytes: float) -> str:
    """Format bytes: ``65536`` -> ``'65.54KB'``."""
    if not math.isfinite(nbytes):
        return "unlimited"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.4g}{unit}"
    return f"{nbytes:.4g}B"
