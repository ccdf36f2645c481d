"""Streaming estimators: a stream's statistics in memory that does not grow with the run.

Each takes a stream's packets a stretch at a time, in send order, and keeps a fixed amount of
state; together they give what :mod:`netsim.stats` computes from every packet (used by
:mod:`netsim.summaries` for runs with ``memory="bounded"``):

- :class:`QuantileSketch`: latency percentiles within a stated relative error :data:`ALPHA`
  (a log-bucketed histogram, as DDSketch: Masson, Rim and Lee, "DDSketch: a fast and
  fully-mergeable quantile sketch with relative-error guarantees", VLDB 2019); count, sum,
  minimum and maximum exact;
- :class:`BatchMeans`: batch-means confidence intervals (Law & Kelton §9.5.3), with batches
  that double in length as the run goes on (between :data:`netsim.stats.BATCHES` and twice
  as many at the end, instead of exactly that many; down to 10 for a percentile deep in
  the tail);
- :class:`ArrivalJitter`: the RFC 3550 interarrival jitter in order of arrival, exactly
  the recursion :func:`netsim.stats.rfc3550_jitter` evaluates, holding back only the packets
  that a later one might still overtake;
- :class:`Bursts`: loss bursts, exactly;
- :class:`Bins`: the per-bin series (packets sent and delivered, p50, p99 and maximum
  latency by send time) exactly, holding only the bin still open; :class:`KeyedPercentile`
  likewise for any key that never decreases along the send order (a route's km).

**Simpler than exact.** Only the percentiles (and the intervals built on them) are
approximate, and by at most :data:`ALPHA` of their value (0.01 %: 5 µs at 50 ms). The
mean differs from numpy's by summation order (a few ulps).
"""

from __future__ import annotations

import math

import numpy as np

from .stats import (
    BATCHES,
    SMOOTH_BLOCK,
    _min_batch,
    _smooth_padded,
    _t_quantile,
    numpy_lerp,
    numpy_ranks,
)

__all__ = ["ALPHA", "BATCH_ALPHA", "FLOOR_S", "QuantileSketch", "BatchMeans",
           "ArrivalJitter", "Bursts", "Bins", "KeyedPercentile", "numpy_rank"]  # fmt: skip

ALPHA = 1e-4
"""Relative accuracy of a stream's latency percentiles in a bounded run."""

BATCH_ALPHA = 1e-3
"""Relative accuracy of each batch's percentile in :class:`BatchMeans` (an interval's
half-width is the spread of these, so 0.1 % of the value is far below what it measures)."""

FLOOR_S = 1e-12
"""Values at or below this (seconds) count as 0 in a sketch: an absolute error of 1 ps."""


def numpy_rank(n: int, q: float) -> tuple[int, int, float]:
    """Where numpy's linear-interpolation percentile ``q`` (0-100) of ``n`` sorted values
    falls: the two order statistics it interpolates (0-based) and the weight of the upper
    (:func:`netsim.stats.numpy_ranks` for one percentile)."""
    lo, hi, gamma = numpy_ranks(n, [q / 100.0])
    return int(lo[0]), int(hi[0]), float(gamma[0])


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's interpolation between two order statistics (:func:`netsim.stats.numpy_lerp`
    for one pair)."""
    return float(numpy_lerp(np.array([a]), np.array([b]), np.array([t]))[0])


class OrderedSum:
    """A running sum whose rounding depends on the values and their order only, not on how
    they were handed in: numpy's (pairwise) sum of each block of :data:`SUM_BLOCK` values,
    and the blocks' sums one after another. So a run gives the same mean whatever its
    window length, as the exact record does."""

    def __init__(self) -> None:
        self.total = 0.0
        self.held = np.empty(SUM_BLOCK)
        self.k = 0

    def add(self, values: np.ndarray) -> None:
        at, n = 0, values.size
        if self.k:
            at = min(SUM_BLOCK - self.k, n)
            self.held[self.k : self.k + at] = values[:at]
            self.k += at
            if self.k < SUM_BLOCK:
                return
            self.total += float(self.held.sum())
            self.k = 0
        full = (n - at) // SUM_BLOCK
        if full:
            for block_sum in values[at : at + full * SUM_BLOCK].reshape(full, SUM_BLOCK).sum(1):
                self.total += float(block_sum)
            at += full * SUM_BLOCK
        self.k = n - at
        self.held[: self.k] = values[at:]

    def value(self) -> float:
        return self.total + float(self.held[: self.k].sum()) if self.k else self.total

    def absorb(self, other: OrderedSum) -> None:
        """Add ``other``'s sum (what follows is then summed from a fresh block)."""
        self.total = self.value() + other.value()
        self.k = 0


