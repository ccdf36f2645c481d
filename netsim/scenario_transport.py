"""The scenario file's WebRTC sections of a stream: ``transport``, ``video``, ``audio``,
``channel`` and ``feedback``, and their compilation to :class:`netsim.plan.TransportSpec`.

A stream that says ``transport: webrtc-video`` (or ``webrtc-audio``) takes its packets from the
codec model and needs no ``type``, ``packet_size`` or ``rate``; ``transport: datachannel``
keeps them: they describe the messages. ``feedback`` names the reverse path the receiver's
feedback (RTCP, SCTP SACKs) takes; without it, feedback returns over an ideal mirror of the
forward path (docs/webrtc.md).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Literal

from pydantic import Field

from .plan import AudioSpec, ChannelSpec, SizeModel, StreamSpec, TransportSpec, VideoSpec
from .scenario_base import _default, _Model
from .scenario_types import BitRate, PositiveTime, Ratio, Time, _number

__all__ = [
    "TRANSPORTS",
    "Transport",
    "VideoEntry",
    "AudioEntry",
    "ChannelEntry",
    "compile_transport",
    "transport_streams",
    "video_spec",
    "webrtc_streams",
]

TRANSPORTS = ("packets", "webrtc-video", "webrtc-audio", "datachannel")
Transport = Annotated[
    Literal["packets", "webrtc-video", "webrtc-audio", "datachannel"],
    Field(description="how the stream travels: bare packets, or WebRTC media or data channel"),
]
Fps = _number(gt=0, le=240, description="frames per second")
KeyRatio = _number(ge=1, description="size of an I frame over a P frame")
SizeCv = _number(ge=0, le=2, description="coefficient of variation of frame sizes")
Retransmits = _number(ge=0, integer=True, description="W3C maxRetransmits")


class VideoEntry(_Model):
    """WebRTC video: a preset and what to change in it (netsim.webrtc.frames presets)."""

    what = "a video section"
    preset: Annotated[
        str,
        Field(description="1080p30, 4k30 or 4k60, with -h264 or -h265"),
    ] = "1080p30-h264"
    bitrate: Annotated[BitRate | None, Field(description="start target bit rate")] = None
    min_bitrate: BitRate | None = None
    max_bitrate: BitRate | None = None
    fps: Fps | None = None
    gop: Annotated[PositiveTime | None, Field(description="time between keyframes")] = None
    key_ratio: KeyRatio | None = None
    size_cv: SizeCv | None = None
    nack: Annotated[bool, Field(strict=True, description="NACK and RTX retransmission")] = True
    fec: Annotated[Ratio, Field(description="FEC packets per media packet (0: off)")] = _default(
        "0%"
    )
    congestion_control: Annotated[
        bool, Field(strict=True, description="GCC-style rate adaptation")
    ] = True
    encode: Annotated[Time, Field(description="time to encode a frame")] = _default("0ms")


class AudioEntry(_Model):
    """WebRTC audio: Opus frames and bit rate."""

    what = "an audio section"
    frame: Annotated[PositiveTime, Field(description="Opus frame length")] = _default("20ms")
    bitrate: BitRate = _default("32kbps")


class ChannelEntry(_Model):
    """A data channel's reliability (W3C RTCDataChannelInit); reliable if neither limit."""

    what = "a channel section"
    ordered: Annotated[bool, Field(strict=True, description="deliver in order")] = True
    max_retransmits: Retransmits | None = None
    max_packet_lifetime: Annotated[
        PositiveTime | None, Field(description="give up on a message after this long")
    ] = None


def video_spec(preset: str, **overrides) -> VideoSpec:
    """The VideoSpec of a named preset, with ``overrides`` (VideoSpec fields, SI units)."""
    from .webrtc.frames import VIDEO_PRESETS

    if preset not in VIDEO_PRESETS:
        raise ValueError(
            f"unknown video preset {preset!r}; presets are: {', '.join(VIDEO_PRESETS)}"
        )
    base = VIDEO_PRESETS[preset]
    if not isinstance(base, VideoSpec):
        base = VideoSpec(preset=preset, **base)
    return dataclasses.replace(base, preset=preset, **overrides)


