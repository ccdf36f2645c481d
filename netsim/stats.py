"""Statistics of one stream from its packet columns: latency percentiles, RFC 3550 jitter, loss.

Every function takes numpy arrays in SI units and returns plain floats; the Results type turns
them into the units results.json shows (ms, Mbps).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "PERCENTILES",
    "latency_summary",
    "latency_intervals",
    "rfc3550_jitter",
    "loss_bursts",
    "percentile",
    "batch_means_ci",
    "smooth_exponentially",
]

PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}


def percentile(values: np.ndarray, q: float) -> float:
    """The q-th percentile (linear interpolation, numpy's default); NaN for no values."""
    return float(np.percentile(values, q)) if values.size else math.nan


def latency_summary(latency_s: np.ndarray) -> dict[str, float]:
    """Mean, min, p50, p95, p99, p99.9 and max of delivered packets' latencies, in seconds."""
    if not latency_s.size:
        return {k: math.nan for k in ("mean", "min", *PERCENTILES, "max")}
    qs = np.percentile(latency_s, list(PERCENTILES.values()))
    summary = {"mean": float(latency_s.mean()), "min": float(latency_s.min())}
    summary.update({key: float(v) for key, v in zip(PERCENTILES, qs, strict=True)})
    summary["max"] = float(latency_s.max())
    return summary


def rfc3550_jitter(
    t_send_s: np.ndarray, t_recv_s: np.ndarray, transit_s: np.ndarray | None = None
) -> tuple[float, float]:
    """RFC 3550 §6.4.1 interarrival jitter over delivered packets taken in order of arrival.

    ``J += (|D| - J) / 16`` with ``D`` the difference of consecutive transit times, starting
    from J = 0. Returns (mean of J over the run, final J), in seconds; NaN with fewer than two
    packets. The recursion is evaluated exactly by :func:`smooth_exponentially`.
    ``transit_s`` (``t_recv_s - t_send_s``), when the caller has it, saves recomputing it.
    """
    if t_recv_s.size < 2:
        return math.nan, math.nan
    transit = t_recv_s - t_send_s if transit_s is None else transit_s
    if (t_recv_s[1:] < t_recv_s[:-1]).any():
        transit = transit[np.argsort(t_recv_s, kind="stable")]
    d = np.diff(transit)
    np.abs(d, out=d)
    j = smooth_exponentially(d, 1.0 / 16.0)
    return float(j.mean()), float(j[-1])


SMOOTH_BLOCK = 512


def smooth_exponentially(x: np.ndarray, gain: float) -> np.ndarray:
    """``y_n = y_{n-1} + gain * (x_n - y_{n-1})`` from ``y_{-1} = 0``, vectorised by blocks.

    Within a block of :data:`SMOOTH_BLOCK` values, ``y_i = a^(i+1) y_prev + gain * a^i *
    cumsum(a^-k x_k)`` with ``a = 1 - gain``; the blocks are then chained through their last
    values. For x >= 0 every sum has terms of one sign, so the rounding error stays a few ulps
    (a^-511 is about 2e14 for gain 1/16, far inside float64's range).
    """
    a = 1.0 - gain
    n = x.size
    width = min(SMOOTH_BLOCK, n)
    blocks = -(-n // width)
    padded = np.zeros(blocks * width)
    padded[:n] = x
    k = np.arange(width)
    rows = padded.reshape(blocks, width)
    local = np.multiply(rows, a ** (-k), out=rows)  # in place: padded is ours
    np.cumsum(local, axis=1, out=local)
    local *= gain * a**k
    # Chain: the value carried into block b is y at the end of block b - 1.
    decay = a ** (k + 1)
    carry = np.empty(blocks)
    previous = 0.0
    a_width = a**width
    ends = local[:, -1]
    for b in range(blocks):
        carry[b] = previous
        previous = ends[b] + a_width * previous
    local += carry[:, None] * decay
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
