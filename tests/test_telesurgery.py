"""The telesurgery workload end to end: topology, the loop on deterministic links, watchdog,
distance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from netsim import load_scenario_text, run
from netsim.errors import ScenarioError
from netsim.workloads import discover

from .test_cli import medlink, write

FIXED = """\
name: ts
duration: 20s
telesurgery:
  console: {access: {capacity: 1Gbps, delay: 2ms}}
  patient: {access: {capacity: 1Gbps, delay: 3ms OUTAGES}}
  distance: DISTANCE
  audio: false
  loop: {actuation: 2ms, video_pipeline: 90ms, watchdog: 50ms}
"""


def scenario(distance="100km", outages="", transport="webrtc"):
    text = FIXED.replace("DISTANCE", distance).replace("OUTAGES", outages)
    text += f"  transport: {transport}\n"
    return load_scenario_text(text)


def run_metrics(sc):
    results = run(sc.plan)
    return results, sc.judge(results)["telesurgery"]


def test_topology_and_streams():
    """Access links each way at both sites, fibre each way; commands go console to robot."""
    plan = scenario().plan
    assert "telesurgery" in discover()
    assert set(plan.links) == {
        "console-up", "console-down", "patient-up", "patient-down",
        "wan-to-patient", "wan-to-console",
    }  # fmt: skip
    streams = {s.name: s.path for s in plan.streams}
    assert streams["commands"] == ("console-up", "wan-to-patient", "patient-down")
    back = ("patient-up", "wan-to-console", "console-down")
    assert streams["haptics"] == streams["video"] == back
    assert plan.streams[0].rate_pps == 1000.0


def test_distance_adds_the_expected_propagation():
    """1000 km more of fibre adds 1000 km x 2.1 x 4.9 us/km = 10.29 ms to every command."""
    near, _ = run_metrics(scenario("100km"))
    far, _ = run_metrics(scenario("1100km"))
    commands = far.streams["commands"], near.streams["commands"]
    extra_ms = commands[0].latency_ms["p50"] - commands[1].latency_ms["p50"]
    assert extra_ms == pytest.approx(1000e3 * 2.1 * 4.9e-9 * 1e3, abs=1e-6)


def test_loop_decomposes_into_its_parts_on_deterministic_links():
    """Constant delays: every haptic round trip is command one-way + wait for the next
    feedback tick (< 1 ms) + feedback one-way; motion-to-photon is command one-way +
    actuation + frame wait + frame serialisation + video one-way + pipeline, so it lies in
    [sum, sum + 2 frame intervals) with the frame wait and the frame's spread."""
    sc = scenario("100km", transport="packets")
    results, loop = run_metrics(sc)
    # delays + fibre propagation + serialisation of a 221 B command at 1 Gbit/s on 3 hops
    one_way_ms = 2.0 + 100e3 * 2.1 * 4.9e-9 * 1e3 + 3.0 + 3 * 221 * 8 / 1e9 * 1e3
    # The video's RTCP feedback and the console's audio share the commands' path now: a
    # command may wait behind a few of their packets (at most 50 us at 1 Gbit/s).
    commands = results.streams["commands"].latency_ms
    assert commands["p50"] == pytest.approx(one_way_ms, abs=1e-3)
    assert one_way_ms - 1e-6 <= commands["max"] <= one_way_ms + 0.05
    rtt = loop["haptic_round_trip_ms"]
    # Feedback shares the return links with the video: it may wait behind a few 1250 B video
    # packets at 1 Gbit/s (10 us each); 50 us covers five.
    assert 2 * one_way_ms - 1e-6 <= rtt["p50"] <= rtt["max"] <= 2 * one_way_ms + 1.0 + 0.05
    mtp = loop["motion_to_photon_ms"]
    base = one_way_ms + 2.0 + one_way_ms + 90.0
    assert base - 1e-6 <= mtp["p50"] and mtp["max"] <= base + 2 * 1000 / 30 + 1e-6
    assert loop["watchdog"]["holds"] == 0 and loop["commands_stale_discarded"] == 0
    assert loop["grade"]["haptic_round_trip"] == "ideal"


def test_webrtc_motion_to_photon_is_the_rendered_frame_on_deterministic_links():
    """With WebRTC video the surgeon sees the motion when the frame is rendered: MTP is
    command one-way + actuation + frame wait + glass-to-glass + pipeline, and glass-to-glass
    is at least the video's one-way delay plus the 10 ms render delay."""
    from netsim.webrtc.video import RENDER_DELAY_S

    sc = scenario("100km")
    results, loop = run_metrics(sc)
    one_way_ms = 2.0 + 100e3 * 2.1 * 4.9e-9 * 1e3 + 3.0
    parts = loop["motion_to_photon_breakdown_ms"]
    assert parts["frame_serialisation"] == pytest.approx(0.0, abs=1e-9)
    assert parts["video_one_way"] >= one_way_ms + RENDER_DELAY_S * 1e3
    assert sum(parts.values()) == pytest.approx(loop["motion_to_photon_ms"]["mean"], rel=1e-9)
    video = results.to_dict()["streams"]["video"]["webrtc"]
    assert video["units"] == 600 and video["stats"]["freezeCount"] == 0
    # glass-to-glass of the frames is the decomposition's video part, on average
    assert video["latency_ms"]["p50"] >= one_way_ms + RENDER_DELAY_S * 1e3


