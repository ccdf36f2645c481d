"""Built-in link profiles: published measurements turned into link parameters.

A scenario names a profile (``profile: 5g-sa``) and may override any field. A profile gives, per
direction, a capacity (bit/s), a base delay (s) and a jitter distribution; for the link, a loss
model and the kind of handover interruption the radio layer should apply.

Every number is built here, at import time, from :class:`Figure` records that name their source
and how well the figure was checked (its *mark*):

- ``read``: read in the source itself (or computed from its public data);
- ``secondary``: read in a faithful copy (a news report of the data, a review table);
- ``recalled``: not checked against the source; use with care;
- ``assumption``: no published figure was found; the value is a stated guess;
- ``derived``: computed here from other figures (physics, a midpoint, a rescaling).

Delay model. A measured delay distribution given by percentiles is modelled as a shift (the
link's ``delay_s``) plus lognormal jitter with median ``m`` and log-space deviation ``sigma``:
q(p) = shift + m * exp(sigma * z_p), z_p the standard normal quantile. Three percentiles fix all
three parameters (:func:`fit_shifted_lognormal`); two fix median and sigma for a given shift
(:func:`fit_lognormal`, :func:`fit_lognormal_two`).

Where a source gives round-trip times (RTT), each one-way percentile is taken as half the RTT
percentile. That holds if the two directions are symmetric and fully correlated (the same queue
and radio state on both legs). If they are independent, the one-way tail is *heavier* than half
the RTT tail (a round trip averages two draws), so halving understates one-way tail delay.

Loss model. Measured driving loss is bursty: outages of seconds. The chains were fitted to pings
every 200 ms, so they are kept as timed Gilbert-Elliott chains (``LossModel.per_s = 0.2``) that
run in time per link, whatever the packet rate (:class:`netsim.plan.LossModel`).

See docs/profiles.md for the table of values, sources and marks, and for what the profiles
leave out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy.special import ndtri

from .plan import JitterModel, LossModel

__all__ = [
    "C_M_PER_S",
    "DEFAULT_ROUTING_FACTOR",
    "FIBER_S_PER_M",
    "GEO_ALTITUDE_M",
    "HANDOVER_KINDS",
    "MARKS",
    "PING_INTERVAL_S",
    "PROFILES",
    "SHORTEST_CONDUIT_ROUTING_FACTOR",
    "DirectionProfile",
    "Figure",
    "Profile",
    "fiber_delay_s",
    "fit_lognormal",
    "fit_lognormal_two",
    "fit_shifted_lognormal",
    "get_profile",
    "lognormal_quantile",
    "profile_names",
    "shifted_lognormal_is_exact",
    "timed_gilbert",
]

Mark = Literal["read", "secondary", "recalled", "assumption", "derived"]
MARKS: tuple[str, ...] = ("read", "secondary", "recalled", "assumption", "derived")
HandoverKind = Literal["lte", "nsa-anchor", "nsa-scg-add", "nsa-scg-change", "sa"]
HANDOVER_KINDS: tuple[str, ...] = ("lte", "nsa-anchor", "nsa-scg-add", "nsa-scg-change", "sa")

#: Speed of light in vacuum, m/s (exact, SI definition of the metre).
C_M_PER_S = 299_792_458.0
#: Probe interval of the measured Gilbert-Elliott fits, s (pings every 200 ms while driving).
PING_INTERVAL_S = 0.2
#: The profiles' delay is a process in time held for 20 ms per draw (JitterModel.hold_s), not
#: an independent draw per packet: the cited percentiles come from sparse pings, which see the
#: marginal law of a delay that is correlated over a few scheduling and HARQ rounds (LTE's HARQ
#: round trip is 8 ms). 20 ms is an assumption of this module, not a measured figure. The
#: delay may fall from one slot to the next faster than time passes, so a later packet may
#: overtake (``reorder=True``): the probes' percentiles already include the head-of-line
#: waiting behind a stalled packet, and holding later packets behind it again would count that
#: waiting twice and give every high-rate stream a far heavier tail than was measured.
JITTER_HOLD_S = 0.02
#: Propagation delay in silica fibre, s/m: group index about 1.47 [recalled], 1.47 / c = 4.90e-9.
FIBER_S_PER_M = 4.9e-9
#: Measured Internet latency inflation over the great-circle distance (latency = distance x 2.1
#: at fibre speed), Bozkurt et al., arXiv:1811.10737, 2018 [read, abstract].
DEFAULT_ROUTING_FACTOR = 2.1
#: Median inflation of the shortest path through US long-haul fibre conduits, same source [read].
SHORTEST_CONDUIT_ROUTING_FACTOR = 1.3
#: Geostationary altitude above the equator, m (G. Huston, APNIC blog, 2 May 2022) [read].
GEO_ALTITUDE_M = 35_786e3


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Figure:
    """One published (or assumed) number behind a profile parameter.

    Parameters
    ----------
    what : str
        What the number is, in words ("RTT median, LTE driving").
    value : float
        The number in SI units (s, bit/s, a ratio, a probability per step).
    source : str
        Full citation of where the number comes from.
    mark : str
        How it was checked: one of :data:`MARKS`.
    unit : str
        Unit of ``value`` ("s", "bit/s", "ratio", "1/step", "m", ...).
    field : str
        The profile parameter it supports: ``capacity_up``, ``capacity_down``, ``delay``,
        ``loss`` or ``handover``.
    note : str
        Anything a planner should know (midpoint of a range, an upper bound used as a value).
    """

    what: str
    value: float
    source: str
    mark: Mark
    unit: str = ""
    field: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.mark not in MARKS:
            raise ValueError(f"figure {self.what!r}: mark {self.mark!r} is not one of {MARKS}")
        if not self.source.strip():
            raise ValueError(f"figure {self.what!r}: empty source")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DirectionProfile:
    """One direction of a profile: capacity (bit/s), base delay (s), jitter (s)."""

    capacity_bps: float
    delay_s: float
    jitter: JitterModel

    def to_dict(self) -> dict[str, Any]:
        jitter = {"distribution": self.jitter.distribution, "reorder": self.jitter.reorder}
        if self.jitter.distribution == "lognormal":
            jitter |= {"median_s": self.jitter.median_s, "sigma": self.jitter.sigma}
            if self.jitter.hold_s is not None:
                jitter["hold_s"] = self.jitter.hold_s
        elif self.jitter.distribution != "none":
            jitter = asdict(self.jitter)
        return {"capacity_bps": self.capacity_bps, "delay_s": self.delay_s, "jitter": jitter}


@dataclass(frozen=True)
class Profile:
    """A named link profile: both directions, loss, handover kind, and the figures behind them.

    ``handover`` is the interruption kind the radio layer applies at a cell change (one of
    :data:`HANDOVER_KINDS`), or None for links without cellular handover (wired, Wi-Fi,
    satellite).
    """

    name: str
    title: str
    summary: str
    uplink: DirectionProfile
    downlink: DirectionProfile
    loss: LossModel
    handover: HandoverKind | None
    figures: tuple[Figure, ...]
    notes: str = ""

    def figures_for(self, field_name: str) -> tuple[Figure, ...]:
        """The figures that support one parameter (``capacity_up``, ``delay``, ...)."""
        return tuple(f for f in self.figures if f.field == field_name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form, SI units throughout."""
        loss: dict[str, Any] = {"kind": self.loss.kind, "long_run_rate": self.loss.long_run_rate()}
        if self.loss.kind == "iid":
            loss["rate"] = self.loss.rate
        elif self.loss.kind == "gilbert-elliott":
            loss |= {
                "p": self.loss.p,
                "r": self.loss.r,
                "loss_good": self.loss.loss_good,
                "loss_bad": self.loss.loss_bad,
                "per_s": self.loss.per_s,
            }
        return {
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "uplink": self.uplink.to_dict(),
            "downlink": self.downlink.to_dict(),
            "loss": loss,
            "handover": self.handover,
            "figures": [f.to_dict() for f in self.figures],
            "notes": self.notes,
        }


