"""The closed loop between sessions and the engine: causality and exact timing."""

from __future__ import annotations

import math

import numpy as np
import pytest

import netsim.engine as engine
from netsim.plan import LinkSpec, LossModel, NetworkPlan, SizeModel, StreamSpec, TransportSpec
from netsim.webrtc import ENDPOINT_DELAY_S, FEEDBACK, MEDIA, Session, TransportReport


class PingSession(Session):
    """Sends a ping every 50 ms; the receiver echoes each on the feedback lane."""

    kind = "ping"

    def __init__(self, *args):
        super().__init__(*args)
        self.rtts: list[float] = []
        self.sent_at: dict[int, float] = {}
        self.lost: list[int] = []
        self.at(0.0, self.ping)

    def ping(self):
        if self.now < self.duration_s:
            seq = self.send(MEDIA, self.now, 100)
            self.sent_at[seq] = self.now
            self.at(self.now + 0.05, self.ping)

    def on_arrival(self, lane, seq, t_recv):
        if lane == MEDIA:
            echo = self.send(FEEDBACK, self.now, 60)
            self.echo_of[echo] = seq
        else:
            self.rtts.append(self.now - self.sent_at[self.echo_of[seq]])

    def on_fate(self, lane, seq, t_recv):
        if math.isnan(t_recv):
            self.lost.append((lane, seq))

    echo_of: dict[int, int]

    def report(self):
        return TransportReport(kind="ping", unit="ping", stats={"pings": len(self.rtts)})


def _plan(feedback: bool, loss: float = 0.0, window_s: float | None = None) -> NetworkPlan:
    links = {
        "up": LinkSpec("up", capacity_bps=1e6, delay_s=0.020, loss=LossModel.iid(loss)),
        "down": LinkSpec("down", capacity_bps=1e6, delay_s=0.030),
    }
    transport = TransportSpec(
        kind="datachannel",
        feedback_path=("down",) if feedback else (),
        feedback_stream="ping/feedback" if feedback else None,
    )
    streams = [
        StreamSpec("ping", "cbr", 20.0, SizeModel(mean_bytes=100), ("up",), transport=transport)
    ]
    if feedback:
        streams.append(StreamSpec("ping/feedback", "feedback", 20.0, SizeModel(), ("down",)))
    return NetworkPlan("ping", 2.0, links, tuple(streams), drain_s=1.0, window_s=window_s)


@pytest.fixture
def sessions(monkeypatch):
    made = []

    def make(stream, plan, seed, horizon):
        session = PingSession(stream, plan, seed, horizon)
        session.echo_of = {}
        made.append(session)
        return session

    monkeypatch.setattr(engine, "make_session", make)
    return made


def test_round_trip_through_both_links_is_exact(sessions):
    sim = engine.simulate(_plan(feedback=True))
    (session,) = sessions
    # 100 B at 1 Mbit/s: 0.8 ms; 60 B: 0.48 ms; plus base delays and two endpoint delays.
    expected = 0.020 + 0.0008 + 0.030 + 0.00048 + 2 * ENDPOINT_DELAY_S
    assert len(session.rtts) == 40
    np.testing.assert_allclose(session.rtts, expected, rtol=0, atol=1e-12)
    assert sim.packets.stream_names == ("ping", "ping/feedback")
    assert sim.transport["ping"].stats["pings"] == 40


def test_ideal_mirror_returns_after_the_forward_base_delay(sessions):
    engine.simulate(_plan(feedback=False))
    expected = 0.020 + 0.0008 + 0.020 + 2 * ENDPOINT_DELAY_S
    np.testing.assert_allclose(sessions[0].rtts, expected, rtol=0, atol=1e-12)


