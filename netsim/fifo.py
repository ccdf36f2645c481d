"""A FIFO single server, with or without a drop-tail limit, in vectorised form.

The queue of one link direction: packets are served in arrival order at ``capacity_bps``, or
along a :class:`~netsim.capacity.ServiceCurve` when the capacity varies in time.
:class:`FifoQueue` keeps what carries over from one window to the next (when the server frees
up, and, with a finite buffer, the admitted packets not yet fully serialised).

The recursion runs on one "clock" for both cases: seconds for a constant rate (arrival
times, service times), bytes of cumulative work for a service curve (``W(arrival)``, packet
sizes; Lindley on cumulative work). A packet has left by time ``a`` exactly when its
completion ``D`` is at most ``W(a)``, so the drop-tail occupancy test is the same in both.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .capacity import ServiceCurve
from .packetlog import DROPPED

__all__ = ["FifoQueue", "lindley_departures"]


def lindley_departures(arrival_s: np.ndarray, service_s: np.ndarray, free_s: float) -> np.ndarray:
    """Departure times of a FIFO single server: ``d_n = max(a_n, d_{n-1}) + s_n``.

    Vectorised through the cumulative service ``S``: ``d_n = S_n + max(free, max_k<=n (a_k -
    S_{k-1}))``. ``free_s`` is when the server frees up from earlier work.
    """
    cum_service = np.cumsum(service_s)
    start_slack = arrival_s - (cum_service - service_s)
    np.maximum.accumulate(start_slack, out=start_slack)
    np.maximum(start_slack, free_s, out=start_slack)
    return cum_service + start_slack


class FifoQueue:
    """A FIFO server at ``capacity_bps`` with a drop-tail ``limit`` in ``kind`` units.

    ``kind`` is ``"unlimited"``, ``"bytes"`` or ``"packets"``; the limit counts the packets
    admitted and not yet fully serialised, the one in service included (docs/model.md).
    With a ``curve`` the capacity follows it and ``capacity_bps`` is ignored.
    """

    def __init__(
        self,
        capacity_bps: float,
        limit: float = math.inf,
        kind: str = "unlimited",
        curve: ServiceCurve | None = None,
    ):
        self.capacity_bps = capacity_bps
        self.curve = curve
        self.limit = limit
        self.by_bytes = kind == "bytes"
        self.unlimited = kind == "unlimited"
        self.free_s = 0.0  # when the server frees up: seconds, or bytes of work with a curve
        # Admitted packets not yet fully serialised (only tracked with a finite buffer).
        self._sys_depart = np.empty(0)
        self._sys_size = np.empty(0, dtype=np.int64)
        self._loop_length = 32

    def serve(self, arrival_s: np.ndarray, size_bytes: np.ndarray, fate: np.ndarray) -> np.ndarray:
        """Departure times of arrivals sorted by time; refused packets get ``fate`` DROPPED
        and a NaN departure."""
        if self.curve is not None:
            # The same recursion on cumulative work: "times" are W(t), services are bytes.
            arrival_s = self.curve.work_at(arrival_s)
            service_s = size_bytes.astype(np.float64)
        else:
            service_s = size_bytes * (8.0 / self.capacity_bps)
        if not self.unlimited:
            depart = self._serve_finite(arrival_s, service_s, size_bytes, fate)
        else:
            depart = lindley_departures(arrival_s, service_s, self.free_s)
            if depart.size:
                self.free_s = float(depart[-1])
        if self.curve is not None:
            served = ~np.isnan(depart)
            depart[served] = self.curve.time_of(depart[served])
        return depart

    def _serve_finite(
        self,
        arrival_s: np.ndarray,
        service_s: np.ndarray,
        size_bytes: np.ndarray,
        fate: np.ndarray,
    ) -> np.ndarray:
        """Drop-tail: vectorised stretches while nothing overflows, per packet while it does.

        The vectorised step assumes every packet is admitted, finds the first that would
        overflow, and keeps everything before it (exact up to there). From that packet a
        plain loop admits or drops one packet at a time until the buffer has emptied or a
        budget of packets is spent (the budget doubles while overflows keep coming), then the
        vectorised step resumes.
        """
        n = arrival_s.size
        depart = np.full(n, np.nan)
        limit, by_bytes = self.limit, self.by_bytes
        pos = 0
        while pos < n:
            stop = min(n, pos + 16384)
            d = lindley_departures(arrival_s[pos:stop], service_s[pos:stop], self.free_s)
            all_depart = np.concatenate([self._sys_depart, d])
            all_size = np.concatenate([self._sys_size, size_bytes[pos:stop]])
            if self._cannot_overflow(arrival_s[pos:stop], d, all_size, size_bytes[pos:stop]):
                over = np.empty(0, dtype=np.int64)
            else:
                k = np.arange(self._sys_depart.size, all_depart.size)
                # Packets ahead of packet k still in the system; with zero service time packet
                # k itself has departed at its arrival, so never look past it.
                first_in_system = np.minimum(
                    np.searchsorted(all_depart, arrival_s[pos:stop], side="right"), k
                )
                if by_bytes:
                    cum = np.concatenate([[0], np.cumsum(all_size)])
                    occupancy = cum[k] - cum[first_in_system] + size_bytes[pos:stop]
                else:
                    occupancy = k - first_in_system + 1
                over = np.flatnonzero(occupancy > limit)
            good = over[0] if over.size else stop - pos
            if good:
                depart[pos : pos + good] = d[:good]
                self.free_s = float(d[good - 1])
                keep = all_depart[: self._sys_depart.size + good]
                keep_size = all_size[: self._sys_depart.size + good]
                alive = keep > arrival_s[pos + good - 1]
                self._sys_depart, self._sys_size = keep[alive], keep_size[alive]
            pos += good
            if over.size:
                pos = self._serve_loop(pos, arrival_s, service_s, size_bytes, fate, depart)
                self._loop_length = min(self._loop_length * 2, 1 << 20) if pos < n else 32
            else:
                self._loop_length = 32
        return depart

    def _cannot_overflow(
        self, arrival: np.ndarray, done: np.ndarray, all_size: np.ndarray, size: np.ndarray
    ) -> bool:
        """A cheap, exact proof that no packet of a stretch finds the buffer full.

        The packets still in the system when packet n arrives are the one in service and
        those wholly unserved, so they hold at most the unserved work U_n plus one packet
        (the one in service counts whole): bytes <= U_n + max size, packets <= U_n / min
        size + 1. When both bounds, with packet n added, are within the limit for every
        packet, the exact occupancy search is skipped. ``arrival`` and ``done`` are on the
        queue's clock (seconds, or bytes of work with a curve).
        """
        previous = np.empty_like(done)
        previous[0] = self.free_s
        previous[1:] = done[:-1]
        unserved = np.maximum(previous - arrival, 0.0)
        if self.curve is None:
            if not np.isfinite(self.capacity_bps):
                return bool(self.limit >= (size.max() if self.by_bytes else 1))
            unserved *= self.capacity_bps / 8.0  # seconds of work -> bytes
        if self.by_bytes:
            bound = unserved + float(all_size.max()) + size
            return bool(bound.max() <= self.limit)
        count = np.floor(unserved / float(max(all_size.min(), 1))) + 2
        return bool(count.max() <= self.limit)

    def _serve_loop(self, pos, arrival_s, service_s, size_bytes, fate, depart) -> int:
        """Admit or drop packets one at a time from ``pos`` until the buffer empties or
        ``self._loop_length`` packets are done; returns the next position.

        The columns are read as Python numbers a slice at a time (indexing numpy arrays
        element by element costs more than the loop's own work) and the departures and drops
        are written back in one assignment each; the arithmetic is the same float64 either way.
        """
        limit, by_bytes = self.limit, self.by_bytes
        queue = deque(zip(self._sys_depart.tolist(), self._sys_size.tolist(), strict=True))
        held = sum(size for _, size in queue) if by_bytes else len(queue)
        free = self.free_s
        end = min(arrival_s.size, pos + self._loop_length)
        first = pos
        out: list[float] = []  # per packet from ``first``: its departure, NaN when dropped
        dropped: list[int] = []
        nan = math.nan
        popleft, push = queue.popleft, queue.append
        step = 64
        emptied = False
        while pos < end and not emptied:
            stop = min(end, pos + step)
            step = min(step * 2, 1 << 14)
            sizes = size_bytes[pos:stop].tolist()
            for a, service, size in zip(
                arrival_s[pos:stop].tolist(), service_s[pos:stop].tolist(), sizes, strict=True
            ):
                while queue and queue[0][0] <= a:
                    gone = popleft()[1]
                    held -= gone if by_bytes else 1
                if held + (size if by_bytes else 1) > limit:
                    dropped.append(pos)
                    out.append(nan)
                else:
                    free = (free if free > a else a) + service  # max(a, free), inlined
                    out.append(free)
                    push((free, size))
                    held += size if by_bytes else 1
                pos += 1
                if not queue:
                    emptied = True
                    break
        depart[first:pos] = out
        if dropped:
            fate[dropped] = DROPPED
        self.free_s = free
        self._sys_depart = np.array([d for d, _ in queue], dtype=np.float64)
        self._sys_size = np.array([s for _, s in queue], dtype=np.int64)
        return pos
