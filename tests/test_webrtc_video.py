"""WebRTC video: exact glass-to-glass timing, NACK within the RTT, FEC, keyframe requests."""

from __future__ import annotations

import math
import sys
import types
from dataclasses import replace

import numpy as np
import pytest

import netsim.engine as engine
from netsim.plan import (
    JitterModel,
    LinkSpec,
    LossModel,
    NetworkPlan,
    SizeModel,
    StreamSpec,
    TransportSpec,
    VideoSpec,
)
from netsim.presets import RTP_OVERHEAD_BYTES, VIDEO_PAYLOAD_BYTES
from netsim.rng import component_rng
from netsim.webrtc import ENDPOINT_DELAY_S, frames
from netsim.webrtc.video import RENDER_DELAY_S, VideoSession

EXT = frames.HEADER_EXTENSION_BYTES
PACE = frames.PACING_FACTOR


def video(**kw) -> VideoSpec:
    """A 1080p30 4 Mbit/s stream, constant frame sizes, no congestion control."""
    base = {
        "bitrate_bps": 4e6,
        "gop_s": 2.0,
        "key_ratio": 1.0,
        "size_cv": 0.0,
        "congestion_control": False,
        "encode_s": 0.005,
    }
    return VideoSpec(**(base | kw))


def plan(
    spec: VideoSpec,
    *,
    delay=0.03,
    capacity=50e6,
    loss=0.0,
    outages=(),
    feedback: LinkSpec | None = None,
    duration=2.0,
    window_s=None,
    jitter=None,
) -> NetworkPlan:
    links = {
        "up": LinkSpec(
            "up",
            capacity_bps=capacity,
            delay_s=delay,
            loss=LossModel.iid(loss),
            outages=tuple(outages),
            jitter=jitter or JitterModel(),
        )
    }
    streams = []
    transport = TransportSpec(kind="webrtc-video", video=spec)
    if feedback is not None:
        links["down"] = feedback
        transport = replace(transport, feedback_path=("down",), feedback_stream="cam/feedback")
        streams.append(StreamSpec("cam/feedback", "feedback", 50.0, SizeModel(), ("down",)))
    cam = StreamSpec(
        "cam", "cbr", spec.max_bitrate_bps / 1e4, SizeModel(mean_bytes=1250), ("up",),
        transport=transport,
    )  # fmt: skip
    return NetworkPlan("video", duration, links, (cam, *streams), drain_s=1.0, window_s=window_s)


@pytest.fixture
def run(monkeypatch):
    """Simulate a plan with session keyword arguments; returns (report, session, packets)."""

    def go(p: NetworkPlan, **session_kw):
        made = []

        def make(stream, plan_, seed, horizon):
            session = VideoSession(stream, plan_, seed, horizon, **session_kw)
            made.append(session)
            return session

        monkeypatch.setattr(engine, "make_session", make)
        sim = engine.simulate(p)
        return sim.transport["cam"], made[0], sim.packets

    return go


def wire(payload: int) -> int:
    return payload + RTP_OVERHEAD_BYTES + EXT


def frame_delay(size: int, *, encode_s, delay, capacity) -> float:
    """Capture to completion (receiver's reaction to the last packet) of a frame sent by an
    idle pacer at 10 Mbit/s over an idle link: encode, pacing of all but the last packet,
    serialisation of the last, propagation, endpoint."""
    payloads = frames.packetize(size)
    w = [wire(int(p)) for p in payloads]
    pacing = sum(8.0 * b / (PACE * 4e6) for b in w[:-1])
    return encode_s + pacing + 8.0 * w[-1] / capacity + delay + ENDPOINT_DELAY_S


def media_log(packets, session):
    """The media lane's packets in transport-wide order with their kind and RTP seq/frame."""
    mine = packets.stream == packets.stream_names.index("cam")
    order = np.argsort(packets.seq[mine])
    t_send = packets.t_send_s[mine][order]
    t_recv = packets.t_recv_s[mine][order]
    return np.asarray(session.p_kind), np.asarray(session.p_ref), t_send, t_recv


