"""Telesurgery stream presets and budgets: bit rates by hand, grade boundaries, sources.

The expected numbers are typed again here from the header sizes and published figures, not
taken from telesurgery/streams.py, so that a slip in either place shows up.
"""

from __future__ import annotations

import math

import pytest

from netsim.plan import BudgetSpec, StreamSpec
from netsim.profiles import MARKS
from telesurgery.budgets import (
    DEFAULTS,
    GRADE_TABLES,
    GRADES,
    HAPTIC_GRADES,
    STREAMS,
    VIDEO_PIPELINE,
    apply_overrides,
    default_budgets,
    grade,
)
from telesurgery.streams import PRESETS, stream_spec

# IPv4 20 + UDP 8 + DTLS 1.2 record 13 + AES-GCM nonce 8 + tag 16 + SCTP 12 + DATA chunk 16.
DATACHANNEL_OVERHEAD = 20 + 8 + 13 + 8 + 16 + 12 + 16
# IPv4 20 + UDP 8 + RTP 12 + SRTP tag 10 (AES_CM_128_HMAC_SHA1_80).
SRTP_OVERHEAD = 20 + 8 + 12 + 10


def test_commands_and_haptics_by_hand():
    """2 arms x (6 DoF + gripper) x 8 B + 16 B header = 128 B at 1 kHz: 221 B, 1.768 Mbit/s."""
    payload = 2 * (6 + 1) * 8 + 16
    assert payload == 128 and payload % 4 == 0  # no SCTP padding
    for name, direction in (("commands", "to_robot"), ("haptics", "to_console")):
        preset = PRESETS[name]
        assert preset.payload_bytes == payload
        assert preset.size.mean() == payload + DATACHANNEL_OVERHEAD == 221
        assert preset.rate_pps == 1000.0 and preset.kind == "cbr"
        assert preset.bit_rate_bps == pytest.approx(1000 * 221 * 8)  # 1.768 Mbit/s
        assert preset.payload_bit_rate_bps == pytest.approx(1.024e6)
        # Inside TR 22.847's 16 kbit/s - 2 Mbit/s raw haptic rate.
        assert 16e3 <= preset.payload_bit_rate_bps <= 2e6
        assert preset.transport == "datachannel" and preset.direction == direction
        assert preset.stream == name


def test_stereo_video_by_hand():
    """Two eyes at 40 (4K30) or 60 (4K60) Mbit/s in 1200 B payloads, 1250 B on the wire."""
    for name, per_eye in (("video_stereo_4k30", 40e6), ("video_stereo_4k60", 60e6)):
        video = PRESETS[name]
        assert video.payload_bit_rate_bps == pytest.approx(2 * per_eye)
        assert video.rate_pps == pytest.approx(2 * per_eye / (8 * 1200))
        assert video.size.mean() == 1200 + SRTP_OVERHEAD
        assert video.bit_rate_bps == pytest.approx(2 * per_eye / (8 * 1200) * 1250 * 8)
        assert video.kind == "poisson" and video.direction == "to_console"
        assert video.stream == "video"
    assert PRESETS["video_stereo_4k30"].bit_rate_bps == pytest.approx(83_333_333.3, rel=1e-9)
    assert PRESETS["video_stereo_4k60"].bit_rate_bps == pytest.approx(125e6)


def test_audio_both_ways_by_hand():
    """Opus 32 kbit/s, 20 ms frames: 50 packets/s of 80 + 50 B, 52 kbit/s, one per direction."""
    directions = set()
    for name in ("audio_console", "audio_robot"):
        audio = PRESETS[name]
        assert audio.rate_pps == pytest.approx(50.0)
        assert audio.payload_bytes == pytest.approx(32_000 * 0.020 / 8) == 80
        assert audio.bit_rate_bps == pytest.approx(50 * (80 + SRTP_OVERHEAD) * 8)
        directions.add(audio.direction)
    assert directions == {"to_robot", "to_console"}
    assert PRESETS["audio_console"].stream == "audio-console"
    assert PRESETS["audio_robot"].stream == "audio-robot"


def test_every_preset_has_sourced_figures_and_a_budgeted_stream():
    for name, preset in PRESETS.items():
        assert preset.name == name and preset.figures
        for figure in preset.figures:
            assert figure.source.strip() and figure.mark in MARKS
        assert preset.stream in STREAMS
        assert preset.bit_rate_bps > preset.payload_bit_rate_bps > 0


def test_stream_spec_defaults_to_the_budgeted_name():
    preset = PRESETS["commands"]
    spec = stream_spec(preset, ["console-access", "wan", "patient-access"], stop_s=30.0)
    assert isinstance(spec, StreamSpec) and spec.name == "commands"
    assert (spec.kind, spec.rate_pps, spec.size) == ("cbr", 1000.0, preset.size)
    assert spec.path == ("console-access", "wan", "patient-access") and spec.stop_s == 30.0
    assert stream_spec(preset, ["x"], name="cmd-copy").name == "cmd-copy"
    with pytest.raises(ValueError):
        stream_spec(preset, [])


