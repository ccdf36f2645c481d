"""GCC's delay-based detector: packet groups and the trendline over-use detector, after
libwebrtc (inter_arrival_delta.cc, trendline_estimator.cc). :mod:`netsim.webrtc.gcc`
explains the model, its sources and what is simpler than libwebrtc, and drives these with
the rate controls; the figures marked [read] were read in libwebrtc's source, [recalled]
from memory of it.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = [
    "InterArrival",
    "TrendlineEstimator",
    "NORMAL",
    "OVERUSING",
    "UNDERUSING",
]

NORMAL = "normal"
OVERUSING = "overusing"
UNDERUSING = "underusing"

# ----------------------------------------------------------------- packet groups [read]
GROUP_LENGTH_S = 0.005  # kTimestampGroupLengthMs (delay_based_bwe.cc)
BURST_DELTA_S = 0.005  # kBurstDeltaThreshold (inter_arrival_delta.cc)
MAX_BURST_DURATION_S = 0.1  # kMaxBurstDuration (inter_arrival_delta.cc, 2020)
REORDERED_RESET_THRESHOLD = 3  # kReorderedResetThreshold (inter_arrival.h) [recalled]
STREAM_TIMEOUT_S = 2.0  # kStreamTimeOut (delay_based_bwe.cc)

# ----------------------------------------------------------------- trendline [read]
TRENDLINE_WINDOW = 20  # kDefaultTrendlineWindowSize
TRENDLINE_SMOOTHING = 0.9  # kDefaultTrendlineSmoothingCoeff
TRENDLINE_THRESHOLD_GAIN = 4.0  # kDefaultTrendlineThresholdGain
MIN_NUM_DELTAS = 60  # kMinNumDeltas
DELTA_COUNTER_MAX = 1000  # kDeltaCounterMax
K_UP = 0.0087
K_DOWN = 0.039
THRESHOLD_INIT_MS = 12.5
THRESHOLD_MIN_MS = 6.0
THRESHOLD_MAX_MS = 600.0
MAX_ADAPT_OFFSET_MS = 15.0  # kMaxAdaptOffsetMs
MAX_THRESHOLD_TIME_DELTA_MS = 100.0  # kMaxTimeDeltaMs
OVERUSE_TIME_THRESHOLD_MS = 10.0  # kOverUsingTimeThreshold


# ===================================================================== groups
class InterArrival:
    """Groups packets (received, in arrival order) and yields the deltas between groups."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._cur: list[float] | None = None  # [first_send, send, complete, first_arrival]
        self._prev: list[float] | None = None
        self._reordered = 0

    def _belongs_to_burst(self, send_s: float, recv_s: float) -> bool:
        cur = self._cur
        recv_delta = recv_s - cur[2]
        send_delta = send_s - cur[1]
        if send_delta == 0.0:
            return True
        return (
            recv_delta - send_delta < 0.0
            and recv_delta <= BURST_DELTA_S
            and recv_s - cur[3] < MAX_BURST_DURATION_S
        )

    def compute(self, send_s: float, recv_s: float) -> tuple[float, float] | None:
        """Add a packet; when it closes a group, ``(recv_delta_s, send_delta_s)`` of the last
        two complete groups (the caller takes this packet's arrival as the time stamp)."""
        cur = self._cur
        if cur is None:
            self._cur = [send_s, send_s, recv_s, recv_s]
            return None
        if send_s < cur[0]:  # sent before the current group began: out of order
            return None
        deltas = None
        if not self._belongs_to_burst(send_s, recv_s) and send_s - cur[0] > GROUP_LENGTH_S:
            prev = self._prev
            if prev is not None:
                send_delta = cur[1] - prev[1]
                recv_delta = cur[2] - prev[2]
                if recv_delta < 0.0:
                    self._reordered += 1
                    if self._reordered >= REORDERED_RESET_THRESHOLD:
                        self.reset()
                    return None
                self._reordered = 0
                deltas = (recv_delta, send_delta)
            self._prev = cur
            self._cur = [send_s, send_s, recv_s, recv_s]
            return deltas
        cur[1] = max(cur[1], send_s)
        cur[2] = recv_s
        return None


