"""Built-in link profiles: the fits reproduce their inputs, and each profile reproduces the
published figures it cites.

The cited numbers are typed again here, independently of netsim/profiles.py, so that a slip in
either place shows up as a failure.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.special import ndtri

from netsim.profiles import (
    DEFAULT_ROUTING_FACTOR,
    FIBER_S_PER_M,
    HANDOVER_KINDS,
    MARKS,
    PROFILES,
    Figure,
    fiber_delay_s,
    fit_lognormal,
    fit_lognormal_two,
    fit_shifted_lognormal,
    get_profile,
    lognormal_quantile,
    profile_names,
    shifted_lognormal_is_exact,
    timed_gilbert,
)

N_SAMPLES = 400_000
MS = 1e-3
MBIT = 1e6


# ---------------------------------------------------------------------------------------------
# Fit functions


@pytest.mark.parametrize(
    ("q50", "q95", "q99"),
    [(0.024, 0.04125, 0.0905), (0.02475, 0.03825, 0.082), (1.0, 3.0, 20.0), (5e-4, 6e-4, 9e-4)],
)
def test_shifted_lognormal_reproduces_its_three_percentiles(q50, q95, q99):
    """With a tail at least as heavy as a lognormal's, the fit passes through all three points."""
    assert shifted_lognormal_is_exact(q50, q95, q99)
    shift, median, sigma = fit_shifted_lognormal(q50, q95, q99)
    assert shift >= 0.0 and median > 0.0 and sigma > 0.0
    for p, q in ((0.5, q50), (0.95, q95), (0.99, q99)):
        assert lognormal_quantile(shift, median, sigma, p) == pytest.approx(q, rel=1e-9)


def test_shifted_lognormal_of_an_exact_lognormal_has_no_shift():
    """Percentiles of a pure lognormal give shift 0 and the lognormal's own parameters."""
    q = [lognormal_quantile(0.0, 0.03, 0.4, p) for p in (0.5, 0.95, 0.99)]
    shift, median, sigma = fit_shifted_lognormal(*q)
    assert shift == pytest.approx(0.0, abs=1e-12)
    assert median == pytest.approx(0.03, rel=1e-9)
    assert sigma == pytest.approx(0.4, rel=1e-9)


def test_shifted_lognormal_falls_back_on_light_tails():
    """A tail lighter than lognormal needs a negative shift: shift 0, least squares, not exact."""
    q50, q95, q99 = 0.050, 0.080, 0.085
    assert not shifted_lognormal_is_exact(q50, q95, q99)
    shift, median, sigma = fit_shifted_lognormal(q50, q95, q99)
    assert shift == 0.0
    fitted = [lognormal_quantile(0.0, median, sigma, p) for p in (0.5, 0.95, 0.99)]
    assert fitted == pytest.approx([q50, q95, q99], rel=0.1)
    assert fitted != pytest.approx([q50, q95, q99], rel=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.05, 0.04, 0.09), "increase"),
        ((0.05, 0.05, 0.09), "increase"),
        ((0.0, 0.04, 0.09), "positive"),
        ((-1.0, 0.04, 0.09), "positive"),
        ((0.01, math.nan, 0.09), "positive"),
        ((0.01, 0.02, math.inf), "positive"),
    ],
)
def test_shifted_lognormal_rejects_impossible_percentiles(args, message):
    with pytest.raises(ValueError, match=message):
        fit_shifted_lognormal(*args)


@pytest.mark.parametrize(("q50", "q_p", "p"), [(0.042, 0.053, 0.95), (1e-4, 6e-4, 1 - 1e-5)])
def test_fit_lognormal_reproduces_median_and_percentile(q50, q_p, p):
    median, sigma = fit_lognormal(q50, q_p, p)
    assert lognormal_quantile(0, median, sigma, 0.5) == pytest.approx(q50, rel=1e-9)
    assert lognormal_quantile(0, median, sigma, p) == pytest.approx(q_p, rel=1e-9)


