"""What happens to a link over time, known before any packet moves: its dynamics.

A link's capacity curve, the stretches during which it refuses arrivals (an outage, or a
handover interruption without data forwarding) and the stretches during which its loss chain
is in its Bad state are all open-loop: they depend on time, the route and the seed, never on
the packets. They are therefore computed for the whole run when the link starts, and the
packet windows read them. Closed-loop control (congestion control, watchdogs) is what the
simpy clock is for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .capacity import ServiceCurve
from .plan import LossModel

__all__ = ["IntervalSet", "LinkDynamics", "LinkEvent", "timed_chain_bad_intervals"]


@dataclass(frozen=True, eq=False)
class IntervalSet:
    """Disjoint half-open intervals ``[start, end)`` in seconds, sorted."""

    start_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    end_s: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        start = np.asarray(self.start_s, dtype=np.float64)
        end = np.asarray(self.end_s, dtype=np.float64)
        if start.shape != end.shape or (end < start).any():
            raise ValueError("intervals need matching starts and ends, end >= start")
        if start.size > 1 and (start[1:] < end[:-1]).any():
            raise ValueError("intervals must be sorted and disjoint")
        object.__setattr__(self, "start_s", start)
        object.__setattr__(self, "end_s", end)

    def __len__(self) -> int:
        return int(self.start_s.size)

    def contains(self, t_s: np.ndarray) -> np.ndarray:
        """True where ``t`` lies in one of the intervals."""
        if not self.start_s.size:
            return np.zeros(np.shape(t_s), dtype=bool)
        i = np.searchsorted(self.start_s, t_s, side="right") - 1
        inside = i >= 0
        return inside & (np.asarray(t_s) < self.end_s[np.maximum(i, 0)])

    def total_s(self) -> float:
        return float((self.end_s - self.start_s).sum())

    @staticmethod
    def union(*sets: IntervalSet) -> IntervalSet:
        """The union of interval sets, merged into disjoint intervals."""
        start = np.concatenate([s.start_s for s in sets]) if sets else np.empty(0)
        end = np.concatenate([s.end_s for s in sets]) if sets else np.empty(0)
        return IntervalSet.merged(start, end)

    @staticmethod
    def merged(start: np.ndarray, end: np.ndarray) -> IntervalSet:
        """Intervals ``[start[i], end[i])`` in any order, overlapping or not, merged."""
        start = np.asarray(start, dtype=np.float64)
        end = np.asarray(end, dtype=np.float64)
        keep = end > start
        start, end = start[keep], end[keep]
        if not start.size:
            return IntervalSet()
        order = np.argsort(start, kind="stable")
        start, end = start[order], end[order]
        reach = np.maximum.accumulate(end)
        new = np.concatenate([[True], start[1:] > reach[:-1]])
        group = np.cumsum(new) - 1
        merged_end = np.zeros(int(group[-1]) + 1)
        np.maximum.at(merged_end, group, reach)
        return IntervalSet(start[new], merged_end)


@dataclass(frozen=True)
class LinkEvent:
    """One control-plane event on a link: a handover or an outage.

    ``kind`` is ``"handover"`` (``duration_s`` is the interruption) or ``"outage"`` (the
    time without coverage); ``detail`` says more (``"site 3 -> site 4"``).
    """

    t_s: float
    kind: str
    duration_s: float
    detail: str = ""


@dataclass(frozen=True, eq=False)
class LinkDynamics:
    """Everything time-driven about one link direction for one run.

    ``curve`` (None: the constant ``capacity_bps`` of the link) gives the capacity;
    ``refuse`` holds the stretches during which packets reaching the link are lost;
    ``bad`` the stretches during which the timed loss chain is Bad (a packet leaving the
    queue then is lost with ``loss_bad``, otherwise with ``loss_good``); ``events`` what the
    results report; ``jitter_slots_s`` the extra delay of each ``jitter_hold_s`` slot of a
    timed jitter.
    """

    curve: ServiceCurve | None = None
    refuse: IntervalSet = field(default_factory=IntervalSet)
    bad: IntervalSet | None = None
    events: tuple[LinkEvent, ...] = ()
    jitter_slots_s: np.ndarray | None = None  # a timed jitter: one extra delay per hold slot
    jitter_hold_s: float = 0.0

    def jitter_at(self, t_s: np.ndarray) -> np.ndarray:
        """The timed jitter for packets leaving the queue at ``t_s`` (0 past the horizon)."""
        slots = self.jitter_slots_s
        if slots is None:
            raise ValueError("this link has no timed jitter")
        index = np.floor(np.asarray(t_s) / self.jitter_hold_s).astype(np.int64)
        inside = index < slots.size
        return np.where(inside, slots[np.where(inside, index, 0)], 0.0)


def timed_chain_bad_intervals(
    model: LossModel, horizon_s: float, rng: np.random.Generator
) -> IntervalSet:
    """The Bad stretches of a timed Gilbert-Elliott chain on [0, horizon).

    The chain starts in its stationary law and then alternates exponential sojourns with
    the rates of :meth:`LossModel.rates_per_s`. Sojourns are drawn in blocks, so the
    result does not depend on how the run is cut into windows.
    """
    to_bad, to_good = model.rates_per_s()
    if to_bad <= 0:
        return IntervalSet()
    if to_good <= 0:
        return IntervalSet(np.array([0.0]), np.array([horizon_s]))
    bad_now = rng.random() < to_bad / (to_bad + to_good)
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    t = 0.0
    block = 1024
    while t < horizon_s:
        good = rng.exponential(1.0 / to_good, block)  # Bad sojourns (mean 1 / rate to Good)
        ok = rng.exponential(1.0 / to_bad, block)  # Good sojourns
        if bad_now:
            lengths = np.column_stack([good, ok]).ravel()
        else:
            lengths = np.column_stack([ok, good]).ravel()
        edges = t + np.cumsum(np.concatenate([[0.0], lengths]))
        begin, finish = edges[:-1], edges[1:]
        is_bad = np.zeros(lengths.size, dtype=bool)
        is_bad[0 if bad_now else 1 :: 2] = True
        starts.append(begin[is_bad])
        ends.append(finish[is_bad])
        t = float(edges[-1])
    start = np.concatenate(starts)
    end = np.minimum(np.concatenate(ends), horizon_s)
    keep = start < horizon_s
    return IntervalSet(start[keep], end[keep])
