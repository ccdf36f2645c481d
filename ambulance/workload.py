"""The ambulance workload: an ``ambulance:`` section compiled into netsim links, streams, budgets.

For each modem: an uplink radio link along the route (its profile, its cells, handovers;
netsim.radiolink) followed by a fibre link from that operator's core to the hospital. The
payload's streams (ambulance.payload) take the modems as the policy says:

- ``single``: every stream on the first modem;
- ``duplicate``: the roles listed in ``duplicate`` on every modem (copies with one source,
  merged first-copy-wins), the others on the first;
- ``failover``: every stream on the first modem while it is up, on the second while the
  first is down (from ``failover_detect`` after its outage starts).

Budgets are the default ambulance set (ambulance.budgets) with the section's overrides, on
the logical streams (``vitals``, ``ecg``, ``video``, ``voice``; ``video-2``... for more
cameras). The workload also reports, per km of the route, latency, loss, outage time and
handovers (results.json ``workloads.ambulance.per_km``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from netsim.errors import ScenarioError
from netsim.mobility import Route
from netsim.plan import AudioSpec, BudgetSpec, LinkSpec, RouteSpec, StreamGate, StreamSpec
from netsim.presets import parse_overrides
from netsim.scenario_format import LinkEntry
from netsim.scenario_links import compile_link
from netsim.scenario_transport import video_spec, webrtc_streams
from netsim.workloads import Expansion, WorkloadContext, entry_error_message

from .budgets import DEFAULTS, apply_overrides, default_budgets
from .cells import (
    DEFAULT_SPACING_M,
    explicit_sites,
    site_positions,
    sites_along_route,
    sites_around_route,
)
from .payload import PRESETS, stream_spec
from .route import read_track, route_spec
from .scenario import AmbulanceSection, ModemSection

__all__ = ["WORKLOAD", "AmbulanceWorkload"]

CAMERA_PRESETS = {"1080p30": "camera_1080p30", "4k30": "camera_4k30", "4k60": "camera_4k60"}
PRESET_ROUTES = Path(__file__).resolve().parent / "routes"

# Cell defaults per profile, calibrated so that the radio model's median uplink capacity on
# the urban route (40 km/h, UMa NLOS, vehicle penetration) falls in the measured range the
# profile cites (tests/test_ambulance.py checks it):
# - 5G (sub-6): 3.5 GHz; 30 MHz of uplink, i.e. a 100 MHz TDD carrier with about 30 % of its
#   slots uplink (an assumption: a common 7:3 pattern); the whole cell (share 1) because the
#   cited medians are single-device tests. Median 41 Mbit/s against 32-63 measured while
#   driving (CoNEXT 2025 5G SA study data).
# - LTE: 1.9 GHz, 10 MHz FDD uplink, a quarter of the cell (a loaded cell); sites every
#   600 m (Hassan et al. measured an LTE handover every ~559 m). Median 5 Mbit/s against
#   2.5-7.5 Mbit/s US operator averages (OpenSignal, 2018).
CELL_DEFAULTS: dict[str, dict[str, float]] = {
    "5g": {"carrier": 3.5e9, "bandwidth": 30e6, "share": 1.0, "spacing": 500.0},
    "4g": {"carrier": 1.9e9, "bandwidth": 10e6, "share": 0.25, "spacing": 600.0},
    "5g-mmwave": {"carrier": 28e9, "bandwidth": 100e6, "share": 1.0, "spacing": 150.0},
}


def cell_defaults(profile: str) -> dict[str, float]:
    """The cell defaults for a modem's profile (5G, mmWave or LTE; else the 5G ones)."""
    if profile in CELL_DEFAULTS:
        return CELL_DEFAULTS[profile]
    return CELL_DEFAULTS["4g" if profile.startswith("4g") else "5g"]


PRESET_FILES = {"urban": "urban.geojson", "highway": "highway.gpx", "rural": "rural.geojson"}


