"""Figures of a run, drawn from the results.json document alone (no packets needed).

Every function takes the document (a dict, as :func:`netsim.files.results_document` makes it
and ``results.json`` holds it) and returns a :class:`matplotlib.figure.Figure`, or None when
the document has nothing for that figure:

- :func:`latency_cdf`: the distribution of one-way latency per stream, budget limits marked;
- :func:`latency_ccdf`: its complement on a log axis, down to 1e-6, for the tail;
- :func:`latency_over_time`: p50, p99 and max per time bin, and link capacity below, with
  handovers (ticks) and outages (hatched spans);
- :func:`along_route`: the same against the distance a radio link's vehicle has travelled;
- :func:`budget_margins`: how far each budget is from its limit (< 1 passes);
- :func:`all_figures`: those that have something to show, in report order.

Figures are built on :class:`~matplotlib.figure.Figure` directly, never through pyplot, so
nothing opens a window and no global figure registry is touched. The style (:data:`STYLE`) is
readable in grayscale: series differ by line style and marker as well as by colour (the
Okabe-Ito palette, safe for colour-blind readers). Matplotlib reads its settings from the
process-wide ``rcParams`` while drawing, so building and saving hold a lock around a
temporary :func:`matplotlib.rc_context`: figures can be made from several threads.

This is the only module of netsim that imports matplotlib; nothing in the core imports it.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from .budgets import budget_margin
from .plots_style import (
    _BUDGET_COLOR,
    FIGSIZE,
    FIGSIZE_TALL,
    STYLE,
    _figure,
    _floats,
    _series,
    _stream_names,
    _styled,
    legend_columns,
    series_style,
)
from .plots_time import _radio_links, along_route, latency_over_time, webrtc_over_time

__all__ = [
    "STYLE",
    "FIGSIZE",
    "FIGSIZE_TALL",
    "latency_cdf",
    "latency_ccdf",
    "latency_over_time",
    "along_route",
    "webrtc_over_time",
    "budget_margins",
    "all_figures",
    "figure_svg",
    "save",
]


def _percentile_of(metric: str) -> float | None:
    """``latency_p99`` -> 99, ``latency_p999`` -> 99.9 (inverse of plan.format_percentile)."""
    match = re.fullmatch(r"latency_p(\d+)", metric or "")
    if not match:
        return None
    digits = match.group(1)
    if len(digits) <= 2 or digits == "100":
        return float(digits)
    return float(f"{digits[:2]}.{digits[2:]}")


def _latency_budgets(doc: dict) -> list[tuple[float, float, list[str]]]:
    """(limit ms, percentile, streams) for each distinct latency limit and percentile."""
    grouped: dict[tuple[float, float], list[str]] = {}
    for budget in doc.get("budgets") or []:
        percentile = _percentile_of(budget.get("metric", ""))
        limit = budget.get("limit")
        if percentile is None or limit is None or budget.get("unit") != "ms":
            continue
        grouped.setdefault((float(limit), percentile), []).append(str(budget.get("stream")))
    return [(limit, p, streams) for (limit, p), streams in grouped.items()]


def _format_ms(value: float) -> str:
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.3g} ms"


def _format_percentile(p: float) -> str:
    return f"p{p:g}"


def _mark_budgets(ax, doc: dict, ccdf: bool) -> bool:
    """Vertical line at each latency limit, and a cross at (limit, its percentile level)."""
    budgets = _latency_budgets(doc)
    for limit, p, streams in budgets:
        ax.axvline(limit, color=_BUDGET_COLOR, linewidth=0.8, linestyle="-", zorder=1)
        level = 1.0 - p / 100.0 if ccdf else p / 100.0
        ax.plot(
            [limit],
            [level],
            marker="x",
            color=_BUDGET_COLOR,
            markersize=6,
            markeredgewidth=1.2,
            linestyle="none",
            zorder=6,
        )
        text = f"budget {_format_percentile(p)} ≤ {_format_ms(limit)} ({', '.join(streams)})"
        # Where the curves rarely are: a CCDF falls, so below and left of the line is empty;
        # a CDF rises, so below and right of it (when the budget holds) is.
        ax.text(
            limit,
            0.03,
            text,
            rotation=90,
            ha="right" if ccdf else "left",
            va="bottom",
            fontsize=7,
            color="#333333",
            transform=ax.get_xaxis_transform(),
            zorder=5,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.6, "pad": 0.5},
        )
    return bool(budgets)


def _budget_legend_handle() -> Line2D:
    return Line2D(
        [],
        [],
        color=_BUDGET_COLOR,
        linewidth=0.8,
        marker="x",
        markersize=6,
        markeredgewidth=1.2,
        label="budget: limit, and its percentile",
    )


def _auto_log(values: list[np.ndarray], log_x: bool | None) -> bool:
    if log_x is not None:
        return log_x
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values] or [np.array([])])
    return bool(finite.size and finite.max() / finite.min() > 30.0)


def _quantile_curves(doc: dict) -> list[tuple[int, str, np.ndarray, np.ndarray]]:
    quantiles = _series(doc).get("quantiles") or {}
    curves = []
    for i, name in enumerate(_stream_names(doc)):
        q = quantiles.get(name)
        if not q:
            continue
        p, ms = _floats(q.get("p")), _floats(q.get("ms"))
        keep = np.isfinite(p) & np.isfinite(ms)
        if keep.any():
            curves.append((i, name, p[keep], ms[keep]))
    return curves


def latency_cdf(doc: dict, log_x: bool = False) -> Figure | None:
    """CDF of one-way latency per stream (delivered packets), latency budgets marked.

    Parameters
    ----------
    doc
        The results.json document.
    log_x
        Logarithmic latency axis (default linear).

    Returns
    -------
    Figure or None
        None when no stream delivered a packet.
    """
    curves = _quantile_curves(doc)
    if not curves:
        return None
    with _styled():
        fig = _figure()
        ax = fig.add_subplot()
        for i, name, p, ms in curves:
            ax.plot(ms, p, label=name, markevery=0.1, **series_style(i))
        budgets = _mark_budgets(ax, doc, ccdf=False)
        if log_x:
            ax.set_xscale("log")
        else:
            ax.set_xlim(left=0)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("one-way latency (ms)")
        ax.set_ylabel("fraction of delivered packets ≤ x")
        ax.set_title("Latency distribution (CDF)", loc="left")
        handles, _ = ax.get_legend_handles_labels()
        if budgets:
            handles.append(_budget_legend_handle())
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncols=legend_columns(fig, handles, 4),
        )
    return fig


def latency_ccdf(doc: dict, log_x: bool | None = None) -> Figure | None:
    """Complementary CDF (fraction later than x) per stream on a log axis, down to 1e-6.

    The largest latency is drawn at 1/n, n the stream's delivered packets. A latency budget
    is a cross at (limit, 1 - percentile): the stream meets it when its curve passes below.

    Parameters
    ----------
    doc
        The results.json document.
    log_x
        Logarithmic latency axis; None (default) when latencies span more than 30 times.

    Returns
    -------
    Figure or None
        None when no stream delivered a packet.
    """
    curves = _quantile_curves(doc)
    if not curves:
        return None
    streams = doc.get("streams") or {}
    lowest = 1.0
    with _styled():
        fig = _figure()
        ax = fig.add_subplot()
        xs = []
        for i, name, p, ms in curves:
            tail = 1.0 - p
            delivered = (streams.get(name) or {}).get("packets_delivered")
            if tail.size and tail[-1] <= 0:
                if delivered:
                    tail[-1] = 1.0 / float(delivered)
                else:
                    tail, ms = tail[:-1], ms[:-1]
            keep = tail > 0
            tail, ms = tail[keep], ms[keep]
            if not tail.size:
                continue
            lowest = min(lowest, float(tail.min()))
            xs.append(ms)
            ax.plot(ms, tail, label=name, markevery=0.1, **series_style(i))
        budgets = _mark_budgets(ax, doc, ccdf=True)
        ax.set_yscale("log")
        bottom = max(1e-6, 10.0 ** math.floor(math.log10(max(lowest, 1e-12))))
        ax.set_ylim(bottom / 1.5, 1.5)
        if _auto_log(xs, log_x):
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            ax.set_xlim(left=0)
        ax.set_xlabel("one-way latency x (ms)")
        ax.set_ylabel("fraction of delivered packets > x")
        ax.set_title("Latency tail (complementary CDF)", loc="left")
        handles, _ = ax.get_legend_handles_labels()
        if budgets:
            handles.append(_budget_legend_handle())
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncols=legend_columns(fig, handles, 4),
        )
    return fig


def _budget_label(budget: dict) -> str:
    metric = str(budget.get("metric", ""))
    percentile = _percentile_of(metric)
    what = f"latency {_format_percentile(percentile)}" if percentile is not None else metric
    what = {"loss_rate": "loss", "throughput": "throughput (min)"}.get(what, what)
    name = budget.get("name")
    return f"{budget.get('stream')}: {what}" + (f" [{name}]" if name else "")


def budget_margins(doc: dict) -> Figure | None:
    """One horizontal bar per budget from 1 to its margin (log scale); < 1 passes.

    The margin is value/limit for upper bounds (latency, loss, jitter) and limit/value for
    minimum throughput. Failing bars are hatched and every bar is labelled PASS or FAIL.

    Returns
    -------
    Figure or None
        None when the scenario has no budget.
    """
    budgets = list(doc.get("budgets") or [])
    if not budgets:
        return None
    margins = np.array([budget_margin(b) for b in budgets])
    finite = margins[np.isfinite(margins) & (margins > 0)]
    lo = min(0.1, float(finite.min()) if finite.size else 0.1) / 2.5
    hi = max(10.0, float(finite.max()) if finite.size else 10.0) * 2.5
    lo, hi = max(lo, 1e-4), min(hi, 1e4)
    shown = np.clip(np.where(np.isfinite(margins), margins, hi), lo, hi)
    n = len(budgets)
    height = FIGSIZE[1] if n <= 8 else min(1.2 + 0.3 * n, 12.0)
    y = np.arange(n)[::-1]
    with _styled():
        fig = _figure((FIGSIZE[0], height))
        ax = fig.add_subplot()
        for yi, budget, m in zip(y, budgets, shown, strict=True):
            passed = bool(budget.get("pass"))
            look = (
                {"facecolor": "#9ecae1", "edgecolor": "#000000", "hatch": None}
                if passed
                else {"facecolor": "#fdd0a2", "edgecolor": "#000000", "hatch": "xxx"}
            )
            left, right = min(1.0, m), max(1.0, m)
            ax.barh(yi, right - left, left=left, height=0.6, linewidth=0.6, **look)
        ax.axvline(1.0, color="#000000", linewidth=1.2)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_yticks(y, [_budget_label(b) for b in budgets])
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(
            "margin = value / limit  (min throughput: limit / value)\n< 1 passes, > 1 fails"
        )
        ax.set_title("Budget margins", loc="left")
        right = ax.twinx()
        right.set_ylim(ax.get_ylim())
        verdicts = []
        for budget, m in zip(budgets, margins, strict=True):
            word = "PASS" if budget.get("pass") else "FAIL"
            amount = "no value" if not math.isfinite(m) else f"×{m:.3g}"
            verdicts.append(f"{word} {amount}")
        right.set_yticks(y, verdicts)
        right.grid(False)
        right.spines["right"].set_visible(False)
        right.tick_params(axis="y", length=0)
        fig.legend(
            handles=[
                Patch(facecolor="#9ecae1", edgecolor="#000000", linewidth=0.6, label="pass"),
                Patch(
                    facecolor="#fdd0a2",
                    edgecolor="#000000",
                    hatch="xxx",
                    linewidth=0.6,
                    label="fail (hatched)",
                ),
            ],
            loc="outside upper right",
            ncols=2,
        )
    return fig


FIGURE_TITLES = {
    "loop-breakdown": "Motion-to-photon latency, part by part",
    "budget-margins": "Budget margins",
    "latency-ccdf": "Latency tail (complementary CDF)",
    "latency-cdf": "Latency distribution (CDF)",
    "latency-over-time": "Latency and capacity over time",
    "webrtc-over-time": "WebRTC frames, messages and bit rate over time",
    "along-route": "Latency and outages along the route",
}


_LOOP_PARTS = (
    ("command_one_way", "command, one way", "////"),
    ("actuation", "actuation", ""),
    ("frame_wait", "wait for the next frame", "...."),
    ("frame_serialisation", "frame sent", "xxxx"),
    ("video_one_way", "video, one way", "\\\\\\\\"),
    ("video_pipeline", "encode + decode + display", "oo"),
)


def loop_breakdown(doc: dict) -> Figure | None:
    """A control loop's mean motion-to-photon latency as one bar, split into its parts.

    Reads ``workloads.<name>.motion_to_photon_breakdown_ms`` (telesurgery); segments differ
    by hatch as well as shade, and each is labelled with its milliseconds.
    """
    breakdown = None
    for metrics in (doc.get("workloads") or {}).values():
        breakdown = (metrics or {}).get("motion_to_photon_breakdown_ms") or breakdown
    if not breakdown or any(breakdown.get(k) is None for k, _, _ in _LOOP_PARTS):
        return None
    with _styled():
        fig = _figure((FIGSIZE[0], 2.6))
        ax = fig.add_subplot()
        left = 0.0
        shades = np.linspace(0.25, 0.9, len(_LOOP_PARTS))
        for (key, label, hatch), shade in zip(_LOOP_PARTS, shades, strict=True):
            width = float(breakdown[key])
            ax.barh(
                0, width, left=left, height=0.5, color=str(shade), edgecolor="#000000",
                hatch=hatch or None, label=f"{label}: {width:.1f} ms",
            )  # fmt: skip
            left += width
        ax.set_yticks([])
        ax.set_xlabel("mean motion-to-photon latency (ms)")
        ax.set_xlim(0, left * 1.02)
        fig.legend(loc="outside lower center", ncol=2, frameon=False)
    return fig


def all_figures(doc: dict) -> list[tuple[str, str, Figure]]:
    """Every figure the document supports, in report order: (id, title, figure).

    The order is budget margins, latency CDF, complementary CDF, latency over time, then one
    along-route figure per radio link (id ``along-route-<link>`` when there are several).
    """
    out: list[tuple[str, str, Figure]] = []
    for key, make in (
        ("loop-breakdown", loop_breakdown),
        ("budget-margins", budget_margins),
        ("latency-cdf", latency_cdf),
        ("latency-ccdf", latency_ccdf),
        ("latency-over-time", latency_over_time),
        ("webrtc-over-time", webrtc_over_time),
    ):
        fig = make(doc)
        if fig is not None:
            out.append((key, FIGURE_TITLES[key], fig))
    radio = _radio_links(doc)
    for link in radio:
        fig = along_route(doc, link)
        if fig is not None:
            key = "along-route" if len(radio) == 1 else f"along-route-{_slug(link)}"
            out.append((key, f"{FIGURE_TITLES['along-route']} ({link})", fig))
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "link"


_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_ID = re.compile(r'\bid="([^"]+)"')


def figure_svg(fig: Figure, id_prefix: str = "") -> str:
    """The figure as inline SVG text: no XML prolog or doctype, text drawn as outlines.

    Parameters
    ----------
    fig
        The figure.
    id_prefix
        Prepended to every element id (and to the references to them), so several figures
        can be inlined in one HTML document without clashing ids.
    """
    buffer = io.StringIO()
    with _styled():
        fig.savefig(buffer, format="svg", metadata=_SVG_METADATA)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    if id_prefix:
        ids = set(_ID.findall(text))
        text = _ID.sub(lambda m: f'id="{id_prefix}{m.group(1)}"', text)

        def ref(match: re.Match) -> str:
            name = match.group(2)
            return match.group(1) + (id_prefix + name if name in ids else name)

        text = re.sub(r'(href="#)([^"]+)', ref, text)
        text = re.sub(r"(url\(#)([^)]+)", ref, text)
    return text.strip() + "\n"


def save(fig: Figure, path: str | Path) -> Path:
    """Write the figure to ``path`` atomically; the format follows the extension.

    Parameters
    ----------
    fig
        The figure.
    path
        Ends in ``.png`` (200 dpi), ``.svg`` or ``.pdf``.

    Raises
    ------
    ValueError
        For any other extension.
    """
    from .files import atomic_write

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"cannot save a figure as {path.name!r}: use .png, .svg or .pdf")
    metadata = {"svg": _SVG_METADATA, "pdf": {"CreationDate": None}, "png": {"Software": None}}
    with _styled(), atomic_write(path, binary=True) as f:
        fig.savefig(f, format=fmt, metadata=metadata[fmt])
    return path
