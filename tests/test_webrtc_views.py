"""WebRTC in the views: results.json's per-stream section and series, the figure, the table."""

from __future__ import annotations

import json

import numpy as np

from netsim.plots_time import webrtc_over_time

from .test_cli import medlink, write

SCENARIO = """\
name: wr
duration: 6s
network:
  links:
    up: {capacity: 20Mbps, delay: 20ms, loss: 1%}
    down: {capacity: 20Mbps, delay: 20ms}
streams:
  - name: cam
    transport: webrtc-video
    video: {preset: 1080p30-h264, bitrate: 4Mbps}
    path: [up]
    feedback: [down]
  - name: vitals
    transport: datachannel
    type: cbr
    packet_size: 300B
    rate: 50pps
    path: [up]
budgets:
  - {stream: cam, frame_latency: 400ms, max_freezes: 5}
  - {stream: vitals, message_latency: 300ms, max_message_loss: 0%}
"""


def test_results_json_holds_the_webrtc_sections_and_the_figure_draws(tmp_path, capsys):
    path = write(tmp_path, SCENARIO, "wr.yaml")
    code, stdout, _ = medlink(capsys, "run", path, "--out", tmp_path / "o")
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    cam = doc["streams"]["cam"]["webrtc"]
    assert cam["kind"] == "webrtc-video" and cam["units"] == 180  # 6 s at 30 fps
    assert cam["stats"]["framesEncoded"] == 180
    assert cam["units_arrived"] == cam["stats"]["framesRendered"]
    assert "cam/feedback" in doc["streams"]  # the RTCP stream on the real reverse link
    vitals = doc["streams"]["vitals"]["webrtc"]
    assert vitals["units"] == 300 and vitals["units_arrived"] == 300  # reliable: all arrive
    metrics = {b["metric"]: b for b in doc["budgets"]}
    assert set(metrics) == {
        "frame_latency_p99",
        "freeze_count",
        "message_latency_p99",
        "message_loss",
    }
    assert metrics["message_loss"]["value"] == 0.0 and metrics["message_loss"]["pass"]
    assert metrics["freeze_count"]["value"] == cam["stats"]["freezeCount"]
    series = doc["series"]["webrtc"]
    n_bins = len(doc["series"]["t_s"])
    assert len(series["cam"]["target_mbps"]) == n_bins
    assert sum(series["cam"]["units"]) == 180 and sum(series["vitals"]["arrived"]) == 300
    assert np.nanmax(np.array(series["cam"]["target_mbps"], dtype=float)) <= 8.0
    assert webrtc_over_time(doc) is not None
    report = (tmp_path / "o" / "report.html").read_text()
    assert 'id="fig-webrtc-over-time"' in report and 'id="webrtc"' in report
    assert "freezes" in report and "reliable-ordered" in report
    assert "webrtc" in stdout and "reliable-ordered" in stdout
    assert code in (0, 1)


def test_without_webrtc_streams_there_is_no_webrtc_figure():
    assert webrtc_over_time({"series": {"t_s": [0.0], "bin_s": 1.0, "streams": {}}}) is None
