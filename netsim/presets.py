"""Building blocks shared by workloads: stream presets with on-wire sizes, budget defaults.

A workload (ambulance, telesurgery, a third party's) describes its streams as presets that
carry the figures they come from, and its budgets as defaults that carry their sources; both
compile to netsim's own types (:class:`~netsim.plan.StreamSpec`,
:class:`~netsim.plan.BudgetSpec`). Nothing here is clinical.

**On-wire sizes.** A WebRTC packet carries, above its payload: IPv4 20 B (RFC 791) + UDP 8 B
(RFC 768); SRTP media add RTP 12 B (RFC 3550 §5.1) + an SRTP tag of 10 B
(AES_CM_128_HMAC_SHA1_80, RFC 3711), 50 B in all; a data-channel message adds a DTLS 1.2
record of about 37 B with AES-GCM (13 B header, RFC 6347 §4.1, + 8 B explicit nonce + 16 B
tag, RFC 5288 §3; the last two from rustls's constants, so *secondary*), an SCTP common header
of 12 B (RFC 4960 §3.1) and a DATA chunk header of 16 B (RFC 4960 §3.3.1; I-DATA 20 B, RFC
8260), padded to 4 bytes: 93 B plus padding. The header sizes are *recalled* unless said
otherwise; docs/ambulance.md has the table and what is not counted (header extensions, TURN,
IPv6, RTCP, retransmissions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from .plan import BudgetSpec, SizeModel, StreamSpec, format_percentile
from .profiles import MARKS, Figure

__all__ = [
    "TRANSPORTS",
    "RTP_OVERHEAD_BYTES",
    "DATACHANNEL_OVERHEAD_BYTES",
    "IDATA_CHUNK_HEADER_BYTES",
    "VIDEO_PAYLOAD_BYTES",
    "overhead_bytes",
    "wire_bytes",
    "StreamPreset",
    "BudgetDefault",
    "check_unique",
    "apply_overrides",
    "parse_overrides",
]

Transport = Literal["datachannel", "rtp-video", "rtp-audio"]
TRANSPORTS: tuple[str, ...] = ("datachannel", "rtp-video", "rtp-audio")

# --------------------------------------------------------------------------------------------
# Header sizes, bytes (the module docstring gives the sources)

IPV4_HEADER_BYTES = 20  # RFC 791 [recalled]
UDP_HEADER_BYTES = 8  # RFC 768 [recalled]
RTP_HEADER_BYTES = 12  # RFC 3550 §5.1 [recalled]
SRTP_AUTH_TAG_BYTES = 10  # AES_CM_128_HMAC_SHA1_80, RFC 3711 [recalled]
DTLS_RECORD_HEADER_BYTES = 13  # DTLS 1.2, RFC 6347 §4.1 [recalled]
DTLS_AES_GCM_BYTES = 8 + 16  # explicit nonce + tag, RFC 5288 §3 [secondary: rustls constants]
SCTP_COMMON_HEADER_BYTES = 12  # RFC 4960 §3.1 [recalled]
SCTP_DATA_CHUNK_HEADER_BYTES = 16  # RFC 4960 §3.3.1 [recalled]
IDATA_CHUNK_HEADER_BYTES = 20  # RFC 8260 §2.1 [recalled]

#: Per-packet overhead of SRTP media below the codec payload: IPv4 + UDP + RTP + SRTP tag.
RTP_OVERHEAD_BYTES = IPV4_HEADER_BYTES + UDP_HEADER_BYTES + RTP_HEADER_BYTES + SRTP_AUTH_TAG_BYTES
#: Per-message overhead of a data channel (one message per DATA chunk per packet), before
#: padding: IPv4 + UDP + DTLS record (AES-GCM) + SCTP common header + DATA chunk header.
DATACHANNEL_OVERHEAD_BYTES = (
    IPV4_HEADER_BYTES
    + UDP_HEADER_BYTES
    + DTLS_RECORD_HEADER_BYTES
    + DTLS_AES_GCM_BYTES
    + SCTP_COMMON_HEADER_BYTES
    + SCTP_DATA_CHUNK_HEADER_BYTES
)

#: RTP payload per video packet, bytes: libwebrtc keeps whole packets near 1200 B to stay under
#: path MTUs with TURN and VPN headroom [recalled]; we take it as the payload [assumption].


def overhead_bytes(transport: str, payload_bytes: float = 0.0, *, i_data: bool = False) -> int:
    """Bytes a packet carries on top of its payload, from the IPv4 header up.

    Parameters
    ----------
    transport : str
        ``datachannel``, ``rtp-video`` or ``rtp-audio`` (one of :data:`TRANSPORTS`).
    payload_bytes : float
        Application payload per packet, bytes; only used for the data channel's SCTP chunk
        padding to a multiple of 4 bytes (a fractional size is rounded up first).
    i_data : bool
        Data channel only: count an SCTP I-DATA chunk header (20 B, RFC 8260) instead of a
        DATA chunk header (16 B).

    Returns
    -------
    int
        Overhead in bytes: 50 for SRTP media, 93 plus padding (97 with I-DATA) for a data
        channel.
    """
    if transport in ("rtp-video", "rtp-audio"):
        return RTP_OVERHEAD_BYTES
    if transport == "datachannel":
        padding = -math.ceil(payload_bytes) % 4
        extra = IDATA_CHUNK_HEADER_BYTES - SCTP_DATA_CHUNK_HEADER_BYTES if i_data else 0
        return DATACHANNEL_OVERHEAD_BYTES + extra + padding
    raise ValueError(f"transport {transport!r} is not one of {TRANSPORTS}")


def wire_bytes(transport: str, payload_bytes: float, *, i_data: bool = False) -> float:
    """Packet size on the wire (IPv4 and up), bytes: payload plus :func:`overhead_bytes`."""
    return payload_bytes + overhead_bytes(transport, payload_bytes, i_data=i_data)


#: RTP payload per video packet, bytes: libwebrtc keeps whole packets near 1200 B to stay under
#: path MTUs with TURN and VPN headroom [recalled]; we take it as the payload [assumption].
VIDEO_PAYLOAD_BYTES = 1200


@dataclass(frozen=True)
class StreamPreset:
    """A stream a workload sends: arrival process, packet rate and on-wire size, with sources.

    Workloads subclass it to add what they need (the ambulance: whether a stream is
    critical; telesurgery: its direction and stream name).

    Parameters
    ----------
    name : str
        Preset name (a key of :data:`PRESETS`).
    description : str
        What the stream carries, in words.
    kind : {"cbr", "poisson"}
        Arrival process: constant spacing, or exponential interarrival times.
    rate_pps : float
        Mean packet (message) rate, packets per second.
    size : netsim.plan.SizeModel
        Packet size on the wire (payload plus :func:`overhead_bytes`), bytes.
    transport : {"datachannel", "rtp-video", "rtp-audio"}
        How the stream is carried: an SCTP/DTLS data channel or SRTP.
    figures : tuple of netsim.profiles.Figure
        The published or assumed numbers the preset is built from, each with source and mark.
    payload_bytes : float
        Application payload per packet (codec frame, ECG batch, message), bytes.
    """

    name: str
    description: str
    kind: Literal["cbr", "poisson"]
    rate_pps: float
    size: SizeModel
    transport: Transport
    figures: tuple[Figure, ...]
    payload_bytes: float

    def __post_init__(self) -> None:
        if self.kind not in ("cbr", "poisson"):
            raise ValueError(f"preset {self.name!r}: kind {self.kind!r} is not cbr or poisson")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"preset {self.name!r}: transport {self.transport!r} unknown")
        if not (self.rate_pps > 0 and math.isfinite(self.rate_pps)):
            raise ValueError(f"preset {self.name!r}: rate_pps must be positive and finite")
        if not self.figures:
            raise ValueError(f"preset {self.name!r}: no figures")
        for figure in self.figures:
            if figure.mark not in MARKS:
                raise ValueError(f"preset {self.name!r}: bad mark {figure.mark!r}")

    @property
    def bit_rate_bps(self) -> float:
        """Mean bit rate on the wire (IPv4 and up), bit/s: rate_pps x mean size x 8."""
        return self.rate_pps * self.size.mean() * 8.0

    @property
    def payload_bit_rate_bps(self) -> float:
        """Mean application payload bit rate (codec or message bytes only), bit/s."""
        return self.rate_pps * self.payload_bytes * 8.0

    @property
    def overhead_bytes(self) -> float:
        """Bytes of headers per packet: mean wire size minus payload."""
        return self.size.mean() - self.payload_bytes

    def to_dict(self) -> dict:
        """A JSON-ready description, SI units, with every figure."""
        return {
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "rate_pps": self.rate_pps,
            "payload_bytes": self.payload_bytes,
            "wire_bytes": self.size.mean(),
            "bit_rate_bps": self.bit_rate_bps,
            "payload_bit_rate_bps": self.payload_bit_rate_bps,
            "transport": self.transport,
            "figures": [figure.to_dict() for figure in self.figures],
        }

    def spec(
        self, name: str, path: Sequence[str], *, start_s: float = 0.0, stop_s: float = math.inf
    ) -> StreamSpec:
        """The engine's stream for this preset on ``path`` (link names, in order, not empty):
        same kind, packet rate (packets/s) and on-wire size; sent in [``start_s``,
        ``stop_s``)."""
        path = tuple(path)
        if not path:
            raise ValueError(f"stream {name!r}: empty path")
        return StreamSpec(
            name=name,
            kind=self.kind,
            rate_pps=self.rate_pps,
            size=self.size,
            path=path,
            start_s=start_s,
            stop_s=stop_s,
        )


@dataclass(frozen=True)
class BudgetDefault:
    """One default limit for a role, before it is attached to a stream.

    Parameters
    ----------
    metric : {"latency", "loss", "jitter", "throughput"}
        As in :class:`netsim.plan.BudgetSpec`.
    limit : float
        SI units: seconds for latency and jitter, a ratio for loss, bit/s for throughput.
    source : str
        Where the limit comes from.
    mark : str
        How well the figure was checked: one of ``netsim.profiles.MARKS``.
    percentile : float, optional
        For latency: the percentile the limit applies to, in (0, 100].
    note : str
        Why this source and percentile were chosen.
    """

    metric: Literal["latency", "loss", "jitter", "throughput"]
    limit: float
    source: str
    mark: str
    percentile: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.mark not in MARKS:
            raise ValueError(f"budget {self.key}: mark {self.mark!r} is not one of {MARKS}")
        if not self.source.strip():
            raise ValueError(f"budget {self.key}: empty source")
        if self.metric == "latency" and self.percentile is None:
            raise ValueError("a latency budget needs a percentile")

    @property
    def key(self) -> str:
        """The metric as results.json names it (``latency_p98``, ``loss_rate``, ``jitter``)."""
        if self.metric == "latency":
            return f"latency_p{format_percentile(self.percentile or 99.0)}"
        return {"loss": "loss_rate", "jitter": "jitter", "throughput": "throughput"}[self.metric]

    def to_spec(self, stream: str, role: str) -> BudgetSpec:
        """The engine's budget for ``stream``; ``source`` ends with the mark in brackets."""
        return BudgetSpec(
            stream=stream,
            metric=self.metric,
            limit=self.limit,
            percentile=self.percentile,
            source=f"{self.source} [{self.mark}]",
            name=f"{role} {self.key}",
        )