def test_fit_lognormal_two_reproduces_both_percentiles():
    median, sigma = fit_lognormal_two(0.017, 0.90, 0.247, 0.99)
    assert lognormal_quantile(0, median, sigma, 0.90) == pytest.approx(0.017, rel=1e-9)
    assert lognormal_quantile(0, median, sigma, 0.99) == pytest.approx(0.247, rel=1e-9)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.05, 0.04, 0.95), "increase"),
        ((0.05, 0.06, 0.5), "upper percentile"),
        ((0.05, 0.06, 1.0), "upper percentile"),
        ((0.0, 0.06, 0.95), "positive"),
    ],
)
def test_fit_lognormal_rejects_impossible_input(args, message):
    with pytest.raises(ValueError, match=message):
        fit_lognormal(*args)


def test_fit_lognormal_two_rejects_unordered_probabilities():
    with pytest.raises(ValueError, match="must exceed"):
        fit_lognormal_two(0.01, 0.9, 0.02, 0.8)


def test_timed_gilbert_keeps_r_and_sets_the_rate():
    chain = timed_gilbert(0.0116, 0.208)
    assert chain.r == 0.208 and chain.per_s == 0.2
    assert chain.long_run_rate() == pytest.approx(0.0116, rel=1e-12)
    with pytest.raises(ValueError, match="probability"):
        timed_gilbert(0.0, 0.2)


def test_fiber_delay_scales_distance_by_routing_factor():
    """100 km at the default inflation 2.1 and 4.9 us/km is 1.029 ms."""
    assert FIBER_S_PER_M == 4.9e-9
    assert fiber_delay_s(100e3) == pytest.approx(100e3 * DEFAULT_ROUTING_FACTOR * 4.9e-9)
    assert fiber_delay_s(100e3, 1.0) == pytest.approx(0.49e-3)
    assert abs(FIBER_S_PER_M - 1.47 / 299_792_458.0) / FIBER_S_PER_M < 0.01
    with pytest.raises(ValueError, match="routing_factor"):
        fiber_delay_s(1e3, 0.9)
    with pytest.raises(ValueError, match="distance"):
        fiber_delay_s(-1.0)


# ---------------------------------------------------------------------------------------------
# Profiles against the figures they cite

# name -> (kind, {percentile: value in s}); "rtt": the profile's one-way delay doubled must
# match; "one-way": the one-way delay must match.
CITED_DELAY: dict[str, tuple[str, dict[float, float]]] = {
    "4g-lte": ("rtt", {0.5: 84 * MS, 0.95: 106 * MS}),
    "5g-nsa": ("rtt", {0.5: 48 * MS, 0.95: 82.5 * MS, 0.99: 181 * MS}),
    "5g-sa": ("rtt", {0.5: 49.5 * MS, 0.95: 76.5 * MS, 0.99: 164 * MS}),
    "5g-mmwave": ("rtt", {0.5: 25.8 * MS, 0.95: 37.3 * MS}),
    "5g-urllc": ("one-way", {0.5: 0.5 * MS}),
    "wifi-5": ("one-way", {0.90: 20 * MS, 0.99: 250 * MS}),
    "wifi-6": ("one-way", {0.99: 10 * MS}),
    "satellite-geo": ("rtt", {0.5: 677 * MS}),
    "satellite-leo": ("rtt", {0.5: 50 * MS, 0.75: 60 * MS}),
}

# name -> (uplink, downlink) bit/s
CITED_CAPACITY: dict[str, tuple[float, float]] = {
    "4g-lte": (5.0 * MBIT, 6.8 * MBIT),
    "5g-nsa": (42.5 * MBIT, 126.5 * MBIT),
    "5g-sa": (47.5 * MBIT, 213.5 * MBIT),
    "5g-mmwave": (159 * MBIT, 1146 * MBIT),
    "satellite-geo": (3.5 * MBIT, 18.93 * MBIT),
    "satellite-leo": (18.17 * MBIT, 116.77 * MBIT),
}

