"""What ``medlink emulate`` emulates: which streams, in which role, over which route.

:func:`emulation_plan` reads a NetworkPlan and says, per stream, whether it becomes a video
track, an audio track or a data channel (:func:`stream_role`), which side sends it and which
relay route its packets take (:func:`stream_route`). The run itself is in
:mod:`netsim.emulate`; the results in :mod:`netsim.emulate_results`.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

from .plan import ChannelSpec, LinkSpec, NetworkPlan, StreamSpec, VideoSpec
from .relay import (
    Route,
)

__all__ = [
    "EmulatedStream",
    "EmulationError",
    "EmulationPlan",
    "emulation_plan",
    "stream_role",
    "stream_route",
]

MAGIC = b"MLNK"
HEADER = struct.Struct("!4sHIq")  # magic, stream id, sequence number, send time (ns)
DC_OVERHEAD = 93
"""On-wire bytes around a data-channel message: IPv4+UDP 28, DTLS 1.2 AES-GCM record 37,
SCTP common header 12 and DATA chunk header 16."""
RTP_OVERHEAD = 66
"""On-wire bytes around an RTP payload: IPv4+UDP 28, RTP 12, aiortc's header extensions
(abs-send-time, mid) 16, SRTP tag 10."""
CONNECT_TIMEOUT_S = 20.0
DRAIN_S = 2.0
"""Time after the last unit is sent for the ones in flight to arrive (SCTP's first
retransmission timeout is 1 s in aiortc)."""
VIDEO_WORDS = ("video", "camera", "endoscope", "ultrasound")
AUDIO_WORDS = ("voice", "audio")
UNRELIABLE_WORDS = ("command", "haptic", "control", "teleop")


class EmulationError(Exception):
    """The emulation could not run (nothing to emulate, or the peers did not connect)."""


# ----- what is emulated ---------------------------------------------------------------------
def stream_role(stream: StreamSpec) -> tuple[str, ChannelSpec | None]:
    """How a plan stream travels in the emulation: ``("video" | "audio" | "datachannel",
    the data channel's reliability or None)``.

    The one place this mapping lives. A stream with a ``transport`` says it:
    ``webrtc-video``, ``webrtc-audio``, or ``datachannel`` with its channel section. A bare
    packet stream is classified by name: one whose name contains video, camera, endoscope or
    ultrasound is a video track; voice or audio, an audio track; anything else a data
    channel, unordered with ``maxRetransmits=0`` when its name says command, haptic,
    control or teleop (a late command is worse than none), reliable and ordered otherwise
    (vitals, ECG, probes).
    """
    if stream.transport is not None:
        kind = stream.transport.kind
        if kind == "webrtc-video":
            return "video", None
        if kind == "webrtc-audio":
            return "audio", None
        return "datachannel", stream.transport.channel or ChannelSpec()
    name = (stream.group or stream.name).lower()
    if any(word in name for word in VIDEO_WORDS):
        return "video", None
    if any(word in name for word in AUDIO_WORDS):
        return "audio", None
    if any(word in name for word in UNRELIABLE_WORDS):
        return "datachannel", ChannelSpec(ordered=False, max_retransmits=0)
    return "datachannel", ChannelSpec()


@dataclass(frozen=True)
class EmulatedStream:
    """One stream as the emulation sends it.

    ``name`` is the name results use (a group's name for the copy emulated); ``spec`` the
    plan stream, renamed so; ``sender`` ``"a"`` (ambulance, robot) or ``"b"`` (hospital,
    console); ``index`` the id embedded in its payloads.
    """

    name: str
    spec: StreamSpec
    kind: str
    sender: str
    index: int
    channel: ChannelSpec | None = None
    video: VideoSpec | None = None

    @property
    def unit(self) -> str:
        return {"video": "frame", "audio": "audio frame"}.get(self.kind, "message")

    @property
    def transport_kind(self) -> str:
        return {"video": "webrtc-video", "audio": "webrtc-audio"}.get(self.kind, "datachannel")


@dataclass(frozen=True)
class EmulationPlan:
    """What ``emulate`` runs: the plan as emulated, its streams, and the relay's routes.

    ``plan`` keeps the links, and the streams and budgets the emulation can judge (a
    group's copies become one stream under the group's name); ``left_out`` says what was
    dropped and why.
    """

    plan: NetworkPlan
    streams: tuple[EmulatedStream, ...]
    links: dict[str, LinkSpec]
    routes: dict[tuple[str, str], Route]
    left_out: tuple[str, ...] = ()


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return bool(set(a) & set(b))


def emulation_plan(plan: NetworkPlan, seconds: float) -> EmulationPlan:
    """The streams, sides and routes for emulating ``plan`` for ``seconds``.

    Sides: peer A sends the first video stream (else the first stream); a stream is sent by
    A when its path shares a link with that stream's path, by B otherwise (telesurgery's
    commands and console audio). A group's copies (bonded paths) become one stream: the
    copy on A's path, else the first; there is one ICE path between the peers. Feedback
    streams are left out: the real stack sends its own RTCP and SACKs.

    Routes, per direction: RTP takes the path of the first video (else audio) stream that
    side sends, DTLS (the data channels) the path of its first data-channel stream, and
    everything else (STUN, RTCP) the data-channel path, else the media path. A direction
    in which no stream is sent takes the first feedback path a stream names, else an ideal
    mirror of the other direction: its base delay, no loss, no queue (as the simulator's
    feedback without a feedback path).
    """
    left_out: list[str] = []
    candidates = [s for s in plan.streams if s.kind != "feedback"]
    left_out += [
        f"{s.name}: feedback (the stack sends its own)"
        for s in plan.streams
        if s.kind == "feedback"
    ]
    if not candidates:
        raise EmulationError(f"scenario {plan.name!r} has no stream to emulate")
    roles = {s.name: stream_role(s) for s in candidates}
    first = next((s for s in candidates if roles[s.name][0] == "video"), candidates[0])
    forward = first.path
    chosen: list[StreamSpec] = []
    seen_groups: dict[str, StreamSpec] = {}
    for s in candidates:
        if s.group is None:
            chosen.append(s)
            continue
        copies = [c for c in candidates if c.group == s.group]
        pick = next((c for c in copies if _overlap(c.path, forward)), copies[0])
        if s.group not in seen_groups:
            seen_groups[s.group] = pick
            chosen.append(pick)
        if s is not pick:
            left_out.append(f"{s.name}: a copy of {s.group!r} (one path between the peers)")
    streams: list[EmulatedStream] = []
    for index, s in enumerate(chosen):
        kind, channel = roles[s.name]
        name = s.group or s.name
        spec = dataclasses.replace(s, name=name, group=None, source=None, gate=None)
        video = s.transport.video if s.transport is not None else None
        sender = "a" if _overlap(s.path, forward) else "b"
        streams.append(EmulatedStream(name, spec, kind, sender, index, channel, video))
    names = {s.name for s in streams}
    budgets = tuple(b for b in plan.budgets if b.stream in names)
    left_out += [
        f"budget {b.metric_name} on {b.stream!r}: stream not emulated"
        for b in plan.budgets
        if b.stream not in names
    ]
    links = dict(plan.links)
    routes: dict[tuple[str, str], Route] = {}
    for direction, side in (("ab", "a"), ("ba", "b")):
        mine = [s for s in streams if s.sender == side]
        media = next((s for s in mine if s.kind == "video"), None) or next(
            (s for s in mine if s.kind == "audio"), None
        )
        data = next((s for s in mine if s.kind == "datachannel"), None)
        if media is not None:
            routes[(direction, "rtp")] = Route(media.name, media.spec.path)
        if data is not None:
            routes[(direction, "dtls")] = Route(data.name, data.spec.path)
        base = data or media
        if base is not None:
            routes[(direction, "*")] = Route(f"{direction}:control", base.spec.path)
    for direction, other in (("ab", "ba"), ("ba", "ab")):
        if (direction, "*") in routes:
            continue
        feedback = next(
            (
                s.transport.feedback_path
                for s in chosen
                if s.transport is not None and s.transport.feedback_path
            ),
            (),
        )
        if feedback:
            routes[(direction, "*")] = Route(f"{direction}:control", tuple(feedback))
            continue
        path = routes[(other, "*")].path
        mirror = f"mirror-{direction}"
        links[mirror] = LinkSpec(name=mirror, delay_s=sum(links[n].delay_s for n in path))
        routes[(direction, "*")] = Route(f"{direction}:control", (mirror,))
    emulated = dataclasses.replace(
        plan,
        streams=tuple(s.spec for s in streams),
        budgets=budgets,
        duration_s=float(seconds),
        drain_s=DRAIN_S,
        replications=1,
    )
    return EmulationPlan(emulated, tuple(streams), links, routes, tuple(left_out))


def stream_route(eplan: EmulationPlan, s: EmulatedStream) -> Route:
    """The relay route a stream's datagrams take (RTP for media, DTLS for data channels)."""
    direction = "ab" if s.sender == "a" else "ba"
    klass = "dtls" if s.kind == "datachannel" else "rtp"
    return eplan.routes.get((direction, klass)) or eplan.routes[(direction, "*")]
