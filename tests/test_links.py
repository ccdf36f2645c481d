"""Link realism end to end: profiles, radio along a route, handovers and outages in a run.

The pieces have their own tests (test_radio, test_handover, test_profiles, test_capacity);
these hold the assembled engine to the figures and counts they should produce:

- a profile's link, probed sparsely, shows the one-way delay percentiles it cites;
- a straight road past evenly spaced sites, without shadowing, gives one handover per cell
  border, reported in results.json with the interruption percentiles;
- packets wait out a handover (``buffer``) or are lost in it (``drop``) as configured;
- a coverage hole longer than the radio-link-failure time is an outage and loses packets.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtri

from netsim import load_scenario, load_scenario_text, run
from netsim.packetlog import DELIVERED, LOST
from netsim.profiles import PROFILES
from netsim.profiles_view import model_delay_quantile_s

from .test_cli import medlink, write

ROOT = Path(__file__).resolve().parent.parent

ROAD = """\
name: road
seed: 5
duration: DURATION
drain: 2s
network:
  links:
    up:
      direction: uplink
      radio:
        route: {length: 5km, speed: 72km/h}
        sites: SITES
        shadowing: false
        vehicle_penetration: false
        handover: HANDOVER
streams:
  - {name: probe, type: cbr, packet_size: 200B, rate: 200pps, path: [up]}
"""


def road(duration="250s", sites="{spacing: 500m, offset: 50m}", handover="{}"):
    text = ROAD.replace("DURATION", duration).replace("SITES", sites)
    return load_scenario_text(text.replace("HANDOVER", handover))


def test_profiles_command_lists_every_profile_with_sources(capsys):
    """`medlink profiles` shows each profile, its delay percentiles and its sources."""
    code, stdout, _ = medlink(capsys, "profiles")
    assert code == 0
    for name in PROFILES:
        assert f"\n{name}: " in f"\n{stdout}"
    assert stdout.count("sources:") == len(PROFILES)
    assert "[read]" in stdout and "Hassan" in stdout


def test_profiles_json_is_machine_readable(capsys):
    """`--json` gives every profile in SI units with its figures and their marks."""
    code, stdout, _ = medlink(capsys, "profiles", "--json")
    assert code == 0
    document = json.loads(stdout)
    assert list(document) == list(PROFILES)
    sa = document["5g-sa"]
    assert sa["uplink"]["capacity_bps"] == PROFILES["5g-sa"].uplink.capacity_bps
    assert all(f["source"] and f["mark"] for f in sa["figures"])


def test_profiles_unknown_name_is_an_input_error(capsys):
    code, _, stderr = medlink(capsys, "profiles", "5g-xx")
    assert code == 2 and "unknown profile '5g-xx'" in stderr and len(stderr.splitlines()) == 1


@pytest.mark.parametrize("name", ["4g-lte", "5g-nsa", "5g-sa", "wifi-5"])
def test_profile_link_shows_its_cited_delay_percentiles(name):
    """A sparse probe through a profile's link sees the fitted (cited) one-way percentiles.

    20 probes/s for 5000 s: 100,000 latencies, each from its own 20 ms delay slot. A
    sample quantile of n draws has standard error sqrt(p (1 - p) / n) / f(q), with f the
    lognormal density at q, f(q) = phi(z) / ((q - shift) sigma); the check allows 4.5 of them.
    """
    text = f"""\
name: probe-{name}
duration: 5000s
network:
  links:
    air: {{profile: {name}, direction: uplink}}
streams:
  - {{name: probe, type: cbr, packet_size: 100B, rate: 20pps, path: [air]}}