# name -> (long-run loss, r per 200 ms step or None for iid)
CITED_LOSS: dict[str, tuple[float, float | None]] = {
    "4g-lte": (0.0116, 0.208),
    "5g-nsa": (0.00335, 0.575),
    "5g-sa": (0.0026, 0.575),
    "5g-mmwave": (0.00335, 0.575),
    "5g-urllc": (1e-5, None),
}


def _one_way_samples(name: str, seed: int = 20240611) -> np.ndarray:
    profile = get_profile(name)
    direction = profile.uplink
    jitter = direction.jitter
    assert jitter.distribution == "lognormal"
    rng = np.random.default_rng(seed)
    return direction.delay_s + rng.lognormal(math.log(jitter.median_s), jitter.sigma, N_SAMPLES)


def _sampling_tolerance(name: str, p: float, q: float) -> float:
    """2 %, or four standard errors of the sampled quantile if that is wider.

    For shift + lognormal the sample quantile's relative standard error is
    sqrt(p (1 - p) / n) * sigma / phi(z_p) * (q - shift) / q; for wifi-5 (sigma 2.56) at p99 it
    is about 1.5 %, so a bare 2 % would pass or fail by the seed."""
    d = get_profile(name).uplink
    z = float(ndtri(p))
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    rel_se = math.sqrt(p * (1 - p) / N_SAMPLES) * d.jitter.sigma / phi * (q - d.delay_s) / q
    return max(0.02, 4 * rel_se)


@pytest.mark.parametrize("name", sorted(CITED_DELAY))
def test_profile_delay_percentiles_match_the_cited_ones(name):
    """Shift + lognormal reproduces the cited percentiles: exactly in closed form, and within 2 %
    (or four standard errors) in 400,000 draws with the engine's sampling convention
    (``rng.lognormal(log(median), sigma)``).

    RTT sources: 2 x the one-way percentile against the RTT percentile (the profile assumes
    symmetric, fully correlated directions)."""
    kind, cited = CITED_DELAY[name]
    d = get_profile(name).uplink
    factor = 2.0 if kind == "rtt" else 1.0
    samples = _one_way_samples(name)
    for p, value in cited.items():
        exact = factor * lognormal_quantile(d.delay_s, d.jitter.median_s, d.jitter.sigma, p)
        assert exact == pytest.approx(value, rel=1e-9), (name, p, exact, value)
        sampled = factor * float(np.quantile(samples, p))
        tolerance = _sampling_tolerance(name, p, value / factor)
        assert sampled == pytest.approx(value, rel=tolerance), (name, p, sampled, value)


def test_urllc_meets_its_reliability_bound_at_one_millisecond():
    """P(one-way air delay > 1 ms) = 1e-5: the 99.999th percentile is 1 ms (analytically; the
    400,000 samples hold only four draws beyond it)."""
    d = get_profile("5g-urllc").uplink
    q = lognormal_quantile(d.delay_s, d.jitter.median_s, d.jitter.sigma, 1 - 1e-5)
    assert q == pytest.approx(1 * MS, rel=1e-9)


def test_both_directions_share_the_delay_model():
    for profile in PROFILES.values():
        assert profile.uplink.delay_s == profile.downlink.delay_s
        assert profile.uplink.jitter == profile.downlink.jitter


@pytest.mark.parametrize("name", sorted(CITED_CAPACITY))
def test_profile_capacities_equal_the_cited_medians(name):
    up, down = CITED_CAPACITY[name]
    profile = get_profile(name)
    assert profile.uplink.capacity_bps == pytest.approx(up, rel=1e-12)
    assert profile.downlink.capacity_bps == pytest.approx(down, rel=1e-12)


@pytest.mark.parametrize("name", sorted(CITED_LOSS))
def test_profile_loss_rate_equals_the_cited_loss(name):
    rate, r = CITED_LOSS[name]
    loss = get_profile(name).loss
    assert loss.long_run_rate() == pytest.approx(rate, rel=1e-12)
    if r is None:
        assert loss.kind == "iid"
    else:
        assert loss.timed and loss.per_s == 0.2 and loss.r == r