def test_window_is_cut_to_the_lookahead_and_results_do_not_depend_on_it(sessions):
    a = engine.simulate(_plan(feedback=True, loss=0.3, window_s=10.0))
    b = engine.simulate(_plan(feedback=True, loss=0.3, window_s=0.004))
    assert sessions[0].rtts == sessions[1].rtts
    assert sessions[0].lost == sessions[1].lost and sessions[0].lost
    np.testing.assert_array_equal(a.packets.t_recv_s, b.packets.t_recv_s)


def test_lost_pings_are_never_echoed(sessions):
    engine.simulate(_plan(feedback=True, loss=0.3))
    (session,) = sessions
    lost_media = [seq for lane, seq in session.lost if lane == MEDIA]
    assert len(session.rtts) == 40 - len(lost_media)


def _two_hop_plan(window_s: float | None) -> NetworkPlan:
    """Forward a (10 ms) then b (0 ms); back c (0 ms) then d (10 ms); cross traffic on a, b."""
    links = {
        "a": LinkSpec("a", capacity_bps=1e6, delay_s=0.010, loss=LossModel.iid(0.2)),
        "b": LinkSpec("b", capacity_bps=2e6, delay_s=0.0),
        "c": LinkSpec("c", capacity_bps=1e6, delay_s=0.0),
        "d": LinkSpec("d", capacity_bps=1e6, delay_s=0.010),
    }
    transport = TransportSpec(
        kind="datachannel", feedback_path=("c", "d"), feedback_stream="ping/feedback"
    )
    streams = (
        StreamSpec("ping", "cbr", 20.0, SizeModel(mean_bytes=100), ("a", "b"), transport=transport),
        StreamSpec("ping/feedback", "feedback", 20.0, SizeModel(), ("c", "d")),
        StreamSpec("cross", "poisson", 150.0, SizeModel(mean_bytes=1200), ("a", "b")),
    )
    return NetworkPlan("two-hop", 3.0, links, streams, drain_s=1.0, window_s=window_s)


def test_lookahead_covers_the_whole_path_and_stays_exact(sessions):
    """The window may be as long as 1 ms + the path's base delay up to its last link."""
    from netsim.engine import upstream_delays

    plan = _two_hop_plan(None)
    names = list(plan.links)
    upstream = dict(zip(names, upstream_delays(plan, names), strict=True))
    assert upstream == {"a": 0.0, "b": 0.010, "c": 0.0, "d": 0.0}
    session = PingSession(plan.streams[0], plan, 1, 4.0)
    # media: last link b, 10 ms upstream + 0 ms; feedback: last link d, 0 + 10 ms.
    assert session.lookahead_s(upstream) == pytest.approx(0.011)
    a = engine.simulate(_two_hop_plan(None))
    b = engine.simulate(_two_hop_plan(0.002))
    # Through queues the cumulative-work recursion rounds the last bit differently per window
    # (docs/model.md, "Windows"); every fate is identical.
    np.testing.assert_allclose(sessions[0].rtts, sessions[1].rtts, rtol=0, atol=1e-12)
    assert sessions[0].lost == sessions[1].lost and len(sessions[0].rtts) > 30
    for name in ("ping", "ping/feedback", "cross"):
        ra, rb = a.packets.of_stream(name), b.packets.of_stream(name)
        np.testing.assert_array_equal(a.packets.seq[ra], b.packets.seq[rb])
        np.testing.assert_array_equal(a.packets.fate[ra], b.packets.fate[rb])
        np.testing.assert_allclose(
            a.packets.t_recv_s[ra], b.packets.t_recv_s[rb], rtol=0, atol=1e-12
        )
    # A ping that met no cross traffic: 0.8 ms on a, 0.4 ms on b, 10 ms; 0.48 + 0.48 + 10 ms.
    floor = 0.0008 + 0.0004 + 0.010 + 0.00048 + 0.00048 + 0.010 + 2 * ENDPOINT_DELAY_S
    assert min(sessions[0].rtts) == pytest.approx(floor, abs=1e-12)
    assert all(rtt >= floor - 1e-12 for rtt in sessions[0].rtts)
