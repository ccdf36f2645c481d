"""The ``telesurgery:`` section of a scenario file (netsim's rules: units, strict keys).

::

    telesurgery:
      console: {access: {profile: fiber}}
      patient: {access: {profile: 5g-sa}}
      distance: 3000km
      video: 4k30                       # stereo, side by side
      loop: {actuation: 2ms, video_pipeline: 90ms, watchdog: 50ms}
      edge: {distance_from_patient: 50km, processing: 5ms}     # optional relay/processing node
      budgets: {commands: {latency_p99: 20ms}}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from netsim.scenario_base import SectionModel
from netsim.scenario_types import (
    BitRate,
    Length,
    PositiveLength,
    PositiveTime,
    RoutingFactor,
    Time,
)

__all__ = ["TelesurgerySection", "SiteSection", "LoopSection", "EdgeSection"]


class SiteSection(SectionModel):
    """One end: the console's or the patient's site, and its access link."""

    what = "a site"
    access: Annotated[
        dict[str, Any],
        Field(
            description="the access link, as a network link without direction: "
            "{profile: 5g-sa} or {profile: wifi-6, buffer: 1MB} or {capacity: 1Gbps, ...}"
        ),
    ]


class LoopSection(SectionModel):
    """The control loop's own times (docs/telesurgery.md gives their sources)."""

    what = "the loop"
    actuation: Annotated[Time, Field(description="robot motion after a command")] = "2ms"  # type: ignore[assignment]
    video_pipeline: Annotated[
        Time | None,
        Field(description="encode + decode + display; default derived from Hakamada 2022"),
    ] = None
    watchdog: Annotated[
        PositiveTime, Field(description="hold the robot when no fresh command came this long")
    ] = "50ms"  # type: ignore[assignment]

    model_config = SectionModel.model_config | {"validate_default": True}


class EdgeSection(SectionModel):
    """A relay or processing node on the transport path."""

    what = "an edge node"
    distance_from_patient: Length = "0km"  # type: ignore[assignment]
    processing: Time = "0ms"  # type: ignore[assignment]

    model_config = SectionModel.model_config | {"validate_default": True}


class TelesurgerySection(SectionModel):
    """Remote robotic surgery: console and patient sites, the path between, the loop."""

    what = "telesurgery"
    console: SiteSection
    patient: SiteSection
    distance: Annotated[PositiveLength, Field(description="between the two sites")]
    routing_factor: RoutingFactor | None = None
    video: Literal["4k30", "4k60"] = "4k30"
    video_bitrate: Annotated[
        BitRate | None,
        Field(description="stereo video on the wire, both eyes; default the preset's"),
    ] = None
    audio: Annotated[bool, Field(strict=True)] = True
    transport: Annotated[
        Literal["webrtc", "packets"],
        Field(
            description="webrtc: video and audio as WebRTC sessions, motion-to-photon on "
            "rendered frames; packets: bare packet streams"
        ),
    ] = "webrtc"
    loop: LoopSection = LoopSection()
    edge: EdgeSection | None = None
    budgets: Annotated[
        dict[str, dict[str, Any]],
        Field(description="per stream (or loop), limit by metric; null removes"),
    ] = {}

    model_config = SectionModel.model_config | {"validate_default": True}
