"""The closed loop between a WebRTC sender and its receiver, on the engine's clock.

A :class:`Session` owns one media stream (its *media lane*, the stream's path) and, when the
stream has a feedback path, its companion feedback stream (the *feedback lane*). The engine
asks it for the packets it sends before the end of each window (:meth:`Session.emit`), serves
them through the links with every other stream, and hands back each packet's fate once the
last link has decided it (:meth:`Session.served`).

Causality without rollback. An endpoint reacts to a packet :data:`ENDPOINT_DELAY_S` after it
arrives. The engine keeps every window no longer than that delay plus the smallest base delay
of any link the session's packets cross (:meth:`Session.lookahead_s`); then every arrival an
endpoint reacts to before a window ends was decided in an earlier window, so a session never
needs a fate the engine has not computed (the argument is in docs/webrtc.md, "The loop").

Inside a session, time is a small event loop (a heap of ``(time, order, action)``). Packets
are written to an outbox per lane at their send times; :meth:`emit` runs the loop up to the
window's end and returns what the outbox holds before it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..plan import LinkSpec, NetworkPlan, StreamSpec

__all__ = [
    "ENDPOINT_DELAY_S",
    "MEDIA",
    "FEEDBACK",
    "Session",
    "TransportReport",
    "path_base_delay",
]

ENDPOINT_DELAY_S = 0.001
"""Time from a packet's arrival at an endpoint to the endpoint's reaction (1 ms).

