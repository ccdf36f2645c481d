"""Ambulance payload presets and default budgets: bit rates by hand, sources, overrides.

The expected numbers are typed again here from the header sizes and published figures, not
taken from ambulance/payload.py, so that a slip in either place shows up.
"""

from __future__ import annotations

import math

import pytest

from ambulance.budgets import DEFAULTS, ROLES, BudgetDefault, apply_overrides, default_budgets
from ambulance.payload import PRESETS, ecg_preset, overhead_bytes, stream_spec
from netsim.plan import BudgetSpec, StreamSpec
from netsim.profiles import MARKS

# IPv4 20 + UDP 8 + DTLS 1.2 record 13 + AES-GCM nonce 8 + tag 16 + SCTP 12 + DATA chunk 16.
DATACHANNEL_OVERHEAD = 20 + 8 + 13 + 8 + 16 + 12 + 16
# IPv4 20 + UDP 8 + RTP 12 + SRTP tag 10 (AES_CM_128_HMAC_SHA1_80).
SRTP_OVERHEAD = 20 + 8 + 12 + 10


def test_overheads_by_hand():
    """93 B per data-channel message (plus padding, +4 with I-DATA), 50 B per SRTP packet."""
    assert DATACHANNEL_OVERHEAD == 93 and SRTP_OVERHEAD == 50
    assert overhead_bytes("datachannel", 480) == 93
    assert overhead_bytes("datachannel", 481) == 93 + 3  # SCTP pads chunks to 4 bytes
    assert overhead_bytes("datachannel", 480, i_data=True) == 97
    assert overhead_bytes("rtp-video") == overhead_bytes("rtp-audio") == 50
    with pytest.raises(ValueError):
        overhead_bytes("quic")


def test_ecg12_rates_by_hand():
    """12 leads x 500 Hz x 16 bit = 96 kbit/s; 40 ms batches: 25 msg/s of 12 x 20 x 2 = 480 B."""
    ecg = PRESETS["ecg12"]
    assert 12 * 500 * 16 == 96_000
    assert ecg.payload_bit_rate_bps == pytest.approx(96_000)
    assert ecg.rate_pps == pytest.approx(25.0)
    assert ecg.payload_bytes == 12 * 20 * 2 == 480
    assert ecg.kind == "cbr" and ecg.transport == "datachannel" and ecg.critical
    assert ecg.bit_rate_bps == pytest.approx(25 * (480 + 93) * 8)  # 114,600 bit/s
    assert ecg_preset().rate_pps == ecg.rate_pps


def test_ecg_variants():
    """MIT-BIH 2 leads, 360 Hz, 11-bit in 2-byte samples, 50 ms batches: 18 samples, 72 B."""
    ecg2 = PRESETS["ecg2_ambulatory"]
    assert ecg2.rate_pps == pytest.approx(20.0)
    assert ecg2.payload_bytes == 2 * 18 * 2
    assert ecg2.bit_rate_bps == pytest.approx(20 * (72 + 93) * 8)
    with pytest.raises(ValueError, match="whole number"):
        ecg_preset(leads=2, rate_hz=360, bits=11, batch_s=0.04)  # 14.4 samples


def test_video_rates_by_hand():
    """4K30 at 40 Mbit/s in 1200 B payloads: 40e6 / 9600 packets/s of 1250 B on the wire."""
    cam = PRESETS["camera_4k30"]
    assert cam.rate_pps == pytest.approx(40e6 / (8 * 1200))
    assert cam.size.mean() == 1200 + 50
    assert cam.bit_rate_bps == pytest.approx(40e6 / (8 * 1200) * 1250 * 8)
    assert cam.bit_rate_bps >= 40e6
    assert cam.kind == "poisson" and not cam.critical
    assert PRESETS["camera_1080p30"].payload_bit_rate_bps == pytest.approx(8e6)
    assert PRESETS["camera_4k60"].payload_bit_rate_bps == pytest.approx(60e6)


def test_voice_by_hand():
    """Opus 32 kbit/s in 20 ms frames: 50 packets/s of 80 B payload, 130 B on the wire."""
    voice = PRESETS["voice"]
    assert voice.rate_pps == pytest.approx(50.0)
    assert voice.payload_bytes == pytest.approx(32_000 * 0.020 / 8) == 80
    assert voice.bit_rate_bps == pytest.approx(50 * 130 * 8)


def test_every_preset_has_sourced_figures():
    """Each preset names at least one figure, each with a source and a known mark."""
    expected = {"monitor", "ecg12", "camera_1080p30", "camera_4k30", "camera_4k60", "voice"}
    assert expected | {"edge_ai"} <= set(PRESETS)
    for name, preset in PRESETS.items():
        assert preset.name == name and preset.figures
        for figure in preset.figures:
            assert figure.source.strip() and figure.mark in MARKS
        assert preset.bit_rate_bps > preset.payload_bit_rate_bps > 0


def test_stream_spec_keeps_preset_and_path():
    """stream_spec copies kind, rate and on-wire size and uses the path given."""
    preset = PRESETS["monitor"]
    spec = stream_spec(preset, "vitals", ["amb-up", "core"], stop_s=60.0)
    assert isinstance(spec, StreamSpec)
    assert spec.path == ("amb-up", "core") and spec.name == "vitals"
    assert (spec.kind, spec.rate_pps, spec.size) == ("cbr", 1.0, preset.size)
    assert spec.stop_s == 60.0 and math.isclose(spec.size.mean(), 200 + 93)
    with pytest.raises(ValueError):
        stream_spec(preset, "vitals", [])


def test_default_budgets_one_list_per_role_all_sourced():
    """Every role has its list; every BudgetSpec names its source and mark."""
    assert set(DEFAULTS) == set(ROLES)
    names = {"vitals": "monitor", "ecg": "ecg", "video": ["cam1", "cam2"], "voice": "voice"}
    specs = default_budgets(names)
    assert all(isinstance(s, BudgetSpec) for s in specs)
    assert all(s.source.strip() and s.source.endswith("]") for s in specs)
    per_stream = {s.stream for s in specs}
    assert per_stream == {"monitor", "ecg", "cam1", "cam2", "voice"}
    assert len(specs) == sum(len(DEFAULTS[r]) for r in ROLES) + len(DEFAULTS["video"])
    video = {s.metric_name: s.limit for s in specs if s.stream == "cam1"}
    assert video == {"latency_p98": 0.150, "loss_rate": 0.01, "jitter": 0.030}
    with pytest.raises(ValueError):
        default_budgets({"haptics": "h"})


def test_overrides_replace_exactly_the_named_limits():
    """Named limits change (or go, or are added); all others, and DEFAULTS, stay as they were."""
    before = {role: list(budgets) for role, budgets in DEFAULTS.items()}
    table = apply_overrides(
        DEFAULTS,
        {"video": {"loss_rate": 1e-3, "jitter": None}, "voice": {"latency_p50": 0.05}},
    )
    assert DEFAULTS == before
    video = {b.key: b for b in table["video"]}
    assert set(video) == {"latency_p98", "loss_rate"}
    assert video["loss_rate"].limit == 1e-3 and "override" in video["loss_rate"].source
    assert video["latency_p98"] == DEFAULTS["video"][0]
    assert table["voice"][:-1] == DEFAULTS["voice"]
    assert table["voice"][-1] == BudgetDefault(
        "latency", 0.05, table["voice"][-1].source, "assumption", percentile=50.0
    )
    for role in ("vitals", "ecg"):
        assert table[role] == DEFAULTS[role]
    with pytest.raises(ValueError):
        apply_overrides(DEFAULTS, {"video": {"latency_x": 0.1}})