# ===================================================================== trendline
def _linear_fit_slope(points: deque) -> float | None:
    n = len(points)
    sx = sum(p[0] for p in points) / n
    sy = sum(p[1] for p in points) / n
    num = 0.0
    den = 0.0
    for x, y in points:
        num += (x - sx) * (y - sy)
        den += (x - sx) * (x - sx)
    return None if den == 0.0 else num / den


class TrendlineEstimator:
    """libwebrtc's TrendlineEstimator with its overuse detector and adaptive threshold (ms)."""

    def __init__(
        self,
        window: int = TRENDLINE_WINDOW,
        smoothing: float = TRENDLINE_SMOOTHING,
        threshold_gain: float = TRENDLINE_THRESHOLD_GAIN,
    ) -> None:
        self.window = int(window)
        self.smoothing = float(smoothing)
        self.threshold_gain = float(threshold_gain)
        self.num_deltas = 0
        self.first_arrival_ms: float | None = None
        self.accumulated_delay_ms = 0.0
        self.smoothed_delay_ms = 0.0
        self.points: deque = deque()
        self.threshold_ms = THRESHOLD_INIT_MS
        self.trend = 0.0  # last slope (prev_trend_)
        self.modified_trend = math.nan
        self.state = NORMAL
        self._last_update_ms: float | None = None
        self._time_over_using_ms = -1.0
        self._overuse_counter = 0

    def update(self, recv_delta_ms: float, send_delta_ms: float, arrival_ms: float) -> str:
        """One delta between two groups; returns the detector state."""
        delta = recv_delta_ms - send_delta_ms
        self.num_deltas = min(self.num_deltas + 1, DELTA_COUNTER_MAX)
        if self.first_arrival_ms is None:
            self.first_arrival_ms = arrival_ms
        self.accumulated_delay_ms += delta
        self.smoothed_delay_ms = (
            self.smoothing * self.smoothed_delay_ms
            + (1.0 - self.smoothing) * self.accumulated_delay_ms
        )
        self.points.append((arrival_ms - self.first_arrival_ms, self.smoothed_delay_ms))
        if len(self.points) > self.window:
            self.points.popleft()
        trend = self.trend
        if len(self.points) == self.window:
            slope = _linear_fit_slope(self.points)
            if slope is not None:
                trend = slope
        self._detect(trend, send_delta_ms, arrival_ms)
        return self.state

    def _detect(self, trend: float, send_delta_ms: float, now_ms: float) -> None:
        if self.num_deltas < 2:
            self.state = NORMAL
            return
        m = min(self.num_deltas, MIN_NUM_DELTAS) * trend * self.threshold_gain
        self.modified_trend = m
        if m > self.threshold_ms:
            if self._time_over_using_ms == -1.0:
                self._time_over_using_ms = send_delta_ms / 2.0
            else:
                self._time_over_using_ms += send_delta_ms
            self._overuse_counter += 1
            if self._time_over_using_ms > OVERUSE_TIME_THRESHOLD_MS and self._overuse_counter > 1:
                if trend >= self.trend:
                    self._time_over_using_ms = 0.0
                    self._overuse_counter = 0
                    self.state = OVERUSING
        elif m < -self.threshold_ms:
            self._time_over_using_ms = -1.0
            self._overuse_counter = 0
            self.state = UNDERUSING
        else:
            self._time_over_using_ms = -1.0
            self._overuse_counter = 0
            self.state = NORMAL
        self.trend = trend
        self._update_threshold(m, now_ms)

    def _update_threshold(self, m: float, now_ms: float) -> None:
        if self._last_update_ms is None:
            self._last_update_ms = now_ms
        if abs(m) > self.threshold_ms + MAX_ADAPT_OFFSET_MS:
            self._last_update_ms = now_ms  # a latency spike: do not adapt to it
            return
        k = K_DOWN if abs(m) < self.threshold_ms else K_UP
        dt = min(now_ms - self._last_update_ms, MAX_THRESHOLD_TIME_DELTA_MS)
        self.threshold_ms += k * (abs(m) - self.threshold_ms) * dt
        self.threshold_ms = min(max(self.threshold_ms, THRESHOLD_MIN_MS), THRESHOLD_MAX_MS)
        self._last_update_ms = now_ms