# --------------------------------------------------------------------------------- frames.py
def test_gop_carries_the_bit_rate_and_i_frames_are_key_ratio_times_p():
    sizes, key = frames.frame_sizes(4e6, 30.0, 60, 5.0, 120)
    assert key.sum() == 2 and key[0] and key[60]
    assert sizes[0] == 5 * sizes[1] or abs(sizes[0] - 5 * sizes[1]) <= 3
    gop_bits = 8 * sizes[:60].sum()
    assert abs(gop_bits - 4e6 * 2.0) <= 8 * 60  # within the whole-byte rounding
    rng = component_rng(3, "test", "sizes")
    varied, _ = frames.frame_sizes(4e6, 30.0, 60, 1.0, 20000, rng=rng, cv=0.3)
    assert abs(varied.mean() / (4e6 / 30 / 8) - 1.0) < 0.01
    assert abs(varied.std() / varied.mean() - 0.3) < 0.01


def test_packetize_splits_at_the_payload_size():
    assert frames.packetize(2401).tolist() == [1200, 1200, 1]
    assert frames.packetize(1200).tolist() == [1200]
    assert frames.packetize(17, payload=5).tolist() == [5, 5, 5, 2]
    assert frames.packet_wire_bytes(VIDEO_PAYLOAD_BYTES) == 1200 + 50 + 12
    assert frames.fec_count(14, 1.0) == 14 and frames.fec_count(14, 0.25) == 4
    assert frames.fec_count(14, 0.0) == 0
    # NACK: 42 B below RTCP, 12 B header, 4 B per (PID, BLP) covering 17 sequence numbers
    assert frames.nack_bytes([5]) == 42 + 12 + 4
    assert frames.nack_bytes([5, 21, 22]) == 42 + 12 + 8
    assert frames.pli_bytes() == 54


def test_presets_scale_h265_and_default_to_the_videospec_defaults():
    assert frames.VIDEO_PRESETS["1080p30-h264"] == VideoSpec()
    for name in ("1080p30", "4k30", "4k60"):
        h264, h265 = frames.VIDEO_PRESETS[f"{name}-h264"], frames.VIDEO_PRESETS[f"{name}-h265"]
        assert h265.codec == "h265" and h264.codec == "h264"
        assert h265.max_bitrate_bps == pytest.approx(0.6 * h264.max_bitrate_bps)
    assert frames.VIDEO_PRESETS["4k60-h264"].fps == 60.0
    assert frames.VIDEO_PRESETS["4k30-h264"].width == 3840


# ------------------------------------------------------------------------- exact timing
def test_lossless_glass_to_glass_is_encode_pacing_network_endpoint_and_render(run):
    report, session, _ = run(plan(video(), delay=0.03, capacity=50e6))
    size = frames.frame_bytes(4e6, 30.0, 60, 1.0, True)
    assert size == 16667  # 4 Mbit/s / 30 fps, one size for I and P (key_ratio 1)
    d = frame_delay(size, encode_s=0.005, delay=0.03, capacity=50e6)
    # every frame's delay is d, so the playout delay is d + 0 jitter + 10 ms render delay
    lat = report.unit_latency_s
    assert lat.size == 60 and report.stats["framesRendered"] == 60
    np.testing.assert_allclose(lat, d + RENDER_DELAY_S, rtol=0, atol=1e-9)
    assert report.stats["framesDropped"] == 0 and report.stats["freezeCount"] == 0
    assert report.stats["packetsLost"] == 0 and report.stats["nackCount"] == 0
    assert report.stats["packetsSent"] == 60 * 14
    assert report.stats["keyFramesEncoded"] == 1
    # W3C jitterBufferDelay: first packet's arrival to decode (render - 10 ms), per frame
    first = 0.005 + 8.0 * wire(1200) / 50e6 + 0.03 + ENDPOINT_DELAY_S
    assert report.stats["jitterBufferDelay"] == pytest.approx(60 * (d - first), abs=1e-9)


