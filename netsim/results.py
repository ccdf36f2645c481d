"""Results: what a run measured, per stream and per budget, plus the packets themselves.

:func:`build_results` turns a :class:`~netsim.engine.Simulation` into :class:`Results`;
``Results.to_dict()`` is the results.json document (the views write it; the core does no I/O).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .budgets import BudgetResult, evaluate_budget
from .columns import stream_columns, stream_packets
from .packetlog import DROPPED, IN_FLIGHT, LOST, PacketLog
from .plan import NetworkPlan
from .series import build_series, quantile_curve
from .stats import (
    Ascending,
    jitter_in_arrival_order,
    latency_intervals,
    latency_summary,
    loss_bursts,
)
from .version import __version__

if TYPE_CHECKING:
    from .simulation import Simulation

__all__ = [
    "Results",
    "StreamStats",
    "build_results",
    "stream_columns",
    "json_safe",
    "summarise_events",
    "RESULTS_FORMAT",
]

RESULTS_FORMAT = 1
"""Version of the results.json layout; bumped when a field changes meaning."""


@dataclass(frozen=True)
class StreamStats:
    """One stream's figures. Latencies and jitter in milliseconds, throughput in Mbit/s."""

    name: str
    packets_sent: int
    packets_delivered: int
    packets_lost: int
    packets_dropped: int
    packets_in_flight: int
    loss_rate: float
    latency_ms: dict[str, float]
    latency_ci95_ms: dict[str, list[float] | None]
    jitter_ms: float
    jitter_final_ms: float
    throughput_mbps: float
    loss_bursts: dict[str, float]
    webrtc: dict | None = None

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "name"}
        if out["webrtc"] is None:
            del out["webrtc"]
        return _json_safe(out)


@dataclass(frozen=True)
class Results:
    """The outcome of one run. ``passed`` is True when every budget holds."""

    plan: NetworkPlan
    seed: int
    streams: dict[str, StreamStats]
    budgets: list[BudgetResult]
    packets: PacketLog = field(repr=False)
    events: object = field(default=None, repr=False)
    dynamics: dict = field(default_factory=dict, repr=False)
    transport: dict = field(default_factory=dict, repr=False)  # stream -> TransportReport
    curves: dict = field(default_factory=dict, repr=False)  # stream -> series quantile curve

    @property
    def passed(self) -> bool:
        return all(b.passed for b in self.budgets)

    def to_dict(self) -> dict:
        """The results.json document (without what only the CLI knows, such as file names).

        A run with ``memory="bounded"`` also says so, and how close its percentiles are
        (``memory``, ``percentile_relative_error``)."""
        bounded = {}
        if getattr(self.packets, "bounded", False):
            from .sketch import ALPHA

            bounded = {"memory": "bounded", "percentile_relative_error": ALPHA}
        return {
            "format": RESULTS_FORMAT,
            "medlink_version": __version__,
            "scenario": self.plan.name,
            "seed": self.seed,
            "duration_s": self.plan.duration_s,
            "drain_s": self.plan.drain_s,
            "pass": self.passed,
            "streams": {name: s.to_dict() for name, s in self.streams.items()},
            "budgets": [b.to_dict() for b in self.budgets],
            "events": summarise_events(self.events, self.plan),
            "series": build_series(self),
            **bounded,
        }


def build_results(sim: Simulation) -> Results:
    """Statistics and budget verdicts for a :class:`netsim.engine.Simulation`."""
    plan, log = sim.plan, sim.packets
    streams: dict[str, StreamStats] = {}
    curves: dict[str, dict | None] = {}
    budgets: list[BudgetResult | None] = [None] * len(plan.budgets)

    def judge(name: str, figures: tuple) -> None:
        # A stream's budgets as soon as its figures are known: its sorted latencies are
        # then dropped before the next stream's are made.
        for i, spec in enumerate(plan.budgets):
            if spec.stream == name:
                budgets[i] = evaluate_budget(spec, *figures, report=sim.transport.get(name))

    if getattr(log, "bounded", False):
        for name, summary in log.summaries.items():
            streams[name], figures = _from_summary(summary, plan, sim.transport)
            judge(name, figures)
    for name, packets in () if streams else stream_packets(plan, log).items():
        fate, latency = packets.fate, packets.latency_s
        n_delivered, sent = packets.delivered, packets.sent
        loss_rate = 1.0 - n_delivered / sent if sent else math.nan
        # The receive times only a piece at a time: no copy of them for the whole stream.
        jitter_mean, jitter_final = jitter_in_arrival_order(latency, packets.recv_pieces)
        throughput = 8.0 * packets.delivered_bytes / plan.duration_s
        # One sort for every percentile of the stream, dropped before the intervals copy
        # the latencies into batches.
        ascending = Ascending(latency)
        summary = latency_summary(latency, ascending)
        curves[name] = quantile_curve(ascending)
        judge(name, (ascending, float(loss_rate), jitter_mean, throughput))
        del ascending
        lost, dropped = fate == LOST, fate == DROPPED
        streams[name] = StreamStats(
            name=name,
            packets_sent=sent,
            packets_delivered=n_delivered,
            packets_lost=int(np.count_nonzero(lost)),
            packets_dropped=int(np.count_nonzero(dropped)),
            packets_in_flight=int(np.count_nonzero(fate == IN_FLIGHT)),
            loss_rate=float(loss_rate),
            latency_ms={k: v * 1e3 for k, v in summary.items()},
            latency_ci95_ms={
                k: None if ci is None else [ci[0] * 1e3, ci[1] * 1e3]
                for k, ci in latency_intervals(latency, summary).items()
            },
            jitter_ms=jitter_mean * 1e3,
            jitter_final_ms=jitter_final * 1e3,
            throughput_mbps=throughput / 1e6,
            loss_bursts=loss_bursts(lost | dropped),
            webrtc=(transport_summary(sim.transport[name]) if name in sim.transport else None),
        )
    missing = [spec.stream for spec, b in zip(plan.budgets, budgets, strict=True) if b is None]
    if missing:
        raise KeyError(missing[0])
    return Results(
        plan=plan,
        seed=sim.seed,
        streams=streams,
        budgets=budgets,
        packets=log,
        events=sim.events,
        dynamics=sim.dynamics,
        transport=sim.transport,
        curves=curves,
    )


