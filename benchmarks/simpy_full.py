"""The full link model as a plain per-packet SimPy program: multi-hop, jitter, Gilbert-Elliott
loss, finite buffers and time-varying capacity (issue 9, first target).

The workload (:func:`full_plan`): one Poisson stream of 1200-byte packets at 25 Mbit/s
(2604.2 packets/s) through ``hops`` links in series. Every link has

- a capacity that steps every 100 ms (a :class:`netsim.capacity.RateSchedule`, unrolled over
  the run): each step's rate is ``f * B`` with ``f`` uniform in [0.6, 1.6] (drawn from the
  link's own generator) and the base ``B = offered / (1.1 * utilisation)``, so the mean
  capacity is ``offered / utilisation`` (0.7: occasional drops; 1.2: sustained overload);
- a drop-tail buffer of ``buffer_bytes`` bytes (the packet in service counts);
- Gilbert-Elliott loss per packet (p = 0.001, r = 0.2, 0.05 % loss in Good, 50 % in Bad:
  about 0.3 % per hop);
- a delay and exponential jitter with FIFO order kept.

:func:`simulate_full` is the model as SimPy processes, one Python object and one event per
packet per step, following ``tests/reference.py`` (the independent per-packet semantics the
engine is tested against):

- a **source** process sleeping until each send time and handing the packet to the first hop;
- per hop, an **arrival** callback doing drop-tail admission against the bytes admitted and
  not yet serialised, a :class:`simpy.Store` as the FIFO queue, and a **server** process
  taking one packet at a time and holding the serialiser until the packet's bits are sent,
  integrating the rate schedule segment by segment from ``max(a, d_prev)``; at the
  departure it releases the bytes, advances the loss chain, draws the jitter, and schedules
  the packet's arrival at the next hop (or its delivery) with one ``env.timeout`` at
  ``max(d + delay + J, previous receive time)``.

Random numbers come from the engine's named generators (``netsim.rng.component_rng``, named as
in ``tests/reference.py``) in blocks of :data:`BLOCK` handed out as Python floats, and the send
times are built the way ``netsim.traffic.Source`` builds them, so the run can be compared with
``netsim.engine.simulate`` packet for packet (:func:`compare_with_engine`).

Only what the workload needs is supported (one Poisson stream of constant-size packets; links
with a constant capacity or a non-looping RateSchedule; unlimited, byte or packet buffers;
exponential FIFO jitter or none; per-packet Gilbert-Elliott, i.i.d. or no loss; no outages,
radio, timed jitter or timed loss); anything else raises ValueError.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import simpy

from netsim.capacity import RateSchedule
from netsim.packetlog import DELIVERED, DROPPED, IN_FLIGHT, LOST
from netsim.plan import JitterModel, LinkSpec, LossModel, NetworkPlan, SizeModel, StreamSpec
from netsim.rng import component_rng

__all__ = ["BLOCK", "FullRun", "full_plan", "simulate_full", "compare_with_engine"]

BLOCK = 65536  # random values per numpy call (as the engine's sources draw)
PACKET_BYTES = 1200
OFFERED_BPS = 25e6
STEP_S = 0.1
HOP_DELAYS_S = (0.005, 0.010, 0.002)
HOP_JITTER_MEANS_S = (0.002, 0.001, 0.0005)
GE_LOSS = LossModel(kind="gilbert-elliott", p=0.001, r=0.2, loss_good=0.0005, loss_bad=0.5)


def _schedule(seed: int, hop: int, utilisation: float, horizon_s: float) -> RateSchedule:
    steps = int(math.ceil(horizon_s / STEP_S)) + 1
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x15509, hop]))
    base = OFFERED_BPS / (1.1 * utilisation)  # mean of U[0.6, 1.6] is 1.1
    return RateSchedule(np.arange(steps) * STEP_S, rng.uniform(0.6, 1.6, steps) * base)


def full_plan(
    duration_s: float,
    utilisation: float = 0.7,
    hops: int = 3,
    buffer_bytes: int = 150_000,
    seed: int = 1,
) -> NetworkPlan:
    """The issue-9 workload; see the module docstring."""
    if not 1 <= hops <= len(HOP_DELAYS_S):
        raise ValueError(f"hops must be 1..{len(HOP_DELAYS_S)}")
    drain_s = 10.0
    links = {}
    for i in range(hops):
        name = f"hop{i + 1}"
        links[name] = LinkSpec(
            name=name,
            delay_s=HOP_DELAYS_S[i],
            jitter=JitterModel(distribution="exponential", mean_s=HOP_JITTER_MEANS_S[i]),
            loss=GE_LOSS,
            buffer_limit=float(buffer_bytes),
            buffer_kind="bytes",
            curve=_schedule(seed, i, utilisation, duration_s + drain_s),
        )
    stream = StreamSpec(
        name="flow",
        kind="poisson",
        rate_pps=OFFERED_BPS / (8 * PACKET_BYTES),
        size=SizeModel(distribution="constant", mean_bytes=PACKET_BYTES),
        path=tuple(links),
    )
    return NetworkPlan(
        name=f"issue9-{hops}hop-rho{utilisation:g}",
        duration_s=duration_s,
        links=links,
        streams=(stream,),
        seed=seed,
        drain_s=drain_s,
    )


@dataclass(frozen=True)
class FullRun:
    """Per packet (indexed by sequence number): send time, receive time (NaN unless
    delivered), fate (the packet log's numbering) and the link index where it failed (-1)."""

    t_send_s: np.ndarray
    t_recv_s: np.ndarray
    fate: np.ndarray
    link: np.ndarray
    events: int

    @property
    def packets(self) -> int:
        return int(self.t_send_s.size)


def _floats(draw) -> Iterator[float]:
    while True:
        yield from draw(BLOCK).tolist()


def _check_supported(plan: NetworkPlan) -> tuple[StreamSpec, list[LinkSpec]]:
    if len(plan.streams) != 1:
        raise ValueError("simulate_full carries one stream")
    (stream,) = plan.streams
    problems = []
    if stream.kind != "poisson" or stream.size.distribution != "constant":
        problems.append("a Poisson stream of constant-size packets")
    if stream.start_s != 0.0 or stream.gate is not None or stream.source is not None:
        problems.append("an ungated stream of its own, starting at 0")
    specs = [plan.links[name] for name in stream.path]
    if len(set(stream.path)) != len(stream.path) or len(specs) != len(plan.links):
        problems.append("every link once on the stream's path")
    for spec in specs:
        if spec.radio is not None or spec.outages:
            problems.append(f"{spec.name}: no radio, no outages")
        if spec.curve is not None and (
            not isinstance(spec.curve, RateSchedule) or spec.curve.period_s is not None
        ):
            problems.append(f"{spec.name}: a constant capacity or a non-looping RateSchedule")
        if spec.curve is None and not math.isfinite(spec.capacity_bps):
            problems.append(f"{spec.name}: a finite capacity")
        j = spec.jitter
        if j.active and (j.distribution != "exponential" or j.reorder or j.timed):
            problems.append(f"{spec.name}: exponential FIFO jitter per packet, or none")
        if spec.loss.active and (
            spec.loss.kind not in ("iid", "gilbert-elliott") or spec.loss.timed
        ):
            problems.append(f"{spec.name}: per-packet Gilbert-Elliott or i.i.d. loss, or none")
    if problems:
        raise ValueError("simulate_full supports only " + "; ".join(problems))
    return stream, specs


def simulate_full(plan: NetworkPlan, seed: int | None = None) -> FullRun:
    """Simulate ``plan`` one packet at a time with SimPy; see the module docstring."""
    stream, specs = _check_supported(plan)
    seed = plan.seed if seed is None else int(seed)
    horizon = plan.duration_s + plan.drain_s
    link_names = list(plan.links)
    env = simpy.Environment()
    size = max(1, math.ceil(stream.size.mean_bytes))

    t_send: list[float] = []
    t_recv: list[float] = []
    fate: list[int] = []
    where: list[int] = []

    class Hop:
        """One link: drop-tail admission, a Store as the FIFO, a server, a delay line."""

        def __init__(self, spec: LinkSpec, next_hop: Hop | None) -> None:
            self.spec, self.next_hop = spec, next_hop
            self.index = link_names.index(spec.name)
            self.store = simpy.Store(env)
            self.held = 0  # bytes (or packets) admitted and not yet serialised
            self.by_bytes = spec.buffer_kind == "bytes"
            self.limit = spec.buffer_limit if spec.buffer_kind != "unlimited" else math.inf
            curve = spec.curve
            if curve is not None:
                self.times = curve.t_s.tolist() + [math.inf]
                self.rates = curve.rate_bps.tolist()
            self.segment = 0
            self.curve = curve is not None

            def named(purpose: str) -> np.random.Generator:
                return component_rng(seed, "link", spec.name, "stream", stream.name, purpose)

            self.jitters = (
                _floats(lambda n: named("jitter").exponential(spec.jitter.mean_s, n))
                if spec.jitter.active
                else None
            )
            loss = spec.loss
            self.loss_kind = loss.kind if loss.active else "none"
            if self.loss_kind != "none":
                self.loss_u = _floats(named("loss").random)
            if self.loss_kind == "gilbert-elliott":
                self.state_u = _floats(named("ge-state").random)
            self.bad = None  # chain state; None before the first packet
            env.process(self.server())

        def arrive(self, seq: int, a: float) -> None:
            """A packet reaches the link at ``a`` (now): admit it or drop it (tail)."""
            need = size if self.by_bytes else 1
            if self.held + need > self.limit:
                fate[seq] = DROPPED
                where[seq] = self.index
                return
            self.held += need
            self.store.put((seq, a))

        def service_end(self, t: float, size_bytes: int) -> float:
            """When ``size_bytes`` are sent, starting at ``t``, along the rate schedule."""
            if not self.curve:
                return t + 8.0 * size_bytes / self.spec.capacity_bps
            bits = 8.0 * size_bytes
            times, rates, i = self.times, self.rates, self.segment
            while times[i + 1] <= t:
                i += 1
            while True:
                end, rate = times[i + 1], rates[i]
                if rate > 0 and bits <= rate * (end - t):
                    self.segment = i
                    return t + bits / rate
                if end == math.inf:
                    return math.inf
                bits -= rate * (end - t)
                t = end
                i += 1

        def lost(self) -> bool:
            kind = self.loss_kind
            if kind == "none":
                return False
            if kind == "iid":
                return next(self.loss_u) < self.spec.loss.rate
            model = self.spec.loss
            u = next(self.state_u)
            if self.bad is None:
                pi_bad = model.p / (model.p + model.r) if model.p + model.r > 0 else 0.0
                self.bad = u < pi_bad
            elif self.bad:
                if u < model.r:
                    self.bad = False
            elif u < model.p:
                self.bad = True
            return next(self.loss_u) < (model.loss_bad if self.bad else model.loss_good)

        def server(self):
            d_prev = 0.0
            last_recv = -math.inf
            delay = self.spec.delay_s
            need = size if self.by_bytes else 1
            forward = self.forward
            while True:
                seq, a = yield self.store.get()
                d = self.service_end(a if a > d_prev else d_prev, size)
                d_prev = d
                yield env.timeout(d - env.now)  # the serialiser is busy until d
                self.held -= need
                jitter = next(self.jitters) if self.jitters is not None else 0.0  # lost ones too
                if self.lost():
                    fate[seq] = LOST
                    where[seq] = self.index
                    continue
                recv = d + delay + jitter
                if recv < last_recv:  # FIFO: never overtake the packet ahead
                    recv = last_recv
                last_recv = recv
                env.timeout(recv - env.now, (seq, recv)).callbacks.append(forward)

        def forward(self, event) -> None:
            seq, recv = event.value
            if self.next_hop is not None:
                self.next_hop.arrive(seq, recv)
            else:
                fate[seq] = DELIVERED
                t_recv[seq] = recv

    hop: Hop | None = None
    for spec in reversed(specs):
        hop = Hop(spec, hop)
    first = hop
    assert first is not None

    def send_times() -> Iterator[float]:
        # As netsim.traffic.Source: blocks of gaps, times = last + cumsum(gaps).
        rng = component_rng(seed, "stream", stream.name, "arrivals")
        last = stream.start_s
        while True:
            block = last + np.cumsum(rng.exponential(1.0 / stream.rate_pps, BLOCK))
            last = float(block[-1])
            yield from block.tolist()

    stop = min(stream.stop_s, plan.duration_s)

    def source():
        seq = 0
        for t in send_times():
            if t >= stop:
                return
            yield env.timeout(t - env.now)
            t_send.append(t)
            t_recv.append(math.nan)
            fate.append(IN_FLIGHT)
            where.append(-1)
            first.arrive(seq, t)
            seq += 1

    env.process(source())
    env.run(until=horizon)
    return FullRun(
        t_send_s=np.asarray(t_send),
        t_recv_s=np.asarray(t_recv),
        fate=np.asarray(fate, dtype=np.int8),
        link=np.asarray(where, dtype=np.int64),
        events=_events_scheduled(env),
    )


def _events_scheduled(env: simpy.Environment) -> int:
    """Events simpy scheduled in the run (its private running id; -1 if that changes)."""
    counter = getattr(env, "_eid", None)
    try:
        return int(next(counter))
    except TypeError:
        return -1


def compare_with_engine(plan: NetworkPlan, seed: int | None = None) -> dict:
    """Run both on ``plan`` and compare every packet: fates, failure links, times."""
    from netsim import engine

    run = simulate_full(plan, seed=seed)
    packets = engine.simulate(plan, seed=seed).packets
    order = np.argsort(packets.seq, kind="stable")  # the engine's log is in send order already
    e_fate = np.asarray(packets.fate)[order]
    e_link = np.asarray(packets.link)[order]
    e_send = np.asarray(packets.t_send_s)[order]
    e_recv = np.asarray(packets.t_recv_s)[order]
    same_count = run.packets == len(packets)
    n = min(run.packets, len(packets))
    fates_equal = same_count and bool(np.array_equal(run.fate, e_fate.astype(np.int8)))
    failed = run.fate[:n] != DELIVERED
    links_equal = same_count and bool(
        np.array_equal(np.where(failed, run.link[:n], -1), np.where(failed, e_link[:n], -1))
    )
    both = (run.fate[:n] == DELIVERED) & (e_fate[:n] == DELIVERED)
    counts = {
        name: (int((run.fate == code).sum()), int((e_fate == code).sum()))
        for name, code in (
            ("delivered", DELIVERED),
            ("lost", LOST),
            ("dropped", DROPPED),
            ("in_flight", IN_FLIGHT),
        )
    }
    return {
        "packets": (run.packets, len(packets)),
        "same_packets": same_count,
        "fates_equal": fates_equal,
        "fate_mismatches": int((run.fate[:n] != e_fate[:n]).sum()),
        "failure_links_equal": links_equal,
        "max_send_diff_s": float(np.max(np.abs(run.t_send_s[:n] - e_send[:n]))) if n else 0.0,
        "max_recv_diff_s": float(np.max(np.abs(run.t_recv_s[:n][both] - e_recv[:n][both])))
        if both.any()
        else 0.0,
        "counts_simpy_engine": counts,
    }


if __name__ == "__main__":  # python benchmarks/simpy_full.py [seconds] [utilisation]
    import sys
    import time

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    rho = float(sys.argv[2]) if len(sys.argv) > 2 else 0.7
    plan = full_plan(seconds, utilisation=rho)
    start = time.perf_counter()
    result = simulate_full(plan)
    wall = time.perf_counter() - start
    print(f"{result.packets} packets in {wall:.2f} s: {result.packets / wall:,.0f} packets/s")
    print(compare_with_engine(plan))
