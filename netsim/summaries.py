"""The bounded record of a run: per stream, its statistics built as the packets become final.

A run with ``memory="bounded"`` (``medlink run --memory bounded``) keeps no per-packet column
at all. Each time the engine retires the packets whose fates are final, they go, stream by
stream and in send order, through the streaming estimators of :mod:`netsim.sketch`, and are
dropped. What the run holds is then a fixed amount per stream (the latency sketch, the batch
sketches, the series' bins, the packets in flight), whatever its length.

What it gives, against the exact record (:mod:`netsim.streamlog`):

- the same counts, loss rate, throughput, loss bursts, minimum and maximum latency, and the
  same per-bin series (sent, delivered, p50, p99 and max by send time), exactly;
- the mean latency and the RFC 3550 jitter to a few ulps (another summation order);
- latency percentiles, and the quantile curve the plots draw, within a relative
  :data:`netsim.sketch.ALPHA` (0.01 %);
- latency budget verdicts exactly: each stream counts its packets at or under each of its
  budgets' limits, which settles whether the percentile is within the limit unless the
  limit falls between the two packets the percentile interpolates (then the sketch's value
  decides);
- taps (``SummaryBuilder(taps=...)``): objects that see every stream's and group's final
  packets as they go (``add(stream, t_send, delivered, latency_s)``, ``finish()``), for a
  workload's own figures (the ambulance's per-km table);
- batch-means intervals over 20 to 39 batches (instead of 20), each batch's percentile
  within :data:`netsim.sketch.BATCH_ALPHA`.

A group's copies (``StreamSpec.group``) are merged by sequence number as
:func:`netsim.columns.stream_packets` merges them, once every copy of a packet is final
(copies share their send time), and the group gets its own statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .packetlog import DELIVERED, DROPPED, IN_FLIGHT, LOST
from .plan import NetworkPlan
from .sketch import ArrivalJitter, BatchMeans, Bins, Bursts, QuantileSketch, numpy_rank
from .stats import PERCENTILES
from .streamlog import StreamLog

__all__ = ["MEMORY_MODES", "StreamSummary", "RunSummaries", "SummaryBuilder"]

MEMORY_MODES = ("exact", "bounded")


@dataclass(frozen=True, eq=False)
class StreamSummary:
    """One stream's statistics from a bounded run (seconds, bytes)."""

    name: str
    sent: int
    delivered: int
    lost: int
    dropped: int
    in_flight: int
    delivered_bytes: int
    latency: QuantileSketch
    summary: dict[str, float]
    intervals: dict[str, tuple[float, float] | None]
    jitter: tuple[float, float]
    bursts: dict[str, float]
    bins: tuple[np.ndarray, ...]
    within: dict[float, int]

    def percentile(self, q: float) -> float:
        """The q-th latency percentile (numpy's linear interpolation), within ALPHA."""
        return self.latency.percentile(q)

    def settle(self, q: float, limit: float, value: float) -> tuple[float, bool | None]:
        """Whether the q-th percentile is at most ``limit``, from the exact count of packets
        at or under it (None when that cannot tell), and ``value`` made to agree."""
        if limit not in self.within or not self.delivered:
            return value, None
        at_or_under = self.within[limit]
        lower, upper, t = numpy_rank(self.delivered, q)
        if at_or_under >= upper + 1 or (at_or_under == lower + 1 and t == 0.0):
            return min(value, limit), True  # the values interpolated are both within
        if at_or_under <= lower:
            return max(value, math.nextafter(limit, math.inf)), False
        return value, None  # the limit lies between them: the sketch decides


