"""Video frames as a WebRTC sender makes them: presets, frame sizes, RTP packets and RTCP sizes.

Pure functions, no engine; :mod:`netsim.webrtc.video` calls them once per frame.

**Frame sizes.** A group of pictures (GOP) of ``g`` frames holds one I frame and ``g - 1`` P
frames; the I frame is ``key_ratio`` times a P frame and the GOP's bytes equal the bit rate
times the GOP's duration ``g / fps``::

    P = bitrate * g / (8 * fps * (g - 1 + key_ratio))        I = key_ratio * P

Each frame is then multiplied by a lognormal factor of mean 1 and coefficient of variation
``cv`` (``cv = 0``: exact sizes) and rounded to whole bytes (at least 1).

**Packets.** A frame of ``B`` bytes is cut into ``ceil(B / 1200)`` RTP payloads of 1200 B, the
last one smaller (libwebrtc splits about equally; the count is the same). On the wire each
packet carries :data:`netsim.presets.RTP_OVERHEAD_BYTES` (IPv4 + UDP + RTP + SRTP tag, 50 B)
and :data:`HEADER_EXTENSION_BYTES` of RTP header extensions.

Marks on figures, as in docs/profiles.md: [read] checked in the source, [recalled] from
memory of the source, [assumption] our choice.
"""

from __future__ import annotations

import math

import numpy as np

from ..plan import VideoSpec
from ..presets import (
    IPV4_HEADER_BYTES,
    RTP_HEADER_BYTES,
    RTP_OVERHEAD_BYTES,
    SRTP_AUTH_TAG_BYTES,
    UDP_HEADER_BYTES,
    VIDEO_PAYLOAD_BYTES,
)

__all__ = [
    "VIDEO_PRESETS",
    "H265_BITRATE_FACTOR",
    "HEADER_EXTENSION_BYTES",
    "RTP_HEADER_TOTAL_BYTES",
    "RTX_OSN_BYTES",
    "FEC_HEADER_BYTES",
    "PACING_FACTOR",
    "RTCP_OVERHEAD_BYTES",
    "gop_frames",
    "frame_targets",
    "size_factors",
    "frame_bytes",
    "frame_sizes",
    "packetize",
    "packet_wire_bytes",
    "fec_count",
    "nack_bytes",
    "pli_bytes",
    "twcc_bytes",
]

# --------------------------------------------------------------------------------------------
# Presets

#: H.265 (HEVC) needs about 40-50 % less bit rate than H.264 (AVC) for the same subjective
#: quality: Ohm, Sullivan, Schwarz, Tan, Wiegand, "Comparison of the coding efficiency of
#: video coding standards - including HEVC", IEEE TCSVT 22(12), 2012 [recalled]. We take the
#: conservative end, 40 % less, for a real-time encoder (fast presets) [assumption].
H265_BITRATE_FACTOR = 0.6


def _preset(
    name: str, width: int, height: int, fps: float, start: float, lo: float, hi: float
) -> VideoSpec:
    codec = "h265" if name.endswith("h265") else "h264"
    scale = H265_BITRATE_FACTOR if codec == "h265" else 1.0
    return VideoSpec(
        preset=name,
        codec=codec,
        width=width,
        height=height,
        fps=fps,
        bitrate_bps=start * scale,
        min_bitrate_bps=lo * scale,
        max_bitrate_bps=hi * scale,
    )


# Maximum (the quality a planner asks for): YouTube Help, "Recommended upload encoding
# settings", SDR H.264: 1080p 24-30 fps 8 Mbit/s, 4K 24-30 fps 35-45 -> 40, 4K 48-60 fps
# 53-68 -> 60 Mbit/s [read, as in docs/ambulance.md]. Apple's HLS authoring ladder agrees for
# 1080p H.264 (7.8 Mbit/s) and asks far less of HEVC 2160p (11.6-16.8 Mbit/s), with offline
# two-pass encoding [recalled].
# Start (the encoder's first target): half the maximum; for 1080p that is libwebrtc's 1080p
# simulcast target of about 4 Mbit/s (max 5) [recalled]; the same ratio for 4K [assumption].
# Minimum: GCC may go down to 0.3 Mbit/s at 1080p and 1 Mbit/s at 4K before the picture is
# useless for a clinician [assumption].
# H.265: every figure times H265_BITRATE_FACTOR.
VIDEO_PRESETS: dict[str, VideoSpec] = {
    name: _preset(name, *dims)
    for name, dims in {
        "1080p30-h264": (1920, 1080, 30.0, 4e6, 0.3e6, 8e6),
        "1080p30-h265": (1920, 1080, 30.0, 4e6, 0.3e6, 8e6),
        "4k30-h264": (3840, 2160, 30.0, 20e6, 1e6, 40e6),
        "4k30-h265": (3840, 2160, 30.0, 20e6, 1e6, 40e6),
        "4k60-h264": (3840, 2160, 60.0, 30e6, 1e6, 60e6),
        "4k60-h265": (3840, 2160, 60.0, 30e6, 1e6, 60e6),
    }.items()
}

