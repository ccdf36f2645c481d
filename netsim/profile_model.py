"""The profile model: figures with their sources, profiles, and the fits that turn measured
percentiles into link parameters (netsim.profiles has the catalogue and the story)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.special import ndtri

from .plan import JitterModel, LossModel

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
