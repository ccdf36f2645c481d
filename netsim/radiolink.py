"""A radio link to a mobile endpoint: route -> path loss -> serving cell -> capacity timeline.

For one link direction with a :class:`~netsim.plan.RadioSpec`, sampled every ``step_s`` over
the run:

1. the endpoint's position along its route (netsim.mobility);
2. per site, path loss by 3GPP TR 38.901 (UMa, UMi street canyon, RMa; LOS or NLOS), shadow
   fading correlated along the distance travelled (Gudmundson's exponential model with the
   standard's correlation distance), and one vehicle penetration loss for the run
   (TR 38.901 §7.4.3.2) (netsim.radio);
3. the serving site by A3 with hysteresis and time-to-trigger (netsim.handover);
4. SINR at the serving site, then spectral efficiency by the truncated Shannon mapping of
   TR 36.942 Annex A.1; capacity = bandwidth x efficiency x ``share``;
5. every handover interrupts the link for a duration drawn from the measured distribution
   of its kind (Hassan et al., SIGCOMM 2022): the capacity is 0 meanwhile, and packets wait
   (``during: buffer``, lossless handover with data forwarding, 3GPP TS 36.300 §10.1.2.1 and
   TS 38.300 §9.2.3) or, with ``during: drop``, those reaching the link are lost;
6. below ``sinr_min_db`` the efficiency is 0 and the link serves nothing (packets wait, as
   HARQ and RLC keep them); a coverage gap lasting ``rlf_after_s`` (T310, 1 s by default in
   3GPP TS 36.331) is a radio link failure: an outage event, and from then until coverage
   returns the packets reaching the link are lost.

Simpler than reality, on purpose (docs/links.md lists it all): the capacity holds for a
whole step; the uplink sees thermal noise only (no interference from other cells' users,
which this geometry cannot place), the downlink sees the other sites at
``interference_load``; LOS/NLOS is fixed for the run; no fast fading (the efficiency mapping
averages over it); no handover failures or radio-link-failure timers; the base delay does
not change with the radio state, only the queueing the capacity causes.
"""

from __future__ import annotations

import numpy as np

from .capacity import RateSchedule, zero_during
from .handover import INTERRUPTIONS, fixed, select_serving
from .mobility import Route, distances_2d
from .plan import RadioSpec
from .radio import (
    ShannonMapping,
    correlated_shadowing_db,
    correlation_distance_m,
    path_loss_db,
    shadow_fading_sigma_db,
    sinr_db,
    thermal_noise_dbm,
    vehicle_penetration_loss_db,
)
from .rng import component_rng
from .timeline import IntervalSet, LinkEvent

__all__ = ["radio_dynamics", "RadioTrace", "radio_trace"]

TIME_CHUNK = 1 << 18
"""Samples per stretch of one site's path-loss formulas: 2 MB per temporary (2^14 samples
took 0.3 s longer on the one-hour route, more calls for the same work)."""

SINR_CELLS = 1 << 21
"""Sites x samples per stretch of the SINR formula: 16 MB per temporary. Measured on
this machine (one-hour route, 24 sites): 2^19 and 2^23 cells fault in fresh pages at every
stretch (340,000 page faults, 0.8-1.0 s of system time), 2^21 reuses them (27,000).
"""


class RadioTrace:
    """The sampled radio state of one run (for plots, tests and the events)."""

    def __init__(self, t_s, serving, sinr_db, rate_bps, handover_t_s, from_site, to_site):
        self.t_s = t_s
        self.serving = serving
        self.sinr_db = sinr_db
        self.rate_bps = rate_bps
        self.handover_t_s = handover_t_s
        self.from_site = from_site
        self.to_site = to_site


def route_of(spec: RadioSpec) -> Route:
    """The :class:`~netsim.mobility.Route` a spec describes."""
    route = spec.route
    return Route(
        np.asarray(route.waypoints_m, dtype=np.float64),
        speed_mps=route.speed_mps,
        times_s=None if route.times_s is None else np.asarray(route.times_s, dtype=np.float64),
    )