"""
    plan = load_scenario_text(text).plan
    result = run(plan, seed=11)
    probe = result.streams["probe"]
    side = PROFILES[name].uplink
    n = probe.packets_delivered
    for key, p in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        expected_s = model_delay_quantile_s(side.delay_s, side.jitter, p)
        z = float(ndtri(p))
        density = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
        density /= (expected_s - side.delay_s) * side.jitter.sigma
        se_ms = math.sqrt(p * (1 - p) / n) / density * 1e3
        expected_ms = (expected_s + 800 / side.capacity_bps) * 1e3
        assert se_ms < 0.05 * expected_ms, key
        assert abs(probe.latency_ms[key] - expected_ms) <= 4.5 * se_ms, key


def test_straight_road_gives_one_handover_per_cell_border(capsys, tmp_path):
    """10 sites, 500 m apart along a 5 km road, no shadowing: 9 handovers, reported."""
    scenario = road()
    result = run(scenario.plan)
    events = result.to_dict()["events"]["up"]
    assert events["handovers"] == 9
    assert events["handovers_per_min"] == pytest.approx(9 / (250 / 60))
    assert events["outages"] == 0
    # LTE interruptions by default (Hassan et al. 2022): 9 draws, medians near 34 ms.
    assert 15 < events["interruption_ms"]["p50"] < 70
    # The handovers happen near the cell borders (multiples of 500 m at 20 m/s).
    handover_t = [
        t for t, k in zip(result.events.t_s, result.events.kind, strict=True) if k == "handover"
    ]
    borders = np.arange(1, 10) * 500 / 20.0
    assert np.all(np.abs(np.array(handover_t) - borders) < 2.0)
    path = write(
        tmp_path,
        ROAD.replace("DURATION", "250s")
        .replace("SITES", "{spacing: 500m, offset: 50m}")
        .replace("HANDOVER", "{}"),
    )
    code, stdout, _ = medlink(capsys, "run", path, "--out", tmp_path / "out")
    assert code == 0
    assert re.search(r"^up\s+9\s+2\.16\s", stdout, re.M), stdout  # the events table
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["events"]["up"]["handovers"] == 9


def test_buffered_handover_delays_packets_and_loses_none():
    """With `during: buffer`, a 300 ms interruption holds packets back but loses none."""
    result = run(road(handover="{interruption: 300ms, during: buffer}").plan)
    probe = result.streams["probe"]
    assert probe.packets_lost == 0 and probe.packets_dropped == 0
    assert probe.latency_ms["max"] >= 290.0


def test_dropping_handover_loses_what_arrives_during_it():
    """With `during: drop`, the packets reaching the link in an interruption are lost.

    9 interruptions of 100 ms at 200 packets/s: 9 x 20 = 180 packets (one more or less per
    interruption, by where the CBR ticks fall).
    """
    result = run(road(handover="{interruption: 100ms, during: drop}").plan)
    fate = result.packets.fate
    assert abs(int(np.count_nonzero(fate == LOST)) - 180) <= 9
    assert result.to_dict()["events"]["up"]["interruption_total_s"] == pytest.approx(0.9)


def test_coverage_hole_is_an_outage_that_loses_packets():
    """Two sites 4 km apart at 3.5 GHz leave a hole mid-road: outages, and packets lost there.

    With the radio-link-failure time of 1 s, packets reaching the link from 1 s into the hole
    until coverage returns are lost; the rest of the hole they wait.
    """
    scenario = road(sites="[[0m, 50m], [5km, 50m]]", handover="{}")
    result = run(scenario.plan)
    events = result.to_dict()["events"]["up"]
    assert events["outages"] >= 1 and events["longest_outage_s"] > 5.0
    lost = result.packets.fate == LOST
    sent = result.packets.t_send_s
    assert lost.any()
    t = np.array(result.events.t_s)
    kind = np.array(result.events.kind)
    length = np.array(result.events.value)
    starts, ends = t[kind == "outage"], t[kind == "outage"] + length[kind == "outage"]
    inside = np.zeros(sent.size, dtype=bool)
    for a, b in zip(starts + 1.0, ends, strict=True):
        inside |= (sent >= a) & (sent < b)
    # Every lost packet was sent inside an outage, past its first second.
    assert inside[lost].all()
    assert (result.packets.fate[~inside] == DELIVERED).mean() > 0.99


def test_radio_runs_are_reproducible_and_seeded():
    """The same seed gives the same events and packets; another seed, other draws."""
    text = ROAD.replace("DURATION", "100s").replace("SITES", "{spacing: 400m}")
    plan = load_scenario_text(
        text.replace("shadowing: false", "shadowing: true").replace("HANDOVER", "{}")
    ).plan
    a, b, c = run(plan, seed=1), run(plan, seed=1), run(plan, seed=2)
    assert a.events.t_s == b.events.t_s and a.events.value == b.events.value
    np.testing.assert_array_equal(a.packets.t_recv_s, b.packets.t_recv_s)
    assert a.events.value != c.events.value


def test_readme_link_example_loads_and_runs(tmp_path):
    """The README's link example is a valid network (with a small trace made here)."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Realistic links.*?```yaml\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "TMobile-LTE-short.up").write_text("1\n2\n2\n5\n")
    names = re.findall(r"^    ([\w-]+):", block, re.M)
    streams = "\n".join(
        f"  - {{name: s-{n}, type: cbr, packet_size: 200B, rate: 50pps, path: [{n}]}}"
        for n in names
    )
    text = f"name: readme\nduration: 20s\n{block}streams:\n{streams}\n"
    path = tmp_path / "readme.yaml"
    path.write_text(text)
    plan = load_scenario(path).plan
    assert set(plan.links) == {"radio-up", "backhaul", "replay", "outage"}
    result = run(plan, duration_s=5.0)
    assert result.streams["s-replay"].packets_delivered > 0