class _StreamAccumulator:
    def __init__(self, name: str, edges: np.ndarray, limits: list[float], taps: tuple = ()) -> None:
        self.name = name
        self.taps = taps
        self.counts = {"sent": 0, "delivered": 0, "lost": 0, "dropped": 0, "in_flight": 0}
        self.delivered_bytes = 0
        self.latency = QuantileSketch()
        self.batches = BatchMeans()
        self.jitter = ArrivalJitter()
        self.bursts = Bursts()
        self.bins = Bins(edges)
        self.within = {float(limit): 0 for limit in limits}

    def add(self, t_send, t_recv, fate, size) -> None:
        if not fate.size:
            return
        delivered = fate == DELIVERED
        lost, dropped = fate == LOST, fate == DROPPED
        c = self.counts
        c["sent"] += int(fate.size)
        c["delivered"] += int(np.count_nonzero(delivered))
        c["lost"] += int(np.count_nonzero(lost))
        c["dropped"] += int(np.count_nonzero(dropped))
        c["in_flight"] += int(np.count_nonzero(fate == IN_FLIGHT))
        self.delivered_bytes += int(size[delivered].sum(dtype=np.int64))
        recv = t_recv[delivered]
        latency = recv - t_send[delivered]
        self.latency.add(latency)
        self.batches.add(latency)
        self.jitter.add(recv, latency, float(t_send[-1]))
        self.bursts.add(lost | dropped)
        self.bins.add(t_send, delivered, latency * 1e3)
        for limit in self.within:
            self.within[limit] += int(np.count_nonzero(latency <= limit))
        for tap in self.taps:
            tap.add(self.name, t_send, delivered, latency)

    def finish(self) -> StreamSummary:
        sketch = self.latency
        if sketch.n:
            summary = {"mean": sketch.mean(), "min": sketch.min}
            summary.update({k: sketch.percentile(q) for k, q in PERCENTILES.items()})
            summary["max"] = sketch.max
        else:
            summary = {k: math.nan for k in ("mean", "min", *PERCENTILES, "max")}
        intervals = self.batches.intervals({"mean": None, **PERCENTILES}, summary)
        self.batches = None  # the batch sketches are not needed any more
        c = self.counts
        return StreamSummary(
            name=self.name,
            sent=c["sent"],
            delivered=c["delivered"],
            lost=c["lost"],
            dropped=c["dropped"],
            in_flight=c["in_flight"],
            delivered_bytes=self.delivered_bytes,
            latency=sketch,
            summary=summary,
            intervals=intervals,
            jitter=self.jitter.finish(),
            bursts=self.bursts.finish(),
            bins=self.bins.finish(),
            within=dict(self.within),
        )


class RunSummaries:
    """What a bounded run keeps in place of its packets: per stream, a :class:`StreamSummary`.

    ``len(log)`` is the number of packets sent; per-packet columns are not kept, and asking
    for them says how to get them. ``taps`` holds what each tap the run was given (a
    workload's per-km figures) finished with.
    """

    bounded = True

    def __init__(
        self,
        stream_names: tuple[str, ...],
        link_names: tuple[str, ...],
        summaries: dict[str, StreamSummary],
        taps: dict[str, Any] | None = None,
    ) -> None:
        self.stream_names, self.link_names = stream_names, link_names
        self.summaries = summaries
        self.taps = dict(taps or {})
        self._memo: dict = {}

    def __len__(self) -> int:
        return sum(self.summaries[name].sent for name in self.stream_names)

    memo = StreamLog.memo
    __getstate__ = StreamLog.__getstate__

    def stream(self, name: str):
        raise AttributeError(_NO_PACKETS)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"{_NO_PACKETS} (asked for {name!r})")


_NO_PACKETS = (
    "this run kept bounded summaries (memory='bounded'), not its packets: run with "
    "memory='exact' (the default) for per-stream columns, or packets=True for the log"
)


class _Group:
    """A group's copies waiting to be merged: each copy's final packets, until every copy of
    them is final (all those sent before the time the engine says no unfinished packet was)."""

    KEYS = ("seq", "t_send_s", "t_recv_s", "fate", "size_bytes")

    def __init__(self, members: list[int], into: _StreamAccumulator) -> None:
        self.members = members  # stream indices, in the plan's order
        self.into = into
        self.held: dict[int, list[dict[str, np.ndarray]]] = {m: [] for m in members}

    def add(self, member: int, parts: dict[str, np.ndarray]) -> None:
        self.held[member].append(parts)

    def settle(self, settled_s: float) -> None:
        """Merge and pass on the packets sent before ``settled_s``."""
        ready: list[dict[str, np.ndarray]] = []
        rank: list[np.ndarray] = []
        for order, member in enumerate(self.members):
            pieces = self.held[member]
            if not pieces:
                continue
            cols = {k: np.concatenate([p[k] for p in pieces]) for k in self.KEYS}
            cut = int(np.searchsorted(cols["t_send_s"], settled_s, side="left"))
            ready.append({k: v[:cut] for k, v in cols.items()})
            rank.append(np.full(cut, order, dtype=np.int64))
            self.held[member] = (
                [{k: v[cut:] for k, v in cols.items()}] if cut < len(cols["seq"]) else []
            )
        if not ready:
            return
        c = {k: np.concatenate([r[k] for r in ready]) for k in self.KEYS}
        if not c["seq"].size:
            return
        order = np.lexsort((np.concatenate(rank), c["seq"]))
        c = {k: v[order] for k, v in c.items()}
        seq = c["seq"]
        first = np.flatnonzero(np.concatenate([[True], seq[1:] != seq[:-1]]))
        last = np.append(first[1:], seq.size) - 1
        # As netsim.columns._merge: the earliest delivered copy's receive time, the least
        # fate code, and the send time and size of the last copy in the plan's order.
        recv = np.where(c["fate"] == DELIVERED, c["t_recv_s"], np.inf)
        recv = np.minimum.reduceat(recv, first)
        recv[~np.isfinite(recv)] = np.nan
        fate = np.minimum.reduceat(c["fate"].astype(np.int8), first)
        self.into.add(c["t_send_s"][last], recv, fate, c["size_bytes"][last])


