"""A3 handovers (hysteresis, time-to-trigger) and cited handover interruption times."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri

from netsim.handover import INTERRUPTIONS, InterruptionModel, fixed, select_serving
from netsim.mobility import Route, distances_2d, sites_along_road

DT_S = 0.01
SPEED_MPS = 20.0
SPACING_M = 500.0
OFFSET_M = 50.0


def road_rsrp(noise_db: float = 0.0, seed: int = 0):
    """RSRP = -30 - 35 log10(d) dBm from sites every 500 m on a 5 km road, driven at 20 m/s."""
    sites = sites_along_road(5000.0, SPACING_M, offset_m=OFFSET_M)
    route = Route([[0.0, 0.0], [5000.0, 0.0]], speed_mps=SPEED_MPS)
    t = np.arange(int(round(route.duration_s / DT_S)) + 1) * DT_S
    x, y = route.position(t)
    rsrp = -30.0 - 35.0 * np.log10(distances_2d(sites, x, y))
    if noise_db:
        rsrp += np.random.default_rng(seed).normal(0.0, noise_db, rsrp.shape)
    return sites, t, x, rsrp


def a3_shift_m(hysteresis_db: float) -> float:
    """Distance past the midpoint where RSRP_next - RSRP_serving reaches the hysteresis.

    With a = half the spacing, h = the road offset and u the distance past the midpoint,
    35 log10(d_serving / d_next) = H gives R ((a - u)^2 + h^2) = (a + u)^2 + h^2 with
    R = 10^(H / 17.5), a quadratic in u.
    """
    a, h2 = SPACING_M / 2, OFFSET_M**2
    r = 10 ** (hysteresis_db / 17.5)
    if r == 1:
        return 0.0
    return (a * (r + 1) - np.sqrt(a**2 * (r + 1) ** 2 - (r - 1) ** 2 * (a**2 + h2))) / (r - 1)


def test_straight_road_strongest_cell():
    """Hysteresis 0, TTT 0: one handover per cell border, within one sample past the midpoint."""
    sites, t, x, rsrp = road_rsrp()
    trace = select_serving(rsrp, t, hysteresis_db=0.0, ttt_s=0.0)
    n_sites = len(sites)
    assert trace.handover_count == n_sites - 1
    np.testing.assert_array_equal(trace.from_site, np.arange(n_sites - 1))
    np.testing.assert_array_equal(trace.to_site, np.arange(1, n_sites))
    midpoints = SPACING_M * np.arange(1, n_sites)
    x_ho = x[trace.handover_sample]
    assert np.all(np.abs(x_ho - midpoints) <= SPEED_MPS * DT_S + 1e-9)
    np.testing.assert_array_equal(trace.serving, np.argmax(rsrp, axis=0))


@pytest.mark.parametrize(("hysteresis_db", "ttt_s"), [(3.0, 0.16), (1.0, 0.04), (6.0, 0.48)])
def test_straight_road_hysteresis_and_ttt_delay(hysteresis_db, ttt_s):
    """Each handover comes a3_shift_m(H) + speed * TTT past the midpoint, to one sample."""
    sites, t, x, rsrp = road_rsrp()
    trace = select_serving(rsrp, t, hysteresis_db=hysteresis_db, ttt_s=ttt_s)
    assert trace.handover_count == len(sites) - 1
    expected = SPACING_M * np.arange(1, len(sites)) + a3_shift_m(hysteresis_db) + SPEED_MPS * ttt_s
    x_ho = x[trace.handover_sample]
    # The condition enters at the first sample past the crossing: up to one step later.
    assert np.all(x_ho >= expected - 1e-6)
    assert np.all(x_ho <= expected + SPEED_MPS * DT_S + 1e-6)
    np.testing.assert_allclose(trace.handover_t_s, t[trace.handover_sample])


def test_ping_pong_suppressed_by_hysteresis_and_ttt():
    """i.i.d. 2 dB noise: many handovers at 0 dB / 0 ms, one per border at 3 dB / 160 ms."""
    sites, t, _, rsrp = road_rsrp(noise_db=2.0, seed=11)
    naive = select_serving(rsrp, t, hysteresis_db=0.0, ttt_s=0.0).handover_count
    tuned = select_serving(rsrp, t, hysteresis_db=3.0, ttt_s=0.16)
    assert tuned.handover_count == len(sites) - 1
    assert naive > 20 * tuned.handover_count
    np.testing.assert_array_equal(tuned.to_site, np.arange(1, len(sites)))


def two_sites(strong_samples: list[int], n: int = 60) -> np.ndarray:
    """Serving site 0 at -80 dBm; site 1 at -90 dBm except -70 dBm at ``strong_samples``."""
    rsrp = np.empty((2, n))
    rsrp[0] = -80.0
    rsrp[1] = -90.0
    rsrp[1, strong_samples] = -70.0
    return rsrp


def test_ttt_one_sample_short_gives_no_handover():
    """Condition at samples 10..25 (150 ms) with a 160 ms TTT: no handover."""
    t = np.arange(60) * DT_S
    trace = select_serving(two_sites(list(range(10, 26))), t, hysteresis_db=3.0, ttt_s=0.16)
    assert trace.handover_count == 0
    np.testing.assert_array_equal(trace.serving, 0)


def test_ttt_met_hands_over_at_the_exact_sample():
    """Condition from sample 10 on: the 160 ms TTT expires, and the handover fires, at sample 26."""
    t = np.arange(60) * DT_S
    trace = select_serving(two_sites(list(range(10, 60))), t, hysteresis_db=3.0, ttt_s=0.16)
    np.testing.assert_array_equal(trace.handover_sample, [26])
    assert trace.handover_t_s[0] == t[26]
    assert (trace.from_site[0], trace.to_site[0]) == (0, 1)
    np.testing.assert_array_equal(trace.serving, np.where(np.arange(60) >= 26, 1, 0))


def test_ttt_timer_restarts_when_the_condition_breaks():
    """Condition at 10..25, broken at 26, again from 27: handover at 27 + 16 = 43."""
    t = np.arange(60) * DT_S
    strong = list(range(10, 26)) + list(range(27, 60))
    trace = select_serving(two_sites(strong), t, hysteresis_db=3.0, ttt_s=0.16)
    np.testing.assert_array_equal(trace.handover_sample, [43])


def test_each_neighbour_has_its_own_timer():
    """Site 1 enters at 10, stronger site 2 at 15: site 1's timer expires first and wins."""
    t = np.arange(60) * DT_S
    rsrp = np.vstack([two_sites(list(range(10, 60))), np.full(60, -90.0)])
    rsrp[2, 15:] = -65.0
    trace = select_serving(rsrp, t, hysteresis_db=3.0, ttt_s=0.16)
    assert (trace.handover_sample[0], trace.to_site[0]) == (26, 1)
    # From site 1 (-70 dBm), site 2 (-65 dBm) is 5 dB better: a second handover 16 samples on.
    np.testing.assert_array_equal(trace.handover_sample, [26, 43])
    np.testing.assert_array_equal(trace.to_site, [1, 2])


