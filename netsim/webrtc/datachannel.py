"""A WebRTC data channel: one SCTP association (RFC 9260) with partial reliability (RFC 3758).

The stream's own source (kind, rate, size; :class:`netsim.traffic.Source`) gives the
channel's *messages*: when the application calls ``send()`` and how large the packet is on
the wire (the size model already includes IPv4 + UDP + DTLS + SCTP common header + DATA
chunk header, :data:`netsim.presets.DATACHANNEL_OVERHEAD_BYTES`). Every message is one DATA
chunk in one packet of its own: messages are assumed to fit the path MTU (dcsctp's SCTP
packets are at most 1191 B [read]); a larger one is sent as one (large) packet, not as
fragments. Retransmissions resend the same packet.

**Sender** (RFC 9260 §6, §7.2.4; RFC 3758 §3.5). Each message gets the next TSN and is sent
at once: there is no congestion window, receiver window, Nagle-like delay or bundling
(messages here are small and sparse next to the links). A chunk is retransmitted

- by *fast retransmit* once 3 SACKs have reported it missing (miss indications, HTNA rule:
  only SACKs that newly acknowledge a higher TSN count, and in fast recovery every SACK that
  advances the cumulative ack); at most once per fast recovery, which ends when the
  cumulative ack reaches the highest TSN outstanding when it began;
- by the *T3-rtx timer*: started when a chunk is sent and none is running, restarted when
  the cumulative ack advances, stopped when nothing is outstanding. When it expires, the RTO
  doubles (up to :data:`RTO_MAX_S`), fast recovery ends and every chunk still unacknowledged
  is sent again (with a cwnd of one MTU and bundling, dcsctp would send them over a few
  round trips; here they leave back to back).

The RTO follows RFC 9260 §6.3.1: the first sample R gives SRTT = R, RTTVAR = R/2; later ones
RTTVAR = (1 - beta) RTTVAR + beta |SRTT - R|, SRTT = (1 - alpha) SRTT + alpha R; RTO = SRTT +
4 RTTVAR, clamped to [:data:`RTO_MIN_S`, :data:`RTO_MAX_S`], with dcsctp's floor on RTTVAR.
A sample is taken when a SACK advances the cumulative ack, from the chunk at the new
cumulative TSN (as dcsctp), if this SACK is the first to acknowledge it and it was never
retransmitted (Karn) nor abandoned. It includes the receiver's delayed-ack wait, as in a
real stack.

**Partial reliability** (W3C ``maxRetransmits`` / ``maxPacketLifeTime``, RFC 8831 §6.1 over
RFC 3758). Checked just before a chunk would be retransmitted (dcsctp abandons only chunks
marked for retransmission): with ``max_retransmits = n`` a chunk already retransmitted n
times is abandoned; with ``max_packet_lifetime_s = T`` a chunk is abandoned once
``now - send time >= T`` (dcsctp: ``expires_at <= now``). Whenever the chunk after the
cumulative ack is abandoned (checked after each SACK and T3 expiry), the sender sends a
FORWARD-TSN (on the data lane) carrying the Advanced.Peer.Ack.Point, so the receiver moves
on; then none for min(SRTT, 200 ms) (dcsctp), after which a lost or stale one is sent again
on the next SACK or T3 expiry. With an *ordered* channel the messages after an abandoned one
still wait until its loss is detected and the FORWARD-TSN arrives: partial reliability
bounds the retransmissions, not the delay of the others.

**Receiver** (RFC 9260 §6.2, §6.7, as dcsctp's ``DataTracker``). A SACK goes back on the
feedback lane immediately for the first DATA chunk, for a duplicate, and for every packet
received while a gap exists; otherwise for every second packet, or
:data:`DELAYED_ACK_S` after an unacknowledged one. A FORWARD-TSN counts as a packet for
these rules (immediately if it is out of date). An ordered channel delivers in TSN order (one
SCTP stream: TSN order is SSN order), so a message waits for every earlier one to arrive or
be skipped by a FORWARD-TSN (head-of-line blocking); an unordered channel delivers on
arrival. Duplicates are counted and ignored. The receiver never reneges (as dcsctp).

**Sizes on the wire.** SACK: IPv4 20 + UDP 8 + DTLS record 37 + SCTP common header 12 +
SACK chunk 16 = 93 B, plus 4 B per gap-ack block and per duplicate TSN (RFC 9260 §3.3.4).
FORWARD-TSN: 20 + 8 + 37 + 12 + 8 = 85 B, plus 4 B for the one (stream, SSN) entry of an
ordered channel (RFC 3758 §3.2).

**Left out**: association setup and teardown (the channel is open at t = 0), heartbeats,
cwnd/rwnd and Max.Burst, bundling of several chunks per packet, fragmentation, several
streams per association and their scheduler, I-DATA, the association failing after
Association.Max.Retrans (a reliable chunk is retransmitted for ever), gap-ack block limits.

Metrics per message: send time, delivery time to the application (NaN if never delivered),
retransmissions, head-of-line delay (delivery minus the arrival of its own first copy).
:meth:`DataChannelSession.report` documents the statistics.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from ..plan import ChannelSpec, NetworkPlan, StreamSpec
from ..presets import (
    DATACHANNEL_OVERHEAD_BYTES,
    DTLS_AES_GCM_BYTES,
    DTLS_RECORD_HEADER_BYTES,
    IPV4_HEADER_BYTES,
    SCTP_COMMON_HEADER_BYTES,
    UDP_HEADER_BYTES,
)
from ..traffic import Source
from .session import FEEDBACK, MEDIA, Session, TransportReport

__all__ = [
    "RTO_INITIAL_S",
    "RTO_MIN_S",
    "RTO_MAX_S",
    "RTT_MAX_S",
    "RTTVAR_MIN_S",
    "RTO_ALPHA",
    "RTO_BETA",
    "DELAYED_ACK_S",
    "FAST_RETRANSMIT_MISSES",
    "FORWARD_TSN_HOLDOFF_MAX_S",
    "SACK_BYTES",
    "GAP_BLOCK_BYTES",
    "FORWARD_TSN_BYTES",
    "FORWARD_TSN_STREAM_BYTES",
    "DataChannelSession",
    "channel_mode",
]

# --------------------------------------------------------------------------------------------
# SCTP constants. libwebrtc's dcsctp defaults, read in net/dcsctp/public/dcsctp_options.h of
# a mirror of the WebRTC tree [read]; older dcsctp revisions had rto_min 220 ms and rto_max
# 800 ms [read]. RFC 4960 §15: RTO.Initial 3 s, RTO.Min 1 s, RTO.Max 60 s; RFC 9260 §16
# lowered RTO.Initial to 1 s [recalled; secondary].

RTO_INITIAL_S = 0.5
"""RTO before the first RTT sample, s (dcsctp ``rto_initial`` 500 ms) [read]."""
RTO_MIN_S = 0.4
"""Lower clamp of the RTO, s (dcsctp ``rto_min`` 400 ms; RFC 9260: 1 s) [read]."""
RTO_MAX_S = 60.0
"""Upper clamp of the RTO, also of its backoff, s (dcsctp ``rto_max``; RFC 9260: 60 s) [read]."""
RTT_MAX_S = 60.0
"""RTT samples above this are discarded, s (dcsctp ``rtt_max`` 60 s) [read]."""
RTTVAR_MIN_S = 0.220 / 8.0
"""Floor on RTTVAR, s: dcsctp ``min_rtt_variance`` 220 ms divided by its
``kHeuristicVarianceAdjustment`` 8 (so 4 RTTVAR >= 110 ms) [read]."""
RTO_ALPHA = 1.0 / 8.0
"""SRTT gain (RFC 9260 §6.3.1 and §16, RTO.Alpha; dcsctp kRtoAlpha) [read]."""
RTO_BETA = 1.0 / 4.0
"""RTTVAR gain (RFC 9260 §6.3.1 and §16, RTO.Beta; dcsctp kRtoBeta) [read]."""
DELAYED_ACK_S = 0.2
"""Delayed-SACK timeout, s: RFC 9260 §6.2 "within 200 ms" [recalled]; dcsctp
``delayed_ack_max_timeout`` 200 ms (it takes min(RTO/2, 200 ms), and RTO >= 400 ms) [read]."""
FAST_RETRANSMIT_MISSES = 3
"""Miss indications that trigger a fast retransmit (RFC 9260 §7.2.4) [recalled]."""
FORWARD_TSN_HOLDOFF_MAX_S = 0.2
"""After a FORWARD-TSN, none is sent for min(SRTT, 200 ms) (SRTT = RTO_INITIAL_S before a
sample): dcsctp's ``limit_forward_tsn_until_``, after RFC 3758's implementation note ("SHOULD
NOT exceed 200ms") [read]."""

_DTLS_UDP_IP = IPV4_HEADER_BYTES + UDP_HEADER_BYTES + DTLS_RECORD_HEADER_BYTES + DTLS_AES_GCM_BYTES
SACK_BYTES = _DTLS_UDP_IP + SCTP_COMMON_HEADER_BYTES + 16
"""A SACK packet without gap blocks: 93 B (SACK chunk header 16 B, RFC 9260 §3.3.4)."""
GAP_BLOCK_BYTES = 4
"""Per gap-ack block and per duplicate TSN reported in a SACK."""
FORWARD_TSN_BYTES = _DTLS_UDP_IP + SCTP_COMMON_HEADER_BYTES + 8
"""A FORWARD-TSN packet without stream entries: 85 B (chunk header + new cum TSN, RFC 3758)."""
FORWARD_TSN_STREAM_BYTES = 4
"""Per (stream, SSN) entry of a FORWARD-TSN; an ordered channel carries one."""

# Event priorities at equal times (the second element of the heap key): messages are sent
# first, then packets arrive, then timers fire. Keys depend only on what the event is, never
# on when it was scheduled, so the run does not depend on the engine's windows.
_MESSAGE, _ARRIVAL, _T3, _DELAYED_ACK = 0, 1, 2, 3


def channel_mode(channel: ChannelSpec) -> str:
    """``reliable-ordered``, ``reliable-unordered``, ``max-retransmits=N``, ``max-lifetime=Tms``."""
    if channel.reliable:
        return "reliable-ordered" if channel.ordered else "reliable-unordered"
    parts = []
    if channel.max_retransmits is not None:
        parts.append(f"max-retransmits={channel.max_retransmits}")
    if channel.max_packet_lifetime_s is not None:
        parts.append(f"max-lifetime={channel.max_packet_lifetime_s * 1e3:g}ms")
    return ",".join(parts)


class DataChannelSession(Session):
    """An RTCDataChannel over one SCTP association; see the module docstring for the model."""

    kind = "datachannel"

    def __init__(self, stream: StreamSpec, plan: NetworkPlan, seed: int, horizon_s: float):
        super().__init__(stream, plan, seed, horizon_s)
        transport = stream.transport
        channel = transport.channel if transport is not None else None
        self.channel = channel if channel is not None else ChannelSpec()
        self.ordered = self.channel.ordered
        self._max_rtx = self.channel.max_retransmits
        self._lifetime = self.channel.max_packet_lifetime_s
        self._source = Source(stream, self.duration_s, seed)
        # Per message (= per TSN).
        self._t_send: list[float] = []
        self._size: list[int] = []
        self._rtx: list[int] = []
        self._miss: list[int] = []
        self._acked = bytearray()  # sender: acknowledged by a SACK (cumulative or gap block)
        self._abandoned = bytearray()  # sender: abandoned (PR-SCTP)
        self._t_recv: list[float] = []  # receiver: reaction to the first copy that arrived
        self._t_deliver: list[float] = []  # receiver: handed to the application
        # What each packet carries, by sequence number per lane.
        self._data_pkt: list[int] = []  # TSN of a DATA chunk, or -2 - new cum TSN (FORWARD-TSN)
        self._sack_pkt: list[tuple[int, tuple[tuple[int, int], ...]]] = []  # (cum, gap blocks)
        # Sender state.
        self._cum = -1  # cumulative TSN ack point
        self._in_fr = False
        self._fr_exit = -1
        self._fr_done: set[int] = set()
        self._srtt: float | None = None
        self._rttvar = 0.0
        self._rto = RTO_INITIAL_S
        self._t3_gen = 0
        self._t3_running = False
        self._forward_tsn_after = 0.0  # no FORWARD-TSN before this time
        # Receiver state.
        self._rx_cum = -1
        self._rx_above: set[int] = set()
        self._rx_dups = 0
        self._rx_seen = False
        self._rx_delayed = False
        self._ack_gen = 0
        # Counters and series.
        self._n = {
            "packetsSent": 0,
            "retransmissions": 0,
            "fastRetransmissions": 0,
            "t3Expirations": 0,
            "abandonedMessages": 0,
            "forwardTsnSent": 0,
            "sacksSent": 0,
            "duplicateTsnsReceived": 0,
        }
        self._rto_series: list[tuple[float, float, float]] = []  # (t, srtt, rto)

    # ----- the event loop: keys that do not depend on the windows --------------------------
    def _push(self, t: float, key: tuple, action, args: tuple) -> None:
        if t < self.now:
            t = self.now
        if t >= self.horizon_s or math.isnan(t):
            return
        heapq.heappush(self._heap, (t, key, action, args))

    def at(self, t: float, action, *args) -> None:
        """The base class schedules only packet arrivals; key them by (lane, seq)."""
        if action == self.on_arrival:
            key: tuple = (_ARRIVAL, args[0], args[1])
        else:  # pragma: no cover - nothing else calls at()
            self._order += 1
            key = (9, self._order)
        self._push(t, key, action, args)

    def emit(self, t_end: float):
        seq, t_send, size = self._source.take(t_end)
        for k, t, s in zip(seq.tolist(), t_send.tolist(), size.tolist(), strict=True):
            self._push(t, (_MESSAGE, k), self._on_message, (s,))
        return super().emit(t_end)

    @property
    def idle(self) -> bool:
        return super().idle and self._source.exhausted

    # ----- sender -----------------------------------------------------------------------
    def _on_message(self, size: int) -> None:
        tsn = len(self._t_send)
        self._t_send.append(self.now)
        self._size.append(size)
        self._rtx.append(0)
        self._miss.append(0)
        self._acked.append(0)
        self._abandoned.append(0)
        self._t_recv.append(math.nan)
        self._t_deliver.append(math.nan)
        self._send_data(tsn)

    def _send_data(self, tsn: int) -> None:
        self.send(MEDIA, self.now, self._size[tsn])
        self._data_pkt.append(tsn)
        self._n["packetsSent"] += 1
        if not self._t3_running:
            self._t3_start()

    def _send_forward_tsn(self, new_cum: int) -> None:
        size = FORWARD_TSN_BYTES + (FORWARD_TSN_STREAM_BYTES if self.ordered else 0)
        self.send(MEDIA, self.now, size)
        self._data_pkt.append(-2 - new_cum)
        self._n["packetsSent"] += 1
        self._n["forwardTsnSent"] += 1
        if not self._t3_running:
            self._t3_start()

    def _t3_start(self) -> None:
        self._t3_gen += 1
        self._t3_running = True
        gen = self._t3_gen
        self._push(self.now + self._rto, (_T3, gen), self._on_t3, (gen,))

    def _t3_stop(self) -> None:
        self._t3_gen += 1
        self._t3_running = False

    def _expired(self, tsn: int) -> bool:
        """PR-SCTP: whether the chunk must be abandoned instead of retransmitted."""
        if self._max_rtx is not None and self._rtx[tsn] >= self._max_rtx:
            return True
        return self._lifetime is not None and self.now - self._t_send[tsn] >= self._lifetime

    def _retransmit(self, tsn: int) -> bool:
        if self._expired(tsn):
            self._abandoned[tsn] = 1
            self._n["abandonedMessages"] += 1
            return False
        self._rtx[tsn] += 1
        self._miss[tsn] = 0
        self._n["retransmissions"] += 1
        self._send_data(tsn)
        return True

    def _maybe_forward_tsn(self) -> None:
        """Send a FORWARD-TSN when the chunk after the cumulative ack is abandoned."""
        first, n = self._cum + 1, len(self._t_send)
        if first >= n or not self._abandoned[first] or self.now < self._forward_tsn_after:
            return
        adv = first
        while adv + 1 < n and (self._abandoned[adv + 1] or self._acked[adv + 1]):
            adv += 1
        self._send_forward_tsn(adv)
        srtt = RTO_INITIAL_S if self._srtt is None else self._srtt
        self._forward_tsn_after = self.now + min(srtt, FORWARD_TSN_HOLDOFF_MAX_S)

    def _observe_rtt(self, rtt: float) -> None:
        if rtt < 0.0 or rtt > RTT_MAX_S:
            return
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2.0
        else:
            self._rttvar = (1.0 - RTO_BETA) * self._rttvar + RTO_BETA * abs(self._srtt - rtt)
            self._srtt = (1.0 - RTO_ALPHA) * self._srtt + RTO_ALPHA * rtt
        self._rttvar = max(self._rttvar, RTTVAR_MIN_S)
        self._rto = min(max(self._srtt + 4.0 * self._rttvar, RTO_MIN_S), RTO_MAX_S)
        self._rto_series.append((self.now, self._srtt, self._rto))

    def _on_sack(self, cum: int, gaps: tuple[tuple[int, int], ...]) -> None:
        if cum < self._cum:
            return  # older than one already processed (RFC 9260 §6.2.1)
        acked, abandoned = self._acked, self._abandoned
        n = len(self._t_send)
        htna = -1  # highest TSN newly acknowledged
        advanced = cum > self._cum
        sample = advanced and not acked[cum] and not abandoned[cum] and self._rtx[cum] == 0
        for tsn in range(self._cum + 1, cum + 1):
            if not acked[tsn]:
                acked[tsn] = 1
                if not abandoned[tsn]:
                    htna = tsn
        for lo, hi in gaps:
            for tsn in range(lo, hi + 1):
                if not acked[tsn]:
                    acked[tsn] = 1
                    if not abandoned[tsn]:
                        htna = max(htna, tsn)
        if sample:
            self._observe_rtt(self.now - self._t_send[cum])
        self._cum = cum
        if self._in_fr and cum >= self._fr_exit:
            self._in_fr = False
            self._fr_done.clear()
        # Miss indications (HTNA; in fast recovery, every SACK advancing the cum ack counts).
        limit = htna
        if self._in_fr and advanced and gaps:
            limit = max(limit, gaps[-1][1])
        marked = []
        for tsn in range(cum + 1, min(limit, n)):
            if acked[tsn] or abandoned[tsn]:
                continue
            self._miss[tsn] += 1
            if self._miss[tsn] >= FAST_RETRANSMIT_MISSES and tsn not in self._fr_done:
                marked.append(tsn)
        restart = False
        if marked:
            if not self._in_fr:
                self._in_fr = True
                self._fr_exit = n - 1
            for tsn in marked:
                self._fr_done.add(tsn)
                if self._retransmit(tsn):
                    self._n["fastRetransmissions"] += 1
                    restart = restart or tsn == cum + 1
        if cum >= n - 1:
            self._t3_stop()
        elif advanced or restart:
            self._t3_start()
        self._maybe_forward_tsn()

    def _on_t3(self, gen: int) -> None:
        if gen != self._t3_gen:
            return
        self._t3_running = False
        n = len(self._t_send)
        if self._cum >= n - 1:
            return
        self._n["t3Expirations"] += 1
        self._rto = min(2.0 * self._rto, RTO_MAX_S)
        self._rto_series.append(
            (self.now, math.nan if self._srtt is None else self._srtt, self._rto)
        )
        self._in_fr = False
        self._fr_done.clear()
        for tsn in range(self._cum + 1, n):
            if not self._acked[tsn] and not self._abandoned[tsn]:
                self._retransmit(tsn)
        self._maybe_forward_tsn()
        if not self._t3_running:
            self._t3_start()

    # ----- receiver ---------------------------------------------------------------------
    def on_arrival(self, lane: int, seq: int, t_recv: float) -> None:
        if lane == FEEDBACK:
            cum, gaps = self._sack_pkt[seq]
            self._on_sack(cum, gaps)
            return
        what = self._data_pkt[seq]
        if what >= 0:
            self._rx_data(what)
        else:
            self._rx_forward_tsn(-2 - what)

    def _advance_rx(self, cum: int) -> None:
        """Move the receiver's cumulative TSN to ``cum`` and on; deliver in order if ordered."""
        old, above = self._rx_cum, self._rx_above
        if above and min(above) <= cum:
            above.difference_update([t for t in above if t <= cum])
        while cum + 1 in above:
            cum += 1
            above.discard(cum)
        self._rx_cum = cum
        if self.ordered:
            recv, deliver, now = self._t_recv, self._t_deliver, self.now
            for tsn in range(old + 1, cum + 1):
                if recv[tsn] == recv[tsn] and deliver[tsn] != deliver[tsn]:
                    deliver[tsn] = now

    def _rx_data(self, tsn: int) -> None:
        immediate = False
        if tsn <= self._rx_cum or tsn in self._rx_above:
            self._rx_dups += 1
            self._n["duplicateTsnsReceived"] += 1
            immediate = True
        else:
            self._t_recv[tsn] = self.now
            if not self.ordered:
                self._t_deliver[tsn] = self.now
            if tsn == self._rx_cum + 1:
                self._advance_rx(tsn)
            else:
                self._rx_above.add(tsn)
            immediate = bool(self._rx_above)  # a gap: SACK at once (RFC 9260 §6.7)
        if not self._rx_seen:
            self._rx_seen = True
            immediate = True  # the first DATA chunk (RFC 9260 §5.1)
        self._ack_rules(immediate)

    def _rx_forward_tsn(self, new_cum: int) -> None:
        if new_cum <= self._rx_cum:
            self._ack_rules(True)  # out of date: the SACK may have been lost (RFC 3758 §3.6)
            return
        self._advance_rx(new_cum)
        self._ack_rules(False)

    def _ack_rules(self, immediate: bool) -> None:
        """Every second packet, or after DELAYED_ACK_S, unless told to SACK at once."""
        if not immediate:
            if self._rx_delayed:
                immediate = True
            else:
                self._rx_delayed = True
                self._ack_gen += 1
                gen = self._ack_gen
                self._push(
                    self.now + DELAYED_ACK_S, (_DELAYED_ACK, gen), self._on_delayed_ack, (gen,)
                )
        if immediate:
            self._send_sack()

    def _on_delayed_ack(self, gen: int) -> None:
        if gen == self._ack_gen and self._rx_delayed:
            self._send_sack()

    def _send_sack(self) -> None:
        self._rx_delayed = False
        self._ack_gen += 1
        gaps: list[tuple[int, int]] = []
        for tsn in sorted(self._rx_above):
            if gaps and gaps[-1][1] == tsn - 1:
                gaps[-1] = (gaps[-1][0], tsn)
            else:
                gaps.append((tsn, tsn))
        size = SACK_BYTES + GAP_BLOCK_BYTES * (len(gaps) + self._rx_dups)
        self._rx_dups = 0
        self._sack_pkt.append((self._rx_cum, tuple(gaps)))
        self.send(FEEDBACK, self.now, size)
        self._n["sacksSent"] += 1

    # ----- results ----------------------------------------------------------------------
    def report(self) -> TransportReport:
        """The channel's messages and counters.

        ``unit_t_s``: message send times; ``unit_latency_s``: delivery to the application
        minus send time, NaN for a message never delivered.

        ``stats`` under W3C webrtc-stats names where they exist. RTCDataChannelStats:
        ``messagesSent``, ``bytesSent``, ``messagesReceived`` (delivered to the application),
        ``bytesReceived``; the bytes are payload, the wire size less
        :data:`~netsim.presets.DATACHANNEL_OVERHEAD_BYTES` (so they include SCTP's padding to
        4 B). RTCSctpTransportStats: ``smoothedRoundTripTime`` (s, NaN before the first
        sample). medlink's own: ``retransmissionTimeout`` (final RTO, s), ``packetsSent`` (on
        the data lane: DATA first copies, retransmissions and FORWARD-TSNs),
        ``retransmissions`` (DATA chunks sent again), ``fastRetransmissions``,
        ``t3Expirations``, ``abandonedMessages`` (abandoned by the sender under partial
        reliability; one may still have arrived), ``forwardTsnSent``, ``sacksSent``,
        ``duplicateTsnsReceived``, ``headOfLineBlockedMessages`` (delivered later than their
        own first copy arrived) and ``headOfLineDelayTotal`` (s, the sum of those waits).

        ``series``: per message ``retransmissions`` and ``head_of_line_delay_s`` (0 if not
        blocked, NaN if not delivered) against send time; ``srtt_s`` and ``rto_s`` at each
        RTT sample and T3 expiry.
        """
        t_send = np.asarray(self._t_send, dtype=float)
        deliver = np.asarray(self._t_deliver, dtype=float)
        recv = np.asarray(self._t_recv, dtype=float)
        size = np.asarray(self._size, dtype=np.int64)
        latency = deliver - t_send
        delivered = np.isfinite(deliver)
        hol = np.where(delivered, deliver - recv, np.nan)
        blocked = delivered & (hol > 1e-12)
        payload = np.maximum(size - DATACHANNEL_OVERHEAD_BYTES, 0)
        stats: dict[str, float | int] = {
            "messagesSent": int(t_send.size),
            "bytesSent": int(payload.sum()),
            "messagesReceived": int(delivered.sum()),
            "bytesReceived": int(payload[delivered].sum()),
            "smoothedRoundTripTime": math.nan if self._srtt is None else float(self._srtt),
            "retransmissionTimeout": float(self._rto),
            **self._n,
            "headOfLineBlockedMessages": int(blocked.sum()),
            "headOfLineDelayTotal": float(hol[blocked].sum()),
        }
        rto = np.asarray(self._rto_series, dtype=float).reshape(-1, 3)
        series = {
            "retransmissions": (t_send, np.asarray(self._rtx, dtype=np.int64)),
            "head_of_line_delay_s": (t_send, hol),
            "srtt_s": (rto[:, 0], rto[:, 1]),
            "rto_s": (rto[:, 0], rto[:, 2]),
        }
        detail = {
            "mode": channel_mode(self.channel),
            "ordered": self.ordered,
            "max_retransmits": self._max_rtx,
            "max_packet_lifetime_s": self._lifetime,
            "rto_initial_s": RTO_INITIAL_S,
            "rto_min_s": RTO_MIN_S,
            "rto_max_s": RTO_MAX_S,
            "delayed_ack_s": DELAYED_ACK_S,
        }
        return TransportReport(
            kind="datachannel",
            unit="message",
            stats=stats,
            unit_t_s=t_send,
            unit_latency_s=latency,
            series=series,
            detail=detail,
        )