def _from_summary(s, plan: NetworkPlan, transport: dict) -> tuple[StreamStats, tuple]:
    """A stream's figures from a bounded run's :class:`~netsim.summaries.StreamSummary`."""
    loss_rate = 1.0 - s.delivered / s.sent if s.sent else math.nan
    throughput = 8.0 * s.delivered_bytes / plan.duration_s
    jitter_mean, jitter_final = s.jitter
    stats = StreamStats(
        name=s.name,
        packets_sent=s.sent,
        packets_delivered=s.delivered,
        packets_lost=s.lost,
        packets_dropped=s.dropped,
        packets_in_flight=s.in_flight,
        loss_rate=float(loss_rate),
        latency_ms={k: v * 1e3 for k, v in s.summary.items()},
        latency_ci95_ms={
            k: None if ci is None else [ci[0] * 1e3, ci[1] * 1e3] for k, ci in s.intervals.items()
        },
        jitter_ms=jitter_mean * 1e3,
        jitter_final_ms=jitter_final * 1e3,
        throughput_mbps=throughput / 1e6,
        loss_bursts=s.bursts,
        webrtc=(transport_summary(transport[s.name]) if s.name in transport else None),
    )
    return stats, (s, float(loss_rate), jitter_mean, throughput)


def transport_summary(report) -> dict:
    """A WebRTC stream's results.json section: its units' latency and the W3C stats.

    ``unit`` is what a clinician sees arrive (a video or audio frame, a data-channel message);
    ``latency_ms`` its percentiles over the units that got there (rendered, played, delivered),
    ``unit_loss_rate`` the fraction that never did; ``stats`` the session's counters under
    their W3C webrtc-stats names (times in seconds).
    """
    latency = report.unit_latency_s
    arrived = latency[np.isfinite(latency)]
    summary = latency_summary(arrived)
    return {
        "kind": report.kind,
        "unit": report.unit,
        "units": int(latency.size),
        "units_arrived": int(arrived.size),
        "unit_loss_rate": 1.0 - arrived.size / latency.size if latency.size else math.nan,
        "latency_ms": {k: v * 1e3 for k, v in summary.items()},
        "stats": dict(report.stats),
        "detail": dict(report.detail),
    }


def summarise_events(events, plan: NetworkPlan) -> dict:
    """Per radio link: handover and outage counts, rates and interruption percentiles.

    Counts the events that start during the run's ``duration`` (not the drain). Links
    without a radio have no control events and are left out.
    """
    out: dict[str, dict] = {}
    if events is None:
        return out
    t = np.asarray(events.t_s, dtype=np.float64)
    kind = np.asarray(events.kind, dtype=object)
    link = np.asarray(events.link, dtype=object)
    value = np.asarray(events.value, dtype=np.float64)
    minutes = plan.duration_s / 60.0
    for name, spec in plan.links.items():
        if spec.radio is None and not (link == name).any():
            continue
        mine = (link == name) & (t < plan.duration_s)
        handover = value[mine & (kind == "handover")]
        outage = value[mine & (kind == "outage")]
        out[name] = _json_safe(
            {
                "handovers": int(handover.size),
                "handovers_per_min": handover.size / minutes,
                "interruption_ms": _percentiles_ms(handover),
                "interruption_total_s": float(handover.sum()),
                "outages": int(outage.size),
                "outage_total_s": float(outage.sum()),
                "longest_outage_s": float(outage.max()) if outage.size else 0.0,
            }
        )
    return out


def _percentiles_ms(values_s: np.ndarray) -> dict[str, float] | None:
    if not values_s.size:
        return None
    p50, p95, p99 = np.percentile(values_s, [50, 95, 99]) * 1e3
    return {
        "mean": float(values_s.mean() * 1e3),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(values_s.max() * 1e3),
    }


def json_safe(value):
    """Strict JSON values, recursively: NaN and infinities become None, numpy scalars Python
    numbers, mapping keys strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


_json_safe = json_safe
