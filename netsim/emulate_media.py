"""What the two peers of ``medlink emulate`` send and how their arrivals are noted.

The media sources (:func:`make_video_track`, :func:`make_audio_track`: ready-made H.264
and Opus-sized packets carrying a header with the stream id, the sequence number and the
send time; :func:`parse_unit` reads it back), the data-channel messages (the simulator's own
traffic source, synthetic vitals content), the model clock and the sink of arrivals, and
the hooks into aiortc's internals that the measurement needs (pass-through decoders,
loopback-only candidates, REMB and NACK counts, frame completion in the jitter buffer, SCTP
retransmissions, socket buffers). :mod:`netsim.emulate` explains why each is done this way
and runs the peers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fractions
import math
import re
import time
from collections.abc import Iterator

import numpy as np

from .emulate_plan import (
    DC_OVERHEAD,
    HEADER,
    MAGIC,
    RTP_OVERHEAD,
    EmulatedStream,
)
from .emulate_results import (
    _Sent,
)
from .plan import StreamSpec, VideoSpec
from .rng import component_rng
from .traffic import Source
from .udp_sockets import enlarge_buffers


# ----- the media sources --------------------------------------------------------------------
def _filler(n: int, seed: int) -> bytes:
    """``n`` bytes with no zero byte, so no start code can appear inside a NAL unit."""
    rng = component_rng(seed, "emulate", "filler")
    return rng.integers(1, 256, n, dtype=np.uint8).tobytes()


def _unit_header(index: int, seq: int, t_send_s: float) -> bytes:
    return HEADER.pack(MAGIC, index, seq & 0xFFFFFFFF, int(round(t_send_s * 1e9)))


def _ascii_header(index: int, seq: int, t_send_s: float) -> bytes:
    # In an H.264 SEI: ASCII digits, never a zero byte (no emulation prevention needed).
    return MAGIC + b"%05d%010d%020d" % (index, seq, int(round(t_send_s * 1e9)) + 10**19)


_ASCII = re.compile(rb"MLNK(\d{5})(\d{10})(\d{20})")
_SEI_UUID = bytes(range(0x41, 0x51))  # 16 bytes, user_data_unregistered


def parse_unit(data: bytes) -> tuple[int, int, float] | None:
    """``(stream id, sequence number, send time in s)`` from a frame or message, or None."""
    if data[:4] == MAGIC and len(data) >= HEADER.size:
        _, index, seq, t_ns = HEADER.unpack_from(data)
        return index, seq, t_ns * 1e-9
    match = _ASCII.search(data, 0, 160)
    if match is None:
        return None
    return int(match[1]), int(match[2]), (int(match[3]) - 10**19) * 1e-9


class VideoSizes:
    """Frame sizes of a video stream: an IDR frame every ``gop`` frames, ``key_ratio`` times a
    P frame, with lognormal variation of coefficient ``size_cv``; averaging ``bitrate``."""

    def __init__(self, video: VideoSpec, seed: int, name: str) -> None:
        self.fps = float(video.fps)
        self.gop = max(1, int(round(video.gop_s * self.fps)))
        self.key_ratio = float(video.key_ratio)
        self.cv = float(video.size_cv)
        self.rng = component_rng(seed, "emulate", name, "frames")
        self.set_bitrate(video.bitrate_bps)

    def set_bitrate(self, bitrate_bps: float) -> None:
        bytes_per_gop = bitrate_bps / 8.0 * self.gop / self.fps
        self.p_bytes = bytes_per_gop / (self.gop - 1 + self.key_ratio)

    def frame(self, k: int) -> tuple[int, bool]:
        key = k % self.gop == 0
        mean = self.p_bytes * (self.key_ratio if key else 1.0)
        if self.cv > 0:
            sigma = math.sqrt(math.log1p(self.cv**2))
            mean *= float(self.rng.lognormal(-(sigma**2) / 2, sigma))
        return max(64, int(mean)), key


def video_spec_of(stream: StreamSpec) -> VideoSpec:
    """A stream's VideoSpec: its transport's, else one at the stream's offered bit rate."""
    if stream.transport is not None and stream.transport.video is not None:
        return stream.transport.video
    bitrate = stream.rate_pps * stream.size.mean() * 8.0
    return VideoSpec(
        preset="emulate",
        bitrate_bps=bitrate,
        min_bitrate_bps=bitrate,
        max_bitrate_bps=bitrate,
        congestion_control=False,
    )


def _media_track_base():
    from aiortc.mediastreams import MediaStreamTrack

    return MediaStreamTrack


