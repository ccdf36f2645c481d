"""What ``medlink emulate`` measured, and its results.json: units sent and received per
stream (:class:`Outcome`), :func:`emulation_results` in ``medlink run``'s format, the
``emulation`` section, and :func:`compare_with_simulation` for ``--compare``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from .emulate_plan import DRAIN_S, EmulatedStream, EmulationPlan, stream_route
from .packetlog import DELIVERED, LOST, ColumnBuffer
from .plan import ChannelSpec, NetworkPlan, SizeModel, StreamSpec

__all__ = [
    "Outcome",
    "compare_with_simulation",
    "emulation_results",
    "emulation_section",
    "freezes",
    "render_comparison",
]


class _Sent:
    """What a sender sent: per unit its sequence number, send time (s, model) and size."""

    def __init__(self) -> None:
        self.seq: list[int] = []
        self.t: list[float] = []
        self.size: list[int] = []

    def add(self, seq: int, t: float, size: int) -> None:
        self.seq.append(seq)
        self.t.append(t)
        self.size.append(size)


@dataclass
class Outcome:
    """What an emulation measured, before statistics."""

    sent: dict[str, _Sent]
    arrivals: list[tuple[int, int, float, float]]
    complete: dict[tuple[int, int], float] = field(default_factory=dict)
    stats: dict[str, dict] = field(default_factory=dict)
    relay: dict = field(default_factory=dict)
    transit_ms: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    remb: dict[str, list] = field(default_factory=dict)
    connect_s: float = math.nan
    wall_s: float = math.nan
    cpu_s: float = math.nan
    dynamics: dict = field(default_factory=dict)
    unreadable: int = 0


# ----- results ----------------------------------------------------------------------------
def emulation_results(eplan: EmulationPlan, outcome: Outcome, seed: int):
    """The :class:`netsim.results.Results` of an emulation: one row per unit (frame,
    message) per stream, in the format ``medlink run`` writes."""
    from .results import build_results
    from .simulation import EventLog, Simulation
    from .webrtc.session import TransportReport

    received: dict[tuple[int, int], float] = {}
    for index, seq, _t_send, t_recv in outcome.arrivals:
        key = (index, seq)
        if key not in received or t_recv < received[key]:
            received[key] = t_recv
    buffer = ColumnBuffer(sum(len(v.seq) for v in outcome.sent.values()) + 16)
    reports = {}
    for i, s in enumerate(eplan.streams):
        sent = outcome.sent.get(s.name) or _Sent()
        seq = np.asarray(sent.seq, dtype=np.int64)
        t_send = np.asarray(sent.t, dtype=np.float64)
        t_recv = np.array([received.get((s.index, k), np.nan) for k in sent.seq], dtype=float)
        fate = np.where(np.isfinite(t_recv), DELIVERED, LOST).astype(np.int8)
        buffer.append(
            stream=np.full(seq.size, i, dtype=np.int16),
            seq=seq,
            size_bytes=np.asarray(sent.size, dtype=np.int64),
            t_send_s=t_send,
            t_recv_s=t_recv,
            fate=fate,
        )
        stats = _w3c_stats(s, outcome, sent, t_recv)
        detail = {"source": outcome.sources.get(s.name, {})}
        if s.kind == "datachannel":
            detail["mode"] = _channel_mode(s.channel or ChannelSpec())
        else:
            count, total = freezes(t_recv)
            stats["freezeCount"], stats["totalFreezesDuration"] = count, total
        if s.kind == "video":
            complete = np.array(
                [outcome.complete.get((s.index, k), np.nan) for k in sent.seq], dtype=float
            )
            detail["frame_complete_latency_ms"] = _percentiles_ms(complete - t_send)
        reports[s.name] = TransportReport(
            kind=s.transport_kind,
            unit=s.unit,
            stats=stats,
            unit_t_s=t_send,
            unit_latency_s=t_recv - t_send,
            detail=detail,
        )
    log = buffer.freeze(tuple(s.name for s in eplan.streams), tuple(eplan.plan.links))
    sim = Simulation(
        plan=dataclasses.replace(eplan.plan, seed=seed),
        seed=seed,
        packets=log,
        events=EventLog(),
        dynamics=outcome.dynamics,
        transport=reports,
    )
    return build_results(sim)


def freezes(t_recv_s: np.ndarray) -> tuple[int, float]:
    """W3C freezeCount and totalFreezesDuration of frames received at ``t_recv_s``.

    A freeze is a gap between consecutive frames longer than max(3 x the mean gap, the mean
    gap + 150 ms) (webrtc-stats, RTCInboundRtpStreamStats.freezeCount), the mean over the
    whole run rather than a running one.
    """
    t = np.sort(t_recv_s[np.isfinite(t_recv_s)])
    if t.size < 3:
        return 0, 0.0
    gaps = np.diff(t)
    mean = float(gaps.mean())
    frozen = gaps[gaps > max(3.0 * mean, mean + 0.150)]
    return int(frozen.size), float(frozen.sum())


def _channel_mode(channel: ChannelSpec) -> str:
    order = "ordered" if channel.ordered else "unordered"
    if channel.max_retransmits is not None:
        return f"{order}, maxRetransmits={channel.max_retransmits}"
    if channel.max_packet_lifetime_s is not None:
        return f"{order}, maxPacketLifeTime={channel.max_packet_lifetime_s * 1e3:g}ms"
    return f"reliable, {order}"


def _percentiles_ms(latency_s: np.ndarray) -> dict | None:
    values = latency_s[np.isfinite(latency_s)] * 1e3
    if not values.size:
        return None
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "units": int(values.size),
        "mean": float(values.mean()),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(values.max()),
    }


def _w3c_stats(s: EmulatedStream, outcome: Outcome, sent: _Sent, t_recv: np.ndarray) -> dict:
    """A stream's counters under W3C webrtc-stats names (what aiortc reports, and ours)."""
    delivered = int(np.isfinite(t_recv).sum())
    if s.kind == "datachannel":
        stats = outcome.stats.get(s.name, {})
        return {
            "messagesSent": len(sent.seq),
            "messagesReceived": delivered,
            "bytesSent": int(sum(sent.size)),
            "retransmissions": stats.get("retransmissions", 0),
        }
    out: dict[str, float | int] = {
        "framesSent": len(sent.seq),
        "framesDecoded": delivered,  # handed to the (pass-through) decoder
    }
    clock_rate = 90000.0 if s.kind == "video" else 48000.0
    media_ssrc = None
    for entry in outcome.stats.get(s.name, {}).get("sender", []):
        if entry.get("type") == "outbound-rtp":
            media_ssrc = entry.get("ssrc")
            out["packetsSent"] = entry.get("packetsSent", 0)
            out["bytesSent"] = entry.get("bytesSent", 0)
        if entry.get("type") == "remote-inbound-rtp" and entry.get("roundTripTime") is not None:
            out["roundTripTime"] = entry["roundTripTime"]
    # The media SSRC's inbound-rtp (aiortc reports the RTX SSRC's apart).
    inbound = [
        e
        for e in outcome.stats.get(s.name, {}).get("receiver", [])
        if e.get("type") == "inbound-rtp"
    ]
    for entry in inbound:
        if entry.get("ssrc") == media_ssrc or len(inbound) == 1:
            out["packetsReceived"] = entry.get("packetsReceived", 0)
            out["packetsLost"] = entry.get("packetsLost", 0)
            out["jitter"] = entry.get("jitter", 0) / clock_rate
        else:
            out["retransmittedPacketsReceived"] = entry.get("packetsReceived", 0)
    source = outcome.sources.get(s.name, {})
    if "nacks_received" in source:
        out["nackCount"] = source["nacks_received"]
        out["pliCount"] = source["plis_received"]
    return out


