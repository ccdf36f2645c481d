"""The scenario file format as pydantic models (quantities come from :mod:`.scenario_types`).

Every mapping forbids unknown keys. Fields that take either a shorthand or a mapping
(``jitter``, ``loss``, ``packet_size``) dispatch in their own before-validator and return the
:mod:`netsim.plan` object directly, so that a bad value gives one precise error rather than
one per union member.

Validation errors are raised as :class:`pydantic_core.PydanticCustomError` of two kinds that
:mod:`netsim.scenario` turns into a :class:`~netsim.errors.ScenarioError`:

- ``scenario``: ``ctx`` holds the final ``message``, a ``subpath`` below the error's location
  and ``at_key`` (report the key's line rather than the value's).
- ``nested``: ``ctx["errors"]`` holds the errors of a sub-model, located relative to this
  error, and ``ctx["keys"]`` / ``ctx["what"]`` the sub-model's field names and description,
  used to suggest a valid key for an unknown one.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from .plan import JitterModel, LossModel, SizeModel
from .scenario_base import SectionModel, _default, _Model, _pick, _validate
from .scenario_radio import HandoverEntry, OutageEntry, RadioEntry, Trace
from .scenario_transport import AudioEntry, ChannelEntry, Transport, VideoEntry
from .scenario_types import (
    LINK_NAME,
    Alpha,
    BitRate,
    Buffer,
    Burst,
    Capacity,
    Name,
    Percentile,
    PositiveLength,
    PositiveTime,
    Ratio,
    Reorder,
    RoutingFactor,
    RunName,
    Seed,
    Sigma,
    Size,
    StreamRate,
    Text,
    Time,
    bytes_value,
    describe,
    fail,
    link_names,
    ratio_value,
    time_value,
)

__all__ = [
    "ScenarioFile",
    "LinkEntry",
    "StreamEntry",
    "BudgetEntry",
    "NetworkEntry",
    "SectionModel",
    "HandoverEntry",
]


Hold = Annotated[
    PositiveTime | None,
    Field(
        description="make the delay a process in time: one draw per slot of this length, "
        "shared by every packet leaving the queue in it"
    ),
]


class ExponentialJitter(_Model):
    """Exponential extra delay with the given mean."""

    what = "exponential jitter"
    distribution: Literal["exponential"]
    mean: Time
    reorder: Reorder = False
    hold: Hold = None

    def plan(self) -> JitterModel:
        return JitterModel("exponential", mean_s=self.mean, reorder=self.reorder, hold_s=self.hold)


class UniformJitter(_Model):
    """Extra delay uniform on [0, max]."""

    what = "uniform jitter"
    distribution: Literal["uniform"]
    max: Time
    reorder: Reorder = False
    hold: Hold = None

    def plan(self) -> JitterModel:
        return JitterModel("uniform", max_s=self.max, reorder=self.reorder, hold_s=self.hold)


class LognormalJitter(_Model):
    """Lognormal extra delay: median and log-space standard deviation."""

    what = "lognormal jitter"
    distribution: Literal["lognormal"]
    median: Time
    sigma: Sigma
    reorder: Reorder = False
    hold: Hold = None

    def plan(self) -> JitterModel:
        return JitterModel(
            "lognormal",
            median_s=self.median,
            sigma=self.sigma,
            reorder=self.reorder,
            hold_s=self.hold,
        )


class ParetoJitter(_Model):
    """Lomax (Pareto II) extra delay: scale and tail index alpha."""

    what = "pareto jitter"
    distribution: Literal["pareto"]
    scale: Time
    alpha: Alpha
    reorder: Reorder = False
    hold: Hold = None

    def plan(self) -> JitterModel:
        return JitterModel(
            "pareto",
            scale_s=self.scale,
            alpha=self.alpha,
            reorder=self.reorder,
            hold_s=self.hold,
        )


_JITTERS: dict[str, type[_Model]] = {
    "exponential": ExponentialJitter,
    "uniform": UniformJitter,
    "lognormal": LognormalJitter,
    "pareto": ParetoJitter,
}


def _jitter(value: object) -> JitterModel:
    if isinstance(value, dict):
        return _validate(_pick(value, "distribution", _JITTERS, "a jitter mapping"), value).plan()
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise fail(
            f"expected a time such as '5ms' or a mapping with 'distribution', got {describe(value)}"
        )
    mean = time_value(value)
    return JitterModel("exponential", mean_s=mean) if mean > 0 else JitterModel()


class IidLoss(_Model):
    """Independent loss: each packet is lost with probability rate."""

    what = "iid loss"
    model: Literal["iid"]
    rate: Ratio

    def plan(self) -> LossModel:
        return LossModel.iid(self.rate)


class GilbertElliottLoss(_Model):
    """Two-state Gilbert-Elliott loss, by its transition probabilities."""

    what = "Gilbert-Elliott loss"
    model: Literal["gilbert-elliott"]
    p: Annotated[Ratio, Field(description="probability of moving from Good to Bad, per step")]
    r: Annotated[Ratio, Field(description="probability of moving from Bad to Good, per step")]
    loss_good: Ratio = _default("0%")
    loss_bad: Ratio = _default("100%")
    per: Annotated[
        PositiveTime | None,
        Field(
            description="the step is this much time (the chain runs in time, link-wide, as "
            "measured chains fitted to pings do); without it the step is one packet"
        ),
    ] = None

    @model_validator(mode="after")
    def _check(self) -> GilbertElliottLoss:
        if self.p + self.r == 0:
            raise fail("p and r cannot both be 0: the chain would never move", "r")
        if self.per is not None and self.p + self.r >= 1:
            raise fail(
                f"a chain in time needs p + r < 1 (got {self.p + self.r:.6g}): with p + r >= 1 "
                "it alternates faster than its step and has no continuous-time equivalent",
                "r",
            )
        return self

    def plan(self) -> LossModel:
        return LossModel(
            "gilbert-elliott",
            p=self.p,
            r=self.r,
            loss_good=self.loss_good,
            loss_bad=self.loss_bad,
            per_s=self.per,
        )


TIMED_STEP_S = 0.001  # how a burst given in time is stored as a chain per step (any step works)


def _burst(value: object) -> float | tuple[float]:
    """A burst in packets (a number), or in time (a string with a unit) as a 1-tuple."""
    if isinstance(value, str):
        seconds = time_value(value)
        if seconds <= 0:
            raise fail(f"expected a burst time > 0, got {describe(value)}")
        return (seconds,)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 1:
        expected = "a number of packets >= 1 or a time such as '1.5s'"
        raise fail(f"expected {expected}, got {describe(value)}")
    return float(value)


class BurstLoss(_Model):
    """Gilbert-Elliott loss by its long-run rate and mean burst length.

    A burst in packets (a number) gives the per-packet chain with r = 1/burst. A burst in
    time (``1.5s``) gives a chain in time, link-wide: Bad stretches last ``burst`` on average.
    """

    what = "Gilbert-Elliott loss"
    model: Literal["gilbert-elliott"]
    rate: Annotated[Ratio, Field(description="long-run loss rate, < 100%")]
    burst: Annotated[
        Any,
        BeforeValidator(_burst, json_schema_input_type=Burst | PositiveTime),
        Field(description="mean burst: packets (a number >= 1) or a time ('1.5s')"),
    ]

    @model_validator(mode="after")
    def _check(self) -> BurstLoss:
        if self.rate >= 1:
            raise fail(f"expected a loss rate below 100%, got {self.rate:.6g}", "rate")
        if isinstance(self.burst, tuple):
            return self
        if self.rate > self.burst / (1 + self.burst):
            limit = self.burst / (1 + self.burst)
            raise fail(
                f"a loss rate of {self.rate:.6g} needs p > 1 with bursts of {self.burst:g} "
                f"packets; with that burst the rate can be at most {limit:.6g}",
                "rate",
            )
        return self

    def plan(self) -> LossModel:
        if isinstance(self.burst, tuple):  # a mean Bad time: rates 1/burst and rate/(1-rate)/burst
            to_good = 1.0 / self.burst[0]
            to_bad = self.rate * to_good / (1.0 - self.rate)
            step = TIMED_STEP_S
            moved = -math.expm1(-(to_bad + to_good) * step)
            share = to_bad / (to_bad + to_good)
            return LossModel("gilbert-elliott", p=moved * share, r=moved * (1 - share), per_s=step)
        r = 1.0 / self.burst
        p = self.rate * r / (1.0 - self.rate)
        return LossModel("gilbert-elliott", p=p, r=r, loss_good=0.0, loss_bad=1.0)


def _loss(value: object) -> LossModel:
    if isinstance(value, dict):
        choices = {"iid": IidLoss, "gilbert-elliott": GilbertElliottLoss}
        model = _pick(value, "model", choices, "a loss mapping")
        if model is GilbertElliottLoss and {"rate", "burst"} & value.keys():
            for key in value:
                if key in ("p", "r", "loss_good", "loss_bad"):
                    raise fail(
                        "give either p and r (with loss_good, loss_bad) or rate and burst, "
                        "not both",
                        key,
                        at_key=True,
                    )
            model = BurstLoss
        return _validate(model, value).plan()
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise fail(
            f"expected a ratio such as '1%' or a mapping with 'model', got {describe(value)}"
        )
    return LossModel.iid(ratio_value(value))


class ExponentialSize(_Model):
    """Exponential packet sizes, rounded up to whole bytes."""

    what = "exponential packet size"
    distribution: Literal["exponential"]
    mean: Size

    def plan(self) -> SizeModel:
        return SizeModel("exponential", mean_bytes=self.mean)


class UniformSize(_Model):
    """Packet sizes uniform in whole bytes on [min, max]."""

    what = "uniform packet size"
    distribution: Literal["uniform"]
    min: Size
    max: Size

    @model_validator(mode="after")
    def _check(self) -> UniformSize:
        if self.max < self.min:
            raise fail(f"expected max >= min ({self.min:g}B), got {self.max:g}B", "max")
        return self

    def plan(self) -> SizeModel:
        return SizeModel(
            "uniform",
            mean_bytes=(self.min + self.max) / 2,
            min_bytes=int(self.min),
            max_bytes=int(self.max),
        )


def _size(value: object) -> SizeModel:
    if isinstance(value, dict):
        choices = {"exponential": ExponentialSize, "uniform": UniformSize}
        return _validate(
            _pick(value, "distribution", choices, "a packet size mapping"), value
        ).plan()
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise fail(
            "expected a size such as '1250B' or a mapping with 'distribution', "
            f"got {describe(value)}"
        )
    return SizeModel("constant", mean_bytes=bytes_value(value))


Jitter = Annotated[
    Any,
    BeforeValidator(
        _jitter,
        json_schema_input_type=Time
        | ExponentialJitter
        | UniformJitter
        | LognormalJitter
        | ParetoJitter,
    ),
]
Loss = Annotated[
    Any,
    BeforeValidator(_loss, json_schema_input_type=Ratio | IidLoss | GilbertElliottLoss | BurstLoss),
]
PacketSize = Annotated[
    Any, BeforeValidator(_size, json_schema_input_type=Size | ExponentialSize | UniformSize)
]


class LinkEntry(_Model):
    """One direction of a link: drop-tail queue, serialiser, loss, then delay and jitter.

    ``profile`` starts from a built-in profile (``medlink profiles``); the fields given
    override it. ``trace`` or ``radio`` make the capacity vary in time.
    """

    what = "a link"
    profile: Annotated[Name | None, Field(description="a built-in profile: medlink profiles")] = (
        None
    )
    direction: Literal["uplink", "downlink"] | None = None
    capacity: Capacity = _default("unlimited")
    delay: Time = _default("0ms")
    jitter: Jitter = _default("0ms")
    loss: Loss = _default("0%")
    buffer: Buffer = _default("unlimited")
    distance: Annotated[
        PositiveLength | None, Field(description="fibre path behind the link, adds its delay")
    ] = None
    routing_factor: RoutingFactor | None = None
    trace: Annotated[Trace | None, Field(description="Mahimahi trace, or a .csv of time,Mbps")] = (
        None
    )
    outages: list[OutageEntry] = []
    radio: RadioEntry | None = None


class NetworkEntry(_Model):
    """The links, by name."""

    what = "network"
    links: Annotated[
        dict[str, LinkEntry],
        BeforeValidator(link_names),
        Field(
            min_length=1, json_schema_extra={"propertyNames": {"pattern": f"^{LINK_NAME.pattern}$"}}
        ),
    ]


class StreamEntry(_Model):
    """A traffic source and the links its packets cross, in order.

    ``transport`` makes it WebRTC media (``webrtc-video``, ``webrtc-audio``: the codec model
    sends the packets, so ``type``, ``packet_size`` and ``rate`` are not needed) or a data
    channel (``datachannel``: they describe the messages).
    """

    what = "a stream"
    name: Name
    type: Literal["poisson", "cbr"] | None = None
    packet_size: PacketSize | None = None
    rate: StreamRate | None = None
    path: Annotated[list[Name], Field(min_length=1, description="link names, in order")]
    start: Time = _default("0s")
    stop: Annotated[Time | None, Field(description="default: until duration")] = None
    transport: Transport = "packets"
    video: VideoEntry | None = None
    audio: AudioEntry | None = None
    channel: ChannelEntry | None = None
    feedback: Annotated[
        list[Name] | None,
        Field(min_length=1, description="links the receiver's feedback crosses back, in order"),
    ] = None


class BudgetEntry(_Model):
    """Limits on one stream's metrics; state at least one."""

    what = "a budget"
    stream: Name
    latency: Annotated[PositiveTime | None, Field(description="one-way latency limit")] = None
    percentile: Percentile | None = None
    max_loss: Annotated[Ratio | None, Field(description="most loss allowed")] = None
    max_jitter: Annotated[Time | None, Field(description="most RFC 3550 jitter allowed")] = None
    min_throughput: Annotated[BitRate | None, Field(description="least throughput")] = None
    frame_latency: Annotated[
        PositiveTime | None,
        Field(description="WebRTC media: capture-to-render (video) or -playout (audio) limit"),
    ] = None
    message_latency: Annotated[
        PositiveTime | None, Field(description="data channel: send-to-delivery limit")
    ] = None
    max_message_loss: Annotated[
        Ratio | None, Field(description="data channel: most messages never delivered")
    ] = None
    max_freezes: Annotated[
        int | None, Field(ge=0, strict=True, description="video: most freezes (W3C freezeCount)")
    ] = None
    max_freeze_duration: Annotated[
        Time | None, Field(description="video: most total time frozen")
    ] = None
    source: Text = ""
    name: Text = ""


class ScenarioFile(_Model):
    """A medlink scenario: links, the streams that cross them, and the budgets they must meet."""

    model_config = ConfigDict(title="medlink scenario")
    what = "a scenario"
    name: RunName
    description: Text = ""
    seed: Seed = 1
    replications: Annotated[
        int, Field(ge=1, le=10_000, strict=True, description="independent runs, seeds seed..")
    ] = 1
    memory: Annotated[
        Literal["exact", "bounded"],
        Field(
            description="exact: keep each packet's figures, exact percentiles; bounded: "
            "streaming statistics in memory that does not grow with the run, percentiles "
            "within 0.01 %"
        ),
    ] = "exact"
    duration: Annotated[PositiveTime, Field(description="how long the sources send")]
    drain: Annotated[Time, Field(description="extra time for packets in flight to arrive")] = (
        _default("10s")
    )
    network: NetworkEntry
    streams: Annotated[list[StreamEntry], Field(min_length=1)]
    budgets: list[BudgetEntry] = []
