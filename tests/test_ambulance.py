"""The ambulance workload end to end: the section, its expansion, calibration, per-km results."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from netsim import load_scenario_text, run
from netsim.errors import ScenarioError
from netsim.radiolink import radio_trace
from netsim.workloads import discover

from .test_cli import ROOT, medlink, write

BASE = """\
name: amb
duration: 40s
ambulance:
  route:
    waypoints: [[52.5200, 13.4050], [52.5200, 13.4400]]
    speed: 50km/h
  modems:
    - {name: op-a, profile: 5g-sa}
    - {name: op-b, profile: 4g-lte, cells: {offset: 150m}}
  policy: POLICY
  payload: {cameras: [1080p30]}
"""


def scenario(policy="single", text=BASE):
    return load_scenario_text(text.replace("POLICY", policy))


def test_the_workload_is_found_through_its_entry_point_and_netsim_never_imports_it():
    """`ambulance` is an installed plug-in; importing netsim does not import it."""
    assert "ambulance" in discover()
    code = "import netsim, netsim.cli, sys; print('ambulance' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_single_policy_puts_every_stream_on_the_first_modem():
    """Links: a radio uplink and a fibre core link per modem; streams by role on op-a."""
    plan = scenario("single").plan
    assert set(plan.links) == {"op-a-up", "op-a-core", "op-b-up", "op-b-core"}
    assert [s.name for s in plan.streams] == ["vitals", "ecg", "video", "voice"]
    assert all(s.path == ("op-a-up", "op-a-core") for s in plan.streams)
    assert {b.stream for b in plan.budgets} == {"vitals", "ecg", "video", "voice"}
    assert all(b.source for b in plan.budgets)
    assert plan.links["op-a-core"].delay_s == pytest.approx(20e3 * 2.1 * 4.9e-9)


def test_duplicate_policy_copies_critical_roles_on_every_modem():
    """vitals, ecg and voice go on both modems (one source, one group); video on op-a only."""
    plan = scenario("duplicate").plan
    names = [s.name for s in plan.streams]
    assert names == [
        "vitals@op-a", "vitals@op-b", "ecg@op-a", "ecg@op-b", "video",
        "voice@op-a", "voice@op-b",
    ]  # fmt: skip
    copies = [s for s in plan.streams if s.group == "ecg"]
    assert {s.source for s in copies} == {"ecg"} and len(copies) == 2
    result = run(plan)
    assert result.streams["ecg"].packets_sent == result.streams["ecg@op-a"].packets_sent


def test_failover_policy_gates_copies_on_the_primary():
    """Every role has a copy on op-a while op-a is up and on op-b while it is down."""
    plan = scenario("failover").plan
    gated = [s for s in plan.streams if s.gate is not None]
    assert len(gated) == 2 * 4
    up = [s for s in gated if s.gate.when == "up"]
    assert all(s.gate.link == "op-a-up" and s.path[0] == "op-a-up" for s in up)
    assert all(s.gate.detect_s == 0.5 for s in gated)


@pytest.mark.parametrize(
    ("edit", "line", "field", "message"),
    [
        ("policy: POLICY", 10, "ambulance.policy", "expected 'single', 'failover' or"),
        ("cells: {offset: 150m}", 9, "ambulance.modems[1].cells.ofset", "did you mean 'offset'"),
        ("speed: 50km/h", 4, "ambulance.route", "waypoints have no times"),
    ],
)
def test_section_errors_name_line_and_field(edit, line, field, message):
    """Mistakes inside the ambulance section get file, line and field like any other."""
    broken = {
        "policy: POLICY": "policy: bonded",
        "cells: {offset: 150m}": "cells: {ofset: 150m}",
        "speed: 50km/h": "",
    }[edit]
    text = BASE.replace(edit, broken).replace("POLICY", "single")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "amb.yaml")
    error = info.value
    assert (error.line, error.field) == (line, field), str(error)
    assert message in error.message


def test_failover_needs_two_modems():
    text = BASE.replace("    - {name: op-b, profile: 4g-lte, cells: {offset: 150m}}\n", "")
    with pytest.raises(ScenarioError, match="needs a second modem"):
        load_scenario_text(text.replace("POLICY", "failover"), "amb.yaml")


def test_unknown_profile_in_a_modem_is_reported_at_the_modem():
    text = BASE.replace("profile: 5g-sa", "profile: 5g-sax").replace("POLICY", "single")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "amb.yaml")
    assert info.value.line == 8 and "unknown profile '5g-sax'" in info.value.message


@pytest.mark.parametrize(
    ("profile", "low", "high"),
    [("5g-sa", 32e6, 63e6), ("4g-lte", 2.5e6, 7.5e6)],
)
def test_default_cells_reproduce_the_measured_uplink_capacity(profile, low, high):
    """Calibration: on the urban route at 40 km/h the default cells give a median uplink
    capacity inside the range the profile cites (5G SA driving 32-63 Mbit/s, CoNEXT 2025;
    LTE 2.5-7.5 Mbit/s, OpenSignal 2018)."""
    text = f"""\
name: cal
duration: 300s
ambulance:
  route: {{preset: urban, speed: 40km/h}}
  modems: [{{name: op, profile: {profile}}}]
