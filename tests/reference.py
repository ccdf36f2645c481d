"""A plain, per-packet reference implementation of the link model in docs/model.md.

Written from the specification, not from ``netsim/link.py``: one packet at a time in a plain
Python loop, with the Gilbert-Elliott chain run as a state machine and drop-tail admission kept
as a deque of the admitted packets still in the link. It takes the *send* columns of a run
(the sources are not what it checks) and computes what the links do with those packets.

Semantics implemented, quoting docs/model.md:

- links are processed in a topological order of the paths (computed here);
- a link serves the packets that reach it before ``duration + drain``, in order of arrival
  time, ties broken by stream index, then sequence number;
- drop-tail: packet n is dropped if the admitted packets with departure ``d_m > a_n`` hold
  ``B + size_n > limit`` bytes, or ``count + 1 > limit`` packets; a dropped packet draws
  nothing;
- Lindley: ``d_n = max(a_n, d_prev) + 8 * size_n / capacity`` (``d_prev`` initially 0);
- loss on the wire per admitted packet from ``("link", L, "stream", S, "loss")``; the
  Gilbert-Elliott state from ``("link", L, "stream", S, "ge-state")``;
- jitter from ``("link", L, "stream", S, "jitter")``, one draw per admitted packet (lost
  ones too); FIFO mode: ``recv = max(d + delay + J, last recv of a packet that passed)``;
- a packet is delivered if its receive time at the last link is ``<= duration + drain``,
  otherwise (or if it never reaches a link before then) it is in flight.

Time-driven link behaviour (docs/model.md, "Time-varying links"): the link's dynamics come
from ``netsim.dynamics.link_dynamics`` (the timelines are tested on their own), and are applied
here plainly:

- a packet reaching the link inside a refusal interval is lost there and draws nothing;
- with a rate schedule, service integrates the piecewise rate from ``max(a, d_prev)`` segment
  by segment until the packet's bits are sent (no cumulative-work algebra);
- a timed jitter: a packet leaving the queue at d gets the extra delay of slot
  ``floor(d / hold)`` of the dynamics' slots, whatever its stream;
- a timed loss chain: a packet leaving the queue inside a Bad interval is lost with
  ``loss_bad``, otherwise ``loss_good``, against the same per-stream uniform.

Fates use the numbering of the packet log: 0 delivered, 1 lost on the wire, 2 dropped by a
full buffer, 3 in flight (defined here again on purpose).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from netsim.capacity import RateSchedule
from netsim.dynamics import link_dynamics
from netsim.plan import JitterModel, LossModel, NetworkPlan
from netsim.rng import component_rng

__all__ = [
    "DELIVERED",
    "LOST",
    "DROPPED",
    "IN_FLIGHT",
    "ReferenceResult",
    "reference_run",
    "topological_links",
    "rfc3550_jitter_by_hand",
    "loss_bursts_by_hand",
]

DELIVERED, LOST, DROPPED, IN_FLIGHT = 0, 1, 2, 3


@dataclass(frozen=True)
class ReferenceResult:
    """Per-packet outcome, row-aligned with the send columns given to :func:`reference_run`.

    ``link`` is the index (into ``list(plan.links)``) of the link where a packet was lost or
    dropped, else -1.
    """

    t_recv_s: np.ndarray
    fate: np.ndarray
    link: np.ndarray


def topological_links(plan: NetworkPlan) -> list[str]:
    """A depth-first topological order of the links along the streams' paths."""
    successors: dict[str, set[str]] = {name: set() for name in plan.links}
    for stream in plan.streams:
        for a, b in zip(stream.path, stream.path[1:], strict=False):
            successors[a].add(b)
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ValueError("paths order the links in a cycle")
        state[name] = 1
        for nxt in sorted(successors[name]):
            visit(nxt)
        state[name] = 2
        order.append(name)

    for name in sorted(plan.links):
        visit(name)
    return order[::-1]


def _jitter_draws(model: JitterModel, rng: np.random.Generator, n: int) -> list[float]:
    if model.distribution == "none":
        return [0.0] * n
    if model.distribution == "exponential":
        values = rng.exponential(model.mean_s, n)
    elif model.distribution == "uniform":
        values = rng.uniform(0.0, model.max_s, n)
    elif model.distribution == "lognormal":
        values = rng.lognormal(math.log(model.median_s), model.sigma, n)
    elif model.distribution == "pareto":
        values = rng.pareto(model.alpha, n) * model.scale_s  # numpy's pareto is Lomax
    else:
        raise ValueError(model.distribution)
    return [float(v) for v in values]