def test_adaptive_playout_delay_follows_three_standard_deviations_of_frame_delay(run):
    """Keyframes twice the P size: frame n of the first GOP waits for 3 std of the delays
    {d_K, d_P x n}, i.e. 3 (d_K - d_P) sqrt(n) / (n + 1), on top of d_P and 10 ms."""
    report, session, _ = run(plan(video(key_ratio=2.0), delay=0.03, capacity=50e6))
    p_size = frames.frame_bytes(4e6, 30.0, 60, 2.0, False)
    i_size = frames.frame_bytes(4e6, 30.0, 60, 2.0, True)
    assert (p_size, i_size) == (16393, 32787)
    d_p = frame_delay(p_size, encode_s=0.005, delay=0.03, capacity=50e6)
    d_k = frame_delay(i_size, encode_s=0.005, delay=0.03, capacity=50e6)
    delta = d_k - d_p
    n = np.arange(60)
    expected = d_p + 3.0 * delta * np.sqrt(n) / (n + 1) + RENDER_DELAY_S
    expected[0] = d_k + RENDER_DELAY_S
    np.testing.assert_allclose(report.unit_latency_s[:60], expected, rtol=0, atol=1e-9)
    assert report.stats["framesDropped"] == 0


# ------------------------------------------------------------------------------- NACK
def _lose_one(kind_frame: int, packet: int, spec: VideoSpec, delay: float, capacity=math.inf):
    """An outage that catches exactly one packet of a frame (idle pacer, constant sizes)."""
    t = kind_frame / spec.fps + spec.encode_s + packet * 8.0 * wire(1200) / (PACE * 4e6)
    return [(t - 1e-6, t + 1e-6)]


def test_nack_within_the_playout_budget_renders_every_frame_on_time(run):
    spec = video()
    outage = _lose_one(10, 5, spec, 0.05)
    report, session, packets = run(
        plan(spec, delay=0.05, capacity=math.inf, outages=outage), min_playout_delay_s=0.3
    )
    # The RTX arrives one RTT (102 ms) after the loss was seen, well inside 300 ms.
    np.testing.assert_allclose(report.unit_latency_s, 0.3, rtol=0, atol=1e-12)
    s = report.stats
    assert s["nackCount"] == 1 and s["retransmittedPacketsSent"] == 1
    assert s["packetsLost"] == 0 and s["framesDropped"] == 0 and s["freezeCount"] == 0


def test_nack_beyond_the_playout_budget_renders_the_frame_late(run):
    spec = video()
    outage = _lose_one(10, 5, spec, 0.05)
    report, session, packets = run(plan(spec, delay=0.05, capacity=math.inf, outages=outage))
    kind, ref, t_send, t_recv = media_log(packets, session)
    lost = np.flatnonzero(np.isnan(t_recv))
    assert lost.size == 1 and kind[lost[0]] == 0
    r = ref[lost[0]]
    assert session.m_frame[r] == 10 and r == 10 * 14 + 5
    # NACK when packet 6 of frame 10 is seen; RTX one RTT later, after the sender's reaction
    nack_t = t_recv[lost[0] + 1] + ENDPOINT_DELAY_S
    (rtx,) = np.flatnonzero(kind == 1)
    assert ref[rtx] == r
    # the RTX waits only for the pacer's current slot (frame 13 is being paced out)
    reaction = nack_t + 0.05 + ENDPOINT_DELAY_S
    slot = t_send[rtx - 1] + 8.0 * packets.size_bytes[0] / (PACE * 4e6)
    assert packets.size_bytes[0] == wire(1200)
    assert t_send[rtx] == pytest.approx(max(reaction, slot), abs=1e-12)
    complete = t_recv[rtx] + ENDPOINT_DELAY_S
    cap = 10 / 30
    lat = report.unit_latency_s
    d = frame_delay(16667, encode_s=0.005, delay=0.05, capacity=math.inf)
    assert complete > cap + d  # later than planned: rendered on completion
    assert lat[10] == pytest.approx(complete + RENDER_DELAY_S - cap, abs=1e-12)
    # Frames 11 and 12 wait behind it and leave with it. The RTX took one pacer slot ahead of
    # frame 13, which is delta late; from then on the jitter window (frames 0..k, frame 10
    # left out as retransmitted: k delays, one of them d + delta) has 3 std =
    # 3 delta sqrt(k - 1) / k. Decode at max(complete, capture + D - 10 ms, previous decode).
    delta = 8.0 * wire(1200 + frames.RTX_OSN_BYTES) / (PACE * 4e6)
    emit, expected, late = complete, [], 0
    for k in range(11, 60):
        cap_k = k / 30
        own = d + (delta if k == 13 else 0.0)
        jitter = 3 * delta * math.sqrt(k - 1) / k if k >= 13 else 0.0
        late += own > d + jitter
        emit = max(cap_k + own, cap_k + d + jitter, emit)
        expected.append(emit + RENDER_DELAY_S - cap_k)
    np.testing.assert_allclose(lat[11:], expected, rtol=0, atol=1e-9)
    assert report.stats["framesDropped"] == 0 and report.stats["framesRendered"] == 60
    assert report.detail["framesLate"] == 1 + late == 2  # frames 10 and 13
    assert report.stats["freezeCount"] == 0  # 107 ms < 33 ms + 150 ms


