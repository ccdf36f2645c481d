"""The ``ambulance:`` section of a scenario file, as pydantic models (netsim's rules apply).

::

    ambulance:
      route: {file: routes/urban.geojson, speed: 40km/h}     # or waypoints: [[lat, lon], ...]
      modems:
        - {name: op-a, profile: 5g-sa, cells: {environment: umi, spacing: 400m}}
        - {name: op-b, profile: 4g-lte, cells: {spacing: 800m, offset: 150m}}
      policy: duplicate            # single | failover | duplicate
      payload: {cameras: [4k30], ecg: ecg12, monitor: true, voice: true}
      hospital: {distance: 20km}
      budgets: {video: {latency_p98: 200ms}}

Quantities take units as everywhere in medlink; errors name the file, line and field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from netsim.scenario_base import SectionModel
from netsim.scenario_radio import HandoverEntry
from netsim.scenario_types import (
    Decibel,
    Frequency,
    Length,
    Name,
    PositiveLength,
    PositiveTime,
    PowerDbm,
    Ratio,
    Speed,
    Time,
    fail,
)

__all__ = ["AmbulanceSection", "RouteSection", "ModemSection", "CellsSection", "PayloadSection"]

Latitude = Annotated[float, Field(ge=-90, le=90, strict=False, description="degrees north")]
Longitude = Annotated[float, Field(ge=-180, le=180, strict=False, description="degrees east")]


class RouteSection(SectionModel):
    """Where the ambulance drives: a GPX or GeoJSON file, or [lat, lon] waypoints."""

    what = "an ambulance route"
    preset: Annotated[
        Literal["urban", "highway", "rural"] | None,
        Field(description="a shipped synthetic route: urban 12 km, highway 40 km, rural 60 km"),
    ] = None
    file: Annotated[Name | None, Field(description=".gpx or .geojson, relative path")] = None
    waypoints: Annotated[
        list[tuple[Latitude, Longitude]] | None, Field(min_length=2, description="[lat, lon]")
    ] = None
    speed: Annotated[Speed | None, Field(description="constant speed; default: GPX times")] = None
    segment_speeds: Annotated[
        list[Speed] | None, Field(description="one speed per segment between waypoints")
    ] = None

    @model_validator(mode="after")
    def _check(self) -> RouteSection:
        given = [k for k in ("preset", "file", "waypoints") if getattr(self, k) is not None]
        if len(given) != 1:
            raise fail("an ambulance route needs one of preset, file or waypoints")
        if self.speed is not None and self.segment_speeds is not None:
            raise fail("give either speed or segment_speeds, not both", "segment_speeds",
                       at_key=True)  # fmt: skip
        if self.waypoints is not None and self.speed is None and self.segment_speeds is None:
            raise fail("waypoints have no times: give a speed (or segment_speeds)")
        return self


class CellsSection(SectionModel):
    """One operator's sites: generated along the route, or listed."""

    what = "cells"
    spacing: Annotated[
        PositiveLength | None, Field(description="between sites; default by environment")
    ] = None
    offset: Annotated[Length, Field(description="from the road")] = "100m"  # type: ignore[assignment]
    first: Annotated[Length | None, Field(description="along the route to the first site")] = None
    side: Literal["left", "right", "alternate"] = "alternate"
    layout: Annotated[
        Literal["along", "around"],
        Field(description="sites along the route, or a hexagonal grid around it"),
    ] = "along"
    margin: Annotated[Length, Field(description="layout around: grid sites this close")] = "1km"  # type: ignore[assignment]
    sites: Annotated[
        list[dict[str, Any]] | None,
        Field(
            description="explicit sites instead of a layout: {lat, lon} or {x_m, y_m}, with "
            "optional height_m, technology, band, name"
        ),
    ] = None
    environment: Literal["uma", "umi", "rma"] = "uma"
    condition: Literal["los", "nlos"] = "nlos"
    carrier: Annotated[Frequency | None, Field(description="default: by profile")] = None
    bandwidth: Annotated[
        Frequency | None, Field(description="uplink bandwidth; default: by profile")
    ] = None
    share: Annotated[
        Ratio | None, Field(description="fraction of the cell the ambulance gets; by profile")
    ] = None
    interference_load: Ratio = 0.5
    tx_power: PowerDbm | None = None
    antenna_gain: Decibel | None = None
    base_station_height: PositiveLength | None = None

    model_config = SectionModel.model_config | {"validate_default": True}


