"""What the plots need, small enough for results.json: binned time series, quantiles, events.

``medlink plot results.json`` redraws every figure from this section alone, without the
packets, so it is computed once per run (:func:`build_series`) and written under ``series``:

- ``bin_s``: the width of a time bin, a 1-2-5 step giving at most :data:`MAX_BINS` bins over
  the run's duration;
- ``streams.<name>``: per bin (by send time) packets sent and delivered, and the p50, p99
  and max one-way latency of the packets delivered (ms; null for a bin without any);
- ``quantiles.<name>``: the latency quantile function on a grid dense in the tail (``p``,
  ``ms``), for CDF and complementary-CDF plots; only the quantiles the sample supports (at
  least one packet beyond them);
- ``links.<name>``: for links whose capacity varies, the mean capacity in each bin (Mbit/s),
  and for radio links the distance travelled at each bin's middle (m);
- ``events``: every control event (time, kind, link, duration, detail), at most
  :data:`MAX_EVENTS`;
- ``webrtc.<name>``: for a WebRTC stream, per bin its units (frames, messages) by capture or
  send time, those that arrived, their latency p50 and p99 (ms), and for video the encoder's
  target and the sent bit rate (Mbit/s).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .columns import stream_packets
from .packetlog import DELIVERED
from .stats import Ascending, quantiles_of_sorted

__all__ = ["build_series", "bin_width", "series_edges", "quantile_curve", "MAX_BINS", "MAX_EVENTS"]

MAX_BINS = 600
MAX_EVENTS = 20_000


def bin_width(duration_s: float, max_bins: int = MAX_BINS) -> float:
    """The smallest 1-2-5 step (>= 1 ms) giving at most ``max_bins`` bins over the duration."""
    target = max(duration_s / max_bins, 1e-3)
    exponent = math.floor(math.log10(target))
    for mantissa in (1, 2, 5, 10):
        step = mantissa * 10.0**exponent
        if step >= target * (1 - 1e-12):
            return float(step)
    return float(10.0 ** (exponent + 1))  # pragma: no cover - the loop always returns


def series_edges(duration_s: float) -> np.ndarray:
    """The time bins' edges for a run of ``duration_s``: multiples of :func:`bin_width`."""
    bin_s = bin_width(duration_s)
    n_bins = max(1, int(math.ceil(duration_s / bin_s - 1e-9)))
    return np.arange(n_bins + 1) * bin_s


def _summary_series(summary: Any) -> tuple[dict, dict | None]:
    """A stream's series and quantile curve from a bounded run's
    :class:`~netsim.summaries.StreamSummary` (the bins exact, the curve within the sketch's
    accuracy)."""
    sent, got, p50, p99, top = summary.bins
    entry = {
        "sent": sent.tolist(),
        "delivered": got.tolist(),
        "latency_p50_ms": _rounded(p50),
        "latency_p99_ms": _rounded(p99),
        "latency_max_ms": _rounded(top),
    }
    n = summary.delivered
    if not n:
        return entry, None
    grid = QUANTILE_GRID[(1.0 - QUANTILE_GRID) * n >= 1.0]
    values = np.array([summary.percentile(p * 100.0) for p in grid.tolist()]) * 1e3
    curve = {
        "p": [float(f"{p:.8g}") for p in grid.tolist()] + [1.0],
        "ms": _rounded(np.append(values, summary.latency.max * 1e3), 6),
    }
    return entry, curve


def quantile_curve(ascending: Ascending) -> dict | None:
    """A stream's quantile curve (``series.quantiles``) from its delivered latencies sorted:
    ``np.quantile`` of them in ms over :data:`QUANTILE_GRID`, to the bit, without a partition
    of 132 order statistics (0.5 s for 13 million packets). None without a delivery."""
    n = ascending.size
    if not n:
        return None
    grid = QUANTILE_GRID[(1.0 - QUANTILE_GRID) * n >= 1.0]
    values = quantiles_of_sorted(ascending.values, grid, scale=1e3)
    highest = ascending.values[-1] * 1e3
    return {
        "p": [float(f"{p:.8g}") for p in grid.tolist()] + [1.0],
        "ms": _rounded(np.append(values, highest), 6),
    }


