"""The compiled passes over a link's output and the engine's hand-over between links
(netsim.compiled.wire, in_order, order_ties, split_fates, schedule_time with NaN kept) give
the numpy versions' results to the bit.

Each test runs the same inputs through the numpy code (kernels off) and the kernels, and
compares every arrival time, fate and carried state byte for byte: several streams
interleaved, drops by a full buffer and outages before the wire, independent loss and the
Gilbert-Elliott chain (its sparse shortcut and its dense form, carried across windows, and
the link-wide chain in time), each jitter distribution, timed and reordering jitter, and
whole random runs.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from netsim import compiled, engine
from netsim.capacity import RateSchedule
from netsim.engine import _arrival_order
from netsim.link import LinkRuntime
from netsim.plan import JitterModel, LinkSpec, LossModel, NetworkPlan, SizeModel, StreamSpec

from .plans import random_plan

if os.environ.get("MEDLINK_REQUIRE_NUMBA") != "1":
    pytest.importorskip("numba")

LOSSES = {
    "none": LossModel(),
    "iid": LossModel.iid(0.03),
    # p < r with rare swaps: _lose's sparse shortcut; p > r: the dense chain
    "ge-sparse": LossModel(kind="gilbert-elliott", p=0.002, r=0.3, loss_good=0.01, loss_bad=0.7),
    "ge-dense": LossModel(kind="gilbert-elliott", p=0.4, r=0.2, loss_good=0.05, loss_bad=0.9),
    # the link-wide chain in time (a radio link's fades): Bad stretches read per departure
    "ge-timed": LossModel(
        kind="gilbert-elliott", p=0.05, r=0.3, loss_good=0.02, loss_bad=0.8, per_s=0.01
    ),
}
JITTERS = {
    "none": JitterModel(),
    "exponential": JitterModel("exponential", mean_s=0.002),
    "uniform": JitterModel("uniform", max_s=0.004),
    "lognormal": JitterModel("lognormal", median_s=0.001, sigma=0.8),
    "pareto": JitterModel("pareto", scale_s=0.0005, alpha=1.7),
    # link-wide, one extra delay per 5 ms slot (a radio link's scheduling delay)
    "timed": JitterModel("lognormal", median_s=0.002, sigma=0.5, hold_s=0.005),
    # reordering (no delay line): per packet, and timed as the radio links have it
    "exponential-reorder": JitterModel("exponential", mean_s=0.002, reorder=True),
    "timed-reorder": JitterModel(
        "lognormal", median_s=0.002, sigma=0.5, hold_s=0.005, reorder=True
    ),
}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _windows(seed: int, streams: int):
    """Arrivals in (time, stream) order over 12 windows of uneven length, with ties."""
    rng = np.random.default_rng([seed, 9])
    t0 = 0.0
    for w in range(12):
        n = int(rng.choice([1, 3, 200, 3000])) if w else 3000  # the engine serves none empty
        t = t0 + np.cumsum(rng.exponential(1e-4, n))
        if n > 2:
            ties = rng.integers(1, n, n // 10)
            t[ties] = t[ties - 1]
        stream = rng.integers(0, streams, n).astype(np.int16)
        order = np.lexsort((stream, t))
        t, stream = t[order], stream[order]
        size = rng.integers(100, 1400, n)
        yield t, stream, size
        t0 = float(t[-1])


def _state(link: LinkRuntime):
    q = link.queue
    return (
        link.last_recv_s,
        sorted(link._ge_state.items()),
        q.free_s,
        q._sys_depart.tobytes(),
        q._sys_size.tobytes(),
    )


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("jitter", sorted(JITTERS))
@pytest.mark.parametrize("streams", [1, 3])
def test_compiled_wire_matches_numpy(loss, jitter, streams):
    """A drop-tail link with an outage, window by window: the same arrivals, fates and
    carried state (the chain's state per stream, the last arrival, the queue) each window."""
    seed = sorted(LOSSES).index(loss) * 10 + sorted(JITTERS).index(jitter) + 100 * streams
    spec = LinkSpec(
        name="wire",
        capacity_bps=20e6,
        delay_s=0.004,
        jitter=JITTERS[jitter],
        loss=LOSSES[loss],
        buffer_limit=30_000.0,
        buffer_kind="bytes",
        outages=((0.05, 0.07),),
    )
    names = [f"s{i}" for i in range(streams)]
    horizon = 1.0  # past the last window: a timed jitter is 0 there, the chain's stretches end
    fast = LinkRuntime(spec, seed, names, horizon_s=horizon)
    ref = LinkRuntime(spec, seed, names, horizon_s=horizon)
    ref.use_compiled = False
    assert fast._wires_compiled()
    fates = []
    for t, stream, size in _windows(seed, streams):
        with compiled.enabled() as on:
            assert on
            a = fast.serve(t, stream, size)
        b = ref.serve(t, stream, size)
        assert _same(a.fate, b.fate), np.flatnonzero(a.fate != b.fate)[:5]
        assert _same(a.recv_s, b.recv_s), np.flatnonzero(a.recv_s != b.recv_s)[:5]
        assert _state(fast) == _state(ref)
        fates.append(b.fate)
    fates = np.concatenate(fates)
    assert (fates == 2).any()  # a full buffer dropped some
    assert (fates == 1).any()  # the outage (and the wire, with loss) lost some
    if loss in ("ge-sparse", "ge-dense"):  # the per-packet chains carry a state per stream
        assert set(fast._ge_state) == set(range(streams))


@pytest.mark.parametrize("seed", range(40))
def test_in_order_is_arrival_orders_nothing_to_sort(seed):
    """compiled.in_order is true exactly when engine._arrival_order finds nothing to sort:
    strictly rising times, ties ordered by stream then sequence number, or not."""
    rng = np.random.default_rng([seed, 5])
    n = int(rng.choice([0, 1, 2, 5, 50, 2000]))
    t = (
        np.sort(rng.choice(rng.uniform(0, 1, max(n // 3, 1)), n))
        if seed % 2
        else np.sort(rng.uniform(0, 1, n))
    )
    stream = rng.integers(0, 3, n).astype(np.int16)
    seq_col = rng.permutation(10 * n + 1).astype(np.int64)
    ids = rng.choice(seq_col.size, n, replace=False).astype(np.int64)
    case, swapped = seed % 5, False
    if case == 1:  # put each tie in order, so that nothing needs sorting
        order = np.lexsort((seq_col[ids], stream, t))
        ids, stream = ids[order], stream[order]
    elif case == 2 and n > 3:  # one step back in time
        i = int(rng.integers(1, n))
        t[i - 1], t[i] = t[i], t[i - 1] - 1e-9
    elif case == 3 and n > 3:
        t[int(rng.integers(0, n))] = math.nan
    elif case == 4:  # in order but for one tie of a stream with itself, its packets swapped
        stream[:] = 1
        order = np.lexsort((seq_col[ids], stream, t))
        ids = ids[order]
        tie = np.flatnonzero(t[1:] == t[:-1])
        if tie.size:
            i = int(rng.choice(tie))
            ids[i], ids[i + 1] = ids[i + 1], ids[i]
            swapped = True
    expected = _arrival_order(t, stream, lambda: seq_col[ids]) is None
    with compiled.enabled():
        assert compiled.in_order(t, stream, ids, seq_col) == expected
    if case == 1:
        assert expected
    if swapped:
        assert not expected


@pytest.mark.parametrize("seed", range(30))
def test_order_ties_is_lexsort(seed):
    """A stable argsort by time, then each tie put in (stream, seq) order, is numpy's
    lexsort: ties of 2 to thousands of packets (insertion sort and merge sorts), some
    already in order, several streams or one, NaN times."""
    rng = np.random.default_rng([seed, 4])
    n = int(rng.choice([2, 40, 3000]))
    distinct = int(rng.choice([1, 3, max(n // 4, 1), n]))
    t = rng.choice(rng.uniform(0, 1, distinct), n)
    if seed % 3 == 0:
        t[rng.integers(0, n, max(n // 10, 1))] = math.nan
    stream = rng.integers(0, int(rng.choice([1, 4])), n).astype(np.int16)
    seq_col = rng.permutation(3 * n).astype(np.int64)
    ids = rng.choice(seq_col.size, n, replace=False).astype(np.int64)
    if seed % 4 == 1:  # stream-major sequence numbers, so many ties are already in order
        ids = ids[np.lexsort((seq_col[ids], stream))]
    expected = np.lexsort((seq_col[ids], stream, t))
    order = np.argsort(t, kind="stable")
    with compiled.enabled():
        got = compiled.order_ties(order, t, stream, ids, seq_col)
    assert _same(got, expected)


@pytest.mark.parametrize("seed", range(6))
def test_split_fates_is_the_masks(seed):
    rng = np.random.default_rng([seed, 6])
    n = int(rng.choice([0, 1, 700]))
    ids = rng.choice(5 * n + 1, n, replace=False).astype(np.int64)
    fate = rng.choice(np.array([0, 0, 0, 1, 2], dtype=np.int8), n)
    recv = np.where(fate == 0, rng.uniform(0, 1, n), np.nan)
    stream = rng.integers(0, 4, n).astype(np.int16)
    col_fate = np.full(5 * n + 1, -1, dtype=np.int8)
    col_link = np.full(5 * n + 1, -1, dtype=np.int16)
    with compiled.enabled():
        got = compiled.split_fates(ids, fate, recv, stream, col_fate, col_link, 3)
    failed = fate != 0
    ref_fate = np.full(5 * n + 1, -1, dtype=np.int8)
    ref_link = np.full(5 * n + 1, -1, dtype=np.int16)
    ref_fate[ids[failed]] = fate[failed]
    ref_link[ids[failed]] = 3
    expected = (ids[~failed], recv[~failed], stream[~failed], ids[failed], stream[failed])
    for g, e in zip(got, expected, strict=True):
        assert _same(g, e)
    assert _same(col_fate, ref_fate) and _same(col_link, ref_link)


@pytest.mark.parametrize("last_rate", [0.0, 3e6])
def test_times_of_served_work_keep_nan(last_rate):
    """A queue's departures through a rate schedule: the served ones' times, the dropped ones'
    NaN, with and without the kernel (numpy's time_of would give a NaN work inf when the
    last rate is 0)."""
    rng = np.random.default_rng(8)
    t = np.arange(50) * 0.1
    rate = rng.uniform(1e6, 5e6, 50)
    rate[[7, 8, 30]] = 0.0
    rate[-1] = last_rate
    sched = RateSchedule(t, rate)
    work = np.sort(rng.uniform(0, float(sched.work_at(np.array([4.9]))[0]), 5000))
    work[rng.integers(0, work.size, 400)] = np.nan
    ref = sched.time_of_served(work.copy())
    with compiled.enabled():
        fast = sched.time_of_served(work.copy())
    assert _same(fast, ref)
    assert _same(np.isnan(ref), np.isnan(work))


def _session_plan() -> NetworkPlan:
    """Three streams (Poisson and CBR) over two lossy drop-tail hops, one with an outage:
    the hand-over between links, the chain carried across windows."""
    links = {
        "up": LinkSpec(
            name="up",
            capacity_bps=3.6e6,
            delay_s=0.01,
            jitter=JitterModel("exponential", mean_s=0.002),
            loss=LOSSES["ge-sparse"],
            buffer_limit=40_000.0,
            buffer_kind="bytes",
            outages=((3.0, 3.4),),
        ),
        "core": LinkSpec(
            name="core",
            capacity_bps=2.4e6,
            delay_s=0.02,
            jitter=JitterModel("uniform", max_s=0.003),
            loss=LOSSES["iid"],
            buffer_limit=30.0,
            buffer_kind="packets",
        ),
    }
    size = SizeModel(distribution="uniform", min_bytes=200, max_bytes=1300)
    streams = (
        StreamSpec(name="a", kind="poisson", rate_pps=400.0, size=size, path=("up", "core")),
        StreamSpec(name="b", kind="cbr", rate_pps=250.0, size=size, path=("up",)),
        StreamSpec(name="c", kind="poisson", rate_pps=200.0, size=size, path=("core",)),
    )
    return NetworkPlan(name="wire", duration_s=8.0, links=links, streams=streams, seed=11)


def _same_runs(plan: NetworkPlan, monkeypatch) -> np.ndarray:
    monkeypatch.setenv("MEDLINK_JIT", "1")
    fast = engine.simulate(plan).packets
    monkeypatch.setenv("MEDLINK_JIT", "0")
    ref = engine.simulate(plan).packets
    for name in ("stream", "seq", "t_send_s", "t_recv_s", "fate", "link", "size_bytes"):
        assert _same(getattr(fast, name), getattr(ref, name)), (plan.name, name)
    return ref.fate


def test_whole_run_with_the_kernels_is_the_numpy_run(monkeypatch):
    fate = _same_runs(_session_plan(), monkeypatch)
    assert {0, 1, 2} <= set(np.unique(fate).tolist())  # delivered, lost and dropped


@pytest.mark.parametrize("seed", range(30))
def test_random_runs_with_the_kernels_are_the_numpy_runs(seed, monkeypatch):
    _same_runs(random_plan(seed), monkeypatch)


def _recv_times(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    """Receive times in send order: in order, one path with reordering jitter, two paths
    of different delays (a bonded stream), a single late packet, or many ties."""
    t = np.cumsum(rng.exponential(1e-3, n))
    if kind == "reorder":
        return t + rng.exponential(0.004, n)
    if kind == "two-paths":
        return t + np.where(rng.random(n) < 0.5, 0.01, 0.045) + rng.exponential(0.001, n)
    if kind == "one-late":
        t[n // 3] += 0.5
        return t
    if kind == "ties":
        return np.round(t + rng.exponential(0.002, n), 2)
    return t


@pytest.mark.parametrize("kind", ["in-order", "reorder", "two-paths", "one-late", "ties"])
@pytest.mark.parametrize("n", [2, 3, 50, 20_000])
@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_jitter_in_arrival_order_with_the_kernel_is_numpys(kind, n, chunk, monkeypatch):
    """RFC 3550 jitter taken in order of arrival: the compiled pass that puts the transit
    times in arrival order gives numpy's stretches' bits, whatever the chunk length (cuts
    found across chunks, stretches spanning several)."""
    from netsim import stats

    rng = np.random.default_rng([n, len(kind), chunk])
    recv = _recv_times(rng, n, kind)
    transit = recv - np.cumsum(np.full(n, 1e-3))

    def pieces():
        for a in range(0, n, 5_000):
            yield recv[a : a + 5_000]

    monkeypatch.setattr(stats, "ORDER_CHUNK", chunk)
    assert compiled.installed() and compiled.loaded()
    fast = stats.jitter_in_arrival_order(transit, pieces)
    monkeypatch.setenv("MEDLINK_JIT", "0")
    assert not compiled.loaded()
    plain = stats.jitter_in_arrival_order(transit, pieces)
    assert np.array_equal(np.array(fast), np.array(plain), equal_nan=True)
    buf = np.empty(n)
    buf[:] = recv
    with compiled.enabled():
        compiled.arrival_order_values(buf, n, transit, chunk)
    assert _same(buf, transit[np.argsort(recv, kind="stable")])