def make_video_track(stream: EmulatedStream, seed: int, filler: bytes, clock: _Clock):
    """The :class:`EncodedVideoTrack` of a video stream (aiortc imported lazily)."""
    base = _media_track_base()

    class EncodedVideoTrack(base):
        """A video track whose ``recv`` returns pre-encoded H.264 frames (``av.Packet``)."""

        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.video = video_spec_of(stream.spec)
            self.sizes = VideoSizes(self.video, seed, stream.name)
            self.sent = _Sent()
            self.k = 0
            self.lateness: list[float] = []
            self.remb: list[tuple[float, float]] = []

        def on_remb(self, bitrate_bps: float) -> None:
            """A REMB estimate reached the sender; follow it if the stream has congestion
            control (an encoder would), within its min and max bit rate."""
            if clock.t0 is not None:
                self.remb.append((clock.now(), float(bitrate_bps)))
            v = self.video
            if v.congestion_control:
                target = min(max(bitrate_bps, v.min_bitrate_bps), v.max_bitrate_bps)
                self.sizes.set_bitrate(target)

        async def recv(self):
            import av
            from aiortc.mediastreams import MediaStreamError

            await clock.started.wait()
            due = self.k / self.sizes.fps
            wait = due - clock.now()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.readyState != "live":
                raise MediaStreamError
            k = self.k
            self.k += 1
            size, key = self.sizes.frame(k)
            now = clock.now()
            self.lateness.append(now - due)
            tag = _ascii_header(stream.index, k, now)
            sei = b"\x00\x00\x00\x01\x06\x05" + bytes([16 + len(tag)]) + _SEI_UUID + tag + b"\x80"
            body = filler[: max(1, size - len(sei) - 5)]
            data = sei + b"\x00\x00\x00\x01" + (b"\x65" if key else b"\x41") + body
            if now < clock.seconds:
                self.sent.add(k, now, len(data))
            packet = av.Packet(data)
            packet.pts = int(round(k * 90000 / self.sizes.fps))
            packet.time_base = fractions.Fraction(1, 90000)
            return packet

    return EncodedVideoTrack()


def make_audio_track(stream: EmulatedStream, filler: bytes, clock: _Clock):
    """An audio track returning Opus-sized packets at the stream's packet rate."""
    base = _media_track_base()
    rate = stream.spec.rate_pps if stream.spec.rate_pps > 0 else 50.0
    payload = max(HEADER.size + 1, int(stream.spec.size.mean()) - RTP_OVERHEAD)

    class EncodedAudioTrack(base):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.sent = _Sent()
            self.k = 0
            self.lateness: list[float] = []
            self.remb: list[tuple[float, float]] = []

        def on_remb(self, bitrate_bps: float) -> None:
            pass

        async def recv(self):
            import av
            from aiortc.mediastreams import MediaStreamError

            await clock.started.wait()
            due = self.k / rate
            wait = due - clock.now()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.readyState != "live":
                raise MediaStreamError
            k = self.k
            self.k += 1
            now = clock.now()
            self.lateness.append(now - due)
            data = _unit_header(stream.index, k, now) + filler[: payload - HEADER.size]
            if now < clock.seconds:
                self.sent.add(k, now, len(data))
            packet = av.Packet(data)
            packet.pts = int(round(k * 48000 / rate))
            packet.time_base = fractions.Fraction(1, 48000)
            return packet

    return EncodedAudioTrack()


class _Clock:
    """The emulation's model clock: seconds since the relay's model started."""

    def __init__(self, seconds: float) -> None:
        self.t0: float | None = None
        self.seconds = float(seconds)
        self.started = asyncio.Event()

    def start(self, t0: float) -> None:
        self.t0 = t0
        self.started.set()

    def now(self) -> float:
        return time.monotonic() - self.t0 if self.t0 is not None else math.nan


class _Sink:
    """Receive times (model seconds) of units, keyed by (stream id, seq); thread-safe enough
    (list appends under the GIL)."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.arrivals: list[tuple[int, int, float, float]] = []  # (id, seq, t_send, t_recv)
        self.unreadable = 0

    def unit(self, data: bytes, t_recv: float) -> None:
        parsed = parse_unit(data)
        if parsed is None:
            self.unreadable += 1
            return
        index, seq, t_send = parsed
        self.arrivals.append((index, seq, t_send, t_recv))


class _PassThroughDecoder:
    """Stands in for aiortc's decoders: notes when each frame reaches it, decodes nothing."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink

    def decode(self, encoded_frame) -> list:
        self.sink.unit(bytes(encoded_frame.data[:200]), self.sink.clock.now())
        return []


@contextlib.contextmanager
def _aiortc_for_emulation(sink: _Sink) -> Iterator[None]:
    """Loopback-only ICE candidates, and pass-through decoders, while the emulation runs."""
    import aioice.ice
    import aiortc.rtcrtpreceiver as receiver_module

    saved = aioice.ice.get_host_addresses, receiver_module.get_decoder
    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]
    receiver_module.get_decoder = lambda codec: _PassThroughDecoder(sink)
    try:
        yield
    finally:
        aioice.ice.get_host_addresses, receiver_module.get_decoder = saved


