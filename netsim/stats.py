"""Statistics of one stream from its packet columns: latency percentiles, RFC 3550 jitter, loss.

Every function takes numpy arrays in SI units and returns plain floats; the Results type turns
them into the units results.json shows (ms, Mbps).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from . import compiled

__all__ = [
    "PERCENTILES",
    "latency_summary",
    "latency_intervals",
    "rfc3550_jitter",
    "loss_bursts",
    "percentile",
    "numpy_ranks",
    "numpy_lerp",
    "quantiles_of_sorted",
    "Ascending",
    "batch_means_ci",
    "smooth_exponentially",
    "disordered_blocks",
    "jitter_in_arrival_order",
]

PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


def percentile(values: np.ndarray, q: float) -> float:
    """The q-th percentile (linear interpolation, numpy's default); NaN for no values."""
    return float(np.percentile(values, q)) if values.size else math.nan


def numpy_ranks(n: int, fractions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where numpy's linear-interpolation quantiles ``fractions`` (0-1) of ``n`` sorted
    values fall: the lower and upper order statistics it reads (0-based) and the upper's
    weight, computed as numpy.lib._function_base_impl computes them (the virtual index
    ``(n - 1) * f``, its floor and fractional part; past the end, the last value)."""
    virtual = (n - 1) * np.asarray(fractions, dtype=np.float64)
    lower = np.floor(virtual)
    last = virtual >= n - 1
    lo = np.where(last, n - 1, lower).astype(np.intp)
    hi = np.where(last, n - 1, lower + 1).astype(np.intp)
    return lo, hi, np.where(last, 0.0, virtual - lower)


def numpy_lerp(a: np.ndarray, b: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """numpy's interpolation between two order statistics (``_lerp``: from the lower end
    below a weight of 0.5, from the upper end from there on)."""
    diff = b - a
    out = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def quantiles_of_sorted(
    ascending: np.ndarray, fractions: np.ndarray | list[float], scale: float = 1.0
) -> np.ndarray:
    """``np.quantile(ascending * scale, fractions)`` (linear interpolation, numpy's default)
    from values already in ascending order, to the bit, without numpy's partition
    (:func:`numpy_ranks`, :func:`numpy_lerp`). Scaling by a positive ``scale`` keeps the
    order, so only the two values each quantile reads are scaled. ``tests/test_stats.py``
    compares it with ``np.quantile`` and ``np.percentile`` bit for bit. ``ascending`` must
    be non-empty and free of NaN.
    """
    lo, hi, gamma = numpy_ranks(ascending.size, fractions)
    a, b = ascending[lo], ascending[hi]
    if scale != 1.0:
        a, b = a * scale, b * scale
    return numpy_lerp(a, b, gamma)


class Ascending:
    """Delivered latencies sorted once, for every percentile a run reports of them.

    One sort of a stream's latencies (0.15 s for 13 million) replaces a partition per
    caller: the summary's four percentiles, each latency budget, and the quantile curve of
    the plots (a 132-point grid, 0.5 s by partition). The values are numpy's to the bit.
    """

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.sort(values)

    @property
    def size(self) -> int:
        return int(self.values.size)

    def percentiles(self, qs: list[float]) -> np.ndarray:
        return quantiles_of_sorted(self.values, np.true_divide(qs, 100))

    def percentile(self, q: float) -> float:
        """:func:`percentile` of the values."""
        return float(self.percentiles([q])[0]) if self.size else math.nan


def latency_summary(latency_s: np.ndarray, ascending: Ascending | None = None) -> dict[str, float]:
    """Mean, min, p50, p95, p99, p99.9 and max of delivered packets' latencies, in seconds.

    ``ascending`` (the same values sorted) saves partitioning them."""
    if not latency_s.size:
        return {k: math.nan for k in ("mean", "min", *PERCENTILES, "max")}
    wanted = list(PERCENTILES.values())
    if ascending is not None:
        qs = ascending.percentiles(wanted)
        low, high = ascending.values[0], ascending.values[-1]
    else:
        qs = np.percentile(latency_s, wanted)
        low, high = latency_s.min(), latency_s.max()
    summary = {"mean": float(latency_s.mean()), "min": float(low)}
    summary.update({key: float(v) for key, v in zip(PERCENTILES, qs, strict=True)})
    summary["max"] = float(high)
    return summary


def rfc3550_jitter(
    t_send_s: np.ndarray | None, t_recv_s: np.ndarray, transit_s: np.ndarray | None = None
) -> tuple[float, float]:
    """RFC 3550 §6.4.1 interarrival jitter over delivered packets taken in order of arrival.

    ``J += (|D| - J) / 16`` with ``D`` the difference of consecutive transit times, starting
    from J = 0. Returns (mean of J over the run, final J), in seconds; NaN with fewer than two
    packets. The recursion is evaluated exactly by :func:`smooth_exponentially`.
    ``transit_s`` (``t_recv_s - t_send_s``), when the caller has it, saves recomputing it
    (``t_send_s`` may then be None).
    """
    if t_recv_s.size < 2:
        return math.nan, math.nan
    transit = t_recv_s - t_send_s if transit_s is None else transit_s

    def pieces():
        for a in range(0, t_recv_s.size, ORDER_CHUNK):
            yield t_recv_s[a : a + ORDER_CHUNK]

    return jitter_in_arrival_order(transit, pieces)


ORDER_CHUNK = 1 << 20


def disordered_blocks(recv_pieces: Callable[[], Iterable[np.ndarray]]):
    """Where taking packets by arrival (a stable sort of their receive times) moves them.

    ``recv_pieces()`` gives the receive times in send order, in consecutive pieces (it is
    called twice). Yields ``(start, stop, t)`` for the stretches ``start:stop`` that a stable
    sort reorders, with ``t`` their receive times; the sort moves no packet across a
    stretch's ends. The order can be cut between positions ``i`` and ``i + 1`` exactly when
    ``max(t[:i+1]) <= min(t[i+1:])``, and then a stable sort of the whole is the stable sorts
    of the two sides one after the other; stretches end at the last such cut of each piece,
    so no temporary is the size of the whole (receive times are nearly sorted: a FIFO link
    keeps order, only reordering jitter or parallel paths swap packets, so a stretch rarely
    spans more than a piece or two).
    """
    minima = []
    previous = -np.inf
    disordered = False
    for piece in recv_pieces():
        if not piece.size:
            continue
        minima.append(piece.min())
        disordered = disordered or piece[0] < previous or bool((piece[1:] < piece[:-1]).any())
        previous = piece[-1]
    if not disordered:
        return
    # min(t[c:]) from the start c of each piece on, then +inf past the end.
    tail_min = np.minimum.accumulate(np.array(minima)[::-1])[::-1]
    tail_min = np.append(tail_min, np.inf)
    held: list[np.ndarray] = []  # receive times since the last cut
    start = 0  # position of the last cut
    c = 0  # position of the current piece
    running_max = -np.inf
    k = 0
    for piece in recv_pieces():
        if not piece.size:
            continue
        prefix_max = np.maximum.accumulate(piece)
        np.maximum(prefix_max, running_max, out=prefix_max)
        running_max = float(prefix_max[-1])
        # min(t[c + i + 1:]) for each i of the piece: its suffix minima shifted by one.
        after = np.empty_like(piece)
        np.minimum.accumulate(piece[:0:-1], out=after[-2::-1])
        after[-1] = np.inf
        np.minimum(after, tail_min[k + 1], out=after)
        cut = np.flatnonzero(prefix_max <= after)
        if cut.size:
            end = int(cut[-1]) + 1  # a cut between positions end - 1 and end of the piece
            block = np.concatenate([*held, piece[:end]]) if held else piece[:end]
            if (block[1:] < block[:-1]).any():
                yield start, c + end, block
            held, start = [piece[end:]], c + end
        else:
            held.append(piece)
        c += piece.size
        k += 1
    block = np.concatenate(held) if len(held) > 1 else held[0] if held else np.empty(0)
    if block.size > 1 and (block[1:] < block[:-1]).any():  # pragma: no cover - a cut ends it
        yield start, c, block


def jitter_in_arrival_order(
    transit_s: np.ndarray, recv_pieces: Callable[[], Iterable[np.ndarray]]
) -> tuple[float, float]:
    """:func:`rfc3550_jitter` from transit times in send order and the receive times in
    pieces (as :func:`disordered_blocks` takes them)."""
    n = transit_s.size
    if n < 2:
        return math.nan, math.nan
    m = n - 1
    width = min(SMOOTH_BLOCK, m)
    blocks = -(-m // width)
    buffer = np.empty(max(n, blocks * width))
    # The transit times in arrival order, then |D| in place, a piece at a time (a subtraction
    # whose output overlaps its inputs would copy them whole).
    if compiled.loaded():  # the same permutation in one compiled pass over the times
        at = 0
        for piece in recv_pieces():
            buffer[at : at + piece.size] = piece
            at += piece.size
        compiled.arrival_order_values(
            buffer, n, np.ascontiguousarray(transit_s, dtype=np.float64), ORDER_CHUNK
        )
    else:
        buffer[:n] = transit_s
        for a, b, t in disordered_blocks(recv_pieces):
            np.take(transit_s[a:b], np.argsort(t, kind="stable"), out=buffer[a:b])
    step = ORDER_CHUNK
    for a in range(0, m, step):
        b = min(m, a + step)
        d = np.subtract(buffer[a + 1 : b + 1], buffer[a:b])
        np.abs(d, out=buffer[a:b])
    buffer[m:] = 0.0
    j = _smooth_padded(buffer[: blocks * width], m, width, 1.0 / 16.0)
    return float(j.mean()), float(j[-1])


SMOOTH_BLOCK = 512


def smooth_exponentially(x: np.ndarray, gain: float) -> np.ndarray:
    """``y_n = y_{n-1} + gain * (x_n - y_{n-1})`` from ``y_{-1} = 0``, vectorised by blocks.

    Within a block of :data:`SMOOTH_BLOCK` values, ``y_i = a^(i+1) y_prev + gain * a^i *
    cumsum(a^-k x_k)`` with ``a = 1 - gain``; the blocks are then chained through their last
    values. For x >= 0 every sum has terms of one sign, so the rounding error stays a few ulps
    (a^-511 is about 2e14 for gain 1/16, far inside float64's range).
    """
    n = x.size
    width = min(SMOOTH_BLOCK, n)
    blocks = -(-n // width)
    padded = np.zeros(blocks * width)
    padded[:n] = x
    return _smooth_padded(padded, n, width, gain)


def _smooth_padded(
    padded: np.ndarray, n: int, width: int, gain: float, initial: float = 0.0
) -> np.ndarray:
    """:func:`smooth_exponentially` of ``padded[:n]`` in place; ``padded`` holds whole blocks
    of ``width`` values, zero beyond ``n``. ``initial`` is ``y_{-1}`` (a recursion carried on
    from earlier values, as :class:`netsim.sketch.ArrivalJitter` streams it)."""
    a = 1.0 - gain
    blocks = padded.size // width
    k = np.arange(width)
    if compiled.loaded() and padded.flags.c_contiguous:  # the same bits in one pass
        compiled.smooth_blocks(
            padded, width, a ** (-k), gain * a**k, a ** (k + 1), a**width, initial
        )
        return padded[:n]
    rows = padded.reshape(blocks, width)
    local = np.multiply(rows, a ** (-k), out=rows)  # in place: padded is ours
    np.cumsum(local, axis=1, out=local)
    local *= gain * a**k
    # Chain: the value carried into block b is y at the end of block b - 1.
    decay = a ** (k + 1)
    carry = np.empty(blocks)
    previous = initial
    a_width = a**width
    ends = local[:, -1]
    for b in range(blocks):
        carry[b] = previous
        previous = ends[b] + a_width * previous
    step = max(1, ORDER_CHUNK // width)  # rows at a time: no temporary of the whole size
    for r in range(0, blocks, step):
        local[r : r + step] += carry[r : r + step, None] * decay
    return local.reshape(-1)[:n]


def loss_bursts(lost_in_send_order: np.ndarray) -> dict[str, float]:
    """Runs of consecutive lost packets (by sequence number): count, mean and max length."""
    lost = lost_in_send_order.astype(np.int8)
    if not lost.any():
        return {"count": 0, "mean_length": 0.0, "max_length": 0}
    zero = np.zeros(1, dtype=np.int8)
    edges = np.diff(np.concatenate([zero, lost, zero]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    return {
        "count": int(lengths.size),
        "mean_length": float(lengths.mean()),
        "max_length": int(lengths.max()),
    }


BATCHES = 20
"""Batches for :func:`batch_means_ci` (Law & Kelton recommend 10 to 30)."""


def _t_quantile(p: float, dof: int) -> float:
    from scipy.special import stdtrit  # lighter to import than scipy.stats

    return float(stdtrit(dof, p))


def _min_batch(q: float | None) -> int:
    """Values a batch needs: 10 expected beyond the percentile, or 2 for the mean."""
    return 2 if q is None else math.ceil(10.0 / max(1.0 - q / 100.0, 1e-12))


def batch_means_ci(
    values: np.ndarray, q: float | None = None, batches: int = BATCHES, level: float = 0.95
) -> tuple[float, float] | None:
    """A confidence interval for the mean (``q`` None) or the q-th percentile of ``values``.

    Non-overlapping batch means (Law & Kelton, *Simulation Modeling and Analysis*, §9.5.3):
    the values, in time order, are cut into ``batches`` contiguous batches; the statistic is
    computed per batch, and a Student-t half-width is formed from the spread of the batch
    estimates. Packets that share a queue are correlated, so an interval that treats them as
    independent would be far too narrow; batches long next to the correlation time are nearly
    independent. The interval is centred on the statistic of all the values: a short batch's
    percentile is biased, its spread across batches is still a fair measure of the variance.

    Returns None when a batch would hold too few values: fewer than 10 expected values beyond
    the percentile (``10 / (1 - q/100)`` per batch), or 2 for the mean.
    """
    key = "mean" if q is None else "q"
    centre = float(values.mean()) if q is None else percentile(values, q)
    return _intervals(values, {key: q}, {key: centre}, batches, level)[key]


def latency_intervals(
    latency_s: np.ndarray, summary: dict[str, float] | None = None
) -> dict[str, list[float] | None]:
    """95 % batch-means intervals for the mean and each of :data:`PERCENTILES` (seconds).

    ``latency_s`` must be in send order; ``summary`` (from :func:`latency_summary`) saves
    recomputing the centres. A statistic whose batches are too short is None.
    """
    summary = summary or latency_summary(latency_s)
    wanted = {"mean": None, **PERCENTILES}
    found = _intervals(latency_s, wanted, summary, BATCHES, 0.95)
    return {k: None if v is None else [v[0], v[1]] for k, v in found.items()}


def _intervals(values, wanted, centres, batches, level):
    """Batch-means intervals for several statistics with one partition of the batches."""
    size = values.size // batches
    out: dict[str, tuple[float, float] | None] = {k: None for k in wanted}
    usable = {k: q for k, q in wanted.items() if batches >= 2 and size >= _min_batch(q)}
    if not usable:
        return out
    cut = values[: size * batches].reshape(batches, size)
    qs = [q for q in usable.values() if q is not None]
    per_q = dict(zip(qs, np.percentile(cut, qs, axis=1), strict=True)) if qs else {}
    scale = _t_quantile(0.5 + level / 2.0, batches - 1) / math.sqrt(batches)
    for key, q in usable.items():
        estimates = cut.mean(axis=1) if q is None else per_q[q]
        half = scale * float(estimates.std(ddof=1))
        out[key] = (centres[key] - half, centres[key] + half)
    return out
