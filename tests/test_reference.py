"""The fast engine equals the per-packet reference (tests/reference.py), packet for packet.

The reference is an independent, one-packet-at-a-time reading of docs/model.md. It takes the
send columns the engine's sources produced and recomputes every packet's fate, the link that
lost or dropped it, and its receive time. Random scenarios cover 1-4 links, 1-4 streams
(poisson and cbr; constant, exponential and uniform sizes), multi-hop acyclic paths, every
jitter distribution in both reorder modes, iid and Gilbert-Elliott loss, unlimited, byte and
packet buffers, offered loads 0.3-1.5 of capacity and a small drain.

The same scenarios are run with several window lengths: the window must not change results.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from netsim.engine import simulate
from netsim.plan import JitterModel, LinkSpec, LossModel, NetworkPlan, SizeModel, StreamSpec

from .plans import one_link_plan, random_plan
from .reference import DELIVERED, DROPPED, IN_FLIGHT, LOST, reference_run

TOLERANCE_S = 1e-9
COLUMNS = ("stream", "seq", "size_bytes", "t_send_s", "t_recv_s", "fate", "link")


def _describe(plan: NetworkPlan, packets, ref, rows: np.ndarray) -> str:
    lines = [f"{rows.size} packets differ; first ones:"]
    for i in rows[:8]:
        lines.append(
            f"  stream {packets.stream_names[packets.stream[i]]} seq {packets.seq[i]} "
            f"size {packets.size_bytes[i]} sent {packets.t_send_s[i]!r}: engine fate "
            f"{packets.fate[i]} link {packets.link[i]} recv {packets.t_recv_s[i]!r}; reference "
            f"fate {ref.fate[i]} link {ref.link[i]} recv {ref.t_recv_s[i]!r}"
        )
    lines.append(f"plan: {plan!r}")
    return "\n".join(lines)


def assert_matches_reference(plan: NetworkPlan, seed: int, window_s: float | None = None):
    """Run the engine, recompute with the reference, and compare every packet."""
    packets = simulate(plan, seed=seed, window_s=window_s).packets
    ref = reference_run(
        plan, seed, packets.stream, packets.seq, packets.size_bytes, packets.t_send_s
    )
    fate = packets.fate.astype(np.int64)
    link = packets.link.astype(np.int64)
    bad_fate = np.flatnonzero((fate != ref.fate) | (link != ref.link))
    assert bad_fate.size == 0, _describe(plan, packets, ref, bad_fate)
    nan_engine, nan_ref = np.isnan(packets.t_recv_s), np.isnan(ref.t_recv_s)
    assert np.array_equal(nan_engine, nan_ref)
    assert np.array_equal(nan_engine, fate != DELIVERED)
    delta = np.abs(packets.t_recv_s - ref.t_recv_s)
    bad_time = np.flatnonzero(~nan_engine & (delta > TOLERANCE_S))
    assert bad_time.size == 0, _describe(plan, packets, ref, bad_time)
    return packets, ref


# test_random_scenarios_cover_every_fate_and_feature checks that the sample is not vacuous.
REFERENCE_SEEDS = range(100)


@pytest.mark.parametrize("seed", REFERENCE_SEEDS)
def test_engine_matches_reference(seed):
    assert_matches_reference(random_plan(seed), seed)


def test_random_scenarios_cover_every_fate_and_feature():
    """The random plans are not vacuous: every fate, jitter, loss and buffer kind occurs."""
    fates = np.zeros(4, dtype=np.int64)
    features = set()
    for seed in range(30):
        plan = random_plan(seed)
        for link in plan.links.values():
            features.add(("jitter", link.jitter.distribution, link.jitter.reorder))
            features.add(("loss", link.loss.kind))
            features.add(("buffer", link.buffer_kind))
        features.update(("multi-hop", len(s.path) > 1) for s in plan.streams)
        packets = simulate(plan, seed=seed).packets
        ref = reference_run(
            plan, seed, packets.stream, packets.seq, packets.size_bytes, packets.t_send_s
        )
        fates += np.bincount(ref.fate, minlength=4)
    assert all(fates[[DELIVERED, LOST, DROPPED, IN_FLIGHT]] > 0), fates
    for dist in ("none", "exponential", "uniform", "lognormal", "pareto"):
        assert ("jitter", dist, True) in features or ("jitter", dist, False) in features
    assert {("loss", k) for k in ("none", "iid", "gilbert-elliott")} <= features
    assert {("buffer", k) for k in ("unlimited", "bytes", "packets")} <= features
    assert ("multi-hop", True) in features


def _failures(check, seeds) -> list[str]:
    """Run ``check(seed)`` for every seed; the first line of each failure, by seed."""
    failures = []
    for seed in seeds:
        try:
            check(seed)
        except Exception as error:  # collected, reported together below
            first = (str(error).splitlines() or [""])[0]
            failures.append(f"seed {seed}: {type(error).__name__}: {first}")
    return failures


@pytest.mark.slow
@pytest.mark.parametrize("block", range(10))
def test_engine_matches_reference_many(block):
    """1000 more random scenarios; every failing seed is listed."""
    seeds = range(1000 + 100 * block, 1100 + 100 * block)
    failures = _failures(lambda seed: assert_matches_reference(random_plan(seed), seed), seeds)
    assert not failures, "\n".join(failures)


def test_engine_matches_reference_with_many_packets_per_window():
    """More than 16384 arrivals in one window, overflowing a byte buffer now and then.

    Exercises the engine's chunked finite-buffer path and its per-packet overflow loop over a
    long stretch, with Gilbert-Elliott loss and FIFO jitter.
    """
    plan = one_link_plan(
        capacity_bps=8 * 400.0 * 20000 / 1.05,
        rate_pps=20000.0,
        size=SizeModel("exponential", mean_bytes=400.0),
        duration_s=2.0,
        delay_s=0.001,
        jitter=JitterModel("exponential", mean_s=2e-4),
        loss=LossModel(kind="gilbert-elliott", p=0.02, r=0.3, loss_good=0.01, loss_bad=0.7),
        buffer_limit=12000.0,
        buffer_kind="bytes",
        drain_s=1.0,
    )
    packets, ref = assert_matches_reference(plan, seed=5, window_s=2.0)
    counts = np.bincount(ref.fate, minlength=4)
    assert counts[DROPPED] > 100 and counts[LOST] > 100, counts


def test_tie_break_by_stream_index_then_seq():
    """Simultaneous arrivals are served in stream-index order (two CBR streams in lock step).

    The plan lists stream ``b`` first, so its packets go first on every tie.
    """
    link = LinkSpec(name="x", capacity_bps=1e6, buffer_limit=3, buffer_kind="packets")
    size = SizeModel("constant", mean_bytes=500.0)
    streams = (
        StreamSpec(name="b", kind="cbr", rate_pps=200.0, size=size, path=("x",)),
        StreamSpec(name="a", kind="cbr", rate_pps=200.0, size=size, path=("x",)),
    )
    plan = NetworkPlan("ties", duration_s=1.0, links={"x": link}, streams=streams, drain_s=1.0)
    packets, _ = assert_matches_reference(plan, seed=3)
    # 4 ms of service per packet, 8 ms per pair every 5 ms: the queue overflows.
    assert (packets.fate == DROPPED).any()
    first = packets.t_recv_s[(packets.seq == 0)]
    order = packets.stream[(packets.seq == 0)]
    assert first[order == 0][0] < first[order == 1][0]


def test_reference_order_independent_of_link_listing():
    """The same network with its links listed in another order gives the same packets."""
    plan = random_plan(7)
    reversed_links = dict(reversed(list(plan.links.items())))
    other = NetworkPlan(
        plan.name,
        plan.duration_s,
        reversed_links,
        plan.streams,
        seed=plan.seed,
        drain_s=plan.drain_s,
    )
    a = simulate(plan, seed=7).packets
    b = simulate(other, seed=7).packets
    assert np.array_equal(a.fate, b.fate)
    assert np.allclose(a.t_recv_s, b.t_recv_s, equal_nan=True, atol=1e-12, rtol=0)


# -- windows ---------------------------------------------------------------------------------


def _sorted_columns(packets) -> dict[str, np.ndarray]:
    """The packet columns in (stream, seq) order: the log's row order depends on the window."""
    order = np.lexsort((packets.seq, packets.stream))
    return {name: getattr(packets, name)[order] for name in COLUMNS}


