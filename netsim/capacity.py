"""Time-varying link capacity as a service curve: the bytes a link could have served by time t.

A FIFO link whose capacity changes in time is the Lindley recursion on cumulative work
(docs/model.md, "Time-varying capacity"). With ``W(t)`` the bytes the link could serve in
[0, t] and a packet of ``b`` bytes arriving at ``a``::

    D_n = max(W(a_n), D_{n-1}) + b_n          (work at which packet n is fully served)
    d_n = W^-1(D_n) = min{t : W(t) >= D_n}     (its departure time)

Work the link could have done while its queue was empty is not banked: ``W(a_n)`` jumps past
it. Both curves here are exact and vectorised; they loop with a period when asked to.

- :class:`RateSchedule`: piecewise-constant rate (throughput logs, radio along a route,
  handover interruptions as zero-rate stretches).
- :class:`OpportunitySchedule`: Mahimahi's delivery opportunities, each ``1504`` bytes at an
  instant (Winstein et al., NSDI 2013). ``W`` counts the opportunities at times ``<= t``, so a
  packet arriving at an opportunity's instant cannot use it, as in Mahimahi's
  ``LinkQueue::read_packet`` (it serves the due opportunities before it enqueues).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import compiled

__all__ = [
    "ServiceCurve",
    "RateSchedule",
    "OpportunitySchedule",
    "MAHIMAHI_PACKET_BYTES",
    "zero_during",
    "sorted_search",
]

MAHIMAHI_PACKET_BYTES = 1504  # PACKET_SIZE in mahimahi src/frontend/link_queue.hh
TIME_SLACK_S = 1e-9  # an arrival within 1 ns after an opportunity counts as at it


class ServiceCurve:
    """Cumulative service ``W(t)`` in bytes; non-decreasing, right-continuous, ``W(0-) = 0``."""

    def work_at(self, t_s: np.ndarray) -> np.ndarray:
        """Bytes the link could have served in [0, t] (opportunities at t included)."""
        raise NotImplementedError

    def time_of(self, work_bytes: np.ndarray) -> np.ndarray:
        """The earliest time at which ``W(t) >= work`` (``inf`` if never)."""
        raise NotImplementedError

    def time_of_served(self, work_bytes: np.ndarray) -> np.ndarray:
        """:meth:`time_of` in place, where the work is not NaN (a packet served); NaN
        (a packet dropped) stays NaN."""
        served = ~np.isnan(work_bytes)
        work_bytes[served] = self.time_of(work_bytes[served])
        return work_bytes

    def mean_rate_bps(self) -> float:
        """Long-run capacity in bit/s."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class RateSchedule(ServiceCurve):
    """A rate ``rate_bps[i]`` from ``t_s[i]`` until ``t_s[i + 1]``.

    ``t_s[0]`` must be 0. Without a ``period_s`` the last rate holds for ever; with one, the
    schedule on [0, period) repeats (every ``t_s`` must then be below the period). Rates may
    be 0 (an interruption or an outage: packets wait).
    """

    t_s: np.ndarray
    rate_bps: np.ndarray
    period_s: float | None = None

    def __post_init__(self) -> None:
        t = np.asarray(self.t_s, dtype=np.float64)
        rate = np.asarray(self.rate_bps, dtype=np.float64)
        if t.ndim != 1 or t.shape != rate.shape or not t.size or t[0] != 0.0:
            raise ValueError("a rate schedule needs matching 1-D times and rates from t = 0")
        if (np.diff(t) <= 0).any() or (rate < 0).any() or not np.isfinite(rate).all():
            raise ValueError("schedule times must increase and rates be finite and >= 0")
        if self.period_s is not None and not t[-1] < self.period_s:
            raise ValueError("every schedule time must be below the period")
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "rate_bps", rate)
        bytes_per_s = rate / 8.0
        ends = np.append(t[1:], self.period_s if self.period_s is not None else np.inf)
        with np.errstate(invalid="ignore"):  # inf * 0 for a last rate of 0, not taken
            spans = np.where(bytes_per_s > 0, (ends - t) * bytes_per_s, 0.0)
        cum = np.concatenate([[0.0], np.cumsum(spans)])
        object.__setattr__(self, "_bytes_per_s", bytes_per_s)
        object.__setattr__(self, "_cum", cum[:-1])  # W at each t_s[i]
        period_work = float(cum[-1]) if self.period_s is not None else math.inf
        object.__setattr__(self, "_period_work", period_work)

    def _segment_columns(self, table: np.ndarray, x: np.ndarray, side: str, *columns):
        """``column[max(searchsorted(table, x, side) - 1, 0)]`` for each column: repeated
        per segment when ``x`` is long and sorted (no index array, no gather)."""
        counts = segment_counts(table, x, side)
        if counts is not None:
            return [np.repeat(column, counts) for column in columns]
        i = sorted_search(table, x, side) - 1
        np.maximum(i, 0, out=i)
        return [column[i] for column in columns]

    def _base_work(self, t: np.ndarray) -> np.ndarray:
        if t.ndim == 1 and t.size >= 64 and compiled.active():
            return compiled.schedule_work(self, t)
        cum, start, bytes_per_s = self._segment_columns(
            self.t_s, t, "right", self._cum, self.t_s, self._bytes_per_s
        )
        return cum + (np.maximum(t, 0.0) - start) * bytes_per_s

    def work_at(self, t_s: np.ndarray) -> np.ndarray:
        t = np.asarray(t_s, dtype=np.float64)
        if self.period_s is None:
            return self._base_work(t)
        k = np.floor(t / self.period_s)
        return k * self._period_work + self._base_work(t - k * self.period_s)

    def _base_time(self, work: np.ndarray) -> np.ndarray:
        # First breakpoint at or beyond the work; the segment before it serves the rest. Work
        # within rounding of a breakpoint's level counts as reaching it, so that a level held
        # by a silent stretch is reached at the stretch's start, not its end.
        if work.ndim == 1 and work.size >= 64 and compiled.active():
            return compiled.schedule_time(self, work)
        slack = np.abs(work) * 1e-12
        rate, start, cum = self._segment_columns(
            self._cum, work - slack, "left", self._bytes_per_s, self.t_s, self._cum
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            t = start + (work - cum) / rate
        if work.ndim == 1 and work.size and bool((rate > 0).all()) and bool((work > 0.0).all()):
            return t  # what the two wheres below leave it
        return np.where(work <= 0.0, 0.0, np.where(rate > 0, t, np.inf))

    def time_of(self, work_bytes: np.ndarray) -> np.ndarray:
        work = np.asarray(work_bytes, dtype=np.float64)
        if self.period_s is None:
            return self._base_time(work)
        if self._period_work <= 0:
            return np.where(work <= 0.0, 0.0, np.inf)
        k = np.maximum(np.ceil(work / self._period_work) - 1.0, 0.0)
        return k * self.period_s + self._base_time(work - k * self._period_work)

    def time_of_served(self, work_bytes: np.ndarray) -> np.ndarray:
        if self.period_s is None and work_bytes.ndim == 1 and work_bytes.size >= 64:
            if compiled.active():  # one pass, no mask (the same values to the bit)
                return compiled.schedule_time(self, work_bytes, keep_nan=True)
        return super().time_of_served(work_bytes)

    def mean_rate_bps(self) -> float:
        if self.period_s is None:
            return float(self.rate_bps[-1])
        return self._period_work * 8.0 / self.period_s


@dataclass(frozen=True, eq=False)
class OpportunitySchedule(ServiceCurve):
    """Delivery opportunities of ``bytes_each`` bytes at ``times_s``, repeating every period.

    ``times_s`` are sorted, in [0, ``period_s``]; a time may repeat (several opportunities in
    one instant). Mahimahi's period is its trace's last timestamp.
    """

    times_s: np.ndarray
    period_s: float
    bytes_each: int = MAHIMAHI_PACKET_BYTES

    def __post_init__(self) -> None:
        times = np.asarray(self.times_s, dtype=np.float64)
        if times.ndim != 1 or not times.size or (np.diff(times) < 0).any():
            raise ValueError("opportunity times must be a non-empty sorted 1-D array")
        if times[0] < 0 or times[-1] > self.period_s or not self.period_s > 0:
            raise ValueError("opportunity times must lie in [0, period], with period > 0")
        object.__setattr__(self, "times_s", times)

    def work_at(self, t_s: np.ndarray) -> np.ndarray:
        t = np.asarray(t_s, dtype=np.float64)
        k = np.floor(t / self.period_s)
        offset = t - k * self.period_s
        # Within a nanosecond counts as at the opportunity, so that looping arithmetic
        # (k * period + time) rounds the same way in both directions.
        count = k * self.times_s.size + np.searchsorted(
            self.times_s, offset + TIME_SLACK_S, side="right"
        )
        return np.where(t < 0, 0.0, count * float(self.bytes_each))

    def time_of(self, work_bytes: np.ndarray) -> np.ndarray:
        work = np.asarray(work_bytes, dtype=np.float64)
        # The m-th opportunity (1-based) delivers bytes ((m - 1) B, m B].
        m = np.maximum(np.ceil(work / self.bytes_each), 1.0)
        k, i = np.divmod(m - 1.0, float(self.times_s.size))
        t = k * self.period_s + self.times_s[i.astype(np.int64)]
        return np.where(work <= 0.0, 0.0, t)

    def mean_rate_bps(self) -> float:
        return self.times_s.size * self.bytes_each * 8.0 / self.period_s


def sorted_search(table: np.ndarray, x: np.ndarray, side: str) -> np.ndarray:
    """``np.searchsorted(table, x, side)``, for a sorted ``table``.

    When ``x`` is long and non-decreasing (the arrivals and departures of a FIFO queue), the
    search runs the other way, each table entry into ``x`` (``p_k``), and the index of ``x_j``
    is the number of entries with ``p_k <= j``: the same integers, found several times faster.
    """
    x = np.asarray(x)
    if x.ndim != 1 or x.size < 2 * table.size + 64 or not (x[1:] >= x[:-1]).all():
        return np.searchsorted(table, x, side=side)
    # "right": table[k] <= x_j exactly when j >= #{x < table[k]}; "left": < and <=.
    first = np.searchsorted(x, table, side="left" if side == "right" else "right")
    return np.cumsum(np.bincount(first, minlength=x.size + 1)[: x.size])


def segment_counts(table: np.ndarray, x: np.ndarray, side: str) -> np.ndarray | None:
    """For a long non-decreasing ``x``, how many of its values have each index
    ``max(np.searchsorted(table, x, side) - 1, 0)``; None otherwise (``x`` short or unsorted).

    ``np.repeat(column, counts)`` is then ``column[index]``.
    """
    x = np.asarray(x)
    if x.ndim != 1 or x.size < 2 * table.size + 64 or not (x[1:] >= x[:-1]).all():
        return None
    first = np.empty(table.size + 1, dtype=np.int64)  # the first x at each index + 1
    first[:-1] = np.searchsorted(x, table, side="left" if side == "right" else "right")
    first[-1] = x.size
    counts = np.diff(first)
    counts[0] += first[0]  # index -1, before the table, is clamped to 0
    return counts


def zero_during(
    base: RateSchedule | float, start_s: np.ndarray, end_s: np.ndarray, horizon_s: float
) -> RateSchedule:
    """``base`` (a schedule or a constant rate in bit/s) with rate 0 on ``[start, end)``.

    A looping schedule is unrolled up to ``horizon_s``; beyond it the result keeps the rate
    it has at the horizon. The intervals must be sorted and disjoint.
    """
    if isinstance(base, RateSchedule):
        if base.period_s is not None:
            loops = int(math.ceil(horizon_s / base.period_s))
            offsets = np.repeat(np.arange(loops) * base.period_s, base.t_s.size)
            times = np.tile(base.t_s, loops) + offsets
            rates = np.tile(base.rate_bps, loops)
        else:
            times, rates = base.t_s, base.rate_bps
    else:
        times, rates = np.array([0.0]), np.array([float(base)])
    start = np.asarray(start_s, dtype=np.float64)
    end = np.asarray(end_s, dtype=np.float64)
    edges = np.unique(np.concatenate([times, start, end, [0.0]]))
    edges = edges[edges >= 0.0]
    rate = rates[np.maximum(np.searchsorted(times, edges, side="right") - 1, 0)]
    if start.size:
        i = np.searchsorted(start, edges, side="right") - 1
        inside = (i >= 0) & (edges < end[np.maximum(i, 0)])
        rate = np.where(inside, 0.0, rate)
    keep = np.concatenate([[True], rate[1:] != rate[:-1]])  # drop breakpoints that change nothing
    return RateSchedule(edges[keep], rate[keep])