SUM_BLOCK = 1024


class QuantileSketch:
    """Counts of values in buckets ``(gamma^(i-1), gamma^i]``, ``gamma = (1+a)/(1-a)``.

    Every bucket's representative ``2 gamma^i / (gamma + 1)`` is within a relative ``a`` of
    every value in it, so any order statistic, and numpy's interpolation between two, is
    within ``a`` of the exact one. The buckets are a dense array over the range the values
    have reached: its size is ``log(max/min) / log(gamma)``, about 60,000 for 5 ms to 2 s at
    the default accuracy, whatever the number of values. Count, sum, minimum and maximum are
    exact; the lowest and highest order statistics are the exact minimum and maximum.
    """

    def __init__(self, alpha: float = ALPHA) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = alpha
        self.gamma = (1.0 + alpha) / (1.0 - alpha)
        self._log_gamma = math.log1p(2.0 * alpha / (1.0 - alpha))
        self.offset = 0  # the key of counts[0]
        self.counts = np.zeros(0, dtype=np.int64)
        self.zeros = 0  # values <= FLOOR_S
        self.n = 0
        self.sum = OrderedSum()
        self.min = math.inf
        self.max = -math.inf

    def _cover(self, lo: int, hi: int) -> None:
        if not self.counts.size:
            self.offset, self.counts = lo, np.zeros(hi - lo + 1, dtype=np.int64)
            return
        first, last = min(lo, self.offset), max(hi, self.offset + self.counts.size - 1)
        if first == self.offset and last == self.offset + self.counts.size - 1:
            return
        grown = np.zeros(last - first + 1, dtype=np.int64)
        at = self.offset - first
        grown[at : at + self.counts.size] = self.counts
        self.offset, self.counts = first, grown

    def add(self, values: np.ndarray) -> None:
        """Count ``values`` (finite, >= 0)."""
        if not values.size:
            return
        self.n += int(values.size)
        self.sum.add(values)
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        positive = values > FLOOR_S
        if not positive.all():
            self.zeros += int(values.size - np.count_nonzero(positive))
            values = values[positive]
            if not values.size:
                return
        keys = np.ceil(np.log(values) / self._log_gamma).astype(np.int64)
        lo = int(keys.min())
        self._cover(lo, int(keys.max()))
        keys -= lo
        found = np.bincount(keys)
        at = lo - self.offset
        self.counts[at : at + found.size] += found

    def merge(self, other: QuantileSketch) -> None:
        """Add ``other``'s values (same accuracy)."""
        if other.alpha != self.alpha:
            raise ValueError("sketches of different accuracy do not merge")
        self.n += other.n
        self.sum.absorb(other.sum)
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)
        self.zeros += other.zeros
        if other.counts.size:
            top = other.offset + other.counts.size - 1
            self._cover(other.offset, top)
            at = other.offset - self.offset
            self.counts[at : at + other.counts.size] += other.counts

    def order_statistic(self, k: int) -> float:
        """About the ``k``-th smallest value (0-based), within a relative ``alpha``."""
        if not 0 <= k < self.n:
            raise IndexError(f"order statistic {k} of {self.n} values")
        if k == 0:
            return self.min
        if k == self.n - 1:
            return self.max
        if k < self.zeros:
            return max(0.0, self.min)
        bucket = int(np.searchsorted(np.cumsum(self.counts), k - self.zeros, side="right"))
        value = 2.0 * math.exp((bucket + self.offset) * self._log_gamma) / (self.gamma + 1.0)
        return min(max(value, self.min), self.max)

    def percentile(self, q: float) -> float:
        """numpy's ``percentile(values, q)`` (linear interpolation), within ``alpha``; NaN
        for no values."""
        if not self.n:
            return math.nan
        lower, upper, t = numpy_rank(self.n, q)
        a = self.order_statistic(lower)
        return a if upper == lower else _lerp(a, self.order_statistic(upper), t)

    @property
    def total(self) -> float:
        return self.sum.value()

    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def nbytes(self) -> int:
        return int(self.counts.nbytes + self.sum.held.nbytes)