def _quantile_grid() -> np.ndarray:
    body = np.linspace(0.0, 0.99, 100)
    tail = 1.0 - np.logspace(-2, -6, 33)[1:]
    return np.concatenate([body, tail])


QUANTILE_GRID = _quantile_grid()


def _stream_bins(t_send: np.ndarray, latency_ms: np.ndarray, delivered: np.ndarray, edges):
    n_bins = edges.size - 1
    index = np.clip(np.searchsorted(edges, t_send, side="right") - 1, 0, n_bins - 1)
    sent = np.bincount(index, minlength=n_bins)
    got = index[delivered]
    lat = latency_ms[delivered]
    count = np.bincount(got, minlength=n_bins)
    p50 = np.full(n_bins, np.nan)
    p99 = np.full(n_bins, np.nan)
    top = np.full(n_bins, np.nan)
    if lat.size:
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        if (got[1:] >= got[:-1]).all():
            # Sent in time order (every stream is): each bin is a contiguous slice, so sort
            # the slices (15 M packets: 0.2 s, against 4.7 s for one lexsort of them all).
            lat_sorted = lat.copy()
            for b in np.flatnonzero(count > 1):
                lat_sorted[start[b] : start[b] + count[b]].sort()
        else:
            lat_sorted = lat[np.lexsort((lat, got))]
        has = count > 0
        for q, out in ((0.5, p50), (0.99, p99), (1.0, top)):
            k = start + np.floor(q * (count - 1)).astype(np.int64)
            out[has] = lat_sorted[k[has]]
    return sent, count, p50, p99, top