def _traffic(stream) -> tuple:
    return (stream.kind, stream.rate_pps, repr(stream.size), stream.start_s, stream.stop_s,
            stream.source, repr(stream.transport))  # fmt: skip


class SummaryBuilder:
    """Takes the engine's final rows, a stretch at a time, into per-stream accumulators (and
    per group of copies, merged)."""

    def __init__(
        self, plan: NetworkPlan, edges: np.ndarray, taps: dict[str, Any] | None = None
    ) -> None:
        self.taps = dict(taps or {})
        tapped = tuple(self.taps.values())
        self.stream_names = tuple(s.name for s in plan.streams)
        self.link_names = tuple(plan.links)
        members: dict[str, list[int]] = {}
        for index, stream in enumerate(plan.streams):
            if stream.group is not None:
                members.setdefault(stream.group, []).append(index)
        for group, indices in members.items():
            traffic = {_traffic(plan.streams[i]) for i in indices}
            if len(traffic) > 1:
                raise ValueError(
                    f"memory='bounded' merges group {group!r} by send time, so its copies must "
                    "send the same packets (the same kind, rate, size, start and stop); "
                    "run it with memory='exact'"
                )
        limits: dict[str, list[float]] = {n: [] for n in (*self.stream_names, *members)}
        for budget in plan.budgets:
            if budget.metric == "latency" and budget.stream in limits:
                limits[budget.stream].append(budget.limit)
        self.streams = [_StreamAccumulator(n, edges, limits[n], tapped) for n in self.stream_names]
        self.groups = [
            _Group(m, _StreamAccumulator(g, edges, limits[g], tapped)) for g, m in members.items()
        ]
        self.group_of = {m: group for group in self.groups for m in group.members}

    def add(self, columns: dict[str, np.ndarray], stop: int, settled_s: float = math.inf) -> None:
        """Take rows ``[0, stop)`` of the engine's columns, whose fates are final (each
        stream's rows in send order); every packet not yet taken was sent at or after
        ``settled_s`` (what a group's merge waits for)."""
        if stop <= 0:
            for group in self.groups:
                group.settle(settled_s)
            return
        stream = columns["stream"][:stop]
        change = np.flatnonzero(stream[1:] != stream[:-1]) + 1
        starts = [0, *change.tolist()]
        stops = [*change.tolist(), stop]
        ids = stream[np.asarray(starts, dtype=np.int64)].tolist()
        by_stream: dict[int, list[tuple[int, int]]] = {}
        for index, a, b in zip(ids, starts, stops, strict=True):
            by_stream.setdefault(index, []).append((a, b))
        keys = ("t_send_s", "t_recv_s", "fate", "size_bytes")
        for index, runs in by_stream.items():
            if len(runs) == 1:
                a, b = runs[0]
                parts = [columns[k][a:b] for k in keys]
            else:
                parts = [np.concatenate([columns[k][a:b] for a, b in runs]) for k in keys]
            self.streams[index].add(*parts)
            group = self.group_of.get(index)
            if group is not None:
                seq = (
                    columns["seq"][a:b]
                    if len(runs) == 1
                    else np.concatenate([columns["seq"][a:b] for a, b in runs])
                )
                group.add(index, dict(zip(_Group.KEYS, (seq, *parts), strict=True)))
        for group in self.groups:
            group.settle(settled_s)

    def freeze(self) -> RunSummaries:
        for group in self.groups:
            group.settle(math.inf)
        summaries = {s.name: s.finish() for s in self.streams}
        summaries.update({g.into.name: g.into.finish() for g in self.groups})
        taps = {name: tap.finish() for name, tap in self.taps.items()}
        return RunSummaries(self.stream_names, self.link_names, summaries, taps)
