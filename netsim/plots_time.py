"""Figures over time and along a route: latency per time bin, link capacity, handovers
and outages (netsim.plots gathers them with the others)."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from .plots_style import (
    _HANDOVER_COLOR,
    _OUTAGE,
    _QUANTITY,
    CAPACITY_LOOKS,
    FIGSIZE,
    FIGSIZE_TALL,
    _figure,
    _floats,
    _series,
    _stream_names,
    _styled,
    legend_columns,
    series_style,
)

__all__ = ["latency_over_time", "along_route", "webrtc_over_time"]


def _events(doc: dict, link: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Handover times, and outage (start, end) rows, of ``link`` or of every link."""
    handovers, outages = [], []
    for event in _series(doc).get("events") or []:
        if link is not None and event.get("link") != link:
            continue
        t = event.get("t_s")
        if t is None:
            continue
        if event.get("kind") == "handover":
            handovers.append(float(t))
        elif event.get("kind") == "outage":
            outages.append((float(t), float(t) + float(event.get("duration_s") or 0.0)))
    return np.array(handovers, dtype=float), np.array(outages, dtype=float).reshape(-1, 2)


def _draw_events(ax, handovers: np.ndarray, outages: np.ndarray) -> None:
    """Outages as hatched spans over the full height, handovers as ticks along the top."""
    if outages.size:
        verts = [[(a, 0.0), (a, 1.0), (b, 1.0), (b, 0.0)] for a, b in outages]
        spans = PolyCollection(verts, transform=ax.get_xaxis_transform(), zorder=0, **_OUTAGE)
        ax.add_collection(spans, autolim=False)
    if handovers.size:
        ax.vlines(
            handovers,
            0.92,
            1.0,
            transform=ax.get_xaxis_transform(),
            color=_HANDOVER_COLOR,
            linewidth=0.7,
            zorder=3,
        )


def _event_handles(handovers: np.ndarray, outages: np.ndarray) -> list:
    handles = []
    if handovers.size:
        handles.append(
            Line2D(
                [],
                [],
                color=_HANDOVER_COLOR,
                linewidth=0.7,
                marker="|",
                markersize=8,
                linestyle="none",
                label="handover",
            )
        )
    if outages.size:
        handles.append(Patch(label="outage", **_OUTAGE))
    return handles


def _latency_panel(ax, doc: dict, x: np.ndarray, stats: tuple[str, ...]) -> list:
    """Per-bin latency of every stream against ``x``; returns legend handles."""
    streams = _series(doc).get("streams") or {}
    handles = []
    drawn = set()
    for i, name in enumerate(_stream_names(doc)):
        entry = streams.get(name)
        if not entry:
            continue
        style = series_style(i)
        for key in stats:
            y = _floats(entry.get(key))
            if y.size != x.size or not np.isfinite(y).any():
                continue
            look = _QUANTITY[key]
            ax.plot(
                x,
                y,
                color=style["color"],
                linestyle=look["linestyle"],
                linewidth=look["linewidth"],
                alpha=look["alpha"],
                marker=style["marker"] if key != "latency_max_ms" else None,
                markevery=_every(x.size, i, len(drawn)),
                markersize=3.5,
            )
            drawn.add(key)
        handles.append(
            Line2D(
                [],
                [],
                color=style["color"],
                marker=style["marker"],
                markersize=3.5,
                linestyle="-",
                linewidth=1.1,
                label=name,
            )
        )
    for key in stats:
        if key in drawn and len(stats) > 1:
            look = _QUANTITY[key]
            handles.append(
                Line2D(
                    [],
                    [],
                    color="#000000",
                    linestyle=look["linestyle"],
                    linewidth=look["linewidth"],
                    alpha=look["alpha"],
                    label=look["label"],
                )
            )
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    return handles if drawn else []


