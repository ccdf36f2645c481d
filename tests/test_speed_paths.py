"""The fast paths give the same results, to the bit, as the plain computations they replace."""

from __future__ import annotations

import numpy as np
import pytest

from netsim.capacity import RateSchedule, segment_counts, sorted_search
from netsim.fifo import FifoQueue
from netsim.link import _gilbert_elliott_bad_rows, gilbert_elliott_states
from netsim.plan import LossModel


class FastQueue(FifoQueue):
    """A FifoQueue (numpy version) counting the packets its closed-form drop-tail path serves."""

    use_compiled = False
    closed_form = 0

    def _serve_equal(self, pos, end, *args) -> int:
        reached = super()._serve_equal(pos, end, *args)
        self.closed_form += reached - pos
        return reached


class PlainQueue(FifoQueue):
    """A FifoQueue (numpy version) whose drop-tail stretches always take the per-packet loop."""

    use_compiled = False

    def _most_held(self, pos, end, service_s, size_bytes) -> int:
        return 0


def _arrivals(rng: np.random.Generator, n: int, rate_pps: float) -> np.ndarray:
    t = np.cumsum(rng.exponential(1.0 / rate_pps, n))
    if n > 10:  # some ties and bursts
        t[rng.integers(1, n, n // 20)] = np.nan
        t = np.fmax.accumulate(np.where(np.isnan(t), -np.inf, t))
    return t


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _run_both(make, arrivals, sizes, cuts):
    """Serve ``arrivals`` cut into windows at ``cuts`` on a fast and a plain queue."""
    fast, plain = make(FastQueue), make(PlainQueue)
    out = []
    for queue in (fast, plain):
        departs, fates = [], []
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            fate = np.zeros(hi - lo, dtype=np.int8)
            departs.append(queue.serve(arrivals[lo:hi], sizes[lo:hi], fate))
            fates.append(fate)
        out.append((np.concatenate(departs), np.concatenate(fates), queue))
    return out


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kind", ["bytes", "packets"])
@pytest.mark.parametrize("clock", ["constant", "curve"])
def test_equal_size_drop_tail_matches_the_loop(seed, kind, clock):
    rng = np.random.default_rng([seed, kind == "bytes", clock == "curve"])
    n = int(rng.integers(2_000, 30_000))
    size = int(rng.choice([40, 1200, 1500]))
    offered = 1000.0 * size * 8
    rho = float(rng.choice([0.8, 1.05, 1.3, 2.5]))
    limit = float(rng.choice([1, 2, 5, 40, 125])) * (size if kind == "bytes" else 1)
    limit += float(rng.choice([0.0, 0.5 * size if kind == "bytes" else 0.5]))
    arrivals = _arrivals(rng, n, 1000.0)
    sizes = np.full(n, size, dtype=np.int64)
    if seed % 3 == 0:  # stretches of other sizes between the equal ones
        odd = rng.random(n) < 0.002
        sizes[odd] = rng.integers(1, 3 * size, int(odd.sum()))
    curve = None
    if clock == "curve":
        steps = int(arrivals[-1] / 0.05) + 2
        rate = rng.uniform(0.3, 1.7, steps) * offered / rho
        rate[rng.random(steps) < 0.05] = 0.0
        rate[-1] = offered
        curve = RateSchedule(np.arange(steps) * 0.05, rate)

    def make(cls):
        return cls(offered / rho, limit, kind, curve)

    cuts = np.unique(np.concatenate([[0, n], rng.integers(0, n, 4)]))
    (d1, f1, q1), (d2, f2, q2) = _run_both(make, arrivals, sizes, cuts)
    assert _same(d1, d2)
    assert _same(f1, f2)
    assert q1.free_s == q2.free_s
    assert _same(q1._sys_depart, q2._sys_depart)
    assert _same(q1._sys_size, q2._sys_size)
    if rho > 1:  # the overload cases do drop, mostly in closed form
        assert (f1 == 2).any()
        assert q1.closed_form > 0


def test_equal_size_drop_tail_one_packet_buffer():
    """A buffer of one packet: every arrival while one is in service is dropped."""
    rng = np.random.default_rng(5)
    arrivals = _arrivals(rng, 5000, 1000.0)
    sizes = np.full(arrivals.size, 1000, dtype=np.int64)

    def make(cls):
        return cls(1000 * 8 * 900.0, 1000.0, "bytes")

    (d1, f1, q1), (d2, f2, _) = _run_both(make, arrivals, sizes, [0, arrivals.size])
    assert _same(d1, d2) and _same(f1, f2)
    assert (f1 == 2).any() and q1.closed_form > 0


@pytest.mark.parametrize("seed", range(40))
def test_gilbert_elliott_bad_rows_match_the_states(seed):
    rng = np.random.default_rng(seed)
    p = float(rng.choice([1e-4, 1e-3, 0.01, 0.05, 0.3]))
    r = float(rng.choice([0.05, 0.2, 0.5, 0.9]))
    model = LossModel(kind="gilbert-elliott", p=p, r=r, loss_good=0.001, loss_bad=0.5)
    n = int(rng.choice([5, 200, 3000, 100_000]))
    u = rng.random(n)
    if seed % 4 == 0:  # swaps at the first and last rows, and runs without an end
        u[0], u[-1] = p / 2, p / 3
    for previous in (-1, 0, 1):
        sparse = _gilbert_elliott_bad_rows(u, model, previous)
        states = gilbert_elliott_states(u, model, previous)
        if sparse is None:
            continue
        bad, last = sparse
        assert np.array_equal(bad, np.flatnonzero(states == 1))
        assert last == int(states[-1])


def test_gilbert_elliott_bad_rows_cover_the_benchmark_chain():
    model = LossModel(kind="gilbert-elliott", p=0.001, r=0.2, loss_good=0.0005, loss_bad=0.5)
    u = np.random.default_rng(3).random(200_000)
    for previous in (-1, 0, 1):
        bad, last = _gilbert_elliott_bad_rows(u, model, previous)
        states = gilbert_elliott_states(u, model, previous)
        assert np.array_equal(bad, np.flatnonzero(states == 1)) and last == states[-1]


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("seed", range(6))
def test_sorted_search_and_segment_counts_match_searchsorted(side, seed):
    rng = np.random.default_rng(seed)
    table = np.unique(rng.integers(0, 50, 30).astype(float))
    if seed % 2:
        table = np.sort(np.concatenate([table, table[:5]]))  # repeated entries
    x = np.sort(np.concatenate([rng.uniform(-5, 60, 400), table, table, [-1.0, 70.0]]))
    plain = np.searchsorted(table, x, side=side)
    assert np.array_equal(sorted_search(table, x, side), plain)
    counts = segment_counts(table, x, side)
    index = np.maximum(plain - 1, 0)
    assert np.array_equal(np.repeat(np.arange(table.size), counts), index)
    assert segment_counts(table, x[::-1], side) is None


@pytest.mark.parametrize("seed", range(6))
def test_rate_schedule_on_sorted_input_matches_any_order(seed):
    """Long sorted input takes the segment path; shuffled, the plain gathers."""
    rng = np.random.default_rng(seed)
    steps = 200
    rate = rng.uniform(1e6, 3e7, steps)
    rate[rng.random(steps) < 0.1] = 0.0
    rate[-1] = 1e7
    curve = RateSchedule(np.arange(steps) * 0.1, rate)
    t = np.sort(np.concatenate([rng.uniform(-1, 25, 5000), curve.t_s, [0.0, 0.0]]))
    shuffle = rng.permutation(t.size)
    work = curve.work_at(t)
    assert _same(work, curve.work_at(t[shuffle])[np.argsort(shuffle)])
    w = np.sort(np.concatenate([work, rng.uniform(0, work[-1] * 1.1, 3000), [0.0]]))
    back = curve.time_of(w)
    order = rng.permutation(w.size)
    plain = np.empty_like(w)
    plain[order] = curve.time_of(w[order])
    assert _same(back, plain)
    positive = w[w > 0]
    order = rng.permutation(positive.size)
    plain = np.empty_like(positive)
    plain[order] = curve.time_of(positive[order])
    assert _same(curve.time_of(positive), plain)


def test_equal_size_drop_tail_long_busy_and_idle_stretches():
    """Stretches longer than the closed form's largest step (65536 packets), busy and idle."""
    rng = np.random.default_rng(11)
    gaps = np.concatenate(
        [
            rng.exponential(1 / 1500.0, 600_000),  # overload: one long busy period
            rng.exponential(1 / 300.0, 100_000),  # light load: many short ones
            rng.exponential(1 / 1500.0, 50_000),
        ]
    )
    arrivals = np.cumsum(gaps)
    sizes = np.full(arrivals.size, 1200, dtype=np.int64)
    steps = int(arrivals[-1] / 0.1) + 2
    curve = RateSchedule(np.arange(steps) * 0.1, rng.uniform(0.9, 1.1, steps) * 1000 * 1200 * 8)

    def make(cls):
        return cls(0.0, 600_000.0, "bytes", curve)

    (d1, f1, q1), (d2, f2, _) = _run_both(make, arrivals, sizes, [0, arrivals.size])
    assert _same(d1, d2) and _same(f1, f2)
    assert (f1 == 2).any() and q1.closed_form > arrivals.size // 2