MIN_BATCHES = 10
"""The fewest batches :class:`BatchMeans` forms an interval from."""


def _pairs(batches: list[QuantileSketch]) -> list[QuantileSketch]:
    """Neighbouring batches merged two by two (a last odd one left out), as new sketches."""
    out = []
    for i in range(0, len(batches) - 1, 2):
        merged = QuantileSketch(batches[i].alpha)
        merged.merge(batches[i])
        merged.merge(batches[i + 1])
        out.append(merged)
    return out


class BatchMeans:
    """Batch-means intervals from values in time order, in fixed memory.

    Values fill batches of ``size`` in turn; when ``2 * batches`` are full, neighbours merge
    pairwise and ``size`` doubles. At the end there are between ``batches`` and ``2 *
    batches - 1`` full batches of equal length (the values of a last, partial one are left
    out, as :func:`netsim.stats.batch_means_ci` leaves out the remainder). Each batch keeps
    its count, sum and a :class:`QuantileSketch`. A percentile whose batches would be too
    short merges them pairwise, down to :data:`MIN_BATCHES`.
    """

    def __init__(self, batches: int = BATCHES, alpha: float = BATCH_ALPHA) -> None:
        self.batches, self.alpha = batches, alpha
        self.size = 1
        self.full: list[QuantileSketch] = []
        self.current = QuantileSketch(alpha)

    def add(self, values: np.ndarray) -> None:
        at = 0
        while at < values.size:
            take = min(self.size - self.current.n, values.size - at)
            self.current.add(values[at : at + take])
            at += take
            if self.current.n == self.size:
                self.full.append(self.current)
                self.current = QuantileSketch(self.alpha)
                if len(self.full) == 2 * self.batches:
                    for i in range(self.batches):
                        self.full[2 * i].merge(self.full[2 * i + 1])
                    self.full = self.full[0::2]
                    self.size *= 2

    def intervals(
        self, wanted: dict[str, float | None], centres: dict[str, float], level: float = 0.95
    ) -> dict[str, tuple[float, float] | None]:
        """For each key, a ``level`` interval around ``centres[key]`` for the mean (``q``
        None) or the q-th percentile; None where a batch is too short (as
        :func:`netsim.stats.batch_means_ci`)."""
        out: dict[str, tuple[float, float] | None] = {key: None for key in wanted}
        for key, q in wanted.items():
            batches, size = self.full, self.size
            # A percentile far in the tail needs longer batches: merge neighbours while at
            # least MIN_BATCHES remain (Law & Kelton advise 10 to 30).
            while size < _min_batch(q) and len(batches) // 2 >= MIN_BATCHES:
                batches, size = _pairs(batches), 2 * size
            k = len(batches)
            if k < 2 or size < _min_batch(q):
                continue
            if q is None:
                estimates = np.array([b.mean() for b in batches])
            else:
                estimates = np.array([b.percentile(q) for b in batches])
            scale = _t_quantile(0.5 + level / 2.0, k - 1) / math.sqrt(k)
            half = scale * float(estimates.std(ddof=1))
            out[key] = (centres[key] - half, centres[key] + half)
        return out

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.full) + self.current.nbytes


