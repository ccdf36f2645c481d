"""On-board streams of a smart ambulance as presets, each with the figures behind it.

A :class:`StreamPreset` describes one stream the ambulance sends to the hospital: its arrival
process (``cbr`` or ``poisson``), packet rate, packet size *on the wire* and the published (or
assumed) figures it is built from. :func:`stream_spec` turns a preset into the engine's
:class:`netsim.plan.StreamSpec` on a given path.

Every figure is a :class:`netsim.profiles.Figure` (what, value, source, mark), with the marks
of ``netsim.profiles.MARKS``: ``read`` (read in the source), ``secondary`` (read in a faithful
copy), ``recalled`` (not checked against the source), ``assumption`` (our guess, no published
figure) and ``derived`` (computed here from other figures).

On-wire overhead
----------------
Sizes are counted from the IPv4 header up: the engine's links are IP links, so layer-2 and
radio headers (PDCP, RLC, MAC, Ethernet) are not counted. Bytes per packet:

=================================================  =====  =========================  ==========
Layer                                              Bytes  Source                     Mark
=================================================  =====  =========================  ==========
IPv4 header, no options                               20  RFC 791                    recalled
UDP header                                             8  RFC 768                    recalled
**RTP media** (``rtp-video``, ``rtp-audio``)
RTP fixed header, no CSRC, no header extension        12  RFC 3550 §5.1              recalled
SRTP auth tag, AES_CM_128_HMAC_SHA1_80                10  RFC 3711 §4.2, §5.2        recalled
**Data channel** (``datachannel``)
DTLS 1.2 record header                                13  RFC 6347 §4.1              recalled
AES-GCM explicit nonce (8) + tag (16)                 24  RFC 5288 §3                secondary
SCTP common header                                    12  RFC 4960 §3.1 (RFC 9260)   recalled
SCTP DATA chunk header                                16  RFC 4960 §3.3.1            recalled
(SCTP I-DATA chunk header, RFC 8260 §2.1)            (20) RFC 8260                   recalled
SCTP chunk padding to a multiple of 4 bytes          0-3  RFC 4960 §3.2              recalled
=================================================  =====  =========================  ==========

Totals: RTP/SRTP 20 + 8 + 12 + 10 = **50 B**; data channel 20 + 8 + 37 + 12 + 16 = **93 B**
plus padding (97 B with I-DATA). The DTLS record overhead is approximately 37 B with an AES-GCM
suite in DTLS 1.2: 13 B header, 8 B explicit nonce and 16 B tag (the nonce and tag sizes are
the constants of the rustls TLS 1.2 implementation, ``GCM_EXPLICIT_NONCE_LEN = 8`` and
``GCM_OVERHEAD = 24``, hence *secondary*). A ChaCha20-Poly1305 suite (RFC 7905) has no explicit
nonce (13 + 16 = 29 B); DTLS 1.3 (RFC 9147) has a shorter, variable header.

Not counted: RTP header extensions (transport-wide congestion control sequence numbers,
abs-send-time, MID: typically a few to ~20 B a packet), TURN relay framing, IPv6 (+20 B),
header compression (ROHC), RTCP, SCTP SACKs and retransmissions, and FEC or retransmitted
(NACK/RTX) video packets.

Simpler than reality: video is a Poisson packet stream at the codec's mean bit rate. Frame
structure (I/P frames, frame bursts, pacing) belongs to the WebRTC layer, and this preset is
only a packet-level approximation. No codec adaptation to the available rate; message sizes of
the vital-signs stream are assumed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from netsim.plan import SizeModel, StreamSpec
from netsim.presets import (
    DATACHANNEL_OVERHEAD_BYTES,
    IDATA_CHUNK_HEADER_BYTES,
    RTP_OVERHEAD_BYTES,
    TRANSPORTS,
    VIDEO_PAYLOAD_BYTES,
    Transport,
    overhead_bytes,
    wire_bytes,
)
from netsim.presets import StreamPreset as BasePreset
from netsim.profiles import Figure

__all__ = [
    "DATACHANNEL_OVERHEAD_BYTES",
    "IDATA_CHUNK_HEADER_BYTES",
    "PRESETS",
    "RTP_OVERHEAD_BYTES",
    "TRANSPORTS",
    "VIDEO_PAYLOAD_BYTES",
    "Figure",
    "StreamPreset",
    "ecg_preset",
    "overhead_bytes",
    "stream_spec",
    "video_preset",
    "wire_bytes",
]


_SRC_YOUTUBE = "YouTube Help, 'Recommended upload encoding settings' (SDR, H.264)"
_SRC_TR26925 = "3GPP TR 26.925, §5.4 (typical traffic characteristics of media services)"
_SRC_OPUS = "RFC 7587 §3.1.1 (RTP payload format for Opus), recommended bit rates"
_SRC_WEBRTC_MTU = "libwebrtc default maximum RTP packet size (~1200 B)"
_SRC_MONITOR = "multi-parameter patient monitor practice (HR, SpO2, NIBP, EtCO2)"
_SRC_EDGE = (
    "unspecified: cloud/edge video-analysis designs for connected ambulances in the 5G "
    "literature (no specific paper checked)"
)
_SRC_PTBXL = (
    "PTB-XL dataset description (Wagner et al., 'PTB-XL, a large publicly available "
    "electrocardiography dataset', Sci. Data 7:154, 2020; PhysioNet)"
)
_SRC_MITBIH = (
    "MIT-BIH Arrhythmia Database description (Moody & Mark, IEEE Eng. Med. Biol. 20(3), 2001; "
    "PhysioNet)"
)


# --------------------------------------------------------------------------------------------
# Presets


@dataclass(frozen=True)
class StreamPreset(BasePreset):
    """One on-board stream (see :class:`netsim.presets.StreamPreset`), and whether it is
    critical: True for streams a clinician cannot do without (vitals, ECG, voice), False for
    video."""

    critical: bool

    def to_dict(self) -> dict:
        return {**super().to_dict(), "critical": self.critical}


def _preset(
    name: str,
    description: str,
    *,
    kind: Literal["cbr", "poisson"],
    rate_pps: float,
    payload_bytes: float,
    transport: Transport,
    critical: bool,
    figures: Sequence[Figure],
) -> StreamPreset:
    size = SizeModel("constant", mean_bytes=wire_bytes(transport, payload_bytes))
    return StreamPreset(
        name=name,
        description=description,
        kind=kind,
        rate_pps=rate_pps,
        size=size,
        transport=transport,
        critical=critical,
        figures=tuple(figures),
        payload_bytes=payload_bytes,
    )


def _ecg_sources(leads: int, rate_hz: float, bits: int) -> list[Figure]:
    known = {
        (12, 500.0, 16): (_SRC_PTBXL, "read"),
        (2, 360.0, 11): (_SRC_MITBIH, "read"),
    }
    source, mark = known.get(
        (leads, float(rate_hz), bits), ("caller's parameters to ecg_preset", "assumption")
    )
    return [
        Figure(f"ECG sampling rate ({leads} leads)", float(rate_hz), source, mark, unit="Hz"),
        Figure("ECG sample resolution", float(bits), source, mark, unit="bit"),
    ]


def ecg_preset(
    leads: int = 12,
    rate_hz: float = 500.0,
    bits: int = 16,
    batch_s: float = 0.04,
    *,
    name: str | None = None,
) -> StreamPreset:
    """An ECG stream: ``leads`` channels sampled at ``rate_hz``, sent in batches of ``batch_s``.

    One data-channel message per batch carries ``rate_hz * batch_s`` samples per lead, each
    sample stored in whole bytes (``ceil(bits / 8)``: 11-bit samples take 2 bytes; MIT-BIH's
    own format 212 packs them into 12 bits, which we do not). Constant spacing (``cbr``).

    Parameters
    ----------
    leads : int
        Number of leads (channels) sent.
    rate_hz : float
        Sampling rate per lead, Hz.
    bits : int
        Resolution per sample, bits.
    batch_s : float
        Batch interval, s; ``rate_hz * batch_s`` must be a whole number of samples.
    name : str, optional
        Preset name; default ``ecg{leads}``.

    Returns
    -------
    StreamPreset
        Message rate 1 / ``batch_s`` per second, payload ``leads x samples x bytes`` bytes.
    """
    if leads < 1 or bits < 1 or rate_hz <= 0 or batch_s <= 0:
        raise ValueError("leads, rate_hz, bits and batch_s must be positive")
    samples = rate_hz * batch_s
    if abs(samples - round(samples)) > 1e-9 or round(samples) < 1:
        raise ValueError(
            f"a batch of {batch_s} s at {rate_hz} Hz is {samples:g} samples; "
            "choose batch_s so that it is a whole number"
        )
    samples_per_batch = round(samples)
    payload = leads * samples_per_batch * math.ceil(bits / 8)
    figures = _ecg_sources(leads, rate_hz, bits)
    figures += [
        Figure(
            "raw ECG sample bit rate (leads x rate x bits)",
            leads * rate_hz * bits,
            "computed from the sampling figures",
            "derived",
            unit="bit/s",
        ),
        Figure(
            "ECG batch interval (one message per batch)",
            batch_s,
            "our choice: short enough to add little delay, long enough to keep headers small",
            "assumption",
            unit="s",
        ),
    ]
    return _preset(
        name or f"ecg{leads}",
        f"{leads}-lead ECG, {rate_hz:g} Hz, {bits}-bit, batches of {batch_s * 1e3:g} ms "
        "over a data channel",
        kind="cbr",
        rate_pps=1.0 / batch_s,
        payload_bytes=payload,
        transport="datachannel",
        critical=True,
        figures=figures,
    )


def video_preset(
    name: str,
    codec_bps: float,
    figures: Sequence[Figure],
    description: str,
    *,
    payload_bytes: float = VIDEO_PAYLOAD_BYTES,
    critical: bool = False,
) -> StreamPreset:
    """A video stream as Poisson packets of ``payload_bytes`` at the codec's mean bit rate.

    Packet-level approximation only: the packet rate is ``codec_bps / (8 * payload_bytes)``
    and arrivals are Poisson, a stand-in for frame bursts. Frame structure (I/P frames,
    pacing) is the WebRTC layer's work.

    Parameters
    ----------
    name : str
        Preset name.
    codec_bps : float
        Codec (RTP payload) bit rate, bit/s.
    figures : sequence of Figure
        Where ``codec_bps`` comes from; the packet-size figure is appended.
    description : str
        What the stream carries.
    payload_bytes : float
        RTP payload per packet, bytes (default :data:`VIDEO_PAYLOAD_BYTES`).
    critical : bool
        Whether the stream is clinically critical (video is not, by default).

    Returns
    -------
    StreamPreset
        Transport ``rtp-video``, on-wire size ``payload_bytes + 50`` bytes.
    """
    size_figure = Figure(
        "RTP payload per video packet",
        float(payload_bytes),
        _SRC_WEBRTC_MTU,
        "recalled",
        unit="B",
        note="taken as the RTP payload; our assumption that whole packets are full",
    )
    return _preset(
        name,
        description,
        kind="poisson",
        rate_pps=codec_bps / (8.0 * payload_bytes),
        payload_bytes=payload_bytes,
        transport="rtp-video",
        critical=critical,
        figures=[*figures, size_figure],
    )


def _build_presets() -> dict[str, StreamPreset]:
    monitor = _preset(
        "monitor",
        "multi-parameter monitor (HR, SpO2, NIBP, EtCO2): one message a second with the four "
        "latest values (NIBP is intermittent and repeats its last reading)",
        kind="cbr",
        rate_pps=1.0,
        payload_bytes=200,
        transport="datachannel",
        critical=True,
        figures=[
            Figure(
                "vital-sign update rate; NIBP intermittent",
                1.0,
                _SRC_MONITOR,
                "recalled",
                unit="Hz",
            ),
            Figure(
                "message payload, four parameters as JSON/CBOR with timestamps and units",
                200.0,
                "our estimate",
                "assumption",
                unit="B",
            ),
        ],
    )

    ecg12 = ecg_preset()
    ecg2 = ecg_preset(leads=2, rate_hz=360.0, bits=11, batch_s=0.05, name="ecg2_ambulatory")

    tr26925 = Figure(
        "portable cameras (AVC), up to 1080p30: 2-9 Mbit/s (context, not used)",
        9e6,
        _SRC_TR26925,
        "read",
        unit="bit/s",
        note="upper end of 2-9 Mbit/s; the preset uses the YouTube figure",
    )
    yt_1080 = Figure(
        "1080p at 24-30 fps",
        8e6,
        _SRC_YOUTUBE,
        "read",
        unit="bit/s",
        note="1080p at 48-60 fps: 12 Mbit/s",
    )
    camera_1080p30 = video_preset(
        "camera_1080p30",
        8e6,
        [yt_1080, tr26925],
        "1080p30 H.264 camera in the patient compartment",
    )
    camera_4k30 = video_preset(
        "camera_4k30",
        40e6,
        [
            Figure(
                "4K (2160p) at 24-30 fps: 35-45 Mbit/s",
                40e6,
                _SRC_YOUTUBE,
                "read",
                unit="bit/s",
                note="midpoint of 35-45 Mbit/s",
            )
        ],
        "4K30 H.264 camera",
    )
    camera_4k60 = video_preset(
        "camera_4k60",
        60e6,
        [
            Figure(
                "4K (2160p) at 48-60 fps: 53-68 Mbit/s",
                60e6,
                _SRC_YOUTUBE,
                "read",
                unit="bit/s",
                note="about the midpoint of 53-68 Mbit/s (60.5), rounded to 60",
            )
        ],
        "4K60 H.264 camera",
    )

    opus_bps = 32_000.0
    opus_frame_s = 0.020
    voice = _preset(
        "voice",
        "two-way voice, Opus at 32 kbit/s in 20 ms frames over SRTP (one direction)",
        kind="cbr",
        rate_pps=1.0 / opus_frame_s,
        payload_bytes=opus_bps * opus_frame_s / 8.0,
        transport="rtp-audio",
        critical=True,
        figures=[
            Figure(
                "Opus recommended bit rate, fullband speech 28-40 kbit/s",
                opus_bps,
                _SRC_OPUS,
                "recalled",
                unit="bit/s",
                note="32 kbit/s chosen inside the range",
            ),
            Figure(
                "Opus recommended bit rate for speech 8-40 kbit/s",
                40e3,
                "RFC 7587 §3.1.1, as quoted in Twilio Voice SDK docs (TVOOpusCodec)",
                "secondary",
                unit="bit/s",
            ),
            Figure(
                "Opus frame duration (default ptime)",
                opus_frame_s,
                "RFC 7587 §4.2 / RFC 6716",
                "recalled",
                unit="s",
            ),
        ],
    )

    edge_ai = video_preset(
        "edge_ai",
        8e6,
        [
            yt_1080,
            tr26925,
            Figure(
                "video copy sent to an edge/cloud analysis node, one result message back "
                "per frame (the result is not modelled here)",
                1.0,
                _SRC_EDGE,
                "recalled",
                unit="message/frame",
            ),
        ],
        "uplink of a 1080p30 video copy to an edge analysis node (the result message and the "
        "compute time are the workload's: a fixed-delay hop and a downlink stream)",
    )

    presets = [monitor, ecg12, ecg2, camera_1080p30, camera_4k30, camera_4k60, voice, edge_ai]
    return {p.name: p for p in presets}


#: The built-in on-board streams, by name.
PRESETS: dict[str, StreamPreset] = _build_presets()


def stream_spec(
    preset: StreamPreset,
    name: str,
    path: Sequence[str],
    *,
    start_s: float = 0.0,
    stop_s: float = math.inf,
) -> StreamSpec:
    """The engine's stream for ``preset`` on ``path``.

    Parameters
    ----------
    preset : StreamPreset
        The stream to send.
    name : str
        Stream name in the plan (budgets refer to it).
    path : sequence of str
        Link names the packets cross, in order; must not be empty.
    start_s, stop_s : float
        Packets are sent in [``start_s``, ``stop_s``), seconds.

    Returns
    -------
    netsim.plan.StreamSpec
        Same kind, packet rate (packets/s) and on-wire size as the preset.
    """
    return preset.spec(name, path, start_s=start_s, stop_s=stop_s)