def test_nack_cannot_beat_a_wait_shorter_than_the_rtt(run):
    """NACK recovers what the RTT allows, and no more: the buffer waits 40 ms past the render
    time, the RTX needs 102 ms; the frame is given up, a PLI brings a keyframe."""
    spec = video()
    outage = _lose_one(10, 5, spec, 0.05)
    report, session, packets = run(
        plan(spec, delay=0.05, capacity=math.inf, outages=outage), max_wait_s=0.04
    )
    d = frame_delay(16667, encode_s=0.005, delay=0.05, capacity=math.inf)
    playout = d + RENDER_DELAY_S
    give_up = 10 / 30 + playout + 0.04
    pli_at_sender = give_up + 0.05 + ENDPOINT_DELAY_S
    key = math.ceil(pli_at_sender * 30)  # the first capture after the PLI reaches the sender
    s = report.stats
    assert s["pliCount"] == 1 and s["nackCount"] == 1 and s["retransmittedPacketsSent"] == 1
    assert s["keyFramesEncoded"] == 2 and session.f_key[key] and not any(session.f_key[1:key])
    assert s["framesDropped"] == key - 10 and report.detail["framesGivenUp"] == 1
    lat = report.unit_latency_s
    assert np.isnan(lat[10:key]).all()
    np.testing.assert_allclose(lat[:10], playout, rtol=0, atol=1e-9)
    np.testing.assert_allclose(lat[key:], playout, rtol=0, atol=1e-9)
    gap = (key - 9) / 30  # render interval across the dropped frames
    assert s["freezeCount"] == (1 if gap >= 1 / 30 + 0.15 else 0)
    assert s["totalFreezesDuration"] == pytest.approx(gap if gap >= 1 / 30 + 0.15 else 0.0)


def test_iid_loss_nack_with_a_long_budget_renders_all_and_retransmits_each_loss_once(run):
    spec = video()
    fb = LinkSpec("down", delay_s=0.02)
    report, session, packets = run(
        plan(spec, delay=0.02, capacity=50e6, loss=0.03, feedback=fb, duration=4.0),
        min_playout_delay_s=0.4,
    )
    kind, ref, t_send, t_recv = media_log(packets, session)
    lost = np.isnan(t_recv)
    # every lost media or RTX packet is NACKed and resent exactly once more (no spurious RTX)
    lost_tx = int((lost & (kind != 2)).sum())
    assert lost_tx > 50
    assert report.stats["retransmittedPacketsSent"] == lost_tx
    # each media packet got through, in the end, on its original or an RTX
    assert report.stats["packetsLost"] == 0
    lat = report.unit_latency_s
    np.testing.assert_allclose(lat, 0.4, rtol=0, atol=1e-12)
    assert report.stats["framesDropped"] == 0 and report.stats["freezeCount"] == 0