# --------------------------------------------------------------------------------------------
# Fits


def _check_quantiles(values: tuple[float, ...], names: tuple[str, ...]) -> None:
    for v, n in zip(values, names, strict=True):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{n} must be a positive finite delay in seconds, got {v!r}")
    for (a, na), (b, nb) in zip(
        zip(values, names, strict=True), zip(values[1:], names[1:], strict=False), strict=False
    ):
        if not b > a:
            raise ValueError(f"percentiles must increase: {na}={a!r} is not below {nb}={b!r}")


def _check_probability(p: float, name: str = "p") -> None:
    if not (0.0 < p < 1.0):
        raise ValueError(f"{name} must be a probability strictly between 0 and 1, got {p!r}")


def lognormal_quantile(shift: float, median: float, sigma: float, p: float) -> float:
    """Quantile p of shift + lognormal(median, sigma), in the unit of the arguments."""
    _check_probability(p)
    return shift + median * math.exp(sigma * float(ndtri(p)))


def fit_lognormal_two(q_a: float, p_a: float, q_b: float, p_b: float) -> tuple[float, float]:
    """Lognormal through two percentiles: q(p_a) = q_a and q(p_b) = q_b exactly.

    Parameters
    ----------
    q_a, q_b : float
        The percentiles (s), ``0 < q_a < q_b``.
    p_a, p_b : float
        Their probabilities, ``0 < p_a < p_b < 1``.

    Returns
    -------
    (median_s, sigma) : tuple of float
        sigma = ln(q_b / q_a) / (z_b - z_a); median = q_a * exp(-sigma * z_a).
    """
    _check_probability(p_a, "p_a")
    _check_probability(p_b, "p_b")
    if not p_b > p_a:
        raise ValueError(f"p_b={p_b!r} must exceed p_a={p_a!r}")
    _check_quantiles((q_a, q_b), ("q_a", "q_b"))
    z_a, z_b = float(ndtri(p_a)), float(ndtri(p_b))
    sigma = math.log(q_b / q_a) / (z_b - z_a)
    return q_a * math.exp(-sigma * z_a), sigma


def fit_lognormal(q50: float, q_p: float, p: float) -> tuple[float, float]:
    """Lognormal through its median and one upper percentile.

    Parameters
    ----------
    q50 : float
        Median (s), > 0.
    q_p : float
        Percentile p (s), > q50.
    p : float
        Its probability, 0.5 < p < 1.

    Returns
    -------
    (median_s, sigma) : tuple of float
        median = q50, sigma = ln(q_p / q50) / z_p.

    For a shifted distribution, fit ``(q50 - shift, q_p - shift)``.
    """
    if not (0.5 < p < 1.0):
        raise ValueError(f"p must be an upper percentile, 0.5 < p < 1, got {p!r}")
    return fit_lognormal_two(q50, 0.5, q_p, p)


_Z95 = float(ndtri(0.95))
_Z99 = float(ndtri(0.99))