def test_ties_keep_the_serving_cell():
    """Equal RSRP never enters the A3 condition, even with hysteresis and TTT 0."""
    rsrp = np.full((3, 10), -80.0)
    trace = select_serving(rsrp, np.arange(10) * DT_S, 0.0, 0.0, initial=2)
    assert trace.handover_count == 0
    np.testing.assert_array_equal(trace.serving, 2)


def test_select_serving_validation():
    """Mismatched times, NaN RSRP and negative parameters raise ValueError."""
    rsrp = np.zeros((2, 5))
    t = np.arange(5) * DT_S
    with pytest.raises(ValueError, match="t_s"):
        select_serving(rsrp, t[:4], 0.0, 0.0)
    with pytest.raises(ValueError, match="increasing"):
        select_serving(rsrp, t[::-1], 0.0, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        select_serving(np.where(np.eye(2, 5) > 0, np.nan, 0.0), t, 0.0, 0.0)
    with pytest.raises(ValueError, match="ttt_s"):
        select_serving(rsrp, t, 0.0, -0.1)
    with pytest.raises(ValueError, match="initial"):
        select_serving(rsrp, t, 0.0, 0.0, initial=2)


# --------------------------------------------------------------------------- interruptions


def sample_quantile_tolerance(model: InterruptionModel, p: float, n: int) -> float:
    """Relative tolerance for a sample p-quantile of n draws: 2 %, or 4 standard errors.

    The standard error of log(sample quantile) is slope * sqrt(p (1 - p) / n) / phi(z), with
    slope the (steeper) d log(duration) / dz beside the point. For nsa-scg-change's p99
    (slope 2.28) that is 1.9 % at n = 200,000, so a flat 2 % would pass or fail by luck.
    """
    z = np.array([ndtri(q) for q in model.probabilities])
    slopes = np.diff(np.log(model.durations_s)) / np.diff(z)
    i = model.probabilities.index(p)
    slope = max(slopes[max(i - 1, 0)], slopes[min(i, len(slopes) - 1)])
    zp = ndtri(p)
    se = slope * np.sqrt(p * (1 - p) / n) / (np.exp(-zp * zp / 2) / np.sqrt(2 * np.pi))
    return max(0.02, 4 * se)


CITED_MS = {
    "lte": (34, 62, 94),
    "nsa-anchor": (51, 82, 99),
    "nsa-scg-add": (98, 223, 412),
    "nsa-scg-change": (72, 149, 704),
    "sa": (66, 70),
}


@pytest.mark.parametrize("kind", sorted(CITED_MS))
def test_interruption_quantiles_are_the_cited_values(kind):
    """quantile(0.5, 0.95[, 0.99]) returns the cited durations."""
    model = INTERRUPTIONS[kind]
    cited_s = np.array(CITED_MS[kind]) / 1e3
    for p, d in zip((0.5, 0.95, 0.99), cited_s, strict=False):
        assert model.quantile(p) == pytest.approx(d, abs=1e-9)
    np.testing.assert_allclose(model.cdf(cited_s), model.probabilities, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(CITED_MS))
def test_interruption_draws_match_the_cited_percentiles(kind):
    """200,000 draws: positive, capped, and the sample percentiles near the cited ones."""
    model = INTERRUPTIONS[kind]
    n = 200_000
    x = model.draw(np.random.default_rng(2022), n)
    assert x.shape == (n,)
    assert np.all(x > 0)
    assert np.all(x <= model.cap_s)
    for p, d in zip(model.probabilities, model.durations_s, strict=True):
        assert np.quantile(x, p) == pytest.approx(d, rel=sample_quantile_tolerance(model, p, n))
        # The share of draws at or below a cited value is p, to 5 binomial standard errors.
        assert np.mean(x <= d) == pytest.approx(p, abs=5 * np.sqrt(p * (1 - p) / n))


@pytest.mark.parametrize("kind", sorted(CITED_MS))
def test_interruption_quantile_function_is_monotone_and_capped(kind):
    """Non-decreasing in p, 0 at p = 0 and the cap at p = 1."""
    model = INTERRUPTIONS[kind]
    p = np.linspace(0.0, 1.0, 10_001)
    q = model.quantile(p)
    assert np.all(np.diff(q) >= 0)
    assert q[0] == 0.0
    assert q[-1] == model.cap_s == 5 * model.durations_s[-1]
    assert np.all(q[1:-1] > 0)


def test_fixed_interruption():
    """A fixed interruption draws and quantiles to the same constant."""
    model = fixed(0.05)
    np.testing.assert_array_equal(model.draw(np.random.default_rng(0), 4), 0.05)
    assert model.quantile(0.99) == 0.05
    assert fixed(0.0).quantile(0.5) == 0.0


def test_interruption_model_validation():
    """Unsorted or mismatched points raise ValueError."""
    with pytest.raises(ValueError, match="strictly increasing"):
        InterruptionModel("x", (0.5, 0.95), (0.07, 0.06), "test")
    with pytest.raises(ValueError, match="as many"):
        InterruptionModel("x", (0.5, 0.95), (0.06,), "test")
    with pytest.raises(ValueError, match="within"):
        InterruptionModel("x", (0.5, 1.0), (0.06, 0.07), "test")