class AmbulanceWorkload:
    """The ``ambulance`` workload (entry point ``medlink.workloads``)."""

    name = "ambulance"
    model = AmbulanceSection

    def expand(self, section: AmbulanceSection, context: WorkloadContext) -> Expansion:
        route, origin = _route(section, context)
        links: dict[str, LinkSpec] = {}
        paths: list[tuple[str, ...]] = []
        for i, modem in enumerate(section.modems):
            radio, core = f"{modem.name}-up", f"{modem.name}-core"
            if modem.profile.startswith("satellite"):
                # A satellite terminal on the roof: the profile's link, no cells or handovers.
                entry = {"profile": modem.profile, "direction": "uplink", "buffer": modem.buffer}
                links[radio] = _plain_link(radio, entry, ("modems", i), context)
            else:
                links[radio] = _radio_link(radio, modem, route, origin, ("modems", i), context)
            fibre = LinkEntry.model_validate(
                {
                    "profile": "fiber",
                    "direction": "uplink",
                    "distance": _q(section.hospital.distance, "m"),
                }
            )
            links[core] = compile_link(core, fibre, _error(context, ("hospital",)), Path("."))
            paths.append((radio, core))
        streams, roles = _streams(section, paths, links)
        if section.payload.edge_ai is not None:
            edge = section.payload.edge_ai
            node = f"{edge.where}-compute"
            delay = edge.compute + edge.distance * 4.9e-9 * (2.1 if edge.distance else 1.0)
            links[node] = LinkSpec(node, delay_s=delay)
            streams.append(stream_spec(PRESETS["edge_ai"], "edge-ai", (paths[0][0], node)))
        logical = [n for names in roles.values() for n in names]
        overrides = _overrides(section, context)
        table = apply_overrides(DEFAULTS, overrides) if overrides else DEFAULTS
        budgets = default_budgets(roles, table)
        if _webrtc(section):
            budgets = [_as_webrtc_budget(b, streams) for b in budgets]
        return Expansion(
            links=links,
            streams=streams,
            budgets=budgets,
            metrics=lambda results: {"per_km": per_km(results, route, logical)},
            tap=lambda: PerKmTap(route, logical),
        )


WORKLOAD = AmbulanceWorkload()


def _error(context: WorkloadContext, path: tuple):
    def make(sub: tuple, message: str) -> ScenarioError:
        return context.error((*path, *sub[3:]), message)

    return make


def _route(
    section: AmbulanceSection, context: WorkloadContext
) -> tuple[RouteSpec, tuple[float, float]]:
    """The route in metres, and its origin (lat, lon) for sites given in degrees."""
    spec = section.route
    if spec.preset is not None or spec.file is not None:
        if spec.preset is not None:
            path = PRESET_ROUTES / PRESET_FILES[spec.preset]
        else:
            path = Path(spec.file or "")
            if not path.is_absolute():
                path = context.base_dir / path
        try:
            track = read_track(path)
        except ScenarioError as exc:
            if exc.line is None:
                raise context.error(("route", "file"), f"{path}: {exc.message}") from None
            raise
    else:
        from .route import GeoTrack

        lat = np.array([p[0] for p in spec.waypoints or ()])
        lon = np.array([p[1] for p in spec.waypoints or ()])
        track = GeoTrack(lat, lon, None, context.filename)
    segments = None if spec.segment_speeds is None else np.array(spec.segment_speeds)
    origin = (float(track.lat_deg[0]), float(track.lon_deg[0]))
    try:
        return route_spec(track, speed_mps=spec.speed, segment_speeds_mps=segments), origin
    except ScenarioError as exc:
        raise context.error(("route",), exc.message) from None
    except ValueError as exc:
        raise context.error(("route",), str(exc)) from None


