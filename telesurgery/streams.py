"""Streams between a surgeon's console and a remote surgical robot, as presets with sources.

A :class:`StreamPreset` describes one stream of a telesurgery session: its arrival process
(``cbr`` or ``poisson``), packet rate, packet size *on the wire*, direction (``to_robot``: from
the console to the patient side; ``to_console``: back), transport, and the published (or
assumed) figures it is built from. :func:`stream_spec` turns a preset into the engine's
:class:`netsim.plan.StreamSpec` on a given path.

=====================  ==========  ========  =================  ============================
preset                 direction   arrivals  stream (plan)      carries
=====================  ==========  ========  =================  ============================
``commands``           to_robot    cbr       ``commands``       kinematic commands, 1 kHz
``haptics``            to_console  cbr       ``haptics``        force feedback, 1 kHz
``video_stereo_4k30``  to_console  poisson   ``video``          stereo endoscope, 2 x 4K30
``video_stereo_4k60``  to_console  poisson   ``video``          stereo endoscope, 2 x 4K60
``audio_console``      to_robot    cbr       ``audio-console``  surgeon's voice (Opus)
``audio_robot``        to_console  cbr       ``audio-robot``    operating-room voice (Opus)
=====================  ==========  ========  =================  ============================

Two-way voice is two presets, one per direction, because a preset has one direction.

Sizes are counted from the IPv4 header up, with the overheads of
:func:`ambulance.payload.overhead_bytes` (sources and marks there and in docs/ambulance.md):
50 B per SRTP packet, 93 B (plus SCTP padding) per data-channel message. Commands and haptics
ride an *unreliable, unordered* data channel (no retransmission: a late sample is useless, the
next one follows 1 ms later); that changes SCTP's behaviour, not its header sizes.

Every figure is a :class:`netsim.profiles.Figure` (what, value, source, mark) with the marks of
``netsim.profiles.MARKS``: ``read``, ``secondary``, ``recalled``, ``assumption``, ``derived``.

Simpler than reality: video is a Poisson packet stream at the codec's mean bit rate (no frame
structure, no rate adaptation); commands and haptics are fixed-size samples at a fixed rate
(no haptic data reduction, no dead-band coding); no RTCP, SCTP SACKs, FEC or retransmissions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ambulance.payload import PRESETS as _AMBULANCE_PRESETS
from netsim.plan import SizeModel, StreamSpec
from netsim.presets import TRANSPORTS, VIDEO_PAYLOAD_BYTES, Transport, overhead_bytes, wire_bytes
from netsim.presets import StreamPreset as BasePreset
from netsim.profiles import Figure

__all__ = [
    "ARMS",
    "COMMAND_HEADER_BYTES",
    "DIRECTIONS",
    "DOF_PER_ARM",
    "PRESETS",
    "SAMPLE_BYTES",
    "SAMPLE_RATE_HZ",
    "TRANSPORTS",
    "Figure",
    "StreamPreset",
    "overhead_bytes",
    "stream_spec",
    "video_stereo_preset",
    "wire_bytes",
]

Direction = Literal["to_robot", "to_console"]
DIRECTIONS: tuple[str, ...] = ("to_robot", "to_console")

# --------------------------------------------------------------------------------------------
# Sources

_SRC_TR22847 = (
    "3GPP TR 22.847 (remote control robot use case, haptic feedback): latency 1-20 ms "
    "(highly dynamic) / 20-100 ms (stationary), 16 kbit/s-2 Mbit/s raw, 99.99 %, 2-8 B per "
    "degree of freedom"
)
_SRC_TS22261 = (
    "3GPP TS 22.261 Table 7.11-1 (immersive multi-modal, haptic uplink): 2-8 B (1 DoF), "
    "6-24 B (3 DoF), 12-48 B (6 DoF)"
)
_SRC_DICOM202 = "DICOM Supplement 202: haptic sampling 1 kHz (some systems 400 Hz)"
_SRC_VDBERG = (
    "van den Berg et al., 'Challenges in haptic communications over the Tactile Internet', "
    "IEEE Access 5:23502, 2017: haptic packets 64-128 B at >= 1 kHz"
)
_SRC_YOUTUBE = "YouTube Help, 'Recommended upload encoding settings' (SDR, H.264)"
_SRC_TR22826 = (
    "3GPP TR 22.826 v17.2.0, potential requirements, mobile specialist practice: stereo 4K60 "
    "video, 2 Gbit/s with lossless compression, latency < 250 ms"
)
_SRC_HAKAMADA = (
    "Hakamada group, PLoS ONE 2022;17:e0270039 (150 km IP-VPN telesurgery): robot stream "
    "5.2 Mbit/s; at 3 Mbit/s, packet loss and degraded 3D video"
)

# --------------------------------------------------------------------------------------------
# Command and haptic samples

#: Sampling (and send) rate of commands and haptic feedback, Hz: DICOM Sup. 202 [read], also
#: common practice [recalled].
SAMPLE_RATE_HZ = 1000.0
#: Instrument arms driven from the console [assumption: a two-handed console].
ARMS = 2
#: Values per arm and sample: a 6-DoF pose (commands) or wrench (haptics) plus the gripper
#: [assumption].
DOF_PER_ARM = 6 + 1
#: Bytes per value: the top of TR 22.847's 2-8 B per DoF [read], e.g. a float64; 6 DoF then
#: take 48 B, the top of TS 22.261's 12-48 B [secondary].
SAMPLE_BYTES = 8
#: Application header per message, bytes: timestamp 8 + sequence number 4 + state flags 4
#: (clutch, arm enable, e-stop) [assumption].
COMMAND_HEADER_BYTES = 16
#: Payload of one command or haptic message: 2 x 7 x 8 + 16 = 128 B.
_SAMPLE_PAYLOAD_BYTES = ARMS * DOF_PER_ARM * SAMPLE_BYTES + COMMAND_HEADER_BYTES


@dataclass(frozen=True)
class StreamPreset(BasePreset):
    """One telesurgery stream (see :class:`netsim.presets.StreamPreset`), with its direction
    and the name the budgets of :mod:`telesurgery.budgets` use.

    ``direction`` is ``to_robot`` (sent by the surgeon's console to the patient side) or
    ``to_console`` (back); ``stream`` is ``commands``, ``haptics``, ``video``,
    ``audio-console`` or ``audio-robot``.
    """

    direction: Direction
    stream: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.direction not in DIRECTIONS:
            raise ValueError(f"preset {self.name!r}: direction {self.direction!r} unknown")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "direction": self.direction, "stream": self.stream}


def _preset(
    name: str,
    description: str,
    *,
    kind: Literal["cbr", "poisson"],
    rate_pps: float,
    payload_bytes: float,
    direction: Direction,
    transport: Transport,
    stream: str,
    figures: Sequence[Figure],
) -> StreamPreset:
    return StreamPreset(
        name=name,
        description=description,
        kind=kind,
        rate_pps=rate_pps,
        size=SizeModel("constant", mean_bytes=wire_bytes(transport, payload_bytes)),
        direction=direction,
        transport=transport,
        figures=tuple(figures),
        payload_bytes=payload_bytes,
        stream=stream,
    )


def _sample_figures(what: str) -> list[Figure]:
    """The figures behind a 1 kHz command or haptic message of 128 B."""
    payload = float(_SAMPLE_PAYLOAD_BYTES)
    return [
        Figure(
            f"{what} rate (haptic sampling rate; some systems 400 Hz)",
            SAMPLE_RATE_HZ,
            _SRC_DICOM202,
            "read",
            unit="Hz",
            note="1 kHz is also common practice [recalled]",
        ),
        Figure(
            "bytes per degree of freedom (top of 2-8 B)",
            float(SAMPLE_BYTES),
            _SRC_TR22847,
            "read",
            unit="B",
        ),
        Figure(
            "bytes for 6 DoF (top of 12-48 B)",
            6.0 * SAMPLE_BYTES,
            _SRC_TS22261,
            "secondary",
            unit="B",
        ),
        Figure(
            f"values per message: {ARMS} arms x (6 DoF + gripper)",
            float(ARMS * DOF_PER_ARM),
            "our choice: a two-handed console, each hand a 6-DoF pose or wrench plus grip",
            "assumption",
            unit="value",
        ),
        Figure(
            "application header: timestamp 8 + sequence 4 + state flags 4",
            float(COMMAND_HEADER_BYTES),
            "our choice",
            "assumption",
            unit="B",
        ),
        Figure(
            "message payload: 2 x 7 x 8 + 16 (inside 64-128 B)",
            payload,
            f"computed from the figures above; checked against {_SRC_VDBERG}",
            "derived",
            unit="B",
            note="van den Berg's 64-128 B is recalled, not read",
        ),
        Figure(
            "payload bit rate 1 kHz x 128 B x 8 (inside 16 kbit/s-2 Mbit/s raw)",
            SAMPLE_RATE_HZ * payload * 8.0,
            f"computed; checked against {_SRC_TR22847}",
            "derived",
            unit="bit/s",
        ),
    ]


def video_stereo_preset(
    name: str,
    per_eye_bps: float,
    figures: Sequence[Figure],
    description: str,
    *,
    payload_bytes: float = VIDEO_PAYLOAD_BYTES,
) -> StreamPreset:
    """Stereo endoscope video (two eyes) as Poisson RTP packets at twice the per-eye bit rate.

    Both eyes are one stream (two encoders, or one side-by-side frame at twice the width: the
    same bit count either way, at these rates), sent to the console. Packet-level
    approximation: rate ``2 * per_eye_bps / (8 * payload_bytes)`` packets/s, Poisson arrivals
    for frame bursts.

    Parameters
    ----------
    name : str
        Preset name.
    per_eye_bps : float
        Codec (RTP payload) bit rate of one eye, bit/s.
    figures : sequence of Figure
        Where ``per_eye_bps`` comes from; the packet-size and stereo figures are appended.
    description : str
        What the stream carries.
    payload_bytes : float
        RTP payload per packet, bytes (default 1200, as ambulance's video presets).

    Returns
    -------
    StreamPreset
        Transport ``rtp-video``, direction ``to_console``, stream ``video``, on-wire size
        ``payload_bytes + 50`` bytes.
    """
    if not (per_eye_bps > 0 and math.isfinite(per_eye_bps)):
        raise ValueError(f"preset {name!r}: per_eye_bps must be positive and finite")
    extra = [
        Figure(
            "eyes (stereo endoscope), each its own 4K picture",
            2.0,
            _SRC_TR22826,
            "read",
            unit="view",
            note="the TR's 2 Gbit/s (lossless) is context only: we carry H.264 at upload rates",
        ),
        Figure(
            "RTP payload per video packet",
            float(payload_bytes),
            "libwebrtc default maximum RTP packet size (~1200 B)",
            "recalled",
            unit="B",
            note="taken as the RTP payload; our assumption that whole packets are full",
        ),
    ]
    return _preset(
        name,
        description,
        kind="poisson",
        rate_pps=2.0 * per_eye_bps / (8.0 * payload_bytes),
        payload_bytes=payload_bytes,
        direction="to_console",
        transport="rtp-video",
        stream="video",
        figures=[*figures, *extra],
    )


def _build_presets() -> dict[str, StreamPreset]:
    commands = _preset(
        "commands",
        "kinematic commands, console to robot: per arm a 6-DoF pose and the gripper, "
        "1 kHz, unreliable unordered data channel",
        kind="cbr",
        rate_pps=SAMPLE_RATE_HZ,
        payload_bytes=_SAMPLE_PAYLOAD_BYTES,
        direction="to_robot",
        transport="datachannel",
        stream="commands",
        figures=_sample_figures("command"),
    )
    haptics = _preset(
        "haptics",
        "force feedback, robot to console: per arm a 6-DoF wrench and the grip force, "
        "1 kHz, unreliable unordered data channel",
        kind="cbr",
        rate_pps=SAMPLE_RATE_HZ,
        payload_bytes=_SAMPLE_PAYLOAD_BYTES,
        direction="to_console",
        transport="datachannel",
        stream="haptics",
        figures=_sample_figures("haptic feedback"),
    )
    context = Figure(
        "a deployed telesurgery robot's whole stream (context, not used)",
        5.2e6,
        _SRC_HAKAMADA,
        "read",
        unit="bit/s",
        note="far below the 4K presets: those are a generous upper case",
    )
    video_4k30 = video_stereo_preset(
        "video_stereo_4k30",
        40e6,
        [
            Figure(
                "4K (2160p) at 24-30 fps: 35-45 Mbit/s, per eye",
                40e6,
                _SRC_YOUTUBE,
                "read",
                unit="bit/s",
                note="midpoint of 35-45 Mbit/s",
            ),
            context,
        ],
        "stereo endoscope video, two 4K30 H.264 views (80 Mbit/s), robot to console",
    )
    video_4k60 = video_stereo_preset(
        "video_stereo_4k60",
        60e6,
        [
            Figure(
                "4K (2160p) at 48-60 fps: 53-68 Mbit/s, per eye",
                60e6,
                _SRC_YOUTUBE,
                "read",
                unit="bit/s",
                note="about the midpoint of 53-68 Mbit/s (60.5), rounded to 60",
            ),
            context,
        ],
        "stereo endoscope video, two 4K60 H.264 views (120 Mbit/s), robot to console",
    )
    # Voice: the ambulance's Opus preset (32 kbit/s, 20 ms frames, SRTP), once per direction.
    voice = _AMBULANCE_PRESETS["voice"]
    audio = {
        "audio_console": ("to_robot", "audio-console", "surgeon's voice, console to theatre"),
        "audio_robot": ("to_console", "audio-robot", "operating-room team's voice to console"),
    }
    audio_presets = [
        _preset(
            name,
            f"{what}: Opus 32 kbit/s in 20 ms frames over SRTP",
            kind="cbr",
            rate_pps=voice.rate_pps,
            payload_bytes=voice.payload_bytes,
            direction=direction,  # type: ignore[arg-type]
            transport="rtp-audio",
            stream=stream,
            figures=voice.figures,
        )
        for name, (direction, stream, what) in audio.items()
    ]
    presets = [commands, haptics, video_4k30, video_4k60, *audio_presets]
    return {p.name: p for p in presets}


#: The built-in telesurgery streams, by name.
PRESETS: dict[str, StreamPreset] = _build_presets()


def stream_spec(
    preset: StreamPreset,
    path: Sequence[str],
    *,
    name: str | None = None,
    start_s: float = 0.0,
    stop_s: float = math.inf,
) -> StreamSpec:
    """The engine's stream for ``preset`` on ``path``.

    Parameters
    ----------
    preset : StreamPreset
        The stream to send.
    path : sequence of str
        Link names the packets cross, in order (console to robot for ``to_robot`` streams);
        must not be empty.
    name : str, optional
        Stream name in the plan; default ``preset.stream``, the name the budgets use.
    start_s, stop_s : float
        Packets are sent in [``start_s``, ``stop_s``), seconds.

    Returns
    -------
    netsim.plan.StreamSpec
        Same kind, packet rate (packets/s) and on-wire size (bytes) as the preset.
    """
    stream = preset.stream if name is None else name
    return preset.spec(stream, path, start_s=start_s, stop_s=stop_s)