def assert_same_packets(a: dict[str, np.ndarray], b: dict[str, np.ndarray], what: str):
    for name in COLUMNS:
        assert a[name].shape == b[name].shape, f"{what}: {name} has another length"
        if name in ("t_send_s", "t_recv_s"):
            assert np.array_equal(np.isnan(a[name]), np.isnan(b[name])), f"{what}: {name} NaN"
            both = ~np.isnan(a[name])
            delta = np.abs(a[name][both] - b[name][both])
            assert delta.size == 0 or delta.max() <= TOLERANCE_S, f"{what}: {name} {delta.max()}"
        else:
            assert np.array_equal(a[name], b[name]), f"{what}: {name} differs"


WINDOW_SEEDS = range(60)


@pytest.mark.parametrize("seed", WINDOW_SEEDS)
def test_window_length_does_not_change_results(seed):
    plan = random_plan(seed)
    base = _sorted_columns(simulate(plan, seed=seed).packets)
    for window in (0.01, 0.37, 5.0):
        other = _sorted_columns(simulate(plan, seed=seed, window_s=window).packets)
        assert_same_packets(base, other, f"window {window} s vs {plan.window_s} s")


def _check_windows(seed: int, windows=(0.003, 0.37, 5.0)) -> None:
    plan = random_plan(seed)
    base = _sorted_columns(simulate(plan, seed=seed).packets)
    for window in windows:
        other = _sorted_columns(simulate(plan, seed=seed, window_s=window).packets)
        assert_same_packets(base, other, f"window {window} s")


