"""The compiled drop-tail FIFO (netsim.compiled) gives the numpy version's results to the bit.

Both versions serve the same arrivals, cut into the same windows, and every departure, fate
and carried state (when the server frees up, the packets still in the system, the loop's
budget) is compared byte for byte. The inputs cover what the numpy version splits into
different paths: stretches with no overflow, overflows served by the closed form (one size)
and by the per-packet loop (mixed sizes), constant rates and service curves with outages,
byte and packet limits, ties in arrival times, buffers smaller than a packet, zero-size
packets and very long stretches.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from netsim import compiled, engine
from netsim.capacity import RateSchedule
from netsim.fifo import FifoQueue
from netsim.plan import JitterModel, LinkSpec, NetworkPlan, SizeModel, StreamSpec

if os.environ.get("MEDLINK_REQUIRE_NUMBA") != "1":
    pytest.importorskip("numba")


class NumpyQueue(FifoQueue):
    use_compiled = False


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _arrivals(rng: np.random.Generator, n: int, rate_pps: float) -> np.ndarray:
    t = np.cumsum(rng.exponential(1.0 / rate_pps, n))
    ties = rng.integers(1, n, n // 20)
    t[ties] = t[ties - 1]  # some packets arrive together
    return np.maximum.accumulate(t)


def _serve(queue: FifoQueue, arrivals, sizes, cuts):
    departs, fates, states = [], [], []
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        fate = np.zeros(hi - lo, dtype=np.int8)
        departs.append(queue.serve(arrivals[lo:hi], sizes[lo:hi], fate))
        fates.append(fate)
        states.append(
            (
                queue.free_s,
                queue._sys_depart.tobytes(),
                queue._sys_size.tobytes(),
                queue._loop_length,
            )
        )
    return np.concatenate(departs), np.concatenate(fates), states


def _compare(make, arrivals, sizes, cuts):
    jit, ref = make(FifoQueue), make(NumpyQueue)
    with compiled.enabled() as on:
        assert on
        d1, f1, s1 = _serve(jit, arrivals, sizes, cuts)
    d2, f2, s2 = _serve(ref, arrivals, sizes, cuts)
    assert _same(f1, f2), f"fates differ at {np.flatnonzero(f1 != f2)[:5]}"
    bad = np.flatnonzero(d1.view(np.int64) != d2.view(np.int64))
    assert not bad.size, f"departures differ at {bad[:5]}: {d1[bad[:3]]} vs {d2[bad[:3]]}"
    assert s1 == s2
    return f1


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("kind", ["bytes", "packets"])
@pytest.mark.parametrize("clock", ["constant", "curve"])
def test_compiled_drop_tail_matches_numpy(seed, kind, clock):
    rng = np.random.default_rng([seed, kind == "bytes", clock == "curve", 9])
    n = int(rng.integers(2_000, 40_000))
    size = int(rng.choice([40, 1200, 1500]))
    rho = float(rng.choice([0.5, 0.8, 1.05, 1.3, 2.5]))
    offered = 1000.0 * size * 8
    limit = float(rng.choice([1, 2, 5, 40, 125])) * (size if kind == "bytes" else 1)
    limit += float(rng.choice([0.0, 0.5 * size if kind == "bytes" else 0.5]))
    arrivals = _arrivals(rng, n, 1000.0)
    sizes = np.full(n, size, dtype=np.int64)
    mix = seed % 4
    if mix == 1:  # rare packets of other sizes between equal ones
        odd = rng.random(n) < 0.002
        sizes[odd] = rng.integers(1, 3 * size, int(odd.sum()))
    elif mix == 2:  # every size different
        sizes = rng.integers(40, 1500, n)
    elif mix == 3:  # long stretches of two sizes
        sizes[(np.arange(n) // 3000) % 2 == 1] = size // 2 + 1
    curve = None
    if clock == "curve":
        steps = int(arrivals[-1] / 0.05) + 2
        rate = rng.uniform(0.3, 1.7, steps) * offered / rho
        rate[rng.random(steps) < 0.05] = 0.0  # outages
        rate[-1] = offered
        curve = RateSchedule(np.arange(steps) * 0.05, rate)

    def make(cls):
        return cls(offered / rho, limit, kind, curve)

    cuts = np.unique(np.concatenate([[0, n], rng.integers(0, n, int(rng.integers(0, 8)))]))
    fates = _compare(make, arrivals, sizes, cuts)
    if rho >= 1.3 and mix != 2:  # sustained overload drops (mix 2 offers less)
        assert (fates == 2).any()


def test_compiled_drop_tail_long_overload_and_light_load():
    """Stretches longer than 16,384 packets, a long overload, a light load, and back."""
    rng = np.random.default_rng(11)
    gaps = np.concatenate(
        [
            rng.exponential(1 / 1500.0, 300_000),
            rng.exponential(1 / 300.0, 60_000),
            rng.exponential(1 / 1500.0, 40_000),
        ]
    )
    arrivals = np.cumsum(gaps)
    sizes = np.full(arrivals.size, 1200, dtype=np.int64)
    steps = int(arrivals[-1] / 0.1) + 2
    curve = RateSchedule(np.arange(steps) * 0.1, rng.uniform(0.9, 1.1, steps) * 1000 * 1200 * 8)

    def make(cls):
        return cls(0.0, 600_000.0, "bytes", curve)

    fates = _compare(make, arrivals, sizes, [0, 100_000, arrivals.size])
    assert (fates == 2).any()


@pytest.mark.parametrize(
    ("limit", "kind", "sizes"),
    [
        (1000.0, "bytes", [1000]),  # a buffer of exactly one packet
        (500.0, "bytes", [1000, 200]),  # smaller than some packets: they are always dropped
        (1.0, "packets", [1200]),
        (3.0, "packets", [0, 1200]),  # zero-size packets take no service time
        (0.0, "packets", [100]),  # a buffer of nothing drops everything
    ],
)
def test_compiled_drop_tail_edge_cases(limit, kind, sizes):
    rng = np.random.default_rng(int(limit) + len(sizes))
    arrivals = _arrivals(rng, 5000, 1000.0)
    size = rng.choice(np.array(sizes, dtype=np.int64), arrivals.size)

    def make(cls):
        return cls(1000 * 8 * 900.0, limit, kind)

    _compare(make, arrivals, size, [0, 17, 2500, arrivals.size])


def _two_hop_plan(rho: float) -> NetworkPlan:
    """Two video-like streams of mixed sizes over two drop-tail links with varying rates."""
    rng = np.random.default_rng(3)
    links = {}
    for i, kind in enumerate(["bytes", "packets"]):
        steps = 200
        rate = rng.uniform(0.6, 1.6, steps) * 8e6 / (1.1 * rho)
        links[f"hop{i}"] = LinkSpec(
            name=f"hop{i}",
            delay_s=0.005,
            jitter=JitterModel(distribution="exponential", mean_s=0.001),
            buffer_limit=60_000.0 if kind == "bytes" else 40.0,
            buffer_kind=kind,
            curve=RateSchedule(np.arange(steps) * 0.1, rate),
        )
    streams = (
        StreamSpec(
            name="a",
            kind="poisson",
            rate_pps=500.0,
            size=SizeModel(distribution="constant", mean_bytes=1200),
            path=("hop0", "hop1"),
        ),
        StreamSpec(
            name="b",
            kind="poisson",
            rate_pps=400.0,
            size=SizeModel(distribution="uniform", min_bytes=200, max_bytes=1200),
            path=("hop0", "hop1"),
        ),
    )
    return NetworkPlan(name="jit", duration_s=15.0, links=links, streams=streams, seed=4)


@pytest.mark.parametrize("rho", [0.7, 1.3])
def test_compiled_drop_tail_gives_the_same_run(rho, monkeypatch):
    """A whole run over finite buffers: the same packet log with the compiled FIFO and without."""
    plan = _two_hop_plan(rho)
    monkeypatch.setenv("MEDLINK_JIT", "1")  # a small run: forced on
    jit = engine.simulate(plan).packets
    monkeypatch.setenv("MEDLINK_JIT", "0")
    ref = engine.simulate(plan).packets
    for name in ("t_send_s", "t_recv_s", "fate", "size_bytes"):
        assert _same(getattr(jit, name), getattr(ref, name)), name
    if rho > 1:
        assert (ref.fate == 2).any()


@pytest.mark.parametrize("seed", range(6))
def test_compiled_rate_schedule_lookups_match_numpy(seed):
    """Cumulative work at times, and times of work, on schedules with silent stretches:
    sorted inputs (as a FIFO gives them), unsorted ones, values on breakpoints, NaN."""
    rng = np.random.default_rng([seed, 77])
    steps = int(rng.integers(1, 400))
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(0.001, 0.2, steps - 1))])
    rate = rng.uniform(0, 5e7, steps)
    rate[rng.random(steps) < 0.2] = 0.0
    period = float(t[-1] + 0.05) if seed % 2 else None
    sched = RateSchedule(t, rate, period)
    span = (period or t[-1]) * 2.5
    x = np.sort(rng.uniform(-0.1, span, 5000))
    x[rng.integers(0, x.size, 300)] = rng.choice(t, 300)  # on breakpoints (then unsorted)
    x_sorted = np.sort(x)
    work = sched.work_at(x_sorted)
    w = np.concatenate([work, work + rng.normal(0, 1e3, work.size), sched._cum[:50], [np.nan]])
    cases = [
        ("work_at", x_sorted),
        ("work_at", np.append(x, np.nan)),
        ("time_of", work),
        ("time_of", w),
        ("time_of", np.sort(w[:-1])),
    ]
    for method, values in cases:
        with compiled.enabled():
            fast = getattr(sched, method)(values)
        ref = getattr(sched, method)(values)
        assert _same(fast, ref), method


def test_kernels_switch_on_under_sustained_overload_or_in_long_runs(monkeypatch):
    """Runs turn the kernels on after enough overflow or enough packets, from the start with
    MEDLINK_JIT=1, never with MEDLINK_JIT=0; a short run that hardly overflows stays in
    numpy."""
    monkeypatch.delenv("MEDLINK_JIT", raising=False)
    assert compiled.switch_after() == compiled.LOOP_SWITCH and not compiled.active()
    monkeypatch.setenv("MEDLINK_JIT", "1")
    assert compiled.switch_after() == 0
    monkeypatch.setenv("MEDLINK_JIT", "0")
    assert compiled.switch_after() is None
    with compiled.enabled(False) as on:
        assert not on and not compiled.active()
        assert compiled.switch_on() and compiled.active()
    assert not compiled.active()

    seen = []
    real = compiled.serve_finite

    def spy(*args):
        seen.append(1)
        return real(*args)

    monkeypatch.setattr(compiled, "serve_finite", spy)
    monkeypatch.setattr(compiled, "LOOP_SWITCH", 2_000)
    monkeypatch.delenv("MEDLINK_JIT")
    engine.simulate(_two_hop_plan(0.7), window_s=1.0)
    assert not seen  # hardly any overflow
    switched = engine.simulate(_two_hop_plan(1.3), window_s=1.0).packets
    assert 0 < len(seen) < 2 * 25  # switched on part way
    monkeypatch.setenv("MEDLINK_JIT", "0")
    ref = engine.simulate(_two_hop_plan(1.3), window_s=1.0).packets
    for name in ("t_send_s", "t_recv_s", "fate"):
        assert _same(getattr(switched, name), getattr(ref, name)), name
    # a long run turns them on without overload, once its buffers have served enough, if
    # its plan did not foresee it ...
    monkeypatch.delenv("MEDLINK_JIT")
    monkeypatch.setattr(compiled, "FINITE_SWITCH", 20_000)
    monkeypatch.setattr(engine, "_expected_finite", lambda plan: 0)
    seen.clear()
    long = engine.simulate(_two_hop_plan(0.7), window_s=1.0).packets
    assert 0 < len(seen) < 2 * 25
    monkeypatch.setenv("MEDLINK_JIT", "0")
    ref = engine.simulate(_two_hop_plan(0.7), window_s=1.0).packets
    for name in ("t_send_s", "t_recv_s", "fate"):
        assert _same(getattr(long, name), getattr(ref, name)), name
    # ... and from the start if it did (the same cost, paid where it gains most)
    monkeypatch.undo()
    monkeypatch.setattr(compiled, "serve_finite", spy)
    monkeypatch.setattr(compiled, "FINITE_SWITCH", 20_000)
    plan = _two_hop_plan(0.7)
    expected = engine._expected_finite(plan)
    # two finite hops per packet, each stream with 2 % and 1,024 packets of slack
    assert 2 * 0.9 * len(ref) < expected < 2 * 1.1 * len(ref) + 4 * 1024
    assert compiled.switch_after(expected) == 0
    assert compiled.switch_after(19_999) == compiled.LOOP_SWITCH
    seen.clear()
    early = engine.simulate(plan, window_s=1.0).packets
    windows = len(seen)
    monkeypatch.setattr(compiled, "FINITE_SWITCH", 10**12)
    seen.clear()
    engine.simulate(plan, window_s=1.0)
    assert windows > 0 and len(seen) == 0
    for name in ("t_send_s", "t_recv_s", "fate"):
        assert _same(getattr(early, name), getattr(ref, name)), name


@pytest.mark.parametrize("n", [2, 3, 1000, 70_001])
def test_first_order_filter_is_lfilter_to_the_bit(n):
    """The radio's shadowing filter (evenly spaced samples) gives scipy's lfilter values to
    the bit, one row or several, so a run's radio does not depend on numba."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(n)
    for r in (0.0, 0.3, 0.999, math.exp(-0.01 / 37.0), 1.0):
        b = rng.standard_normal((3, n)) * 8.0
        assert _same(compiled.first_order_filter(b, r), lfilter([1.0], [1.0, -r], b, axis=-1))
        row = b[1, ::2]  # not contiguous
        assert _same(compiled.first_order_filter(row, r), lfilter([1.0], [1.0, -r], row))