def _every(n: int, series: int, quantity: int) -> tuple[int, int]:
    """Markers about 12 per line, staggered between series so they do not overlap."""
    step = max(1, n // 12)
    return ((series * step // 3 + quantity * step // 7) % step, step)


def _capacity_panel(ax, links: dict[str, dict], x: np.ndarray, step: bool) -> list:
    handles = []
    for j, (name, entry) in enumerate(links.items()):
        y = _floats(entry.get("capacity_mbps"))
        if y.size != x.size:
            continue
        look = CAPACITY_LOOKS[j % len(CAPACITY_LOOKS)]
        (line,) = ax.plot(
            x,
            y,
            color=look["color"],
            linestyle=look["linestyle"],
            linewidth=0.9,
            marker=look["marker"],
            markevery=_every(x.size, j, 0),
            markersize=3.5,
            drawstyle="steps-post" if step else "default",
            label=f"capacity of {name}",
        )
        handles.append(line)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("capacity (Mbit/s)")
    return handles


def latency_over_time(doc: dict) -> Figure | None:
    """Per-bin latency (p50, p99, max; log scale) and, below, time-varying link capacity.

    Handovers are ticks along the top of each panel and outages hatched spans across them.
    Bins where a stream delivered nothing are gaps.

    Returns
    -------
    Figure or None
        None when the document has no binned latency.
    """
    series = _series(doc)
    t0 = _floats(series.get("t_s"))
    if not t0.size:
        return None
    links = {k: v for k, v in (series.get("links") or {}).items() if v.get("capacity_mbps")}
    bin_s = float(series.get("bin_s") or 0.0)
    handovers, outages = _events(doc)
    with _styled():
        fig = _figure(FIGSIZE_TALL if links else FIGSIZE)
        if links:
            ax, cap = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        else:
            ax, cap = fig.add_subplot(), None
        stats = ("latency_p99_ms", "latency_p50_ms", "latency_max_ms")
        handles = _latency_panel(ax, doc, t0 + bin_s / 2, stats)
        if not handles:
            return None
        _draw_events(ax, handovers, outages)
        ax.set_ylabel("one-way latency (ms)")
        ax.set_title(f"Latency per {bin_s:g} s bin", loc="left")
        end = float(doc.get("duration_s") or (t0[-1] + bin_s))
        ax.set_xlim(0, end)
        bottom = ax
        if cap is not None:
            handles += _capacity_panel(cap, links, t0, step=True)
            _draw_events(cap, handovers, outages)
            bottom = cap
        bottom.set_xlabel("time (s)")
        handles += _event_handles(handovers, outages)
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncols=legend_columns(fig, handles, 6),
        )
    return fig


def _radio_links(doc: dict) -> list[str]:
    links = _series(doc).get("links") or {}
    return [name for name, entry in links.items() if entry.get("distance_m")]


def along_route(doc: dict, link: str | None = None) -> Figure | None:
    """Latency p99 per bin against the distance travelled by a radio link's vehicle (km).

    Outages are shaded over the stretch of road they cover (event times mapped to distance
    by interpolating the bins), handovers are ticks where they happened; the capacity of the
    link is drawn below.

    Parameters
    ----------
    doc
        The results.json document.
    link
        The radio link; default the first one.

    Returns
    -------
    Figure or None
        None when the document has no radio link (no ``distance_m`` series).
    """
    radio = _radio_links(doc)
    if link is None and radio:
        link = radio[0]
    if link not in radio:
        return None
    series = _series(doc)
    entry = series["links"][link]
    bin_s = float(series.get("bin_s") or 0.0)
    middles = _floats(series.get("t_s")) + bin_s / 2
    km = _floats(entry["distance_m"]) / 1e3
    if km.size != middles.size or not np.isfinite(km).any():
        return None
    ok = np.isfinite(km)

    def to_km(t: np.ndarray) -> np.ndarray:
        return np.interp(t, middles[ok], km[ok])

    handovers, outages = _events(doc, link)
    handovers_km, outages_km = to_km(handovers), to_km(outages.ravel()).reshape(-1, 2)
    with _styled():
        fig = _figure(FIGSIZE_TALL)
        ax, cap = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        handles = _latency_panel(ax, doc, km, ("latency_p99_ms",))
        if not handles:
            return None
        _draw_events(ax, handovers_km, outages_km)
        ax.set_ylabel("one-way latency p99 (ms)")
        ax.set_title(f"Latency and outages along the route of link {link}", loc="left")
        link_handles = _capacity_panel(cap, {link: entry}, km, step=False)
        _draw_events(cap, handovers_km, outages_km)
        cap.set_xlabel("distance travelled (km)")
        cap.set_xlim(0, max(float(np.nanmax(km)), 1e-3))
        handles += link_handles + _event_handles(handovers, outages)
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncols=legend_columns(fig, handles, 6),
        )
    return fig


def webrtc_over_time(doc: dict) -> Figure | None:
    """What WebRTC delivered over time: each stream's frame or message latency per bin (p99
    solid, p50 dashed; log scale) and, below, every video's encoder target and sent bit rate.

    Returns
    -------
    Figure or None
        None when the document has no WebRTC stream.
    """
    series = _series(doc)
    webrtc = series.get("webrtc") or {}
    t0 = _floats(series.get("t_s"))
    if not webrtc or not t0.size:
        return None
    bin_s = float(series.get("bin_s") or 0.0)
    x = t0 + bin_s / 2
    videos = {k: v for k, v in webrtc.items() if v.get("target_mbps")}
    with _styled():
        fig = _figure(FIGSIZE_TALL if videos else FIGSIZE)
        if videos:
            ax, rate = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        else:
            ax, rate = fig.add_subplot(), None
        handles = []
        for i, (name, entry) in enumerate(webrtc.items()):
            style = series_style(i)
            drawn = False
            for key, linestyle in (("latency_p99_ms", "-"), ("latency_p50_ms", "--")):
                y = _floats(entry.get(key))
                if y.size == x.size and np.isfinite(y).any():
                    ax.plot(x, y, color=style["color"], linestyle=linestyle, linewidth=1.1)
                    drawn = True
            if drawn:
                label = f"{name} ({entry.get('unit', 'unit')})"
                handles.append(
                    Line2D([], [], color=style["color"], marker=style["marker"], label=label)
                )
        if not handles:
            return None
        handles.append(Line2D([], [], color="#000000", linestyle="-", label="p99"))
        handles.append(Line2D([], [], color="#000000", linestyle="--", label="p50"))
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylabel("frame / message latency (ms)")
        ax.set_title(f"Frames and messages per {bin_s:g} s bin", loc="left")
        ax.set_xlim(0, float(doc.get("duration_s") or (t0[-1] + bin_s)))
        bottom = ax
        if rate is not None:
            for i, (name, entry) in enumerate(webrtc.items()):
                if name not in videos:
                    continue
                style = series_style(i)
                target = _floats(entry.get("target_mbps"))
                rate.step(t0, target, where="post", color=style["color"], linewidth=1.3)
                sent = _floats(entry.get("sent_mbps"))
                if sent.size == t0.size:
                    rate.plot(x, sent, color=style["color"], linestyle=":", linewidth=1.0)
            handles.append(Line2D([], [], color="#000000", linewidth=1.3, label="video target"))
            handles.append(Line2D([], [], color="#000000", linestyle=":", label="video sent"))
            rate.set_ylabel("bit rate (Mbit/s)")
            rate.set_ylim(bottom=0)
            bottom = rate
        bottom.set_xlabel("time (s)")
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncols=legend_columns(fig, handles, 4),
        )
    return fig
