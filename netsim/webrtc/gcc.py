"""A GCC-style sender-side bandwidth estimator: delay-based and loss-based, as in libwebrtc.

:class:`GccController` takes one transport-wide feedback report at a time (transport-cc: the
packets it covers, in send order, with send time, receive time (NaN when lost) and size) and
returns the new target bit rate. It follows libwebrtc's GoogCC in send-side ("feedback only")
mode: the algorithm of draft-ietf-rmcat-gcc-02 (Holmer, Lundin, Carlucci, De Cicco, Mascolo)
with the trendline filter that replaced the draft's Kalman filter. Marks: [read] = taken from
the libwebrtc source (mirrors on GitHub, 2018-2022 versions: the files are named below),
[recalled] = from memory, [assumption] = chosen here. Parts 1 and 2 (the delay-based detector)
are in :mod:`netsim.webrtc.gcc_delay`; the rate controls and the controller are here.

**1. Packet groups** (goog_cc/inter_arrival_delta.cc, 2020 [read]; inter_arrival.cc before).
Received packets are taken in arrival order. A packet opens a new group when it was sent more
than :data:`GROUP_LENGTH_S` (5 ms, kTimestampGroupLengthMs) after the first packet of the
current group, unless it belongs to the current burst: sent at the same instant as the group's
latest packet, or arrived at most :data:`BURST_DELTA_S` (5 ms, kBurstDeltaThreshold) after
the group's last arrival *and* closer to it than it was sent (a queue released them together)
*and* less than :data:`MAX_BURST_DURATION_S` (100 ms, kMaxBurstDuration) after the group's
first arrival. A group's send time is its latest send time, its arrival time its last
packet's arrival. When a group closes, the pair before it gives ``d = (recv_i - recv_{i-1}) -
(send_i - send_{i-1})``; a pair with a negative arrival delta (reordered) is skipped (three in
a row reset the grouping).

**2. Trendline filter and overuse detector** (goog_cc/trendline_estimator.cc [read]). The
accumulated delay ``sum d`` is smoothed (``s = 0.9 s + 0.1 sum d``); the last 20 points
(arrival time since the first group, ``s``), in ms, are fitted by least squares and the slope
is the *trend*, about ``(send rate - capacity) / capacity`` while a queue builds.
``m = min(n, 60) x trend x 4`` (n deltas seen) is compared with an adaptive threshold
``gamma``: ``m > gamma`` for more than 10 ms of send time (the first delta counts half) and
on at least two deltas, with a trend not falling -> **overusing** (kept while ``m > gamma``);
``m < -gamma`` -> **underusing**; otherwise **normal**. ``gamma += k (|m| - gamma) dt_ms``
(dt at most 100 ms; k = 0.039 when ``|m| < gamma``, else 0.0087), not updated when ``|m| >
gamma + 15``, clamped to [6, 600], starting at 12.5.

**3. AIMD rate control** (remote_bitrate_estimator/aimd_rate_control.cc, 2022, with
goog_cc/link_capacity_estimator.cc and the gating of goog_cc/delay_based_bwe.cc [read]).
normal -> increase (from hold), overusing -> decrease, underusing -> hold. *Increase*:
while there is no link-capacity estimate, multiplicative, ``rate x 1.08^min(dt, 1 s)`` (at
least +1 kbit/s); with one, additive, ``+ dt x max(4 kbit/s, packet / (2 (RTT + 100 ms)))``
with ``packet`` the average packet of a 30 fps frame cut into packets of at most 1200 B (one
packet per response time). The result never exceeds ``1.5 x acknowledged + 10 kbit/s``.
*Decrease*: to ``0.85 x`` the acknowledged bit rate (or 0.85 x the link-capacity estimate if
that is lower), never up; then hold. Each decrease feeds the acknowledged rate into the link
capacity estimate ``C`` (exponential average, weight 0.05, normalised variance ``v`` in [0.4,
2.5]); ``C`` is dropped when the acknowledged rate leaves ``C +- 3 sqrt(v C)`` (kbit/s):
above while increasing, below at a decrease. A further decrease needs ``RTT`` (clamped to
[10, 200] ms) since the last change, or an acknowledged rate below half the estimate. Before
the first acknowledged-rate sample an overuse halves the estimate, at *every* report (the
code's InitialTimeToReduceFurther is always true; its comment says every 200 ms). The RTT is
GoogCC's feedback-only one: the mean over the last 32 reports of the largest ``now - send
time`` among each report's received packets (so it includes the receiver's wait before
sending the report); 200 ms (kDefaultRtt) before the first report.

**4. Acknowledged bit rate** [assumption]: the bytes received in the last
:data:`ACK_WINDOW_S` (500 ms) of receive time over that window, once 500 ms of receive time
have been seen. libwebrtc's BitrateEstimator [read] starts with one 500 ms window too, then
smooths 150 ms windows with a Bayesian filter whose gain drops for samples far from the
estimate; both follow a capacity drop within a few hundred ms.

**5. Loss-based control** (goog_cc/send_side_bandwidth_estimation.cc and
goog_cc_network_control.cc [read]). Lost and reported packets are counted; at the first report
more than 1 s (kLossUpdateInterval) after the last loss update, once at least 20 packets
(kLimitNumPackets) have been counted, the loss fraction ``p`` is computed and the counts
reset. At every report the loss-based rate becomes ``1.08 x`` the lowest target of the last
second ``+ 1 kbit/s`` if ``p <= 2 %`` (so at most 8 %/s above the target); unchanged if ``2 % <
p <= 10 %``; ``rate x (1 - 0.5 p)`` if ``p > 10 %``, at most once per loss fraction and once
per ``300 ms + RTT`` (the RTT of the latest report: ``now - send - (last arrival -
arrival)``, smallest over its packets). In the first 2 s after the first count, while no loss
has been seen, it follows the delay-based rate (kStartPhase). draft-ietf-rmcat-gcc-02 §6 gives
the same thresholds [recalled].

**6. Target** = ``min(delay-based, loss-based)``, clamped to ``[min_bps, max_bps]``. As in
libwebrtc the loss-based controller's own rate *is* that target (it is capped by the
delay-based estimate at every update), so its "+8 %" is relative to what is actually sent.
The delay-based estimate is not capped by ``max_bps`` (libwebrtc: 30 Mbit/s) but by the
``1.5 x acknowledged + 10 kbit/s`` rule.

**Simplified or left out.** No probing (ProbeController: initial, periodic-ALR and
after-overuse probes), no ALR detector, padding, congestion window or pushback, no network
state estimate or predictor, no loss-based BWE v2, no REMB, no feedback-timeout or RTT-based
backoff; the acknowledged rate is a plain sliding window; times are float seconds (no 1 ms
rounding, no 24-bit abs-send-time: so only packets sent at the very same instant are a burst
by send time) and the loss fraction is a float (libwebrtc keeps Q8: 15 % becomes 38/256 and
the factor ``(512 - 38) / 512 = 0.926`` instead of 0.925); the loss-based update runs once per
report rather than on libwebrtc's 25 ms process timer.

**Ramp-up after a capacity increase, without probing.** The rate climbs only through AIMD.
While a link-capacity estimate ``C`` from the last overuse exists the increase is additive,
about one packet per response time: at 4 Mbit/s and an RTT of 90 ms, ``9.5 kbit / 0.38 s`` =
25 kbit/s per second; only when the acknowledged rate passes ``C + 3 sqrt(0.4 C)`` (4.13
Mbit/s for C = 4 Mbit/s) does the 8 %/s multiplicative increase resume: doubling takes ``ln 2
/ ln 1.08 = 9.0 s`` (5 -> 10 Mbit/s), 4.13 -> 8.5 Mbit/s 9.4 s. In the test harness
(tests/test_webrtc_gcc.py: 10 -> 4 -> 10 Mbit/s at 20 s and 40 s) the target is 3.81 Mbit/s
at the step up, creeps for 13.2 s, then ramps: 85 % of the new capacity after 22.7 s. A
capacity drop is followed much faster: below the new capacity after 0.5 s, queue drained
(delay within 10 ms of the base) 3.1 s after the drop. libwebrtc with its probes reaches a
higher capacity far sooner (a probe cluster at 2x the estimate can double it in about one RTT
plus the probe [recalled]); Carlucci et al., "Analysis and Design of the Google Congestion
Control for Web Real-time Communication (WebRTC)", ACM MMSys 2016, show (for the earlier
Kalman-filter version) a prompt back-off on capacity drops and a slower ramp over several
seconds after increases [recalled].
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .gcc_delay import (
    BURST_DELTA_S,
    GROUP_LENGTH_S,
    K_DOWN,
    K_UP,
    MAX_BURST_DURATION_S,
    MIN_NUM_DELTAS,
    NORMAL,
    OVERUSE_TIME_THRESHOLD_MS,
    OVERUSING,
    STREAM_TIMEOUT_S,
    THRESHOLD_INIT_MS,
    TRENDLINE_SMOOTHING,
    TRENDLINE_THRESHOLD_GAIN,
    TRENDLINE_WINDOW,
    UNDERUSING,
    InterArrival,
    TrendlineEstimator,
)

__all__ = [
    "GccController",
    "InterArrival",
    "TrendlineEstimator",
    "AimdRateControl",
    "AckedBitrate",
    "LossBasedBwe",
    "NORMAL",
    "OVERUSING",
    "UNDERUSING",
    "GROUP_LENGTH_S",
    "BURST_DELTA_S",
    "MAX_BURST_DURATION_S",
    "TRENDLINE_WINDOW",
    "TRENDLINE_SMOOTHING",
    "TRENDLINE_THRESHOLD_GAIN",
    "MIN_NUM_DELTAS",
    "K_UP",
    "K_DOWN",
    "THRESHOLD_INIT_MS",
    "OVERUSE_TIME_THRESHOLD_MS",
    "BETA",
    "MULTIPLICATIVE_INCREASE",
    "ACK_WINDOW_S",
    "LOW_LOSS",
    "HIGH_LOSS",
    "LOSS_MIN_PACKETS",
    "LOSS_UPDATE_INTERVAL_S",
]

# ----------------------------------------------------------------- AIMD [read]
BETA = 0.85  # kDefaultBackoffFactor
MULTIPLICATIVE_INCREASE = 1.08  # per second
MIN_MULTIPLICATIVE_INCREASE_BPS = 1000.0
MIN_ADDITIVE_INCREASE_BPS = 4000.0  # kMinIncreaseRateBps, per second
NEAR_MAX_FPS = 30.0
NEAR_MAX_PACKET_BITS = 8.0 * 1200
OVERUSE_DETECTOR_DELAY_S = 0.1  # "approximate the over-use estimator delay to 100 ms"
DEFAULT_RTT_S = 0.2  # kDefaultRttMs
MAX_FEEDBACK_RTT_WINDOW = 32  # kMaxFeedbackRttWindow (goog_cc_network_control.cc)
LINK_CAPACITY_ALPHA = 0.05  # LinkCapacityEstimator
LINK_DEVIATION_MIN = 0.4
LINK_DEVIATION_MAX = 2.5
INCREASE_LIMIT_FACTOR = 1.5  # increase_limit: 1.5 x throughput + 10 kbit/s
INCREASE_LIMIT_BPS = 10_000.0

# ----------------------------------------------------------------- acknowledged rate
ACK_WINDOW_S = 0.5  # [assumption]: libwebrtc's kInitialRateWindowMs is 500 [read]

# ----------------------------------------------------------------- loss-based [read]
LOW_LOSS = 0.02  # kDefaultLowLossThreshold
HIGH_LOSS = 0.10  # kDefaultHighLossThreshold
LOSS_MIN_PACKETS = 20  # kLimitNumPackets
LOSS_UPDATE_INTERVAL_S = 1.0  # kLossUpdateInterval (goog_cc_network_control.cc)
LOSS_INCREASE = 1.08
LOSS_INCREASE_BPS = 1000.0
LOSS_INCREASE_INTERVAL_S = 1.0  # kBweIncreaseInterval (min-history window)
LOSS_DECREASE_INTERVAL_S = 0.3  # kBweDecreaseInterval
LOSS_START_PHASE_S = 2.0  # kStartPhase
MAX_RTCP_FEEDBACK_INTERVAL_S = 5.0  # kMaxRtcpFeedbackInterval


# ===================================================================== acknowledged rate
class AckedBitrate:
    """Received bytes over the last :data:`ACK_WINDOW_S` of receive time, in bit/s."""

    def __init__(self, window_s: float = ACK_WINDOW_S) -> None:
        self.window_s = float(window_s)
        self._q: deque = deque()
        self._bytes = 0.0
        self._first: float | None = None
        self._last = -math.inf

    def add(self, recv_s: float, size_bytes: float) -> None:
        if self._first is None:
            self._first = recv_s
        self._last = max(self._last, recv_s)
        self._q.append((recv_s, size_bytes))
        self._bytes += size_bytes
        lo = self._last - self.window_s
        while self._q and self._q[0][0] <= lo:
            self._bytes -= self._q.popleft()[1]

    @property
    def bps(self) -> float | None:
        if self._first is None or self._last - self._first < self.window_s:
            return None
        return 8.0 * self._bytes / self.window_s


# ===================================================================== AIMD
_HOLD, _INCREASE, _DECREASE = "hold", "increase", "decrease"


class AimdRateControl:
    """libwebrtc's AimdRateControl with its LinkCapacityEstimator (bit/s, seconds)."""

    def __init__(self, start_bps: float, min_bps: float) -> None:
        self.bitrate_bps = max(float(start_bps), float(min_bps))
        self.min_bps = float(min_bps)
        self.latest_throughput_bps = self.bitrate_bps
        self.link_capacity_kbps: float | None = None  # LinkCapacityEstimator::estimate_kbps_
        self.link_deviation = LINK_DEVIATION_MIN  # normalised variance, kbit/s
        self.state = _HOLD
        self.t_last_change = -math.inf
        self.rtt_s = DEFAULT_RTT_S
        self.last_decrease_bps: float | None = None

    # -- LinkCapacityEstimator
    def _deviation_kbps(self) -> float:
        return math.sqrt(self.link_deviation * self.link_capacity_kbps)

    @property
    def link_capacity_upper_bps(self) -> float:
        """Above this acknowledged rate the link-capacity estimate is dropped (inf if none)."""
        if self.link_capacity_kbps is None:
            return math.inf
        return 1000.0 * (self.link_capacity_kbps + 3.0 * self._deviation_kbps())

    @property
    def link_capacity_lower_bps(self) -> float:
        if self.link_capacity_kbps is None:
            return 0.0
        return 1000.0 * (self.link_capacity_kbps - 3.0 * self._deviation_kbps())

    def _on_overuse_detected(self, acked_bps: float) -> None:
        a = LINK_CAPACITY_ALPHA
        x = acked_bps / 1000.0
        if self.link_capacity_kbps is None:
            self.link_capacity_kbps = x
        else:
            self.link_capacity_kbps = (1 - a) * self.link_capacity_kbps + a * x
        norm = max(self.link_capacity_kbps, 1.0)
        err = self.link_capacity_kbps - x
        self.link_deviation = (1 - a) * self.link_deviation + a * err * err / norm
        self.link_deviation = min(max(self.link_deviation, LINK_DEVIATION_MIN), LINK_DEVIATION_MAX)

    # -- rates
    def near_max_increase_bps_per_s(self) -> float:
        bits_per_frame = self.bitrate_bps / NEAR_MAX_FPS
        packets_per_frame = math.ceil(bits_per_frame / NEAR_MAX_PACKET_BITS)
        avg_packet_bits = bits_per_frame / packets_per_frame
        response_s = 2.0 * (self.rtt_s + OVERUSE_DETECTOR_DELAY_S)
        return max(MIN_ADDITIVE_INCREASE_BPS, avg_packet_bits / response_s)

    def time_to_reduce_further(self, now_s: float, throughput_bps: float) -> bool:
        interval = min(max(self.rtt_s, 0.01), 0.2)
        if now_s - self.t_last_change >= interval:
            return True
        return throughput_bps < 0.5 * self.bitrate_bps

    def set_estimate(self, bps: float, now_s: float) -> None:
        self.bitrate_bps = max(float(bps), self.min_bps)
        self.t_last_change = now_s

    # -- the update (ChangeBitrate)
    def update(self, detector: str, throughput_bps: float | None, now_s: float) -> float:
        if throughput_bps is not None:
            self.latest_throughput_bps = throughput_bps
        throughput = self.latest_throughput_bps
        # ChangeState
        if detector == NORMAL:
            if self.state == _HOLD:
                self.t_last_change = now_s
                self.state = _INCREASE
        elif detector == OVERUSING:
            self.state = _DECREASE
        else:
            self.state = _HOLD
        current = self.bitrate_bps
        new = current
        if self.state == _INCREASE:
            if throughput > self.link_capacity_upper_bps:
                self.link_capacity_kbps = None
            limit = INCREASE_LIMIT_FACTOR * throughput + INCREASE_LIMIT_BPS
            if current < limit:
                dt = now_s - self.t_last_change
                if self.link_capacity_kbps is not None:  # near the last overuse: additive
                    increased = current + dt * self.near_max_increase_bps_per_s()
                else:  # capacity unknown: multiplicative
                    alpha = MULTIPLICATIVE_INCREASE ** min(dt, 1.0)
                    increased = current + max(
                        current * (alpha - 1.0), MIN_MULTIPLICATIVE_INCREASE_BPS
                    )
                new = min(increased, limit)
            self.t_last_change = now_s
        elif self.state == _DECREASE:
            decreased = BETA * throughput
            if decreased > current and self.link_capacity_kbps is not None:
                decreased = BETA * 1000.0 * self.link_capacity_kbps
            if decreased < current:
                new = decreased
            if throughput < current:
                self.last_decrease_bps = current - new
            if throughput < self.link_capacity_lower_bps:
                self.link_capacity_kbps = None
            self._on_overuse_detected(throughput)
            self.state = _HOLD  # stay on hold until the queue has drained
            self.t_last_change = now_s
        self.bitrate_bps = max(new, self.min_bps)
        return self.bitrate_bps