# ----- data-channel messages ----------------------------------------------------------------
async def _send_messages(s: EmulatedStream, channel, clock: _Clock, seed: int):
    """Send a data-channel stream's messages at its source's times and sizes."""
    seq, t_send, size = Source(s.spec, clock.seconds, seed).take(clock.seconds)
    sent = _Sent()
    lateness: list[float] = []
    body = _vitals_body(s.index)
    for k, due, on_wire in zip(seq.tolist(), t_send.tolist(), size.tolist(), strict=True):
        wait = due - clock.now()
        if wait > 0:
            await asyncio.sleep(wait)
        if channel.readyState != "open":
            break
        now = clock.now()
        lateness.append(now - due)
        payload = max(HEADER.size, int(on_wire) - DC_OVERHEAD)
        message = _unit_header(s.index, k, now) + body[: payload - HEADER.size]
        if len(message) < payload:
            message += b" " * (payload - len(message))
        channel.send(message)
        sent.add(k, now, len(message))
    return s.name, sent, lateness


def _vitals_body(index: int) -> bytes:
    """Synthetic monitor content (never patient data)."""
    text = (
        '{"synthetic":true,"hr_bpm":72,"spo2_pct":98,"nibp_mmhg":[120,80],'
        '"resp_rpm":14,"etco2_mmhg":38,"ecg_mv":[0.1,0.3,1.2,-0.2,0.0,0.1,0.2,0.1]}'
    )
    return (text * 64).encode()


# ----- hooks into aiortc --------------------------------------------------------------------
def _stats_json(report) -> list[dict]:
    out = []
    for stats in report.values():
        entry = {}
        for key, value in dataclasses.asdict(stats).items():
            if key == "timestamp":
                continue
            entry[key] = value.isoformat() if hasattr(value, "isoformat") else value
        out.append(entry)
    return out


def _wrap_rtcp(sender, track) -> None:
    """Let ``track`` see the REMB estimates its sender receives (and count NACKs, PLIs)."""
    from aiortc.rtp import (
        RTCP_PSFB_APP,
        RTCP_PSFB_PLI,
        RtcpPsfbPacket,
        RtcpRtpfbPacket,
        unpack_remb_fci,
    )

    original = sender._handle_rtcp_packet
    track.nacks = 0
    track.plis = 0

    async def handle(packet) -> None:
        try:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
                if sender._ssrc in ssrcs:
                    track.on_remb(bitrate)
            elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_PLI:
                track.plis += 1
            elif isinstance(packet, RtcpRtpfbPacket):
                track.nacks += len(packet.lost)
        except ValueError:
            pass
        await original(packet)

    sender._handle_rtcp_packet = handle


def _wrap_jitter_buffer(receiver, complete: dict, clock: _Clock) -> None:
    """Note when the last packet of each frame (RTP marker) reaches the jitter buffer."""
    buffer = getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None)
    if buffer is None:  # another aiortc: skip this figure
        return
    original = buffer.add
    marked: dict[int, float] = {}

    def add(packet):
        if packet.marker and packet.timestamp not in marked:
            marked[packet.timestamp] = clock.now()
        pli, frame = original(packet)
        if frame is not None:
            parsed = parse_unit(bytes(frame.data[:200]))
            t = marked.pop(frame.timestamp, None)
            if parsed is not None and t is not None:
                complete[(parsed[0], parsed[1])] = t
            if len(marked) > 4096:
                marked.clear()
        return pli, frame

    buffer.add = add


def _count_sctp(pc) -> dict:
    """Count a peer's SCTP retransmissions per stream id and its T3 (RTO) expirations, by
    wrapping its association's ``_send_chunk`` and ``_t3_expired`` (aiortc internals)."""
    counters: dict = {"retransmissions": {}, "t3_expirations": 0, "rto_s": lambda: None}
    association = getattr(pc, "sctp", None)
    if association is None or not hasattr(association, "_send_chunk"):
        return counters
    from aiortc.rtcsctptransport import DataChunk

    send_chunk, t3_expired = association._send_chunk, association._t3_expired

    async def counting_send(chunk) -> None:
        if isinstance(chunk, DataChunk) and getattr(chunk, "_sent_count", 1) > 1:
            ids = counters["retransmissions"]
            ids[chunk.stream_id] = ids.get(chunk.stream_id, 0) + 1
        await send_chunk(chunk)

    def counting_t3() -> None:
        counters["t3_expirations"] += 1
        t3_expired()

    association._send_chunk = counting_send
    association._t3_expired = counting_t3
    counters["rto_s"] = lambda: getattr(association, "_rto", None)
    return counters


def _enlarge_peer_buffers(pc) -> None:
    """Best effort: larger socket buffers on a peer's ICE sockets (aioice internals)."""
    gatherers = []
    for tr in pc.getTransceivers():
        gatherers.append(
            getattr(getattr(tr.sender.transport, "transport", None), "iceGatherer", None)
        )
    sctp = getattr(pc, "sctp", None)
    if sctp is not None:
        gatherers.append(getattr(getattr(sctp.transport, "transport", None), "iceGatherer", None))
    for gatherer in gatherers:
        connection = getattr(gatherer, "_connection", None)
        for protocol in getattr(connection, "_protocols", []) or []:
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                enlarge_buffers(transport)