@pytest.mark.parametrize(
    ("delay_s", "expected"),
    [
        (0.0, "ideal"),
        (0.100, "ideal"),
        (0.100001, "acceptable"),
        (0.300, "acceptable"),
        (0.2 + 0.1, "acceptable"),  # 0.30000000000000004: a tie, not unsafe
        (0.300001, "unsafe"),
        (2.0, "unsafe"),
        (math.inf, "unsafe"),
    ],
)
def test_motion_to_photon_grade_boundaries(delay_s, expected):
    """Inclusive thresholds: <= 100 ms ideal, <= 300 ms acceptable, else unsafe."""
    assert grade(delay_s) == expected


def test_haptic_grade_boundaries_and_bad_input():
    """Haptic round trip: <= 40 ms ideal, <= 200 ms acceptable, else unsafe."""
    assert grade(0.040, loop="haptic-rtt") == "ideal"
    assert grade(0.040001, loop="haptic-rtt") == "acceptable"
    assert grade(0.200, loop="haptic-rtt") == "acceptable"
    assert grade(0.200001, loop="haptic-rtt") == "unsafe"
    with pytest.raises(ValueError):
        grade(float("nan"))
    with pytest.raises(ValueError):
        grade(-0.001)
    with pytest.raises(ValueError):
        grade(0.1, loop="video")


def test_grade_tables_are_sourced_and_ordered():
    assert [g.upper_s for g in GRADES] == [0.100, 0.300, math.inf]
    assert [g.upper_s for g in HAPTIC_GRADES] == [0.040, 0.200, math.inf]
    for table in GRADE_TABLES.values():
        assert [g.label for g in table] == ["ideal", "acceptable", "unsafe"]
        for step in table:
            assert step.figures and step.note.strip()
            assert all(f.source.strip() and f.mark in MARKS for f in step.figures)
            assert step.source.endswith("]")
    assert "Nankaku" in GRADES[0].source and "Xu" in GRADES[1].source
    assert VIDEO_PIPELINE.value == pytest.approx(0.092 - 0.004 / 2)
    assert VIDEO_PIPELINE.mark == "derived" and "Hakamada" in VIDEO_PIPELINE.source


def test_default_budgets_every_stream_sourced_and_marked():
    specs = default_budgets()
    assert all(isinstance(s, BudgetSpec) for s in specs)
    assert {s.stream for s in specs} == set(STREAMS) == set(DEFAULTS)
    assert len(specs) == sum(len(b) for b in DEFAULTS.values())
    for spec in specs:
        assert spec.source.strip()
        mark = spec.source.rsplit("[", 1)[1].rstrip("]")
        assert mark in MARKS
    for budgets in DEFAULTS.values():
        assert all(b.source.strip() and b.mark in MARKS and b.note.strip() for b in budgets)
    commands = {s.metric_name: s.limit for s in specs if s.stream == "commands"}
    assert commands == {"latency_p99": 0.100, "loss_rate": 1e-4, "jitter": 0.010}
    video = {s.metric_name: s.limit for s in specs if s.stream == "video"}
    assert video == {"latency_p99": 0.250, "loss_rate": 1e-3, "jitter": 0.030}
    only = default_budgets(["commands", "video"])
    assert {s.stream for s in only} == {"commands", "video"}
    with pytest.raises(ValueError):
        default_budgets(["robot-arm"])


def test_overrides_replace_exactly_the_named_limits():
    before = {stream: list(budgets) for stream, budgets in DEFAULTS.items()}
    table = apply_overrides(
        DEFAULTS,
        {
            "haptics": {"latency_p99": 0.020},
            "video": {"jitter": None},
            "commands": {"throughput": 1e6},
        },
    )
    assert DEFAULTS == before
    haptics = {b.key: b for b in table["haptics"]}
    assert haptics["latency_p99"].limit == 0.020
    assert (
        "override" in haptics["latency_p99"].source and haptics["latency_p99"].mark == "assumption"
    )
    assert haptics["loss_rate"] == next(b for b in DEFAULTS["haptics"] if b.key == "loss_rate")
    assert "jitter" not in {b.key for b in table["video"]}
    assert table["commands"][:-1] == DEFAULTS["commands"]
    assert table["commands"][-1].key == "throughput" and table["commands"][-1].limit == 1e6
    for stream in ("audio-console", "audio-robot"):
        assert table[stream] == DEFAULTS[stream]
    specs = default_budgets(defaults=table)
    assert any(s.stream == "haptics" and s.limit == 0.020 for s in specs)
    with pytest.raises(ValueError):
        apply_overrides(DEFAULTS, {"robot": {"loss_rate": 0.1}})
    with pytest.raises(ValueError):
        apply_overrides(DEFAULTS, {"video": {"latency_x": 0.1}})
