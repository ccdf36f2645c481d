"""Read link-capacity traces into numpy arrays, or say exactly what is wrong with the file.

Two formats are read; nothing is simulated here:

- :func:`read_mahimahi` reads a Mahimahi packet-delivery trace (Netravali et al., "Mahimahi:
  Accurate Record-and-Replay for HTTP", USENIX ATC 2015; the cellular traces come from Winstein,
  Sivaraman and Balakrishnan, "Stochastic Forecasts Achieve High Throughput and Low Delay over
  Cellular Networks", NSDI 2013). Each line is a whole number of milliseconds: the time of one
  delivery opportunity for :data:`MAHIMAHI_PACKET_SIZE` = 1504 bytes. The rules are those of
  ``LinkQueue::LinkQueue`` in mahimahi's ``src/frontend/link_queue.cc``: timestamps are
  non-decreasing, a timestamp may repeat (several opportunities in one millisecond), empty lines
  are invalid, and the trace loops with a period equal to its last timestamp, which must be
  > 0. Here, blank lines at the end of the file are ignored and surrounding spaces or a
  Windows line end (``\\r``) are accepted; anything else mahimahi rejects is reported.
- :func:`read_throughput_csv` reads a throughput log such as drive-test tools export: two
  comma-separated columns, the time in **seconds** and the throughput in **Mbit/s** (1 Mbit/s =
  10**6 bit/s), with an optional header line, ``#`` comments and blank lines. Each row's rate
  holds until the next row's time; the last row holds for the median row spacing; the whole
  trace loops.

Every problem is one :class:`~netsim.errors.ScenarioError` naming the trace file and the 1-based
line, with ``field`` left empty for the caller to fill in (such as
``network.links.lte.trace``)::

    from netsim.traces import read_mahimahi
    trace = read_mahimahi("traces/Verizon-LTE-short.down")
    trace.opportunity_ms     # int64 array, one entry per 1504-byte opportunity
    trace.period_s           # the trace loops with this period
    trace.mean_rate_bps
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ScenarioError, read_user_text

__all__ = [
    "MAHIMAHI_PACKET_SIZE",
    "MahimahiTrace",
    "ThroughputTrace",
    "read_mahimahi",
    "read_throughput_csv",
]

MAHIMAHI_PACKET_SIZE = 1504
"""Bytes one Mahimahi delivery opportunity carries (``LinkQueue::PACKET_SIZE``)."""

_MS_EXPECTED = "expected a whole number of milliseconds >= 0"
_DIGITS_LINE = re.compile(r"[ \t]*[0-9]+[ \t]*\r?", re.ASCII)
_MAHIMAHI_BYTES = b"0123456789 \t\r\n"


@dataclass(frozen=True, eq=False)
class MahimahiTrace:
    """A Mahimahi delivery-opportunity trace, one period of it.

    Attributes
    ----------
    path
        The file it was read from.
    opportunity_ms
        Time of each delivery opportunity in one period, in whole milliseconds from the start
        of the link, non-decreasing (int64, read-only). A time may repeat.
    period_s
        The trace loops with this period, in seconds: the last timestamp. Opportunity ``i`` of
        loop ``k`` (k = 0, 1, ...) is at ``opportunity_ms[i] / 1000 + k * period_s``.
    bytes_per_opportunity
        Bytes each opportunity can carry: 1504.
    """

    path: Path
    opportunity_ms: np.ndarray
    period_s: float
    bytes_per_opportunity: int = MAHIMAHI_PACKET_SIZE

    @property
    def mean_rate_bps(self) -> float:
        """Capacity averaged over one period, in bit/s: ``len * 1504 * 8 / period_s``."""
        return len(self.opportunity_ms) * self.bytes_per_opportunity * 8 / self.period_s

    def opportunity_times_s(self) -> np.ndarray:
        """Times of the delivery opportunities of the first period, in seconds (float64).

        Returns
        -------
        numpy.ndarray
            ``opportunity_ms / 1000``; add ``k * period_s`` for loop ``k``.
        """
        return self.opportunity_ms / 1000.0


@dataclass(frozen=True, eq=False)
class ThroughputTrace:
    """A piecewise-constant capacity read from a throughput log, one period of it.

    Attributes
    ----------
    path
        The file it was read from.
    t_s
        Start of each row's interval, in seconds, shifted so that the first is 0 (float64,
        strictly increasing, read-only).
    rate_bps
        Capacity from ``t_s[i]`` until ``t_s[i + 1]`` (the last row: until ``period_s``), in
        bit/s (float64, finite, >= 0, read-only).
    period_s
        The trace loops with this period, in seconds: last time + median row spacing - first
        time, as written in the file.
    t0_s
        The first time as written in the file, in seconds (``t_s`` + ``t0_s`` gives the file's
        times back).
    """

    path: Path
    t_s: np.ndarray
    rate_bps: np.ndarray
    period_s: float
    t0_s: float = 0.0

    @property
    def durations_s(self) -> np.ndarray:
        """How long each row's rate holds, in seconds (float64)."""
        return np.diff(self.t_s, append=self.period_s)

    @property
    def mean_rate_bps(self) -> float:
        """Capacity averaged over one period, weighted by time, in bit/s."""
        return float(np.dot(self.rate_bps, self.durations_s) / self.period_s)