def test_iid_loss_without_nack_drops_every_frame_whose_chain_broke(run):
    spec = video(nack=False)
    report, session, packets = run(
        plan(spec, delay=0.02, capacity=50e6, loss=0.03, duration=4.0), min_playout_delay_s=0.4
    )
    kind, ref, t_send, t_recv = media_log(packets, session)
    n = len(session.f_cap)
    got = np.zeros(n, dtype=int)
    np.add.at(got, np.asarray(session.m_frame)[ref[~np.isnan(t_recv)]], 1)
    complete = got == np.asarray(session.f_n)
    rendered = np.zeros(n, dtype=bool)
    for k in range(n):  # decodable: complete, and a keyframe or after a rendered frame
        rendered[k] = complete[k] and (session.f_key[k] or (k > 0 and rendered[k - 1]))
    last = n - 1  # the last frame's loss may be unseen (no later packet)
    np.testing.assert_array_equal(np.isfinite(report.unit_latency_s)[:last], rendered[:last])
    s = report.stats
    assert s["nackCount"] == 0 and s["retransmittedPacketsSent"] == 0
    assert s["framesDropped"] == n - rendered.sum() - report.detail["framesPending"]
    assert s["framesDropped"] > n // 2 and s["pliCount"] >= 5 and s["freezeCount"] >= 1
    assert s["keyFramesEncoded"] == sum(session.f_key) > 5


# -------------------------------------------------------------------------------- FEC
def test_fec_rebuilds_a_lost_last_packet_before_any_nack(run):
    """The last media packet of frame 10 is lost: its parity arrives before the next frame
    reveals the gap, so the frame completes without a NACK, on time."""
    spec = video(fec=1.0)
    outage = _lose_one(10, 13, spec, 0.03)
    report, session, packets = run(plan(spec, delay=0.03, capacity=math.inf, outages=outage))
    s = report.stats
    assert s["fecPacketsSent"] == 60 * 14 and s["nackCount"] == 0
    assert report.detail["packetsRecoveredByFec"] == 1 and s["packetsLost"] == 1
    assert s["framesDropped"] == 0 and s["framesRendered"] == 60
    assert s["fecPacketsDiscarded"] == s["fecPacketsReceived"] - 1
    # completion comes with the first parity packet (14 media + 1 parity of 15 needed)
    kind, ref, t_send, t_recv = media_log(packets, session)
    first_fec = np.flatnonzero((kind == 2) & (ref == 10))[0]
    lat10 = report.unit_latency_s[10]
    complete = t_recv[first_fec] + ENDPOINT_DELAY_S - 10 / 30
    assert lat10 == pytest.approx(max(complete, report.unit_latency_s[9] - RENDER_DELAY_S)
                                  + RENDER_DELAY_S, abs=1e-9)  # fmt: skip


