"""The NetworkPlan: links, streams and budgets in SI units, the only thing the engine reads.

A scenario file is validated and compiled into a :class:`NetworkPlan`; workloads (ambulance,
telesurgery, ...) will compile their sections into the same types. All values are SI: seconds,
bits per second, bytes, ratios. Plans are immutable; build a new one to change a parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .capacity import ServiceCurve

__all__ = [
    "JitterModel",
    "LossModel",
    "SizeModel",
    "LinkSpec",
    "RouteSpec",
    "RadioSpec",
    "HandoverSpec",
    "StreamSpec",
    "StreamGate",
    "VideoSpec",
    "AudioSpec",
    "ChannelSpec",
    "TransportSpec",
    "BudgetSpec",
    "NetworkPlan",
]

JitterDistribution = Literal["none", "exponential", "uniform", "lognormal", "pareto"]


@dataclass(frozen=True)
class JitterModel:
    """Extra random delay added to each packet after it leaves a link's queue, in seconds.

    Distributions (all non-negative):

    - ``exponential``: mean ``mean_s``. The default for a bare ``jitter: 5ms``, because for
      independent exponential delays with mean m, E|X - Y| = m, so the link then shows an
      RFC 3550 interarrival jitter of about m for sparse traffic: the number a planner writes
      is the number they measure.
    - ``uniform``: uniform on [0, ``max_s``] (netem-like, shifted to be non-negative).
    - ``lognormal``: median ``median_s`` and log-space standard deviation ``sigma``; heavy
      tailed, for fitting measured percentiles.
    - ``pareto``: Lomax (Pareto II) with scale ``scale_s`` and shape ``alpha``; a power-law tail.

    ``reorder`` chooses what happens when a later packet draws a shorter delay. With
    ``reorder=False`` (the default) the link keeps FIFO order: a packet is never delivered
    before the one sent ahead of it on the same link, as LTE and NR PDCP and 802.11 block-ack
    reordering deliver in sequence to IP. With ``reorder=True`` packets are delayed
    independently, as netem does, and may overtake each other.

    ``hold_s`` makes the extra delay a process in time instead of a draw per packet: one draw
    per slot of ``hold_s`` seconds, on a grid from t = 0, shared by every packet leaving the
    queue in that slot, whatever its stream. Measured delay percentiles come from sparse
    probes (pings every 200 ms or so), which see the process's marginal law; a high-rate
    stream through independent per-packet draws with FIFO order would instead see, at every
    packet, the maximum of the recent draws, and a far heavier tail than was measured.
    """

    distribution: JitterDistribution = "none"
    mean_s: float = 0.0
    max_s: float = 0.0
    median_s: float = 0.0
    sigma: float = 0.0
    scale_s: float = 0.0
    alpha: float = 0.0
    reorder: bool = False
    hold_s: float | None = None

    @property
    def active(self) -> bool:
        return self.distribution != "none" and self.mean() > 0.0

    @property
    def timed(self) -> bool:
        """True when the extra delay is a process in time, held for ``hold_s`` (link-wide)."""
        return self.hold_s is not None and self.active

    def mean(self) -> float:
        """The distribution's mean, in seconds (``inf`` for a Pareto tail with alpha <= 1)."""
        if self.distribution == "exponential":
            return self.mean_s
        if self.distribution == "uniform":
            return self.max_s / 2.0
        if self.distribution == "lognormal":
            return self.median_s * math.exp(self.sigma**2 / 2.0)
        if self.distribution == "pareto":
            return self.scale_s / (self.alpha - 1.0) if self.alpha > 1.0 else math.inf
        return 0.0


