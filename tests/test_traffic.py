"""Sources: CBR spacing exactly, Poisson rate and exponential gaps, sizes, start/stop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from netsim.plan import SizeModel, StreamSpec
from netsim.traffic import Source, draw_sizes

DEFAULT_SIZE = SizeModel()


def stream(kind="poisson", rate=1000.0, size=DEFAULT_SIZE, start=0.0, stop=math.inf):
    return StreamSpec("s", kind, rate, size, ("l",), start, stop)


def take_all(source: Source, end: float, window: float):
    parts = [source.take(t) for t in np.arange(window, end + window, window)]
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))


def test_cbr_is_exact_and_window_independent():
    """Packet k of a CBR stream is sent at start + k / rate, whatever the windows."""
    for window in (0.001, 0.0137, 1.0, 50.0):
        seq, t, _ = take_all(
            Source(stream("cbr", 50.0, start=0.25, stop=10.0), 20.0, 1), 20, window
        )
        assert seq.tolist() == list(range(488))  # (10 - 0.25) * 50 = 487.5 -> 488 packets
        np.testing.assert_array_equal(t, 0.25 + np.arange(488) / 50.0)


def test_poisson_sends_the_same_packets_whatever_the_windows():
    a = take_all(Source(stream(), 30.0, 5), 30, 0.01)
    b = take_all(Source(stream(), 30.0, 5), 30, 7.0)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_poisson_rate_and_exponential_gaps():
    """Count ~ Poisson(rate * T); gaps pass a Kolmogorov-Smirnov test against Exp(rate)."""
    _, t, _ = take_all(Source(stream(rate=2000.0), 100.0, 11), 100, 1.0)
    n = t.size
    assert abs(n - 200_000) < 4 * math.sqrt(200_000)
    assert t.min() >= 0 and t.max() < 100 and (np.diff(t) > 0).all()
    assert stats.kstest(np.diff(t), "expon", args=(0, 1 / 2000.0)).pvalue > 1e-3


def test_stop_is_capped_by_duration():
    _, t, _ = take_all(Source(stream("cbr", 10.0, stop=100.0), 5.0, 1), 10, 1.0)
    assert t.size == 50 and t.max() < 5.0


@pytest.mark.parametrize(
    "model, mean, lo, hi",
    [
        (SizeModel("constant", 1250), 1250, 1250, 1250),
        (SizeModel("uniform", 0, 64, 1500), 782, 64, 1500),
        (SizeModel("exponential", 500), SizeModel("exponential", 500).mean(), 1, math.inf),
    ],
)
def test_size_models(model, mean, lo, hi):
    sizes = draw_sizes(model, np.random.default_rng(0), 200_000)
    assert sizes.dtype == np.int64
    assert sizes.min() >= lo and sizes.max() <= hi
    assert abs(sizes.mean() - mean) < 4 * max(sizes.std(), 1e-9) / math.sqrt(sizes.size) + 1e-9
    assert model.mean() == pytest.approx(mean)