# ===================================================================== loss-based
class LossBasedBwe:
    """The classic loss-based part of libwebrtc's SendSideBandwidthEstimation (bit/s, s).

    ``bitrate_bps`` is its current rate, which (as in libwebrtc) is the capped target;
    ``proposal_bps`` is what the loss rule alone asked for at the last update.
    """

    def __init__(self, start_bps: float, min_bps: float, max_bps: float) -> None:
        self.min_bps = float(min_bps)
        self.max_bps = float(max_bps)
        self.bitrate_bps = min(max(float(start_bps), self.min_bps), self.max_bps)
        self.proposal_bps = self.bitrate_bps
        self.loss_fraction = 0.0
        self.rtt_s = 0.0
        self._lost = 0
        self._expected = 0
        self._has_decreased = False
        self._first_report: float | None = None
        self._last_loss_report: float | None = None
        self._last_decrease = -math.inf
        self._min_history: deque = deque()  # (time, bitrate), increasing bit rates

    def on_packets_lost(self, lost: int, expected: int, now_s: float) -> bool:
        """UpdatePacketsLost: a new loss fraction once 20 packets are counted (True then)."""
        if self._first_report is None:
            self._first_report = now_s
        if expected <= 0:
            return False
        self._lost += int(lost)
        self._expected += int(expected)
        if self._expected < LOSS_MIN_PACKETS:
            return False
        self._has_decreased = False
        self.loss_fraction = self._lost / self._expected
        self._lost = 0
        self._expected = 0
        self._last_loss_report = now_s
        return True

    def _in_start_phase(self, now_s: float) -> bool:
        return self._first_report is None or now_s - self._first_report < LOSS_START_PHASE_S

    def _update_min_history(self, now_s: float) -> None:
        h = self._min_history
        while h and now_s - h[0][0] + 0.001 > LOSS_INCREASE_INTERVAL_S:
            h.popleft()
        while h and self.bitrate_bps <= h[-1][1]:
            h.pop()
        h.append((now_s, self.bitrate_bps))

    def update(self, now_s: float, delay_based_bps: float) -> float:
        """UpdateEstimate followed by the cap to the delay-based estimate; the new rate."""
        new = self.bitrate_bps
        if self.loss_fraction == 0.0 and self._in_start_phase(now_s):
            new = max(delay_based_bps, new)
            if new != self.bitrate_bps:
                self._min_history.clear()
                self._min_history.append((now_s, self.bitrate_bps))
                return self._cap(new, delay_based_bps)
        self._update_min_history(now_s)
        if self._last_loss_report is None:
            return self._cap(new, delay_based_bps)
        if now_s - self._last_loss_report < 1.2 * MAX_RTCP_FEEDBACK_INTERVAL_S:
            p = self.loss_fraction
            if p <= LOW_LOSS:
                new = self._min_history[0][1] * LOSS_INCREASE + LOSS_INCREASE_BPS
            elif p > HIGH_LOSS:
                if (
                    not self._has_decreased
                    and now_s - self._last_decrease >= LOSS_DECREASE_INTERVAL_S + self.rtt_s
                ):
                    self._last_decrease = now_s
                    new = self.bitrate_bps * (1.0 - 0.5 * p)
                    self._has_decreased = True
        return self._cap(new, delay_based_bps)

    def _cap(self, bps: float, delay_based_bps: float) -> float:
        self.proposal_bps = bps
        if delay_based_bps > 0:
            bps = min(bps, delay_based_bps)
        self.bitrate_bps = max(min(bps, self.max_bps), self.min_bps)
        return self.bitrate_bps