class ArrivalJitter:
    """RFC 3550 §6.4.1 jitter over delivered packets in order of arrival, streamed.

    Packets come in send order, a stretch at a time. Arrival order is a stable sort by
    receive time; a packet sent later arrives no earlier than it was sent, so once a stretch
    is in, every packet received by the stretch's last send time is in its final place and
    goes into the recursion; the rest wait for the next stretch. What waits is what was in
    flight at that moment, not the run.

    The recursion runs in blocks of :data:`netsim.stats.SMOOTH_BLOCK` differences counted
    from the first, chained as :func:`netsim.stats.jitter_in_arrival_order` chains them, so
    every J, and the final one, is that function's to the bit; their mean is summed by
    :class:`OrderedSum` (the same to a few ulps, and the same for any window length).
    """

    def __init__(self) -> None:
        self.held_t = np.empty(0)  # receive times of the packets held, in arrival order
        self.held_x = np.empty(0)  # their transit times
        self.previous: float | None = None  # the last transit time taken
        self.d: list[np.ndarray] = []  # |D| not yet in a whole block
        self.j = 0.0
        self.sum = OrderedSum()
        self.m = 0

    def add(self, t_recv: np.ndarray, transit: np.ndarray, settled_s: float) -> None:
        """Delivered packets ``(t_recv, transit)`` in send order; every packet still to come
        is received after ``settled_s``."""
        t = np.concatenate([self.held_t, t_recv])
        x = np.concatenate([self.held_x, transit])
        order = np.argsort(t, kind="stable")
        t, x = t[order], x[order]
        ready = int(np.searchsorted(t, settled_s, side="right"))
        self._take(x[:ready])
        self.held_t, self.held_x = t[ready:], x[ready:]

    def _take(self, x: np.ndarray, last: bool = False) -> None:
        if x.size:
            if self.previous is None:
                self.previous, x = float(x[0]), x[1:]
            if x.size:
                self.d.append(np.abs(np.diff(x, prepend=self.previous)))
                self.previous = float(x[-1])
        d = np.concatenate(self.d) if len(self.d) > 1 else self.d[0] if self.d else np.empty(0)
        whole = d.size if last else d.size - d.size % SMOOTH_BLOCK
        if whole:
            self._smooth(d[:whole])
        self.d = [d[whole:]] if whole < d.size else []

    def _smooth(self, d: np.ndarray) -> None:
        blocks = -(-d.size // SMOOTH_BLOCK)
        padded = np.zeros(blocks * SMOOTH_BLOCK)
        padded[: d.size] = d
        j = _smooth_padded(padded, d.size, SMOOTH_BLOCK, 1.0 / 16.0, initial=self.j)
        self.sum.add(j)
        self.j = float(j[-1])
        self.m += int(d.size)

    def finish(self) -> tuple[float, float]:
        """(mean of J over the run, final J), seconds; NaN with fewer than two packets."""
        self._take(self.held_x, last=True)
        self.held_t = self.held_x = np.empty(0)
        if not self.m:
            return math.nan, math.nan
        return self.sum.value() / self.m, self.j


class Bursts:
    """Runs of consecutive lost packets, from the lost mask a stretch at a time."""

    def __init__(self) -> None:
        self.count = self.total = self.longest = self.run = 0

    def _close(self) -> None:
        if self.run:
            self.count += 1
            self.total += self.run
            self.longest = max(self.longest, self.run)
            self.run = 0

    def add(self, lost: np.ndarray) -> None:
        if not lost.size:
            return
        mask = lost.astype(np.int8)
        zero = np.zeros(1, dtype=np.int8)
        edges = np.diff(np.concatenate([zero, mask, zero]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        if not starts.size:
            self._close()
            return
        lengths = (ends - starts).tolist()
        if starts[0] == 0:
            lengths[0] += self.run
            self.run = 0
        else:
            self._close()
        open_end = int(ends[-1]) == lost.size
        for length in lengths[:-1] if open_end else lengths:
            self.run = length
            self._close()
        self.run = lengths[-1] if open_end else 0

    def finish(self) -> dict[str, float]:
        """As :func:`netsim.stats.loss_bursts`."""
        self._close()
        if not self.count:
            return {"count": 0, "mean_length": 0.0, "max_length": 0}
        mean = float(np.float64(self.total) / np.float64(self.count))
        return {"count": self.count, "mean_length": mean, "max_length": self.longest}


class _MonotoneKeys:
    """Per key that never decreases along a stream's send order (a time bin, the km of a
    route): packets sent and delivered, and figures of each key's delivered latencies, exact.
    A key is complete once a later key has a packet: only the open key's latencies are held.
    Subclasses give the keys of send times and the figures of a complete key."""

    def __init__(self, n_keys: int) -> None:
        self.sent = np.zeros(n_keys, dtype=np.int64)
        self.delivered = np.zeros(n_keys, dtype=np.int64)
        self.open = 0
        self.held: list[np.ndarray] = []

    def keys(self, t_send: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def close(self, key: int, values: np.ndarray) -> None:
        """The figures of a complete key from its latencies (``values``, ours to reorder)."""
        raise NotImplementedError

    def add(self, t_send: np.ndarray, delivered: np.ndarray, latency: np.ndarray) -> None:
        """All the stretch's packets' send times and delivered mask; the delivered ones'
        latencies (in send order)."""
        if not t_send.size:
            return
        keys = self.keys(t_send)
        if keys[0] < self.open or (keys[1:] < keys[:-1]).any():
            raise ValueError("a stream's packets must come in send order")
        n = self.sent.size
        self.sent += np.bincount(keys, minlength=n)
        got = keys[delivered]
        self.delivered += np.bincount(got, minlength=n)
        last = int(keys[-1])
        # Where each key's latencies start in this stretch (they are contiguous).
        bounds = np.searchsorted(got, np.arange(self.open, last + 1), side="left").tolist()
        bounds.append(got.size)
        for k in range(self.open, last):
            self._flush(k, [*self.held, latency[bounds[k - self.open] : bounds[k - self.open + 1]]])
            self.held = []
        self.held.append(latency[bounds[last - self.open] :].copy())
        self.open = last

    def _flush(self, key: int, parts: list[np.ndarray]) -> None:
        values = np.concatenate(parts) if parts else np.empty(0)  # a new array
        if values.size:
            self.close(key, values)

    def finish_keys(self) -> None:
        self._flush(self.open, self.held)
        self.held = []


class Bins(_MonotoneKeys):
    """Per time bin (by send time): packets sent and delivered, and the p50, p99 and maximum
    of the delivered packets' latencies (the order statistics ``floor(q (n - 1))``, as
    :mod:`netsim.series` takes them), exact."""

    QUANTILES = (0.5, 0.99, 1.0)

    def __init__(self, edges: np.ndarray) -> None:
        n_bins = edges.size - 1
        super().__init__(n_bins)
        self.inner = edges[1:n_bins]
        self.stats = np.full((len(self.QUANTILES), n_bins), np.nan)

    def keys(self, t_send: np.ndarray) -> np.ndarray:
        # bin b holds edges[b] <= t < edges[b + 1]; the first and last also what is beyond
        return np.searchsorted(self.inner, t_send, side="right")

    def close(self, key: int, values: np.ndarray) -> None:
        n = values.size
        ranks = [int(math.floor(q * (n - 1))) for q in self.QUANTILES]
        if n > 1:
            values.partition(sorted(set(ranks)))
        for row, rank in enumerate(ranks):
            self.stats[row, key] = values[rank]

    def finish(self) -> tuple[np.ndarray, ...]:
        """(sent, delivered, p50, p99, max) per bin."""
        self.finish_keys()
        return self.sent, self.delivered, *self.stats


class KeyedPercentile(_MonotoneKeys):
    """Per key given by ``key(t_send)`` in ``[0, n_keys)``, never decreasing along the send
    order (the km of a route): packets sent and delivered, and numpy's q-th percentile of the
    delivered packets' latencies, exact."""

    def __init__(self, key, n_keys: int, q: float) -> None:
        super().__init__(n_keys)
        self.key, self.q = key, q
        self.value: list[float | None] = [None] * n_keys

    def keys(self, t_send: np.ndarray) -> np.ndarray:
        return self.key(t_send)

    def close(self, key: int, values: np.ndarray) -> None:
        self.value[key] = float(np.percentile(values, self.q))

    def finish(self) -> tuple[np.ndarray, np.ndarray, list]:
        """(sent, delivered, percentile or None) per key."""
        self.finish_keys()
        return self.sent, self.delivered, self.value
