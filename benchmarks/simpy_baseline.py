"""The benchmark workload as a plain per-packet SimPy program: what medlink is measured against.

One link, one Poisson stream, the model of ``docs/model.md`` written the way a competent
engineer would write it without vectorising:

- a **source** process sleeps an exponential gap (``env.timeout``) and puts each packet in a
  :class:`simpy.Store`, the link's FIFO queue;
- a **link server** process takes packets from the store one at a time, holds the serialiser
  for ``8 * size / capacity`` (``env.timeout``), draws the packet's jitter and its loss, and
  hands a surviving packet to the **delay line**: one ``env.timeout`` per packet, scheduled for
  ``max(d + delay + J, previous receive time)`` (FIFO order kept, the engine's default), whose
  callback records the receive time.

Randomness comes from numpy Generators, drawn in blocks of :data:`BLOCK` values and handed out
one at a time (the fair way to write it: one numpy call per packet would be much slower).
By default the baseline draws its own randomness, so it agrees with the engine statistically,
not packet for packet. With ``same_streams=True`` it draws from the engine's named generators
(``netsim.rng.component_rng``, in the order docs/model.md gives), so it reproduces the engine
packet for packet, up to floating-point rounding of the clock; ``test_baseline_agrees.py``
uses both.

Only what the workload needs is supported (one link, one Poisson stream of constant-size
packets, unlimited buffer, exponential jitter or none, i.i.d. loss or none); anything else
raises ValueError rather than quietly computing a different model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import simpy

from netsim.plan import JitterModel, LinkSpec, LossModel, NetworkPlan, SizeModel, StreamSpec
from netsim.rng import component_rng

__all__ = ["BLOCK", "BaselineRun", "simulate_baseline", "summarise", "workload_plan"]

BLOCK = 65536
"""Random values drawn per numpy call (the engine's sources use the same block)."""

PACKET_BYTES = 1200
OFFERED_BPS = 25e6


def workload_plan(duration_s: float = 3600.0, seed: int = 1) -> NetworkPlan:
    """The benchmark workload: 25 Mbit/s of 1200-byte Poisson packets on one 50 Mbit/s link.

    Delay 10 ms, exponential jitter with mean 2 ms (FIFO order kept), 1 % i.i.d. loss,
    unlimited buffer; the default drain of 10 s.
    """
    link = LinkSpec(
        name="link",
        capacity_bps=50e6,
        delay_s=0.010,
        jitter=JitterModel(distribution="exponential", mean_s=0.002),
        loss=LossModel.iid(0.01),
    )
    stream = StreamSpec(
        name="flow",
        kind="poisson",
        rate_pps=OFFERED_BPS / (8 * PACKET_BYTES),
        size=SizeModel(distribution="constant", mean_bytes=PACKET_BYTES),
        path=("link",),
    )
    return NetworkPlan(
        name="bench-one-link",
        duration_s=duration_s,
        links={"link": link},
        streams=(stream,),
        seed=seed,
    )


@dataclass(frozen=True)
class BaselineRun:
    """What the baseline recorded: send time of every packet, and what became of it.

    ``t_recv_s[k]`` is packet k's receive time, NaN unless it was delivered by the end of the
    run; ``lost[k]`` is True if it was lost on the wire.
    """

    t_send_s: np.ndarray
    t_recv_s: np.ndarray
    lost: np.ndarray

    @property
    def packets(self) -> int:
        return int(self.t_send_s.size)


def _values(draw: Callable[[int], np.ndarray]) -> Iterator[float]:
    """Python floats, one at a time, from numpy draws of BLOCK values."""
    while True:
        yield from draw(BLOCK).tolist()


def _check_supported(plan: NetworkPlan) -> tuple[LinkSpec, StreamSpec]:
    if len(plan.links) != 1 or len(plan.streams) != 1:
        raise ValueError("the baseline simulates one link carrying one stream")
    (link,) = plan.links.values()
    (stream,) = plan.streams
    problems = []
    if stream.kind != "poisson" or stream.size.distribution != "constant":
        problems.append("a Poisson stream of constant-size packets")
    if stream.start_s != 0.0:
        problems.append("a stream starting at 0")
    if link.buffer_kind != "unlimited":
        problems.append("an unlimited buffer")
    if link.jitter.active and (link.jitter.distribution != "exponential" or link.jitter.reorder):
        problems.append("exponential jitter with FIFO order, or none")
    if link.loss.active and link.loss.kind != "iid":
        problems.append("i.i.d. loss, or none")
    if not math.isfinite(link.capacity_bps):
        problems.append("a finite capacity")
    if problems:
        raise ValueError("the baseline supports only " + "; ".join(problems))
    return link, stream


def simulate_baseline(
    plan: NetworkPlan, seed: int | None = None, same_streams: bool = False
) -> BaselineRun:
    """Simulate ``plan`` one packet at a time with SimPy; see the module docstring.

    ``same_streams`` draws from the engine's named generators instead of the baseline's own.
    """
    link, stream = _check_supported(plan)
    seed = plan.seed if seed is None else int(seed)
    mean_gap = 1.0 / stream.rate_pps
    jitter_mean = link.jitter.mean_s if link.jitter.active else 0.0
    loss_rate = link.loss.rate if link.loss.active else 0.0
    if same_streams:
        arrival_rng = component_rng(seed, "stream", stream.name, "arrivals")
        jitter_rng = component_rng(seed, "link", link.name, "stream", stream.name, "jitter")
        loss_rng = component_rng(seed, "link", link.name, "stream", stream.name, "loss")
    else:
        arrival_rng, jitter_rng, loss_rng = np.random.default_rng(
            np.random.SeedSequence([seed, 0x5151])  # not the engine's streams
        ).spawn(3)
    gaps = _values(lambda n: arrival_rng.exponential(mean_gap, n))
    jitters = _values(lambda n: jitter_rng.exponential(jitter_mean, n))
    uniforms = _values(loss_rng.random)

    stop_s = min(stream.stop_s, plan.duration_s)
    size = math.ceil(stream.size.mean_bytes)
    delay_s = link.delay_s

    env = simpy.Environment()
    queue = simpy.Store(env)  # the link's FIFO queue, unlimited
    t_send: list[float] = []
    rx_seq: list[int] = []
    rx_time: list[float] = []
    lost_seq: list[int] = []

    def source():
        seq = 0
        while True:
            gap = next(gaps)
            if env.now + gap >= stop_s:
                return
            yield env.timeout(gap)
            t_send.append(env.now)
            queue.put((seq, size))
            seq += 1

    def received(event):
        rx_seq.append(event.value)
        rx_time.append(env.now)

    def link_server():
        last_recv = -math.inf
        while True:
            seq, size_bytes = yield queue.get()
            yield env.timeout(8.0 * size_bytes / link.capacity_bps)
            jitter = next(jitters) if jitter_mean else 0.0  # drawn for lost packets too
            if loss_rate and next(uniforms) < loss_rate:
                lost_seq.append(seq)
                continue
            recv = env.now + delay_s + jitter
            if recv < last_recv:  # FIFO: never overtake the packet ahead
                recv = last_recv
            last_recv = recv
            env.timeout(recv - env.now, seq).callbacks.append(received)

    env.process(source())
    env.process(link_server())
    env.run(until=plan.duration_s + plan.drain_s)

    n = len(t_send)
    t_recv = np.full(n, np.nan)
    t_recv[np.asarray(rx_seq, dtype=np.int64)] = rx_time
    lost = np.zeros(n, dtype=bool)
    lost[np.asarray(lost_seq, dtype=np.int64)] = True
    return BaselineRun(t_send_s=np.asarray(t_send), t_recv_s=t_recv, lost=lost)


def summarise(t_send_s: np.ndarray, t_recv_s: np.ndarray) -> dict[str, float]:
    """Packets, loss rate and latency (ms: mean, p50, p99) the way netsim.stats defines them.

    ``t_recv_s`` is NaN for a packet not delivered; ``loss_rate`` is ``1 - delivered / sent``.
    """
    delivered = ~np.isnan(t_recv_s)
    latency = (t_recv_s[delivered] - t_send_s[delivered]) * 1e3
    p50, p99 = np.percentile(latency, [50.0, 99.0]) if latency.size else (math.nan, math.nan)
    return {
        "packets": int(t_send_s.size),
        "loss_rate": 1.0 - float(delivered.sum()) / t_send_s.size if t_send_s.size else math.nan,
        "mean_ms": float(latency.mean()) if latency.size else math.nan,
        "p50_ms": float(p50),
        "p99_ms": float(p99),
    }


if __name__ == "__main__":  # a quick look: python benchmarks/simpy_baseline.py [seconds]
    import sys
    import time

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    start = time.perf_counter()
    result = simulate_baseline(workload_plan(seconds))
    wall = time.perf_counter() - start
    print(summarise(result.t_send_s, result.t_recv_s))
    print(f"{result.packets} packets in {wall:.2f} s: {result.packets / wall:,.0f} packets/s")
