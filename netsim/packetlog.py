"""The per-packet record of a run, as columns: one row per packet sent, never one object each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PacketLog", "ColumnBuffer", "DELIVERED", "LOST", "DROPPED", "IN_FLIGHT"]

DELIVERED, LOST, DROPPED, IN_FLIGHT = 0, 1, 2, 3


@dataclass(frozen=True)
class PacketLog:
    """Every packet a run sent, in the order the sources sent them (by window, then stream).

    Columns (numpy arrays of equal length):

    - ``stream``: index into ``stream_names`` (int16);
    - ``seq``: the packet's sequence number within its stream, from 0 (int64);
    - ``size_bytes``: on-wire size (int64);
    - ``t_send_s``, ``t_recv_s``: send and receive times; ``t_recv_s`` is NaN unless delivered;
    - ``fate``: ``DELIVERED``, ``LOST`` (on the wire), ``DROPPED`` (full buffer), ``IN_FLIGHT``;
    - ``link``: index into ``link_names`` of the link that lost or dropped it, else -1.
    """

    stream_names: tuple[str, ...]
    link_names: tuple[str, ...]
    stream: np.ndarray
    seq: np.ndarray
    size_bytes: np.ndarray
    t_send_s: np.ndarray
    t_recv_s: np.ndarray
    fate: np.ndarray
    link: np.ndarray

    def __len__(self) -> int:
        return int(self.seq.size)

    def memo(self, key: tuple, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per ``key`` and kept with the log (which never changes
        once frozen): what several readers derive from the same columns, such as
        :func:`netsim.columns.stream_packets`. Not pickled."""
        memo = self.__dict__.setdefault("_memo", {})
        if key not in memo:
            memo[key] = build()
        return memo[key]

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_memo"}

    def of_stream(self, name: str) -> np.ndarray:
        """Row indices of one stream's packets, in send order.

        The engine appends each stream's packets in sequence order, so the rows of one stream
        are already sorted by ``seq``.
        """
        index = self.stream_names.index(name)
        if len(self.stream_names) == 1:
            return np.arange(len(self))
        return np.flatnonzero(self.stream == index)

    @property
    def latency_s(self) -> np.ndarray:
        """One-way latency of every packet (NaN unless delivered)."""
        return self.t_recv_s - self.t_send_s


class ColumnBuffer:
    """Growable columns for the engine: append a window's packets, update rows by index."""

    _SPEC = {
        "stream": (np.int16, 0),
        "seq": (np.int64, 0),
        "size_bytes": (np.int64, 0),
        "t_send_s": (np.float64, np.nan),
        "t_recv_s": (np.float64, np.nan),
        "fate": (np.int8, IN_FLIGHT),
        "link": (np.int16, -1),
    }

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.n = 0
        capacity = max(int(capacity), 1024)
        self.cols = {k: np.empty(capacity, dtype=t) for k, (t, _) in self._SPEC.items()}

    def append(self, **values: np.ndarray) -> np.ndarray:
        """Append rows (missing columns take their fill value); returns the new row ids."""
        count = len(next(iter(values.values())))
        need = self.n + count
        capacity = self.cols["seq"].size
        if need > capacity:
            capacity = max(need, capacity + capacity // 2)
            for key, (dtype, _) in self._SPEC.items():
                grown = np.empty(capacity, dtype=dtype)
                grown[: self.n] = self.cols[key][: self.n]
                self.cols[key] = grown
        for key, (_, fill) in self._SPEC.items():
            self.cols[key][self.n : need] = values.get(key, fill)
        ids = np.arange(self.n, need)
        self.n = need
        return ids

    def drop_front(self, count: int) -> None:
        """Forget rows ``[0, count)``: the later rows move down by ``count`` (their ids with
        them; the caller shifts the ids it holds)."""
        if count <= 0:
            return
        rest = self.n - count
        for column in self.cols.values():
            column[:rest] = column[count : self.n]
        self.n = rest

    def freeze(self, stream_names: tuple[str, ...], link_names: tuple[str, ...]) -> PacketLog:
        c = {k: v[: self.n] for k, v in self.cols.items()}  # views: the buffer is done with
        return PacketLog(
            stream_names,
            link_names,
            c["stream"],
            c["seq"],
            c["size_bytes"],
            c["t_send_s"],
            c["t_recv_s"],
            c["fate"],
            c["link"],
        )