def test_fec_one_parity_per_packet_repairs_iid_loss_without_nack(run):
    spec = video(fec=1.0, nack=False)
    report, session, packets = run(
        plan(spec, delay=0.02, capacity=50e6, loss=0.05, duration=4.0), min_playout_delay_s=0.2
    )
    kind, ref, t_send, t_recv = media_log(packets, session)
    ok = ~np.isnan(t_recv)
    frame_of = np.where(kind == 2, ref, np.asarray(session.m_frame)[np.where(kind == 2, 0, ref)])
    got = np.bincount(frame_of[ok], minlength=len(session.f_cap))
    need = np.asarray(session.f_n)
    assert (got >= need).all()  # at 5 % no frame lost more than its 14 parity packets
    s = report.stats
    lost_media = int((~ok & (kind == 0)).sum())
    assert lost_media > 20 and s["nackCount"] == 0
    assert report.detail["packetsRecoveredByFec"] == lost_media
    assert s["framesDropped"] == 0 and s["pliCount"] == 0
    np.testing.assert_allclose(report.unit_latency_s, 0.2, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------- keyframes
def test_a_loss_without_nack_brings_a_pli_and_a_keyframe(run):
    spec = video(nack=False)
    outage = _lose_one(10, 5, spec, 0.08)
    report, session, _ = run(plan(spec, delay=0.08, capacity=math.inf, outages=outage))
    d = frame_delay(16667, encode_s=0.005, delay=0.08, capacity=math.inf)
    playout = d + RENDER_DELAY_S
    # Without NACK the buffer waits only until the render time, then gives up (the loss was
    # seen at packet 6, before that) and sends a PLI; the sender keys its next capture.
    pli_at_sender = 10 / 30 + playout + 0.08 + ENDPOINT_DELAY_S
    key = math.ceil(pli_at_sender * 30)
    s = report.stats
    assert s["pliCount"] == 1 and s["nackCount"] == 0 and s["keyFramesEncoded"] == 2
    assert session.f_key[key] and s["framesDropped"] == key - 10
    lat = report.unit_latency_s
    assert np.isnan(lat[10:key]).all() and np.isfinite(lat[key:]).all()
    gap = (key - 9) / 30
    assert gap > 1 / 30 + 0.15
    assert s["freezeCount"] == 1 and s["totalFreezesDuration"] == pytest.approx(gap, abs=1e-9)


def test_pli_lost_on_the_feedback_path_is_sent_again(run):
    spec = video(nack=False)
    outage = _lose_one(10, 5, spec, 0.03)
    fb = LinkSpec("down", delay_s=0.03, outages=((0.3, 0.5),))  # swallows the first PLI
    report, session, _ = run(plan(spec, delay=0.03, capacity=math.inf, outages=outage, feedback=fb))
    s = report.stats
    assert s["pliCount"] == 2 and report.detail["keyframeRequestsReceived"] == 1
    assert s["keyFramesEncoded"] == 2
    assert np.isfinite(report.unit_latency_s[-10:]).all()


def test_a_long_outage_overflows_the_nack_list_and_restarts_from_a_keyframe(run):
    """3 s without service lose 1254 packets, more than libwebrtc's 1000-packet NACK list:
    the receiver asks for a keyframe instead of NACKing them."""
    spec = video()
    report, session, packets = run(
        plan(spec, delay=0.03, capacity=20e6, outages=[(1.0, 4.0)], duration=6.0)
    )
    s = report.stats
    lost = int(np.isnan(media_log(packets, session)[3]).sum())
    assert lost > 1000 and report.detail["nackListOverflows"] == 1
    assert s["nackCount"] == 0 and s["retransmittedPacketsSent"] == 0
    assert s["pliCount"] == 1 and report.detail["framesGivenUp"] >= 1
    lat, t = report.unit_latency_s, report.unit_t_s
    assert np.isnan(lat[(t >= 1.0) & (t < 4.0)]).all()
    after = np.flatnonzero(t >= 4.0)
    first = after[np.isfinite(lat[after])][0]
    assert session.f_key[first] and np.isfinite(lat[first:]).all()
    assert s["freezeCount"] == 1 and s["totalFreezesDuration"] > 3.0


# ------------------------------------------------------------------------ determinism
def _busy(window_s=None, seed_plan=1, capacity=math.inf):
    spec = video(size_cv=0.3, key_ratio=4.0, fec=0.25)
    fb = LinkSpec("down", delay_s=0.025, loss=LossModel.iid(0.05))
    p = plan(
        spec,
        delay=0.02,
        capacity=capacity,
        loss=0.03,
        feedback=fb,
        duration=3.0,
        window_s=window_s,
        jitter=JitterModel("exponential", mean_s=0.003),
    )
    return replace(p, seed=seed_plan)


def _same(a, b, rtol=0.0):
    assert {k: v for k, v in a.stats.items() if isinstance(v, int)} == {
        k: v for k, v in b.stats.items() if isinstance(v, int)
    }
    for k, v in a.stats.items():
        assert b.stats[k] == pytest.approx(v, rel=rtol, abs=0.0)
    for k, v in a.detail.items():
        assert b.detail[k] == pytest.approx(v, rel=rtol, abs=0.0)
    np.testing.assert_array_equal(a.unit_t_s, b.unit_t_s)
    np.testing.assert_allclose(a.unit_latency_s, b.unit_latency_s, rtol=rtol, atol=0)
    for key in a.series:
        for x, y in zip(a.series[key], b.series[key], strict=True):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=0)


