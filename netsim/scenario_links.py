"""Compile one ``network.links`` entry into a :class:`~netsim.plan.LinkSpec`.

A link starts from its profile (if it names one, for its ``direction``), then takes the fields
the file gives: these override the profile. ``distance`` adds the propagation of a fibre path
(netsim.profiles.fiber_delay_s). ``trace`` reads a capacity trace relative to the scenario
file's folder; ``radio`` describes a mobile endpoint (compiled to a RadioSpec here and run by
netsim.radiolink when the run starts). Every problem raises a one-line ScenarioError at the
field's line; problems inside a trace file name the trace file and its line.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .capacity import OpportunitySchedule, RateSchedule, ServiceCurve
from .errors import ScenarioError
from .mobility import Route, sites_along_road
from .plan import HandoverSpec, LinkSpec, RadioSpec, RouteSpec
from .profiles import DEFAULT_ROUTING_FACTOR, PROFILES, Profile, fiber_delay_s
from .radio import DOWNLINK_LTE, NR_MAX_BPS_PER_HZ_64QAM, UPLINK_LTE
from .scenario_format import LinkEntry
from .scenario_radio import RadioEntry, SitesEntry, TraceEntry
from .traces import read_mahimahi, read_throughput_csv
from .yamlsource import DocPath

__all__ = ["compile_link"]

Error = Callable[[DocPath, str], ScenarioError]

# Defaults by direction when the file does not say (docs/links.md cites them):
# UE power class 3, 23 dBm (3GPP TS 38.101-1 §6.2.1); macro BS 46 dBm for 20 MHz and noise
# figures of 5 dB (BS) and 9 dB (UE) as in the simulation assumptions of TR 36.942 [recalled].
TX_POWER_DBM = {"uplink": 23.0, "downlink": 46.0}
NOISE_FIGURE_DB = {"uplink": 5.0, "downlink": 9.0}
# netsim.mobility.Route names its arguments in SI; errors show the scenario's names.
INTERNAL_NAMES = (("times_s", "times"), ("speed_mps", "speed"), ("waypoints_m", "points"))


def compile_link(name: str, entry: LinkEntry, error: Error, base_dir: Path) -> LinkSpec:
    """The LinkSpec of ``network.links.<name>``."""
    here: DocPath = ("network", "links", name)
    given = entry.model_fields_set
    profile = _profile(entry, here, error)
    if entry.direction is not None and profile is None and entry.radio is None:
        raise error(
            (*here, "direction"), "direction applies to a profile or a radio; remove it or add one"
        )
    if (profile is not None or entry.radio is not None) and entry.direction is None:
        what = f"profile {entry.profile}" if profile is not None else "a radio link"
        raise error(
            (*here, "profile" if profile else "radio"),
            f"{what} needs direction: uplink or downlink",
        )
    side = None
    if profile is not None:
        side = profile.uplink if entry.direction == "uplink" else profile.downlink
    capacity = entry.capacity if "capacity" in given or side is None else side.capacity_bps
    delay = entry.delay if "delay" in given or side is None else side.delay_s
    jitter = entry.jitter if "jitter" in given or side is None else side.jitter
    loss = entry.loss if "loss" in given or profile is None else profile.loss

    if entry.routing_factor is not None and entry.distance is None:
        raise error((*here, "routing_factor"), "routing_factor applies to a distance; add one")
    if entry.distance is not None:
        factor = entry.routing_factor or DEFAULT_ROUTING_FACTOR
        delay += fiber_delay_s(entry.distance, factor)

    curve: ServiceCurve | None = None
    if entry.trace is not None:
        for other in ("capacity", "radio"):
            if other in given:
                raise error((*here, "trace"), f"give either trace or {other}, not both")
        curve = _read_trace(entry.trace, here, error, base_dir)
        if isinstance(curve, OpportunitySchedule) and entry.outages:
            raise error((*here, "outages"), "outages do not combine with a Mahimahi trace")
    radio = None
    if entry.radio is not None:
        if "capacity" in given:
            raise error(
                (*here, "capacity"),
                "a radio link's capacity comes from its radio; remove capacity (or use share)",
            )
        radio = _radio(entry.radio, entry.direction or "uplink", profile, (*here, "radio"), error)
        capacity = math.inf  # unused: the radio's curve sets the capacity
    outages = tuple((o.start, o.start + o.duration) for o in entry.outages)
    return LinkSpec(
        name=name,
        capacity_bps=capacity,
        delay_s=delay,
        jitter=jitter,
        loss=loss,
        buffer_limit=entry.buffer[0],
        buffer_kind=entry.buffer[1],
        curve=curve,
        radio=radio,
        outages=outages,
        profile=entry.profile,
    )


def _profile(entry: LinkEntry, here: DocPath, error: Error) -> Profile | None:
    if entry.profile is None:
        return None
    if entry.profile not in PROFILES:
        close = difflib.get_close_matches(entry.profile, list(PROFILES), n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise error(
            (*here, "profile"),
            f"unknown profile {entry.profile!r}{hint} (profiles: {', '.join(PROFILES)})",
        )
    return PROFILES[entry.profile]


def _read_trace(trace: TraceEntry, here: DocPath, error: Error, base_dir: Path):
    path = Path(trace.file)
    if not path.is_absolute():
        path = base_dir / path
    try:
        if trace.format == "csv":
            data = read_throughput_csv(path)
            return RateSchedule(data.t_s, data.rate_bps, data.period_s)
        data = read_mahimahi(path)
        return OpportunitySchedule(data.opportunity_times_s(), data.period_s)
    except ScenarioError as exc:
        if exc.line is None:  # the file itself: point at the scenario's field
            raise error((*here, "trace"), f"trace {str(path)!r}: {exc.message}") from None
        field = ".".join(str(p) for p in (*here, "trace"))
        raise ScenarioError(exc.message, exc.file, exc.line, field) from None


def _radio(
    radio: RadioEntry, direction: str, profile: Profile | None, here: DocPath, error: Error
) -> RadioSpec:
    route = radio.route
    if route.length is not None:
        waypoints = ((0.0, 0.0), (route.length, 0.0))
    else:
        waypoints = tuple((float(x), float(y)) for x, y in route.points or ())
    times = tuple(route.times) if route.times is not None else None
    try:
        Route(
            np.asarray(waypoints),
            speed_mps=route.speed,
            times_s=None if times is None else np.asarray(times),
        )
    except ValueError as exc:
        message = str(exc)
        for inner, outer in (
            ("times_s", "times"),
            ("speed_mps", "speed"),
            ("waypoints_m", "points"),
        ):
            message = message.replace(inner, outer)
        raise error((*here, "route"), message) from None
    if isinstance(radio.sites, SitesEntry):
        xs = np.asarray(waypoints)[:, 0]
        spec = radio.sites
        first = spec.first if spec.first is not None else spec.spacing / 2
        length = max(float(xs.max()), first)  # sites from `first` to the road's end
        sites = sites_along_road(length, spec.spacing, spec.offset, first_m=first, side=spec.side)
        sites_m = tuple((float(x), float(y)) for x, y in sites)
    else:
        sites_m = tuple((float(x), float(y)) for x, y in radio.sites)
    mapping = UPLINK_LTE if direction == "uplink" else DOWNLINK_LTE
    alpha, sinr_min, max_eff = mapping.alpha, mapping.sinr_min_db, mapping.max_bps_per_hz
    if direction == "downlink" and profile is not None and profile.name.startswith("5g"):
        max_eff = NR_MAX_BPS_PER_HZ_64QAM
    if radio.efficiency is not None:
        alpha, sinr_min = radio.efficiency.alpha, radio.efficiency.min_sinr
        max_eff = radio.efficiency.max
    ho = radio.handover
    interruption = ho.interruption
    if interruption is None:
        interruption = (profile.handover if profile is not None else None) or "lte"
    handover = HandoverSpec(
        hysteresis_db=ho.hysteresis,
        time_to_trigger_s=ho.time_to_trigger,
        offset_db=ho.offset,
        interruption=interruption if isinstance(interruption, str) else "fixed",
        interruption_s=None if isinstance(interruption, str) else float(interruption),
        during=ho.during,
    )
    return RadioSpec(
        route=RouteSpec(waypoints, speed_mps=route.speed, times_s=times),
        sites_m=sites_m,
        environment=radio.environment,
        condition=radio.condition,
        direction=direction,  # type: ignore[arg-type]
        carrier_ghz=radio.carrier / 1e9,
        bandwidth_hz=radio.bandwidth,
        tx_power_dbm=radio.tx_power if radio.tx_power is not None else TX_POWER_DBM[direction],
        noise_figure_db=(
            radio.noise_figure if radio.noise_figure is not None else NOISE_FIGURE_DB[direction]
        ),
        antenna_gain_db=radio.antenna_gain,
        h_bs_m=radio.base_station_height,
        h_ut_m=radio.ue_height,
        shadowing=radio.shadowing,
        vehicle_penetration=radio.vehicle_penetration,
        share=radio.share,
        interference_load=radio.interference_load,
        alpha=alpha,
        sinr_min_db=sinr_min,
        max_bps_per_hz=max_eff,
        step_s=radio.step,
        rlf_after_s=radio.radio_link_failure,
        handover=handover,
    )