"""
    radio = load_scenario_text(text).plan.links["op-up"].radio
    trace = radio_trace(radio, 1, "op-up", 300.0)
    assert low <= float(np.median(trace.rate_bps)) <= high


def test_per_km_results_add_up(tmp_path, capsys):
    """results.json gains workloads.ambulance.per_km; its counts add up to the streams'."""
    path = write(tmp_path, BASE.replace("POLICY", "duplicate"), "amb.yaml")
    code, _, _ = medlink(capsys, "run", path, "--out", tmp_path / "o", "--no-report")
    assert code in (0, 1)
    document = json.loads((tmp_path / "o" / "results.json").read_text())
    per_km = document["workloads"]["ambulance"]["per_km"]
    assert per_km["km"] == [0, 1, 2] and per_km["route_length_km"] == pytest.approx(2.37, 0.01)
    for name in ("vitals", "ecg", "video", "voice"):
        assert sum(per_km["streams"][name]["sent"]) == document["streams"][name]["packets_sent"]
    for link, seconds in per_km["outage_s"].items():
        assert sum(seconds) == pytest.approx(document["events"][link]["outage_total_s"])
    for link, counts in per_km["handovers"].items():
        assert sum(counts) == document["events"][link]["handovers"]


def test_shipped_routes_are_available_by_name():
    """preset: urban | highway | rural load the shipped synthetic routes."""
    for preset, km in (("urban", 12.0), ("highway", 40.0), ("rural", 60.0)):
        text = f"""\
name: r
duration: 10s
ambulance:
  route: {{preset: {preset}, speed: 60km/h}}
  modems: [{{name: op, profile: 5g-sa}}]
"""
        radio = load_scenario_text(text).plan.links["op-up"].radio
        points = np.asarray(radio.route.waypoints_m)
        length = np.hypot(*np.diff(points, axis=0).T).sum()
        assert length == pytest.approx(km * 1e3, rel=0.01)


def test_report_shows_where_on_the_road_the_service_breaks(tmp_path, capsys):
    """report.html has the per-km table with a row per km of the route."""
    path = write(tmp_path, BASE.replace("POLICY", "single"), "amb.yaml")
    code, _, stderr = medlink(capsys, "run", path, "--out", tmp_path / "o")
    assert code in (0, 1) and stderr == ""
    html = (tmp_path / "o" / "report.html").read_text()
    section = html[html.index('id="per-km-ambulance"') :]
    assert "Along the route, per km" in section
    assert section.count("<tr>") - 1 == 3  # header row, then km 0, 1, 2


def test_explicit_sites_in_degrees_or_metres():
    """cells.sites lists sites ({lat, lon} projected like the route, or {x_m, y_m})."""
    text = BASE.replace(
        "cells: {offset: 150m}",
        "cells: {sites: [{lat: 52.5205, lon: 13.4050, height_m: 30}, {x_m: 1500, y_m: -60}]}",
    ).replace("POLICY", "single")
    radio = load_scenario_text(text).plan.links["op-b-up"].radio
    (x0, y0), (x1, y1) = radio.sites_m
    assert x0 == pytest.approx(0.0, abs=0.01) and y0 == pytest.approx(55.6, abs=0.2)  # 0.0005°
    assert (x1, y1) == (1500.0, -60.0)
    assert radio.h_bs_m == 30.0  # one height per modem: the listed one


def test_satellite_modem_and_grid_layout():
    """A satellite modem is its profile's plain link; layout around gives a grid of sites."""
    text = BASE.replace(
        "{name: op-b, profile: 4g-lte, cells: {offset: 150m}}",
        "{name: sat, profile: satellite-leo}",
    ).replace("{name: op-a, profile: 5g-sa}", "{name: op-a, profile: 5g-sa, "
              "cells: {layout: around, spacing: 500m, margin: 600m}}")  # fmt: skip
    plan = scenario("failover", text).plan
    assert plan.links["sat-up"].radio is None and plan.links["sat-up"].profile == "satellite-leo"
    sites = np.asarray(plan.links["op-a-up"].radio.sites_m)
    assert len(sites) > 8 and np.abs(sites[:, 1]).max() <= 600.0 + 1e-6
    result = run(plan)
    assert result.streams["vitals"].packets_sent == 40


@pytest.mark.parametrize("seed", range(4))
def test_per_km_counts_by_bisection_are_every_packets_km(seed):
    """The per-km table finds each km's first packet by bisection; the counts are those of
    every packet's km (a bincount), over routes with stops, turns and waypoints on km
    marks; a route with a waypoint just below a km mark takes every packet's km."""
    from ambulance.workload import _km_counts, _km_monotone, _km_of
    from netsim.mobility import Route

    rng = np.random.default_rng(seed)
    legs = rng.uniform(50.0, 900.0, 12)
    legs[3] = 1000.0 - legs[:3].sum() % 1000.0  # a waypoint exactly on a km mark
    points = np.zeros((legs.size + 1, 2))
    points[1:, 0] = np.cumsum(legs)
    route = Route(points, speed_mps=float(rng.uniform(3.0, 30.0)))
    assert _km_monotone(route)
    n_km = int(route.length_m // 1000) + 1
    t = np.sort(rng.uniform(-5.0, route.duration_s + 5.0, 200_000))
    t[rng.integers(0, t.size, 500)] = rng.choice(route.times_s, 500)  # on waypoints
    t = np.sort(t)
    for a, b in ((0, t.size), (1000, 1001), (5000, 90_000)):
        piece = t[a:b]
        first, last, counts = _km_counts(route, piece, n_km)
        every = np.bincount(_km_of(route, piece, n_km), minlength=n_km)
        assert every[first : last + 1].tolist() == counts.tolist()
        assert every.sum() == counts.sum()
    near = points.copy()
    near[4:, 0] -= 1e-9  # the fourth waypoint now just below the km mark
    assert not _km_monotone(Route(near, speed_mps=10.0))
