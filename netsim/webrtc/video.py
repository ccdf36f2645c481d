"""WebRTC video, sender and receiver in one session: frames, pacer, NACK/RTX, FEC, keyframe
requests, transport-wide feedback to a GCC-style controller, a jitter buffer and freezes.

The model, step by step (docs/webrtc.md, "Video", has the parameters and their sources):

1. **Encoder.** A frame is captured every ``1 / fps`` from the stream's start until the run's
   duration; its size comes from the current target bit rate (:mod:`netsim.webrtc.frames`:
   one I frame per GOP of ``gop_s``, ``key_ratio`` times a P frame, lognormal variation of
   coefficient ``size_cv``). A keyframe also answers every keyframe request (PLI) that reached
   the sender before the capture, and the GOP restarts from it. The frame is ready
   ``encode_s`` after its capture.
2. **Pacer.** Every packet leaves through one queue at 2.5 x the target bit rate: packet
   ``i`` goes at ``max(ready_i, t_{i-1} + 8 * wire_{i-1} / pacing_rate)``. Retransmissions
   (RTX, RFC 4588: 2 B more) jump ahead of queued media; FEC parity packets follow their
   frame's media packets.
3. **FEC.** ``ceil(fec * n)`` parity packets per frame of ``n`` media packets, each the size
   of the frame's largest packet plus a ULPFEC header. The code is idealised as MDS: any
   ``n`` of the frame's ``n + k`` packets rebuild it (k parity packets recover up to k
   losses; real XOR FEC recovers fewer patterns).
4. **NACK and RTX.** The receiver tracks media RTP sequence numbers; on a gap it NACKs the
   missing ones at once (libwebrtc's NackRequester sends without delay) and again every RTT
   (checked on a 20 ms tick, as libwebrtc's NACK module runs) until they arrive, at most 10
   times per packet (kMaxNackRetries), or until their frame is decided. The sender
   retransmits a NACKed packet if it is still in its history (max(1 s, 3 RTT) after its
   first send), is not already queued, and was not retransmitted within the last RTT
   (libwebrtc's RtpPacketHistory::VerifyRtt).
5. **Feedback.** NACKs, PLIs and transport-wide feedback (every 50 ms: the arrival time of
   every packet since the last report, NaN for the missing) are RTCP packets on the feedback
   lane; a lost one is never acted on. With ``congestion_control`` each report goes to the
   GCC controller (:mod:`netsim.webrtc.gcc`), whose target sets the encoder's bit rate and
   the pacing rate. Each report also gives an RTT sample (the reported packet's send time to
   the report's reception, less the receiver's hold time, as RTCP's DLSR does), smoothed
   with gain 1/8. The receiver uses the same estimate for its re-NACK timing (in libwebrtc it
   comes from RTCP; here it is shared).
6. **Jitter buffer.** A frame is complete when all its media packets are in, or enough of them
   and its parity packets. Frames are decoded in order; a delta frame needs its predecessor
   decoded, a keyframe needs nothing. The playout delay ``D`` is recomputed at each frame's
   completion: the smallest frame delay (complete - capture) of the last 2 s, plus 3 x the
   (population) standard deviation of the frame delays of the last 1 s or 1.5 GOPs, whichever
   is longer (a stand-in for libwebrtc's Kalman JitterEstimator, whose frame-size term keeps
   keyframes in view), plus 10 ms render delay (kDefaultRenderDelayMs); at least
   ``min_playout_delay_s``. Frames delayed by a retransmission are left out of both windows, as
   libwebrtc leaves them out of its jitter estimate. A frame leaves the buffer (is decoded) at
   ``max(complete, capture + D - 10 ms, previous decode)`` and is rendered 10 ms later: on
   time, or late when it completed after its planned time.
7. **Giving up.** The buffer waits for an incomplete frame until ``capture + D +
   max_wait_s`` (only ``capture + D`` without NACK, as then only FEC can repair it) and, past
   that, gives it up as soon as it knows a packet of it is missing (a higher sequence number
   or a parity packet of the frame arrived): packets merely in flight are waited for. A
   given-up frame is dropped, a PLI is sent (again after max(200 ms, RTT) while no keyframe
   is arriving) and every delta frame is dropped until a keyframe is decoded.
8. **Freezes** (W3C webrtc-stats): a render interval at least max(3 x avg, avg + 150 ms),
   avg over the last 30 intervals (from the fifth on), is a freeze; ``freezeCount`` counts
   them and ``totalFreezesDuration`` sums their intervals.

Simpler than libwebrtc: no decode time; no gradual change of the playout delay; no fast
forward of late frames (they are rendered late, in order); the receiver learns each frame's
index and keyframe flag from the sender's table (in reality from the RTP headers); the
encoder hits its target exactly on average and does not subtract the FEC and RTX overhead
from it; one RTP stream, no simulcast or SVC; no padding or probing.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from ..plan import NetworkPlan, StreamSpec, VideoSpec
from ..presets import RTP_OVERHEAD_BYTES
from ..rng import component_rng
from . import frames as fr
from .session import ENDPOINT_DELAY_S, FEEDBACK, MEDIA, Session, TransportReport

__all__ = [
    "VideoSession",
    "RENDER_DELAY_S",
    "FEEDBACK_INTERVAL_S",
    "MAX_NACK_RETRIES",
    "MAX_WAIT_S",
    "KEYFRAME_RETRY_S",
]

#: libwebrtc's render delay, VCMTiming kDefaultRenderDelayMs = 10 [read: webrtc timing.h].
RENDER_DELAY_S = 0.010
#: Transport-wide feedback interval [recalled: libwebrtc's RemoteEstimatorProxy sends every
#: 50-250 ms, scaled with the bit rate; 50 ms at video rates].
FEEDBACK_INTERVAL_S = 0.050
#: NACKs per packet before the receiver stops asking, libwebrtc kMaxNackRetries = 10 [read:
#: modules/video_coding/nack_requester.cc].
MAX_NACK_RETRIES = 10
#: Largest NACK list; past it the receiver clears the list and asks for a keyframe
#: (libwebrtc kMaxNackPackets = 1000) [read: modules/video_coding/nack_requester.cc].
MAX_NACK_PACKETS = 1000
#: FCI entries per NACK packet, so that it stays below the 1200 B payload [assumption].
MAX_NACK_FCI = 250
#: The receiver re-NACKs on a 20 ms process tick, a packet once its last NACK is an RTT old
#: [read: libwebrtc nack_module.cc kProcessIntervalMs = 1000 / kProcessFrequency(50)].
NACK_TICK_S = 0.020
#: How long past a frame's render time the buffer waits for it when NACK can still repair it
#: [assumption: libwebrtc has no per-frame limit; it NACKs up to 10 times and asks for a
#: keyframe after 3 s without a decodable frame. 0.5 s covers a few RTTs on terrestrial
#: paths and bounds a freeze before a keyframe is asked for].
MAX_WAIT_S = 0.5
#: Wait between keyframe requests while none arrives [recalled: libwebrtc
#: kMaxWaitForKeyFrameMs = 200]; at least one RTT.
KEYFRAME_RETRY_S = 0.2
#: Sender's packet history for retransmission: max(1 s, 3 RTT) [recalled: libwebrtc
#: RtpPacketHistory kMinPacketDurationMs = 1000, kPacketCullingDelayFactor = 3].
HISTORY_MIN_S = 1.0
HISTORY_RTT_FACTOR = 3.0
#: Playout-delay windows [assumption]: the base (smallest frame delay) over the last 2 s; the
#: jitter over the last 1 s, or 1.5 GOPs if longer, so that the window always holds a
#: keyframe (libwebrtc's estimate keeps the largest frame size in view, decaying slowly) and
#: the delay does not swing with the GOP.
BASE_WINDOW_S = 2.0
JITTER_WINDOW_S = 1.0
JITTER_WINDOW_GOPS = 1.5
JITTER_STDS = 3.0
#: Freeze detection (W3C webrtc-stats freezeCount): window of 30 rendered frames [recalled:
#: W3C webrtc-stats]; at least 5 samples first [recalled: libwebrtc VideoQualityObserver].
FREEZE_WINDOW = 30
FREEZE_MIN_SAMPLES = 5
FREEZE_MIN_EXTRA_S = 0.150
#: RTT smoothing gain (as RFC 6298's alpha) [assumption].
RTT_GAIN = 0.125
#: Feedback reports continue this long after the last capture [assumption].
FEEDBACK_TAIL_S = 1.0

_MEDIA, _RTX, _FEC = 0, 1, 2  # packet kinds on the media lane
_NACK, _PLI, _TWCC = 0, 1, 2  # feedback kinds
_PENDING, _RENDERED, _DROPPED = 0, 1, 2  # a frame at the receiver
_NAN = math.nan


class VideoSession(Session):
    """A WebRTC video stream, sender and receiver (see the module docstring for the model).

    ``min_playout_delay_s`` is a floor on the playout delay (as the playout-delay header
    extension or W3C ``jitterBufferTarget`` set it); ``max_wait_s`` how long past its render
    time the jitter buffer waits for an incomplete frame that NACK may still repair.
    """

    kind = "webrtc-video"

    def __init__(
        self,
        stream: StreamSpec,
        plan: NetworkPlan,
        seed: int,
        horizon_s: float,
        *,
        min_playout_delay_s: float = 0.0,
        max_wait_s: float = MAX_WAIT_S,
    ):
        super().__init__(stream, plan, seed, horizon_s)
        transport = stream.transport
        spec = transport.video if transport is not None and transport.video else VideoSpec()
        self.spec = spec
        self.min_playout_delay_s = float(min_playout_delay_s)
        self.max_wait_s = float(max_wait_s)
        self.fps = float(spec.fps)
        self.gop = fr.gop_frames(spec.fps, spec.gop_s)
        self.nack_on = bool(spec.nack)
        self.fec = float(spec.fec)
        self.target_bps = float(spec.bitrate_bps)
        self._gcc = None
        if spec.congestion_control:
            from .gcc import GccController  # lazily: the module imports without it

            self._gcc = GccController(
                float(spec.bitrate_bps), float(spec.min_bitrate_bps), float(spec.max_bitrate_bps)
            )
        name = stream.source or stream.name
        self._z_rng = component_rng(seed, "stream", name, "frame-size")
        self._z = np.empty(0)
        self._z_next = 0
        self.base_rtt_s = self.forward_delay_s + self.feedback_delay_s + 2 * ENDPOINT_DELAY_S
        self.rtt_s = self.base_rtt_s

        # ----- per frame (sender's table, and the receiver's state) -----
        self.f_cap: list[float] = []
        self.f_key: list[bool] = []
        self.f_bytes: list[int] = []
        self.f_target: list[float] = []
        self.f_first: list[int] = []  # first media RTP seq
        self.f_n: list[int] = []
        self.f_nfec: list[int] = []
        self.f_got: list[int] = []  # media packets received (original or RTX)
        self.f_fec_got: list[int] = []
        self.f_first_rx: list[float] = []
        self.f_complete: list[float] = []
        self.f_retx: list[bool] = []
        self.f_playout: list[float] = []
        self.f_render: list[float] = []
        self.f_state: list[int] = []
        # ----- per media packet, by RTP seq -----
        self.m_frame: list[int] = []
        self.m_payload: list[int] = []
        self.m_first_send: list[float] = []
        self.m_last_send: list[float] = []
        self.m_nretx: list[int] = []
        self.m_queued: list[bool] = []  # an RTX waits in the pacer
        self.m_recv: list[int] = []  # 0 missing, 1 original, 2 RTX, 3 rebuilt by FEC
        # ----- per packet on the media lane, by transport-wide seq -----
        self.p_kind: list[int] = []
        self.p_ref: list[int] = []  # RTP seq (media, RTX) or frame (FEC)

        # ----- sender -----
        self._key_requested = False
        self._last_key = -(10**9)
        self._queue: deque = deque()
        self._rtxq: deque = deque()
        self._pacing = False
        self._free_at = -math.inf
        self._fb: dict[int, tuple[int, object]] = {}
        self._target_t = [stream.start_s]
        self._target_v = [self.target_bps]
        self._rtt_t: list[float] = []
        self._rtt_v: list[float] = []

        # ----- receiver -----
        self._high = -1  # highest media RTP seq received
        self._nack: dict[int, list] = {}  # seq -> [last NACK time, NACKs sent]
        self._nack_ticks: dict[int, list[int]] = {}  # NACK tick -> seqs to look at then
        self._nf = 0  # next frame to decode
        self._need_key = False
        self._waiting = -1  # frame whose deadline is scheduled
        self._overdue = -1  # awaited frame past its deadline
        self._last_pli = -math.inf
        self._window: deque = deque()  # (complete time, frame delay), not retransmitted
        self._jitter_window_s = max(JITTER_WINDOW_S, JITTER_WINDOW_GOPS * self.gop / self.fps)
        self._keep_s = max(BASE_WINDOW_S, self._jitter_window_s)
        self._playout_s = max(
            self.min_playout_delay_s, self.forward_delay_s + ENDPOINT_DELAY_S + RENDER_DELAY_S
        )
        self._playout_t: list[float] = []
        self._playout_v: list[float] = []
        self._last_emit = -math.inf
        self._last_render = _NAN
        self._intervals: deque = deque(maxlen=FREEZE_WINDOW)
        self._tw_seqs: list[int] = []
        self._tw_times: list[float] = []
        self._tw_next = 0

        self.c = dict.fromkeys(
            (
                "framesSent",
                "keyFramesEncoded",
                "framesReceived",
                "framesDecoded",
                "framesDropped",
                "freezeCount",
                "nackCount",
                "pliCount",
                "packetsSent",
                "packetsReceived",
                "retransmittedPacketsSent",
                "retransmittedBytesSent",
                "retransmittedPacketsReceived",
                "fecPacketsSent",
                "fecPacketsReceived",
                "bytesSent",
                "headerBytesSent",
                "jitterBufferEmittedCount",
                "framesGivenUp",
                "framesLate",
                "packetsRecoveredByFec",
                "wireBytesSent",
                "feedbackPacketsSent",
                "feedbackBytesSent",
                "twccReports",
                "keyframeRequestsReceived",
                "nackListOverflows",
            ),
            0,
        )
        self.c["totalFreezesDuration"] = 0.0
        self.c["jitterBufferDelay"] = 0.0
        self.c["totalEncodedBytesTarget"] = 0.0

        if stream.start_s < self.duration_s:
            self.at(stream.start_s, self._capture, 0)
            self.at(stream.start_s + FEEDBACK_INTERVAL_S, self._twcc_tick)

    # ================================================================ sender: encoder
    def _draw(self) -> float:
        if self._z_next >= self._z.size:
            self._z = self._z_rng.standard_normal(1024)
            self._z_next = 0
        z = float(self._z[self._z_next])
        self._z_next += 1
        return z

    def _capture(self, k: int) -> None:
        spec = self.spec
        key = k == 0 or self._key_requested or k - self._last_key >= self.gop
        if key:
            self._last_key = k
            self._key_requested = False
            self.c["keyFramesEncoded"] += 1
        z = self._draw()
        size = fr.frame_bytes(
            self.target_bps, self.fps, self.gop, spec.key_ratio, key, z, spec.size_cv
        )
        p, i = fr.frame_targets(self.target_bps, self.fps, self.gop, spec.key_ratio)
        self.c["totalEncodedBytesTarget"] += i if key else p
        payloads = fr.packetize(size).tolist()
        n = len(payloads)
        first = len(self.m_frame)
        self.f_cap.append(self.now)
        self.f_key.append(key)
        self.f_bytes.append(size)
        self.f_target.append(i if key else p)
        self.f_first.append(first)
        self.f_n.append(n)
        self.f_nfec.append(fr.fec_count(n, self.fec))
        self.f_got.append(0)
        self.f_fec_got.append(0)
        self.f_first_rx.append(_NAN)
        self.f_complete.append(_NAN)
        self.f_retx.append(False)
        self.f_playout.append(_NAN)
        self.f_render.append(_NAN)
        self.f_state.append(_PENDING)
        self.m_frame.extend([k] * n)
        self.m_payload.extend(payloads)
        self.m_first_send.extend([_NAN] * n)
        self.m_last_send.extend([_NAN] * n)
        self.m_nretx.extend([0] * n)
        self.m_queued.extend([False] * n)
        self.m_recv.extend([0] * n)
        self.at(self.now + spec.encode_s, self._encoded, k)
        nxt = self.stream.start_s + (k + 1) / self.fps
        if nxt < self.duration_s:
            self.at(nxt, self._capture, k + 1)
        if self._nf == k or self._need_key:
            self._advance()  # the receiver learns the frame exists (index, keyframe flag)

    def _encoded(self, k: int) -> None:
        first, n = self.f_first[k], self.f_n[k]
        queue = self._queue
        largest = 0
        for r in range(first, first + n):
            payload = self.m_payload[r]
            largest = max(largest, payload)
            queue.append((_MEDIA, r, payload, fr.packet_wire_bytes(payload)))
        parity = largest + fr.FEC_HEADER_BYTES
        for _ in range(self.f_nfec[k]):
            queue.append((_FEC, k, parity, fr.packet_wire_bytes(parity)))
        self._kick()

    # ================================================================ sender: pacer
    def _kick(self) -> None:
        if not self._pacing and (self._rtxq or self._queue):
            self._pacing = True
            self.at(max(self.now, self._free_at), self._pace)

    def _pace(self) -> None:
        kind, ref, payload, wire = (self._rtxq or self._queue).popleft()
        now = self.now
        self.send(MEDIA, now, wire)
        self.p_kind.append(kind)
        self.p_ref.append(ref)
        c = self.c
        c["packetsSent"] += 1
        c["bytesSent"] += payload
        c["headerBytesSent"] += fr.RTP_HEADER_TOTAL_BYTES
        c["wireBytesSent"] += wire
        if kind == _MEDIA:
            self.m_first_send[ref] = now
            self.m_last_send[ref] = now
            f = self.m_frame[ref]
            if ref == self.f_first[f] + self.f_n[f] - 1:
                c["framesSent"] += 1
        elif kind == _RTX:
            self.m_nretx[ref] += 1
            self.m_last_send[ref] = now
            self.m_queued[ref] = False
            c["retransmittedPacketsSent"] += 1
            c["retransmittedBytesSent"] += payload
        else:
            c["fecPacketsSent"] += 1
        self._free_at = now + 8.0 * wire / (fr.PACING_FACTOR * self.target_bps)
        if self._rtxq or self._queue:
            self.at(self._free_at, self._pace)
        else:
            self._pacing = False

    # ================================================================ sender: feedback
    def _on_feedback(self, seq: int) -> None:
        kind, content = self._fb.pop(seq)
        if kind == _NACK:
            self._retransmit(content)
        elif kind == _PLI:
            self._key_requested = True
            self.c["keyframeRequestsReceived"] += 1
        else:
            self._on_twcc(*content)

    def _retransmit(self, seqs) -> None:
        now = self.now
        history = max(HISTORY_MIN_S, HISTORY_RTT_FACTOR * self.rtt_s)
        rtt = self.rtt_s
        for r in seqs:
            first = self.m_first_send[r]
            if self.m_queued[r] or not now - first <= history:
                continue
            if self.m_nretx[r] > 0 and now < self.m_last_send[r] + rtt:
                continue  # already resent within an RTT: likely still in the network
            self.m_queued[r] = True
            payload = self.m_payload[r] + fr.RTX_OSN_BYTES
            self._rtxq.append((_RTX, r, payload, fr.packet_wire_bytes(payload)))
        self._kick()

    def _on_twcc(self, t_fb: float, lo: int, t_recv: np.ndarray) -> None:
        now = self.now
        hi = lo + t_recv.size
        t_send = np.asarray(self._sent_t[MEDIA][lo:hi], dtype=np.float64)
        size = np.asarray(self._sent_size[MEDIA][lo:hi], dtype=np.int64)
        got = np.flatnonzero(np.isfinite(t_recv))
        if got.size:
            j = int(got[-1])
            held = t_fb - (float(t_recv[j]) + ENDPOINT_DELAY_S)
            sample = (now - float(t_send[j])) - held
            self.rtt_s += RTT_GAIN * (sample - self.rtt_s)
            self._rtt_t.append(now)
            self._rtt_v.append(self.rtt_s)
        if self._gcc is not None:
            spec = self.spec
            new = float(self._gcc.on_feedback(now, t_send, t_recv, size))
            new = min(max(new, spec.min_bitrate_bps), spec.max_bitrate_bps)
            if new != self.target_bps:
                self.target_bps = new
                self._target_t.append(now)
                self._target_v.append(new)

    # ================================================================ receiver: packets
    def on_arrival(self, lane: int, seq: int, t_recv: float) -> None:
        if lane == FEEDBACK:
            self._on_feedback(seq)
            return
        self._tw_seqs.append(seq)
        self._tw_times.append(t_recv)
        self.c["packetsReceived"] += 1
        if self.p_kind[seq] == _FEC:
            self._rx_fec(self.p_ref[seq])
        else:
            self._rx_media(self.p_ref[seq], self.p_kind[seq] == _RTX)

    def _rx_media(self, r: int, retx: bool) -> None:
        gap = False
        if r > self._high:
            if r > self._high + 1:
                gap = True
                if self.nack_on:
                    self._nack_new(range(self._high + 1, r))
            self._high = r
        if retx:
            self.c["retransmittedPacketsReceived"] += 1
        if self.m_recv[r]:
            return  # a duplicate
        self.m_recv[r] = 2 if retx else 1
        if self._nack:
            self._nack.pop(r, None)
        f = self.m_frame[r]
        if self.f_first_rx[f] != self.f_first_rx[f]:
            self.f_first_rx[f] = self.now
        self.f_got[f] += 1
        if retx:
            self.f_retx[f] = True
        if self.f_state[f] == _PENDING and self.f_complete[f] != self.f_complete[f]:
            self._check_complete(f)
        if gap and self._overdue == self._nf:
            self._maybe_give_up()

    def _rx_fec(self, f: int) -> None:
        self.c["fecPacketsReceived"] += 1
        if self.f_first_rx[f] != self.f_first_rx[f]:
            self.f_first_rx[f] = self.now
        if self.f_state[f] != _PENDING or self.f_complete[f] == self.f_complete[f]:
            return
        self.f_fec_got[f] += 1
        self._check_complete(f)
        if self._overdue == f == self._nf:
            self._maybe_give_up()

    def _check_complete(self, f: int) -> None:
        n, got = self.f_n[f], self.f_got[f]
        if got < n:
            if got + self.f_fec_got[f] < n:
                return
            first = self.f_first[f]
            for r in range(first, first + n):  # rebuilt from parity (MDS code)
                if not self.m_recv[r]:
                    self.m_recv[r] = 3
                    self._nack.pop(r, None)
            self.c["packetsRecoveredByFec"] += n - got
        now = self.now
        self.f_complete[f] = now
        self.c["framesReceived"] += 1
        if not self.f_retx[f]:
            self._window.append((now, now - self.f_cap[f]))
        self._update_playout(now)
        self.f_playout[f] = self._playout_s
        if f == self._nf:
            self._advance()

    def _update_playout(self, now: float) -> None:
        window = self._window
        while window and window[0][0] < now - self._keep_s:
            window.popleft()
        if not window:
            return
        base = min(d for t, d in window if t >= now - BASE_WINDOW_S)
        recent = [d for t, d in window if t >= now - self._jitter_window_s]
        mean = sum(recent) / len(recent)
        std = math.sqrt(sum((d - mean) ** 2 for d in recent) / len(recent))
        self._playout_s = max(self.min_playout_delay_s, base + JITTER_STDS * std + RENDER_DELAY_S)
        self._playout_t.append(now)
        self._playout_v.append(self._playout_s)

    # ================================================================ receiver: NACK
    def _nack_new(self, seqs) -> None:
        now = self.now
        batch = []
        for s in seqs:
            f = self.m_frame[s]
            if self.m_recv[s] or self.f_state[f] != _PENDING:
                continue
            if self.f_complete[f] == self.f_complete[f]:
                continue
            batch.append(s)
        if not batch:
            return
        if len(self._nack) + len(batch) > MAX_NACK_PACKETS:
            self._nack.clear()  # too much to repair: start over from a keyframe
            self.c["nackListOverflows"] += 1
            self._request_key()
            return
        for s in batch:
            self._nack[s] = [now, 1]
        self._send_nack(batch)

    def _send_nack(self, batch: list[int]) -> None:
        """NACK the sorted ``batch``: one RTCP packet per :data:`MAX_NACK_FCI` entries."""
        now = self.now
        start, fci, pid = 0, 0, -math.inf
        for i, s in enumerate(batch + [math.inf]):
            if s > pid + 16:
                if fci == MAX_NACK_FCI or s == math.inf:
                    part = batch[start:i]
                    seq = self.send(FEEDBACK, now, fr.nack_bytes(part))
                    self._fb[seq] = (_NACK, tuple(part))
                    self.c["nackCount"] += 1
                    self._count_feedback(seq)
                    start, fci = i, 0
                pid = s
                fci += 1
        self._renack_at(now + self.rtt_s, batch)

    def _renack_at(self, due: float, seqs: list[int]) -> None:
        """Look at ``seqs`` again at the first NACK tick at or after ``due``."""
        start = self.stream.start_s
        tick = max(0, math.ceil((due - start) / NACK_TICK_S - 1e-9))
        waiting = self._nack_ticks.get(tick)
        if waiting is None:
            self._nack_ticks[tick] = waiting = []
            self.at(start + tick * NACK_TICK_S, self._renack, tick)
        waiting.extend(seqs)

    def _renack(self, tick: int) -> None:
        """NACK again the packets last NACKed an RTT ago or more (one NACK packet)."""
        batch = self._nack_ticks.pop(tick)
        now, rtt = self.now, self.rtt_s
        due = []
        for s in batch:
            entry = self._nack.get(s)
            if entry is None:
                continue
            if now - entry[0] >= rtt - 1e-9:
                due.append(s)
                entry[0] = now
                entry[1] += 1
                if entry[1] >= MAX_NACK_RETRIES:
                    del self._nack[s]  # the last NACK for it; libwebrtc gives up here
            else:
                self._renack_at(entry[0] + rtt, [s])  # the RTT estimate grew
        if due:
            self._send_nack(sorted(set(due)))

    # ================================================================ receiver: buffer
    def _advance(self) -> None:
        """Decode what can be decoded, in order; drop what cannot; wait for the rest."""
        while self._nf < len(self.f_cap):
            f = self._nf
            if self._need_key and not self.f_key[f]:
                self._drop(f)
                self._nf += 1
                continue
            if self.f_complete[f] == self.f_complete[f]:
                self._emit(f)
                self._nf += 1
                continue
            if self._waiting != f:
                self._waiting = f
                wait = self.max_wait_s if self.nack_on else 0.0
                self.at(self.f_cap[f] + self._playout_s + wait, self._deadline, f)
            return

    def _emit(self, f: int) -> None:
        cap, done, playout = self.f_cap[f], self.f_complete[f], self.f_playout[f]
        planned = cap + playout - RENDER_DELAY_S
        emit = max(done, planned, self._last_emit)
        render = emit + RENDER_DELAY_S
        c = self.c
        if done > planned:
            c["framesLate"] += 1
        self.f_render[f] = render
        self.f_state[f] = _RENDERED
        c["framesDecoded"] += 1
        c["jitterBufferEmittedCount"] += 1
        c["jitterBufferDelay"] += emit - self.f_first_rx[f]
        if self.f_key[f]:
            self._need_key = False
        last = self._last_render
        if last == last:
            interval = render - last
            ivs = self._intervals
            if len(ivs) >= FREEZE_MIN_SAMPLES:
                avg = sum(ivs) / len(ivs)
                if interval >= max(3.0 * avg, avg + FREEZE_MIN_EXTRA_S):
                    c["freezeCount"] += 1
                    c["totalFreezesDuration"] += interval
            ivs.append(interval)
        self._last_render = render
        self._last_emit = emit

    def _drop(self, f: int) -> None:
        self.f_state[f] = _DROPPED
        self.c["framesDropped"] += 1
        if self._nack:
            first = self.f_first[f]
            for r in range(first, first + self.f_n[f]):
                self._nack.pop(r, None)

    def _deadline(self, f: int) -> None:
        if self._nf != f or self.f_state[f] != _PENDING:
            return
        self._overdue = f
        self._maybe_give_up()

    def _maybe_give_up(self) -> None:
        """Give up the awaited, overdue frame if a packet of it is known to be missing."""
        f = self._nf
        if f >= len(self.f_cap) or self.f_complete[f] == self.f_complete[f]:
            return
        first, n = self.f_first[f], self.f_n[f]
        known = min(first + n, self._high + 1) - first
        if self.f_fec_got[f] == 0 and self.f_got[f] >= known:
            return  # nothing known missing: its packets may still be in flight
        self._drop(f)
        self.c["framesGivenUp"] += 1
        self._need_key = True
        self._overdue = -1
        self._request_key()
        self._nf += 1
        self._advance()

    def _request_key(self) -> None:
        now = self.now
        interval = max(KEYFRAME_RETRY_S, self.rtt_s)
        if now - self._last_pli < interval - 1e-12:
            return  # the retry scheduled with the last PLI will ask again if needed
        seq = self.send(FEEDBACK, now, fr.pli_bytes())
        self._fb[seq] = (_PLI, None)
        self.c["pliCount"] += 1
        self._count_feedback(seq)
        self._last_pli = now
        self.at(now + interval, self._pli_retry)

    def _pli_retry(self) -> None:
        if not self._need_key:
            return
        f = self._nf
        if f < len(self.f_cap) and self.f_key[f] and self.f_first_rx[f] == self.f_first_rx[f]:
            return  # a keyframe is arriving; its own deadline asks again if it fails
        self._request_key()

    # ================================================================ receiver: feedback
    def _twcc_tick(self) -> None:
        now = self.now
        if self._tw_seqs:
            seqs = np.asarray(self._tw_seqs, dtype=np.int64)
            times = np.asarray(self._tw_times, dtype=np.float64)
            self._tw_seqs, self._tw_times = [], []
            lo = self._tw_next
            keep = seqs >= lo  # arrivals older than the last report are not reported again
            if keep.any():
                hi = int(seqs[keep].max())
                t_recv = np.full(hi - lo + 1, np.nan)
                t_recv[seqs[keep] - lo] = times[keep]
                seq = self.send(FEEDBACK, now, fr.twcc_bytes(t_recv))
                self._fb[seq] = (_TWCC, (now, lo, t_recv))
                self.c["twccReports"] += 1
                self._count_feedback(seq)
                self._tw_next = hi + 1
        if now < self.duration_s + FEEDBACK_TAIL_S or self._queue or self._rtxq:
            self.at(now + FEEDBACK_INTERVAL_S, self._twcc_tick)

    def _count_feedback(self, seq: int) -> None:
        self.c["feedbackPacketsSent"] += 1
        self.c["feedbackBytesSent"] += self._sent_size[FEEDBACK][seq]

    # ================================================================ report
    def report(self) -> TransportReport:
        c = self.c
        cap = np.asarray(self.f_cap, dtype=np.float64)
        render = np.asarray(self.f_render, dtype=np.float64)
        recv = np.asarray(self.m_recv, dtype=np.int8)
        sent = np.isfinite(np.asarray(self.m_first_send, dtype=np.float64))
        state = np.asarray(self.f_state, dtype=np.int8)
        t_send = np.asarray(self._sent_t[MEDIA], dtype=np.float64)
        wire = np.asarray(self._sent_size[MEDIA], dtype=np.float64)
        if t_send.size:
            edges = np.arange(0.0, math.floor(t_send.max()) + 2.0)
            bits, _ = np.histogram(t_send, bins=edges, weights=8.0 * wire)
            sent_series = (edges[:-1], bits)
        else:
            sent_series = (np.empty(0), np.empty(0))
        fec_used = c["packetsRecoveredByFec"]
        stats: dict[str, float | int] = {
            "framesEncoded": len(self.f_cap),
            "keyFramesEncoded": c["keyFramesEncoded"],
            "framesSent": c["framesSent"],
            "framesReceived": c["framesReceived"],
            "framesDecoded": c["framesDecoded"],
            "framesDropped": c["framesDropped"],
            "framesRendered": c["framesDecoded"],
            "freezeCount": c["freezeCount"],
            "totalFreezesDuration": c["totalFreezesDuration"],
            "jitterBufferDelay": c["jitterBufferDelay"],
            "jitterBufferEmittedCount": c["jitterBufferEmittedCount"],
            "nackCount": c["nackCount"],
            "pliCount": c["pliCount"],
            "firCount": 0,
            "packetsSent": c["packetsSent"],
            "packetsReceived": c["packetsReceived"],
            "packetsLost": int((sent & ((recv == 0) | (recv == 3))).sum()),
            "retransmittedPacketsSent": c["retransmittedPacketsSent"],
            "retransmittedBytesSent": c["retransmittedBytesSent"],
            "retransmittedPacketsReceived": c["retransmittedPacketsReceived"],
            "fecPacketsSent": c["fecPacketsSent"],
            "fecPacketsReceived": c["fecPacketsReceived"],
            "fecPacketsDiscarded": c["fecPacketsReceived"] - fec_used,
            "bytesSent": c["bytesSent"],
            "headerBytesSent": c["headerBytesSent"],
            "targetBitrate": self.target_bps,
            "totalEncodedBytesTarget": c["totalEncodedBytesTarget"],
        }
        detail = {
            "framesGivenUp": c["framesGivenUp"],
            "framesLate": c["framesLate"],
            "framesPending": int((state == _PENDING).sum()),
            "packetsRecoveredByFec": fec_used,
            "packetsRecoveredByRtx": int((recv == 2).sum()),
            "mediaPacketsSent": int(sent.sum()),
            "wireBytesSent": c["wireBytesSent"],
            "feedbackPacketsSent": c["feedbackPacketsSent"],
            "feedbackBytesSent": c["feedbackBytesSent"],
            "twccReports": c["twccReports"],
            "keyframeRequestsReceived": c["keyframeRequestsReceived"],
            "nackListOverflows": c["nackListOverflows"],
            "rtt_s": self.rtt_s,
            "playoutDelay_s": self._playout_s,
            "gopFrames": self.gop,
            "overheadBytesPerPacket": RTP_OVERHEAD_BYTES + fr.HEADER_EXTENSION_BYTES,
        }
        series = {
            "target_bitrate_bps": (np.asarray(self._target_t), np.asarray(self._target_v)),
            "sent_bitrate_bps": sent_series,
            "playout_delay_s": (np.asarray(self._playout_t), np.asarray(self._playout_v)),
            "rtt_s": (np.asarray(self._rtt_t), np.asarray(self._rtt_v)),
        }
        return TransportReport(
            kind=self.kind,
            unit="frame",
            stats=stats,
            unit_t_s=cap,
            unit_latency_s=render - cap,
            series=series,
            detail=detail,
        )