def _shift_root(q50: float, q95: float, q99: float) -> float | None:
    """The shift s >= 0 that puts q50, q95, q99 on one shifted lognormal, or None."""
    scale = q50  # solve in units of the median, for conditioning
    a, b, c = 1.0, q95 / scale, q99 / scale

    def g(s: float) -> float:
        return _Z95 * math.log((c - s) / (a - s)) - _Z99 * math.log((b - s) / (a - s))

    g0 = g(0.0)
    if abs(g0) <= 1e-14:
        return 0.0
    if g0 < 0.0:
        return None  # tail lighter than a lognormal: needs a negative shift
    gap = 1e-3
    while g(a - gap) >= 0.0:  # g -> -inf as s -> q50, so this ends
        gap /= 10.0
        if gap < 1e-300:
            return None
    # Bisection to the last bit (g(low) > 0 > g(high)); scipy.optimize would cost every
    # `import netsim` about 0.3 s for this one call.
    low, high = 0.0, a - gap
    for _ in range(2000):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if g(mid) > 0.0:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high) * scale


def shifted_lognormal_is_exact(q50: float, q95: float, q99: float) -> bool:
    """True if :func:`fit_shifted_lognormal` matches all three points with a shift >= 0."""
    _check_quantiles((q50, q95, q99), ("q50", "q95", "q99"))
    return _shift_root(q50, q95, q99) is not None


def fit_shifted_lognormal(q50: float, q95: float, q99: float) -> tuple[float, float, float]:
    """Shift + lognormal through a median, 95th and 99th percentile.

    Solves q(p) = shift + median * exp(sigma * z_p) exactly at p = 0.5, 0.95, 0.99 (z_p from
    ``scipy.special.ndtri``; the shift by bisection on
    z95 * ln((q99 - s) / (q50 - s)) = z99 * ln((q95 - s) / (q50 - s)) over 0 <= s < q50).

    A root with shift >= 0 exists when the tail is at least as heavy as a lognormal's, i.e. when
    ln(q99 / q50) / ln(q95 / q50) >= z99 / z95 (about 1.414). Otherwise (a lighter tail) the
    function falls back to shift = 0 and a least-squares fit of ln q = ln median + sigma * z over
    the three points, which no longer reproduces them exactly; check with
    :func:`shifted_lognormal_is_exact` and say so where the fit is used.

    Parameters
    ----------
    q50, q95, q99 : float
        Percentiles of a one-way delay (s), 0 < q50 < q95 < q99.

    Returns
    -------
    (shift_s, median_s, sigma) : tuple of float

    Raises
    ------
    ValueError
        If a percentile is not positive and finite or they do not increase.
    """
    _check_quantiles((q50, q95, q99), ("q50", "q95", "q99"))
    shift = _shift_root(q50, q95, q99)
    if shift is None:
        z = np.array([0.0, _Z95, _Z99])
        y = np.log([q50, q95, q99])
        sigma, log_median = np.polyfit(z, y, 1)
        return 0.0, float(math.exp(log_median)), float(sigma)
    median = q50 - shift
    sigma = math.log((q95 - shift) / median) / _Z95
    return shift, median, sigma


def timed_gilbert(rate: float, r: float, per_s: float = PING_INTERVAL_S) -> LossModel:
    """Timed Gilbert chain (loss 0 in Good, 1 in Bad) with long-run loss ``rate`` and exit ``r``.

    p = rate * r / (1 - rate), so that p / (p + r) = rate; ``r`` is kept, which keeps the mean
    burst (1 / r steps of ``per_s`` seconds) of the fitted chain while rescaling its rate.
    """
    _check_probability(rate, "rate")
    _check_probability(r, "r")
    p = rate * r / (1.0 - rate)
    if p + r >= 1.0:
        raise ValueError(f"p + r = {p + r!r} >= 1: no continuous-time chain has these steps")
    return LossModel("gilbert-elliott", p=p, r=r, loss_good=0.0, loss_bad=1.0, per_s=per_s)


def fiber_delay_s(distance_m: float, routing_factor: float = DEFAULT_ROUTING_FACTOR) -> float:
    """One-way propagation delay (s) of a fibre path between points ``distance_m`` apart.

    delay = distance_m * routing_factor * :data:`FIBER_S_PER_M`. The great-circle distance is
    inflated by ``routing_factor`` because cables do not run straight and routes detour; the
    default 2.1 is the measured Internet rule of thumb (Bozkurt et al., 2018); 1.3 is the median
    of the shortest conduit paths, a floor for a dedicated, latency-optimised route.
    """
    if not (math.isfinite(distance_m) and distance_m >= 0):
        raise ValueError(f"distance_m must be a finite distance >= 0 in metres, got {distance_m!r}")
    if not (math.isfinite(routing_factor) and routing_factor >= 1.0):
        raise ValueError(
            f"routing_factor must be >= 1 (a path is never shorter), got {routing_factor!r}"
        )
    return distance_m * routing_factor * FIBER_S_PER_M


# --------------------------------------------------------------------------------------------
# Sources (full citations). Marks on figures taken from the project's reference list are carried
# over as recorded there; marks on figures found for this module are this module's.

