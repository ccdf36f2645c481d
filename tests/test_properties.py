"""Properties every run must have, over hypothesis-generated networks.

Conservation of packets (and results.json agreeing with the packet log), latency bounded below
by the path's fixed delays, FIFO order, reproducibility from the seed, and common random
numbers: adding a stream changes nothing another stream does not share.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netsim.engine import run, simulate
from netsim.plan import JitterModel, LinkSpec, LossModel, NetworkPlan, SizeModel, StreamSpec

from .reference import (
    DELIVERED,
    DROPPED,
    IN_FLIGHT,
    LOST,
    loss_bursts_by_hand,
    rfc3550_jitter_by_hand,
)

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- strategies ------------------------------------------------------------------------------


@st.composite
def jitters(draw, reorder: bool | None = None) -> JitterModel:
    reorder = draw(st.booleans()) if reorder is None else reorder
    kind = draw(st.sampled_from(["none", "exponential", "uniform", "lognormal", "pareto"]))
    ms = st.floats(1e-4, 8e-3)
    if kind == "exponential":
        return JitterModel(kind, mean_s=draw(ms), reorder=reorder)
    if kind == "uniform":
        return JitterModel(kind, max_s=draw(ms), reorder=reorder)
    if kind == "lognormal":
        return JitterModel(
            kind, median_s=draw(ms), sigma=draw(st.floats(0.1, 1.5)), reorder=reorder
        )
    if kind == "pareto":
        return JitterModel(kind, scale_s=draw(ms), alpha=draw(st.floats(1.1, 4.0)), reorder=reorder)
    return JitterModel(reorder=reorder)


@st.composite
def losses(draw, kinds=("none", "iid", "gilbert-elliott")) -> LossModel:
    kind = draw(st.sampled_from(kinds))
    if kind == "iid":
        return LossModel.iid(draw(st.floats(0.001, 0.5)))
    if kind == "gilbert-elliott":
        return LossModel(
            kind,
            p=draw(st.floats(0.001, 0.5)),
            r=draw(st.floats(0.01, 1.0)),
            loss_good=draw(st.sampled_from([0.0, 0.02, 0.1])),
            loss_bad=draw(st.sampled_from([1.0, 0.5, 0.9])),
        )
    return LossModel()


sizes = st.one_of(
    st.builds(lambda m: SizeModel("constant", mean_bytes=float(m)), st.integers(40, 1500)),
    st.builds(lambda m: SizeModel("exponential", mean_bytes=m), st.floats(50.0, 1200.0)),
    st.builds(
        lambda lo, extra: SizeModel("uniform", min_bytes=lo, max_bytes=lo + extra),
        st.integers(40, 800),
        st.integers(0, 700),
    ),
)


@st.composite
def links(draw, name: str, reorder: bool | None = None, loss_kinds=None) -> LinkSpec:
    capacity = draw(st.one_of(st.just(math.inf), st.floats(0.3e6, 6e6)))
    buffer = draw(st.sampled_from(["unlimited", "bytes", "packets"]))
    limit = {
        "unlimited": math.inf,
        "bytes": draw(st.floats(1500.0, 30000.0)),
        "packets": float(draw(st.integers(1, 30))),
    }[buffer]
    return LinkSpec(
        name=name,
        capacity_bps=capacity,
        delay_s=draw(st.sampled_from([0.0, 1e-3, 0.0123, 0.05])),
        jitter=draw(jitters(reorder)),
        loss=draw(losses(**({} if loss_kinds is None else {"kinds": loss_kinds}))),
        buffer_limit=limit,
        buffer_kind=buffer,
    )


@st.composite
def streams(draw, name: str, path: tuple[str, ...], duration: float) -> StreamSpec:
    start = draw(st.sampled_from([0.0, 0.1 * duration]))
    return StreamSpec(
        name=name,
        kind=draw(st.sampled_from(["poisson", "cbr"])),
        rate_pps=draw(st.floats(20.0, 600.0)),
        size=draw(sizes),
        path=path,
        start_s=start,
        stop_s=draw(st.sampled_from([math.inf, 0.8 * duration])),
    )


@st.composite
def plans(draw, reorder: bool | None = None, poisson: bool = False) -> NetworkPlan:
    """1-3 links listed in a random order, 1-3 streams on increasing subsequences of a hidden
    link order (acyclic), durations 0.3-1.5 s, drain 0-1 s."""
    n_links = draw(st.integers(1, 3))
    hidden = draw(st.permutations([f"l{i}" for i in range(n_links)]))
    listed = draw(st.permutations(hidden))
    duration = draw(st.floats(0.3, 1.5))
    all_links = {name: draw(links(name, reorder)) for name in listed}
    n_streams = draw(st.integers(1, 3))
    chosen = []
    for i in range(n_streams):
        subset = draw(st.sets(st.integers(0, n_links - 1), min_size=1))
        path = tuple(hidden[j] for j in sorted(subset))
        stream = draw(streams(f"s{i}", path, duration))
        if poisson and i == 0:
            stream = dataclasses.replace(stream, kind="poisson", start_s=0.0, stop_s=math.inf)
        chosen.append(stream)
    return NetworkPlan(
        name="hypothesis",
        duration_s=duration,
        links=all_links,
        streams=tuple(chosen),
        drain_s=draw(st.sampled_from([0.0, 0.05, 1.0])),
    )


def rows_of(packets, index: int) -> np.ndarray:
    """Row indices of one stream, in sequence order."""
    rows = np.flatnonzero(packets.stream == index)
    return rows[np.argsort(packets.seq[rows], kind="stable")]


# -- conservation and results ----------------------------------------------------------------


@SETTINGS
@given(plan=plans(), seed=st.integers(0, 2**32 - 1))
def test_conservation_and_results_agree_with_packet_log(plan, seed):
    """sent = delivered + lost + dropped + in flight per stream; results.json says the same."""
    results = run(plan, seed=seed)
    packets = results.packets
    document = results.to_dict()
    assert set(np.unique(packets.fate)) <= {DELIVERED, LOST, DROPPED, IN_FLIGHT}
    for index, stream in enumerate(plan.streams):
        rows = rows_of(packets, index)
        np.testing.assert_array_equal(packets.seq[rows], np.arange(rows.size))
        fate = packets.fate[rows]
        counts = {f: int((fate == f).sum()) for f in (DELIVERED, LOST, DROPPED, IN_FLIGHT)}
        assert sum(counts.values()) == rows.size
        stats = results.streams[stream.name]
        out = document["streams"][stream.name]
        for key, value in (
            ("packets_sent", rows.size),
            ("packets_delivered", counts[DELIVERED]),
            ("packets_lost", counts[LOST]),
            ("packets_dropped", counts[DROPPED]),
            ("packets_in_flight", counts[IN_FLIGHT]),
        ):
            assert getattr(stats, key) == value, key
            assert out[key] == value, key
        assert (
            stats.packets_delivered
            + stats.packets_lost
            + stats.packets_dropped
            + stats.packets_in_flight
            == stats.packets_sent
        )
        # Every packet's bookkeeping is consistent: receive time iff delivered, link iff failed.
        delivered = fate == DELIVERED
        assert np.isnan(packets.t_recv_s[rows][~delivered]).all()
        assert not np.isnan(packets.t_recv_s[rows][delivered]).any()
        failed = (fate == LOST) | (fate == DROPPED)
        link = packets.link[rows]
        assert (link[~failed] == -1).all()
        path_indices = [list(plan.links).index(n) for n in stream.path]
        assert np.isin(link[failed], path_indices).all()
        # Sending and receiving happen within the run.
        t_send = packets.t_send_s[rows]
        assert (t_send >= stream.start_s).all() and (t_send < plan.duration_s).all()
        assert (t_send < stream.stop_s).all()
        assert (packets.t_recv_s[rows][delivered] <= plan.duration_s + plan.drain_s).all()
        # Figures recomputed from the log.
        if rows.size:
            assert stats.loss_rate == 1.0 - counts[DELIVERED] / rows.size
        bits = 8.0 * packets.size_bytes[rows][delivered].sum()
        assert math.isclose(stats.throughput_mbps, bits / plan.duration_s / 1e6, rel_tol=1e-12)
        latency = (packets.t_recv_s - packets.t_send_s)[rows][delivered]
        if latency.size:
            ms = stats.latency_ms
            assert math.isclose(ms["mean"], 1e3 * latency.mean(), rel_tol=1e-9)
            assert ms["min"] == 1e3 * latency.min() and ms["max"] == 1e3 * latency.max()
            for key, q in (("p50", 50), ("p95", 95), ("p99", 99), ("p999", 99.9)):
                assert math.isclose(ms[key], 1e3 * np.percentile(latency, q), rel_tol=1e-9)
        # RFC 3550 jitter over delivered packets in order of arrival.
        jitter, final = rfc3550_jitter_by_hand(
            packets.t_send_s[rows][delivered], packets.t_recv_s[rows][delivered]
        )
        if math.isnan(jitter):
            assert math.isnan(stats.jitter_ms) and out["jitter_ms"] is None
        else:
            assert math.isclose(stats.jitter_ms, 1e3 * jitter, rel_tol=1e-9, abs_tol=1e-12)
            assert math.isclose(stats.jitter_final_ms, 1e3 * final, rel_tol=1e-9, abs_tol=1e-12)
        # Loss bursts: runs of lost or dropped packets by seq (in flight is not lost).
        bursts = loss_bursts_by_hand(failed)
        assert stats.loss_bursts["count"] == len(bursts)
        assert stats.loss_bursts["max_length"] == max(bursts, default=0)
        assert math.isclose(
            stats.loss_bursts["mean_length"], float(np.mean(bursts)) if bursts else 0.0
        )


@SETTINGS
@given(plan=plans(), seed=st.integers(0, 2**32 - 1))
def test_latency_at_least_path_delays_plus_serialisation(plan, seed):
    """Every delivered packet took at least sum(delay) + sum(8 size / capacity) on its path."""
    packets = simulate(plan, seed=seed).packets
    for index, stream in enumerate(plan.streams):
        rows = rows_of(packets, index)
        rows = rows[packets.fate[rows] == DELIVERED]
        size = packets.size_bytes[rows].astype(float)
        floor = sum(
            plan.links[n].delay_s + 8 * size / plan.links[n].capacity_bps for n in stream.path
        )
        latency = packets.t_recv_s[rows] - packets.t_send_s[rows]
        assert (latency >= floor - 1e-12).all()


@SETTINGS
@given(plan=plans(reorder=False), seed=st.integers(0, 2**32 - 1))
def test_fifo_links_keep_each_stream_in_order(plan, seed):
    """With reorder off everywhere, each stream's delivered packets arrive in seq order.

    FIFO per link keeps a stream's packets in order on every hop (its arrivals at the next
    link are then ordered by time, ties by seq), so end to end as well.
    """
    packets = simulate(plan, seed=seed).packets
    for index in range(len(plan.streams)):
        rows = rows_of(packets, index)
        recv = packets.t_recv_s[rows][packets.fate[rows] == DELIVERED]
        assert (np.diff(recv) >= 0).all()


@SETTINGS
@given(
    link=links("x", reorder=False),
    n=st.integers(1, 4),
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
)
def test_fifo_single_link_keeps_arrival_order_across_streams(link, n, data, seed):
    """One FIFO link shared by several streams: receive times follow (send time, stream, seq)."""
    chosen = tuple(data.draw(streams(f"s{i}", ("x",), 1.0)) for i in range(n))
    plan = NetworkPlan("fifo", duration_s=1.0, links={"x": link}, streams=chosen, drain_s=1.0)
    packets = simulate(plan, seed=seed).packets
    order = np.lexsort((packets.seq, packets.stream, packets.t_send_s))
    ok = packets.fate[order] == DELIVERED
    assert (np.diff(packets.t_recv_s[order][ok]) >= 0).all()


# -- reproducibility and common random numbers -----------------------------------------------


COLUMNS = ("stream", "seq", "size_bytes", "t_send_s", "t_recv_s", "fate", "link")


def same_columns(a, b, rows_a=None, rows_b=None, columns=COLUMNS) -> bool:
    """Bit-identical columns (NaN equal to NaN)."""
    for name in columns:
        x, y = getattr(a, name), getattr(b, name)
        if rows_a is not None:
            x, y = x[rows_a], y[rows_b]
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            return False
    return True


@SETTINGS
@given(plan=plans(), seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_everything(plan, seed):
    a, b = run(plan, seed=seed), run(plan, seed=seed)
    assert same_columns(a.packets, b.packets)
    assert a.to_dict() == b.to_dict()


@SETTINGS
@given(plan=plans(poisson=True), seed=st.integers(0, 2**31))
def test_different_seeds_differ(plan, seed):
    """A poisson stream's send times depend on the seed (continuous gaps never coincide)."""
    a, b = simulate(plan, seed=seed).packets, simulate(plan, seed=seed + 1).packets
    rows_a, rows_b = rows_of(a, 0), rows_of(b, 0)
    n = min(rows_a.size, rows_b.size)
    assert rows_a.size != rows_b.size or not np.array_equal(
        a.t_send_s[rows_a[:n]], b.t_send_s[rows_b[:n]]
    )