def test_same_seed_same_report_and_the_window_does_not_matter(run):
    a, _, _ = run(_busy())
    b, _, _ = run(_busy())
    c, _, _ = run(_busy(window_s=0.003))
    _same(a, b)
    _same(a, c)  # bit for bit
    assert a.stats["nackCount"] > 0 and a.stats["fecPacketsReceived"] > 0
    assert a.stats["pliCount"] > 0 or a.stats["framesDropped"] == 0
    d, _, _ = run(_busy(seed_plan=2))
    assert d.stats != a.stats


def test_window_does_not_matter_through_a_queue(run):
    """With a finite-capacity link the engine's vectorised FIFO (netsim.fifo) rounds the
    last bit differently per window; every decision and count is the same."""
    a, _, _ = run(_busy(capacity=12e6))
    c, _, _ = run(_busy(capacity=12e6, window_s=0.003))
    _same(a, c, rtol=1e-12)


def test_report_series_and_units(run):
    report, session, packets = run(plan(video(), delay=0.03, capacity=50e6))
    assert report.kind == "webrtc-video" and report.unit == "frame"
    np.testing.assert_allclose(report.unit_t_s, np.arange(60) / 30)
    t, v = report.series["sent_bitrate_bps"]
    np.testing.assert_array_equal(t, [0.0, 1.0])
    total = 8 * packets.size_bytes[packets.stream == 0].sum()
    assert v.sum() == total and report.detail["wireBytesSent"] * 8 == total
    t, v = report.series["target_bitrate_bps"]
    assert v.tolist() == [4e6] and report.stats["targetBitrate"] == 4e6
    assert report.stats["headerBytesSent"] == 24 * report.stats["packetsSent"]
    assert report.stats["bytesSent"] == 60 * 16667


# ----------------------------------------------------------------------------- GCC wiring
def test_transport_feedback_reaches_the_controller(run, monkeypatch):
    calls = []

    class FakeGcc:
        def __init__(self, start_bps, min_bps, max_bps):
            self.target_bps = start_bps
            self.limits = (min_bps, max_bps)

        def on_feedback(self, now_s, t_send_s, t_recv_s, size_bytes):
            calls.append((now_s, t_send_s.copy(), t_recv_s.copy(), size_bytes.copy()))
            self.target_bps = 2e6 if now_s > 0.5 else self.target_bps
            return self.target_bps

    module = types.ModuleType("netsim.webrtc.gcc")
    module.GccController = FakeGcc
    monkeypatch.setitem(sys.modules, "netsim.webrtc.gcc", module)
    spec = video(congestion_control=True)
    report, session, packets = run(plan(spec, delay=0.03, capacity=50e6, loss=0.02))
    assert calls
    kind, ref, t_send, t_recv = media_log(packets, session)
    mine = packets.stream == 0
    sizes = packets.size_bytes[mine][np.argsort(packets.seq[mine])]
    reported = 0
    for now, ts, tr, sz in calls:
        lo = int(np.flatnonzero(t_send == ts[0])[0])
        np.testing.assert_array_equal(ts, t_send[lo : lo + ts.size])  # in send order
        np.testing.assert_array_equal(tr, t_recv[lo : lo + ts.size])  # NaN where lost
        np.testing.assert_array_equal(sz, sizes[lo : lo + ts.size])
        assert np.nanmax(tr) + ENDPOINT_DELAY_S <= now
        reported += ts.size
    assert reported == t_send.size
    t, v = report.series["target_bitrate_bps"]
    assert v.tolist() == [4e6, 2e6] and report.stats["targetBitrate"] == 2e6
    after = np.asarray(session.f_cap) > t[1]
    assert (np.asarray(session.f_bytes)[after] == 8333).all()  # 2 Mbit/s / 30 fps
