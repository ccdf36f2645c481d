"""The time-varying parts of a link in the scenario format: outages, traces, and a radio
link along a route with its sites and handover settings (netsim.scenario_links compiles
them; docs/links.md describes them)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .scenario_base import _default, _Model, _validate
from .scenario_types import (
    TIME_PATTERN,
    Coordinate,
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
    describe,
    fail,
    time_value,
)

__all__ = [
    "OutageEntry",
    "TraceEntry",
    "Trace",
    "RouteEntry",
    "SitesEntry",
    "Sites",
    "HandoverEntry",
    "EfficiencyEntry",
    "RadioEntry",
]


class OutageEntry(_Model):
    """A stretch without service: the link serves nothing and loses what reaches it."""

    what = "an outage"
    start: Time
    duration: PositiveTime


class TraceEntry(_Model):
    """A capacity trace file and its format."""

    what = "a trace"
    file: Name
    format: Literal["mahimahi", "csv"]


def _trace(value: object) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise fail("expected a trace file name, got an empty string")
        kind = "csv" if value.lower().endswith(".csv") else "mahimahi"
        return TraceEntry(file=value, format=kind)
    if isinstance(value, dict):
        return _validate(TraceEntry, value)
    raise fail(
        f"expected a trace file name or a mapping with file and format, got {describe(value)}"
    )


Trace = Annotated[Any, BeforeValidator(_trace, json_schema_input_type=Name | TraceEntry)]
Point = tuple[Coordinate, Coordinate]


class RouteEntry(_Model):
    """Where the mobile endpoint drives: a straight road of some length, or waypoints."""

    what = "a route"
    length: Annotated[PositiveLength | None, Field(description="a straight road along x")] = None
    points: Annotated[list[Point] | None, Field(min_length=2, description="[x, y] waypoints")] = (
        None
    )
    speed: Speed | None = None
    times: Annotated[list[Time] | None, Field(description="when each point is reached")] = None

    @model_validator(mode="after")
    def _check(self) -> RouteEntry:
        if self.length is None and self.points is None:
            raise fail("a route needs length (a straight road) or points")
        if self.length is not None and self.points is not None:
            raise fail(
                "give either length (a straight road) or points, not both", "points", at_key=True
            )
        if self.speed is None and self.times is None:
            raise fail("a route needs speed or times")
        if self.speed is not None and self.times is not None:
            raise fail("give either speed or times, not both", "times", at_key=True)
        if self.times is not None:
            if self.points is None:
                raise fail("times go with points, one per point", "times", at_key=True)
            if len(self.times) != len(self.points):
                raise fail(
                    f"expected one time per point ({len(self.points)}), got {len(self.times)}",
                    "times",
                    at_key=True,
                )
        return self


class SitesEntry(_Model):
    """Cell sites evenly spaced along the x axis (the road), on one side or alternating."""

    what = "sites"
    spacing: PositiveLength
    offset: Annotated[Length, Field(description="distance from the road")] = _default("50m")
    first: Annotated[Length | None, Field(description="x of the first site")] = None
    side: Literal["left", "right", "alternate"] = "alternate"


_POINTS = TypeAdapter(list[Point])


def _sites(value: object) -> Any:
    if isinstance(value, dict):
        return _validate(SitesEntry, value)
    if isinstance(value, list):
        if not value:
            raise fail("expected at least one site")
        try:
            return _POINTS.validate_python(value)
        except ValidationError as exc:
            ctx = {"errors": exc.errors(include_url=False), "message": "invalid sites"}
            raise PydanticCustomError("nested", "{message}", ctx) from None
    raise fail(f"expected a list of [x, y] sites or a mapping with spacing, got {describe(value)}")


Sites = Annotated[Any, BeforeValidator(_sites, json_schema_input_type=list[Point] | SitesEntry)]


def _interruption(value: object) -> str | float:
    kinds = ("lte", "nsa-anchor", "nsa-scg-add", "nsa-scg-change", "sa")
    if isinstance(value, str) and value in kinds:
        return value
    if isinstance(value, str) and re.fullmatch(TIME_PATTERN, value):
        return time_value(value)
    expected = f"one of {', '.join(kinds)} or a time such as '50ms'"
    raise fail(f"expected {expected}, got {describe(value)}")


class HandoverEntry(_Model):
    """A3 serving-cell selection and the cost of a handover."""

    what = "handover"
    hysteresis: Decibel = _default("3dB")
    time_to_trigger: Time = _default("160ms")
    offset: Decibel = _default("0dB")
    interruption: Annotated[
        Any,
        BeforeValidator(_interruption),
        Field(
            description="a measured distribution (lte, nsa-anchor, nsa-scg-add, nsa-scg-change, "
            "sa) or a fixed time; default: the profile's, else lte",
            json_schema_extra={"type": "string"},
        ),
    ] = None
    during: Annotated[
        Literal["buffer", "drop"], Field(description="what happens to packets meanwhile")
    ] = "buffer"


class EfficiencyEntry(_Model):
    """Truncated Shannon mapping, TR 36.942 Annex A.1."""

    what = "efficiency"
    alpha: Annotated[float, Field(gt=0, le=1, strict=True)]
    min_sinr: Decibel
    max: Annotated[float, Field(gt=0, strict=True, description="bit/s/Hz")]


class RadioEntry(_Model):
    """A radio link to an endpoint moving past cell sites (3GPP TR 38.901)."""

    what = "a radio"
    route: RouteEntry
    sites: Sites
    environment: Literal["uma", "umi", "rma"] = "uma"
    condition: Literal["los", "nlos"] = "nlos"
    carrier: Frequency = _default("3.5GHz")
    bandwidth: Frequency = _default("20MHz")
    tx_power: Annotated[PowerDbm | None, Field(description="default 23dBm up, 46dBm down")] = None
    noise_figure: Annotated[Decibel | None, Field(description="default 5dB up, 9dB down")] = None
    antenna_gain: Decibel = _default("15dB")
    base_station_height: PositiveLength | None = None
    ue_height: PositiveLength = _default("1.5m")
    shadowing: Annotated[bool, Field(strict=True)] = True
    vehicle_penetration: Annotated[bool, Field(strict=True)] = True
    share: Annotated[Ratio, Field(description="fraction of the cell's resources, > 0")] = _default(
        1
    )
    interference_load: Ratio = _default("50%")
    efficiency: EfficiencyEntry | None = None
    step: PositiveTime = _default("10ms")
    radio_link_failure: Annotated[
        PositiveTime, Field(description="a coverage gap this long is an outage (T310)")
    ] = _default("1s")
    handover: HandoverEntry = HandoverEntry()

    @model_validator(mode="after")
    def _check(self) -> RadioEntry:
        if self.share <= 0:
            raise fail("expected a share > 0 (a link that never serves anything)", "share")
        return self