# ===================================================================== controller
class GccController:
    """Sender-side GCC: feed it every transport-wide feedback report; read ``target_bps``.

    ``history`` holds one ``(now_s, target_bps, delay_state, loss_fraction)`` per report
    (``loss_fraction`` is the one in force: recomputed about once a second);
    ``component_history`` the matching ``(delay_based_bps, loss_based_bps)``.
    """

    def __init__(self, start_bps: float, min_bps: float, max_bps: float) -> None:
        if not 0 < min_bps <= max_bps:
            raise ValueError(f"need 0 < min_bps <= max_bps, got {min_bps}, {max_bps}")
        self.min_bps = float(min_bps)
        self.max_bps = float(max_bps)
        start = min(max(float(start_bps), self.min_bps), self.max_bps)
        self.target_bps = start
        self.inter_arrival = InterArrival()
        self.trendline = TrendlineEstimator()
        self.aimd = AimdRateControl(start, self.min_bps)
        self.acked = AckedBitrate()
        self.loss = LossBasedBwe(start, self.min_bps, self.max_bps)
        self.delay_state = NORMAL
        self.rtt_s = DEFAULT_RTT_S
        self.history: list[tuple[float, float, str, float]] = []
        self.component_history: list[tuple[float, float]] = []
        self._max_rtts: deque = deque(maxlen=MAX_FEEDBACK_RTT_WINDOW)
        self._lost = 0
        self._expected = 0
        self._next_loss_update = -math.inf
        self._last_seen: float | None = None

    # -- components
    @property
    def delay_based_bps(self) -> float:
        return self.aimd.bitrate_bps

    @property
    def loss_based_bps(self) -> float:
        return self.loss.proposal_bps

    @property
    def estimate_bps(self) -> dict[str, float]:
        """The two estimates the target is the minimum of (before the min/max clamp)."""
        return {"delay_based": self.delay_based_bps, "loss_based": self.loss_based_bps}

    @property
    def loss_fraction(self) -> float:
        return self.loss.loss_fraction

    # -- the report
    def on_feedback(
        self, now_s: float, t_send_s: np.ndarray, t_recv_s: np.ndarray, size_bytes: np.ndarray
    ) -> float:
        """One transport-wide feedback report: the packets it covers, in send order; t_recv
        NaN = lost. Returns the new target (bps)."""
        now = float(now_s)
        send = np.asarray(t_send_s, dtype=np.float64)
        recv = np.asarray(t_recv_s, dtype=np.float64)
        size = np.asarray(size_bytes, dtype=np.float64)
        n = int(send.size)
        if n == 0:
            self._record(now)
            return self.target_bps
        got = np.isfinite(recv)
        n_got = int(np.count_nonzero(got))

        # loss accounting: GoogCC hands SendSideBandwidthEstimation a count every ~1 s
        self._expected += n
        self._lost += n - n_got
        if now > self._next_loss_update:
            self._next_loss_update = now + LOSS_UPDATE_INTERVAL_S
            self.loss.on_packets_lost(self._lost, self._expected, now)
            self._lost = 0
            self._expected = 0

        if n_got:
            idx = np.flatnonzero(got)
            order = idx[np.argsort(recv[idx], kind="stable")]
            s_got = send[order]
            r_got = recv[order]
            # RTTs as GoogCC computes them in feedback-only mode
            self._max_rtts.append(now - float(s_got.min()))
            self.rtt_s = float(np.mean(self._max_rtts))
            self.aimd.rtt_s = self.rtt_s
            pending = r_got - r_got.max()
            self.loss.rtt_s = float(np.min(now - s_got - pending))
            # delay-based detector, packet by packet
            if self._last_seen is not None and now - self._last_seen > STREAM_TIMEOUT_S:
                self.inter_arrival.reset()
                self.trendline = TrendlineEstimator()
            self._last_seen = now
            z_got = size[order]
            ia = self.inter_arrival
            tl = self.trendline
            for s, r, z in zip(s_got.tolist(), r_got.tolist(), z_got.tolist(), strict=True):
                self.acked.add(r, z)
                d = ia.compute(s, r)
                if d is not None:
                    tl.update(1000.0 * d[0], 1000.0 * d[1], 1000.0 * r)
            self.delay_state = tl.state
            self._delay_based_update(now)

        self.target_bps = self.loss.update(now, self.aimd.bitrate_bps)
        self._record(now)
        return self.target_bps

    def _delay_based_update(self, now: float) -> None:
        acked = self.acked.bps
        aimd = self.aimd
        if self.delay_state == OVERUSING:
            if acked is not None:
                if aimd.time_to_reduce_further(now, acked):
                    aimd.update(OVERUSING, acked, now)
            elif aimd.time_to_reduce_further(now, aimd.bitrate_bps / 2 - 1):
                aimd.set_estimate(aimd.bitrate_bps / 2, now)
        else:
            aimd.update(self.delay_state, acked, now)

    def _record(self, now: float) -> None:
        self.history.append((now, self.target_bps, self.delay_state, self.loss.loss_fraction))
        self.component_history.append((self.delay_based_bps, self.loss_based_bps))