def check_unique(defaults: Mapping[str, Sequence[BudgetDefault]], what: str = "role") -> None:
    """Raise ValueError if a table has two budgets on one metric for the same key."""
    for role, budgets in defaults.items():
        keys = [b.key for b in budgets]
        if len(keys) != len(set(keys)):
            raise ValueError(f"{what} {role!r}: two budgets on the same metric: {keys}")


def apply_overrides(
    defaults: Mapping[str, Sequence[BudgetDefault]],
    overrides: Mapping[str, Mapping[str, float | None]],
) -> dict[str, list[BudgetDefault]]:
    """A copy of ``defaults`` with the named limits replaced; ``defaults`` is left unchanged.

    Parameters
    ----------
    defaults : mapping of str to sequence of BudgetDefault
        Usually :data:`DEFAULTS`.
    overrides : mapping of str to mapping of str to float or None
        Per role, metric keys as results.json names them (``latency_p99``, ``latency_p98``,
        ``loss_rate``, ``jitter``, ``throughput``) to a new limit in SI units (s, ratio,
        bit/s). An existing budget keeps its percentile and gets the new limit, its source
        saying it was overridden; a new key adds a budget marked ``assumption``; ``None``
        removes the budget. Example: ``{"video": {"loss_rate": 1e-3, "jitter": None}}``.

    Returns
    -------
    dict of str to list of BudgetDefault
        The new table.
    """
    table = {role: list(budgets) for role, budgets in defaults.items()}
    for role, limits in overrides.items():
        if role not in table:
            raise ValueError(f"unknown role {role!r}; roles are {tuple(table)}")
        budgets = table[role]
        for key, limit in limits.items():
            index = next((i for i, b in enumerate(budgets) if b.key == key), None)
            if limit is None:
                if index is None:
                    raise ValueError(f"role {role!r}: no {key!r} budget to remove")
                del budgets[index]
            elif index is not None:
                old = budgets[index]
                was = f"default {old.limit:g} from {old.source} [{old.mark}]"
                budgets[index] = replace(
                    old,
                    limit=float(limit),
                    source=f"user override ({was})",
                    mark="assumption",
                    note="overridden",
                )
            else:
                budgets.append(_new_budget(key, float(limit)))
    return table