class ModemSection(SectionModel):
    """One modem: a network (profile) and its cells."""

    what = "a modem"
    name: Name
    profile: Name
    cells: CellsSection = CellsSection()
    handover: HandoverEntry = HandoverEntry()
    buffer: Annotated[Any, Field(description="uplink drop-tail buffer")] = "2MB"


class EdgeSection(SectionModel):
    """Video analysis at a MEC node beside the base station, or in a distant cloud."""

    what = "edge_ai"
    where: Literal["mec", "cloud"] = "mec"
    compute: PositiveTime = "30ms"  # type: ignore[assignment]
    distance: Annotated[Length, Field(description="fibre to the compute node")] = "0km"  # type: ignore[assignment]

    model_config = SectionModel.model_config | {"validate_default": True}


class PayloadSection(SectionModel):
    """The on-board streams (ambulance/payload.py presets)."""

    what = "a payload"
    monitor: Annotated[bool, Field(strict=True)] = True
    ecg: Literal["ecg12", "ecg2_ambulatory"] | None = "ecg12"
    cameras: list[Literal["1080p30", "4k30", "4k60"]] = ["1080p30"]
    voice: Annotated[bool, Field(strict=True)] = True
    edge_ai: EdgeSection | None = None


class HospitalSection(SectionModel):
    """The fibre path from each operator's core to the emergency department."""

    what = "hospital"
    distance: PositiveLength = "20km"  # type: ignore[assignment]

    model_config = SectionModel.model_config | {"validate_default": True}


class AmbulanceSection(SectionModel):
    """A smart ambulance: route, modems, payload, policy and budgets (docs/ambulance.md)."""

    what = "an ambulance"
    route: RouteSection
    modems: Annotated[list[ModemSection], Field(min_length=1)]
    policy: Literal["single", "failover", "duplicate"] = "single"
    transport: Annotated[
        Literal["webrtc", "packets"] | None,
        Field(
            description="webrtc: video, voice and data channels as WebRTC sessions (the "
            "default with policy single); packets: bare packet streams (the default, and "
            "the only choice, with failover or duplicate)"
        ),
    ] = None
    duplicate: Annotated[
        list[Literal["vitals", "ecg", "video", "voice"]],
        Field(description="roles sent on every modem under policy duplicate"),
    ] = ["vitals", "ecg", "voice"]
    failover_detect: Annotated[
        Time, Field(description="how long an outage lasts before traffic moves to the backup")
    ] = "500ms"  # type: ignore[assignment]
    payload: PayloadSection = PayloadSection()
    hospital: HospitalSection = HospitalSection()
    budgets: Annotated[
        dict[Literal["vitals", "ecg", "video", "voice"], dict[str, Any]],
        Field(description="per role, limit by metric (latency_p99: 150ms; null removes)"),
    ] = {}

    model_config = SectionModel.model_config | {"validate_default": True}

    @model_validator(mode="after")
    def _check(self) -> AmbulanceSection:
        names = [m.name for m in self.modems]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise fail(f"duplicate modem name {name!r}", "modems", i, "name")
        if self.transport == "webrtc" and self.policy != "single":
            raise fail(
                f"transport webrtc needs policy single (WebRTC over {self.policy} paths is "
                "not modelled); use transport: packets",
                "transport",
            )
        if self.policy == "failover" and len(self.modems) < 2:
            raise fail("policy failover needs a second modem (the backup)", "policy")
        return self
