"""Per-stream packet columns, with copies of a stream merged into their group.

The one place the statistics, the plot series and the workloads' metrics get a stream's
packets from: :func:`stream_packets` (what they need, computed once per run and kept with the
packet log) and :func:`stream_columns` (every column, as a tuple).

A one-hour run logs tens of millions of packets, and on some machines touching fresh memory
costs more than the arithmetic (docs: ``benchmarks/README.md``), so a stream's columns are
gathered from the log's contiguous stretches of that stream (a view when there is one
stretch), and only the columns the statistics read are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import compiled
from .packetlog import DELIVERED, PacketLog
from .plan import NetworkPlan
from .streamlog import StreamColumns, StreamLog

__all__ = ["StreamPackets", "stream_columns", "stream_packets"]

CHUNK = 1 << 20
"""Rows handled at a time when a column is derived from the log (bounds the temporaries)."""


@dataclass(frozen=True, eq=False)
class StreamPackets:
    """One stream's (or one group's) packets, in send order (by sequence number).

    ``fate`` covers every packet; ``latency_s`` only the delivered ones (``t_recv - t_send``,
    in send order); ``delivered_bytes`` is their on-wire bytes. ``seq`` is given only for the
    copies of a group and the groups (None otherwise: a stream's own packets are numbered 0,
    1, ... in send order). The send and receive times and the sizes are gathered from the
    log on demand (:meth:`t_send`, :meth:`t_recv`, :meth:`t_recv_delivered`, :meth:`size`),
    not kept: a caller holds them only while it needs them; :meth:`send_pieces` and
    :meth:`recv_pieces` give them a piece at a time, without a copy of the whole.
    """

    name: str
    fate: np.ndarray
    latency_s: np.ndarray
    delivered_bytes: int
    seq: np.ndarray | None
    _send: Callable[[], np.ndarray]
    _recv: Callable[[], np.ndarray]
    _size: Callable[[], np.ndarray]
    _send_pieces: Callable[[], Iterator[np.ndarray]]
    _recv_pieces: Callable[[], Iterator[np.ndarray]]

    @property
    def sent(self) -> int:
        return int(self.fate.size)

    @property
    def delivered(self) -> int:
        return int(self.latency_s.size)

    def t_send(self) -> np.ndarray:
        """Send time of every packet."""
        return self._send()

    def t_recv(self) -> np.ndarray:
        """Receive time of every packet (NaN unless delivered)."""
        return self._recv()

    def t_recv_delivered(self) -> np.ndarray:
        """Receive times of the delivered packets, in send order."""
        out = np.empty(self.delivered)
        at = 0
        for piece in self.recv_pieces():
            out[at : at + piece.size] = piece
            at += piece.size
        return out

    def send_pieces(self) -> Iterator[np.ndarray]:
        """:meth:`t_send` in consecutive pieces (views of the log where it can)."""
        return self._send_pieces()

    def recv_pieces(self) -> Iterator[np.ndarray]:
        """:meth:`t_recv_delivered` in consecutive pieces."""
        return self._recv_pieces()

    def size(self) -> np.ndarray:
        """On-wire size of every packet (bytes)."""
        return self._size()


def stream_packets(plan: NetworkPlan, log: PacketLog | StreamLog) -> dict[str, StreamPackets]:
    """Per stream, and per group of copies, its :class:`StreamPackets`; computed once per
    log and plan (kept with the log) and shared by the statistics, the series and the
    workloads' metrics.

    A group (copies of one stream over several paths, ``StreamSpec.group``) merges its copies
    by sequence number: a packet is delivered when any copy is, at the earliest copy's
    receive time; otherwise it takes the first of lost, dropped, in flight that a copy had.
    """
    key = ("stream_packets", tuple((s.name, s.group) for s in plan.streams))
    return log.memo(key, lambda: _build(plan, log))


def stream_columns(plan: NetworkPlan, log: PacketLog | StreamLog) -> dict[str, tuple]:
    """Per stream, and per group of copies, its columns ``(t_send, t_recv, fate, size, seq)``.

    ``seq`` is given only for the copies of a group and the groups (None otherwise: a
    stream's own packets are numbered 0, 1, ... in send order, and copying the column for
    millions of packets costs time and memory nobody uses). Groups merge their copies as in
    :func:`stream_packets`. The arrays may be views of the log or shared with
    :func:`stream_packets`: read them, do not write to them.
    """
    return {
        name: (p.t_send(), p.t_recv(), p.fate, p.size(), p.seq)
        for name, p in stream_packets(plan, log).items()
    }


# -- building ---------------------------------------------------------------------------------
def _runs(log: PacketLog) -> dict[int, list[tuple[int, int]]]:
    """Per stream index, the log's maximal stretches ``(start, stop)`` of that stream."""

    def build():
        stream = log.stream
        if not stream.size:
            return {}
        change = np.flatnonzero(stream[1:] != stream[:-1]) + 1
        starts = np.concatenate([[0], change]).tolist()
        stops = np.concatenate([change, [stream.size]]).tolist()
        ids = stream[np.asarray(starts, dtype=np.int64)].tolist()
        out: dict[int, list[tuple[int, int]]] = {}
        for index, a, b in zip(ids, starts, stops, strict=True):
            out.setdefault(index, []).append((a, b))
        return out

    return log.memo(("runs",), build)