def test_shadowing_is_the_same_with_and_without_the_kernels(monkeypatch):
    from netsim.radio import correlated_shadowing_db

    def shadowing():
        travelled = np.arange(0.0, 5000.0, 0.25)  # evenly spaced: the filter's case
        rng = np.random.default_rng(3)
        return correlated_shadowing_db(rng, travelled, 6.0, 50.0, n_sites=4)

    with_kernels = shadowing()
    monkeypatch.setenv("MEDLINK_JIT", "0")
    assert not compiled.usable()
    assert _same(with_kernels, shadowing())


@pytest.mark.parametrize("n", [2, 511, 512, 513, 100_003])
def test_statistics_kernels_give_numpys_values(n, monkeypatch):
    """The jitter's blocked smoothing and the delivered latencies, with the kernels loaded
    and with MEDLINK_JIT=0 (numpy), give the same bits."""
    from netsim.columns import _from_columns
    from netsim.stats import _smooth_padded, smooth_exponentially
    from netsim.streamlog import StreamColumns

    rng = np.random.default_rng(n)
    x = np.abs(rng.standard_normal(n)) * 1e-3
    assert compiled.installed() and compiled.loaded()
    fast = smooth_exponentially(x, 1.0 / 16.0)
    width = 512
    padded = np.zeros(-(-n // width) * width)
    padded[:n] = x
    carried = _smooth_padded(padded.copy(), n, width, 1.0 / 16.0, initial=0.25).copy()
    t_send = np.cumsum(rng.exponential(1e-3, n))
    fate = rng.choice(np.array([0, 0, 0, 1, 2, 3], dtype=np.int8), n)
    t_recv = np.where(fate == 0, t_send + rng.exponential(0.02, n), np.nan)
    size = rng.integers(60, 1500, n).astype(np.int32)
    cols = StreamColumns(t_send_s=t_send, t_recv_s=t_recv, fate=fate, size_bytes=size, seq=None)
    with_kernel = _from_columns("s", cols)
    monkeypatch.setenv("MEDLINK_JIT", "0")
    assert not compiled.loaded()
    assert _same(fast, smooth_exponentially(x, 1.0 / 16.0))
    assert _same(carried, _smooth_padded(padded.copy(), n, width, 1.0 / 16.0, initial=0.25))
    plain = _from_columns("s", cols)
    assert _same(with_kernel.latency_s, plain.latency_s)
    assert with_kernel.delivered_bytes == plain.delivered_bytes
