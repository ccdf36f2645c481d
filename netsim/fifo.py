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

from . import compiled
from .capacity import ServiceCurve
from .packetlog import DROPPED

__all__ = ["FifoQueue", "lindley_departures"]

_NONE = np.empty(0, dtype=np.int64)
_STEPS = np.arange((1 << 16) + 1)  # 0, 1, 2, ... (read only)
_STEPS.flags.writeable = False


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

    A finite buffer is served by :mod:`netsim.compiled`'s compiled pass when numba is
    installed (the same results to the bit), else by the numpy stretches below;
    ``use_compiled = False`` on a queue (or its class) forces the numpy version.
    """

    use_compiled = True

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
        self._loop_length = compiled.LOOP_MIN
        # Packets the numpy version served with a finite buffer, and of those, through its
        # overflow loop (its slow part); see netsim.compiled.switch_after.
        self.finite_packets = 0
        self.loop_packets = 0

    def serve(self, arrival_s: np.ndarray, size_bytes: np.ndarray, fate: np.ndarray) -> np.ndarray:
        """Departure times of arrivals sorted by time; refused packets get ``fate`` DROPPED
        and a NaN departure."""
        if self.curve is not None:
            # The same recursion on cumulative work: "times" are W(t), services are bytes.
            arrival_s = self.curve.work_at(arrival_s)
            service_s = size_bytes.astype(np.float64)
        else:
            service_s = size_bytes * (8.0 / self.capacity_bps)
        if not self.unlimited and arrival_s.size and self.use_compiled and compiled.active():
            depart = compiled.serve_finite(self, arrival_s, service_s, size_bytes, fate, DROPPED)
        elif not self.unlimited:
            depart = self._serve_finite(arrival_s, service_s, size_bytes, fate)
        else:
            depart = lindley_departures(arrival_s, service_s, self.free_s)
            if depart.size:
                self.free_s = float(depart[-1])
        if self.curve is not None:
            depart = self.curve.time_of_served(depart)
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
        self.finite_packets += n
        depart = np.full(n, np.nan)
        limit, by_bytes = self.limit, self.by_bytes
        pos = 0
        while pos < n:
            stop = min(n, pos + compiled.STRETCH)
            # The stretch's departures, bound and occupancy at each packet depend only on the
            # packets before it, so a short head is tried first: where the bound fails on the
            # head it fails on the stretch, and an overflow in the head is the stretch's first.
            head = min(stop, pos + 256) if self._loop_length > compiled.LOOP_MIN else stop
            held, held_size = self._sys_depart, self._sys_size
            while True:
                a, size = arrival_s[pos:head], size_bytes[pos:head]
                d = lindley_departures(a, service_s[pos:head], self.free_s)
                if self._cannot_overflow(a, d, size, held_size):
                    over = _NONE
                else:
                    all_depart = np.concatenate([held, d])
                    k = np.arange(held.size, all_depart.size)
                    # Packets ahead of packet k still in the system; with zero service time
                    # packet k itself has departed at its arrival, so never look past it.
                    first_in_system = np.minimum(np.searchsorted(all_depart, a, side="right"), k)
                    if by_bytes:
                        all_size = np.concatenate([held_size, size])
                        cum = np.concatenate([[0], np.cumsum(all_size)])
                        occupancy = cum[k] - cum[first_in_system] + size
                    else:
                        occupancy = k - first_in_system + 1
                    over = np.flatnonzero(occupancy > limit)
                    if over.size or head == stop:
                        break
                if head == stop:
                    break
                head = stop  # no overflow in the head (or no proof there): the whole stretch
            good = int(over[0]) if over.size else stop - pos
            if good:
                depart[pos : pos + good] = d[:good]
                self.free_s = float(d[good - 1])
                # Those admitted still in the system after the last packet taken: departures
                # are sorted (FIFO), so a suffix.
                last = arrival_s[pos + good - 1]
                gone = int(np.searchsorted(held, last, side="right"))
                if gone < held.size:
                    self._sys_depart = np.concatenate([held[gone:], d[:good]])
                    taken = size_bytes[pos : pos + good]
                    self._sys_size = np.concatenate([held_size[gone:], taken])
                else:
                    gone = int(np.searchsorted(d[:good], last, side="right"))
                    self._sys_depart = d[gone:good].copy()
                    self._sys_size = size_bytes[pos + gone : pos + good].copy()
            pos += good
            if over.size:
                start = pos
                pos = self._serve_loop(pos, arrival_s, service_s, size_bytes, fate, depart)
                self.loop_packets += pos - start
                self._loop_length = (
                    min(self._loop_length * 2, compiled.LOOP_MAX) if pos < n else compiled.LOOP_MIN
                )
            else:
                self._loop_length = compiled.LOOP_MIN
        return depart

    def _cannot_overflow(
        self, arrival: np.ndarray, done: np.ndarray, size: np.ndarray, held_size: np.ndarray
    ) -> bool:
        """A cheap, exact proof that no packet of a stretch finds the buffer full.

        The packets still in the system when packet n arrives are the one in service and
        those wholly unserved, so they hold at most the unserved work U_n plus one packet
        (the one in service counts whole): bytes <= U_n + max size, packets <= U_n / min
        size + 1. When both bounds, with packet n added, are within the limit for every
        packet, the exact occupancy search is skipped. ``arrival`` and ``done`` are on the
        queue's clock (seconds, or bytes of work with a curve); ``size`` are the stretch's
        sizes, ``held_size`` those of the packets in the system before it.

        Each bound is a non-decreasing function of U_n (float rounding is monotone), so
        its largest value is the bound of the largest U_n, except for bytes with sizes
        that vary, where the packet's own size enters too.
        """
        unserved = np.empty_like(done)
        unserved[0] = self.free_s - arrival[0]
        np.subtract(done[:-1], arrival[1:], out=unserved[1:])
        varying = self.by_bytes and size.size > 1 and size.min() != size.max()
        most = max(float(unserved.max()), 0.0) if not varying else 0.0
        if varying:
            np.maximum(unserved, 0.0, out=unserved)
        if self.curve is None:
            if not np.isfinite(self.capacity_bps):
                return bool(self.limit >= (size.max() if self.by_bytes else 1))
            if varying:
                unserved *= self.capacity_bps / 8.0  # seconds of work -> bytes
            else:
                most *= self.capacity_bps / 8.0
        if self.by_bytes:
            biggest = float(max(size.max(), held_size.max() if held_size.size else 0))
            if varying:
                return bool((unserved + biggest + size).max() <= self.limit)
            return bool(most + biggest + float(size[0]) <= self.limit)
        smallest = min(size.min(), held_size.min() if held_size.size else size.min())
        count = float(np.floor(most / float(max(smallest, 1)))) + 2.0
        return bool(count <= self.limit)

    def _serve_loop(self, pos, arrival_s, service_s, size_bytes, fate, depart) -> int:
        """Admit or drop packets one at a time from ``pos`` until the buffer empties or
        ``self._loop_length`` packets are done; returns the next position.

        Packets of one size take :meth:`_serve_equal`, the same recursion in closed form and
        the same results to the bit; any others the per-packet loop, :meth:`_serve_each`.
        """
        end = min(arrival_s.size, pos + self._loop_length)
        most = self._most_held(pos, end, service_s, size_bytes)
        if most:
            service, size = float(service_s[pos]), int(size_bytes[pos])
            pos = self._serve_equal(pos, end, arrival_s, service, size, most, fate, depart)
        if pos < end:
            pos = self._serve_each(pos, end, arrival_s, service_s, size_bytes, fate, depart)
        return pos

    def _most_held(self, pos: int, end: int, service_s: np.ndarray, size_bytes: np.ndarray) -> int:
        """How many packets the buffer holds at most, when the packets ``pos:end`` and those
        in the system all have one size, which fits the buffer (:meth:`_serve_equal`'s case);
        else 0."""
        if end - pos < 8 or not math.isfinite(self.limit):
            return 0
        sizes = size_bytes[pos:end]
        size = int(sizes[0])
        if not (sizes == size).all() or not (self._sys_size == size).all():
            return 0
        service = float(service_s[pos])
        if not 0.0 < service < math.inf:
            return 0
        unit = size if self.by_bytes else 1
        most = max(int(min(self.limit // unit, 2.0**40)), 0)  # most * unit <= limit
        while most < 2**40 and (most + 1) * unit <= self.limit:
            most += 1
        while most > 0 and most * unit > self.limit:
            most -= 1
        return most

    def _serve_equal(self, pos, end, arrival_s, service, size, most, fate, depart) -> int:
        """:meth:`_serve_each` from ``pos`` to ``end`` for packets of one size, in closed form
        and to the bit; returns the position reached (``end``, or earlier to leave the rest to
        the loop). Busy stretches that drop take :meth:`_busy_run`, idle ones
        :meth:`_idle_run`, alternately.
        """
        held = self._sys_depart
        free = self.free_s
        if held.size and not (held[-1] == free and (held[1:] >= held[:-1]).all()):
            return pos
        if not held.size and free > float(arrival_s[pos]):
            return pos  # not a state the queue is left in; the loop takes over
        start = pos
        chunks = [256, 1024]  # the next stretch's length for each kind, adapted as they go
        while pos < end:
            if free <= float(arrival_s[pos]):  # the system is empty: try the idle stretch
                stop = min(end, pos + chunks[1])
                took = self._idle_run(arrival_s[pos:stop], service, most, depart, pos)
                if took[0]:
                    pos, free, held = pos + took[0], took[1], took[2]
                    if pos >= end:
                        break
                chunks[1] = min(max(256, 2 * took[0]) if pos < stop else 2 * chunks[1], 1 << 16)
            stop = min(end, pos + chunks[0])
            took, free, held = self._busy_run(
                arrival_s[pos:stop], service, most, free, held, fate, depart, pos
            )
            chunks[0] = min(chunks[0] * 2 if took == stop - pos else max(64, 2 * took), 1 << 16)
            pos += took
        if pos > start:
            self.free_s = free
            self._sys_depart = held
            self._sys_size = np.full(held.size, size, dtype=np.int64)
        return pos

    @staticmethod
    def _busy_run(a, service, most, free, held, fate, depart, pos):
        """Serve arrivals ``a`` (one size, from packet ``pos``) up to the first that finds the
        system empty, the first excepted; returns ``(packets served, free, held)``.

        What the buffer holds is counted by the packets admitted (``c``) and those of them
        that have left (``e``). While the server stays busy the k-th packet admitted leaves at
        ``D_k = D_{k-1} + service`` (the loop's ``max(a, free) + service`` is
        ``free + service`` then), one float sequence whatever is dropped, so ``e_n`` at
        arrival ``a_n`` is a binary search in it. Packet n is admitted when
        ``c_n - e_n < most``, i.e. ``c_{n+1} = min(c_n + 1, e_n + most)``, so
        ``c_n = n - 1 + min(c_0 + 1, min_{j<n} (e_j + most - j))``.
        """
        m = a.size
        first = float(a[0])
        if free > first and held.size:  # busy: the chain goes on from held[-1] == free
            h = held.size
            departures = np.empty(h + m)
            departures[:h] = held
            departures[h:] = service
            chain = departures[h - 1 :]
        else:  # empty: what it held has left (counts shift alike), the chain starts at a_0
            h = 0
            chain = np.full(m + 1, service)
            chain[0] = free if free > first else first  # max(a, free), as in the loop
            departures = chain[1:]
        np.cumsum(chain, out=chain)  # the loop's additions, one at a time
        left = np.searchsorted(departures, a, side="right")  # e_n: departures <= a_n
        steps = _STEPS[:m]
        bound = left - steps
        bound += most
        np.minimum.accumulate(bound, out=bound)
        np.minimum(bound, h + 1, out=bound)
        count = np.empty(m + 1, dtype=np.int64)  # c_n: admitted before packet n
        count[0] = h
        np.add(bound, steps, out=count[1:])
        # The system is empty before packet n >= 1 when every admitted packet has left.
        empty = np.flatnonzero(count[1:m] <= left[1:])
        take = int(empty[0]) + 1 if empty.size else m
        count = count[: take + 1]
        admit = count[1:] > count[:-1]
        depart[pos : pos + take] = departures[count[:-1]]
        if not admit.all():
            drop = pos + np.flatnonzero(~admit)
            depart[drop] = np.nan
            fate[drop] = DROPPED
        total = int(count[-1])
        if total > h:
            free = float(departures[total - 1])
        held = departures[min(int(left[take - 1]), int(count[-2])) : total]
        return take, free, held

    @staticmethod
    def _idle_run(a, service, most, depart, pos):
        """Serve arrivals ``a`` (one size, from packet ``pos``, the system empty at the
        first) while none is dropped; returns ``(packets served, free, held)`` (0 served:
        ``(0, None, None)``).

        Without drops a busy period starting at arrival ``v`` sends its j-th packet at
        ``v + j * service``, computed at once: the loop's additions one at a time give the
        same floats when no rounding occurs in them, which holds when ``service`` is a multiple
        of ``ulp(v)`` and the period's last departure is below ``2**53 * ulp(v)`` (every
        partial sum is then a representable multiple of ``ulp(v)``: so on the work clock of a
        service curve, not on a constant rate's seconds). The periods come from a float
        Lindley pass and are checked exactly, as are the exactness and that nothing
        overflows; the run stops at the first packet failing a check.
        """
        m = a.size
        guess = np.empty(m, dtype=bool)  # where a busy period starts, by float arithmetic
        guess[0] = True
        rough = lindley_departures(a, np.full(m, service), -math.inf)
        np.greater_equal(a[1:], rough[:-1], out=guess[1:])
        starts = np.flatnonzero(guess)
        period = np.cumsum(guess) - 1
        begin = a[starts]
        length = np.diff(np.append(starts, m))
        unit = np.spacing(begin)
        exact = (np.fmod(service, unit) == 0.0) & (length * service < unit * 2.0**53 - begin)
        rank = _STEPS[1 : m + 1] - starts[period]  # j: 1 for a period's first packet
        done = begin[period] + rank * service
        bad = np.flatnonzero(~exact)
        stop = int(starts[bad[0]]) if bad.size else m
        # The loop starts a period where the previous packet has left by the arrival.
        wrong = np.flatnonzero((done[:-1] <= a[1:]) != guess[1:]) + 1
        if wrong.size:
            stop = min(stop, int(wrong[0]))
        left = np.searchsorted(done, a, side="right")
        over = np.flatnonzero(_STEPS[:m] - left >= most)  # held + this one > the limit
        if over.size:
            stop = min(stop, int(over[0]))
        if not stop:
            return 0, None, None
        depart[pos : pos + stop] = done[:stop]
        return stop, float(done[stop - 1]), done[int(left[stop - 1]) : stop]

    def _serve_each(self, pos, end, arrival_s, service_s, size_bytes, fate, depart) -> int:
        """Admit or drop packets one at a time from ``pos`` until the buffer empties or
        ``end`` is reached; returns the next position.

        The columns are read as Python numbers a slice at a time (indexing numpy arrays
        element by element costs more than the loop's own work) and the departures and drops
        are written back in one assignment each; the arithmetic is the same float64 either way.
        """
        limit, by_bytes = self.limit, self.by_bytes
        queue = deque(zip(self._sys_depart.tolist(), self._sys_size.tolist(), strict=True))
        held = sum(size for _, size in queue) if by_bytes else len(queue)
        free = self.free_s
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