@dataclass(frozen=True)
class LossModel:
    """Packet loss on the wire, after the packet has used its transmission time.

    A two-state Gilbert-Elliott chain that advances once per packet of a stream crossing the
    link: from Good to Bad with probability ``p``, from Bad to Good with probability ``r``; a
    packet is lost with probability ``loss_good`` in Good and ``loss_bad`` in Bad. Independent
    (Bernoulli) loss at rate q is written ``LossModel.iid(q)``; it equals the chain with
    p = q, r = 1 - q, but is drawn more cheaply.

    Stationary probability of Bad: pi_B = p / (p + r); long-run loss rate
    pi_G * loss_good + pi_B * loss_bad; with loss_good = 0 and loss_bad = 1 the mean burst
    length is 1 / r packets (Gilbert, Bell Syst. Tech. J. 39, 1960; Elliott, BSTJ 42, 1963).

    With ``per_s`` set, ``p`` and ``r`` are instead the probabilities per step of ``per_s``
    seconds of a chain that runs in time, once per link: every stream crossing the link fades
    together, whatever its packet rate. Measured chains are of this kind (fitted to pings every
    200 ms while driving); the engine runs the continuous-time chain with the same stationary
    law and the same one-step transitions (:meth:`rates_per_s`).
    """

    kind: Literal["none", "iid", "gilbert-elliott"] = "none"
    rate: float = 0.0  # iid loss probability
    p: float = 0.0
    r: float = 1.0
    loss_good: float = 0.0
    loss_bad: float = 1.0
    per_s: float | None = None  # None: p and r are per packet; else per step of per_s seconds

    @classmethod
    def iid(cls, rate: float) -> LossModel:
        return cls(kind="iid" if rate > 0 else "none", rate=rate)

    @property
    def active(self) -> bool:
        return self.long_run_rate() > 0.0

    @property
    def timed(self) -> bool:
        """True when the chain runs in time (per link), not per packet (per stream)."""
        return self.kind == "gilbert-elliott" and self.per_s is not None

    def rates_per_s(self) -> tuple[float, float]:
        """Transition rates (Good->Bad, Bad->Good) per second of the timed chain.

        The continuous-time chain whose transitions over ``per_s`` equal the step's ``p`` and
        ``r``: a + b = -ln(1 - p - r) / per_s and a / (a + b) = p / (p + r). It exists when
        p + r < 1 (the loader checks it).
        """
        if not self.timed or self.per_s is None:
            raise ValueError("rates_per_s applies to a chain with per_s")
        total = -math.log1p(-(self.p + self.r)) / self.per_s
        share = self.p / (self.p + self.r)
        return total * share, total * (1.0 - share)

    def long_run_rate(self) -> float:
        """Long-run fraction of packets lost."""
        if self.kind == "iid":
            return self.rate
        if self.kind == "gilbert-elliott":
            if self.p + self.r == 0:
                return self.loss_good
            pi_bad = self.p / (self.p + self.r)
            return (1 - pi_bad) * self.loss_good + pi_bad * self.loss_bad
        return 0.0


@dataclass(frozen=True)
class SizeModel:
    """Packet size on the wire, in whole bytes.

    ``constant``: every packet is ``mean_bytes``. ``exponential``: exponential with mean
    ``mean_bytes``, rounded up to whole bytes (M/M/1 service). ``uniform``: uniform whole
    bytes in [``min_bytes``, ``max_bytes``].
    """

    distribution: Literal["constant", "exponential", "uniform"] = "constant"
    mean_bytes: float = 1250.0
    min_bytes: int = 0
    max_bytes: int = 0

    def mean(self) -> float:
        if self.distribution == "uniform":
            return (self.min_bytes + self.max_bytes) / 2.0
        if self.distribution == "exponential":
            # ceil(X) for X ~ Exp(mean m) has mean 1 / (1 - exp(-1/m)).
            return 1.0 / (1.0 - math.exp(-1.0 / self.mean_bytes))
        return self.mean_bytes


@dataclass(frozen=True)
class RouteSpec:
    """Where a mobile endpoint is over time: waypoints (x, y) in metres, driven either at a
    constant ``speed_mps`` or reaching each waypoint at ``times_s``."""

    waypoints_m: tuple[tuple[float, float], ...]
    speed_mps: float | None = None
    times_s: tuple[float, ...] | None = None


@dataclass(frozen=True)
class HandoverSpec:
    """A3 serving-cell selection and what a handover costs.

    ``interruption`` names a measured distribution (``lte``, ``nsa-anchor``, ``nsa-scg-add``,
    ``nsa-scg-change``, ``sa``; netsim.handover) unless ``interruption_s`` fixes it.
    ``during`` is ``buffer`` (packets wait: lossless handover with data forwarding) or
    ``drop`` (packets reaching the link during the interruption are lost).
    """

    hysteresis_db: float = 3.0
    time_to_trigger_s: float = 0.16
    offset_db: float = 0.0
    interruption: str = "lte"
    interruption_s: float | None = None
    during: Literal["buffer", "drop"] = "buffer"