SRC_RACA = (
    "D. Raca, D. Leahy, C. J. Sreenan, J. J. Quinlan, 'Beyond Throughput, The Next Generation: "
    "a 5G Dataset with Channel and Context Metrics', ACM MMSys 2020 (public dataset, Cork, "
    "Ireland; LTE driving traces, mean speed 31.5 km/h; title recalled)"
)
SRC_CHAIN_2022 = (
    "Two-state Gilbert fit to pings every 200 ms while driving, US operators 2022, as recorded in "
    "the project's measurement notes without a named source; its loss range (0.16-2.3 %) is that "
    "of the 2022 cross-country drive of M. Ghoshal et al., 'Performance of Cellular Networks on "
    "the Wheels', ACM IMC 2023 (title recalled), its likely origin"
)
SRC_CONEXT = (
    "5G standalone vs non-standalone driving study, ACM CoNEXT 2025, public data (T-Mobile US, "
    "2025); authors and title not recorded in the project's notes and not found"
)
SRC_CHAIN_2025 = (
    "Two-state Gilbert fit to pings every 200 ms while driving, T-Mobile NSA/SA 2025 (data of the "
    "ACM CoNEXT 2025 5G SA driving study)"
)
SRC_5GOPHERS = (
    "A. Narayanan et al., 'A First Look at Commercial 5G Performance on Smartphones', "
    "The Web Conference (WWW) 2020, 5Gophers public data"
)
SRC_SIGCOMM21 = (
    "A. Narayanan et al., 'A Variegated Look at 5G in the Wild: Performance, Power, and QoE "
    "Implications', ACM SIGCOMM 2021, artifact data"
)
SRC_HASSAN = (
    "A. Hassan et al., 'Vivisecting Mobility Management in 5G Cellular Networks', ACM SIGCOMM "
    "2022, artifact data (43,856 handover events)"
)
SRC_OPENSIGNAL_UL = (
    "OpenSignal, 'Explaining the huge gap between fastest and slowest 4G upload speeds in the "
    "US', 20 June 2018, opensignal.com (crowdsourced averages, March-May 2018)"
)
SRC_TR37910 = (
    "3GPP TR 37.910, 'Study on self evaluation towards IMT-2020 submission' (URLLC user-plane "
    "latency with mini-slots and configured grant)"
)
SRC_TR38913 = (
    "3GPP TR 38.913, 'Study on scenarios and requirements for next generation access "
    "technologies', §7.9 (reliability); ITU-R M.2410-0 (2017), 'Minimum requirements related to "
    "technical performance for IMT-2020 radio interface(s)'"
)
SRC_SUI = (
    "K. Sui et al., 'Characterizing and Improving WiFi Latency in Large-Scale Operational "
    "Networks' (WiFiSeer), ACM MobiSys 2016"
)
SRC_WIFI6 = (
    "'Experimental Evaluation of IEEE 802.11ax Low Latency and High Reliability with Wi-Fi 6' "
    "(measurement study, Wi-Fi 6 vs Wi-Fi 5 with interfering networks); abstract read on "
    "discovery.researcher.life; authors and venue not recorded"
)
SRC_BOZKURT = (
    "I. N. Bozkurt et al., 'Dissecting Latency in the Internet's Fiber Infrastructure', "
    "arXiv:1811.10737, 2018 (abstract)"
)
SRC_HUSTON = (
    "G. Huston, 'Testing LEO and GEO satellite services in Australia', APNIC blog, 2 May 2022"
)
SRC_OOKLA_GEO = (
    "Ookla Speedtest Intelligence, US satellite results Q2 2021 (Viasat, HughesNet), as reported "
    "in RCR Wireless News, 4 Aug 2021, 'Nice link if you can get it: Starlink outpaces other "
    "satellite providers'"
)
SRC_MICHEL = (
    "F. Michel, M. Trevisan, D. Giordano, O. Bonaventure, 'A First Look at Starlink Performance', "
    "ACM IMC 2022; figures from the authors' summary 'Fact checking Starlink's performance "
    "figures', APNIC blog, 28 Nov 2022 (Belgium, RIPE Atlas anchors, early 2022)"
)
SRC_OOKLA_STARLINK = (
    "Ookla, 'Above Maine, Starlink Twinkles', 18 Dec 2024 (Speedtest Intelligence, Starlink "
    "users in Maine, 1 Oct-15 Dec 2024)"
)
SRC_KASSEM = (
    "M. M. Kassem et al., 'A Browser-side View of Starlink Connectivity', ACM IMC 2022 (abstract: "
    "losses of up to 50 % of packets, correlated with satellite handovers)"
)
SRC_ASSUMPTION = "assumption of this module: no published figure found (see docs/profiles.md)"
SRC_PHYSICS = "physics: SI speed of light; this module's arithmetic"

MBIT = 1e6
MS = 1e-3

_HANDOVER_FIGURES: dict[str, Figure] = {
    "lte": Figure(
        "LTE handover interruption, median / p95 / p99 = 34 / 62 / 94 ms",
        0.034,
        SRC_HASSAN,
        "read",
        "s",
        "handover",
    ),
    "nsa-scg-change": Figure(
        "NSA 5G leg (SCG) change interruption, median / p95 / p99 = 72 / 149 / 704 ms",
        0.072,
        SRC_HASSAN,
        "read",
        "s",
        "handover",
    ),
    "sa": Figure(
        "SA handover interruption (low band), median ~66 ms, p95 ~70 ms",
        0.066,
        SRC_HASSAN,
        "read",
        "s",
        "handover",
    ),
}


def _lognormal(median_s: float, sigma: float) -> JitterModel:
    return JitterModel(
        "lognormal", median_s=median_s, sigma=sigma, hold_s=JITTER_HOLD_S, reorder=True
    )


def _symmetric(
    up_bps: float, down_bps: float, shift_s: float, jitter: JitterModel
) -> tuple[DirectionProfile, DirectionProfile]:
    return (
        DirectionProfile(up_bps, shift_s, jitter),
        DirectionProfile(down_bps, shift_s, jitter),
    )


def _mid(lo: float, hi: float) -> float:
    return (lo + hi) / 2.0


# --------------------------------------------------------------------------------------------
# Profiles


