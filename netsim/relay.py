"""A UDP relay that applies a scenario's link model to real datagrams, in real time.

``medlink emulate`` puts this relay between two WebRTC peers on one machine. The relay has
two sockets: side ``a`` faces peer A (the ambulance or robot), side ``b`` faces peer B (the
hospital or console). A datagram that peer A sends to side ``a`` goes out of side ``b`` to
peer B (direction ``ab``), and the reverse (``ba``); each peer sees the relay's other socket
as the other peer.

The link model is :class:`netsim.link.LinkRuntime`, the code the simulator runs, fed with
batches of real arrivals. A datagram arriving at model time ``t`` (seconds since
:meth:`Relay.start_clock`) with ``n`` bytes of UDP payload enters the first link of its
route as a packet of ``n + 28`` bytes (IPv4 and UDP headers); each link's queue, serialiser,
loss and delay line give its exit time, which is its arrival time at the next link; after
the last one, the relay sends it at that exit time (one heap of datagrams in exit order, one
:meth:`asyncio.loop.call_at` timer for its head). A lost or dropped datagram is counted and
never sent.

Batches. Arrivals are gathered for ``batch_s`` (1 ms) before one ``serve`` call per link,
which keeps numpy's per-call cost off each datagram; the batch delay is not added to the
model time (arrival times are taken when the datagram is read), only to the moment the exit
time is computed, which matters only when a route's remaining delay is shorter than a batch.
A link fed by more than one source (fresh arrivals and an upstream link, or two upstream
links), or by an upstream link that reorders, is served only once real time has passed its
pending arrivals, so that it always sees arrivals in time order, as ``LinkRuntime`` needs.

Routes. Which links a datagram crosses depends on its direction and on its protocol, told
by the first byte as RFC 7983 demultiplexes it: ``stun`` (0-3), ``dtls`` (20-63: the SCTP
data channels), ``rtp`` and ``rtcp`` (128-191; RTCP when the second byte is 192-223, RFC
5761). A route is looked up as ``(direction, class)``, then ``(direction, "*")``. Links are
keyed by name, so two routes through one link share its queue, as in the simulator.

Robustness. The relay binds to loopback only, unless told otherwise with
``allow_remote=True``. A datagram that is empty, longer than ``max_datagram``, of no RFC 7983
class, or from an address other than the peer its socket faces, is dropped and counted under
``malformed``; nothing a datagram contains can raise out of the receive path.

Before :meth:`Relay.start_clock` the relay forwards datagrams at once, unmodelled (the ICE,
DTLS and SCTP handshakes), and counts them as ``unmodelled``.
"""

from __future__ import annotations

import asyncio
import heapq
import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .link import LinkRuntime
from .plan import LinkSpec
from .udp_sockets import enlarge_buffers

__all__ = [
    "check_bind",
    "CLASSES",
    "DIRECTIONS",
    "IP_UDP_OVERHEAD",
    "MAX_DATAGRAM",
    "Relay",
    "RelayError",
    "Route",
    "datagram_class",
    "is_loopback",
]

DIRECTIONS = ("ab", "ba")
"""``ab``: from peer A (ambulance, robot) to peer B (hospital, console); ``ba`` back."""

CLASSES = ("stun", "dtls", "rtp", "rtcp")
IP_UDP_OVERHEAD = 28
"""Bytes an IPv4 and a UDP header add to a datagram's payload on the wire."""

MAX_DATAGRAM = 1472
"""Longest UDP payload relayed: a 1500-byte IPv4 packet (WebRTC stacks send <= ~1250)."""

MALFORMED_REASONS = ("empty", "oversize", "unknown_sender", "unknown_protocol", "error")