class _Rows:
    """Where one stream's packets are in the log: stretches, or row indices when the
    stretches are too many and too short to be worth copying one by one."""

    def __init__(self, log: PacketLog, index: int, runs: list[tuple[int, int]]) -> None:
        count = sum(b - a for a, b in runs)
        if len(runs) > 64 and count < 256 * len(runs):
            self.runs = None
            self.rows = np.flatnonzero(log.stream == index)
        else:
            self.runs = runs
            self.rows = None

    def gather(self, column: np.ndarray) -> np.ndarray:
        if self.rows is not None:
            return column[self.rows]
        if len(self.runs) == 1:
            a, b = self.runs[0]
            return column[a:b]  # a view
        if not self.runs:
            return column[:0].copy()
        return np.concatenate([column[a:b] for a, b in self.runs])

    def chunks(self) -> Iterator[slice | np.ndarray]:
        """The stream's rows in order, at most :data:`CHUNK` at a time: slices of the log,
        or pieces of the row indices."""
        if self.rows is not None:
            for a in range(0, self.rows.size, CHUNK):
                yield self.rows[a : a + CHUNK]
            return
        for a, b in self.runs:
            for c in range(a, b, CHUNK):
                yield slice(c, min(b, c + CHUNK))


def _delivered_parts(log: PacketLog, rows: _Rows, delivered: np.ndarray):
    """Per piece of the stream: (its delivered mask, the piece's index into the log)."""
    offset = 0
    for piece in rows.chunks():
        length = piece.size if isinstance(piece, np.ndarray) else piece.stop - piece.start
        yield delivered[offset : offset + length], piece
        offset += length


def _latency_and_bytes(log: PacketLog, rows: _Rows, delivered: np.ndarray, n: int):
    latency = np.empty(n)
    total = 0
    at = 0
    for mask, piece in _delivered_parts(log, rows, delivered):
        recv = log.t_recv_s[piece][mask]
        k = recv.size
        np.subtract(recv, log.t_send_s[piece][mask], out=latency[at : at + k])
        total += int(log.size_bytes[piece][mask].sum())
        at += k
    return latency, total


def _recv_pieces(log: PacketLog, rows: _Rows, fate: np.ndarray) -> Iterator[np.ndarray]:
    for mask, piece in _delivered_parts(log, rows, fate == DELIVERED):
        got = log.t_recv_s[piece][mask]
        if got.size:
            yield got


def _pieces(values: np.ndarray) -> Iterator[np.ndarray]:
    for a in range(0, values.size, CHUNK):
        yield values[a : a + CHUNK]


def _stream(log: PacketLog, name: str, rows: _Rows, grouped: bool) -> StreamPackets:
    fate = rows.gather(log.fate)
    delivered = fate == DELIVERED
    n = int(np.count_nonzero(delivered))
    latency, delivered_bytes = _latency_and_bytes(log, rows, delivered, n)
    return StreamPackets(
        name=name,
        fate=fate,
        latency_s=latency,
        delivered_bytes=delivered_bytes,
        seq=rows.gather(log.seq) if grouped else None,
        _send=lambda: rows.gather(log.t_send_s),
        _recv=lambda: rows.gather(log.t_recv_s),
        _size=lambda: rows.gather(log.size_bytes),
        _send_pieces=lambda: (log.t_send_s[piece] for piece in rows.chunks()),
        _recv_pieces=lambda: _recv_pieces(log, rows, fate),
    )


def _from_columns(name: str, c: StreamColumns) -> StreamPackets:
    """A stream's packets from the lean record (what :func:`_stream` gives from the log)."""
    fate = c.fate
    delivered = fate == DELIVERED
    n = int(np.count_nonzero(delivered))
    latency = np.empty(n)
    total = 0
    at = 0
    if compiled.loaded():  # one pass instead of three masked gathers: the same values
        _, total = compiled.delivered_latency(
            fate, DELIVERED, c.t_send_s, c.t_recv_s, c.size_bytes, latency
        )
    else:
        for a in range(0, fate.size, CHUNK):
            mask = delivered[a : a + CHUNK]
            recv = c.t_recv_s[a : a + CHUNK][mask]
            k = recv.size
            np.subtract(recv, c.t_send_s[a : a + CHUNK][mask], out=latency[at : at + k])
            total += int(c.size_bytes[a : a + CHUNK][mask].sum(dtype=np.int64))
            at += k
    return StreamPackets(
        name=name,
        fate=fate,
        latency_s=latency,
        delivered_bytes=total,
        seq=c.seq,
        _send=lambda: c.t_send_s,
        _recv=lambda: c.t_recv_s,
        _size=lambda: c.size_bytes.astype(np.int64),
        _send_pieces=lambda: _pieces(c.t_send_s),
        _recv_pieces=lambda: (
            piece
            for piece in (
                c.t_recv_s[a : a + CHUNK][delivered[a : a + CHUNK]]
                for a in range(0, fate.size, CHUNK)
            )
            if piece.size
        ),
    )