def _lte() -> Profile:
    rtt50 = Figure(
        "RTT median, LTE driving, to a distant server",
        0.084,
        SRC_RACA,
        "read",
        "s",
        "delay",
        "includes the Internet path to the server, not only the radio hop",
    )
    rtt95 = Figure(
        "RTT p95, LTE driving, to a distant server",
        0.106,
        SRC_RACA,
        "read",
        "s",
        "delay",
        "no p99 reported; the tail beyond p95 is the lognormal's",
    )
    down = Figure(
        "downlink throughput median, LTE driving",
        6.8 * MBIT,
        SRC_RACA,
        "read",
        "bit/s",
        "capacity_down",
        "p25 2.5, p95 32.7 Mbit/s",
    )
    up_lo = Figure(
        "4G upload average, slowest US operator (Sprint)",
        2.5 * MBIT,
        SRC_OPENSIGNAL_UL,
        "read",
        "bit/s",
        "capacity_up",
    )
    up_hi = Figure(
        "4G upload average, fastest US operator (T-Mobile)",
        7.5 * MBIT,
        SRC_OPENSIGNAL_UL,
        "read",
        "bit/s",
        "capacity_up",
    )
    up = Figure(
        "uplink capacity: midpoint of the operator range",
        _mid(up_lo.value, up_hi.value),
        SRC_OPENSIGNAL_UL,
        "derived",
        "bit/s",
        "capacity_up",
        "crowdsourced averages (mostly static users), not driving medians",
    )
    loss_rate = Figure("packet loss, LTE driving", 0.0116, SRC_RACA, "read", "ratio", "loss")
    r = Figure(
        "Gilbert r (Bad->Good per 200 ms ping), Verizon 2022",
        0.208,
        SRC_CHAIN_2022,
        "read",
        "1/step",
        "loss",
        "p = 0.00165 (loss 0.78 %) in the fit; p rescaled here",
    )

    median, sigma = fit_lognormal(rtt50.value / 2, rtt95.value / 2, 0.95)
    uplink, downlink = _symmetric(up.value, down.value, 0.0, _lognormal(median, sigma))
    loss = timed_gilbert(loss_rate.value, r.value)
    p = Figure(
        "Gilbert p (Good->Bad per 200 ms), rescaled to 1.16 % loss keeping r",
        loss.p,
        SRC_CHAIN_2022,
        "derived",
        "1/step",
        "loss",
    )
    return Profile(
        "4g-lte",
        "4G LTE, driving",
        "LTE from a moving vehicle (Cork, 31.5 km/h mean), end to end to a distant server.",
        uplink,
        downlink,
        loss,
        "lte",
        (rtt50, rtt95, down, up_lo, up_hi, up, loss_rate, r, p, _HANDOVER_FIGURES["lte"]),
        "Delay: shift 0 (no minimum reported) + lognormal through half the RTT median and p95. "
        "Loss: the Verizon 2022 timed chain rescaled to the 1.16 % of the Cork drive, keeping "
        "its mean burst (0.2 s / r).",
    )


def _cellular_5g(
    name: str,
    title: str,
    summary: str,
    rtt: tuple[tuple[float, float], tuple[float, float], tuple[float, float]],
    loss_range: tuple[float, float],
    down_range: tuple[float, float],
    up_range: tuple[float, float],
    handover: HandoverKind,
    label: str,
) -> Profile:
    figs: list[Figure] = []
    rtt_mid = []
    for (lo, hi), pct in zip(rtt, ("median", "p95", "p99"), strict=True):
        f = Figure(
            f"RTT {pct}, {label} driving (range {lo:g}-{hi:g} ms, midpoint)",
            _mid(lo, hi) * MS,
            SRC_CONEXT,
            "read",
            "s",
            "delay",
            "midpoint of the range over the study's drives",
        )
        figs.append(f)
        rtt_mid.append(f.value)
    q50, q95, q99 = (v / 2 for v in rtt_mid)
    shift, median, sigma = fit_shifted_lognormal(q50, q95, q99)
    exact = shifted_lognormal_is_exact(q50, q95, q99)
    down = Figure(
        f"downlink throughput median, {label} driving (range {down_range[0]:g}-"
        f"{down_range[1]:g} Mbit/s, midpoint)",
        _mid(*down_range) * MBIT,
        SRC_CONEXT,
        "read",
        "bit/s",
        "capacity_down",
    )
    up = Figure(
        f"uplink throughput median, {label} driving (range {up_range[0]:g}-"
        f"{up_range[1]:g} Mbit/s, midpoint)",
        _mid(*up_range) * MBIT,
        SRC_CONEXT,
        "read",
        "bit/s",
        "capacity_up",
    )
    loss_rate = Figure(
        f"packet loss, {label} driving (range {loss_range[0] * 100:g}-"
        f"{loss_range[1] * 100:g} %, midpoint)",
        _mid(*loss_range),
        SRC_CONEXT,
        "read",
        "ratio",
        "loss",
    )
    r = Figure(
        "Gilbert r per 200 ms ping, T-Mobile NSA/SA 2025 (range 0.15-1.0, midpoint)",
        _mid(0.15, 1.0),
        SRC_CHAIN_2025,
        "read",
        "1/step",
        "loss",
        "p range 0.0007-0.002 in the fit; p derived here from the loss rate",
    )
    loss = timed_gilbert(loss_rate.value, r.value)
    p = Figure(
        "Gilbert p per 200 ms, from the loss midpoint and r",
        loss.p,
        SRC_CHAIN_2025,
        "derived",
        "1/step",
        "loss",
    )
    figs += [down, up, loss_rate, r, p, _HANDOVER_FIGURES[handover]]
    uplink, downlink = _symmetric(up.value, down.value, shift, _lognormal(median, sigma))
    how = (
        "exact three-point fit"
        if exact
        else "least-squares fallback with shift 0 (tail lighter than lognormal): not exact"
    )
    return Profile(
        name,
        title,
        summary,
        uplink,
        downlink,
        loss,
        handover,
        tuple(figs),
        f"Delay: shift + lognormal through half the RTT median/p95/p99 midpoints ({how}).",
    )