def emulation_section(eplan: EmulationPlan, outcome: Outcome, seconds: float) -> dict:
    """The ``emulation`` key of results.json."""
    from .results import json_safe

    remb = {}
    for name, values in outcome.remb.items():
        if values:
            rates = np.array([v for _, v in values])
            remb[name] = {
                "estimates": len(values),
                "first_mbps": float(rates[0] / 1e6),
                "min_mbps": float(rates.min() / 1e6),
                "last_mbps": float(rates[-1] / 1e6),
            }
    return json_safe(
        {
            "tool": _versions(),
            "seconds": seconds,
            "drain_s": DRAIN_S,
            "connect_s": outcome.connect_s,
            "wall_s": outcome.wall_s,
            "cpu_s": outcome.cpu_s,
            "cpu_load": outcome.cpu_s / outcome.wall_s if outcome.wall_s else None,
            "streams": {
                s.name: {
                    "kind": s.kind,
                    "sender": {"a": "A (ambulance/robot)", "b": "B (hospital/console)"}[s.sender],
                    "path": list(s.spec.path),
                    "channel": None if s.channel is None else dataclasses.asdict(s.channel),
                    "source_lateness": outcome.sources.get(s.name),
                    "remb": remb.get(s.name),
                }
                for s in eplan.streams
            },
            "getStats": outcome.stats,
            "relay": outcome.relay,
            "network_latency_ms": {
                s.name: outcome.transit_ms.get(stream_route(eplan, s).stream) for s in eplan.streams
            },
            "network_latency_by_route_ms": outcome.transit_ms,
            "unreadable_units": outcome.unreadable,
            "left_out": list(eplan.left_out),
        }
    )


