"""The terminal view of a run: a per-stream table, the budget verdicts, and the overall verdict."""

from __future__ import annotations

import math

from .results import Results, summarise_events

__all__ = ["render_summary", "render_replications"]


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if value < 100 else f"{value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        rest = [f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _budget_value(value: float, unit: str) -> str:
    return f"{value:.4%}" if unit == "ratio" else f"{value:.3f} {unit}"


def render_summary(results: Results, where: str | None = None) -> str:
    """A plain-text summary: streams (latency in ms), budgets, and the verdict."""
    plan = results.plan
    out = [f"medlink: {plan.name}  seed {results.seed}  duration {plan.duration_s:g}s"]
    if getattr(results.packets, "bounded", False):
        out.append("memory: bounded (streaming statistics; percentiles within 0.01 %)")
    out.append("")
    header = [
        "stream",
        "sent",
        "delivered",
        "loss",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "jitter ms",
        "Mbps",
    ]
    rows = []
    for name, s in results.streams.items():
        lat = s.latency_ms
        rows.append(
            [
                name,
                str(s.packets_sent),
                str(s.packets_delivered),
                f"{s.loss_rate:.3%}",
                _ms(lat["p50"]),
                _ms(lat["p95"]),
                _ms(lat["p99"]),
                _ms(lat["p999"]),
                _ms(lat["max"]),
                _ms(s.jitter_ms),
                f"{s.throughput_mbps:.3f}",
            ]
        )
    out += _table(header, rows)
    webrtc = {name: s.webrtc for name, s in results.streams.items() if s.webrtc is not None}
    if webrtc:
        out.append("")
        out += _table(*_webrtc_rows(webrtc))
    if results.budgets:
        out.append("")
        brows = []
        for b in results.budgets:
            value = "-" if math.isnan(b.value) else _budget_value(b.value, b.unit)
            bound = ">=" if b.metric == "throughput" else "<="
            brows.append(
                [
                    b.stream,
                    b.metric,
                    value,
                    f"{bound} {_budget_value(b.limit, b.unit)}",
                    "PASS" if b.passed else "FAIL",
                ]
            )
        out += _table(["budget", "metric", "value", "limit", "verdict"], brows)
    events = summarise_events(results.events, plan)
    if events:
        out.append("")
        erows = []
        for link, e in events.items():
            interruption = e["interruption_ms"] or {}
            erows.append(
                [
                    link,
                    str(e["handovers"]),
                    f"{e['handovers_per_min']:.2f}",
                    _ms(interruption.get("p50")),
                    _ms(interruption.get("p99")),
                    str(e["outages"]),
                    f"{e['outage_total_s']:.3g}",
                ]
            )
        header = ["link", "handovers", "per min", "interr. p50 ms", "p99 ms", "outages", "out s"]
        out += _table(header, erows)
    failed = sum(not b.passed for b in results.budgets)
    out.append("")
    if not results.budgets:
        out.append("verdict: no budgets to judge")
    elif failed:
        out.append(f"verdict: FAIL ({failed} of {len(results.budgets)} budgets failed)")
    else:
        out.append(f"verdict: PASS (all {len(results.budgets)} budgets hold)")
    if where:
        out.append(f"results: {where}")
    return "\n".join(out)


def _webrtc_rows(webrtc: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """The WebRTC table: what each media stream or data channel delivered to the clinician."""
    header = ["webrtc", "unit", "sent", "arrived", "p50 ms", "p99 ms", "max ms", "notes"]
    rows = []
    for name, w in webrtc.items():
        lat, stats = w["latency_ms"], w["stats"]
        if w["kind"] == "webrtc-video":
            notes = (
                f"freezes {stats.get('freezeCount', 0)} "
                f"({stats.get('totalFreezesDuration', 0.0):.2f} s), "
                f"dropped {stats.get('framesDropped', 0)}, NACK {stats.get('nackCount', 0)}, "
                f"PLI {stats.get('pliCount', 0)}"
            )
        elif w["kind"] == "webrtc-audio":
            total = stats.get("totalSamplesReceived", 0) or 0
            concealed = stats.get("concealedSamples", 0) or 0
            share = concealed / total if total else 0.0
            notes = f"concealed {share:.2%} in {stats.get('concealmentEvents', 0)} events"
        else:
            notes = (
                f"{w['detail'].get('mode', '')}, lost {w['unit_loss_rate']:.3%}, "
                f"retransmissions {stats.get('retransmissions', 0)}"
            )
        rows.append(
            [
                name,
                w["unit"],
                str(w["units"]),
                str(w["units_arrived"]),
                _ms(lat["p50"]),
                _ms(lat["p99"]),
                _ms(lat["max"]),
                notes,
            ]
        )
    return header, rows


def _ci(stats: dict, scale: float = 1.0, digits: int = 3) -> str:
    mean = stats.get("mean")
    if mean is None:
        return "-"
    half = stats.get("half_width")
    if half is None:
        return f"{mean * scale:.{digits}g}"
    return f"{mean * scale:.{digits}g} ± {half * scale:.2g}"


def render_replications(replicated: dict, name: str, where: str | None = None) -> str:
    """The terminal view of replications: 95 % intervals, and whether each verdict is settled.

    ``replicated`` is :meth:`netsim.replications.Replicated.to_dict`.
    """
    n = replicated["n"]
    seeds = replicated["seeds"]
    out = [f"medlink: {name}  {n} replications, seeds {seeds[0]}..{seeds[-1]}  (mean ± 95 % CI)"]
    out.append("")
    rows = []
    for stream, stats in replicated["streams"].items():
        rows.append(
            [
                stream,
                _ci(stats["latency_p50_ms"]),
                _ci(stats["latency_p99_ms"]),
                _ci(stats["latency_max_ms"]),
                _ci(stats["loss_rate"], 100.0),
                _ci(stats["jitter_ms"]),
            ]
        )
    out += _table(["stream", "p50 ms", "p99 ms", "max ms", "loss %", "jitter ms"], rows)
    if replicated["budgets"]:
        out.append("")
        brows = []
        for b in replicated["budgets"]:
            unit = b["unit"]
            scale, shown = (100.0, "%") if unit == "ratio" else (1.0, unit)
            bound = ">=" if b["metric"] == "throughput" else "<="
            verdict = "PASS" if b["pass"] else "FAIL"
            brows.append(
                [
                    b["stream"],
                    b["metric"],
                    f"{_ci(b['value'], scale)} {shown}",
                    f"{bound} {b['limit'] * scale:g} {shown}",
                    f"{b['runs_passed']}/{n}",
                    verdict if b["settled"] else f"{verdict}?",
                ]
            )
        out += _table(["budget", "metric", "mean ± CI", "limit", "runs ok", "verdict"], brows)
        out.append("")
        out.append("A verdict with '?' is not settled: its interval straddles the limit; run more")
        out.append("replications to tell.")
    failed = sum(not b["pass"] for b in replicated["budgets"])
    unsettled = sum(not b["settled"] for b in replicated["budgets"])
    out.append("")
    total = len(replicated["budgets"])
    if not total:
        out.append("verdict: no budgets to judge")
    else:
        word = (
            f"FAIL ({failed} of {total} budgets failed on the mean)"
            if failed
            else (f"PASS (all {total} budgets hold on the mean)")
        )
        note = "settled" if not unsettled else f"{unsettled} of {total} not settled"
        out.append(f"verdict: {word}; {note}")
    if where:
        out.append(f"results: {where}")
    return "\n".join(out)
