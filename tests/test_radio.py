"""Radio propagation: 3GPP TR 38.901 path loss against hand-computed tables, LOS probability,
correlated shadowing statistics, the TR 36.942 truncated Shannon mapping, noise and SINR.

The path-loss and probability literals below were computed independently of netsim.radio, by
evaluating the formula text of TR 38.901 Table 7.4.1-1 / 7.4.2-1 with scalar ``math`` calls in
a throwaway script, and rounded to 2 (path loss) or 4 (probability) decimals.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from netsim import radio
from netsim.radio import (
    DOWNLINK_LTE,
    UPLINK_LTE,
    ShannonMapping,
    breakpoint_distance_m,
    correlated_shadowing_db,
    correlation_distance_m,
    los_probability,
    path_loss_db,
    received_power_dbm,
    shadow_fading_sigma_db,
    sinr_db,
    thermal_noise_dbm,
    vehicle_penetration_loss_db,
)

# (environment, fc_ghz, los, distances, expected dB). hUT = 1.5 m, default hBS.
# UMa, hBS 25 m: d'BP = 4 (25 - 1)(1.5 - 1) 3.5e9 / 3e8 = 560 m.
# UMi, hBS 10 m: d'BP = 4 (10 - 1)(1.5 - 1) fc / 3e8 = 210 m at 3.5 GHz, 1680 m at 28 GHz.
# RMa, hBS 35 m: dBP = 2 pi 35 x 1.5 x 3.5e9 / 3e8 = 3848.45 m.
PATH_LOSS_TABLE = [
    ("uma", 3.5, True, [50, 200, 1000, 3000], [77.21, 89.57, 109.41, 128.49]),
    ("uma", 3.5, False, [50, 200, 1000, 3000], [92.51, 114.46, 141.67, 160.31]),
    ("umi", 3.5, True, [50, 200, 1000, 3000], [79.09, 91.61, 119.15, 138.24]),
    ("umi", 3.5, False, [50, 200, 1000, 3000], [94.18, 115.23, 139.89, 156.73]),
    ("umi", 28.0, True, [50, 200, 1000, 3000], [97.15, 109.67, 124.34, 139.15]),
    ("umi", 28.0, False, [50, 200, 1000, 3000], [113.42, 134.46, 159.13, 175.97]),
    ("rma", 3.5, True, [50, 1000, 3000, 5000, 8000], [79.15, 105.46, 118.02, 125.97, 134.13]),
    ("rma", 3.5, False, [50, 1000, 3000, 5000], [83.26, 130.42, 148.85, 157.42]),
]


@pytest.mark.parametrize(("env", "fc_ghz", "los", "d2d_m", "expected_db"), PATH_LOSS_TABLE)
def test_path_loss_matches_hand_computed_table(env, fc_ghz, los, d2d_m, expected_db):
    """Each model gives the hand-computed TR 38.901 values, within 0.01 dB, on both sides
    of its breakpoint."""
    got = path_loss_db(env, np.array(d2d_m, dtype=float), fc_ghz=fc_ghz, los=los)
    np.testing.assert_allclose(got, expected_db, atol=0.01, rtol=0)


@pytest.mark.parametrize(
    ("env", "fc_ghz", "expected_m"),
    [("uma", 3.5, 560.0), ("umi", 3.5, 210.0), ("umi", 28.0, 1680.0), ("rma", 3.5, 3848.45)],
)
def test_breakpoint_distances(env, fc_ghz, expected_m):
    """The breakpoint distances quoted above the path-loss table (hUT 1.5 m, default hBS)."""
    assert float(breakpoint_distance_m(env, fc_ghz)) == pytest.approx(expected_m, abs=0.01)


@pytest.mark.parametrize(("env", "tol_db"), [("uma", 1e-6), ("umi", 1e-6), ("rma", 0.015)])
@pytest.mark.parametrize("fc_ghz", [0.5, 0.7, 3.5, 28.0])
def test_los_path_loss_is_continuous_at_the_breakpoint(env, tol_db, fc_ghz):
    """PL1(dBP) == PL2(dBP). UMa/UMi are exactly continuous. RMa's PL1(dBP) takes the 3D
    distance equal to dBP (the standard's text, as ns-3 reads it) while PL1 just before the
    breakpoint sees a 3D distance slightly above dBP: a step of 0.0143 dB at 0.5 GHz,
    falling to 1.2e-4 dB at 3.5 GHz (hBS 35 m, hUT 1.5 m)."""
    d_bp = float(breakpoint_distance_m(env, fc_ghz))
    just_after = np.nextafter(d_bp, np.inf) * (1 + 1e-12)
    before, after = path_loss_db(env, [d_bp, just_after], fc_ghz=fc_ghz, los=True)
    assert after == pytest.approx(before, abs=tol_db)


@pytest.mark.parametrize("env", ["uma", "umi", "rma"])
def test_nlos_is_never_below_los(env):
    """NLOS path loss >= LOS path loss at every distance, frequency and terminal height."""
    d = np.geomspace(10.0, 10_000.0, 400)[:, None, None]
    fc = np.array([0.7, 2.0, 3.5, 6.0, 28.0])[None, :, None]
    h_ut = np.array([1.0, 1.5, 3.0, 8.0])[None, None, :]
    los = path_loss_db(env, d, fc_ghz=fc, h_ut_m=h_ut, los=True)
    nlos = path_loss_db(env, d, fc_ghz=fc, h_ut_m=h_ut, los=False)
    assert los.shape == (400, 5, 4)
    assert np.all(nlos >= los)


def test_los_array_broadcasts_and_short_distances_are_clamped():
    """A bool array selects LOS/NLOS per sample; distances below 10 m give the 10 m value."""
    d = np.array([0.0, 5.0, 10.0, 1000.0])
    los = np.array([True, False, True, False])
    got = path_loss_db("uma", d, fc_ghz=3.5, los=los)
    pl_10_los = path_loss_db("uma", 10.0, fc_ghz=3.5, los=True)
    pl_10_nlos = path_loss_db("uma", 10.0, fc_ghz=3.5, los=False)
    assert got[0] == pl_10_los and got[2] == pl_10_los and got[1] == pl_10_nlos
    assert got[3] == pytest.approx(141.67, abs=0.01)


def test_dispatch_defaults_and_unknown_environment():
    """path_loss_db uses each environment's default hBS and rejects unknown names clearly."""
    d = np.array([100.0, 2000.0])
    np.testing.assert_array_equal(
        path_loss_db("rma", d, fc_ghz=2.0), radio.path_loss_rma_db(d, 2.0, h_bs_m=35.0)
    )
    np.testing.assert_array_equal(
        path_loss_db("UMi", d, fc_ghz=2.0), radio.path_loss_umi_db(d, 2.0, h_bs_m=10.0)
    )
    with pytest.raises(ValueError, match="unknown environment 'suburban'"):
        path_loss_db("suburban", d, fc_ghz=2.0)
    with pytest.raises(ValueError, match="unknown environment"):
        los_probability("inh", d)
    with pytest.raises(ValueError, match="fc_ghz"):
        path_loss_db("uma", d, fc_ghz=0.0)


# ------------------------------------------------------------------------------------------
# LOS probability


def test_los_probability_hand_values():
    """TR 38.901 Table 7.4.2-1 at 50/100/200/500 m, computed by hand (4 decimals)."""
    d = np.array([50.0, 100.0, 200.0, 500.0])
    np.testing.assert_allclose(
        los_probability("uma", d), [0.6494, 0.3477, 0.1280, 0.0363], atol=1e-4
    )
    np.testing.assert_allclose(
        los_probability("uma", d, h_ut_m=18.0), [0.6751, 0.4266, 0.2474, 0.1080], atol=1e-4
    )
    np.testing.assert_allclose(
        los_probability("umi", d), [0.5196, 0.2310, 0.0935, 0.0360], atol=1e-4
    )
    np.testing.assert_allclose(
        los_probability("rma", d), [0.9608, 0.9139, 0.8270, 0.6126], atol=1e-4
    )


@pytest.mark.parametrize(("env", "always_los_m"), [("uma", 18.0), ("umi", 18.0), ("rma", 10.0)])
def test_los_probability_is_one_close_in_and_decreasing(env, always_los_m):
    """1 up to 18 m (10 m for RMa), then monotone non-increasing and within (0, 1]."""
    near = np.linspace(0.0, always_los_m, 50)
    assert np.all(los_probability(env, near) == 1.0)
    d = np.linspace(0.0, 5000.0, 5001)
    p = los_probability(env, d)
    assert np.all(np.diff(p) <= 0) and np.all(p > 0) and np.all(p <= 1)


def test_shadowing_parameters():
    """Sigma (Table 7.4.1-1) and correlation distance (Table 7.5-6) per environment; RMa LOS
    sigma steps from 4 to 6 dB at dBP."""
    assert shadow_fading_sigma_db("uma", [True, False]).tolist() == [4.0, 6.0]
    assert shadow_fading_sigma_db("umi", [True, False]).tolist() == [4.0, 7.82]
    d_bp = float(breakpoint_distance_m("rma", 3.5))
    rma = shadow_fading_sigma_db("rma", [True, True, False], [d_bp, d_bp + 1, 100.0], fc_ghz=3.5)
    assert rma.tolist() == [4.0, 6.0, 8.0]
    assert correlation_distance_m("uma", [True, False]).tolist() == [37.0, 50.0]
    assert correlation_distance_m("umi", [True, False]).tolist() == [10.0, 13.0]
    assert correlation_distance_m("rma", [True, False]).tolist() == [37.0, 120.0]
    with pytest.raises(ValueError, match="d2d_m and fc_ghz"):
        shadow_fading_sigma_db("rma", True)


# ------------------------------------------------------------------------------------------
# correlated shadowing

SIGMA_DB = 6.0
D_CORR_M = 37.0
N = 400_000  # samples, 1 m apart on average


def _reference_loop(noise, distance_m, d_corr_m):
    """The AR(1) recursion written out sample by sample (unit variance)."""
    out = np.empty_like(noise)
    out[..., 0] = noise[..., 0]
    for k in range(1, noise.shape[-1]):
        rho = math.exp(-(distance_m[k] - distance_m[k - 1]) / d_corr_m)
        out[..., k] = rho * out[..., k - 1] + math.sqrt(1.0 - rho * rho) * noise[..., k]
    return out


def _lag_correlation(s, distance_m, lag_m):
    """Empirical E[s_i s_j] / sigma^2 and mean exp(-(d_j - d_i)/d_corr) over pairs j ~ i + lag."""
    j = np.searchsorted(distance_m, distance_m + lag_m)
    keep = j < distance_m.size
    i, j = np.nonzero(keep)[0], j[keep]
    empirical = np.mean(s[i] * s[j]) / SIGMA_DB**2
    expected = np.mean(np.exp(-(distance_m[j] - distance_m[i]) / D_CORR_M))
    return empirical, expected


@pytest.mark.parametrize("spacing", ["even", "uneven"])
def test_shadowing_statistics(spacing):
    """Mean ~0, std ~sigma and lag correlation ~exp(-lag/d_corr), for even and uneven spacing.

    Tolerances: with rho = exp(-1/37) per metre, (1 + rho) / (1 - rho) ~ 74, so the
    sequence is worth about N / 74 = 5400 independent values. The sample mean has sd
    sigma sqrt(74 / N) = 0.014 sigma (bound 0.06 sigma); the sample std a relative sd of
    sqrt(74 / N) / 2 = 0.7 % (bound 3 %); a lag correlation an sd below sqrt(37 / N) = 0.0096
    by Bartlett's formula (bound 0.04). Bounds are >= 4 sd; the seed is fixed, so the test
    is deterministic.
    """
    rng = np.random.default_rng(20240611)
    if spacing == "even":
        d = np.arange(N, dtype=float)
    else:
        d = np.cumsum(rng.uniform(0.2, 1.8, N))
    s = correlated_shadowing_db(rng, d, SIGMA_DB, D_CORR_M)
    assert s.shape == (N,)
    assert abs(s.mean()) < 0.06 * SIGMA_DB
    assert s.std() == pytest.approx(SIGMA_DB, rel=0.03)
    for lag_m in (10.0, 37.0, 100.0):
        empirical, expected = _lag_correlation(s, d, lag_m)
        assert empirical == pytest.approx(expected, abs=0.04), lag_m


def test_shadowing_is_the_exact_recursion_for_any_spacing():
    """Same normals in, same sequence out as the sample-by-sample AR(1) loop, for even steps
    (lfilter path) and for uneven steps with repeats, huge gaps and tiny steps (blocked scan)."""
    rng = np.random.default_rng(5)
    uneven = np.cumsum(rng.exponential(5.0, 3000))
    uneven[100:110] = uneven[100]  # standing still: rho = 1
    uneven[2000:] += 1e7  # a gap of 2.7e5 d_corr: rho underflows to 0
    uneven[2500:2600] = uneven[2500] + np.arange(100) * 1e-9  # tiny steps: rho ~ 1 - 3e-11
    for d in (np.arange(3000) * 0.7, uneven):
        got = correlated_shadowing_db(np.random.default_rng(9), d, 1.0, D_CORR_M, n_sites=3)
        noise = np.random.default_rng(9).standard_normal((3, d.size))
        np.testing.assert_allclose(got, _reference_loop(noise, d, D_CORR_M), atol=1e-12)


def test_shadowing_sites_are_independent_and_scaled():
    """One sequence per site: pairwise correlation ~0 and per-site sigma scales each row.

    With 4 m steps rho = exp(-4/37) = 0.90 and (1 + rho^2) / (1 - rho^2) = 9.3, so a cross
    correlation of two independent rows has sd sqrt(9.3 / 1e5) = 0.0096 (bound 0.04) and a
    row's std a relative sd of 0.7 % (bound 5 %).
    """
    d = np.arange(N // 4, dtype=float) * 4.0
    sigma = np.array([4.0, 6.0, 8.0])
    s = correlated_shadowing_db(np.random.default_rng(77), d, sigma, D_CORR_M, n_sites=3)
    assert s.shape == (3, N // 4)
    corr = np.corrcoef(s)
    assert np.all(np.abs(corr[np.triu_indices(3, 1)]) < 0.04)
    np.testing.assert_allclose(s.std(axis=1), sigma, rtol=0.05)


def test_shadowing_is_deterministic_under_a_seed():
    """The same seed gives the same sequence; another seed a different one."""
    d = np.cumsum(np.full(1000, 2.5))
    a = correlated_shadowing_db(np.random.default_rng(3), d, 4.0, 10.0, n_sites=2)
    b = correlated_shadowing_db(np.random.default_rng(3), d, 4.0, 10.0, n_sites=2)
    c = correlated_shadowing_db(np.random.default_rng(4), d, 4.0, 10.0, n_sites=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_shadowing_rejects_bad_routes():
    """Distances must be 1-D and non-decreasing; d_corr must be positive."""
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="non-decreasing"):
        correlated_shadowing_db(rng, [0.0, 2.0, 1.0], 4.0, 37.0)
    with pytest.raises(ValueError, match="corr_distance_m"):
        correlated_shadowing_db(rng, [0.0, 1.0], 4.0, 0.0)
    assert correlated_shadowing_db(rng, [], 4.0, 37.0).shape == (0,)


def test_vehicle_penetration_loss():
    """Normal(9 dB, 5 dB) clipped at 0: never negative, median 9 dB (sd of the median
    1.25 x 5 / sqrt(1e5) = 0.02 dB; bound 0.1 dB)."""
    loss = vehicle_penetration_loss_db(np.random.default_rng(1), 100_000)
    assert loss.min() == 0.0
    assert np.median(loss) == pytest.approx(9.0, abs=0.1)


# ------------------------------------------------------------------------------------------
# noise, received power, SINR


def test_thermal_noise():
    """20 MHz with a 9 dB noise figure: -174 + 73.01 + 9 = -91.99 dBm."""
    assert float(thermal_noise_dbm(20e6, 9.0)) == pytest.approx(-91.99, abs=0.005)


def test_received_power():
    """46 dBm - 120 dB path loss - 9 dB penetration - 3 dB shadowing + 15 dBi = -71 dBm."""
    got = received_power_dbm(
        46.0, 120.0, penetration_loss_db=9.0, shadowing_db=3.0, antenna_gain_db=15.0
    )
    assert float(got) == -71.0


def test_sinr_two_site_hand_example():
    """Serving -80 dBm, interferer -90 dBm, noise -100 dBm: 1e-8 / (1e-9 + 1e-10) mW is
    9.59 dB at load 1 and 1e-8 / (0.5e-9 + 1e-10) = 12.22 dB at load 0.5. The serving
    index switches per sample."""
    rx = np.array([[-80.0, -90.0, -80.0], [-90.0, -80.0, -90.0]])
    serving = np.array([0, 1, 0])
    np.testing.assert_allclose(sinr_db(rx, serving, -100.0), [9.59, 9.59, 9.59], atol=0.005)
    np.testing.assert_allclose(sinr_db(rx, serving, -100.0, load=0.5)[0], 12.22, atol=0.005)
    # load per site, shape (n_sites, 1): the serving site's own load does not matter
    np.testing.assert_allclose(
        sinr_db(rx, serving, -100.0, load=np.array([[0.5], [1.0]])), [9.59, 12.22, 9.59], atol=0.005
    )
    with pytest.raises(ValueError, match="load"):
        sinr_db(rx, serving, -100.0, load=1.5)


# ------------------------------------------------------------------------------------------
# truncated Shannon


def test_truncated_shannon_downlink():
    """TR 36.942 A.1, DL (alpha 0.6, -10 dB, 4.4): 0 below -10 dB; at -10 dB 0.6 log2(1.1)
    = 0.0825; at 5 dB 0.6 log2(1 + 10^0.5) = 1.2344; capped at 4.4 above SINR_max 22.05 dB."""
    se = DOWNLINK_LTE.spectral_efficiency([-20.0, -10.01, -10.0, 5.0, 22.0, 30.0])
    np.testing.assert_allclose(se[:4], [0.0, 0.0, 0.0825, 1.2344], atol=1e-4)
    assert se[4] < 4.4 and se[5] == 4.4
    assert DOWNLINK_LTE.sinr_max_db == pytest.approx(22.05, abs=0.005)


@pytest.mark.parametrize("mapping", [DOWNLINK_LTE, UPLINK_LTE])
def test_truncated_shannon_is_continuous_at_sinr_max(mapping):
    """Just below SINR_max the Shannon branch already equals the cap (to 1e-9)."""
    below = np.nextafter(mapping.sinr_max_db, -np.inf)
    se = mapping.spectral_efficiency([below, mapping.sinr_max_db])
    np.testing.assert_allclose(se, mapping.max_bps_per_hz, atol=1e-9)


def test_truncated_shannon_uplink_and_custom():
    """UL (alpha 0.4, cap 2.0): SINR_max 14.91 dB, 0.8229 at 5 dB; an NR cap can be built."""
    assert UPLINK_LTE.sinr_max_db == pytest.approx(14.91, abs=0.005)
    assert float(UPLINK_LTE.spectral_efficiency(5.0)) == pytest.approx(0.8229, abs=1e-4)
    nr = ShannonMapping(0.6, -10.0, radio.NR_MAX_BPS_PER_HZ_256QAM)
    assert float(nr.spectral_efficiency(60.0)) == 7.4063
