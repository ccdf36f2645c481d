"""WebRTC audio: Opus packets and the NetEQ-like jitter buffer, checked against hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netsim.engine import simulate
from netsim.packetlog import DELIVERED
from netsim.plan import (
    AudioSpec,
    JitterModel,
    LinkSpec,
    LossModel,
    NetworkPlan,
    SizeModel,
    StreamSpec,
    TransportSpec,
)
from netsim.presets import RTP_OVERHEAD_BYTES
from netsim.webrtc import ENDPOINT_DELAY_S
from netsim.webrtc.audio import SAMPLE_RATE_HZ, AudioSession

CAPACITY_BPS = 1e6
BASE_S = 0.020
WIRE_BYTES = 80 + RTP_OVERHEAD_BYTES  # 32 kbit/s x 20 ms / 8 = 80 B of Opus payload
SPF = 960  # samples per 20 ms frame at 48 kHz
# Fixed delay to the jitter buffer: base + serialization + endpoint.
DELAY_S = BASE_S + WIRE_BYTES * 8 / CAPACITY_BPS + ENDPOINT_DELAY_S


def _plan(
    duration_s: float,
    loss: float = 0.0,
    jitter: JitterModel | None = None,
    audio: AudioSpec | None = None,
    window_s: float | None = None,
    seed: int = 1,
) -> NetworkPlan:
    link = LinkSpec(
        "up",
        capacity_bps=CAPACITY_BPS,
        delay_s=BASE_S,
        loss=LossModel.iid(loss),
        jitter=jitter or JitterModel(),
    )
    transport = TransportSpec(kind="webrtc-audio", audio=audio)
    stream = StreamSpec("voice", "cbr", 50.0, SizeModel(), ("up",), transport=transport)
    return NetworkPlan(
        "audio", duration_s, {"up": link}, (stream,), drain_s=1.0, window_s=window_s, seed=seed
    )


def _run(plan: NetworkPlan):
    sim = simulate(plan)
    return sim, sim.transport["voice"]


def test_fixed_delay_every_frame_plays_at_the_hand_computed_time():
    sim, report = _run(_plan(4.0))
    n = 200
    assert report.kind == "webrtc-audio" and report.unit == "frame"
    np.testing.assert_array_equal(sim.packets.size_bytes, WIRE_BYTES)
    np.testing.assert_allclose(report.unit_t_s, 0.02 * np.arange(n), atol=1e-12)
    # NetEQ starts with an 80 ms target. The first histogram sample comes with the first packet
    # more than 500 ms after the first one: frame 26 (0.52 s); every relative delay is 0, so the
    # target drops to one 20 ms bucket. Frame 26 arrives just as frame 26 - 80/20 = 22 is due;
    # from frame 22 on each played frame gives up 2.5 ms (120 samples), 24 frames in all.
    k = np.arange(n)
    expected = DELAY_S + 0.080 - 0.0025 * np.clip(k - 22, 0, 24)
    np.testing.assert_allclose(report.unit_latency_s, expected, rtol=0, atol=1e-12)
    assert report.unit_latency_s[-1] == pytest.approx(DELAY_S + 0.020, abs=1e-12)
    t, target = report.series["jitter_buffer_target_s"]
    np.testing.assert_allclose(t, [DELAY_S, 0.52 + DELAY_S], atol=1e-12)
    np.testing.assert_array_equal(target, [0.080, 0.020])
    s = report.stats
    assert s["packetsSent"] == s["packetsReceived"] == n
    assert s["bytesSent"] == 80 * n
    assert s["packetsLost"] == s["packetsDiscarded"] == 0
    assert s["concealedSamples"] == s["concealmentEvents"] == s["silentConcealedSamples"] == 0
    assert s["insertedSamplesForDeceleration"] == 0
    assert s["removedSamplesForAcceleration"] == 24 * 120
    assert s["jitterBufferEmittedCount"] == n * SPF
    assert s["totalSamplesReceived"] == n * SPF - 24 * 120
    assert s["totalSamplesDuration"] == pytest.approx(s["totalSamplesReceived"] / 48_000)
    # Each frame waits its mouth-to-ear minus the fixed delay in the buffer.
    wait = (expected - DELAY_S).sum() * SPF
    assert s["jitterBufferDelay"] == pytest.approx(wait, rel=1e-12)
    # The target while each frame was emitted: 80 ms up to frame 21, then 20 ms.
    assert s["jitterBufferTargetDelay"] == pytest.approx(SPF * (22 * 0.08 + 178 * 0.02))


def test_longer_frames_change_sizes_samples_and_the_smallest_target():
    audio = AudioSpec(frame_s=0.06, bitrate_bps=24e3)
    sim, report = _run(_plan(6.0, audio=audio))
    payload = 24e3 * 0.06 / 8  # 180 B
    np.testing.assert_array_equal(sim.packets.size_bytes, payload + RTP_OVERHEAD_BYTES)
    delay = BASE_S + (payload + RTP_OVERHEAD_BYTES) * 8 / CAPACITY_BPS + ENDPOINT_DELAY_S
    assert report.stats["jitterBufferEmittedCount"] == 100 * 2880
    # The target is at least one frame (60 ms), not one 20 ms bucket.
    assert report.series["jitter_buffer_target_s"][1][-1] == pytest.approx(0.06)
    assert report.unit_latency_s[-1] == pytest.approx(delay + 0.06, abs=1e-12)


def _runs(lost: np.ndarray) -> int:
    """Runs of consecutive True values."""
    return int(lost[0]) + int(np.count_nonzero(lost[1:] & ~lost[:-1]))


def test_iid_loss_is_concealed_frame_for_frame():
    p, n = 0.1, 3000
    sim, report = _run(_plan(60.0, loss=p, seed=3))
    lost = sim.packets.fate != DELIVERED
    first = int(np.argmax(~lost))  # playout starts with the first packet that arrives
    played = ~np.isnan(report.unit_latency_s)
    # Without jitter every packet that arrives plays, every lost frame is concealed.
    np.testing.assert_array_equal(played[first:], ~lost[first:])
    s = report.stats
    concealed = int(lost[first:].sum())
    assert s["concealedSamples"] == concealed * SPF
    assert s["concealmentEvents"] == _runs(lost[first:])
    assert s["packetsDiscarded"] == 0
    last = n - 1 - int(np.argmax(~lost[::-1]))
    assert s["packetsLost"] == int(lost[first : last + 1].sum())
    # Binomial: the lost count has mean n p = 300 and sd sqrt(n p (1 - p)) = 16.4; 4 sd.
    assert abs(lost.sum() - n * p) <= 4 * math.sqrt(n * p * (1 - p))
    # A run starts at frame k when k is lost and k - 1 is not: indicator Y_k, mean
    # q = p (1 - p) = 0.09. Y_k and Y_k+1 are never both 1, so Cov = -q^2 and
    # Var(sum) = n q (1 - q) - 2 (n - 1) q^2 ~ n q (1 - 3 q) = 197 (sd 14); 4 sd.
    q = p * (1 - p)
    assert abs(s["concealmentEvents"] - n * q) <= 4 * math.sqrt(n * q * (1 - 3 * q))
    # Loss without jitter leaves the target at one frame: played frames keep the fixed delay.
    assert report.unit_latency_s[-1000:][played[-1000:]] == pytest.approx(DELAY_S + 0.02)


def _concealed_are_the_late(report) -> None:
    """Without loss, the frames concealed are those whose packets came late; a packet older
    than the first one to arrive is discarded too, but playout had not started for it."""
    missing = np.isnan(report.unit_latency_s)
    first = int(np.argmax(~missing))
    s = report.stats
    assert s["concealedSamples"] == missing[first:].sum() * SPF
    assert s["packetsDiscarded"] == missing.sum()


def _time_share(t: np.ndarray, v: np.ndarray, value: float, start: float, end: float) -> float:
    """Share of [start, end] during which the step function (t, v) equals ``value``."""
    edges = np.clip(np.append(t, end), start, end)
    return float(np.sum(np.diff(edges)[np.isclose(v, value)]) / (end - start))


def test_jitter_target_is_the_95th_percentile_of_the_interval_maximum():
    # NetEQ's defaults: every ~0.5 s the largest relative delay of the ~26 packets of the
    # interval enters the histogram, and the target is the bucket edge above its 95th
    # percentile. For iid exponential jitter of mean m, P(max <= x) = (1 - exp(-x/m))^n, so
    # x_95 = -m ln(1 - 0.95^(1/n)) = 6.19 m (n = 25) .. 6.23 m (n = 26): 31 ms for m = 5 ms,
    # in the 20-40 ms bucket, so the target is 40 ms. Margins: the interval maximum exceeds
    # 20 ms with probability 1 - (1 - e^-4)^26 = 38% (far above 5%) and 40 ms with
    # 1 - (1 - e^-8)^26 = 0.87% (far below).
    m = 0.005
    jitter = JitterModel("exponential", mean_s=m, reorder=True)
    _, report = _run(_plan(60.0, jitter=jitter, seed=5))
    t, v = report.series["jitter_buffer_target_s"]
    assert v[-1] == pytest.approx(0.040)
    assert _time_share(t, v, 0.040, 10.0, 61.0) >= 0.9
    s = report.stats
    # The first seconds may run at 20 ms, while the histogram holds a handful of samples.
    assert 0.035 <= s["jitterBufferTargetDelay"] / s["jitterBufferEmittedCount"] <= 0.045
    # A packet is late when its jitter exceeds the target (plus the 2 s minimum, ~m/100):
    # per packet e^(-40/5) = 3.4e-4, so 0.85 expected among the 2500 frames after 10 s;
    # Poisson(0.85) > 6 has p ~ 1e-5.
    assert np.isnan(report.unit_latency_s[500:]).sum() <= 6
    _concealed_are_the_late(report)
    assert s["packetsLost"] == 0


def test_per_packet_histogram_target_and_late_share(monkeypatch):
    # NetEQ's older defaults (a histogram sample per packet, 97th percentile, forget factor
    # 0.9993): the target is the bucket edge above the 97th percentile of the relative delay.
    # Exponential jitter of mean 10 ms: -10 ms ln(0.03) = 35.1 ms, so the target is 40 ms, and a
    # frame is late (concealed) with probability P(J > 40 ms) = e^-4 = 1.83%, the tail the
    # rounding up to a bucket leaves of the complementary 3%.
    monkeypatch.setattr(AudioSession, "RESAMPLE_INTERVAL_S", None)
    monkeypatch.setattr(AudioSession, "QUANTILE", 0.97)
    monkeypatch.setattr(AudioSession, "FORGET_FACTOR", 0.9993)
    m = 0.010
    jitter = JitterModel("exponential", mean_s=m, reorder=True)
    _, report = _run(_plan(60.0, jitter=jitter, seed=2))
    t, v = report.series["jitter_buffer_target_s"]
    assert v[-1] == pytest.approx(0.040)
    assert _time_share(t, v, 0.040, 10.0, 61.0) >= 0.9
    late = np.isnan(report.unit_latency_s[500:])  # after the first 10 s
    q = math.exp(-0.040 / m)
    # Binomial over 2500 frames: sd = sqrt(q (1 - q) / 2500) = 0.27 points; 4 sd.
    assert abs(late.mean() - q) <= 4 * math.sqrt(q * (1 - q) / late.size)
    s = report.stats
    assert s["packetsLost"] == 0
    _concealed_are_the_late(report)
    assert s["insertedSamplesForDeceleration"] > 0 and s["removedSamplesForAcceleration"] > 0


def _same(a, b) -> None:
    assert a.stats == b.stats
    np.testing.assert_array_equal(a.unit_t_s, b.unit_t_s)
    np.testing.assert_array_equal(a.unit_latency_s, b.unit_latency_s)
    for name in a.series:
        for x, y in zip(a.series[name], b.series[name], strict=True):
            np.testing.assert_array_equal(x, y)


def test_deterministic_and_independent_of_the_window():
    jitter = JitterModel("exponential", mean_s=0.008, reorder=True)
    plans = [_plan(10.0, loss=0.05, jitter=jitter, window_s=w) for w in (None, 10.0, 0.004)]
    reports = [_run(plan)[1] for plan in plans]
    again = _run(plans[0])[1]
    _same(reports[0], again)
    _same(reports[0], reports[1])
    _same(reports[0], reports[2])
    assert reports[0].stats["concealmentEvents"] > 0
    assert reports[0].stats["packetsDiscarded"] > 0 or reports[0].stats["packetsLost"] > 0


def test_samples_add_up():
    jitter = JitterModel("exponential", mean_s=0.010, reorder=True)
    _, report = _run(_plan(20.0, loss=0.02, jitter=jitter))
    s = report.stats
    assert s["totalSamplesReceived"] == (
        s["jitterBufferEmittedCount"]
        + s["concealedSamples"]
        + s["insertedSamplesForDeceleration"]
        - s["removedSamplesForAcceleration"]
    )
    played = ~np.isnan(report.unit_latency_s)
    assert s["jitterBufferEmittedCount"] == played.sum() * SPF
    assert s["packetsReceived"] + s["packetsLost"] >= s["packetsDiscarded"]
    assert SAMPLE_RATE_HZ * 0.02 == SPF