# --------------------------------------------------------------------------------------------
# Packet and header sizes, bytes

#: RTP header extensions on every video packet: the RFC 8285 one-byte-header block (4 B) with
#: transport-wide-cc (1 + 2 B) and abs-send-time (1 + 3 B), padded to 32 bits: 4 + 8 = 12 B
#: [recalled]. Chrome adds more on some packets (mid, playout-delay, video-timing, ...); not
#: counted.
HEADER_EXTENSION_BYTES = 12
#: RTP header and extensions per packet (W3C ``headerBytesSent`` counts these).
RTP_HEADER_TOTAL_BYTES = RTP_HEADER_BYTES + HEADER_EXTENSION_BYTES
#: An RTX packet (RFC 4588 §4) carries the original sequence number (OSN) before the payload.
RTX_OSN_BYTES = 2
#: ULPFEC in RED: RED header 1 B + FEC header 10 B + level-0 header with a 16-bit mask 4 B
#: (RFC 2198, RFC 5109 §7.3-7.4) [recalled]; FlexFEC (RFC 8627) is of the same order.
FEC_HEADER_BYTES = 15
#: libwebrtc's pacer sends at 2.5 x the target bit rate (PacingController::
#: kDefaultPaceMultiplier = 2.5f) [read: libwebrtc modules/pacing/pacing_controller.cc].
PACING_FACTOR = 2.5
#: Below an RTCP packet (reduced-size RTCP, RFC 5506): SRTCP's E flag and index 4 B and
#: authentication tag 10 B (RFC 3711 §3.4), UDP 8 B, IPv4 20 B [recalled].
RTCP_OVERHEAD_BYTES = 4 + SRTP_AUTH_TAG_BYTES + UDP_HEADER_BYTES + IPV4_HEADER_BYTES
#: RTCP feedback header: common header 4 B + sender SSRC 4 B + media SSRC 4 B (RFC 4585
#: §6.1) [recalled].
_RTCP_FB_HEADER_BYTES = 12


def gop_frames(fps: float, gop_s: float) -> int:
    """Frames per group of pictures: ``gop_s`` in whole frames, at least 1."""
    return max(1, math.floor(gop_s * fps + 0.5))


def frame_targets(
    bitrate_bps: float, fps: float, gop: int, key_ratio: float
) -> tuple[float, float]:
    """The nominal P- and I-frame sizes, bytes, so that a GOP of ``gop`` frames (one I frame,
    ``gop - 1`` P frames) carries ``bitrate_bps * gop / fps`` bits."""
    p = bitrate_bps * gop / (8.0 * fps * (gop - 1 + key_ratio))
    return p, key_ratio * p


def size_factors(z: np.ndarray | float, cv: float) -> np.ndarray | float:
    """Lognormal factors of mean 1 and coefficient of variation ``cv`` from standard normals.

    ``sigma^2 = ln(1 + cv^2)``, factor ``exp(sigma z - sigma^2 / 2)``; exactly 1 when cv = 0.
    """
    if cv <= 0.0:
        return np.ones_like(z) if isinstance(z, np.ndarray) else 1.0
    sigma2 = math.log1p(cv * cv)
    return np.exp(math.sqrt(sigma2) * np.asarray(z) - sigma2 / 2.0)


def _whole(nominal: np.ndarray | float) -> np.ndarray | int:
    """Round to whole bytes (half up), at least 1."""
    if isinstance(nominal, np.ndarray):
        return np.maximum(1, np.floor(nominal + 0.5)).astype(np.int64)
    return max(1, math.floor(nominal + 0.5))


