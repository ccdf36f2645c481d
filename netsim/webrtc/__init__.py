"""The WebRTC transport layer: RTP video and audio, and SCTP data channels, closed-loop.

A stream with a ``transport`` (:class:`netsim.plan.TransportSpec`) is sent by a session, not a
bare packet source: ``webrtc-video`` (:mod:`netsim.webrtc.video`: frames, packetization,
pacer, NACK/RTX, FEC, keyframe requests, GCC-style congestion control, a jitter buffer and
freezes), ``webrtc-audio`` (:mod:`netsim.webrtc.audio`: Opus frames, a NetEQ-like buffer,
concealment) and ``datachannel`` (:mod:`netsim.webrtc.datachannel`: SCTP reliable/ordered,
maxRetransmits, maxPacketLifeTime). :mod:`netsim.webrtc.session` is the loop they share with
the engine. docs/webrtc.md states each model and what it leaves out.
"""

from __future__ import annotations

from ..plan import NetworkPlan, StreamSpec
from .session import ENDPOINT_DELAY_S, FEEDBACK, MEDIA, Session, TransportReport

__all__ = ["ENDPOINT_DELAY_S", "MEDIA", "FEEDBACK", "Session", "TransportReport", "make_session"]


def make_session(stream: StreamSpec, plan: NetworkPlan, seed: int, horizon_s: float) -> Session:
    """The session that sends ``stream`` (which must have a ``transport``)."""
    if stream.transport is None:
        raise ValueError(f"stream {stream.name!r} has no transport")
    kind = stream.transport.kind
    if kind == "webrtc-video":
        from .video import VideoSession as cls
    elif kind == "webrtc-audio":
        from .audio import AudioSession as cls
    elif kind == "datachannel":
        from .datachannel import DataChannelSession as cls
    else:  # pragma: no cover - the plan's Literal type rules it out
        raise ValueError(f"unknown transport {kind!r}")
    return cls(stream, plan, seed, horizon_s)
