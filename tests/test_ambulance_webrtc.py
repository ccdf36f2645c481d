"""The ambulance's streams as WebRTC: which transports, which budgets, and when not."""

from __future__ import annotations

import math

import pytest

from netsim import load_scenario_text, run
from netsim.errors import ScenarioError

from .test_ambulance import BASE, scenario


def _by_name(plan):
    return {s.name: s for s in plan.streams}


def test_single_policy_sends_webrtc_sessions():
    plan = scenario("single").plan
    streams = _by_name(plan)
    assert streams["video"].transport.kind == "webrtc-video"
    assert streams["voice"].transport.kind == "webrtc-audio"
    assert streams["vitals"].transport.kind == "datachannel"
    assert streams["vitals"].transport.channel.reliable
    assert streams["vitals"].transport.channel.ordered
    # The encoder starts at and never exceeds the camera preset's payload bit rate.
    video = streams["video"].transport.video
    assert video.bitrate_bps == video.max_bitrate_bps
    assert video.preset == "1080p30-h264"
    # The ambulance models the uplink only: feedback takes the ideal mirror.
    assert all(s.transport.feedback_path == () for s in plan.streams if s.transport)


def test_budgets_judge_messages_and_mouth_to_ear():
    plan = scenario("single").plan
    metrics = {(b.stream, b.metric) for b in plan.budgets}
    assert ("vitals", "message_latency") in metrics and ("vitals", "message_loss") in metrics
    assert ("vitals", "latency") not in metrics
    assert ("voice", "frame_latency") in metrics and ("voice", "latency") not in metrics
    assert ("video", "latency") in metrics  # cited as one-way network figures


@pytest.mark.parametrize("policy", ["duplicate", "failover"])
def test_redundant_policies_stay_packets(policy):
    plan = scenario(policy).plan
    assert all(s.transport is None for s in plan.streams)


def test_transport_packets_turns_sessions_off():
    text = BASE.replace("  policy: POLICY", "  policy: single\n  transport: packets")
    plan = load_scenario_text(text).plan
    assert all(s.transport is None for s in plan.streams)


def test_webrtc_with_duplicate_is_refused_with_its_line():
    text = BASE.replace("  policy: POLICY", "  policy: duplicate\n  transport: webrtc")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "amb.yaml")
    assert "transport webrtc needs policy single" in str(info.value)
    assert info.value.line is not None


def test_a_short_run_reports_frames_and_messages():
    results = run(scenario("single").plan, duration_s=5.0)
    doc = results.to_dict()
    video = doc["streams"]["video"]["webrtc"]
    assert video["unit"] == "frame" and video["units"] == 150  # 5 s at 30 fps
    assert video["stats"]["framesEncoded"] == 150
    vitals = doc["streams"]["vitals"]["webrtc"]
    assert vitals["unit"] == "message" and vitals["units"] >= 4
    assert all(not math.isnan(b["value"]) for b in doc["budgets"] if b["value"] is not None)