@SETTINGS
@given(plan=plans(), extra_link=links("extra"), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_stream_on_a_separate_link_changes_nothing(plan, extra_link, data, seed):
    """Adding a stream (on a new link of its own) leaves every existing packet bit-identical."""
    extra = data.draw(streams("extra", ("extra",), plan.duration_s))
    bigger = dataclasses.replace(
        plan, links={**plan.links, "extra": extra_link}, streams=(*plan.streams, extra)
    )
    a, b = simulate(plan, seed=seed).packets, simulate(bigger, seed=seed).packets
    for index in range(len(plan.streams)):
        assert same_columns(a, b, rows_of(a, index), rows_of(b, index))


@SETTINGS
@given(
    capacity=st.floats(1e6, 20e6),
    q=st.floats(0.01, 0.3),
    first=streams("first", ("x",), 2.0),
    second=streams("second", ("x",), 2.0),
    jitter=jitters(),
    seed=st.integers(0, 2**32 - 1),
)
def test_stream_on_the_same_link_keeps_sends_and_iid_losses(
    capacity, q, first, second, jitter, seed
):
    """A second stream sharing the link changes queueing, not the first stream's samples.

    Unlimited buffer and iid loss: the first stream's send times, sizes and the set of its
    packets lost on the wire (the k-th admitted packet uses the k-th loss uniform of its own
    generator) are identical with and without the second stream.
    """
    link = LinkSpec("x", capacity_bps=capacity, jitter=jitter, loss=LossModel.iid(q))
    alone = NetworkPlan("alone", 2.0, {"x": link}, (first,))
    shared = dataclasses.replace(alone, streams=(first, second))
    a, b = simulate(alone, seed=seed).packets, simulate(shared, seed=seed).packets
    rows_a, rows_b = rows_of(a, 0), rows_of(b, 0)
    assert same_columns(a, b, rows_a, rows_b, ("seq", "size_bytes", "t_send_s"))
    np.testing.assert_array_equal(a.fate[rows_a] == LOST, b.fate[rows_b] == LOST)
    assert not (b.fate == DROPPED).any()