def frame_bytes(
    bitrate_bps: float,
    fps: float,
    gop: int,
    key_ratio: float,
    key: bool,
    z: float = 0.0,
    cv: float = 0.0,
) -> int:
    """One frame's size, bytes: the nominal I or P size times the lognormal factor of ``z``."""
    p, i = frame_targets(bitrate_bps, fps, gop, key_ratio)
    return int(_whole((i if key else p) * float(size_factors(float(z), cv))))


def frame_sizes(
    bitrate_bps: float,
    fps: float,
    gop: int,
    key_ratio: float,
    n: int,
    rng: np.random.Generator | None = None,
    cv: float = 0.0,
    key_at: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames at a constant bit rate: sizes (bytes, int64) and keyframe flags.

    Keyframes are at ``key_at`` (frame indices), by default every ``gop`` frames from 0. With
    ``cv > 0`` the lognormal factors come from ``rng.standard_normal(n)`` (one draw per
    frame, keyframe or not, as the session draws them).
    """
    key = np.zeros(n, dtype=bool)
    if key_at is None:
        key[::gop] = True
    else:
        key[np.asarray(key_at, dtype=np.int64)] = True
    p, i = frame_targets(bitrate_bps, fps, gop, key_ratio)
    nominal = np.where(key, i, p)
    if cv > 0.0:
        if rng is None:
            raise ValueError("frame_sizes with cv > 0 needs an rng")
        nominal = nominal * size_factors(rng.standard_normal(n), cv)
    return _whole(nominal), key


def packetize(frame_bytes: int, payload: int = VIDEO_PAYLOAD_BYTES) -> np.ndarray:
    """RTP payload sizes of a frame: ``ceil(B / payload)`` packets, the last one smaller."""
    if frame_bytes <= 0:
        raise ValueError("a frame has at least one byte")
    n = -(-int(frame_bytes) // payload)
    sizes = np.full(n, payload, dtype=np.int64)
    sizes[-1] = frame_bytes - payload * (n - 1)
    return sizes


def packet_wire_bytes(payload_bytes):
    """A video RTP packet on the wire (IPv4 and up): payload + 50 B + header extensions."""
    return payload_bytes + RTP_OVERHEAD_BYTES + HEADER_EXTENSION_BYTES


def fec_count(n_media: int, fec: float) -> int:
    """Parity packets protecting a frame of ``n_media`` packets: ``ceil(fec * n_media)``."""
    if fec <= 0.0:
        return 0
    return math.ceil(fec * n_media - 1e-9)


def nack_bytes(seqs) -> int:
    """A generic NACK (RFC 4585 §6.2.1) for the sorted sequence numbers ``seqs``, on the wire.

    Each FCI entry (4 B) names a packet ID and a bitmask of the 16 following ones.
    """
    fci = 0
    pid = None
    for s in seqs:
        if pid is None or s > pid + 16:
            pid = s
            fci += 1
    return RTCP_OVERHEAD_BYTES + _RTCP_FB_HEADER_BYTES + 4 * fci


def pli_bytes() -> int:
    """A picture loss indication (RFC 4585 §6.3.1: no FCI), on the wire."""
    return RTCP_OVERHEAD_BYTES + _RTCP_FB_HEADER_BYTES


def twcc_bytes(t_recv_s: np.ndarray) -> int:
    """A transport-wide congestion control feedback report, on the wire.

    draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1 [recalled]: 12 B feedback header,
    base sequence 2 B, status count 2 B, reference time 3 B, feedback count 1 B; 2 B per
    status chunk (counted as two-bit status vectors of 7 packets; run-length chunks can be
    smaller); a receive delta of 1 B per received packet, 2 B when it is negative or not
    below 64 ms (250 us units); padded to 32 bits. ``t_recv_s`` holds the reported packets'
    arrival times, NaN for the missing ones.
    """
    n = int(t_recv_s.size)
    got = t_recv_s[np.isfinite(t_recv_s)]
    deltas = np.diff(got) if got.size > 1 else np.empty(0)
    large = int(((deltas < 0) | (deltas >= 0.064)).sum())
    body = _RTCP_FB_HEADER_BYTES + 8 + 2 * math.ceil(n / 7) + got.size + large
    body += -body % 4
    return RTCP_OVERHEAD_BYTES + body
