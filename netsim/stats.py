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


def rfc3550_jitter(t_send_s: np.ndarray, t_recv_s: np.ndarray) -> tuple[float, float]:
    """RFC 3550 §6.4.1 interarrival jitter over delivered packets taken in order of arrival.

    ``J += (|D| - J) / 16`` with ``D`` the difference of consecutive transit times. Returns
    (mean of J over the run, final J), in seconds; NaN with fewer than two packets. The
    recursion is a first-order IIR filter, computed with ``scipy.signal.lfilter``.
    """
    if t_recv_s.size < 2:
        return math.nan, math.nan
    transit = t_recv_s - t_send_s
    if not (np.diff(t_recv_s) >= 0).all():
        order = np.argsort(t_recv_s, kind="stable")
        transit = transit[order]
    from scipy.signal import lfilter  # imported here: scipy.signal takes ~0.5 s to import

    d = np.abs(np.diff(transit))
    j = lfilter([1.0 / 16.0], [1.0, -15.0 / 16.0], d)
    return float(j.mean()), float(j[-1])


def loss_bursts(lost_in_send_order: np.ndarray) -> dict[str, float]:
    """Runs of consecutive lost packets (by sequence number): count, mean and max length."""
    lost = lost_in_send_order.astype(np.int8)
    if not lost.any():
        return {"count": 0, "mean_length": 0.0, "max_length": 0}
    edges = np.diff(np.concatenate([[0], lost, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    lengths = ends - starts
    return {
        "count": int(lengths.size),
        "mean_length": float(lengths.mean()),
        "max_length": int(lengths.max()),
    }


BATCHES = 20
"""Batches for :func:`batch_means_ci` (Law & Kelton recommend 10 to 30)."""


def batch_means_ci(
    values: np.ndarray, q: float | None = None, batches: int = BATCHES, level: float = 0.95
) -> tuple[float, float] | None:
    """A confidence interval for the mean (``q`` None) or the q-th percentile of ``values``.

    Non-overlapping batch means (Law & Kelton, *Simulation Modeling and Analysis*, §9.5.3):
    the values, in time order, are cut into ``batches`` contiguous batches; the statistic is
    computed per batch, and a Student-t interval is formed on the batch estimates. Packets
    that share a queue are correlated, so an interval that treats them as independent would
    be far too narrow; batches long next to the correlation time are nearly independent.

    Returns None when a batch would hold too few values for the statistic: fewer than 10
    expected values beyond the percentile (``10 / (1 - q/100)`` per batch), or 2 for the mean.
    The interval is centred on the statistic of all the values; its half-width comes from
    the spread of the batch estimates.
    """
    from scipy.stats import t as student_t

    needed = 2 if q is None else math.ceil(10.0 / max(1.0 - q / 100.0, 1e-12))
    size = values.size // batches
    if size < needed or batches < 2:
        return None
    cut = values[: size * batches].reshape(batches, size)
    estimates = cut.mean(axis=1) if q is None else np.percentile(cut, q, axis=1)
    # Centre on the whole sample's statistic: a short batch's percentile is biased, its
    # spread across batches is still a fair measure of the estimate's variance.
    centre = float(values.mean()) if q is None else float(np.percentile(values, q))
    half = float(student_t.ppf(0.5 + level / 2.0, batches - 1) * estimates.std(ddof=1))
    half /= math.sqrt(batches)
    return centre - half, centre + half


def latency_intervals(latency_s: np.ndarray) -> dict[str, list[float] | None]:
    """95 % batch-means intervals for the mean and each of :data:`PERCENTILES` (seconds).

    ``latency_s`` must be in send order. A statistic whose batches are too short is None.
    """
    out: dict[str, list[float] | None] = {}
    for key, q in (("mean", None), *PERCENTILES.items()):
        interval = batch_means_ci(latency_s, q)
        out[key] = None if interval is None else [interval[0], interval[1]]
    return out