def _radio_link(
    name: str,
    modem: ModemSection,
    route: RouteSpec,
    origin: tuple[float, float],
    where: tuple,
    context: WorkloadContext,
) -> LinkSpec:
    cells = modem.cells
    defaults = cell_defaults(modem.profile)
    spacing = cells.spacing or (
        defaults["spacing"] if cells.environment == "uma" else DEFAULT_SPACING_M[cells.environment]
    )
    carrier = cells.carrier if cells.carrier is not None else defaults["carrier"]
    bandwidth = cells.bandwidth if cells.bandwidth is not None else defaults["bandwidth"]
    share = cells.share if cells.share is not None else defaults["share"]
    height = cells.base_station_height
    if cells.sites is not None:
        try:
            listed = explicit_sites(cells.sites, origin, source=context.filename)
        except ScenarioError as exc:
            raise context.error((*where, "cells", "sites"), exc.message) from None
        sites = site_positions(listed)
        heights = [s.height_m for s in listed if s.height_m is not None]
        if height is None and heights:
            height = float(np.mean(heights))  # one height per modem (docs/ambulance.md)
    elif cells.layout == "around":
        sites = sites_around_route(
            np.asarray(route.waypoints_m), spacing, margin_m=max(cells.margin, spacing / 2)
        )
    else:
        sites = sites_along_route(
            np.asarray(route.waypoints_m),
            spacing,
            cells.offset,
            first_m=cells.first,
            side=cells.side,
        )
    radio: dict[str, Any] = {
        "route": {
            "points": [[_q(x, "m"), _q(y, "m")] for x, y in route.waypoints_m],
            "times": [_q(t, "s") for t in route.times_s or ()],
        },
        "sites": [[_q(x, "m"), _q(y, "m")] for x, y in sites],
        "environment": cells.environment,
        "condition": cells.condition,
        "carrier": _q(carrier, "Hz"),
        "bandwidth": _q(bandwidth, "Hz"),
        "share": share,
        "interference_load": cells.interference_load,
        "handover": modem.handover.model_dump(exclude_unset=True, exclude_defaults=False),
    }
    if cells.tx_power is not None:
        radio["tx_power"] = _q(cells.tx_power, "dBm")
    if cells.antenna_gain is not None:
        radio["antenna_gain"] = _q(cells.antenna_gain, "dB")
    if height is not None:
        radio["base_station_height"] = _q(height, "m")
    _handover_strings(radio["handover"])
    entry = {
        "profile": modem.profile,
        "direction": "uplink",
        "buffer": modem.buffer,
        "radio": radio,
    }
    try:
        link = LinkEntry.model_validate(entry)
    except Exception as exc:  # a profile or buffer the user wrote wrong
        raise context.error(where, f"modem {modem.name!r}: {entry_error_message(exc)}") from None
    return compile_link(name, link, lambda path, message: context.error(where, message), Path("."))


def _plain_link(name: str, entry: dict, where: tuple, context: WorkloadContext) -> LinkSpec:
    try:
        link = LinkEntry.model_validate(entry)
    except Exception as exc:
        raise context.error(where, f"{name}: {entry_error_message(exc)}") from None
    return compile_link(name, link, lambda path, message: context.error(where, message), Path("."))


def _q(value: float, unit: str) -> str:
    """A quantity as the scenario format writes it, exactly (repr of the float)."""
    return f"{float(value)!r}{unit}"


def _handover_strings(handover: dict) -> None:
    """HandoverEntry values are SI floats once validated; give them back their units."""
    units = {"hysteresis": "dB", "offset": "dB", "time_to_trigger": "s"}
    for key, unit in units.items():
        if key in handover:
            handover[key] = f"{handover[key]!r}{unit}"
    if isinstance(handover.get("interruption"), float):
        handover["interruption"] = _q(handover["interruption"], "s")
    elif handover.get("interruption") is None:
        handover.pop("interruption", None)