@pytest.mark.slow
@pytest.mark.parametrize("block", range(4))
def test_window_length_does_not_change_results_many(block):
    """400 more random scenarios, including 3 ms windows; every failing seed is listed."""
    failures = _failures(_check_windows, range(2000 + 100 * block, 2100 + 100 * block))
    assert not failures, "\n".join(failures)


# -- engine bugs found by the reference, reduced to minimal cases -----------------------------


def test_unlimited_capacity_byte_buffer_drops_a_packet_larger_than_the_buffer():
    """docs/model.md, admission: dropped if ``B + size_n > limit``; here B = 0, size > limit.

    An unlimited capacity serialises in zero time, so no packet is ever still in the link when
    the next arrives (B = 0), but a 1500-byte packet cannot enter a 1000-byte buffer. A
    regression test: the engine once admitted them all (with zero service time a packet's own
    departure equals its arrival, so ``searchsorted(..., side="right")`` placed
    ``first_in_system`` after the packet itself and the byte occupancy came out as 0).
    """
    plan = one_link_plan(
        capacity_bps=math.inf,
        rate_pps=100.0,
        kind="cbr",
        duration_s=1.0,
        size=SizeModel("constant", mean_bytes=1500.0),
        buffer_limit=1000.0,
        buffer_kind="bytes",
    )
    packets = simulate(plan, seed=1).packets
    assert len(packets) == 100
    assert (packets.fate == DROPPED).all(), np.bincount(packets.fate, minlength=4)
    assert_matches_reference(plan, seed=1)


def test_gilbert_elliott_window_where_every_arrival_is_dropped():
    """A window in which a single stream's arrivals at a GE-loss link are all dropped.

    1250-byte packets take 10 ms at 1 Mbit/s, arrive every 1 ms, into a 1-packet buffer; with
    2 ms windows some windows admit nothing. A regression test: the engine once raised
    IndexError here (the loss chain's last state taken from an empty window).
    """
    plan = one_link_plan(
        capacity_bps=1e6,
        rate_pps=1000.0,
        kind="cbr",
        duration_s=0.1,
        loss=LossModel(kind="gilbert-elliott", p=0.1, r=0.5, loss_good=0.0, loss_bad=1.0),
        buffer_limit=1,
        buffer_kind="packets",
    )
    base = _sorted_columns(simulate(plan, seed=1).packets)
    other = _sorted_columns(simulate(plan, seed=1, window_s=0.002).packets)
    assert_same_packets(base, other, "2 ms windows")
    assert_matches_reference(plan, seed=1, window_s=0.002)