def _new_budget(key: str, limit: float) -> BudgetDefault:
    source = "user override (no default for this metric)"
    if key.startswith("latency_p"):
        digits = key.removeprefix("latency_p")
        if not digits.isdigit():
            raise ValueError(f"bad budget key {key!r}; expected e.g. latency_p99")
        # '99' -> 99, '999' -> 99.9, '50' -> 50: the inverse of format_percentile.
        if digits == "100" or len(digits) <= 2:
            percentile = float(digits)
        else:
            percentile = float(digits[:2] + "." + digits[2:])
        return BudgetDefault("latency", limit, source, "assumption", percentile=percentile)
    metrics = {"loss_rate": "loss", "jitter": "jitter", "throughput": "throughput"}
    if key not in metrics:
        raise ValueError(
            f"bad budget key {key!r}; expected latency_pNN, loss_rate, jitter or throughput"
        )
    return BudgetDefault(metrics[key], limit, source, "assumption")  # type: ignore[arg-type]


def parse_overrides(
    written: Mapping[str, Mapping[str, object]],
    defaults: Mapping[str, Sequence[BudgetDefault]],
    error,
    what: str = "role",
) -> dict[str, dict[str, float | None]]:
    """A workload section's budget overrides, as written, parsed to SI limits.

    ``written`` maps a role (or stream) to ``{metric key: value}``, values with units as the
    user writes them (``latency_p99: 150ms``, ``loss_rate: 1%``, ``throughput: 5Mbps``) or
    null to remove a default. ``error(path, message)`` makes the one-line ScenarioError at
    ``("budgets", role, key)`` below the section. The result feeds :func:`apply_overrides`.
    """
    from .units import UnitError, parse_bit_rate, parse_ratio, parse_time

    parsers = {"latency": parse_time, "loss_rate": parse_ratio, "jitter": parse_time}
    out: dict[str, dict[str, float | None]] = {}
    for group, limits in written.items():
        if group not in defaults:
            names = ", ".join(defaults)
            raise error(("budgets", group), f"no {what} {group!r}; {what}s: {names}")
        known = {b.key for b in defaults[group]}
        for key, value in limits.items():
            where = ("budgets", group, key)
            if value is None:
                if key not in known:
                    raise error(where, f"no {key!r} budget to remove for {group}")
                out.setdefault(group, {})[key] = None
                continue
            kind = "latency" if key.startswith("latency_p") else key
            parse = parsers.get(kind, parse_bit_rate if key == "throughput" else None)
            if parse is None:
                expected = "latency_pNN, loss_rate, jitter or throughput"
                raise error(where, f"unknown budget {key!r}; expected {expected}")
            try:
                out.setdefault(group, {})[key] = float(parse(value))
            except UnitError as exc:
                raise error(where, str(exc)) from None
    return out
