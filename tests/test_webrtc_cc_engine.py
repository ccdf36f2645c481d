"""GCC through the engine: the video session adapts to a capacity step down and back up.

The controller's own harness (tests/test_webrtc_gcc.py) derives the settle times from its
state; here the same controller runs closed-loop through the engine's link (a FIFO with a
rate schedule) with its feedback on a real reverse link, and the checks are what a planner
reads: the target falls under the new capacity at once, the queue drains, and the target
climbs back after the step up. docs/webrtc.md compares the times with libwebrtc's.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from netsim.capacity import RateSchedule
from netsim.engine import simulate
from netsim.plan import LinkSpec, NetworkPlan, SizeModel, StreamSpec, TransportSpec
from netsim.webrtc.frames import VIDEO_PRESETS
from netsim.webrtc.gcc import BETA

STEP_DOWN_S, STEP_UP_S = 20.0, 40.0
HIGH, LOW = 10e6, 4e6
BASE_S = 0.020


@pytest.fixture(scope="module")
def run():
    video = dataclasses.replace(
        VIDEO_PRESETS["1080p30-h264"], bitrate_bps=3e6, max_bitrate_bps=12e6, gop_s=100.0
    )
    curve = RateSchedule(np.array([0.0, STEP_DOWN_S, STEP_UP_S]), np.array([HIGH, LOW, HIGH]))
    links = {
        "up": LinkSpec("up", capacity_bps=HIGH, delay_s=BASE_S, curve=curve),
        "down": LinkSpec("down", capacity_bps=HIGH, delay_s=BASE_S),
    }
    transport = TransportSpec(
        kind="webrtc-video", video=video, feedback_path=("down",), feedback_stream="v/feedback"
    )
    streams = (
        StreamSpec("v", "cbr", 1000.0, SizeModel(), ("up",), transport=transport),
        StreamSpec("v/feedback", "feedback", 20.0, SizeModel(), ("down",)),
    )
    sim = simulate(NetworkPlan("cc-step", 75.0, links, streams, drain_s=2.0))
    report = sim.transport["v"]
    t, target = report.series["target_bitrate_bps"]
    rows = sim.packets.of_stream("v")
    sent, recv = sim.packets.t_send_s[rows], sim.packets.t_recv_s[rows]
    return t, target, sent, recv - sent


def _target_at(t, target, when):
    return target[np.searchsorted(t, when, side="right") - 1]


def test_before_the_step_the_target_finds_the_capacity(run):
    t, target, _, _ = run
    window = (t > 15.0) & (t < STEP_DOWN_S)
    # The delay-based controller probes a little past capacity, sees the queue grow, and
    # backs off to BETA times the acknowledged rate.
    assert target[t < STEP_DOWN_S].max() <= 1.1 * HIGH
    assert target[window].min() >= BETA * 0.95 * HIGH


def test_step_down_the_target_falls_under_the_new_capacity_within_two_seconds(run):
    t, target, _, _ = run
    after = (t > STEP_DOWN_S + 2.0) & (t < STEP_UP_S)
    assert target[after].max() < LOW
    # A decrease sets the target to BETA times the acknowledged rate, itself at most LOW.
    assert _target_at(t, target, STEP_DOWN_S + 2.0) <= BETA * LOW * 1.01


def test_step_down_the_queue_drains(run):
    _, _, sent, latency = run
    settled = (sent > STEP_DOWN_S + 5.0) & (sent < STEP_UP_S) & np.isfinite(latency)
    # Base delay plus one 1250-byte packet at 4 Mbit/s is 22.5 ms; a drained queue keeps the
    # 95th percentile within a frame's burst of that.
    assert np.percentile(latency[settled], 95) < BASE_S + 0.1
    spike = (sent > STEP_DOWN_S) & (sent < STEP_DOWN_S + 2.0) & np.isfinite(latency)
    assert latency[spike].max() > BASE_S + 0.1  # the step down did queue packets


def test_step_up_the_target_climbs_back(run):
    t, target, _, _ = run
    before = _target_at(t, target, STEP_UP_S)
    assert before < LOW
    assert _target_at(t, target, STEP_UP_S + 30.0) >= 0.85 * HIGH
    climbing = (t > STEP_UP_S) & (t < STEP_UP_S + 20.0)
    assert np.all(target[climbing] <= HIGH)