def test_adding_a_site_changes_no_other_sites_fading():
    """Each site's shadowing is its own named draw: a far site added first changes nothing.

    Uplink (no interference term): if the shadowing followed the site's index, inserting a
    site at the front would reshuffle every other site's fading and change the SINR.
    """
    from netsim.radiolink import radio_trace

    spec = (
        load_scenario_text(
            ROAD.replace("DURATION", "100s")
            .replace("SITES", "{spacing: 500m}")
            .replace("shadowing: false", "shadowing: true")
            .replace("HANDOVER", "{}")
        )
        .plan.links["up"]
        .radio
    )
    far = dataclasses.replace(spec, sites_m=((0.0, 100_000.0), *spec.sites_m))
    a = radio_trace(spec, 3, "up", 100.0)
    b = radio_trace(far, 3, "up", 100.0)
    np.testing.assert_array_equal(a.sinr_db, b.sinr_db)
    np.testing.assert_array_equal(a.serving + 1, b.serving)


def test_timed_loss_chain_matches_its_stationary_law_and_sojourns():
    """A chain in time: the loss fraction is pi_B and Bad stretches last 1/b on average.

    p = 0.02, r = 0.2 per 200 ms step: pi_B = p / (p + r) = 1/11; the continuous chain's rate
    out of Bad is b = -ln(1 - p - r) / 0.2 s * r / (p + r) = 1.12937 /s by hand, a mean Bad
    time of 0.88545 s. 200 probes/s for 20,000 s; the loss indicator's batch means (25
    batches of 800 s, each ~80 Good/Bad cycles long) give the standard error.
    """
    from .test_queueing import assert_close_statistically, batch_mean

    loss = "{model: gilbert-elliott, p: 0.02, r: 0.2, per: 200ms}"
    text = f"""\
name: fade
duration: 20000s
network:
  links:
    air: {{loss: {loss}}}
streams:
  - {{name: probe, type: cbr, packet_size: 100B, rate: 200pps, path: [air]}}
"""
    result = run(load_scenario_text(text).plan, seed=4)
    lost = (result.packets.fate == LOST).astype(float)
    measured, se = batch_mean(lost)
    assert_close_statistically(measured, 1 / 11, se, 0.05, "loss fraction")
    spec = result.plan.links["air"].loss
    assert 1.0 / spec.rates_per_s()[1] == pytest.approx(0.88545, abs=1e-5)
    assert len(result.events) == 0  # fades are losses, not control events
    starts = np.flatnonzero(np.diff(np.concatenate([[0.0], lost])) == 1)
    ends = np.flatnonzero(np.diff(np.concatenate([lost, [0.0]])) == -1)
    mean_burst_s = float(np.mean(ends - starts + 1)) / 200.0
    # ~2000 bursts of exponential length: relative standard error ~1/sqrt(2000) = 2.2 %; the
    # 5 ms packet grid adds ~2.5 ms. 10 % is over four standard errors.
    assert mean_burst_s == pytest.approx(0.88545 + 0.0025, rel=0.10)