# --- reading files -------------------------------------------------------------------------


def _read_text(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Read a trace file as UTF-8 text; return ``(name, text)`` (errors as for scenarios)."""
    return read_user_text(path, "a trace file")


def _shown(text: str, limit: int = 40) -> str:
    """A field as quoted in a message: stripped, shortened to ``limit`` characters."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


# --- Mahimahi ------------------------------------------------------------------------------


def read_mahimahi(path: str | os.PathLike[str]) -> MahimahiTrace:
    """Read a Mahimahi trace: one line per 1504-byte delivery opportunity.

    Parameters
    ----------
    path
        The trace file (UTF-8 or ASCII): one whole number of milliseconds per line,
        non-decreasing, the last one > 0. Blank lines at the end are ignored; any other blank
        line is an error, as in mahimahi.

    Returns
    -------
    MahimahiTrace

    Raises
    ------
    ScenarioError
        For a file that cannot be read (``line`` None) and for the first invalid line: not a
        whole number of milliseconds >= 0, blank, earlier than the line before it; for an empty
        trace (line 1) and for a last timestamp of 0 (its line).
    """
    name, text = _read_text(path)
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        message = "empty trace: expected one whole number of milliseconds per line"
        raise ScenarioError(message, name, 1)

    # Fast path: only digits and blanks in the file, and numpy parses every line. Python's
    # int() behind it is lenient (it takes '1_000' and non-ASCII digits), hence the byte check.
    ms: np.ndarray | None = None
    if not text.encode("utf-8").translate(None, _MAHIMAHI_BYTES):
        try:
            ms = np.array(lines, dtype=np.int64)
        except (ValueError, OverflowError):
            ms = None
    if ms is None:
        _raise_first_bad_mahimahi_line(lines, name)
        raise AssertionError("unreachable: a line failed to parse but none was found")

    if len(ms) > 1:
        back = np.flatnonzero(ms[1:] < ms[:-1])
        if len(back):
            i = int(back[0]) + 1
            message = (
                f"timestamps must be non-decreasing: expected >= {ms[i - 1]} ms "
                f"(line {i}), got {ms[i]}"
            )
            raise ScenarioError(message, name, i + 1)
    if ms[-1] == 0:
        message = (
            "the trace must last a nonzero time: expected the last timestamp, which is the "
            "period the trace loops with, to be > 0 ms, got 0"
        )
        raise ScenarioError(message, name, len(ms))
    return MahimahiTrace(
        path=Path(path), opportunity_ms=_read_only(ms), period_s=int(ms[-1]) / 1000.0
    )


def _raise_first_bad_mahimahi_line(lines: list[str], name: str) -> None:
    """Raise the ScenarioError for the first line that is not a whole number of ms."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            message = f"blank line: {_MS_EXPECTED} on every line (mahimahi rejects empty lines)"
            raise ScenarioError(message, name, number)
        if not _DIGITS_LINE.fullmatch(line):
            raise ScenarioError(f"{_MS_EXPECTED}, got {_shown(line)}", name, number)
        if int(line) > np.iinfo(np.int64).max:
            raise ScenarioError(f"{_MS_EXPECTED}, got {_shown(line)}: too large", name, number)


# --- throughput CSV ------------------------------------------------------------------------

_TIME_NAMES = re.compile(r"(time|t|timestamp|elapsed)(_s|_sec|_secs|_seconds)?|seconds|secs?")
_RATE_NAME = re.compile(r"([a-z_]*_)?(mbps|mbit_?s)")


def _header_name(field: str) -> str:
    """A header field normalised: lower case, quotes dropped, ``(unit)`` and spaces to ``_``."""
    name = field.strip().strip("\"'").strip().lower()
    name = re.sub(r"[\s\-/()\[\]]+", "_", name)
    return name.strip("_")


def _number(field: str) -> float | None:
    """The field as a float, or None if it is not a number."""
    try:
        return float(field)
    except ValueError:
        return None


def read_throughput_csv(path: str | os.PathLike[str]) -> ThroughputTrace:
    """Read a throughput log: time in seconds, throughput in Mbit/s, comma separated.

    Format and the decisions taken for it:

    - exactly two comma-separated columns: the time in **seconds** and the throughput in
      **Mbit/s** (10**6 bit/s), both decimal numbers;
    - an optional header: the first row is a header if its first field is not a number. Its
      names must state those units: the time column one of ``time``, ``t``, ``timestamp``,
      ``elapsed`` (optionally with ``_s``), ``seconds``; the throughput column a name ending in
      ``mbps``, such as ``mbps``, ``throughput_mbps``, ``Throughput (Mbps)`` (case, spaces,
      brackets and quotes ignored). ``time_ms`` or ``kbps`` is an error, not a silent factor;
    - ``#`` starts a comment to the end of the line; blank lines are ignored;
    - times are >= 0 and strictly increasing; at least two rows; rates finite and >= 0;
    - each row's rate holds from its time until the next row's time; the last row holds for
      the median spacing of the rows; the trace loops with period = last time + median
      spacing - first time;
    - times are shifted so that the first row is at 0 (``t0_s`` keeps the first time as
      written): a trace whose log starts at 12.5 s starts at the start of the link.

    Parameters
    ----------
    path
        The CSV file (UTF-8).

    Returns
    -------
    ThroughputTrace

    Raises
    ------
    ScenarioError
        For a file that cannot be read (``line`` None) and for the first invalid line.
    """
    name, text = _read_text(path)
    times: list[float] = []
    rates: list[float] = []
    row_lines: list[int] = []
    header_seen = False
    expected = "expected 2 comma-separated columns: time in s, throughput in Mbit/s"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split(",")
        if len(fields) != 2:
            raise ScenarioError(f"{expected}; got {len(fields)}: {_shown(line)}", name, number)
        time_text, rate_text = fields
        t, rate = _number(time_text), _number(rate_text)
        if not row_lines and not header_seen and t is None:
            _check_header(time_text, rate_text, name, number)
            header_seen = True
            continue
        if t is None or not math.isfinite(t) or t < 0:
            message = f"expected a time in seconds >= 0, got {_shown(time_text)}"
            raise ScenarioError(message, name, number)
        if rate is None or not math.isfinite(rate) or rate < 0:
            message = f"expected a throughput in Mbit/s >= 0, got {_shown(rate_text)}"
            raise ScenarioError(message, name, number)
        if times and t <= times[-1]:
            message = (
                f"times must be strictly increasing: expected a time > {times[-1]:g} s "
                f"(line {row_lines[-1]}), got {_shown(time_text)}"
            )
            raise ScenarioError(message, name, number)
        times.append(t)
        rates.append(rate)
        row_lines.append(number)
    if len(times) < 2:
        got = "none" if not times else "1"
        message = (
            f"expected at least 2 rows of time in s, throughput in Mbit/s (the spacing of the "
            f"rows says how long the last one lasts), got {got}"
        )
        raise ScenarioError(message, name, row_lines[0] if row_lines else 1)

    t_file = np.array(times, dtype=np.float64)
    spacing = float(np.median(np.diff(t_file)))
    t0 = float(t_file[0])
    return ThroughputTrace(
        path=Path(path),
        t_s=_read_only(t_file - t0),
        rate_bps=_read_only(np.array(rates, dtype=np.float64) * 1e6),
        period_s=float(t_file[-1]) + spacing - t0,
        t0_s=t0,
    )


def _check_header(time_text: str, rate_text: str, name: str, number: int) -> None:
    """Accept a header whose names state seconds and Mbit/s, or raise a ScenarioError."""
    if not _TIME_NAMES.fullmatch(_header_name(time_text)):
        message = (
            "expected a header naming the time in seconds first (time, time_s, t, timestamp, "
            f"seconds), or a number of seconds, got {_shown(time_text)}"
        )
        raise ScenarioError(message, name, number)
    if not _RATE_NAME.fullmatch(_header_name(rate_text)):
        message = (
            "expected a header naming the throughput in Mbit/s second (mbps, throughput_mbps, "
            f"rate_mbps), or a number of Mbit/s, got {_shown(rate_text)}"
        )
        raise ScenarioError(message, name, number)