@dataclass(frozen=True)
class RadioSpec:
    """A radio link to a mobile endpoint moving past cell sites (3GPP TR 38.901 path loss).

    See netsim.radiolink for the model. Powers in dBm, gains and losses in dB, heights and
    positions in metres, ``carrier_ghz`` in GHz, ``bandwidth_hz`` in Hz. ``share`` is the
    fraction of the cell's resources this endpoint gets; ``interference_load`` how busy the
    other sites are (0: no interference). Below ``sinr_min_db`` there is no coverage and the
    link serves nothing; a gap that lasts ``rlf_after_s`` (T310) is a radio link failure, an
    outage, and from then until coverage returns the packets reaching the link are lost.
    """

    route: RouteSpec
    sites_m: tuple[tuple[float, float], ...]
    environment: Literal["uma", "umi", "rma"] = "uma"
    condition: Literal["los", "nlos"] = "nlos"
    direction: Literal["uplink", "downlink"] = "uplink"
    carrier_ghz: float = 3.5
    bandwidth_hz: float = 20e6
    tx_power_dbm: float = 23.0
    noise_figure_db: float = 5.0
    antenna_gain_db: float = 15.0
    h_bs_m: float | None = None
    h_ut_m: float = 1.5
    shadowing: bool = True
    vehicle_penetration: bool = True
    share: float = 1.0
    interference_load: float = 0.5
    alpha: float = 0.4
    sinr_min_db: float = -10.0
    max_bps_per_hz: float = 2.0
    step_s: float = 0.01
    rlf_after_s: float = 1.0
    handover: HandoverSpec = field(default_factory=HandoverSpec)


@dataclass(frozen=True)
class LinkSpec:
    """One direction of one link: a FIFO queue, a serialiser, then a delay line.

    A packet waits in the queue (drop-tail, ``buffer_limit`` in ``buffer_kind`` units,
    counting the packet in service), is serialised at ``capacity_bps``, may be lost on the
    wire, then travels ``delay_s`` plus a random ``jitter``.

    The capacity may vary in time: along ``curve`` (a replayed trace, netsim.capacity), or
    with the radio state of a mobile endpoint (``radio``, netsim.radiolink). During an
    ``outage`` the link serves nothing and loses the packets that reach it. ``profile``
    records the built-in profile the link started from (netsim.profiles), if any.
    """

    name: str
    capacity_bps: float = math.inf
    delay_s: float = 0.0
    jitter: JitterModel = field(default_factory=JitterModel)
    loss: LossModel = field(default_factory=LossModel)
    buffer_limit: float = math.inf
    buffer_kind: Literal["unlimited", "bytes", "packets"] = "unlimited"
    curve: ServiceCurve | None = None
    radio: RadioSpec | None = None
    outages: tuple[tuple[float, float], ...] = ()  # (start_s, end_s): no service, arrivals lost
    profile: str | None = None


@dataclass(frozen=True)
class StreamGate:
    """Send only while ``link`` is up (``when="up"``) or only while it is down (``"down"``).

    The link is down from ``detect_s`` after it starts refusing packets (an outage, or a
    dropping handover interruption longer than ``detect_s``) until it stops; up otherwise.
    Two copies of a stream gated ``up`` and ``down`` on the same link make a failover: the
    primary path until its outage is detected, the backup meanwhile.
    """

    link: str
    when: Literal["up", "down"]
    detect_s: float = 0.0


@dataclass(frozen=True)
class VideoSpec:
    """A WebRTC video sender and receiver (``netsim.webrtc.video``), in SI units.

    ``bitrate_bps`` is the encoder's start target; with ``congestion_control`` the GCC-style
    controller moves it between ``min_bitrate_bps`` and ``max_bitrate_bps``. A keyframe (I
    frame) opens every group of ``gop_s`` seconds and answers every keyframe request; it is
    ``key_ratio`` times the size of a P frame. ``fec`` is the FEC overhead as a fraction of
    media packets (0: off; 0.25: one parity packet per four media packets).
    """

    preset: str = "1080p30-h264"
    codec: Literal["h264", "h265"] = "h264"
    width: int = 1920
    height: int = 1080
    fps: float = 30.0
    bitrate_bps: float = 4e6
    min_bitrate_bps: float = 0.3e6
    max_bitrate_bps: float = 8e6
    gop_s: float = 2.0
    key_ratio: float = 5.0
    size_cv: float = 0.1
    nack: bool = True
    fec: float = 0.0
    congestion_control: bool = True
    encode_s: float = 0.0


@dataclass(frozen=True)
class AudioSpec:
    """An Opus sender and a NetEQ-like receiver (``netsim.webrtc.audio``), in SI units."""

    frame_s: float = 0.02
    bitrate_bps: float = 32e3


@dataclass(frozen=True)
class ChannelSpec:
    """An SCTP data channel's reliability (``netsim.webrtc.datachannel``).

    Reliable when both limits are None; ``max_retransmits`` and ``max_packet_lifetime_s``
    (W3C RTCDataChannelInit: at most one of them) make it partially reliable.
    """

    ordered: bool = True
    max_retransmits: int | None = None
    max_packet_lifetime_s: float | None = None

    @property
    def reliable(self) -> bool:
        return self.max_retransmits is None and self.max_packet_lifetime_s is None