def test_watchdog_holds_exactly_when_the_gap_exceeds_its_threshold():
    """An outage of 200 ms on the robot's downlink: no command arrives for 200 ms, so the
    robot holds once, from 50 ms after the last arrival until the first one after."""
    sc = scenario("100km", outages=", outages: [{start: 5s, duration: 200ms}]")
    _, loop = run_metrics(sc)
    assert loop["watchdog"]["holds"] == 1
    assert loop["watchdog"]["total_s"] == pytest.approx(0.200 - 0.050, abs=1.001e-3)
    short = scenario("100km", outages=", outages: [{start: 5s, duration: 40ms}]")
    _, loop = run_metrics(short)
    assert loop["watchdog"]["holds"] == 0


def test_loop_budgets_join_the_verdict(tmp_path, capsys):
    """The loops' p99s are budgets of stream 'loop' in results.json and the terminal table."""
    path = write(tmp_path, FIXED.replace("DISTANCE", "100km").replace("OUTAGES", ""), "ts.yaml")
    code, stdout, _ = medlink(capsys, "run", path, "--out", tmp_path / "o", "--no-report")
    document = json.loads((tmp_path / "o" / "results.json").read_text())
    loop = [b for b in document["budgets"] if b["stream"] == "loop"]
    assert {b["metric"] for b in loop} == {"motion_to_photon_p99", "haptic_round_trip_p99"}
    assert all(b["source"] for b in loop)
    assert "motion_to_photon_p99" in stdout
    assert code == (0 if document["pass"] else 1)
    grade = document["workloads"]["telesurgery"]["grade"]["motion_to_photon"]
    assert grade in ("ideal", "acceptable", "unsafe")


def test_edge_node_splits_the_path():
    """An edge node 50 km from the patient with 5 ms processing: commands gain 5 ms and the
    serialisation on the extra fibre hop (the fibre's length is unchanged)."""
    text = FIXED.replace("DISTANCE", "1000km").replace("OUTAGES", "")
    plain = run(load_scenario_text(text).plan).streams["commands"].latency_ms["p50"]
    edged = text.replace("  audio: false\n", "  audio: false\n  edge: {distance_from_patient: "
                         "50km, processing: 5ms}\n")  # fmt: skip
    sc = load_scenario_text(edged)
    assert "edge-to-patient" in sc.plan.links
    serialise_ms = 221 * 8 / 1e9 * 1e3  # one more 1 Gbit/s fibre hop for a 221 B command
    latency = run(sc.plan).streams["commands"].latency_ms["p50"]
    assert latency == pytest.approx(plain + 5.0 + serialise_ms, abs=1e-6)


def test_section_errors_name_line_and_field():
    text = (
        FIXED.replace("DISTANCE", "100km")
        .replace("OUTAGES", "")
        .replace("video_pipeline", "video_pipline")
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "ts.yaml")
    assert info.value.line == 8 and "did you mean 'video_pipeline'" in info.value.message
    bad_access = (
        FIXED.replace("DISTANCE", "100km")
        .replace("OUTAGES", "")
        .replace("{capacity: 1Gbps, delay: 2ms}", "{profile: 5g-sax}")
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(bad_access, "ts.yaml")
    assert info.value.line == 4 and "unknown profile '5g-sax'" in info.value.message
    assert np.isfinite(info.value.line)


def test_loop_breakdown_adds_up_and_is_drawn(tmp_path):
    """The mean parts add up to the mean motion-to-photon; the report draws them."""
    from netsim.files import results_document
    from netsim.plots import all_figures

    sc = scenario("100km")
    results = run(sc.plan)
    loop = sc.judge(results)["telesurgery"]
    parts = loop["motion_to_photon_breakdown_ms"]
    assert sum(parts.values()) == pytest.approx(loop["motion_to_photon_ms"]["mean"], rel=1e-9)
    assert parts["video_pipeline"] == pytest.approx(90.0)
    document = results_document(results)
    document["workloads"] = {"telesurgery": loop}
    assert "loop-breakdown" in [key for key, _, _ in all_figures(document)]


def test_check_annotates_a_failing_loop_budget_on_the_file(tmp_path, capsys):
    """Under GitHub Actions, a failed loop budget (no line of its own) is annotated on the file."""
    from netsim.check import check_main

    text = (
        FIXED.replace("DISTANCE", "100km")
        .replace("OUTAGES", "")
        .replace("video_pipeline: 90ms", "video_pipeline: 400ms")
    )
    path = write(tmp_path, text, "ts.yaml")
    env = {"GITHUB_ACTIONS": "true"}
    code = check_main([path], env=env)
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert any(
        line.startswith("::error file=") and "motion_to_photon_p99" in line and ",line=" not in line
        for line in captured.out.splitlines()
    ), captured.out


def test_removing_a_budget_that_is_not_there_is_a_one_line_error():
    """budgets: {commands: {throughput: null}}: there is no such default to remove."""
    text = (
        FIXED.replace("DISTANCE", "100km")
        .replace("OUTAGES", "")
        .replace("  audio: false\n", "  audio: false\n  budgets: {commands: {throughput: null}}\n")
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "ts.yaml")
    assert info.value.field == "telesurgery.budgets.commands.throughput"
    assert "no 'throughput' budget to remove for commands" in info.value.message