def _streams(
    section: AmbulanceSection, paths: list[tuple[str, ...]], links: dict[str, LinkSpec]
) -> tuple[list[StreamSpec], dict[str, list[str]]]:
    payload = section.payload
    wanted: list[tuple[str, str, str]] = []  # (role, logical stream name, preset)
    cameras: dict[str, str] = {}
    camera_of = cameras.get
    if payload.monitor:
        wanted.append(("vitals", "vitals", "monitor"))
    if payload.ecg is not None:
        wanted.append(("ecg", "ecg", payload.ecg))
    for k, camera in enumerate(payload.cameras):
        name = "video" if k == 0 else f"video-{k + 1}"
        cameras[name] = camera
        wanted.append(("video", name, CAMERA_PRESETS[camera]))
    if payload.voice:
        wanted.append(("voice", "voice", "voice"))
    streams: list[StreamSpec] = []
    roles: dict[str, list[str]] = {}
    for role, name, preset_name in wanted:
        preset = PRESETS[preset_name]
        roles.setdefault(role, []).append(name)
        if section.policy == "duplicate" and role in section.duplicate and len(paths) > 1:
            for modem, path in zip(section.modems, paths, strict=True):
                copy = stream_spec(preset, f"{name}@{modem.name}", path)
                streams.append(_copy(copy, name))
        elif section.policy == "failover":
            primary, backup = section.modems[0], section.modems[1]
            detect = section.failover_detect
            watch = paths[0][0]
            up = _copy(stream_spec(preset, f"{name}@{primary.name}", paths[0]), name)
            down = _copy(stream_spec(preset, f"{name}@{backup.name}", paths[1]), name)
            streams.append(_gated(up, StreamGate(watch, "up", detect)))
            streams.append(_gated(down, StreamGate(watch, "down", detect)))
        elif _webrtc(section):
            streams.extend(_as_webrtc(stream_spec(preset, name, paths[0]), preset, camera_of(name)))
        else:
            streams.append(stream_spec(preset, name, paths[0]))
    return streams, roles


def _as_webrtc_budget(budget: BudgetSpec, streams: list[StreamSpec]) -> BudgetSpec:
    """A default budget judged on what the clinician receives, where WebRTC changes it.

    Vitals and ECG budgets state when a reading must be in the clinician's hands: on a data
    channel they judge messages (latency to delivery, messages never delivered), not packets
    the channel retransmits. Voice latency (ITU-T G.114) is mouth-to-ear: the Opus frame's
    capture to playout, jitter buffer included. Video budgets stay on packets: their sources
    give one-way network figures.
    """
    kind = next(s.transport.kind for s in streams if s.name == budget.stream and s.transport)
    mapping = {
        "datachannel": {"latency": "message_latency", "loss": "message_loss"},
        "webrtc-audio": {"latency": "frame_latency"},
    }.get(kind, {})
    metric = mapping.get(budget.metric)
    return budget if metric is None else replace(budget, metric=metric)


def _webrtc(section: AmbulanceSection) -> bool:
    """Whether the streams travel as WebRTC sessions (policy single, unless told packets)."""
    return section.policy == "single" and section.transport != "packets"


def _as_webrtc(spec: StreamSpec, preset, camera: str | None) -> list[StreamSpec]:
    """A payload stream as WebRTC: video at its camera's bit rate (the encoder's start and
    ceiling; GCC may lower it), Opus voice, vitals and ECG on reliable ordered channels.
    Feedback returns over the ideal mirror: the ambulance models the uplink only."""
    if preset.transport == "rtp-video":
        video = video_spec(
            f"{camera or '1080p30'}-h264",
            bitrate_bps=preset.payload_bit_rate_bps,
            max_bitrate_bps=preset.payload_bit_rate_bps,
        )
        return webrtc_streams(spec, "rtp-video", video=video)
    if preset.transport == "rtp-audio":
        audio = AudioSpec(bitrate_bps=preset.payload_bit_rate_bps)
        return webrtc_streams(spec, "rtp-audio", audio=audio)
    return webrtc_streams(spec, "datachannel")


def _copy(spec: StreamSpec, group: str) -> StreamSpec:
    return replace(spec, source=group, group=group)