def compile_transport(
    kind: str,
    video: VideoEntry | None,
    audio: AudioEntry | None,
    channel: ChannelEntry | None,
    feedback: list[str] | None,
    stream_name: str,
) -> TransportSpec | None:
    """The TransportSpec of a validated stream entry (None for bare packets)."""
    if kind == "packets":
        return None
    video_s = audio_s = channel_s = None
    if kind == "webrtc-video":
        v = video or VideoEntry()
        overrides = {
            field: value
            for field, value in (
                ("bitrate_bps", v.bitrate),
                ("min_bitrate_bps", v.min_bitrate),
                ("max_bitrate_bps", v.max_bitrate),
                ("fps", v.fps),
                ("gop_s", v.gop),
                ("key_ratio", v.key_ratio),
                ("size_cv", v.size_cv),
            )
            if value is not None
        }
        overrides |= {
            "nack": v.nack,
            "fec": float(v.fec),
            "congestion_control": v.congestion_control,
            "encode_s": float(v.encode),
        }
        video_s = video_spec(v.preset, **overrides)
    elif kind == "webrtc-audio":
        a = audio or AudioEntry()
        audio_s = AudioSpec(frame_s=float(a.frame), bitrate_bps=float(a.bitrate))
    else:
        c = channel or ChannelEntry()
        channel_s = ChannelSpec(
            ordered=c.ordered,
            max_retransmits=c.max_retransmits,
            max_packet_lifetime_s=c.max_packet_lifetime,
        )
    path = tuple(feedback or ())
    return TransportSpec(
        kind=kind,  # type: ignore[arg-type]
        video=video_s,
        audio=audio_s,
        channel=channel_s,
        feedback_path=path,
        feedback_stream=f"{stream_name}/feedback" if path else None,
    )


def transport_streams(
    name: str,
    kind: str | None,
    rate: tuple[float, str] | None,
    size: SizeModel | None,
    path: tuple[str, ...],
    start_s: float,
    stop_s: float,
    transport: TransportSpec | None,
) -> list[StreamSpec]:
    """The plan's streams for one scenario stream: itself, and its feedback stream if any.

    ``rate`` is ``(value, "pps" | "bps")`` as the scenario states it. For WebRTC video and
    audio, whose codec model sends the packets, the kind, rate and size only size the packet
    log: the start bit rate in 1250-byte packets, or one packet per audio frame.
    """
    if transport is not None and transport.kind == "webrtc-video":
        video = transport.video or VideoSpec()
        kind, size = "cbr", SizeModel(mean_bytes=1250.0)
        rate_pps = video.max_bitrate_bps / (8.0 * 1250.0)
    elif transport is not None and transport.kind == "webrtc-audio":
        audio = transport.audio or AudioSpec()
        kind, size = "cbr", SizeModel(mean_bytes=audio.bitrate_bps * audio.frame_s / 8 + 50)
        rate_pps = 1.0 / audio.frame_s
    else:
        assert kind is not None and rate is not None and size is not None
        value, unit = rate
        rate_pps = value if unit == "pps" else value / (8.0 * size.mean())
    streams = [
        StreamSpec(
            name=name,
            kind=kind,  # type: ignore[arg-type]
            rate_pps=rate_pps,
            size=size,
            path=path,
            start_s=start_s,
            stop_s=stop_s,
            transport=transport,
        )
    ]
    if transport is not None and transport.feedback_stream is not None:
        streams.append(
            StreamSpec(
                name=transport.feedback_stream,
                kind="feedback",
                rate_pps=max(20.0, rate_pps / 2.0),
                size=SizeModel(mean_bytes=100.0),
                path=transport.feedback_path,
                start_s=start_s,
                stop_s=math.inf,
            )
        )
    return streams


def webrtc_streams(
    spec: StreamSpec,
    media: str,
    *,
    video: VideoSpec | None = None,
    audio: AudioSpec | None = None,
    channel: ChannelSpec | None = None,
    feedback_path: tuple[str, ...] = (),
) -> list[StreamSpec]:
    """A workload's packet stream as WebRTC: ``media`` is the preset's transport.

    ``rtp-video`` becomes ``webrtc-video`` (``video``, default :class:`VideoSpec`),
    ``rtp-audio`` ``webrtc-audio`` and ``datachannel`` a data channel whose messages are the
    stream's packets (``channel``, default reliable and ordered, as W3C's
    RTCDataChannelInit). Returns the stream and, with a ``feedback_path``, its feedback stream.
    """
    kind = {"rtp-video": "webrtc-video", "rtp-audio": "webrtc-audio"}.get(media, media)
    if kind not in TRANSPORTS[1:]:
        raise ValueError(f"no WebRTC transport for {media!r}")
    transport = TransportSpec(
        kind=kind,  # type: ignore[arg-type]
        video=(video or VideoSpec()) if kind == "webrtc-video" else None,
        audio=(audio or AudioSpec()) if kind == "webrtc-audio" else None,
        channel=(channel or ChannelSpec()) if kind == "datachannel" else None,
        feedback_path=tuple(feedback_path),
        feedback_stream=f"{spec.name}/feedback" if feedback_path else None,
    )
    return transport_streams(
        spec.name,
        spec.kind,
        (spec.rate_pps, "pps"),
        spec.size,
        spec.path,
        spec.start_s,
        spec.stop_s,
        transport,
    )
