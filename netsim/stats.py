"""Statistics of one stream from its packet columns: latency percentiles, RFC 3550 jitter, loss.

Every function takes numpy arrays in SI units and returns plain floats; the Results type turns
them into the units results.json shows (ms, Mbps).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["PERCENTILES", "latency_summary", "rfc3550_jitter", "loss_bursts", "percentile"]

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
