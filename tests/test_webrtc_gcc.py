"""netsim.webrtc.gcc: unit checks by hand, and closed-loop runs through an exact FIFO bottleneck.

The harness below is exact (no time step): a sender paced evenly at the controller's target,
1200-byte packets, a FIFO whose capacity is a step function of time (serialization integrated
across the steps), 20 ms one-way base delay, optional iid loss (a lost packet never enters
the queue), a report every 50 ms at the receiver covering every packet up to the highest one
received, arriving at the sender 20 ms later.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from netsim.webrtc import gcc
from netsim.webrtc.gcc import (
    NORMAL,
    OVERUSING,
    GccController,
    LossBasedBwe,
    TrendlineEstimator,
)

PACKET_BYTES = 1200
BASE_DELAY_S = 0.020
FB_INTERVAL_S = 0.050
FB_DELAY_S = 0.020
STEPS = ((0.0, 10e6), (20.0, 4e6), (40.0, 10e6))


# ============================================================================ harness
def _finish(start: float, bits: float, steps) -> float:
    """When a FIFO server starting at ``start`` has sent ``bits`` under step capacity."""
    i = max(k for k, (t, _) in enumerate(steps) if t <= start)
    t = start
    while True:
        rate = steps[i][1]
        t_next = steps[i + 1][0] if i + 1 < len(steps) else math.inf
        if bits <= rate * (t_next - t):
            return t + bits / rate
        bits -= rate * (t_next - t)
        t = t_next
        i += 1


def run(
    duration_s: float,
    steps=STEPS,
    start_bps: float = 8e6,
    min_bps: float = 0.3e6,
    max_bps: float = 20e6,
    loss: float = 0.0,
    seed: int = 7,
):
    """The closed loop; returns (controller, send times, receive times (NaN lost))."""
    ctl = GccController(start_bps, min_bps, max_bps)
    rng = np.random.default_rng(seed)
    bits = 8.0 * PACKET_BYTES
    send: list[float] = []
    recv: list[float] = []
    link_free = 0.0
    t_next = 0.0
    reported = 0  # first packet not yet reported
    k = 1
    while True:
        t_gen = k * FB_INTERVAL_S
        t_fb = t_gen + FB_DELAY_S
        if t_fb > duration_s:
            break
        while t_next < t_fb:  # the target in force until the report arrives
            send.append(t_next)
            if rng.random() < loss:
                recv.append(math.nan)
            else:
                link_free = _finish(max(t_next, link_free), bits, steps)
                recv.append(link_free + BASE_DELAY_S)
            t_next += bits / ctl.target_bps
        high = -1  # highest packet received by t_gen (FIFO: arrivals in send order)
        j = reported
        while j < len(send) and not recv[j] > t_gen:
            if recv[j] == recv[j]:
                high = j
            j += 1
        if high >= reported:
            ts = np.asarray(send[reported : high + 1])
            tr = np.asarray(recv[reported : high + 1])
            ctl.on_feedback(t_fb, ts, tr, np.full(ts.size, PACKET_BYTES))
            reported = high + 1
        k += 1
    return ctl, np.asarray(send), np.asarray(recv)


def series(ctl):
    h = ctl.history
    return np.array([x[0] for x in h]), np.array([x[1] for x in h])


def excess_delay(send, recv):
    """One-way delay above the base delay, per received packet (includes serialization)."""
    ok = np.isfinite(recv)
    return send[ok], recv[ok] - send[ok] - BASE_DELAY_S


@pytest.fixture(scope="module")
def steps_run():
    return run(70.0)


# ============================================================================ unit checks
def test_trendline_slope_by_hand():
    # Three groups, each arriving 6 ms after the last but sent 5 ms after it: 1 ms more
    # delay per group. Accumulated 1, 2, 3; smoothed 0.1, 0.1*0.9+0.2 = 0.29,
    # 0.29*0.9+0.3 = 0.561; x = 0, 6, 12 ms (arrival since the first).
    tl = TrendlineEstimator(window=3)
    for k in range(3):
        tl.update(6.0, 5.0, 6.0 * k)
    y = [0.1, 0.29, 0.561]
    y_mean = sum(y) / 3
    slope = ((0 - 6) * (y[0] - y_mean) + (12 - 6) * (y[2] - y_mean)) / (36 + 36)
    assert tl.smoothed_delay_ms == pytest.approx(0.561)
    assert tl.trend == pytest.approx(slope)  # 0.0384...
    assert slope == pytest.approx(2.766 / 72)
    assert tl.modified_trend == pytest.approx(3 * slope * 4.0)  # min(n, 60) * trend * gain


def test_trendline_window_of_20_is_the_least_squares_slope():
    tl = TrendlineEstimator()
    rng = np.random.default_rng(3)
    d = rng.normal(0.0, 2.0, 40)
    for k in range(40):
        tl.update(5.0 + d[k], 5.0, 5.0 * k)
    acc = np.cumsum(d)
    s = np.zeros(40)
    for k in range(40):
        s[k] = 0.9 * (s[k - 1] if k else 0.0) + 0.1 * acc[k]
    x = 5.0 * np.arange(40)
    assert tl.trend == pytest.approx(np.polyfit(x[-20:], s[-20:], 1)[0], rel=1e-9)


def _packets(duration_s, send_gap, recv_gap, queue_from_s):
    """Packets sent every ``send_gap``; received 20 ms later, and from ``queue_from_s`` on
    ``recv_gap`` apart (recv_gap > send_gap: a bottleneck slower than the sender)."""
    send = np.arange(0.0, duration_s, send_gap)
    recv = send + 0.02
    late = send >= queue_from_s
    if late.any():
        k0 = int(np.argmax(late))
        recv[late] = recv[k0] + (np.arange(k0, send.size) - k0) * recv_gap
    return send, recv


def _reports(send, recv, hold_s=0.05):
    """Reports of the packets sent in each 50 ms, arriving 70 ms after the last one."""
    chunk = np.floor(send / 0.05).astype(int)
    for c in np.unique(chunk):
        m = chunk == c
        yield float(recv[m][-1]) + hold_s + 0.02, send[m], recv[m], np.full(m.sum(), 1200)


def test_constant_delay_is_normal_and_rate_increases():
    ctl = GccController(2e6, 0.1e6, 50e6)
    for report in _reports(*_packets(3.0, 0.001, 0.001, 99.0)):
        ctl.on_feedback(*report)
    assert {h[2] for h in ctl.history} == {NORMAL}
    assert ctl.trendline.trend == pytest.approx(0.0, abs=1e-12)
    t, v = series(ctl)
    np.testing.assert_allclose(v, (2e6 + 1000) * 1.08 ** (t - t[0]), rtol=1e-9)


def test_growing_queue_is_overuse_and_backs_off_to_beta_times_acked():
    # 9.6 Mbit/s sent; from t = 1 s the path carries 7.68 Mbit/s (1200 B every 1.25 ms), so
    # the queue grows 0.25 ms per packet: trend ~ 0.25, modified trend ~ 60 x 0.25 x 4 = 60
    ctl = GccController(9.6e6, 0.1e6, 50e6)
    overuse = cut = None
    for report in _reports(*_packets(2.0, 0.001, 0.00125, 1.0)):
        before = ctl.aimd.bitrate_bps
        ctl.on_feedback(*report)
        if overuse is None and ctl.delay_state == OVERUSING:
            overuse = report[0]
        if cut is None and ctl.aimd.bitrate_bps < before:
            cut = report[0]
            assert ctl.delay_state == OVERUSING
            acked = ctl.acked.bps  # the 500 ms window: part 9.6, part 7.68 Mbit/s
            assert 7.68e6 <= acked <= 9.6e6
            assert ctl.aimd.bitrate_bps == pytest.approx(gcc.BETA * acked, rel=1e-12)
            assert ctl.target_bps == ctl.aimd.bitrate_bps
    assert OVERUSING not in [h[2] for h in ctl.history if h[0] < 1.07]
    assert overuse is not None and overuse - 1.07 < 0.2  # a few reports into the queue
    # the cut waits until one RTT (clamped to [10, 200] ms) after the last increase
    assert cut - overuse <= max(min(ctl.rtt_s, 0.2), 0.01) + 0.05
    assert ctl.target_bps <= gcc.BETA * 7.68e6 * 1.001  # after the window has refilled


def test_loss_rule_by_hand():
    lb = LossBasedBwe(1e6, 0.1e6, 10e6)
    lb.on_packets_lost(0, 200, 0.0)  # first count, no loss: start phase
    assert lb.update(0.0, 1e6) == 1e6
    # 15 % loss after the start phase: x (1 - 0.5 * 0.15) = x 0.925
    assert lb.on_packets_lost(30, 200, 3.0)
    assert lb.loss_fraction == pytest.approx(0.15)
    assert lb.update(3.0, 5e6) == pytest.approx(1e6 * 0.925)
    # a second update on the same loss fraction does not decrease again
    assert lb.update(3.5, 5e6) == pytest.approx(1e6 * 0.925)
    # 1 % loss: 1.08 x the lowest rate of the last second, + 1 kbit/s
    assert lb.on_packets_lost(2, 200, 4.1)
    assert lb.update(4.1, 5e6) == pytest.approx(1e6 * 0.925 * 1.08 + 1000)
    # 5 %: hold
    assert lb.on_packets_lost(10, 200, 5.2)
    held = lb.bitrate_bps
    assert lb.update(5.2, 5e6) == held
    # capped by the delay-based estimate
    assert lb.on_packets_lost(0, 200, 6.3)
    assert lb.update(6.3, 0.5e6) == 0.5e6


def test_loss_counts_need_20_packets():
    lb = LossBasedBwe(1e6, 0.1e6, 10e6)
    assert not lb.on_packets_lost(5, 10, 3.0)  # 10 packets: accumulate
    assert lb.on_packets_lost(1, 10, 4.0)  # 20 packets, 6 lost
    assert lb.loss_fraction == pytest.approx(0.3)


def test_empty_report_and_limits():
    ctl = GccController(1e6, 0.5e6, 2e6)
    assert ctl.on_feedback(0.1, np.empty(0), np.empty(0), np.empty(0)) == 1e6
    assert len(ctl.history) == 1
    with pytest.raises(ValueError):
        GccController(1e6, 3e6, 2e6)
    assert GccController(5e6, 0.5e6, 2e6).target_bps == 2e6


# ============================================================================ closed loop
def test_step_down_target_below_capacity_within_2_s_and_queue_drains(steps_run):
    ctl, send, recv = steps_run
    t, v = series(ctl)
    after = (t > 20.0) & (t < 40.0)
    below = t[after][v[after] < 4e6]
    assert below.size and below[0] - 20.0 < 2.0
    ts, d = excess_delay(send, recv)
    late = (ts > 23.0) & (ts < 40.0)
    assert d[late].max() < 0.200
    # and it does not collapse: it stays above 0.85 x 0.85 x capacity
    assert v[(t > 23.0) & (t < 40.0)].min() > gcc.BETA**2 * 4e6


def _near_max_rate(bps, rtt_s):
    """libwebrtc's additive increase (bit/s per s): one average packet of a 30 fps frame cut
    into packets of at most 1200 B, per response time 2 (RTT + 100 ms)."""
    bits_per_frame = np.asarray(bps) / 30.0
    avg_packet = bits_per_frame / np.ceil(bits_per_frame / 9600.0)
    return np.maximum(4000.0, avg_packet / (2.0 * (rtt_s + 0.1)))


def test_step_up_reaches_85_percent_in_the_time_the_ramp_implies(steps_run):
    """After the step back up to 10 Mbit/s the estimate first creeps up additively (it is
    within 3 deviations of the link capacity measured at the last overuse, ~4 Mbit/s), then,
    once the acknowledged rate passes that bound U, multiplies by 1.08 per second.

    Predicted time to 8.5 Mbit/s = (U - target at 40 s) / a + ln(8.5 Mbit/s / U) / ln 1.08,
    with a the additive rate over [target, U] at the RTT measured at 40 s; after 40 s the RTT
    can only shrink, by at most the serialization saved (9600 bit at 4 vs 10 Mbit/s, 1.44 ms).
    The bound uses the smallest a at that RTT plus 0.5 s (the acknowledged rate is a 500 ms
    window average: it lags a ramp by 0.25 s) plus 0.07 s (a report's interval and delay); the
    floor uses the largest a at the RTT less 1.44 ms, minus 0.05 s.
    """
    at40 = run(40.0)[0]  # the same deterministic run, stopped at the step
    target0 = at40.target_bps
    upper = at40.aimd.link_capacity_upper_bps
    assert 3.5e6 < target0 < upper < 4.3e6  # the state the derivation assumes
    span = np.linspace(target0, upper, 4001)
    slow_rate = _near_max_rate(span, at40.rtt_s).min()
    fast_rate = _near_max_rate(span, at40.rtt_s - 0.00144).max()
    multiplicative = math.log(0.85 * 10e6 / upper) / math.log(1.08)  # 9.4 s
    slowest = (upper - target0) / slow_rate + multiplicative + 0.5 + 0.07
    fastest = (upper - target0) / fast_rate + multiplicative - 0.05

    ctl = steps_run[0]
    t, v = series(ctl)
    reach = t[(t > 40.0) & (v >= 0.85 * 10e6)]
    assert reach.size
    assert fastest <= reach[0] - 40.0 <= slowest  # measured 22.7 s in [22.2, 23.7]
    # the multiplicative leg alone: from U to 8.5 Mbit/s at 8 %/s
    start_mul = t[(t > 40.0) & (v > upper)][0]
    assert reach[0] - start_mul == pytest.approx(multiplicative, abs=0.15)


def test_initial_ramp_is_8_percent_per_second():
    # no overuse yet: capacity unknown, multiplicative from the first report (t = 0.07 s,
    # +1 kbit/s there); 8 -> 10 Mbit/s takes ln 1.25 / ln 1.08 = 2.9 s
    ctl = run(2.5)[0]
    t, v = series(ctl)
    expected = (8e6 + 1000) * 1.08 ** (t - t[0])
    np.testing.assert_allclose(v, expected, rtol=1e-9)


def test_random_loss_5_percent_holds_the_rate():
    """5 % iid loss, no congestion. The first loss fraction (the first report more than 1 s
    after the first count) ends the start phase; until then the loss-based rate follows the
    delay-based 8 %/s ramp, so the equilibrium is R = (start + 1 kbit/s) x 1.08^(t_prev -
    t_first). Afterwards a fraction in (2 %, 10 %] holds the rate. With n ~ R x 1.05 s / 9600
    bit ~ 236 packets per fraction, P(p > 10 %) = 8.5e-4 and P(p <= 2 %) = 0.0076 (binomial
    tails), so the rate stays at R (for this seed exactly; for ~97 % of seeds over 30 s)."""
    from scipy.stats import binom

    start = 2e6
    ctl, send, recv = run(30.0, steps=((0.0, 10e6),), start_bps=start, max_bps=6e6, loss=0.05)
    t, v = series(ctl)
    lf = np.array([h[3] for h in ctl.history])
    first = int(np.flatnonzero(lf > 0)[0])
    r_eq = (start + 1000.0) * 1.08 ** (t[first - 1] - t[0])
    n = r_eq * 1.05 / 9600.0
    p_down = binom.sf(math.floor(0.10 * n), round(n), 0.05)
    p_up = binom.cdf(math.floor(0.02 * n), round(n), 0.05)
    # ~28 fractions in 30 s: expected decreases 28 x 8.5e-4 = 0.024, increases 28 x 0.0076
    assert 28 * p_down < 0.05 and 28 * p_up < 0.25
    assert v.min() >= ctl.min_bps
    assert v[first:].min() >= r_eq * (1 - 1e-9)
    fractions = lf[first:]
    assert ((fractions > 0.02) & (fractions <= 0.10)).all()  # all in the hold band, so
    np.testing.assert_allclose(v[first:], r_eq, rtol=1e-9)  # the rate is held exactly


def test_random_loss_15_percent_backs_off_to_the_floor_not_below():
    """15 % iid loss: each new loss fraction p > 10 % multiplies the rate by (1 - 0.5 p),
    about 0.925 per ~1.05 s update: 2.16 Mbit/s reaches the 0.3 Mbit/s floor after some 25
    updates (30.5 s for this seed) and stays there."""
    ctl = run(40.0, steps=((0.0, 10e6),), start_bps=2e6, max_bps=6e6, loss=0.15)[0]
    t, v = series(ctl)
    lf = np.array([h[3] for h in ctl.history])
    changes = np.flatnonzero(np.diff(lf) != 0) + 1
    for i in changes:
        if lf[i] > 0.10 and v[i - 1] > ctl.min_bps:
            want = max(v[i - 1] * (1 - 0.5 * lf[i]), ctl.min_bps)
            assert v[i] == pytest.approx(want, rel=1e-12)
        elif lf[i] > 0.02:
            assert v[i] == v[i - 1]
    assert v.min() == ctl.min_bps and v[-1] == ctl.min_bps


def test_deterministic():
    a, sa, ra = run(12.0, loss=0.02, seed=11)
    b, sb, rb = run(12.0, loss=0.02, seed=11)
    assert a.history == b.history and a.component_history == b.component_history
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_array_equal(ra, rb)
    c = run(12.0, loss=0.02, seed=12)[0]
    assert c.history != a.history  # the seed matters (through the loss pattern only)
