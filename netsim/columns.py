"""Per-stream packet columns, with copies of a stream merged into their group.

The one place the statistics, the plot series and the workloads' metrics get a stream's
packets from (``stream_columns``).
"""

from __future__ import annotations

import numpy as np

from .packetlog import DELIVERED, PacketLog
from .plan import NetworkPlan

__all__ = ["stream_columns"]


def stream_columns(plan: NetworkPlan, log: PacketLog) -> dict[str, tuple]:
    """Per stream, and per group of copies, its columns ``(t_send, t_recv, fate, size, seq)``.

    ``seq`` is given only for the copies of a group and the groups (None otherwise: a
    stream's own packets are numbered 0, 1, ... in send order, and copying the column for
    millions of packets costs time and memory nobody uses).

    A group (copies of one stream over several paths, ``StreamSpec.group``) merges its copies
    by sequence number: a packet is delivered when any copy is, at the earliest copy's
    receive time; otherwise it takes the first of lost, dropped, in flight that a copy had.
    """
    in_group = {s.name for s in plan.streams if s.group is not None}
    out: dict[str, tuple] = {}
    for name in log.stream_names:
        rows = None if len(log.stream_names) == 1 else log.of_stream(name)

        def column(values: np.ndarray, rows=rows) -> np.ndarray:
            return values if rows is None else values[rows]

        out[name] = (
            column(log.t_send_s),
            column(log.t_recv_s),
            column(log.fate),
            column(log.size_bytes),
            column(log.seq) if name in in_group else None,
        )
    groups: dict[str, list[str]] = {}
    for stream in plan.streams:
        if stream.group is not None:
            groups.setdefault(stream.group, []).append(stream.name)
    for group, members in groups.items():
        seq = np.concatenate([out[m][4] for m in members])
        unique, index = np.unique(seq, return_inverse=True)
        t_send = np.empty(unique.size)
        size = np.empty(unique.size, dtype=np.int64)
        recv = np.full(unique.size, np.inf)
        fate = np.full(unique.size, 99, dtype=np.int8)
        t_all = np.concatenate([out[m][0] for m in members])
        r_all = np.concatenate([out[m][1] for m in members])
        f_all = np.concatenate([out[m][2] for m in members])
        z_all = np.concatenate([out[m][3] for m in members])
        t_send[index] = t_all
        size[index] = z_all
        np.fmin.at(recv, index, np.where(f_all == DELIVERED, r_all, np.inf))
        np.minimum.at(fate, index, f_all.astype(np.int8))
        recv[~np.isfinite(recv)] = np.nan
        out[group] = (t_send, recv, fate, size, unique)
    return out
