"""The streaming estimators of bounded runs (netsim/sketch.py) against ground truth computed
from every value: numpy's percentiles, netsim.stats' exact jitter and loss bursts, the
series' per-bin order statistics, and batch means computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from netsim import stats
from netsim.series import _stream_bins
from netsim.sketch import (
    ALPHA,
    BATCH_ALPHA,
    FLOOR_S,
    ArrivalJitter,
    BatchMeans,
    Bins,
    Bursts,
    KeyedPercentile,
    OrderedSum,
    QuantileSketch,
    _lerp,
    numpy_rank,
)

QS = (0.0, 0.1, 1.0, 25.0, 50.0, 95.0, 99.0, 99.9, 99.99, 100.0)


def pieces(values: np.ndarray, rng: np.random.Generator):
    """``values`` cut at random places (some pieces empty)."""
    cuts = np.sort(rng.integers(0, values.size + 1, size=rng.integers(0, 12)))
    return np.split(values, cuts)


def samples(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "lognormal":
        return rng.lognormal(math.log(0.03), 0.5, n)
    if kind == "offset-exponential":
        return 0.02 + rng.exponential(0.004, n)
    if kind == "uniform":
        return rng.uniform(0.001, 2.0, n)
    if kind == "heavy-tail":
        return np.where(rng.random(n) < 0.01, 0.02 * (1 + rng.pareto(1.5, n)), 0.02)
    if kind == "constant":
        return np.full(n, 0.0421)
    if kind == "with-zeros":
        return np.where(rng.random(n) < 0.3, 0.0, np.where(rng.random(n) < 0.5, 1e-13, 0.05))
    raise AssertionError(kind)


KINDS = ("lognormal", "offset-exponential", "uniform", "heavy-tail", "constant", "with-zeros")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [1, 2, 3, 1000, 200_000])
def test_sketch_percentiles_are_within_alpha_of_numpys(kind, n):
    rng = np.random.default_rng(n)
    values = samples(kind, n, rng)
    sketch = QuantileSketch()
    for piece in pieces(values, rng):
        sketch.add(piece)
    assert sketch.n == n and sketch.min == values.min() and sketch.max == values.max()
    assert sketch.mean() == pytest.approx(values.mean(), rel=1e-12, abs=1e-300)
    for q in (*QS, *rng.uniform(0, 100, 20)):
        exact = float(np.percentile(values, q))
        got = sketch.percentile(q)
        assert abs(got - exact) <= ALPHA * exact * (1 + 1e-9) + FLOOR_S, (q, exact, got)
    assert sketch.percentile(0.0) == values.min() and sketch.percentile(100.0) == values.max()


def test_chunks_and_merges_give_the_same_sketch():
    rng = np.random.default_rng(7)
    values = rng.lognormal(-3, 1.0, 50_000)
    whole = QuantileSketch()
    whole.add(values)
    chunked = QuantileSketch()
    for piece in pieces(values, rng):
        chunked.add(piece)
    left, right = QuantileSketch(), QuantileSketch()
    left.add(values[:20_000])
    right.add(values[20_000:])
    left.merge(right)
    for other in (chunked, left):
        assert other.offset == whole.offset and np.array_equal(other.counts, whole.counts)
        assert (other.n, other.min, other.max) == (whole.n, whole.min, whole.max)
    assert chunked.total == whole.total  # OrderedSum: the handing-in does not round
    assert left.total == pytest.approx(whole.total, rel=1e-12)
    assert math.isnan(QuantileSketch().percentile(50.0))


def test_the_accuracy_check_has_teeth():
    """A coarser sketch misses numpy's percentiles by more than ALPHA: the tolerance above
    is what the default accuracy buys."""
    values = np.random.default_rng(3).lognormal(math.log(0.03), 0.5, 20_000)
    coarse = QuantileSketch(alpha=1e-2)
    coarse.add(values)
    errors = [abs(coarse.percentile(q) / np.percentile(values, q) - 1) for q in QS[1:-1]]
    assert max(errors) > 10 * ALPHA


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100, 1001])
def test_numpy_rank_reproduces_numpys_interpolation(n):
    rng = np.random.default_rng(n)
    ordered = np.sort(rng.lognormal(0, 1, n))
    for q in (*QS, *rng.uniform(0, 100, 50)):
        lower, upper, t = numpy_rank(n, q)
        assert _lerp(ordered[lower], ordered[upper], t) == np.percentile(ordered, q)


def test_ordered_sum_does_not_depend_on_how_values_come():
    rng = np.random.default_rng(11)
    values = rng.lognormal(0, 2, 100_003)
    totals = set()
    for _ in range(5):
        total = OrderedSum()
        for piece in pieces(values, rng):
            total.add(piece)
        totals.add(total.value())
    assert len(totals) == 1
    assert totals.pop() == pytest.approx(values.sum(), rel=1e-13)


def delivered_packets(n: int, rng: np.random.Generator, spread: float):
    """Send times, receive times (NaN when lost) and the stretches the engine would hand
    over (cut between packets; all of a stretch's packets sent by its last send time)."""
    t_send = np.cumsum(rng.exponential(0.001, n))
    latency = 0.02 + rng.exponential(spread, n)
    latency[rng.random(n) < 0.01] += 0.3  # spikes: later packets overtake
    t_recv = np.round(t_send + latency, 4)  # ties in receive times
    t_recv[rng.random(n) < 0.05] = np.nan
    cuts = np.sort(rng.integers(0, n + 1, size=rng.integers(0, 15)))
    return t_send, t_recv, np.split(np.arange(n), cuts)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 600, 20_000])