@dataclass(frozen=True)
class TransportSpec:
    """How a stream travels: as WebRTC video, audio or a data channel, not bare packets.

    The stream's own ``path`` carries the media (or messages); ``feedback_path`` carries the
    receiver's feedback (RTCP: NACK, PLI, transport-wide feedback; or SCTP SACKs) back to the
    sender, as the companion stream ``feedback_stream``. With no feedback path the feedback
    returns over an ideal mirror of the forward path: its base delay, no loss, no queue.
    """

    kind: Literal["webrtc-video", "webrtc-audio", "datachannel"]
    video: VideoSpec | None = None
    audio: AudioSpec | None = None
    channel: ChannelSpec | None = None
    feedback_path: tuple[str, ...] = ()
    feedback_stream: str | None = None


@dataclass(frozen=True)
class StreamSpec:
    """A traffic source and the path its packets take.

    ``kind`` is ``poisson`` (exponential interarrival times) or ``cbr`` (constant spacing).
    ``rate_pps`` is the mean packet rate; packets are sent in [``start_s``, ``stop_s``).

    With a ``transport`` the stream is WebRTC media or a data channel: a session
    (``netsim.webrtc``) sends its packets, closed-loop. A data channel's source (kind, rate,
    size) gives its messages; video and audio take their packets from their codec model and
    ``rate_pps`` only sizes the log. ``kind="feedback"`` marks the companion stream that
    carries a session's feedback on ``TransportSpec.feedback_path``; its session sends it.

    Copies of one stream over several paths (multi-link) share ``source`` (the name their
    random draws are taken under, so they send the same packets with the same sequence
    numbers) and ``group`` (the logical stream the results merge them into: a packet is
    delivered when any copy is, at the earliest copy's time). A ``gate`` sends a copy only
    while a link is up, or only while it is down.
    """

    name: str
    kind: Literal["poisson", "cbr", "feedback"]
    rate_pps: float
    size: SizeModel
    path: tuple[str, ...]
    start_s: float = 0.0
    stop_s: float = math.inf
    source: str | None = None
    group: str | None = None
    gate: StreamGate | None = None
    transport: TransportSpec | None = None


@dataclass(frozen=True)
class BudgetSpec:
    """One limit on one stream's metric.

    ``metric`` is ``latency`` (a one-way latency percentile, ``percentile`` in (0, 100], over
    delivered packets), ``loss`` (fraction of sent packets not delivered), ``jitter`` (mean
    RFC 3550 interarrival jitter) or ``throughput`` (a lower bound, bits per second). For a
    WebRTC stream also ``frame_latency`` (capture to render or playout, a percentile over the
    frames that got there), ``message_latency`` (a data channel's send to delivery, likewise),
    ``message_loss`` (fraction of messages never delivered), ``freeze_count`` and
    ``freeze_duration`` (W3C freezeCount and totalFreezesDuration, seconds).
    ``limit`` is in SI units. ``source`` says where the limit comes from.
    """

    stream: str
    metric: Literal[
        "latency",
        "loss",
        "jitter",
        "throughput",
        "frame_latency",
        "message_latency",
        "message_loss",
        "freeze_count",
        "freeze_duration",
    ]
    limit: float
    percentile: float | None = None
    source: str = ""
    name: str = ""

    @property
    def metric_name(self) -> str:
        """The budget's metric as results.json names it: ``latency_p99``, ``loss_rate``, ..."""
        if self.metric in ("latency", "frame_latency", "message_latency"):
            return f"{self.metric}_p{format_percentile(self.percentile or 99.0)}"
        return {"loss": "loss_rate", "jitter": "jitter", "throughput": "throughput"}.get(
            self.metric, self.metric
        )


def format_percentile(percentile: float) -> str:
    """``99`` -> ``'99'``, ``99.9`` -> ``'999'``, ``99.99`` -> ``'9999'``, ``50`` -> ``'50'``."""
    text = f"{percentile:g}"
    return text.replace(".", "")


@dataclass(frozen=True)
class NetworkPlan:
    """Everything the engine needs for one run, in SI units."""

    name: str
    duration_s: float
    links: dict[str, LinkSpec]
    streams: tuple[StreamSpec, ...]
    budgets: tuple[BudgetSpec, ...] = ()
    seed: int = 1
    drain_s: float = 10.0
    window_s: float | None = None  # None: the engine picks one from the offered packet rate
    replications: int = 1  # independent runs (seeds seed, seed + 1, ...); netsim.replications
    # What a run without its packet log keeps: "exact" (the columns the statistics read) or
    # "bounded" (streaming estimators, memory independent of the run; netsim.summaries).
    memory: str = "exact"
