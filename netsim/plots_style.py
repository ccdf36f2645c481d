"""The figures' shared style: sizes, a grayscale-readable palette, the drawing lock.

Series differ by line style and marker as well as by colour (the Okabe-Ito palette, safe for
colour-blind readers). Matplotlib reads its settings from the process-wide ``rcParams`` while
drawing, so figures are built under a lock around a temporary :func:`matplotlib.rc_context`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["STYLE", "FIGSIZE", "FIGSIZE_TALL", "series_style", "legend_columns", "CAPACITY_LOOKS"]


FIGSIZE = (6.4, 3.6)
"""Size of a one-panel figure, inches."""
FIGSIZE_TALL = (6.4, 4.8)
"""Size of a two-panel figure (shared x), inches."""

COLORS = ("#000000", "#E69F00", "#0072B2", "#D55E00", "#56B4E9", "#CC79A7", "#009E73")
"""Okabe-Ito colours, ordered so that neighbours also differ in grey level."""
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")

STYLE: dict[str, object] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9.0,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "legend.handlelength": 2.8,
    "axes.grid": True,
    "axes.grid.which": "major",
    "grid.linewidth": 0.4,
    "grid.color": "#b0b0b0",
    "grid.alpha": 0.6,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "axes.prop_cycle": matplotlib.cycler(color=list(COLORS), linestyle=list(LINESTYLES)),
    "lines.linewidth": 1.2,
    "lines.markersize": 4.0,
    "xtick.direction": "out",
    "ytick.direction": "out",
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "hatch.linewidth": 0.6,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.dpi": 200,
    "svg.fonttype": "path",  # text as outlines: identical everywhere, no font needed
    "svg.hashsalt": "medlink",  # deterministic ids
    "pdf.fonttype": 42,
}
"""The publication style, applied while a figure is built and while it is saved."""

_LOCK = threading.RLock()
_OUTAGE = {"facecolor": "#d9d9d9", "edgecolor": "#7f7f7f", "hatch": "////", "linewidth": 0.0}
_HANDOVER_COLOR = "#404040"
_BUDGET_COLOR = "#555555"
_QUANTITY = {  # per-bin latency statistic -> line look (the stream gives colour and marker)
    "latency_p99_ms": {"linestyle": "-", "linewidth": 1.1, "alpha": 1.0, "label": "p99"},
    "latency_p50_ms": {"linestyle": "--", "linewidth": 0.9, "alpha": 1.0, "label": "p50"},
    "latency_max_ms": {"linestyle": ":", "linewidth": 0.7, "alpha": 0.45, "label": "max"},
}


@contextmanager
def _styled() -> Iterator[None]:
    with _LOCK, matplotlib.rc_context(STYLE):
        yield


def _figure(size: tuple[float, float] = FIGSIZE) -> Figure:
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def series_style(index: int) -> dict:
    """Colour, line style and marker of the ``index``-th series (distinct in grayscale).

    The first seven take the palette in step; from the eighth on, the marker and line style
    shift by one more every seven, so no two of the first 49 series look the same (a bonded
    ambulance has ten streams).
    """
    turn = index // len(COLORS)
    return {
        "color": COLORS[index % len(COLORS)],
        "linestyle": LINESTYLES[(index + turn) % len(LINESTYLES)],
        "marker": MARKERS[(index + turn) % len(MARKERS)],
    }


CAPACITY_LOOKS = (
    {"color": "#5a5a5a", "linestyle": "-", "marker": "x"},
    {"color": "#5a5a5a", "linestyle": "--", "marker": "+"},
    {"color": "#9a9a9a", "linestyle": "-", "marker": "x"},
    {"color": "#9a9a9a", "linestyle": "--", "marker": "+"},
)
"""Link capacity lines: greys and markers no stream uses, so the shared legend tells them
apart from the streams."""


def legend_columns(fig: Figure, handles: list, most: int) -> int:
    """The most columns (up to ``most``) in which a legend of ``handles`` fits the figure's
    width: each column as wide as the longest entry (handle, gap, label at the legend's font
    size, about 0.6 em a character in DejaVu Sans)."""
    labels = [h.get_label() for h in handles]
    size = float(STYLE["legend.fontsize"])
    handle = float(STYLE["legend.handlelength"]) + 0.8 + 2.0  # handle, text pad, column gap
    longest = max((len(label) for label in labels), default=1)
    entry_pt = (handle + 0.6 * longest) * size
    fits = int(fig.get_figwidth() * 72.0 // entry_pt)
    return max(1, min(len(labels), most, fits))


def _floats(values) -> np.ndarray:
    return np.array([math.nan if v is None else float(v) for v in values or []], dtype=float)


def _series(doc: dict) -> dict:
    return doc.get("series") or {}


def _stream_names(doc: dict) -> list[str]:
    return list((doc.get("streams") or {}) or _series(doc).get("streams") or {})