def _stream_bins_sent_order(packets: Any, lat: np.ndarray, edges: np.ndarray) -> tuple:
    """:func:`_stream_bins` for one stream's :class:`~netsim.columns.StreamPackets`, with
    ``lat`` the delivered packets' latencies (ms, in send order; reordered in place within
    each bin).

    Packets are sent in time order, so each bin is a contiguous slice found by a binary
    search of the edges in each piece of the send times: no per-packet bin index, mask or
    copy (the time and memory they take for tens of millions of packets). Falls back to
    :func:`_stream_bins` otherwise.
    """
    fate = packets.fate
    n_bins = edges.size - 1
    inner = edges[1:n_bins]
    # Bin b holds edges[b] <= t < edges[b + 1]; the first bin also what is before, the last
    # also what is after (as _stream_bins clips).
    found = np.zeros(inner.size, dtype=np.int64)
    previous = -np.inf
    for piece in packets.send_pieces():
        if not piece.size:
            continue
        if not (piece[0] >= previous and (piece[1:] >= piece[:-1]).all()):
            delivered = fate == DELIVERED
            full = np.zeros(fate.size)
            full[delivered] = lat
            return _stream_bins(packets.t_send(), full, delivered, edges)
        found += np.searchsorted(piece, inner, side="left")
        previous = piece[-1]
    bounds = np.concatenate([[0], found, [fate.size]])
    sent = np.diff(bounds)
    count = np.array(
        [
            np.count_nonzero(fate[a:b] == DELIVERED)
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    p50 = np.full(n_bins, np.nan)
    p99 = np.full(n_bins, np.nan)
    top = np.full(n_bins, np.nan)
    if lat.size:
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        quantiles = (0.5, 0.99, 1.0)
        ranks = [np.floor(q * (count - 1)).astype(np.int64) for q in quantiles]
        # Only three order statistics per bin: a partition puts each where a sort would
        # (the same values), in linear time.
        for b in np.flatnonzero(count > 1).tolist():
            kth = sorted({int(r[b]) for r in ranks})
            lat[start[b] : start[b] + count[b]].partition(kth)
        has = count > 0
        for rank, out in zip(ranks, (p50, p99, top), strict=True):
            k = start + rank
            out[has] = lat[k[has]]
    return sent, count, p50, p99, top


def _rounded(values: np.ndarray, digits: int = 4) -> list:
    return [None if not math.isfinite(v) else float(f"{v:.{digits}g}") for v in values.tolist()]


def build_series(results: Any) -> dict:
    """The ``series`` section of results.json for ``results`` (see the module docstring).

    ``results`` is a :class:`netsim.results.Results` (anything with its ``plan``, ``packets``,
    ``events`` and ``dynamics``), not imported here so the two modules stay a line apart."""
    plan, log = results.plan, results.packets
    edges = series_edges(plan.duration_s)
    bin_s = bin_width(plan.duration_s)
    streams: dict[str, dict] = {}
    quantiles: dict[str, dict] = {}
    curves = getattr(results, "curves", None) or {}  # built from one sort per stream
    if getattr(log, "bounded", False):  # a bounded run built its bins as it went
        for name, summary in log.summaries.items():
            streams[name], q = _summary_series(summary)
            if q is not None:
                quantiles[name] = q
    for name, packets in () if streams else stream_packets(plan, log).items():
        # Latencies of the delivered packets in send order (ms); the bins partition it in
        # place, by bin (they need no order). The quantile curve comes from one sort of the
        # latencies (build_results made it, or it is made here).
        lat = packets.latency_s * 1e3
        sent, got, p50, p99, top = _stream_bins_sent_order(packets, lat, edges)
        streams[name] = {
            "sent": sent.tolist(),
            "delivered": got.tolist(),
            "latency_p50_ms": _rounded(p50),
            "latency_p99_ms": _rounded(p99),
            "latency_max_ms": _rounded(top),
        }
        curve = curves[name] if name in curves else quantile_curve(Ascending(packets.latency_s))
        if curve is not None:
            quantiles[name] = curve
        del lat
    links: dict[str, dict] = {}
    for name, dynamics in (getattr(results, "dynamics", None) or {}).items():
        if dynamics.curve is None:
            continue
        work = dynamics.curve.work_at(edges)
        entry = {"capacity_mbps": _rounded(np.diff(work) * 8.0 / bin_s / 1e6)}
        radio = plan.links[name].radio
        if radio is not None:
            from .radiolink import route_of

            middles = edges[:-1] + bin_s / 2
            entry["distance_m"] = _rounded(route_of(radio).distance_travelled(middles), 6)
        links[name] = entry
    events = results.events
    listed = []
    if events is not None:
        for i in range(min(len(events.t_s), MAX_EVENTS)):
            listed.append(
                {
                    "t_s": events.t_s[i],
                    "kind": events.kind[i],
                    "link": events.link[i],
                    "duration_s": events.value[i],
                    "detail": events.detail[i],
                }
            )
    out = {
        "bin_s": bin_s,
        "t_s": _rounded(edges[:-1], 9),
        "streams": streams,
        "quantiles": quantiles,
        "links": links,
        "events": listed,
    }
    webrtc = _webrtc_series(getattr(results, "transport", None) or {}, edges)
    if webrtc:
        out["webrtc"] = webrtc
    return out


def _webrtc_series(transport: dict, edges: np.ndarray) -> dict[str, dict]:
    """Per WebRTC stream and bin: its units' latency (p50, p99, by capture or send time), the
    units that never arrived, and for video the encoder's target and the sent bit rate."""
    out: dict[str, dict] = {}
    bin_s = float(edges[1] - edges[0])
    for name, report in transport.items():
        t, latency = report.unit_t_s, report.unit_latency_s * 1e3
        arrived = np.isfinite(latency)
        sent, got, p50, p99, _top = _stream_bins(t, np.nan_to_num(latency), arrived, edges)
        entry = {
            "kind": report.kind,
            "unit": report.unit,
            "units": sent.tolist(),
            "arrived": got.tolist(),
            "latency_p50_ms": _rounded(p50),
            "latency_p99_ms": _rounded(p99),
        }
        if "target_bitrate_bps" in report.series:
            times, values = report.series["target_bitrate_bps"]
            times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
            if times.size:
                # the target in force at each bin's end (the controller holds it until the next)
                at = np.searchsorted(times, edges[1:], side="right") - 1
                held = np.where(at >= 0, values[np.clip(at, 0, None)], np.nan)
                entry["target_mbps"] = _rounded(held / 1e6)
        if "sent_bitrate_bps" in report.series:
            times, values = report.series["sent_bitrate_bps"]
            times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
            if times.size:
                # mean sent rate over each bin, from the session's own bins (held per step)
                at = np.clip(
                    np.searchsorted(times, edges[:-1] + bin_s / 2, side="right") - 1, 0, None
                )
                entry["sent_mbps"] = _rounded(values[at] / 1e6)
        out[name] = entry
    return out