def _merge(group: str, members: list[tuple[StreamPackets, np.ndarray, np.ndarray]]):
    """A group's packets from its copies ``(packets, t_recv, size)``, by sequence number."""
    seq_all = [p.seq for p, _, _ in members]
    total = sum(s.size for s in seq_all)
    top = max((int(s.max()) for s in seq_all if s.size), default=-1)
    direct = (
        0 <= top < 4 * total + 1024
        and all(s.size == 0 or int(s.min()) >= 0 for s in seq_all)
        and all(bool((s[1:] > s[:-1]).all()) for s in seq_all)
    )
    if direct:
        # Each copy's sequence numbers are distinct, small and non-negative: index by them
        # directly (what np.unique would give, without sorting every copy's numbers), one
        # copy at a time. Later copies overwrite the send time and size (as one assignment
        # of all copies does); the receive time and fate take the least over the copies.
        seen = np.zeros(top + 1, dtype=bool)
        for s in seq_all:
            seen[s] = True
        if seen.all():
            unique = np.arange(top + 1, dtype=seq_all[0].dtype)
            index = seq_all
        else:
            unique = np.flatnonzero(seen).astype(seq_all[0].dtype, copy=False)
            rank = np.cumsum(seen) - 1
            index = [rank[s] for s in seq_all]
        t_send = np.empty(unique.size)
        size = np.empty(unique.size, dtype=np.int64)
        recv = np.full(unique.size, np.inf)
        fate = np.full(unique.size, 99, dtype=np.int8)
        for (p, t_recv, z), at in zip(members, index, strict=True):
            t_send[at] = p.t_send()
            size[at] = z
            recv[at] = np.fmin(recv[at], np.where(p.fate == DELIVERED, t_recv, np.inf))
            fate[at] = np.minimum(fate[at], p.fate.astype(np.int8))
    else:
        unique, index = np.unique(np.concatenate(seq_all), return_inverse=True)
        t_send = np.empty(unique.size)
        size = np.empty(unique.size, dtype=np.int64)
        recv = np.full(unique.size, np.inf)
        fate = np.full(unique.size, 99, dtype=np.int8)
        f_all = np.concatenate([p.fate for p, _, _ in members])
        r_all = np.concatenate([r for _, r, _ in members])
        t_send[index] = np.concatenate([p.t_send() for p, _, _ in members])
        size[index] = np.concatenate([z for _, _, z in members])
        np.fmin.at(recv, index, np.where(f_all == DELIVERED, r_all, np.inf))
        np.minimum.at(fate, index, f_all.astype(np.int8))
    recv[~np.isfinite(recv)] = np.nan
    delivered = fate == DELIVERED
    n = int(np.count_nonzero(delivered))
    if n != fate.size:
        latency = recv[delivered] - t_send[delivered]
        delivered_bytes = int(size[delivered].sum())
    else:
        latency = recv - t_send
        delivered_bytes = int(size.sum())
    return StreamPackets(
        name=group,
        fate=fate,
        latency_s=latency,
        delivered_bytes=delivered_bytes,
        seq=unique,
        _send=lambda: t_send,
        _recv=lambda: recv,
        _size=lambda: size,
        _send_pieces=lambda: _pieces(t_send),
        _recv_pieces=lambda: _pieces(recv[delivered]),
    )


def _build(plan: NetworkPlan, log: PacketLog | StreamLog) -> dict[str, StreamPackets]:
    in_group = {s.name for s in plan.streams if s.group is not None}
    out: dict[str, StreamPackets] = {}
    if isinstance(log, StreamLog):
        for name in log.stream_names:
            out[name] = _from_columns(name, log.stream(name))
    else:
        runs = _runs(log)
        for index, name in enumerate(log.stream_names):
            rows = _Rows(log, index, runs.get(index, []))
            out[name] = _stream(log, name, rows, name in in_group)
    groups: dict[str, list[str]] = {}
    for stream in plan.streams:
        if stream.group is not None:
            groups.setdefault(stream.group, []).append(stream.name)
    for group, names in groups.items():
        members = [(out[m], out[m].t_recv(), out[m].size()) for m in names]
        out[group] = _merge(group, members)
    return out
