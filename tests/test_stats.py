"""Statistics against hand computations: RFC 3550 jitter, loss bursts, percentiles, intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netsim.stats import (
    batch_means_ci,
    latency_summary,
    loss_bursts,
    rfc3550_jitter,
    smooth_exponentially,
)


def test_rfc3550_jitter_by_hand():
    """J += (|D| - J) / 16 over consecutive transit differences, in arrival order."""
    t_send = np.array([0.0, 0.02, 0.04, 0.06])
    transit = np.array([0.010, 0.014, 0.011, 0.019])
    j, expected = 0.0, []
    for a, b in zip(transit, transit[1:], strict=False):
        j += (abs(b - a) - j) / 16
        expected.append(j)
    mean, final = rfc3550_jitter(t_send, t_send + transit)
    assert final == pytest.approx(expected[-1], abs=1e-15)
    assert mean == pytest.approx(np.mean(expected), abs=1e-15)
    # The same packets received out of order are taken in order of arrival.
    recv = np.array([0.05, 0.03, 0.06, 0.07])
    order = np.argsort(recv)
    d = np.abs(np.diff((recv - t_send)[order]))
    j = 0.0
    for x in d:
        j += (x - j) / 16
    assert rfc3550_jitter(t_send, recv)[1] == pytest.approx(j, abs=1e-15)


def test_rfc3550_jitter_needs_two_packets():
    assert all(math.isnan(v) for v in rfc3550_jitter(np.array([0.0]), np.array([0.1])))


def test_loss_bursts_by_hand():
    lost = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert loss_bursts(lost) == {"count": 3, "mean_length": 2.0, "max_length": 3}
    assert loss_bursts(np.zeros(5, dtype=bool))["count"] == 0


def test_latency_summary_matches_numpy_and_handles_empty():
    x = np.arange(1, 1001, dtype=float)
    s = latency_summary(x)
    assert s["p50"] == 500.5 and s["max"] == 1000 and s["min"] == 1 and s["mean"] == 500.5
    assert s["p999"] == pytest.approx(np.percentile(x, 99.9))
    assert all(math.isnan(v) for v in latency_summary(np.empty(0)).values())


@pytest.mark.parametrize("q, truth", [(None, 1.0), (99.0, math.log(100))])
def test_batch_means_interval_covers_the_truth_95_percent(q, truth):
    """Over 300 independent samples of Exp(1), the 95 % interval covers the true value
    (mean 1, p99 ln 100) in 95 % +- 4 binomial standard deviations of the cases."""
    rng = np.random.default_rng(2026)
    hits = 0
    reps = 300
    for _ in range(reps):
        lo, hi = batch_means_ci(rng.exponential(1.0, 40_000), q)
        hits += lo <= truth <= hi
    sd = math.sqrt(0.95 * 0.05 / reps)
    assert abs(hits / reps - 0.95) < 4 * sd


def test_batch_means_interval_withheld_when_batches_are_short():
    x = np.random.default_rng(0).exponential(1.0, 50_000)
    assert batch_means_ci(x, 99.9) is None  # needs 10 000 values per batch
    assert batch_means_ci(x, 99.0) is not None
    assert batch_means_ci(np.ones(10)) is None


@pytest.mark.parametrize("n", [1, 2, 511, 512, 513, 2000])
def test_blocked_smoothing_equals_the_plain_recursion(n):
    """The vectorised RFC 3550 filter equals J += (x - J) / 16 computed one value at a time,
    across block boundaries."""
    x = np.random.default_rng(n).exponential(0.004, n)
    j, expected = 0.0, []
    for value in x:
        j += (value - j) / 16
        expected.append(j)
    np.testing.assert_allclose(smooth_exponentially(x, 1 / 16), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001, 100_003])
def test_quantiles_of_sorted_are_numpys_to_the_bit(n):
    """One sort then :func:`quantiles_of_sorted` gives np.quantile's and np.percentile's
    values bit for bit: the plots' 132-point grid, the summary's percentiles, random
    fractions, both ends; with ties, and scaled to ms."""
    from netsim.series import QUANTILE_GRID
    from netsim.stats import PERCENTILES, Ascending, quantiles_of_sorted

    rng = np.random.default_rng(n)
    x = rng.lognormal(-4.0, 0.7, n)
    x[rng.integers(0, n, n // 7)] = x[0]  # ties
    ascending = Ascending(x)
    fractions = np.concatenate([QUANTILE_GRID, rng.random(500), [0.0, 1.0, 0.5, 0.999999]])
    got = quantiles_of_sorted(ascending.values, fractions)
    assert got.tobytes() == np.quantile(x, fractions).tobytes()
    ms = quantiles_of_sorted(ascending.values, fractions, scale=1e3)
    assert ms.tobytes() == np.quantile(x * 1e3, fractions).tobytes()
    qs = [*PERCENTILES.values(), 0.0, 100.0, 12.5, 99.999]
    assert ascending.percentiles(qs).tobytes() == np.percentile(x, qs).tobytes()
    for q in qs:
        assert ascending.percentile(q) == float(np.percentile(x, q))
    assert latency_summary(x, ascending) == latency_summary(x)
    assert math.isnan(Ascending(np.empty(0)).percentile(99.0))
