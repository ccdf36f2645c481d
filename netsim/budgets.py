"""Budgets: compare a stream's measured metric with its limit and give a verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .plan import BudgetSpec
from .stats import percentile
from .webrtc.session import TransportReport

__all__ = ["BudgetResult", "evaluate_budget", "budget_margin", "UNITS"]

UNITS = {
    "latency": "ms",
    "loss": "ratio",
    "jitter": "ms",
    "throughput": "Mbps",
    "frame_latency": "ms",
    "message_latency": "ms",
    "message_loss": "ratio",
    "freeze_count": "freezes",
    "freeze_duration": "s",
}
_TO_UNIT = {
    "latency": 1e3,
    "loss": 1.0,
    "jitter": 1e3,
    "throughput": 1e-6,
    "frame_latency": 1e3,
    "message_latency": 1e3,
    "message_loss": 1.0,
    "freeze_count": 1.0,
    "freeze_duration": 1.0,
}


@dataclass(frozen=True)
class BudgetResult:
    """One budget's verdict. ``limit`` and ``value`` are in ``unit`` (ms, ratio or Mbps)."""

    stream: str
    metric: str
    limit: float
    value: float
    passed: bool
    unit: str
    source: str = ""
    name: str = ""

    def to_dict(self) -> dict:
        return {
            "stream": self.stream,
            "metric": self.metric,
            "limit": self.limit,
            "value": None if math.isnan(self.value) else self.value,
            "pass": self.passed,
            "unit": self.unit,
            "source": self.source,
            "name": self.name,
        }


def evaluate_budget(
    spec: BudgetSpec,
    latency_s: np.ndarray,
    loss_rate: float,
    jitter_s: float,
    throughput_bps: float,
    report: TransportReport | None = None,
) -> BudgetResult:
    """Judge one budget on one stream's delivered latencies and summary figures (SI).

    A latency budget is a percentile over delivered packets; a stream with none fails it.
    ``latency_s`` is the delivered latencies (an array, or :class:`~netsim.stats.Ascending`),
    or a bounded run's
    :class:`netsim.summaries.StreamSummary` (its verdict settled by exact counts where they
    can tell).
    The WebRTC metrics read the stream's session ``report``: ``frame_latency`` and
    ``message_latency`` are percentiles over the frames rendered (played) or messages
    delivered, ``message_loss`` the fraction of messages never delivered, ``freeze_count`` and
    ``freeze_duration`` the W3C freezeCount and totalFreezesDuration. Throughput is a lower
    bound; the other metrics are upper bounds. NaN (or a missing report) always fails.
    """
    settled = None
    if spec.metric == "latency":
        q = spec.percentile or 99.0
        if isinstance(latency_s, np.ndarray):
            value = percentile(latency_s, q)
        else:  # sorted once (Ascending), or a bounded run's sketch
            value = latency_s.percentile(q)
            settle = getattr(latency_s, "settle", None)  # exact counts at the limits
            if settle is not None and not math.isnan(value):
                value, settled = settle(q, spec.limit, value)
    elif spec.metric in ("loss", "jitter", "throughput"):
        value = {"loss": loss_rate, "jitter": jitter_s, "throughput": throughput_bps}[spec.metric]
    else:
        value = transport_metric(spec, report)
    scale = _TO_UNIT[spec.metric]
    if math.isnan(value):
        passed = False
    elif settled is not None:
        passed = settled
    elif spec.metric == "throughput":
        passed = value >= spec.limit
    else:
        passed = value <= spec.limit
    return BudgetResult(
        stream=spec.stream,
        metric=spec.metric_name,
        limit=spec.limit * scale,
        value=value * scale,
        passed=passed,
        unit=UNITS[spec.metric],
        source=spec.source,
        name=spec.name,
    )


def transport_metric(spec: BudgetSpec, report: TransportReport | None) -> float:
    """The value of a WebRTC budget's metric in a session's report (SI), NaN if none."""
    if report is None:
        return math.nan
    latency = report.unit_latency_s
    delivered = latency[np.isfinite(latency)]
    if spec.metric in ("frame_latency", "message_latency"):
        return percentile(delivered, spec.percentile or 99.0)
    if spec.metric == "message_loss":
        return 1.0 - delivered.size / latency.size if latency.size else math.nan
    key = {"freeze_count": "freezeCount", "freeze_duration": "totalFreezesDuration"}[spec.metric]
    return float(report.stats.get(key, math.nan))


def budget_margin(budget: dict) -> float:
    """How far a budget is from its limit: < 1 passes, > 1 fails.

    value / limit for upper bounds (latency, loss, jitter), limit / value for a minimum
    throughput; infinity for a budget without a value (it fails), 0 for 0 / 0.
    """
    value, limit = budget.get("value"), budget.get("limit")
    if value is None or limit is None or not math.isfinite(value):
        return math.inf
    num, den = (limit, value) if budget.get("metric") == "throughput" else (value, limit)
    if den == 0:
        return 0.0 if num == 0 else math.inf
    return float(num) / float(den)