def _in_any(t: float, starts, ends) -> bool:
    return any(s <= t < e for s, e in zip(starts, ends, strict=True))


def _serve_rate(schedule: RateSchedule, start: float, size_bytes: int) -> float:
    """When ``size_bytes`` are sent, starting at ``start``, along a piecewise-constant rate."""
    bits = 8.0 * size_bytes
    times, rates, period = list(schedule.t_s), list(schedule.rate_bps), schedule.period_s
    loop = 0 if period is None else math.floor(start / period)
    offset = start - (0.0 if period is None else loop * period)
    i = max(k for k in range(len(times)) if times[k] <= offset)
    t = start
    for _ in range(1_000_000):
        base = 0.0 if period is None else loop * period
        if i + 1 < len(times):
            end = base + times[i + 1]
        else:
            end = math.inf if period is None else base + period
        rate = rates[i]
        if rate > 0 and bits <= rate * (end - t):
            return t + bits / rate
        if end == math.inf:
            return math.inf
        bits -= rate * (end - t)
        t = end
        i += 1
        if i == len(times):
            i, loop = 0, loop + 1
    raise AssertionError("schedule never serves the packet")


def _loss_flags(
    model: LossModel, seed: int, link: str, stream: str, departs: list[float], bad=None
) -> list[bool]:
    """Whether each of a stream's admitted packets on a link is lost on the wire."""
    n = len(departs)
    if model.kind == "none" or n == 0:
        return [False] * n
    loss_u = component_rng(seed, "link", link, "stream", stream, "loss").random(n).tolist()
    if model.kind == "iid":
        return [u < model.rate for u in loss_u]
    if model.per_s is not None:
        starts, ends = bad.start_s.tolist(), bad.end_s.tolist()
        return [
            u < (model.loss_bad if _in_any(d, starts, ends) else model.loss_good)
            for u, d in zip(loss_u, departs, strict=True)
        ]
    if model.kind != "gilbert-elliott":
        raise ValueError(model.kind)
    state_u = component_rng(seed, "link", link, "stream", stream, "ge-state").random(n).tolist()
    pi_bad = model.p / (model.p + model.r) if model.p + model.r > 0 else 0.0
    flags = []
    bad = False
    for k in range(n):
        u = state_u[k]
        if k == 0:
            bad = u < pi_bad  # the stationary law
        elif bad:
            if u < model.r:
                bad = False
        elif u < model.p:
            bad = True
        flags.append(loss_u[k] < (model.loss_bad if bad else model.loss_good))
    return flags