@pytest.mark.parametrize("spread", [0.0, 0.005, 0.2])
def test_streamed_jitter_is_the_exact_recursion(n, spread):
    rng = np.random.default_rng(n + int(spread * 1000))
    t_send, t_recv, stretches = delivered_packets(n, rng, spread)
    jitter = ArrivalJitter()
    for rows in stretches:
        if not rows.size:
            continue
        ok = rows[np.isfinite(t_recv[rows])]
        jitter.add(t_recv[ok], t_recv[ok] - t_send[ok], float(t_send[rows[-1]]))
    mean, final = jitter.finish()
    ok = np.isfinite(t_recv)
    want_mean, want_final = stats.rfc3550_jitter(t_send[ok], t_recv[ok])
    if math.isnan(want_mean):
        assert math.isnan(mean) and math.isnan(final)
    else:
        assert final == want_final  # the same blocks, the same chaining: to the bit
        assert mean == pytest.approx(want_mean, rel=1e-12, abs=1e-18)


@pytest.mark.parametrize("density", [0.0, 0.02, 0.5, 0.97, 1.0])
@pytest.mark.parametrize("n", [0, 1, 5, 3000])
def test_streamed_loss_bursts_are_exact(density, n):
    rng = np.random.default_rng(n)
    lost = rng.random(n) < density
    bursts = Bursts()
    for piece in pieces(lost, rng):
        bursts.add(piece)
    assert bursts.finish() == stats.loss_bursts(lost)


@pytest.mark.parametrize("seed", range(6))
def test_streamed_bins_are_the_series_bins(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5000))
    edges = np.arange(41) * 0.25  # 40 bins over 10 s; packets before and after them too
    t_send = np.sort(rng.uniform(-0.5, 10.5, n))
    t_send[(t_send > 3.0) & (t_send < 4.2)] += 2.0  # empty bins
    t_send.sort()
    delivered = rng.random(n) < 0.9
    latency_ms = rng.lognormal(3, 0.5, n)
    bins = Bins(edges)
    for rows in np.split(np.arange(n), np.sort(rng.integers(0, n + 1, 8))):
        bins.add(t_send[rows], delivered[rows], latency_ms[rows][delivered[rows]])
    got = bins.finish()
    want = _stream_bins(t_send, np.where(delivered, latency_ms, 0.0), delivered, edges)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError, match="send order"):
        bins.add(np.array([9.9, 0.1]), np.array([True, True]), np.array([1.0, 2.0]))


def test_keyed_percentile_is_numpys_per_key():
    rng = np.random.default_rng(5)
    n = 4000
    t_send = np.sort(rng.uniform(0, 100, n))
    delivered = rng.random(n) < 0.8
    latency = rng.lognormal(3, 0.4, n)

    def key(t):
        return np.minimum((t // 7).astype(np.int64), 11)

    keyed = KeyedPercentile(key, 12, 99.0)
    for rows in np.split(np.arange(n), [100, 101, 2500, 2500]):
        keyed.add(t_send[rows], delivered[rows], latency[rows][delivered[rows]])
    sent, got, p99 = keyed.finish()
    k = key(t_send)
    np.testing.assert_array_equal(sent, np.bincount(k, minlength=12))
    np.testing.assert_array_equal(got, np.bincount(k[delivered], minlength=12))
    for b in range(12):
        mine = latency[(k == b) & delivered]
        assert p99[b] == (float(np.percentile(mine, 99)) if mine.size else None)


def hand_batches(values: np.ndarray, size: int, k: int, q: float | None):
    cut = values[: size * k].reshape(k, size)
    estimates = cut.mean(axis=1) if q is None else np.percentile(cut, q, axis=1)
    half = scipy_stats.t.ppf(0.975, k - 1) * estimates.std(ddof=1) / math.sqrt(k)
    return half, estimates


@pytest.mark.parametrize("n", [40, 1000, 65_537, 300_000])
def test_batch_means_against_batches_cut_by_hand(n):
    rng = np.random.default_rng(n)
    values = 0.02 + np.convolve(rng.exponential(0.004, n + 49), np.ones(50) / 50, "valid")
    batches = BatchMeans()
    for piece in pieces(values, rng):
        batches.add(piece)
    k, size = len(batches.full), batches.size
    assert stats.BATCHES <= k < 2 * stats.BATCHES and all(b.n == size for b in batches.full)
    assert k * size <= n < (k + 1) * size
    centres = {"mean": 0.0, "p50": 0.0, "p999": 0.0}
    found = batches.intervals({"mean": None, "p50": 50.0, "p999": 99.9}, centres)
    half, _ = hand_batches(values, size, k, None)
    assert found["mean"][1] == pytest.approx(half, rel=1e-9)
    if size < 20:  # a median needs 20 values a batch; 10 batches of 4 at most here
        assert n < 400 and found["p50"] is None
    else:
        half, estimates = hand_batches(values, size, k, 50.0)
        # each batch's median within BATCH_ALPHA of numpy's: the spread, so the half-width,
        # moves by at most twice that
        slack = scipy_stats.t.ppf(0.975, k - 1) * 2 * BATCH_ALPHA * estimates.max()
        assert abs(found["p50"][1] - half) <= slack
    # p99.9 needs 10,000 values a batch, merging pairs down to 10 batches at most
    if n // 10 < 10_000:
        assert found["p999"] is None
    else:
        assert found["p999"] is not None