def radio_trace(spec: RadioSpec, seed: int, link: str, horizon_s: float) -> RadioTrace:
    """Sample the radio state over [0, ``horizon_s``) every ``spec.step_s`` seconds."""
    route = route_of(spec)
    t = np.arange(0.0, horizon_s, spec.step_s)
    x, y = route.position(t)
    sites = np.asarray(spec.sites_m, dtype=np.float64).reshape(-1, 2)
    los = spec.condition == "los"
    travelled = route.distance_travelled(t) if spec.shadowing else None
    penetration_db = 0.0
    if spec.vehicle_penetration:
        rng = component_rng(seed, "link", link, "radio", "penetration")
        penetration_db = float(vehicle_penetration_loss_db(rng))
    # One site at a time, a stretch of samples at a time, so that the temporaries of the
    # path-loss formulas stay TIME_CHUNK samples long: memory is the (sites x samples) array
    # of received power, one site's shadowing, and the per-sample traces. Every formula is
    # per sample, so the chunks give the same values as the whole route at once.
    base_dbm = spec.tx_power_dbm + spec.antenna_gain_db - penetration_db
    rx_dbm = np.empty((sites.shape[0], t.size))
    corr = correlation_distance_m(spec.environment, los) if travelled is not None else None
    for row, (sx, sy) in enumerate(sites):
        shadow = None
        if travelled is not None:
            # Each site's shadowing is named by its position: adding a site changes no other
            # site's fading (common random numbers between variants of a scenario).
            rng = component_rng(seed, "link", link, "radio", "shadowing", f"{sx:.3f},{sy:.3f}")
            shadow = correlated_shadowing_db(rng, travelled, 1.0, corr)
        for a in range(0, t.size, TIME_CHUNK):
            b = min(a + TIME_CHUNK, t.size)
            d2d = distances_2d(sites[row : row + 1], x[a:b], y[a:b])
            loss = path_loss_db(
                spec.environment,
                d2d,
                fc_ghz=spec.carrier_ghz,
                h_bs_m=spec.h_bs_m,
                h_ut_m=spec.h_ut_m,
                los=los,
            )
            if shadow is not None:
                # sigma per sample (RMa LOS changes it at the breakpoint distance)
                sigma = np.broadcast_to(
                    shadow_fading_sigma_db(
                        spec.environment,
                        los,
                        d2d,
                        fc_ghz=spec.carrier_ghz,
                        h_bs_m=spec.h_bs_m,
                        h_ut_m=spec.h_ut_m,
                    ),
                    d2d.shape,
                )
                loss[0] += shadow[a:b] * sigma[0]
            rx_dbm[row, a:b] = base_dbm - loss[0]
        del shadow
    trace = select_serving(
        rx_dbm,
        t,
        spec.handover.hysteresis_db,
        spec.handover.time_to_trigger_s,
        offset_db=spec.handover.offset_db,
    )
    noise = thermal_noise_dbm(spec.bandwidth_hz, spec.noise_figure_db)
    load = spec.interference_load if spec.direction == "downlink" else 0.0
    sinr = np.empty(t.size)
    step = max(1, SINR_CELLS // sites.shape[0])
    for a in range(0, t.size, step):  # per sample: stretches give the same values
        b = min(a + step, t.size)
        sinr[a:b] = sinr_db(rx_dbm[:, a:b], trace.serving[a:b], noise, load=load)
    mapping = ShannonMapping(spec.alpha, spec.sinr_min_db, spec.max_bps_per_hz)
    rate = spec.bandwidth_hz * mapping.spectral_efficiency(sinr) * spec.share
    return RadioTrace(
        t, trace.serving, sinr, rate, trace.handover_t_s, trace.from_site, trace.to_site
    )


def _stretches(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last sample index of each run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def radio_dynamics(
    spec: RadioSpec, seed: int, link: str, horizon_s: float
) -> tuple[RateSchedule, IntervalSet, list[LinkEvent]]:
    """The capacity curve, refusals and events of a radio link for one run."""
    trace = radio_trace(spec, seed, link, horizon_s)
    t = trace.t_s
    events: list[LinkEvent] = []

    # Coverage gaps (no usable SINR) serve nothing; those lasting rlf_after_s are outages.
    first, last = _stretches(trace.rate_bps <= 0.0)
    gap_start = t[first]
    gap_end = np.where(last < t.size, t[np.minimum(last, t.size - 1)], horizon_s)
    failed = gap_end - gap_start >= spec.rlf_after_s
    for start, end in zip(gap_start[failed].tolist(), gap_end[failed].tolist(), strict=True):
        events.append(LinkEvent(start, "outage", end - start))

    # Handover interruptions.
    handover = spec.handover
    model = (
        fixed(handover.interruption_s)
        if handover.interruption_s is not None
        else INTERRUPTIONS[handover.interruption]
    )
    rng = component_rng(seed, "link", link, "radio", "interruption")
    ho_t = np.asarray(trace.handover_t_s, dtype=np.float64)
    duration = model.draw(rng, ho_t.size) if ho_t.size else np.empty(0)
    for when, length, a, b in zip(
        ho_t.tolist(), duration.tolist(), trace.from_site, trace.to_site, strict=True
    ):
        events.append(LinkEvent(when, "handover", length, f"site {int(a)} -> site {int(b)}"))
    interruptions = IntervalSet.merged(ho_t, ho_t + duration)
    outages = IntervalSet.merged(gap_start[failed] + spec.rlf_after_s, gap_end[failed])

    silent = IntervalSet.union(interruptions, IntervalSet.merged(gap_start, gap_end))
    curve = zero_during(RateSchedule(t, trace.rate_bps), silent.start_s, silent.end_s, horizon_s)
    refuse = outages if handover.during == "buffer" else IntervalSet.union(outages, interruptions)
    events.sort(key=lambda event: event.t_s)
    return curve, refuse, events