def _nsa() -> Profile:
    prof = _cellular_5g(
        "5g-nsa",
        "5G NSA (sub-6 GHz), driving",
        "5G non-standalone (LTE anchor + NR leg) from a moving vehicle, 2025.",
        ((44, 52), (78, 87), (158, 204)),
        (0.002, 0.0047),
        (108, 145),
        (32, 53),
        "nsa-scg-change",
        "5G NSA",
    )
    note = (
        " Handover 'nsa-scg-change': the most frequent NSA mobility event that stops user data "
        "on the NR bearer is the change of the 5G leg (secondary cell group); the LTE anchor "
        "may keep carrying some traffic, but a split bearer's NR share waits."
    )
    return replace(prof, notes=prof.notes + note)


def _sa() -> Profile:
    return _cellular_5g(
        "5g-sa",
        "5G SA (sub-6 GHz), driving",
        "5G standalone from a moving vehicle, 2025.",
        ((48, 51), (75, 78), (118, 210)),
        (0.0021, 0.0031),
        (210, 217),
        (32, 63),
        "sa",
        "5G SA",
    )


def _mmwave(nsa_loss: LossModel, nsa_loss_figures: tuple[Figure, ...]) -> Profile:
    rtt50 = Figure(
        "RTT to first hop median, mmWave static",
        0.0258,
        SRC_5GOPHERS,
        "read",
        "s",
        "delay",
        "first hop only: add the path beyond the operator's network",
    )
    rtt95 = Figure(
        "RTT to first hop p95, mmWave static", 0.0373, SRC_5GOPHERS, "read", "s", "delay"
    )
    down = Figure(
        "downlink throughput median, mmWave static, 8 TCP flows",
        1146 * MBIT,
        SRC_5GOPHERS,
        "read",
        "bit/s",
        "capacity_down",
        "p10 357, p90 1728 Mbit/s",
    )
    up = Figure(
        "uplink throughput, mmWave (range 98-220 Mbit/s, midpoint)",
        _mid(98, 220) * MBIT,
        SRC_SIGCOMM21,
        "read",
        "bit/s",
        "capacity_up",
    )
    borrowed = tuple(
        Figure(
            f.what + " (borrowed from 5g-nsa: no mmWave loss figure)",
            f.value,
            f.source,
            f.mark,
            f.unit,
            f.field,
            f.note,
        )
        for f in nsa_loss_figures
    )
    median, sigma = fit_lognormal(rtt50.value / 2, rtt95.value / 2, 0.95)
    uplink, downlink = _symmetric(up.value, down.value, 0.0, _lognormal(median, sigma))
    return Profile(
        "5g-mmwave",
        "5G mmWave (NSA), static",
        "mmWave 5G with line of sight, stationary; driving is far worse (see notes).",
        uplink,
        downlink,
        nsa_loss,
        "nsa-scg-change",
        (rtt50, rtt95, down, up, *borrowed, _HANDOVER_FIGURES["nsa-scg-change"]),
        "Static, line-of-sight figures: while driving, per-second median throughput was "
        "66-115 Mbit/s with 4-72 % of seconds under 10 Mbit/s (5Gophers car traces), and body "
        "blockage can fall back to 4G. Loss borrowed from 5g-nsa. Delay: shift 0 + lognormal "
        "through half the first-hop RTT median and p95.",
    )


def _urllc() -> Profile:
    air = Figure(
        "one-way air-interface latency, mini-slot + configured grant (0.4-0.6 ms)",
        _mid(0.4, 0.6) * MS,
        SRC_TR37910,
        "recalled",
        "s",
        "delay",
        "midpoint used as the median; the low end 0.4 ms as the shift",
    )
    low = Figure(
        "lowest one-way air-interface latency in the same evaluation",
        0.4 * MS,
        SRC_TR37910,
        "recalled",
        "s",
        "delay",
    )
    bound = Figure(
        "user-plane latency bound met with reliability 1 - 1e-5 (32 B)",
        1.0 * MS,
        SRC_TR38913,
        "recalled",
        "s",
        "delay",
        "used as the 99.999th percentile",
    )
    reliability = Figure(
        "URLLC residual loss: 1 - reliability", 1e-5, SRC_TR38913, "recalled", "ratio", "loss"
    )
    cap = Figure(
        "URLLC slice capacity per direction",
        20 * MBIT,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_up",
        "a reserved configured-grant slice for small packets",
    )
    cap_down = Figure(
        cap.what, cap.value, cap.source, cap.mark, cap.unit, "capacity_down", cap.note
    )
    median, sigma = fit_lognormal(air.value - low.value, bound.value - low.value, 1 - 1e-5)
    uplink, downlink = _symmetric(cap.value, cap_down.value, low.value, _lognormal(median, sigma))
    return Profile(
        "5g-urllc",
        "5G URLLC slice (air interface only)",
        "Configured-grant mini-slot URLLC radio hop, as specified, not as measured in the field.",
        uplink,
        downlink,
        LossModel.iid(reliability.value),
        "sa",
        (air, low, bound, reliability, cap, cap_down, _HANDOVER_FIGURES["sa"]),
        "Requirements and self-evaluation, not field measurements; the radio hop only (add core "
        "and transport). One-way figures: no RTT halving. Handover interruption is the SA "
        "figure; URLLC deployments may use make-before-break or dual connectivity to avoid it.",
    )