class RelayError(ValueError):
    """A relay that cannot be set up as asked (a non-loopback bind without permission)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address, or ``localhost``) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(bind: str, allow_remote: bool) -> None:
    """Raise :class:`RelayError` for a non-loopback ``bind`` unless ``allow_remote``."""
    if not is_loopback(bind) and not allow_remote:
        raise RelayError(
            f"the relay binds to loopback only; {bind!r} is not a loopback address "
            "(pass it explicitly to allow it)"
        )


def datagram_class(data: bytes) -> str | None:
    """The RFC 7983 class of a datagram by its first byte(s), or None if it has none."""
    first = data[0]
    if first <= 3:
        return "stun"
    if 20 <= first <= 63:
        return "dtls"
    if 128 <= first <= 191:
        if len(data) >= 2 and 192 <= data[1] <= 223:
            return "rtcp"
        return "rtp"
    return None


@dataclass(frozen=True)
class Route:
    """The links a class of datagrams crosses, in order, and the stream it counts as.

    ``stream`` names the loss chain and random draws the links keep for these datagrams
    (the simulator keys them by stream name too).
    """

    stream: str
    path: tuple[str, ...]


class _Side(asyncio.DatagramProtocol):
    def __init__(self, relay: Relay, side: str) -> None:
        self.relay, self.side = relay, side

    def datagram_received(self, data: bytes, addr) -> None:
        self.relay._received(self.side, data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors: a peer went away
        self.relay.errors += 1


class Relay:
    """The relay: two loopback UDP sockets and the link model between them.

    Parameters
    ----------
    links
        The link specs routes may name, by name.
    routes
        ``(direction, class)`` -> :class:`Route`; ``(direction, "*")`` is the fallback and
        must exist for both directions.
    seed, horizon_s
        The links' root seed and the end of their dynamics (traces, fades), in model time.
    bind
        The address both sockets bind to; loopback unless ``allow_remote``.
    batch_s
        How long arrivals are gathered before the links serve them.
    max_datagram
        Longer datagrams are dropped as malformed.
    """

    def __init__(
        self,
        links: dict[str, LinkSpec],
        routes: dict[tuple[str, str], Route],
        *,
        seed: int = 1,
        horizon_s: float = math.inf,
        bind: str = "127.0.0.1",
        allow_remote: bool = False,
        batch_s: float = 0.001,
        max_datagram: int = MAX_DATAGRAM,
    ) -> None:
        check_bind(bind, allow_remote)
        for direction in DIRECTIONS:
            if (direction, "*") not in routes:
                raise ValueError(f"no fallback route for direction {direction!r}")
        for key, route in routes.items():
            if key[0] not in DIRECTIONS or key[1] not in (*CLASSES, "*"):
                raise ValueError(f"bad route key {key!r}")
            if not route.path:
                raise ValueError(f"route {key!r} crosses no link")
            for name in route.path:
                if name not in links:
                    raise ValueError(f"route {key!r} names unknown link {name!r}")
        self.bind, self.batch_s, self.max_datagram = bind, float(batch_s), int(max_datagram)
        # One route table row per distinct route; each (direction, class) points at a row.
        self._route_list: list[Route] = []
        self._route_of: dict[tuple[str, str], int] = {}
        for key, route in routes.items():
            if route not in self._route_list:
                self._route_list.append(route)
            self._route_of[key] = self._route_list.index(route)
        used = [name for r in self._route_list for name in r.path]
        self.link_names = [name for name in links if name in used]
        self.stream_names = list(dict.fromkeys(r.stream for r in self._route_list))
        self.links = [
            LinkRuntime(links[name], seed, self.stream_names, horizon_s) for name in self.link_names
        ]
        index = {name: i for i, name in enumerate(self.link_names)}
        width = max(len(r.path) for r in self._route_list) + 1
        self._path = np.full((len(self._route_list), width), -1, dtype=np.int64)
        for i, route in enumerate(self._route_list):
            self._path[i, : len(route.path)] = [index[n] for n in route.path]
        self._route_stream = np.array(
            [self.stream_names.index(r.stream) for r in self._route_list], dtype=np.int16
        )
        self._order = _topological([r.path for r in self._route_list], self.link_names)
        self._eager = _eager_links(self._route_list, links, self.link_names)
        # Datagrams in the model: id -> (payload, direction); arrays carry ids along links.
        self._held: dict[int, tuple[bytes, str]] = {}
        self._next_id = 0
        self._fresh: list[tuple[float, int, int, int]] = []  # (t, route, size, id)
        self._pending: list[list[tuple[np.ndarray, ...]]] = [[] for _ in self.link_names]
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_at = math.inf
        self._out: list[tuple[float, int, int]] = []  # (due loop time, order, id)
        self._out_order = 0
        self._send_handle: asyncio.TimerHandle | None = None
        self._send_time = math.inf
        self._transports: dict[str, asyncio.DatagramTransport] = {}
        self._peers: dict[str, tuple[str, int] | None] = {"a": None, "b": None}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.t0: float | None = None
        self.closed = False
        self.socket_buffers: dict[str, int] = {}
        # Counters.
        self.malformed = dict.fromkeys(MALFORMED_REASONS, 0)
        self.errors = 0
        self.counts = {
            d: {
                "datagrams": 0,
                "bytes": 0,
                "unmodelled": 0,
                "forwarded": 0,
                "lost": 0,
                "dropped": 0,
                "by_class": dict.fromkeys(CLASSES, 0),
            }
            for d in DIRECTIONS
        }
        self._late: list[float] = []  # send time - exit time, seconds, per datagram sent
        self._transit: list[tuple[np.ndarray, np.ndarray]] = []  # (route, exit - arrival)

    # ----- set-up ---------------------------------------------------------------------------
    async def open(self) -> tuple[tuple[str, int], tuple[str, int]]:
        """Bind both sockets; returns (side a's address, side b's address)."""
        self._loop = asyncio.get_running_loop()
        for side in ("a", "b"):
            transport, _ = await self._loop.create_datagram_endpoint(
                lambda side=side: _Side(self, side), local_addr=(self.bind, 0)
            )
            self._transports[side] = transport
            self.socket_buffers = enlarge_buffers(transport)
        return self.address("a"), self.address("b")

    def address(self, side: str) -> tuple[str, int]:
        """The address peer ``side`` must send to (``a``: peer A's view of peer B)."""
        host, port = self._transports[side].get_extra_info("sockname")[:2]
        if host == "0.0.0.0":  # bound to every address: the peers reach it on loopback
            host = "127.0.0.1"
        return str(host), int(port)

    def set_peer(self, side: str, address: tuple[str, int]) -> None:
        """The only address side ``side`` accepts datagrams from, and sends to."""
        if side not in ("a", "b"):
            raise ValueError(f"side is 'a' or 'b', got {side!r}")
        self._peers[side] = (str(address[0]), int(address[1]))

    def start_clock(self) -> float:
        """Start the model: from now on datagrams cross the links. Returns t0 (loop time)."""
        assert self._loop is not None, "open() first"
        self.t0 = self._loop.time()
        return self.t0

    def model_time(self) -> float:
        """Seconds since :meth:`start_clock` (NaN before)."""
        assert self._loop is not None
        return math.nan if self.t0 is None else self._loop.time() - self.t0

    def close(self) -> None:
        """Close both sockets and forget what is in flight."""
        self.closed = True
        for handle in (self._flush_handle, self._send_handle):
            if handle is not None:
                handle.cancel()
        self._flush_handle = self._send_handle = None
        self._out.clear()
        for transport in self._transports.values():
            transport.close()
        self._held.clear()

    # ----- the receive path -----------------------------------------------------------------
    def _received(self, side: str, data: bytes, addr) -> None:
        """One datagram from the socket facing ``side``. Never raises."""
        try:
            self._receive(side, data, addr)
        except Exception:  # a bug here must not take the relay down; count it
            self.malformed["error"] += 1

    def _receive(self, side: str, data: bytes, addr) -> None:
        if self.closed:
            return
        if not data:
            self.malformed["empty"] += 1
            return
        if len(data) > self.max_datagram:
            self.malformed["oversize"] += 1
            return
        peer = self._peers.get(side)
        if peer is None or addr is None or (addr[0], addr[1]) != peer:
            self.malformed["unknown_sender"] += 1
            return
        klass = datagram_class(data)
        if klass is None:
            self.malformed["unknown_protocol"] += 1
            return
        direction = "ab" if side == "a" else "ba"
        counts = self.counts[direction]
        counts["datagrams"] += 1
        counts["bytes"] += len(data)
        counts["by_class"][klass] += 1
        if self.t0 is None:
            counts["unmodelled"] += 1
            self._send_now(direction, data)
            return
        route = self._route_of.get((direction, klass))
        if route is None:
            route = self._route_of[(direction, "*")]
        key = self._next_id
        self._next_id += 1
        self._held[key] = (data, direction)
        now = self._loop.time()
        self._fresh.append((now - self.t0, route, len(data) + IP_UDP_OVERHEAD, key))
        self._want_flush(now + self.batch_s)

    def _send_now(self, direction: str, data: bytes) -> None:
        out = "b" if direction == "ab" else "a"
        peer = self._peers[out]
        transport = self._transports.get(out)
        if peer is not None and transport is not None and not transport.is_closing():
            transport.sendto(data, peer)

    # ----- the model ------------------------------------------------------------------------
    def _want_flush(self, when: float) -> None:
        if when < self._flush_at:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
            self._flush_at = when
            self._flush_handle = self._loop.call_at(when, self._flush)

    def _flush(self) -> None:
        self._flush_handle, self._flush_at = None, math.inf
        if self.closed:
            return
        try:
            self.flush(self._loop.time() - self.t0)
        except Exception:  # keep relaying; the datagrams of a failed batch are lost
            self.malformed["error"] += 1

    def flush(self, now: float) -> None:
        """Serve every link with the arrivals it may take at model time ``now``."""
        if self._fresh:
            fresh = np.array(self._fresh, dtype=np.float64)
            self._fresh = []
            route = fresh[:, 1].astype(np.int64)
            first = self._path[route, 0]
            batch = (
                fresh[:, 0],
                route,
                np.zeros(route.size, dtype=np.int64),
                fresh[:, 2].astype(np.int64),
                fresh[:, 3].astype(np.int64),
                fresh[:, 0],
            )
            for link in np.unique(first).tolist():
                take = first == link
                self._pending[link].append(tuple(col[take] for col in batch))
        earliest = math.inf
        for link in self._order:
            if not self._pending[link]:
                continue
            parts = self._pending[link]
            cols = [
                np.concatenate([p[i] for p in parts]) if len(parts) > 1 else parts[0][i]
                for i in range(6)
            ]
            self._pending[link] = []
            if not self._eager[link]:
                due = cols[0] <= now
                if not due.all():
                    rest = ~due
                    self._pending[link] = [tuple(c[rest] for c in cols)]
                    earliest = min(earliest, float(cols[0][rest].min()))
                    cols = [c[due] for c in cols]
            if not cols[0].size:
                continue
            order = np.argsort(cols[0], kind="stable")
            t, route, hop, size, key, t_in = (c[order] for c in cols)
            result = self.links[link].serve(t, self._route_stream[route], size)
            failed = result.fate != 0
            if failed.any():
                self._count_failed(key[failed], result.fate[failed])
            ok = ~failed
            recv, route, hop = result.recv_s[ok], route[ok], hop[ok] + 1
            size, key, t_in = size[ok], key[ok], t_in[ok]
            nxt = self._path[route, hop]
            done = nxt < 0
            if done.any():
                self._schedule(recv[done], key[done])
                self._transit.append((route[done], recv[done] - t_in[done]))
            if not done.all():
                on = ~done
                for downstream in np.unique(nxt[on]).tolist():
                    go = on & (nxt == downstream)
                    self._pending[downstream].append(
                        (recv[go], route[go], hop[go], size[go], key[go], t_in[go])
                    )
                    if not self._eager[downstream]:
                        earliest = min(earliest, float(recv[go].min()))
        if math.isfinite(earliest):
            self._want_flush(self.t0 + max(earliest, now))

    def _count_failed(self, keys: np.ndarray, fate: np.ndarray) -> None:
        for key, f in zip(keys.tolist(), fate.tolist(), strict=True):
            held = self._held.pop(key, None)
            if held is not None:
                self.counts[held[1]]["lost" if f == 1 else "dropped"] += 1

    def _schedule(self, exit_s: np.ndarray, keys: np.ndarray) -> None:
        """Queue datagrams to leave at their exit times (loop time t0 + exit).

        One heap ordered by (time, arrival order) and one timer for its head: asyncio orders
        its timers by time alone, so datagrams due at the same instant (common where a FIFO
        link clamps jittered exits to the one before) would leave in any order, and a
        receiver would take the reordering for loss.
        """
        t0, heap, order = self.t0, self._out, self._out_order
        for when, key in zip(exit_s.tolist(), keys.tolist(), strict=True):
            heapq.heappush(heap, (t0 + when, order, key))
            order += 1
        self._out_order = order
        self._arm_sender()

    def _arm_sender(self) -> None:
        if not self._out or self.closed:
            return
        first = self._out[0][0]
        if first < self._send_time:
            if self._send_handle is not None:
                self._send_handle.cancel()
            self._send_time = first
            self._send_handle = self._loop.call_at(first, self._send_due)

    def _send_due(self) -> None:
        self._send_handle, self._send_time = None, math.inf
        if self.closed:
            return
        heap, held, now = self._out, self._held, self._loop.time()
        while heap and heap[0][0] <= now:
            due, _, key = heapq.heappop(heap)
            entry = held.pop(key, None)
            if entry is None:
                continue
            data, direction = entry
            try:
                self._send_now(direction, data)
            except Exception:
                self.malformed["error"] += 1
                continue
            self._late.append(self._loop.time() - due)
            self.counts[direction]["forwarded"] += 1
        self._arm_sender()

    # ----- figures --------------------------------------------------------------------------
    @property
    def lateness_s(self) -> np.ndarray:
        """Per datagram sent under the model: send time minus its model exit time (s)."""
        return np.asarray(self._late, dtype=np.float64)

    def transit_summary(self) -> dict[str, dict]:
        """Per route stream: the model's latency (exit minus arrival, ms) of the datagrams
        it let through: what the simulator computes for a packet on that path."""
        if not self._transit:
            return {}
        route = np.concatenate([r for r, _ in self._transit])
        transit = np.concatenate([t for _, t in self._transit]) * 1e3
        out = {}
        for i, r in enumerate(self._route_list):
            mine = transit[route == i]
            if mine.size:
                p50, p95, p99 = np.percentile(mine, [50, 95, 99])
                out[r.stream] = {
                    "datagrams": int(mine.size),
                    "p50": float(p50),
                    "p95": float(p95),
                    "p99": float(p99),
                    "max": float(mine.max()),
                }
        return out

    def stats(self) -> dict:
        """Counters and the scheduling error, for results.json (times in ms)."""
        late = self.lateness_s * 1e3
        if late.size:
            p50, p99, p999 = np.percentile(late, [50, 99, 99.9])
            error = {
                "datagrams": int(late.size),
                "mean": float(late.mean()),
                "p50": float(p50),
                "p99": float(p99),
                "p999": float(p999),
                "max": float(late.max()),
            }
        else:
            error = {"datagrams": 0}
        return {
            "bind": self.bind,
            "socket_buffers": self.socket_buffers,
            "batch_ms": self.batch_s * 1e3,
            "max_datagram": self.max_datagram,
            "malformed": dict(self.malformed),
            "socket_errors": self.errors,
            "directions": {
                d: {**c, "by_class": dict(c["by_class"])} for d, c in self.counts.items()
            },
            "scheduling_error_ms": error,
            "routes": {
                f"{d}:{k}": {"stream": r.stream, "path": list(r.path)}
                for (d, k), i in self._route_of.items()
                for r in [self._route_list[i]]
            },
        }


def _topological(paths: Iterable[tuple[str, ...]], names: list[str]) -> list[int]:
    """Link indices in an order where every path visits them forwards."""
    after: dict[str, set[str]] = {n: set() for n in names}
    for path in paths:
        for up, down in zip(path, path[1:], strict=False):
            after[up].add(down)
    indegree = dict.fromkeys(names, 0)
    for downs in after.values():
        for down in downs:
            indegree[down] += 1
    ready = [n for n in names if indegree[n] == 0]
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for down in sorted(after[name], key=names.index):
            indegree[down] -= 1
            if indegree[down] == 0:
                ready.append(down)
    if len(order) != len(names):
        raise ValueError("the routes order the links in a cycle")
    return [names.index(n) for n in order]


def _eager_links(routes: list[Route], links: dict[str, LinkSpec], names: list[str]) -> list[bool]:
    """Per link: may it serve arrivals as soon as they are known (not in real time)?

    Yes when all its arrivals come in time order by construction: from one feeder only,
    either fresh datagrams (read in time order) or one upstream link that keeps order.
    """
    feeders: dict[str, set[str]] = {n: set() for n in names}
    for route in routes:
        feeders[route.path[0]].add("")
        for up, down in zip(route.path, route.path[1:], strict=False):
            feeders[down].add(up)
    eager = []
    for name in names:
        (only,) = feeders[name] if len(feeders[name]) == 1 else (None,)
        eager.append(only == "" or (only is not None and not links[only].jitter.reorder))
    return eager
