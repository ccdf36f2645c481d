"""WebRTC audio: an Opus sender and a NetEQ-like adaptive jitter buffer at the receiver.

**Sender.** One RTP packet per Opus frame (RFC 6716) of ``frame_s`` (20 ms), from the stream's
``start_s`` until the session's ``duration_s``; frame ``k`` is captured (and sent: encoding
takes no time here) at ``start_s + k * frame_s``. The payload is constant,
``bitrate_bps * frame_s / 8`` bytes (80 B at 32 kbit/s): CBR, whereas libwebrtc runs Opus in
VBR by default [recalled]; DTX is off. The wire size adds :data:`netsim.presets.RTP_OVERHEAD_BYTES`
(IPv4 + UDP + RTP + SRTP tag, 50 B); header extensions (ssrc-audio-level, RFC 6464, and the
transport-wide sequence number) are not counted, as in :mod:`netsim.presets`. No NACK for audio
(libwebrtc's default [recalled]) and no feedback packets: the session sends nothing on its
feedback lane.

**Receiver: the target delay** follows libwebrtc's NetEQ DelayManager and UnderrunOptimizer
[read: modules/audio_coding/neteq/{delay_manager,underrun_optimizer,histogram}.cc]. A packet
reaches the jitter buffer at ``t_recv + ENDPOINT_DELAY_S`` (its *ingest* time); its delay is
``ingest - capture`` and its *relative delay* is that minus the smallest delay among the packets
ingested in the last :data:`HISTORY_S` (2 s). Every more than :data:`RESAMPLE_INTERVAL_S`
(500 ms) the largest relative delay of the interval goes, as a bucket of :data:`BUCKET_S`
(20 ms, 100 buckets, so up to 2 s), into a forgetting histogram (forget factor
:data:`FORGET_FACTOR` = 0.983 per sample, starting with weight :data:`START_FORGET_WEIGHT` = 2:
the factor after the n-th sample is ``min(0.983, 1 - 2 / (n + 1))``). The target is
``(i + 1) * 20 ms`` for the bucket ``i`` holding the :data:`QUANTILE` (0.95) quantile, at
least one frame; :data:`START_TARGET_S` (80 ms) until the first histogram sample. NetEQ's
ReorderOptimizer is left out, so reordered packets feed the histogram like the others (NetEQ with
``use_reorder_optimizer`` off). The histogram is in floating point, not Q15/Q30.

**Receiver: playout** (simpler than NetEQ's DecisionLogic, see docs/webrtc.md). Frame ``k``
plays at ``capture_k + offset``; playout starts with the first packet ingested, with
``offset`` = its delay + the target. At each frame's playout instant the buffer compares the
offset with its aim, ``smallest delay in the last 2 s + target``, in whole samples at 48 kHz:

- aim above the offset: it decelerates at once, the whole difference (time-stretching: the
  difference is ``insertedSamplesForDeceleration``), and looks again at the later instant;
- otherwise the frame plays if it has arrived, and while the offset is above the aim each played
  frame is shortened by at most :data:`ACCELERATION_SHARE` of its samples
  (``removedSamplesForAcceleration``): the buffer shrinks slowly;
- a frame not there is concealed (expand: ``concealedSamples``; a run of concealed frames is
  one ``concealmentEvents``), and a packet ingested after its frame's instant is discarded
  (``packetsDiscarded``), never played late.

Packets ingested at the same instant as a playout instant are taken in first (the session sees
their fate before their arrival, so the order does not depend on the engine's windows).

**Metrics.** Per frame: its capture time and ``playout - capture`` (network, 1 ms endpoint and
buffer; NaN when concealed or never reached). The Opus framing and look-ahead delay and the
playout device are not included. Stats carry W3C webrtc-stats names (RTCInboundRtpStreamStats
for audio, RTCOutboundRtpStreamStats for the sender); ``bytesSent`` counts payload octets
(RFC 3550 §6.4.1), and ``packetsLost`` is RFC 3550's expected minus received, expected from the
lowest to the highest sequence number received.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from ..plan import AudioSpec, NetworkPlan, StreamSpec
from ..presets import overhead_bytes
from .session import ENDPOINT_DELAY_S, MEDIA, Session, TransportReport

__all__ = [
    "AudioSession",
    "DelayHistogram",
    "SAMPLE_RATE_HZ",
    "BUCKET_S",
    "BUCKETS",
    "HISTORY_S",
    "QUANTILE",
    "FORGET_FACTOR",
    "START_FORGET_WEIGHT",
    "RESAMPLE_INTERVAL_S",
    "START_TARGET_S",
    "ACCELERATION_SHARE",
]

#: Opus decodes at 48 kHz in WebRTC (RTP clock rate 48 kHz, RFC 7587) [recalled]; the sample
#: counters count samples at this rate (one channel).
SAMPLE_RATE_HZ = 48_000
#: NetEQ's histogram buckets: 20 ms wide (kBucketSizeMs), 100 of them (kDelayBuckets) [read].
BUCKET_S = 0.020
BUCKETS = 100
#: Relative delays are taken against the fastest packet of the last 2 s (max_history_ms) [read].
HISTORY_S = 2.0
#: DelayManager::Config defaults: quantile, forget factor, start forget weight, resample
#: interval [read: libwebrtc delay_manager.h, 2022-2024 versions].
QUANTILE = 0.95
FORGET_FACTOR = 0.983
START_FORGET_WEIGHT = 2.0
RESAMPLE_INTERVAL_S: float | None = 0.5
#: Target until the histogram has its first sample (kStartDelayMs) [read].
START_TARGET_S = 0.080
#: At most this share of a played frame is removed to shrink the buffer (2.5 ms of 20 ms).
#: NetEQ's Accelerate removes pitch periods of 2.5-15 ms when the smoothed buffer level is high
#: [recalled]; the rate here is an [assumption].
ACCELERATION_SHARE = 0.125

_EPS_S = 1e-9  # float slack on time comparisons (far below a sample, 20.8 us)


class DelayHistogram:
    """NetEQ's forgetting histogram, in floating point (histogram.cc [read]).

    ``add(i)`` multiplies every bucket by the current forget factor and adds ``1 - factor`` to
    bucket ``i``, so the buckets sum to one; the factor starts at 0 and, after the n-th sample,
    is ``min(base, 1 - start_weight / (n + 1))`` (or, without a start weight, moves a quarter of
    the way to ``base`` per sample).
    """

    def __init__(self, buckets: int, forget: float, start_weight: float | None):
        self.p = np.zeros(buckets)
        self.base, self.start_weight = forget, start_weight
        self.forget = 0.0
        self.count = 0

    def add(self, index: int) -> None:
        self.p *= self.forget
        self.p[index] += 1.0 - self.forget
        self.count += 1
        if self.start_weight is not None:
            if self.forget != self.base:
                factor = 1.0 - self.start_weight / (self.count + 1)
                self.forget = max(0.0, min(self.base, factor))
        else:
            self.forget += (self.base - self.forget) / 4.0

    def quantile(self, q: float) -> int:
        """The first bucket where the cumulative weight reaches ``q``."""
        index = int(np.searchsorted(np.cumsum(self.p), q - 1e-12))
        return min(index, self.p.size - 1)


class AudioSession(Session):
    """An Opus sender and a NetEQ-like receiver over the stream's path (``webrtc-audio``).

    The tuning constants are class attributes (module defaults) so a study can subclass the
    session, for example to run NetEQ's older per-packet histogram (``RESAMPLE_INTERVAL_S =
    None``, ``QUANTILE = 0.97``, ``FORGET_FACTOR = 0.9993``).
    """

    kind = "webrtc-audio"
    QUANTILE = QUANTILE
    FORGET_FACTOR = FORGET_FACTOR
    START_FORGET_WEIGHT: float | None = START_FORGET_WEIGHT
    RESAMPLE_INTERVAL_S = RESAMPLE_INTERVAL_S
    START_TARGET_S = START_TARGET_S
    ACCELERATION_SHARE = ACCELERATION_SHARE

    def __init__(self, stream: StreamSpec, plan: NetworkPlan, seed: int, horizon_s: float):
        super().__init__(stream, plan, seed, horizon_s)
        transport = stream.transport
        spec = transport.audio if transport is not None and transport.audio else AudioSpec()
        self.frame_s = float(spec.frame_s)
        self.payload_bytes = max(1, round(spec.bitrate_bps * self.frame_s / 8.0))
        self.wire_bytes = self.payload_bytes + overhead_bytes("rtp-audio")
        self.samples_per_frame = round(SAMPLE_RATE_HZ * self.frame_s)
        span = self.duration_s - stream.start_s
        self.n_frames = max(0, math.ceil(span / self.frame_s - _EPS_S)) if span > 0 else 0
        self.latency = np.full(self.n_frames, np.nan)
        # receiver: what has been decided but not yet ingested, and the buffer
        self._pending: list[tuple[float, int]] = []  # (ingest time, seq)
        self._buffer: dict[int, float] = {}  # seq -> ingest time, not yet played
        self._window: deque[tuple[float, float]] = deque()  # (ingest, delay), rising delays
        self._histogram = DelayHistogram(BUCKETS, self.FORGET_FACTOR, self.START_FORGET_WEIGHT)
        self._interval_start: float | None = None
        self._interval_max = 0.0
        self._target = self.START_TARGET_S
        self._target_t: list[float] = []
        self._target_v: list[float] = []
        self._d_ref = 0.0
        self._offset0 = 0.0  # playout offset at the start; + _stretch samples since
        self._stretch = 0
        self._next_frame = -1  # the frame whose playout instant comes next; -1: not started
        self._playing = False  # a frame has been played
        self._concealing = False
        self._lowest = self._highest = -1
        self.counts = dict.fromkeys(
            (
                "packetsReceived",
                "packetsDiscarded",
                "jitterBufferEmittedCount",
                "totalSamplesReceived",
                "concealedSamples",
                "concealmentEvents",
                "insertedSamplesForDeceleration",
                "removedSamplesForAcceleration",
            ),
            0,
        )
        self.jitter_buffer_delay = 0.0
        self.jitter_buffer_target_delay = 0.0
        if self.n_frames:
            self.at(self.capture_s(0), self._send_frame, 0)

    # ----- sender -----------------------------------------------------------------------
    def capture_s(self, k: int) -> float:
        """Capture (and send) time of frame ``k``."""
        return self.stream.start_s + k * self.frame_s

    def _send_frame(self, k: int) -> None:
        self.send(MEDIA, self.now, self.wire_bytes)  # seq == k: one packet per frame
        if k + 1 < self.n_frames:
            self.at(self.capture_s(k + 1), self._send_frame, k + 1)

    # ----- receiver ---------------------------------------------------------------------
    def on_fate(self, lane: int, seq: int, t_recv: float) -> None:
        if lane == MEDIA and t_recv == t_recv:
            heapq.heappush(self._pending, (t_recv + ENDPOINT_DELAY_S, seq))

    def on_arrival(self, lane: int, seq: int, t_recv: float) -> None:
        if lane == MEDIA:
            self._ingest_until(self.now)

    def _ingest_until(self, t: float) -> None:
        pending = self._pending
        while pending and pending[0][0] <= t:
            t_in, seq = heapq.heappop(pending)
            self._ingest(seq, t_in)

    def _ingest(self, k: int, t_in: float) -> None:
        counts = self.counts
        counts["packetsReceived"] += 1
        self._lowest = k if self._lowest < 0 else min(self._lowest, k)
        self._highest = max(self._highest, k)
        self._update_target(t_in, t_in - self.capture_s(k))
        if self._next_frame < 0:  # the first packet starts playout
            self._next_frame = k
            self._offset0 = self._d_ref + self._target
            self.at(self.capture_s(k) + self._offset0, self._tick, k)
        if k < self._next_frame:
            counts["packetsDiscarded"] += 1  # its playout instant has passed
        else:
            self._buffer[k] = t_in

    def _update_target(self, t_in: float, delay: float) -> None:
        window = self._window
        while window and window[0][0] < t_in - HISTORY_S - _EPS_S:
            window.popleft()
        while window and window[-1][1] >= delay:
            window.pop()
        window.append((t_in, delay))
        self._d_ref = window[0][1]
        relative = delay - self._d_ref
        if self.RESAMPLE_INTERVAL_S is None:
            self._add_sample(relative, t_in)
        elif self._interval_start is None:
            self._interval_start = t_in
        elif t_in - self._interval_start > self.RESAMPLE_INTERVAL_S + _EPS_S:
            self._add_sample(self._interval_max, t_in)
            self._interval_start, self._interval_max = t_in, 0.0
        self._interval_max = max(self._interval_max, relative)
        if not self._target_t:
            self._record_target(t_in)

    def _add_sample(self, relative: float, t: float) -> None:
        index = math.floor(relative / BUCKET_S + _EPS_S)
        if index < BUCKETS:  # NetEQ registers relative delays up to 2 s only
            self._histogram.add(index)
        if self._histogram.count:
            bucket = self._histogram.quantile(self.QUANTILE)
            target = max((bucket + 1) * BUCKET_S, self.frame_s)
            if target != self._target:
                self._target = target
                self._record_target(t)

    def _record_target(self, t: float) -> None:
        self._target_t.append(t)
        self._target_v.append(self._target)

    def _offset(self) -> float:
        return self._offset0 + self._stretch / SAMPLE_RATE_HZ

    def _tick(self, k: int) -> None:
        """Frame ``k``'s playout instant: stretch, play or conceal, and schedule the next."""
        self._ingest_until(self.now + _EPS_S)  # ties (to float rounding) go to the packet
        counts, spf = self.counts, self.samples_per_frame
        offset = self._offset()
        gap = round((self._d_ref + self._target - offset) * SAMPLE_RATE_HZ)
        if gap > 0:  # the aim is later: decelerate now, then look again
            self._stretch += gap
            if self._playing:  # before the first frame there is nothing to stretch
                counts["insertedSamplesForDeceleration"] += gap
                counts["totalSamplesReceived"] += gap
            self.at(self.capture_s(k) + self._offset(), self._tick, k)
            return
        t_in = self._buffer.pop(k, None)
        if t_in is not None:
            self.latency[k] = self.now - self.capture_s(k)
            counts["jitterBufferEmittedCount"] += spf
            self.jitter_buffer_delay += spf * (self.now - t_in)
            self.jitter_buffer_target_delay += spf * self._target
            self._concealing = False
            self._playing = True
            if gap < 0:
                removed = min(-gap, math.floor(self.ACCELERATION_SHARE * spf))
                self._stretch -= removed
                counts["removedSamplesForAcceleration"] += removed
                counts["totalSamplesReceived"] -= removed
        else:
            counts["concealedSamples"] += spf
            if not self._concealing:
                counts["concealmentEvents"] += 1
                self._concealing = True
        counts["totalSamplesReceived"] += spf
        self._next_frame = k + 1
        if k + 1 < self.n_frames:
            self.at(self.capture_s(k + 1) + self._offset(), self._tick, k + 1)

    # ----- results ----------------------------------------------------------------------
    def report(self) -> TransportReport:
        counts = self.counts
        sent = self._next_seq[MEDIA]
        expected = self._highest - self._lowest + 1 if self._highest >= 0 else 0
        stats: dict[str, float | int] = {
            "packetsSent": sent,
            "bytesSent": sent * self.payload_bytes,
            "packetsReceived": counts["packetsReceived"],
            "packetsLost": expected - counts["packetsReceived"],
            "packetsDiscarded": counts["packetsDiscarded"],
            "jitterBufferDelay": self.jitter_buffer_delay,
            "jitterBufferTargetDelay": self.jitter_buffer_target_delay,
            "jitterBufferEmittedCount": counts["jitterBufferEmittedCount"],
            "totalSamplesReceived": counts["totalSamplesReceived"],
            "totalSamplesDuration": counts["totalSamplesReceived"] / SAMPLE_RATE_HZ,
            "concealedSamples": counts["concealedSamples"],
            "silentConcealedSamples": 0,
            "concealmentEvents": counts["concealmentEvents"],
            "insertedSamplesForDeceleration": counts["insertedSamplesForDeceleration"],
            "removedSamplesForAcceleration": counts["removedSamplesForAcceleration"],
        }
        return TransportReport(
            kind=self.kind,
            unit="frame",
            stats=stats,
            unit_t_s=self.stream.start_s + np.arange(self.n_frames) * self.frame_s,
            unit_latency_s=self.latency.copy(),
            series={
                "jitter_buffer_target_s": (
                    np.array(self._target_t, dtype=float),
                    np.array(self._target_v, dtype=float),
                )
            },
            detail={},
        )