def _wifi5() -> Profile:
    low = Figure(
        "Wi-Fi hop latency, lowest ('as low as')",
        3 * MS,
        SRC_SUI,
        "read",
        "s",
        "delay",
        "used as the shift; treated as one-way (conservative if it is a round trip)",
    )
    q90 = Figure("Wi-Fi hop latency p90, campus", 20 * MS, SRC_SUI, "read", "s", "delay")
    q99 = Figure("Wi-Fi hop latency p99, campus", 250 * MS, SRC_SUI, "read", "s", "delay")
    down = Figure(
        "802.11ac downlink capacity",
        400 * MBIT,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_down",
        "about half the 866.7 Mbit/s PHY rate of 2x2 80 MHz MCS9 "
        "(rate recalled); the medium is shared by both directions and all stations",
    )
    up = Figure(
        "802.11ac uplink capacity",
        200 * MBIT,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_up",
        "half the downlink: client radios and contention",
    )
    loss_rate = Figure(
        "residual loss after 802.11 retries", 1e-3, SRC_ASSUMPTION, "assumption", "ratio", "loss"
    )
    median, sigma = fit_lognormal_two(q90.value - low.value, 0.90, q99.value - low.value, 0.99)
    uplink, downlink = _symmetric(up.value, down.value, low.value, _lognormal(median, sigma))
    return Profile(
        "wifi-5",
        "Wi-Fi 5 (802.11ac), busy campus",
        "One Wi-Fi hop in a large operational campus network (heavy tail from contention).",
        uplink,
        downlink,
        LossModel.iid(loss_rate.value),
        None,
        (low, q90, q99, down, up, loss_rate),
        "Delay: shift 3 ms + lognormal through p90 and p99 (the source gives no median; the "
        "fitted median is an outcome, about 3.6 ms). Capacity and loss are assumptions.",
    )


def _wifi6() -> Profile:
    q99 = Figure(
        "Wi-Fi 6 latency p99, 80 MHz, with interfering network",
        10 * MS,
        SRC_WIFI6,
        "read",
        "s",
        "delay",
        "reported as 'below 10 ms': the bound is used as p99 (conservative); one-way assumed",
    )
    low = Figure(
        "Wi-Fi 6 minimum latency (shift)", 0.5 * MS, SRC_ASSUMPTION, "assumption", "s", "delay"
    )
    q50 = Figure("Wi-Fi 6 median latency", 2 * MS, SRC_ASSUMPTION, "assumption", "s", "delay")
    down = Figure(
        "802.11ax downlink capacity",
        600 * MBIT,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_down",
        "about half the 1201 Mbit/s PHY rate of 2x2 80 MHz MCS11 (rate recalled); shared medium",
    )
    up = Figure(
        "802.11ax uplink capacity", 300 * MBIT, SRC_ASSUMPTION, "assumption", "bit/s", "capacity_up"
    )
    loss_rate = Figure(
        "residual loss after 802.11 retries", 1e-3, SRC_ASSUMPTION, "assumption", "ratio", "loss"
    )
    median, sigma = fit_lognormal(q50.value - low.value, q99.value - low.value, 0.99)
    uplink, downlink = _symmetric(up.value, down.value, low.value, _lognormal(median, sigma))
    return Profile(
        "wifi-6",
        "Wi-Fi 6 (802.11ax), 80 MHz, with interference",
        "One Wi-Fi 6 hop in a managed network with a neighbouring interferer.",
        uplink,
        downlink,
        LossModel.iid(loss_rate.value),
        None,
        (q99, low, q50, down, up, loss_rate),
        "Only the p99 bound is published here; shift, median, capacity and loss are assumptions.",
    )


def _fiber() -> Profile:
    index = Figure(
        "group index of silica fibre",
        1.47,
        "physics (standard single-mode fibre)",
        "recalled",
        "1",
        "delay",
    )
    per_m = Figure(
        "propagation delay per metre of fibre, 1.47 / c",
        FIBER_S_PER_M,
        SRC_PHYSICS,
        "derived",
        "s/m",
        "delay",
        f"1.47 / c = {index.value / C_M_PER_S:.4g} s/m",
    )
    route = Figure(
        "latency inflation over great-circle distance, Internet paths",
        DEFAULT_ROUTING_FACTOR,
        SRC_BOZKURT,
        "read",
        "1",
        "delay",
        "rule of thumb from earlier measurement campaigns, quoted by the source; "
        "the scenario's distance is multiplied by it (fiber_delay_s)",
    )
    conduit = Figure(
        "median inflation of the shortest conduit paths (US long haul)",
        SHORTEST_CONDUIT_ROUTING_FACTOR,
        SRC_BOZKURT,
        "read",
        "1",
        "delay",
        "a floor for a dedicated, latency-optimised route",
    )
    cap = Figure(
        "access capacity per direction",
        1e9,
        SRC_ASSUMPTION,
        "assumption",
        "bit/s",
        "capacity_up",
        "a typical hospital / ISP gigabit access",
    )
    cap_down = Figure(
        cap.what, cap.value, cap.source, cap.mark, cap.unit, "capacity_down", cap.note
    )
    loss_rate = Figure(
        "loss on a fibre path",
        0.0,
        SRC_ASSUMPTION,
        "assumption",
        "ratio",
        "loss",
        "congestion loss comes from the queues the scenario models",
    )
    none = JitterModel()
    return Profile(
        "fiber",
        "Fibre (wired)",
        "A wired fibre path; its delay is the scenario's distance x routing factor x 4.9 us/km.",
        DirectionProfile(cap.value, 0.0, none),
        DirectionProfile(cap_down.value, 0.0, none),
        LossModel.iid(loss_rate.value),
        None,
        (index, per_m, route, conduit, cap, cap_down, loss_rate),
        "delay_s is 0 here: the caller adds fiber_delay_s(distance, routing_factor). No jitter "
        "and no loss: router queueing and congestion are for the scenario to model.",
    )