Stands for the receive, decrypt and processing path of a real stack; an assumption, not a
measurement, and small next to every network delay medlink models.
"""

MEDIA, FEEDBACK = 0, 1

_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_F = np.empty(0)


def path_base_delay(links: dict[str, LinkSpec], path: tuple[str, ...]) -> float:
    """The smallest one-way delay a packet can see on ``path``: the sum of base delays."""
    return float(sum(links[name].delay_s for name in path))


@dataclass
class TransportReport:
    """What a session measured, for results.json and the budgets.

    ``stats`` holds counters and totals named as W3C webrtc-stats names them
    (``framesDecoded``, ``freezeCount``, ``nackCount``, ...), times in seconds.
    ``unit_t_s`` and ``unit_latency_s`` are per unit (video frame, audio frame, data-channel
    message): when it was captured or sent, and its latency to the application (render,
    playout, delivery), NaN when it never got there. ``series`` maps a name to ``(t_s, value)``
    arrays (for example the target bitrate over time).
    """

    kind: str
    unit: str
    stats: dict[str, float | int] = field(default_factory=dict)
    unit_t_s: np.ndarray = field(default_factory=lambda: _EMPTY_F)
    unit_latency_s: np.ndarray = field(default_factory=lambda: _EMPTY_F)
    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    detail: dict = field(default_factory=dict)


class Session:
    """Base class: the event loop, the outbox per lane and the engine's interface.

    Subclasses schedule actions with :meth:`at`, send packets with :meth:`send` and receive
    packets in :meth:`on_arrival` (called at arrival + :data:`ENDPOINT_DELAY_S`). Lost
    packets are never seen by an endpoint, only by :meth:`on_fate` (for bookkeeping).
    With no feedback path, :meth:`send` on the feedback lane delivers the packet over the ideal
    mirror: after ``feedback_delay_s``, never lost.
    """

    kind = "base"

    def __init__(self, stream: StreamSpec, plan: NetworkPlan, seed: int, horizon_s: float):
        self.stream, self.plan, self.seed = stream, plan, seed
        self.horizon_s = horizon_s
        self.duration_s = min(plan.duration_s, stream.stop_s)
        transport = stream.transport
        self.feedback_path = transport.feedback_path if transport is not None else ()
        self.has_feedback_lane = bool(self.feedback_path)
        self.forward_delay_s = path_base_delay(plan.links, stream.path)
        self.feedback_delay_s = (
            path_base_delay(plan.links, self.feedback_path)
            if self.has_feedback_lane
            else self.forward_delay_s
        )
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[..., None], tuple]] = []
        self._order = 0
        self._out: list[list[tuple[float, int, int]]] = [[], []]  # (t_send, seq, size) per lane
        self._next_seq = [0, 0]
        self._sent_t: list[list[float]] = [[], []]  # t_send by seq, per lane
        self._sent_size: list[list[int]] = [[], []]

    # ----- the engine's interface -------------------------------------------------------
    def lookahead_s(self, upstream_s: dict[str, float] | None = None) -> float:
        """The longest window the engine may step while this session stays causal.

        ``upstream_s`` maps a link to the engine's horizon offset for it
        (:func:`netsim.engine.upstream_delays`); without it, 0 for every link. A packet is
        decided when its last link serves it, no earlier than that link's offset plus its
        base delay after the window it was served in; the endpoint reacts 1 ms later.
        """
        upstream_s = upstream_s or {}
        lanes = [self.stream.path]
        if self.has_feedback_lane:
            lanes.append(tuple(self.feedback_path))
        return ENDPOINT_DELAY_S + min(
            upstream_s.get(path[-1], 0.0) + self.plan.links[path[-1]].delay_s for path in lanes
        )

    def emit(self, t_end: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Run the loop to ``t_end``; per lane, the packets sent before it (seq, t_send, size)."""
        heap = self._heap
        while heap and heap[0][0] < t_end:
            t, _, action, args = heapq.heappop(heap)
            self.now = t
            action(*args)
        self.now = t_end
        out = []
        for lane in (MEDIA, FEEDBACK):
            box = self._out[lane]
            if not box:
                out.append((_EMPTY_I, _EMPTY_F, _EMPTY_I))
                continue
            box.sort()
            cut = 0
            while cut < len(box) and box[cut][0] < t_end:
                cut += 1
            taken, self._out[lane] = box[:cut], box[cut:]
            if not taken:
                out.append((_EMPTY_I, _EMPTY_F, _EMPTY_I))
                continue
            arr = np.array(taken, dtype=float)
            out.append((arr[:, 1].astype(np.int64), arr[:, 0], arr[:, 2].astype(np.int64)))
        return out

    def served(self, lane: int, seq: np.ndarray, t_recv: np.ndarray) -> None:
        """The engine decided these packets: ``t_recv`` is their arrival, NaN if lost."""
        for s, r in zip(seq.tolist(), t_recv.tolist(), strict=True):
            self.on_fate(lane, s, r)
            if r == r:  # not NaN
                self.at(r + ENDPOINT_DELAY_S, self.on_arrival, lane, s, r)

    @property
    def idle(self) -> bool:
        """True when nothing is scheduled and nothing waits to be sent."""
        return not self._heap and not self._out[0] and not self._out[1]

    def report(self) -> TransportReport:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    # ----- for subclasses ---------------------------------------------------------------
    def at(self, t: float, action: Callable[..., None], *args) -> None:
        """Run ``action(*args)`` at time ``t`` (not before the present)."""
        if t < self.now:
            t = self.now
        if t >= self.horizon_s or math.isnan(t):
            return
        self._order += 1
        heapq.heappush(self._heap, (t, self._order, action, args))

    def send(self, lane: int, t: float, size: int) -> int:
        """Send a packet of ``size`` bytes at time ``t`` on ``lane``; returns its number.

        Numbers run 0, 1, ... per lane in the order of calls, which must be the order of send
        times. On the feedback lane without a feedback path, the packet arrives at the sender
        after ``feedback_delay_s`` and is never lost.
        """
        seq = self._next_seq[lane]
        self._next_seq[lane] += 1
        self._sent_t[lane].append(t)
        self._sent_size[lane].append(size)
        if lane == FEEDBACK and not self.has_feedback_lane:
            arrival = t + self.feedback_delay_s
            self.at(arrival + ENDPOINT_DELAY_S, self.on_arrival, lane, seq, arrival)
            return seq
        if t < self.horizon_s:
            self._out[lane].append((t, seq, size))
        return seq

    def on_arrival(self, lane: int, seq: int, t_recv: float) -> None:
        """An endpoint reacts to packet ``seq`` of ``lane``, which arrived at ``t_recv``."""

    def on_fate(self, lane: int, seq: int, t_recv: float) -> None:
        """Bookkeeping: packet ``seq`` of ``lane`` arrived at ``t_recv`` (NaN: lost)."""