@pytest.mark.parametrize("name", [n for n, (_, r) in CITED_LOSS.items() if r is not None])
def test_timed_chain_keeps_the_measured_bursts(name):
    """The timed chain reproduces the fitted chain at the 200 ms ping lattice exactly: over one
    step a Bad link stays Bad with probability 1 - r. Its mean bad sojourn in continuous time,
    1 / rates_per_s()[1], is close to but below 0.2 s / r, because the continuous chain may leave
    and re-enter Bad between pings: the ratio is (p + r) / -ln(1 - p - r) x r / (p + r)."""
    loss = get_profile(name).loss
    a, b = loss.rates_per_s()
    generator = np.array([[-a, a], [b, -b]])
    step = expm(generator * loss.per_s)
    assert step[1, 0] == pytest.approx(loss.r, rel=1e-9)
    assert step[0, 1] == pytest.approx(loss.p, rel=1e-9)
    sojourn = 1.0 / b
    discrete = loss.per_s / loss.r
    x = loss.p + loss.r
    assert sojourn / discrete == pytest.approx(x / -math.log1p(-x), rel=1e-9)
    assert 0.6 * discrete < sojourn <= discrete
    if loss.r < 0.25:
        assert sojourn == pytest.approx(discrete, rel=0.15)


# ---------------------------------------------------------------------------------------------
# Records


def test_profiles_are_listed_in_the_documented_order():
    assert profile_names() == (
        "4g-lte",
        "5g-nsa",
        "5g-sa",
        "5g-mmwave",
        "5g-urllc",
        "wifi-5",
        "wifi-6",
        "fiber",
        "satellite-geo",
        "satellite-leo",
    )


def test_get_profile_names_the_choices_on_a_typo():
    with pytest.raises(KeyError, match="5g-sa"):
        get_profile("5g-standalone")
    assert get_profile("fiber").name == "fiber"


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_parameter_has_a_sourced_figure(name):
    profile = get_profile(name)
    for field_name in ("capacity_up", "capacity_down", "delay", "loss"):
        figures = profile.figures_for(field_name)
        assert figures, f"{name}: no figure for {field_name}"
        for figure in figures:
            assert figure.source.strip()
            assert figure.mark in MARKS
    if profile.handover is not None:
        assert profile.handover in HANDOVER_KINDS
        assert profile.figures_for("handover")


@pytest.mark.parametrize("name", list(PROFILES))
def test_to_dict_is_json_in_si_units(name):
    profile = get_profile(name)
    data = json.loads(json.dumps(profile.to_dict(), allow_nan=False))
    assert data["name"] == name
    assert data["downlink"]["capacity_bps"] == profile.downlink.capacity_bps
    assert data["loss"]["long_run_rate"] == profile.loss.long_run_rate()
    assert len(data["figures"]) == len(profile.figures)
    assert all(f["source"] for f in data["figures"])


def test_all_profiles_print_as_one_json_object():
    """What `medlink profiles --json` prints: {name: profile.to_dict()}."""
    text = json.dumps({n: p.to_dict() for n, p in PROFILES.items()}, allow_nan=False)
    assert set(json.loads(text)) == set(PROFILES)


def test_figure_rejects_unknown_mark_and_empty_source():
    with pytest.raises(ValueError, match="mark"):
        Figure("x", 1.0, "somewhere", "guessed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source"):
        Figure("x", 1.0, "  ", "read")


def test_fiber_profile_leaves_distance_to_the_caller():
    fiber = get_profile("fiber")
    assert fiber.uplink.delay_s == 0.0 and not fiber.uplink.jitter.active
    assert not fiber.loss.active
    assert fiber.handover is None


def test_geo_delay_is_at_least_the_propagation_at_nadir():
    """2 x 35,786 km / c = 238.7 ms one way."""
    geo = get_profile("satellite-geo")
    assert geo.uplink.delay_s == pytest.approx(2 * 35_786e3 / 299_792_458.0, rel=1e-12)
    assert geo.uplink.delay_s == pytest.approx(0.2387, abs=1e-4)