def _geo() -> Profile:
    alt = Figure("geostationary altitude", GEO_ALTITUDE_M, SRC_HUSTON, "read", "m", "delay")
    nadir = Figure(
        "one-way ground-satellite-ground propagation at nadir, 2h / c",
        2 * alt.value / C_M_PER_S,
        SRC_PHYSICS,
        "derived",
        "s",
        "delay",
        "source: 'a minimum of 239 ms'; 284 ms at the horizon (42,640 km slant)",
    )
    viasat = Figure(
        "latency median, Viasat (Speedtest)", 0.630, SRC_OOKLA_GEO, "secondary", "s", "delay"
    )
    hughes = Figure(
        "latency median, HughesNet (Speedtest)", 0.724, SRC_OOKLA_GEO, "secondary", "s", "delay"
    )
    rtt50 = Figure(
        "GEO RTT median: midpoint of the two services",
        _mid(0.630, 0.724),
        SRC_OOKLA_GEO,
        "derived",
        "s",
        "delay",
    )
    sigma_f = Figure(
        "lognormal sigma of the GEO delay above propagation",
        0.5,
        SRC_ASSUMPTION,
        "assumption",
        "1",
        "delay",
        "no percentile beyond the median was found",
    )
    down = Figure(
        "downlink median, Viasat 18.13 / HughesNet 19.73 Mbit/s, midpoint",
        _mid(18.13, 19.73) * MBIT,
        SRC_OOKLA_GEO,
        "secondary",
        "bit/s",
        "capacity_down",
    )
    up = Figure(
        "uplink median, both services 'less than 3.5 Mbit/s'",
        3.5 * MBIT,
        SRC_OOKLA_GEO,
        "secondary",
        "bit/s",
        "capacity_up",
        "an upper bound used as the value: optimistic",
    )
    loss_rate = Figure(
        "GEO packet loss",
        1e-3,
        SRC_ASSUMPTION,
        "assumption",
        "ratio",
        "loss",
        "rain fade makes real loss bursty",
    )
    shift = nadir.value
    jitter = _lognormal(rtt50.value / 2 - shift, sigma_f.value)
    uplink, downlink = _symmetric(up.value, down.value, shift, jitter)
    return Profile(
        "satellite-geo",
        "GEO satellite broadband",
        "Consumer geostationary broadband (Viasat / HughesNet class), fixed dish.",
        uplink,
        downlink,
        LossModel.iid(loss_rate.value),
        None,
        (alt, nadir, viasat, hughes, rtt50, sigma_f, down, up, loss_rate),
        "Delay: shift = nadir propagation (238.7 ms) + lognormal whose median puts the one-way "
        "median at half the measured RTT median; sigma is an assumption.",
    )


def _leo() -> Profile:
    rtt_min = Figure(
        "Starlink RTT minimum to European anchors",
        0.020,
        SRC_MICHEL,
        "read",
        "s",
        "delay",
        "used (halved) as the shift",
    )
    rtt50 = Figure(
        "Starlink RTT median to European anchors",
        0.050,
        SRC_MICHEL,
        "read",
        "s",
        "delay",
        "'around 50 ms'",
    )
    rtt75 = Figure(
        "Starlink RTT p75 to European anchors",
        0.060,
        SRC_MICHEL,
        "read",
        "s",
        "delay",
        "p25 40 ms (not fitted: the fit gives 42.5 ms)",
    )
    down = Figure(
        "Starlink downlink median (Speedtest, Maine)",
        116.77 * MBIT,
        SRC_OOKLA_STARLINK,
        "read",
        "bit/s",
        "capacity_down",
        "p10 22.81, p90 250.96 Mbit/s",
    )
    up = Figure(
        "Starlink uplink median (Speedtest, Maine)",
        18.17 * MBIT,
        SRC_OOKLA_STARLINK,
        "read",
        "bit/s",
        "capacity_up",
        "p10 6.79, p90 27.17 Mbit/s",
    )
    loss_rate = Figure(
        "Starlink packet loss",
        0.01,
        SRC_ASSUMPTION,
        "assumption",
        "ratio",
        "loss",
        "real loss comes in bursts at satellite handovers (Kassem et al.)",
    )
    burst = Figure(
        "Starlink loss bursts, up to 50 % at satellite handovers",
        0.5,
        SRC_KASSEM,
        "read",
        "ratio",
        "loss",
        "qualitative: not used in the iid model",
    )
    shift = rtt_min.value / 2
    median, sigma = fit_lognormal(rtt50.value / 2 - shift, rtt75.value / 2 - shift, 0.75)
    uplink, downlink = _symmetric(up.value, down.value, shift, _lognormal(median, sigma))
    return Profile(
        "satellite-leo",
        "LEO satellite (Starlink), fixed dish",
        "Starlink residential service, stationary dish, Europe / US measurements 2022-2024.",
        uplink,
        downlink,
        LossModel.iid(loss_rate.value),
        None,
        (rtt_min, rtt50, rtt75, down, up, loss_rate, burst),
        "Delay: shift = half the minimum RTT + lognormal through half the RTT median and p75; "
        "the tail beyond p75 is extrapolated and ignores the 15 s reconfiguration spikes. "
        "In-motion (vehicle) Starlink is markedly worse than these stationary figures.",
    )


def _build() -> dict[str, Profile]:
    nsa = _nsa()
    nsa_loss_figures = nsa.figures_for("loss")
    builders: list[Callable[[], Profile]] = [
        _lte,
        lambda: nsa,
        _sa,
        lambda: _mmwave(nsa.loss, nsa_loss_figures),
        _urllc,
        _wifi5,
        _wifi6,
        _fiber,
        _geo,
        _leo,
    ]
    profiles = [b() for b in builders]
    return {p.name: p for p in profiles}


#: The built-in profiles, by name, in the documented order.
PROFILES: dict[str, Profile] = _build()


def profile_names() -> tuple[str, ...]:
    """Names of the built-in profiles, in order."""
    return tuple(PROFILES)


def get_profile(name: str) -> Profile:
    """The built-in profile called ``name``.

    Raises
    ------
    KeyError
        If there is no such profile; the message lists the names.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(
            f"no link profile {name!r}; built-in profiles: {', '.join(PROFILES)}"
        ) from None
