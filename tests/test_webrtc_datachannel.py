"""The SCTP data channel (netsim.webrtc.datachannel): timing by hand, recovery, reliability modes.

Every plan has two links: ``up`` carries the messages (and retransmissions, FORWARD-TSNs),
``down`` the SACKs. Times are hand-computed from the links' base delays, their serialisation
at the link capacity and the 1 ms endpoint delay.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from netsim.engine import simulate
from netsim.plan import (
    ChannelSpec,
    LinkSpec,
    LossModel,
    NetworkPlan,
    SizeModel,
    StreamSpec,
    TransportSpec,
)
from netsim.webrtc import ENDPOINT_DELAY_S
from netsim.webrtc.datachannel import (
    GAP_BLOCK_BYTES,
    RTO_INITIAL_S,
    RTO_MIN_S,
    RTTVAR_MIN_S,
    SACK_BYTES,
    channel_mode,
)

UP_S, DOWN_S = 0.020, 0.030
SIZE = 200  # bytes on the wire per message
CAP = 1e6  # bit/s: 200 B take 1.6 ms, a SACK of 97 B 0.776 ms
SER = SIZE * 8 / CAP
BASE = SER + UP_S + ENDPOINT_DELAY_S  # a message's latency when nothing goes wrong


def _plan(
    channel: ChannelSpec | None = None,
    *,
    rate: float = 100.0,
    duration: float = 2.0,
    drain: float = 2.0,
    capacity: float = CAP,
    up_loss: float = 0.0,
    down_loss: float = 0.0,
    outages: tuple[tuple[float, float], ...] = (),
    kind: str = "cbr",
    feedback: bool = True,
    window_s: float | None = None,
    seed: int = 1,
) -> NetworkPlan:
    links = {
        "up": LinkSpec(
            "up",
            capacity_bps=capacity,
            delay_s=UP_S,
            loss=LossModel.iid(up_loss),
            outages=outages,
        ),
        "down": LinkSpec(
            "down", capacity_bps=capacity, delay_s=DOWN_S, loss=LossModel.iid(down_loss)
        ),
    }
    transport = TransportSpec(
        kind="datachannel",
        channel=channel or ChannelSpec(),
        feedback_path=("down",) if feedback else (),
        feedback_stream="dc/feedback" if feedback else None,
    )
    streams = [
        StreamSpec("dc", kind, rate, SizeModel(mean_bytes=SIZE), ("up",), transport=transport)
    ]
    if feedback:
        streams.append(StreamSpec("dc/feedback", "feedback", rate, SizeModel(), ("down",)))
    return NetworkPlan(
        "dc", duration, links, tuple(streams), drain_s=drain, window_s=window_s, seed=seed
    )


def _run(plan: NetworkPlan):
    sim = simulate(plan)
    return sim, sim.transport["dc"]


def _delivery(report) -> np.ndarray:
    return report.unit_t_s + report.unit_latency_s


# ----- no loss ----------------------------------------------------------------------------


@pytest.mark.parametrize("feedback", [True, False])
def test_lossless_latency_and_sack_count_are_exact(feedback):
    sim, r = _run(_plan(feedback=feedback))
    n = 200
    assert r.kind == "datachannel" and r.unit == "message"
    assert r.stats["messagesSent"] == r.stats["messagesReceived"] == n
    np.testing.assert_allclose(r.unit_t_s, np.arange(n) / 100.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.unit_latency_s, BASE, rtol=0, atol=1e-12)
    for key in ("retransmissions", "t3Expirations", "abandonedMessages", "forwardTsnSent"):
        assert r.stats[key] == 0
    assert r.stats["headOfLineBlockedMessages"] == 0
    assert r.stats["packetsSent"] == n
    assert r.stats["bytesSent"] == r.stats["bytesReceived"] == n * (SIZE - 93)
    # A SACK at once for the first DATA chunk, then one per second packet; the last message
    # is alone and waits for the 200 ms delayed-ack timer: 1 + 99 + 1.
    assert r.stats["sacksSent"] == 1 + (n - 1) // 2 + (n - 1) % 2 == 101
    if feedback:
        rows = sim.packets.of_stream("dc/feedback")
        assert rows.size == 101
        assert set(sim.packets.size_bytes[rows].tolist()) == {SACK_BYTES}
    assert r.detail["mode"] == "reliable-ordered"
    assert r.stats["retransmissionTimeout"] == RTO_MIN_S


def test_sparse_messages_are_each_acked_by_the_delayed_ack_timer():
    # One message every 0.5 s: the first is acked at once, every other after 200 ms.
    _, r = _run(_plan(rate=2.0, duration=3.0))
    assert r.stats["sacksSent"] == 6
    # RTT samples: the first SACK is immediate, the others wait 200 ms.
    rtt0 = BASE + SACK_BYTES * 8 / CAP + DOWN_S + ENDPOINT_DELAY_S
    times, srtt = r.series["srtt_s"]
    assert srtt[0] == pytest.approx(rtt0, abs=1e-12)
    assert srtt[1] == pytest.approx(7 / 8 * rtt0 + 1 / 8 * (rtt0 + 0.2), abs=1e-12)


# ----- one forced loss, recovered by fast retransmit or by the T3 timer --------------------


def test_single_loss_fast_retransmit_latency_and_head_of_line_blocking():
    # The outage loses message 50 (sent at 0.50 s) and nothing else.
    outage = ((0.495, 0.505),)
    _, r = _run(_plan(outages=outage))
    sack_gap = (SACK_BYTES + GAP_BLOCK_BYTES) * 8 / CAP  # a SACK with one gap block
    # Messages 51, 52, 53 each draw an immediate SACK (a gap exists); the third miss
    # indication, from message 53's SACK, triggers the fast retransmit.
    t_rtx = 0.53 + BASE + sack_gap + DOWN_S + ENDPOINT_DELAY_S
    delivered = t_rtx + BASE
    assert r.stats["fastRetransmissions"] == r.stats["retransmissions"] == 1
    assert r.stats["t3Expirations"] == 0
    assert r.unit_latency_s[50] == pytest.approx(delivered - 0.50, abs=1e-9)
    assert r.unit_latency_s[50] == pytest.approx(0.106976, abs=1e-9)
    # Ordered: 51..58 arrived before the retransmission and wait for it (HOL); 59 does not.
    deliver = _delivery(r)
    np.testing.assert_allclose(deliver[50:59], delivered, rtol=0, atol=1e-9)
    assert r.stats["headOfLineBlockedMessages"] == 8
    hol = r.series["head_of_line_delay_s"][1]
    np.testing.assert_allclose(hol[51:59], delivered - (np.arange(51, 59) / 100 + BASE), atol=1e-9)
    assert r.stats["headOfLineDelayTotal"] == pytest.approx(hol[51:59].sum(), abs=1e-12)
    others = np.r_[0:50, 59:200]
    np.testing.assert_allclose(r.unit_latency_s[others], BASE, rtol=0, atol=1e-9)
    # Unordered: only the lost message is late.
    _, u = _run(_plan(ChannelSpec(ordered=False), outages=outage))
    assert u.unit_latency_s[50] == pytest.approx(delivered - 0.50, abs=1e-9)
    np.testing.assert_allclose(np.delete(u.unit_latency_s, 50), BASE, rtol=0, atol=1e-9)
    assert u.stats["headOfLineBlockedMessages"] == 0
    assert u.detail["mode"] == "reliable-unordered"


def test_single_loss_without_three_later_packets_waits_for_t3():
    # Three messages a second: message 1 (t = 1/3 s) is lost; only message 2 follows before
    # the timer, one miss indication, so the T3-rtx timer recovers it.
    _, r = _run(_plan(rate=3.0, outages=((0.3, 0.4),)))
    # The RTO then comes from one sample, message 0's immediate SACK, clamped to RTO.Min.
    rtt0 = BASE + SACK_BYTES * 8 / CAP + DOWN_S + ENDPOINT_DELAY_S
    rto = max(RTO_MIN_S, rtt0 + 4 * max(rtt0 / 2, RTTVAR_MIN_S))
    assert rto == RTO_MIN_S
    assert r.stats["t3Expirations"] == 1 and r.stats["fastRetransmissions"] == 0
    assert r.stats["retransmissions"] == 1
    t_rtx = 1 / 3 + rto  # the timer started when message 1 was sent
    assert r.unit_latency_s[1] == pytest.approx(t_rtx + BASE - 1 / 3, abs=1e-9)
    assert r.unit_latency_s[1] == pytest.approx(RTO_MIN_S + BASE, abs=1e-9)
    # Message 2 waits for it (ordered); the RTO doubled on expiry.
    assert _delivery(r)[2] == pytest.approx(t_rtx + BASE, abs=1e-9)
    assert r.stats["headOfLineBlockedMessages"] == 1
    t_rto, rtos = r.series["rto_s"]
    assert rtos[1] == 2 * RTO_MIN_S and t_rto[1] == pytest.approx(t_rtx, abs=1e-12)


def test_first_message_lost_is_recovered_after_the_initial_rto():
    # No RTT sample yet: the T3 timer runs with RTO.Initial.
    _, r = _run(_plan(rate=3.0, outages=((0.0, 0.1),)))
    assert r.stats["t3Expirations"] == 1
    assert r.unit_latency_s[0] == pytest.approx(RTO_INITIAL_S + BASE, abs=1e-9)


# ----- random loss: ordered against unordered ---------------------------------------------


def test_reliable_ordered_blocks_behind_losses_and_unordered_does_not():
    kw = dict(rate=100.0, duration=20.0, drain=10.0, capacity=math.inf, up_loss=0.05)
    _, o = _run(_plan(ChannelSpec(ordered=True), **kw))
    _, u = _run(_plan(ChannelSpec(ordered=False), **kw))
    base = UP_S + ENDPOINT_DELAY_S  # infinite capacity: no serialisation, no queue
    for r in (o, u):
        assert r.stats["messagesReceived"] == r.stats["messagesSent"] == 2000
        assert np.isfinite(r.unit_latency_s).all()
        assert r.stats["fastRetransmissions"] > 50
    # The sender sees the same SACKs either way: the same retransmissions.
    np.testing.assert_array_equal(o.series["retransmissions"][1], u.series["retransmissions"][1])
    # Unordered: a message's latency depends only on its own losses.
    rtx = u.series["retransmissions"][1]
    np.testing.assert_allclose(u.unit_latency_s[rtx == 0], base, rtol=0, atol=1e-12)
    assert (u.unit_latency_s[rtx > 0] >= base - 1e-12).all()
    assert u.stats["headOfLineBlockedMessages"] == 0
    # Ordered: each message is delivered when it and all before it have arrived, i.e. at the
    # running maximum of the unordered delivery times.
    np.testing.assert_allclose(
        _delivery(o), np.maximum.accumulate(_delivery(u)), rtol=0, atol=1e-12
    )
    blocked = o.series["head_of_line_delay_s"][1] > 1e-12
    assert o.stats["headOfLineBlockedMessages"] == blocked.sum() > 100
    # A blocked message is released with the recovered message ahead of it: its extra delay
    # is that message's recovery time, less the time between the two.
    recovered = set(np.round(_delivery(o)[rtx > 0], 9).tolist())
    assert set(np.round(_delivery(o)[blocked], 9).tolist()) <= recovered
    assert o.stats["headOfLineDelayTotal"] > 0
    assert np.nanpercentile(o.unit_latency_s, 99) > np.nanpercentile(u.unit_latency_s, 99)


def test_lost_sacks_alone_never_delay_a_message():
    _, r = _run(_plan(ChannelSpec(ordered=True), duration=10.0, drain=5.0, down_loss=0.2))
    assert r.stats["messagesReceived"] == 1000
    np.testing.assert_allclose(r.unit_latency_s, BASE, rtol=0, atol=1e-9)


# ----- partial reliability -------------------------------------------------------------


def test_max_retransmits_zero_never_retransmits_and_loses_what_the_link_loses():
    kw = dict(rate=100.0, duration=20.0, drain=5.0, capacity=math.inf, up_loss=0.05)
    sim, r = _run(_plan(ChannelSpec(ordered=False, max_retransmits=0), **kw))
    assert r.detail["mode"] == "max-retransmits=0"
    assert r.stats["retransmissions"] == 0
    lat = r.unit_latency_s
    delivered = np.isfinite(lat)
    lost = int((~delivered).sum())
    assert 0.035 < lost / lat.size < 0.065
    # Every message's only copy: the undelivered ones are exactly the lost DATA packets.
    rows = sim.packets.of_stream("dc")
    data = sim.packets.size_bytes[rows] == SIZE
    assert np.isnan(sim.packets.t_recv_s[rows][data]).sum() == lost
    assert r.stats["abandonedMessages"] == lost and r.stats["forwardTsnSent"] > 0
    np.testing.assert_allclose(lat[delivered], UP_S + ENDPOINT_DELAY_S, rtol=0, atol=1e-12)


def test_max_retransmits_zero_ordered_still_waits_for_the_forward_tsn():
    kw = dict(rate=100.0, duration=20.0, drain=5.0, capacity=math.inf, up_loss=0.05)
    _, r = _run(_plan(ChannelSpec(ordered=True, max_retransmits=0), **kw))
    assert r.stats["retransmissions"] == 0 and r.stats["abandonedMessages"] > 0
    assert r.stats["headOfLineBlockedMessages"] > 0
    lat = r.unit_latency_s[np.isfinite(r.unit_latency_s)]
    assert lat.max() > UP_S + ENDPOINT_DELAY_S + 0.05


@pytest.mark.parametrize("ordered", [False, True])
def test_max_packet_lifetime_bounds_what_is_retransmitted(ordered):
    life = 0.1
    kw = dict(rate=100.0, duration=20.0, drain=5.0, capacity=math.inf, up_loss=0.05)
    _, r = _run(_plan(ChannelSpec(ordered=ordered, max_packet_lifetime_s=life), **kw))
    assert r.detail["mode"] == "max-lifetime=100ms"
    one_way = UP_S + ENDPOINT_DELAY_S
    lat = r.unit_latency_s
    delivered = np.isfinite(lat)
    assert r.stats["abandonedMessages"] > 0 and r.stats["retransmissions"] > 0
    assert r.stats["messagesReceived"] == delivered.sum() < lat.size
    # No copy is sent after the lifetime: each message's own arrival is within T + one way.
    own = lat - np.nan_to_num(r.series["head_of_line_delay_s"][1])
    assert (own[delivered] <= life + one_way + 1e-9).all()
    if not ordered:
        assert (lat[delivered] <= life + one_way + 1e-9).all()
        assert r.stats["headOfLineBlockedMessages"] == 0


# ----- determinism -----------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [math.inf, CAP])
def test_results_do_not_depend_on_the_window_and_repeat(capacity):
    channel = ChannelSpec(ordered=True, max_packet_lifetime_s=0.15)
    kw = dict(kind="poisson", rate=80.0, duration=10.0, drain=5.0, up_loss=0.05, down_loss=0.05)
    _, a = _run(_plan(channel, window_s=10.0, capacity=capacity, **kw))
    _, b = _run(_plan(channel, window_s=0.004, capacity=capacity, **kw))
    _, c = _run(_plan(channel, window_s=10.0, capacity=capacity, **kw))
    assert a.stats["abandonedMessages"] > 0 and a.stats["fastRetransmissions"] > 0
    np.testing.assert_array_equal(a.unit_latency_s, c.unit_latency_s)
    np.testing.assert_equal(a.stats, c.stats)
    np.testing.assert_array_equal(a.unit_t_s, b.unit_t_s)
    counts = {k: v for k, v in a.stats.items() if isinstance(v, int)}
    assert counts == {k: b.stats[k] for k in counts}
    if math.isinf(capacity):
        np.testing.assert_array_equal(a.unit_latency_s, b.unit_latency_s)
        np.testing.assert_equal(a.stats, b.stats)
    else:
        # The links' vectorised FIFO (cumulative sums per window) rounds differently when
        # the windows differ, by ~1e-15 s; nothing discrete changes.
        np.testing.assert_allclose(a.unit_latency_s, b.unit_latency_s, rtol=0, atol=1e-12)
    _, d = _run(_plan(channel, window_s=10.0, capacity=capacity, seed=2, **kw))
    assert not np.array_equal(a.unit_t_s, d.unit_t_s)


def test_channel_mode_names():
    assert channel_mode(ChannelSpec()) == "reliable-ordered"
    assert channel_mode(ChannelSpec(ordered=False)) == "reliable-unordered"
    assert channel_mode(ChannelSpec(max_retransmits=2)) == "max-retransmits=2"
    assert channel_mode(ChannelSpec(max_packet_lifetime_s=0.25)) == "max-lifetime=250ms"
