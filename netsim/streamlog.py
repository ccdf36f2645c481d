"""The lean record of a run: per stream, only what the statistics read of each packet.

A one-hour run sends tens of millions of packets. The full :class:`~netsim.packetlog.PacketLog`
keeps eight columns per packet (stream, sequence number, size, send and receive times, fate,
the link that lost it, the hop it reached): about 40 bytes a packet, 600 MB for 15 million.
The statistics, the plot series and the workloads' metrics read four of them, per stream:
send and receive times, fate and size (and the sequence numbers of copies that a group merges).

When a run does not keep its packet log (``simulate(..., packets=False)``, the CLI without
``--packets``, sweeps and replications), the engine hands each packet to a
:class:`StreamLogBuilder` as soon as its fate is final (every window, the rows before the
oldest packet still in flight) and drops it from its working buffer. What the run holds is
then the lean record, 21 bytes a packet (29 for a grouped copy), plus the packets of the
windows in flight. The statistics computed from it are the ones computed from the full log,
to the bit (``tests/test_streamlog.py``).

This is "keep only what the statistics need", not constant memory: exact tail percentiles
need every latency, so the record grows with the number of packets (docs/model.md,
"Memory").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["StreamColumns", "StreamLog", "StreamLogBuilder"]

_FULL_LOG_ONLY = frozenset({"stream", "seq", "size_bytes", "t_send_s", "t_recv_s", "fate", "link"})


@dataclass(frozen=True, eq=False)
class StreamColumns:
    """One stream's packets in send order (its sequence numbers are 0, 1, ... unless ``seq``).

    ``t_recv_s`` is NaN unless the packet was delivered; ``fate`` uses the codes of
    :mod:`netsim.packetlog`; ``size_bytes`` is int32; ``seq`` is kept only for the copies of a
    group (:attr:`netsim.plan.StreamSpec.group`), which the statistics merge by number.
    """

    t_send_s: np.ndarray
    t_recv_s: np.ndarray
    fate: np.ndarray
    size_bytes: np.ndarray
    seq: np.ndarray | None

    def __len__(self) -> int:
        return int(self.fate.size)


class StreamLog:
    """Per stream, its :class:`StreamColumns`: what a run keeps without its packet log.

    ``len(log)`` is the number of packets sent, as for a PacketLog; :meth:`stream` gives one
    stream's columns. The per-packet columns of the whole run (``log.t_recv_s``, ...) are not
    kept; asking for them says how to get them.
    """

    def __init__(
        self,
        stream_names: tuple[str, ...],
        link_names: tuple[str, ...],
        columns: dict[str, StreamColumns],
    ) -> None:
        self.stream_names = stream_names
        self.link_names = link_names
        self.columns = columns
        self._memo: dict = {}

    def __len__(self) -> int:
        return sum(len(c) for c in self.columns.values())

    def stream(self, name: str) -> StreamColumns:
        """One stream's columns, in send order."""
        return self.columns[name]

    def memo(self, key: tuple, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per ``key`` and kept with the log (as PacketLog.memo)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_memo"} | {"_memo": {}}

    def __getattr__(self, name: str):
        if name in _FULL_LOG_ONLY:
            raise AttributeError(
                f"this run kept only per-stream columns, not the packet log's {name!r}: "
                "run with packets=True (CLI: --packets) for one row per packet, "
                "or read log.stream(NAME)"
            )
        raise AttributeError(name)


class _Growing:
    """One growable column: appended in pieces, handed out as a view of its filled part.

    Capacity starts at the stream's expected packet count; pages never written are never
    touched, so a generous estimate costs address space, not memory.
    """

    def __init__(self, dtype, capacity: int) -> None:
        self.data = np.empty(max(int(capacity), 256), dtype=dtype)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.n + values.size
        if need > self.data.size:
            grown = np.empty(max(need, self.data.size + self.data.size // 2), self.data.dtype)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : need] = values
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[: self.n]


class StreamLogBuilder:
    """Collects final packets, a stretch of the engine's rows at a time, into a StreamLog.

    ``expected[i]`` is about how many packets stream ``i`` will send (to size its columns
    once); ``keep_seq[i]`` says whether its sequence numbers are kept (a group's copies).
    """

    def __init__(
        self,
        stream_names: tuple[str, ...],
        link_names: tuple[str, ...],
        expected: list[int],
        keep_seq: list[bool],
    ) -> None:
        self.stream_names, self.link_names = stream_names, link_names
        self.keep_seq = keep_seq
        self.cols = [
            {
                "t_send_s": _Growing(np.float64, n),
                "t_recv_s": _Growing(np.float64, n),
                "fate": _Growing(np.int8, n),
                "size_bytes": _Growing(np.int32, n),
                "seq": _Growing(np.int64, n if keep else 0),
            }
            for n, keep in zip(expected, keep_seq, strict=True)
        ]

    def add(self, columns: dict[str, np.ndarray], stop: int) -> None:
        """Take rows ``[0, stop)`` of the engine's columns, whose fates are final.

        The rows are in send order within each stream (the engine appends a window's packets
        stream by stream), so appending each stretch of one stream keeps its order.
        """
        if stop <= 0:
            return
        stream = columns["stream"][:stop]
        change = np.flatnonzero(stream[1:] != stream[:-1]) + 1
        starts = [0, *change.tolist()]
        stops = [*change.tolist(), stop]
        for a, b in zip(starts, stops, strict=True):
            index = int(stream[a])
            mine = self.cols[index]
            for key in ("t_send_s", "t_recv_s", "fate", "size_bytes"):
                mine[key].extend(columns[key][a:b])
            if self.keep_seq[index]:
                mine["seq"].extend(columns["seq"][a:b])

    def freeze(self) -> StreamLog:
        columns = {
            name: StreamColumns(
                t_send_s=c["t_send_s"].view(),
                t_recv_s=c["t_recv_s"].view(),
                fate=c["fate"].view(),
                size_bytes=c["size_bytes"].view(),
                seq=c["seq"].view() if keep else None,
            )
            for name, c, keep in zip(self.stream_names, self.cols, self.keep_seq, strict=True)
        }
        return StreamLog(self.stream_names, self.link_names, columns)