def _gated(spec: StreamSpec, gate: StreamGate) -> StreamSpec:
    from dataclasses import replace

    return replace(spec, gate=gate)


def _overrides(section, context: WorkloadContext) -> dict:
    return parse_overrides(section.budgets, DEFAULTS, context.error, "role")


_KM_CHUNK = 1 << 20


def _km_of(built: Route, t_send: np.ndarray, n_km: int) -> np.ndarray:
    return np.minimum((built.distance_travelled(t_send) // 1000).astype(np.int64), n_km - 1)


_KM_EDGE_M = 1e-6  # a waypoint this close to a km mark (not on it) could round across it


def _km_monotone(built: Route) -> bool:
    """Whether :func:`_km_of` never decreases over sorted times on this route.

    Within a segment np.interp's ``slope * (t - t_j) + d_j`` only rounds monotonically; at
    a waypoint the value from the segment before can exceed the waypoint's distance by a
    rounding, which changes the km only if that distance lies just below a km mark."""
    km = built._arc_m / 1000.0
    gap = np.abs(km - np.round(km)) * 1000.0
    return not bool(((gap > 0) & (gap < _KM_EDGE_M)).any())


def _km_counts(built: Route, piece: np.ndarray, n_km: int) -> tuple[int, int, np.ndarray]:
    """For sorted send times on a route where :func:`_km_monotone` holds: the first and
    last km of the piece and how many of its packets are in each km between, found by
    bisecting for each km's first packet (evaluating :func:`_km_of` on those packets only,
    not on all of them: the same counts as a bincount of every packet's km)."""
    first, last = (int(k) for k in _km_of(built, piece[[0, -1]], n_km))
    ks = np.arange(first + 1, last + 1)
    lo = np.zeros(ks.size, dtype=np.int64)  # km(piece[lo]) < k
    hi = np.full(ks.size, piece.size - 1, dtype=np.int64)  # km(piece[hi]) >= k
    while ks.size and (hi - lo > 1).any():
        mid = (lo + hi) // 2
        reached = _km_of(built, piece[mid], n_km) >= ks
        hi = np.where(reached, mid, hi)
        lo = np.where(reached, lo, mid)
    return first, last, np.diff(np.concatenate([[0], hi, [piece.size]]))


def _per_km_stream(built: Route, n_km: int, packets: Any) -> dict:
    """One stream's packets sent, loss and latency p99 per km (``packets``: its
    :class:`netsim.columns.StreamPackets`).

    The km of a packet never decreases along the send order (the route's distance does not),
    so each km is a contiguous slice: found a piece of the send times at a time, without an
    array of kms or a mask per km for the whole stream. Any other order takes the masks.
    """
    fate, latency_s = packets.fate, packets.latency_s
    sent = np.zeros(n_km, dtype=np.int64)
    previous = 0
    monotone = True
    bisect = _km_monotone(built)
    for piece in packets.send_pieces():
        if not piece.size:
            continue
        if bisect and bool((piece[1:] >= piece[:-1]).all()):
            first, last, counts = _km_counts(built, piece, n_km)
            if first < previous:
                monotone = False
                break
            previous = last
            sent[first : last + 1] += counts
            continue
        km = _km_of(built, piece, n_km)
        if km[0] < previous or (km[1:] < km[:-1]).any():
            monotone = False
            break
        previous = int(km[-1])
        sent += np.bincount(km, minlength=n_km)
    if monotone:
        bounds = np.concatenate([[0], np.cumsum(sent)]).tolist()
        delivered = np.array(
            [np.count_nonzero(fate[bounds[k] : bounds[k + 1]] == 0) for k in range(n_km)],
            dtype=np.int64,
        )
        at = np.concatenate([[0], np.cumsum(delivered)]).tolist()
        p99 = []
        for k in range(n_km):
            values = latency_s[at[k] : at[k + 1]] * 1e3
            p99.append(float(np.percentile(values, 99)) if values.size else None)
    else:
        ok = fate == 0
        km = _km_of(built, packets.t_send(), n_km)
        sent = np.bincount(km, minlength=n_km)
        delivered = np.bincount(km[ok], minlength=n_km)
        latency = latency_s * 1e3
        p99 = []
        for k in range(n_km):
            values = latency[km[ok] == k]
            p99.append(float(np.percentile(values, 99)) if values.size else None)
    return _per_km_entry(sent, delivered, p99)


def _per_km_entry(sent: np.ndarray, delivered: np.ndarray, p99: list) -> dict:
    loss = [None if s == 0 else float(1 - d / s) for s, d in zip(sent, delivered, strict=True)]
    return {"sent": sent.tolist(), "loss": loss, "latency_p99_ms": p99}


def _built_route(route: RouteSpec) -> tuple[Route, int]:
    built = Route(
        np.asarray(route.waypoints_m),
        speed_mps=route.speed_mps,
        times_s=None if route.times_s is None else np.asarray(route.times_s),
    )
    return built, max(1, int(math.ceil(built.length_m / 1000.0)))


class PerKmTap:
    """The per-km packet figures of a run with ``memory: bounded``, built as its packets
    become final (``netsim.workloads.Expansion.tap``): per stream, packets sent and delivered
    and the p99 latency of each km, exactly as :func:`per_km` computes them from the packets.
    The km never decreases along the send order, so only the current km's latencies are held.
    """

    def __init__(self, route: RouteSpec, logical: list[str]) -> None:
        from netsim.sketch import KeyedPercentile

        self.built, self.n_km = _built_route(route)
        self.names = set(logical)
        self.bins: dict[str, Any] = {}
        self._make = lambda: KeyedPercentile(
            lambda t: _km_of(self.built, t, self.n_km), self.n_km, 99.0
        )

    def add(self, stream: str, t_send, delivered, latency_s) -> None:
        if stream not in self.names:
            return
        if stream not in self.bins:
            self.bins[stream] = self._make()
        self.bins[stream].add(t_send, delivered, latency_s * 1e3)

    def finish(self) -> dict[str, tuple]:
        return {name: bins.finish() for name, bins in self.bins.items()}


def per_km(results: Any, route: RouteSpec, logical: list[str] | None = None) -> dict:
    """Latency, loss, outage time and handovers per km of the route.

    Packets count in the km where the ambulance was when they were sent; events in the km
    where they started (events during the drain are left out, as in the events summary).
    """
    from netsim.columns import stream_packets

    built, n_km = _built_route(route)
    out: dict[str, Any] = {"km": list(range(n_km)), "route_length_km": built.length_m / 1e3}
    streams: dict[str, dict] = {}
    log = results.packets
    if getattr(log, "bounded", False):  # memory: bounded: the tap built the table
        tapped = log.taps["ambulance"]
        empty = np.zeros(n_km, dtype=np.int64)
        for name in logical or list(log.summaries):
            if name in log.summaries:
                sent, delivered, p99 = tapped.get(name, (empty, empty, [None] * n_km))
                streams[name] = _per_km_entry(sent, delivered, list(p99))
    else:
        columns = stream_packets(results.plan, log)
        for name in logical or list(columns):
            if name in columns:
                streams[name] = _per_km_stream(built, n_km, columns[name])
    out["streams"] = streams
    events = results.events
    outage: dict[str, list[float]] = {}
    handovers: dict[str, list[int]] = {}
    if events is not None:
        for t, kind, link, value in zip(
            events.t_s, events.kind, events.link, events.value, strict=True
        ):
            if t >= results.plan.duration_s:  # as the events summary: the run, not the drain
                continue
            k = min(int(built.distance_travelled(np.array([t]))[0] // 1000), n_km - 1)
            if kind == "outage":
                outage.setdefault(link, [0.0] * n_km)[k] += float(value)
            elif kind == "handover":
                handovers.setdefault(link, [0] * n_km)[k] += 1
    out["outage_s"] = outage
    out["handovers"] = handovers
    return out