def _versions() -> dict:
    import aiortc

    return {"aiortc": aiortc.__version__}


# ----- comparison with the simulator --------------------------------------------------------
def _with_feedback(plan: NetworkPlan) -> NetworkPlan:
    """The plan with the feedback streams its WebRTC streams name (the emulated plan leaves
    them out: the real stack sends its own feedback), so the simulator can run it."""
    names = {s.name for s in plan.streams}
    extra = [
        StreamSpec(
            name=t.feedback_stream,
            kind="feedback",
            rate_pps=20.0,
            size=SizeModel(mean_bytes=100.0),
            path=t.feedback_path,
            start_s=s.start_s,
        )
        for s in plan.streams
        if (t := s.transport) is not None
        and t.feedback_path
        and t.feedback_stream is not None
        and t.feedback_stream not in names
    ]
    return dataclasses.replace(plan, streams=plan.streams + tuple(extra)) if extra else plan


def compare_with_simulation(eplan: EmulationPlan, emulated: dict, seed: int) -> dict:
    """Simulate the emulated plan and set the two side by side, stream by stream.

    Per stream: latency percentiles (ms) and loss of its units (video frames, data-channel
    messages: the simulator's WebRTC section when its streams have a transport, its packets
    otherwise), for the simulation, the emulation and the difference (emulated minus
    simulated); and the relay's network latency for the stream's route.
    """
    from .engine import run as run_plan

    simulated = run_plan(_with_feedback(eplan.plan), seed=seed).to_dict()
    rows = {}
    for name, emu in emulated["streams"].items():
        sim = simulated["streams"].get(name)
        if sim is None:
            continue
        sim_lat, sim_loss, sim_unit = _unit_figures(sim)
        emu_lat, emu_loss = emu["latency_ms"], emu["loss_rate"]
        keys = ("p50", "p95", "p99", "max")
        rows[name] = {
            "simulated_unit": sim_unit,
            "simulated_ms": {k: sim_lat.get(k) for k in keys},
            "emulated_ms": {k: emu_lat.get(k) for k in keys},
            "difference_ms": {
                k: None
                if sim_lat.get(k) is None or emu_lat.get(k) is None
                else emu_lat[k] - sim_lat[k]
                for k in keys
            },
            "simulated_loss": sim_loss,
            "emulated_loss": emu_loss,
            "relay_network_ms": emulated.get("emulation", {})
            .get("network_latency_ms", {})
            .get(name),
        }
    return {"seed": seed, "streams": rows}


def _unit_figures(stream: dict) -> tuple[dict, float | None, str]:
    webrtc = stream.get("webrtc")
    if webrtc:
        return webrtc.get("latency_ms") or {}, webrtc.get("unit_loss_rate"), webrtc.get("unit")
    return stream.get("latency_ms") or {}, stream.get("loss_rate"), "packet"


def render_comparison(comparison: dict) -> str:
    """The comparison as a plain-text table."""

    def ms(v):
        return "-" if v is None else f"{v:.1f}"

    def pct(v):
        return "-" if v is None else f"{v:.2%}"

    header = [
        "stream",
        "unit (sim)",
        "p50 sim",
        "p50 emu",
        "p99 sim",
        "p99 emu",
        "loss sim",
        "loss emu",
        "net p50",
    ]
    rows = []
    for name, r in comparison["streams"].items():
        net = r.get("relay_network_ms") or {}
        rows.append(
            [
                name,
                str(r["simulated_unit"]),
                ms(r["simulated_ms"]["p50"]),
                ms(r["emulated_ms"]["p50"]),
                ms(r["simulated_ms"]["p99"]),
                ms(r["emulated_ms"]["p99"]),
                pct(r["simulated_loss"]),
                pct(r["emulated_loss"]),
                ms(net.get("p50")),
            ]
        )
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    lines = ["simulation vs emulation (latency in ms; net: the relay's link model alone)"]
    for cells in [header, *rows]:
        lines.append(
            "  ".join(
                f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    lines.append("why they differ: docs/emulate.md")
    return "\n".join(lines)