def reference_run(
    plan: NetworkPlan,
    seed: int,
    stream: np.ndarray,
    seq: np.ndarray,
    size_bytes: np.ndarray,
    t_send_s: np.ndarray,
) -> ReferenceResult:
    """Carry the given packets through the plan's links, one packet at a time."""
    n = len(seq)
    link_names = list(plan.links)
    stream_names = [s.name for s in plan.streams]
    horizon = plan.duration_s + plan.drain_s
    t_recv = np.full(n, np.nan)
    fate = np.full(n, IN_FLIGHT, dtype=np.int64)
    where = np.full(n, -1, dtype=np.int64)

    # arrivals[link] holds (arrival time, stream index, seq, row) of packets reaching it.
    arrivals: dict[str, list[tuple[float, int, int, int]]] = {name: [] for name in link_names}
    for row in range(n):
        s = int(stream[row])
        arrivals[plan.streams[s].path[0]].append((float(t_send_s[row]), s, int(seq[row]), row))

    for name in topological_links(plan):
        spec = plan.links[name]
        link_index = link_names.index(name)
        todo = sorted(a for a in arrivals[name] if a[0] < horizon)
        dynamics = link_dynamics(spec, seed, horizon)
        refuse = (dynamics.refuse.start_s.tolist(), dynamics.refuse.end_s.tolist())
        curve = dynamics.curve

        # Pass 1: drop-tail admission and Lindley departures (no randomness involved).
        in_system: deque[tuple[float, int]] = deque()  # (departure, size) of admitted packets
        held_bytes = 0
        d_prev = 0.0
        admitted: list[tuple[int, int, float]] = []  # (row, stream index, departure)
        for a, s, _, row in todo:
            size = int(size_bytes[row])
            if _in_any(a, *refuse):
                fate[row] = LOST
                where[row] = link_index
                continue
            while in_system and in_system[0][0] <= a:
                held_bytes -= in_system.popleft()[1]
            if spec.buffer_kind == "bytes":
                drop = held_bytes + size > spec.buffer_limit
            elif spec.buffer_kind == "packets":
                drop = len(in_system) + 1 > spec.buffer_limit
            else:
                drop = False
            if drop:
                fate[row] = DROPPED
                where[row] = link_index
                continue
            if curve is None:
                d = max(a, d_prev) + 8 * size / spec.capacity_bps
            elif isinstance(curve, RateSchedule):
                d = _serve_rate(curve, max(a, d_prev), size)
            else:
                raise NotImplementedError("tests/mahimahi_reference.py checks opportunities")
            d_prev = d
            in_system.append((d, size))
            held_bytes += size
            admitted.append((row, s, d))

        # Random draws per stream on this link: one per admitted packet, in arrival order.
        departs: dict[int, list[float]] = {}
        for _, s, d in admitted:
            departs.setdefault(s, []).append(d)
        counts = {s: len(d) for s, d in departs.items()}
        jitter: dict[int, list[float]] = {}
        lost: dict[int, list[bool]] = {}
        for s, count in counts.items():
            rng = component_rng(seed, "link", name, "stream", stream_names[s], "jitter")
            jitter[s] = _jitter_draws(spec.jitter, rng, count)
            lost[s] = _loss_flags(spec.loss, seed, name, stream_names[s], departs[s], dynamics.bad)
        used = dict.fromkeys(counts, 0)

        # Pass 2: loss on the wire, then the delay line.
        last_recv = -math.inf
        for row, s, d in admitted:
            k = used[s]
            used[s] = k + 1
            if lost[s][k]:
                fate[row] = LOST
                where[row] = link_index
                continue
            extra = jitter[s][k]
            if spec.jitter.hold_s is not None and spec.jitter.active:
                slot = math.floor(d / spec.jitter.hold_s)
                slots = dynamics.jitter_slots_s
                extra = float(slots[slot]) if slot < slots.size else 0.0
            recv = d + spec.delay_s + extra
            if not spec.jitter.reorder:
                recv = max(recv, last_recv)
                last_recv = recv
            path = plan.streams[s].path
            hop = path.index(name)
            if hop == len(path) - 1:
                if recv <= horizon:
                    fate[row] = DELIVERED
                    t_recv[row] = recv
            else:
                arrivals[path[hop + 1]].append((recv, s, int(seq[row]), row))

    return ReferenceResult(t_recv_s=t_recv, fate=fate, link=where)


# -- statistics (docs/model.md, "Statistics"), recomputed plainly ----------------------------


def rfc3550_jitter_by_hand(t_send: np.ndarray, t_recv: np.ndarray) -> tuple[float, float]:
    """RFC 3550 §6.4.1 jitter of delivered packets taken in order of arrival (ties: given order).

    ``J += (|D| - J) / 16`` with D the difference of consecutive transit times, J starting
    at 0; returns (mean of J over its updates, final J), NaN for fewer than two packets.
    """
    send, recv = t_send.tolist(), t_recv.tolist()
    if len(recv) < 2:
        return math.nan, math.nan
    order = sorted(range(len(recv)), key=lambda i: (recv[i], i))
    j, total, previous = 0.0, 0.0, None
    for i in order:
        transit = recv[i] - send[i]
        if previous is not None:
            j += (abs(transit - previous) - j) / 16.0
            total += j
        previous = transit
    return total / (len(recv) - 1), j


def loss_bursts_by_hand(lost_in_seq_order: np.ndarray) -> list[int]:
    """Lengths of the runs of consecutive lost packets (itertools.groupby)."""
    return [len(list(run)) for key, run in itertools.groupby(lost_in_seq_order.tolist()) if key]
