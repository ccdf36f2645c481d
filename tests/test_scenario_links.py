"""Links in a scenario file: profiles, fibre distance, traces, timed loss, outages and radio."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from netsim import units
from netsim.capacity import OpportunitySchedule, RateSchedule
from netsim.cli import main
from netsim.errors import ScenarioError
from netsim.plan import JitterModel, LinkSpec, LossModel
from netsim.profiles import DEFAULT_ROUTING_FACTOR, PROFILES
from netsim.scenario import load_scenario, load_scenario_text

from .bad_scenarios import LINK_MESSAGES, LINK_SCENARIOS

FIBER_S_PER_M = 4.9e-9  # written out: the tests compute fibre delays by hand

HEAD = """\
name: links
duration: 2s
drain: 1s
network:
  links:
    a:
"""
STREAMS = """\
streams:
  - {name: s, type: cbr, packet_size: 1000B, rate: 100pps, path: [a]}
"""


def text_for(body: str) -> str:
    """A scenario whose one link ``a`` has the fields in ``body`` (YAML, not indented)."""
    return HEAD + textwrap.indent(textwrap.dedent(body), " " * 6) + STREAMS


def link_of(body: str) -> LinkSpec:
    """The LinkSpec of link ``a`` with the fields in ``body``."""
    return load_scenario_text(text_for(body), "links.yaml").plan.links["a"]


def link_in(tmp_path: Path, body: str) -> LinkSpec:
    """Like :func:`link_of`, from a file in ``tmp_path`` (traces are read next to it)."""
    path = tmp_path / "links.yaml"
    path.write_text(text_for(body), encoding="utf-8")
    return load_scenario(path).plan.links["a"]


def error_of(body: str) -> ScenarioError:
    """The ScenarioError that link ``a`` with the fields in ``body`` raises."""
    with pytest.raises(ScenarioError) as info:
        link_of(body)
    return info.value


RADIO = """\
radio:
  route: {length: 5km, speed: 72km/h}
  sites: {spacing: 500m, offset: 50m}
"""


def radio_of(direction: str = "uplink", extra: str = "", profile: str | None = None):
    """The RadioSpec of a radio link on RADIO's straight road, with ``extra`` radio fields."""
    body = f"direction: {direction}\n" + RADIO + textwrap.indent(extra, "  ")
    if profile is not None:
        body = f"profile: {profile}\n" + body
    return link_of(body).radio


# --- the bad-input table's messages --------------------------------------------------------------


@pytest.mark.parametrize(
    ("case_id", "text", "line", "field"), LINK_SCENARIOS, ids=[c[0] for c in LINK_SCENARIOS]
)
def test_bad_link_message(case_id, text, line, field):
    """Each bad link case says what is wrong, at its line and field."""
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "bad.yaml")
    assert (info.value.line, info.value.field) == (line, field)
    assert LINK_MESSAGES[case_id] in info.value.message


def test_every_link_case_has_a_message():
    """LINK_MESSAGES covers exactly the link cases."""
    assert set(LINK_MESSAGES) == {c[0] for c in LINK_SCENARIOS}


# --- profiles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["uplink", "downlink"])
def test_profile_defaults(direction):
    """A profile with a direction gives that side's capacity, delay and jitter and its loss."""
    link = link_of(f"profile: 5g-sa\ndirection: {direction}\n")
    profile = PROFILES["5g-sa"]
    side = profile.uplink if direction == "uplink" else profile.downlink
    assert link.capacity_bps == side.capacity_bps
    assert link.delay_s == side.delay_s
    assert link.jitter == side.jitter
    assert link.loss == profile.loss
    assert link.profile == "5g-sa"
    assert link.buffer_kind == "unlimited" and link.radio is None and link.curve is None


def test_profile_directions_differ():
    """5g-sa's uplink and downlink capacities are those of their own side."""
    up = link_of("profile: 5g-sa\ndirection: uplink\n")
    down = link_of("profile: 5g-sa\ndirection: downlink\n")
    assert up.capacity_bps == PROFILES["5g-sa"].uplink.capacity_bps
    assert down.capacity_bps == PROFILES["5g-sa"].downlink.capacity_bps
    assert up.capacity_bps != down.capacity_bps


OVERRIDES = [
    ("capacity: 7Mbps", "capacity_bps", 7e6),
    ("delay: 3ms", "delay_s", 0.003),
    ("jitter: 2ms", "jitter", JitterModel("exponential", mean_s=0.002)),
    ("loss: 1%", "loss", LossModel.iid(0.01)),
]


@pytest.mark.parametrize(("line", "attribute", "value"), OVERRIDES, ids=[o[1] for o in OVERRIDES])
def test_profile_override_replaces_one_field(line, attribute, value):
    """A field given with a profile replaces exactly that field; the others stay the profile's."""
    plain = link_of("profile: 5g-sa\ndirection: uplink\n")
    link = link_of(f"profile: 5g-sa\ndirection: uplink\n{line}\n")
    assert getattr(link, attribute) == value
    for other in ("capacity_bps", "delay_s", "jitter", "loss"):
        if other != attribute:
            assert getattr(link, other) == getattr(plain, other), other


def test_explicit_zero_overrides_profile():
    """An explicit 0 (delay: 0ms, jitter: 0ms, loss: 0%) still replaces the profile's value."""
    link = link_of("profile: 5g-sa\ndirection: uplink\ndelay: 0ms\njitter: 0ms\nloss: 0%\n")
    assert link.delay_s == 0.0
    assert not link.jitter.active and not link.loss.active


# --- fibre distance ------------------------------------------------------------------------------


def test_distance_default_routing_factor():
    """3000 km of fibre: 3000e3 m x 2.1 x 4.9 ns/m of delay."""
    link = link_of("profile: fiber\ndirection: uplink\ndistance: 3000km\n")
    assert DEFAULT_ROUTING_FACTOR == 2.1
    assert link.delay_s == pytest.approx(3000e3 * 2.1 * FIBER_S_PER_M, rel=1e-12)
    assert link.capacity_bps == PROFILES["fiber"].uplink.capacity_bps


def test_distance_with_routing_factor():
    """routing_factor: 1.3 replaces the default detour factor."""
    link = link_of("profile: fiber\ndirection: downlink\ndistance: 3000km\nrouting_factor: 1.3\n")
    assert link.delay_s == pytest.approx(3000e3 * 1.3 * FIBER_S_PER_M, rel=1e-12)


def test_distance_adds_to_explicit_delay():
    """distance adds its propagation to the delay written beside it."""
    link = link_of("delay: 5ms\ndistance: 100km\n")
    assert link.delay_s == pytest.approx(0.005 + 100e3 * 2.1 * FIBER_S_PER_M, rel=1e-12)


def test_distance_adds_to_profile_delay():
    """distance adds its propagation to the profile's delay too."""
    link = link_of("profile: 5g-sa\ndirection: uplink\ndistance: 500km\n")
    expected = PROFILES["5g-sa"].uplink.delay_s + 500e3 * 2.1 * FIBER_S_PER_M
    assert link.delay_s == pytest.approx(expected, rel=1e-12)


def test_routing_factor_infinite_is_a_scenario_error():
    """routing_factor: .inf is reported at its line, not as a traceback."""
    error = error_of("distance: 100km\nrouting_factor: .inf\n")
    assert (error.line, error.field) == (8, "network.links.a.routing_factor")


@pytest.mark.parametrize("value", ["yes", "'1.5'"])
def test_routing_factor_is_a_plain_number(value):
    """routing_factor takes a number, never a boolean or a quoted string."""
    error = error_of(f"distance: 100km\nrouting_factor: {value}\n")
    assert error.field == "network.links.a.routing_factor"


# --- traces --------------------------------------------------------------------------------------


def test_mahimahi_trace_relative_to_scenario(tmp_path, monkeypatch):
    """A Mahimahi trace named relatively is read next to the scenario, whatever the cwd."""
    (tmp_path / "up.down").write_text("1\n1\n3\n10\n")
    monkeypatch.chdir(tmp_path.parent)
    link = link_in(tmp_path, "trace: up.down\n")
    assert isinstance(link.curve, OpportunitySchedule)
    assert np.allclose(link.curve.times_s, [0.001, 0.001, 0.003, 0.010])
    assert link.curve.period_s == pytest.approx(0.010)
    assert link.curve.bytes_each == 1504


def test_csv_trace_gives_rate_schedule(tmp_path):
    """A .csv trace (time in s, Mbit/s) gives a RateSchedule looping after the median step."""
    (tmp_path / "rates.csv").write_text("time,mbps\n0,10\n1,20\n2,5\n")
    link = link_in(tmp_path, "trace: rates.csv\n")
    assert isinstance(link.curve, RateSchedule)
    assert np.array_equal(link.curve.t_s, [0.0, 1.0, 2.0])
    assert np.array_equal(link.curve.rate_bps, [10e6, 20e6, 5e6])
    assert link.curve.period_s == pytest.approx(3.0)


def test_trace_mapping_form(tmp_path):
    """{file:, format: csv} reads a file as CSV whatever its name."""
    (tmp_path / "rates.txt").write_text("0,10\n0.5,20\n")
    link = link_in(tmp_path, "trace: {file: rates.txt, format: csv}\n")
    assert isinstance(link.curve, RateSchedule)
    assert np.array_equal(link.curve.rate_bps, [10e6, 20e6])
    assert link.curve.period_s == pytest.approx(1.0)


def test_trace_bad_line_names_trace_file(tmp_path):
    """A bad line in a trace is reported at the trace file's line, with the link's field."""
    trace = tmp_path / "up.down"
    trace.write_text("5\n7\n3\n9\n")
    with pytest.raises(ScenarioError) as info:
        link_in(tmp_path, "trace: up.down\n")
    error = info.value
    assert (error.file, error.line, error.field) == (str(trace), 3, "network.links.a.trace")
    assert "timestamps must be non-decreasing" in error.message
    assert str(error).startswith(f"{trace}:3: network.links.a.trace: ")


def test_csv_trace_bad_line_names_trace_file(tmp_path):
    """A bad CSV row is reported at its own line of the CSV file."""
    trace = tmp_path / "rates.csv"
    trace.write_text("time,mbps\n0,10\n1,fast\n")
    with pytest.raises(ScenarioError) as info:
        link_in(tmp_path, "trace: rates.csv\n")
    assert (info.value.file, info.value.line) == (str(trace), 3)
    assert "expected a throughput in Mbit/s >= 0" in info.value.message


def test_missing_trace_names_scenario_line(tmp_path):
    """A missing trace file is reported at the scenario's trace line, naming the path."""
    with pytest.raises(ScenarioError) as info:
        link_in(tmp_path, "delay: 5ms\ntrace: gone.down\n")
    error = info.value
    assert (error.file, error.line) == (str(tmp_path / "links.yaml"), 8)
    assert error.field == "network.links.a.trace"
    assert error.message == f"trace {str(tmp_path / 'gone.down')!r}: no such file"


def test_mahimahi_trace_with_outages_is_refused(tmp_path):
    """Outages do not combine with a Mahimahi trace: the error points at outages."""
    (tmp_path / "up.down").write_text("1\n2\n")
    with pytest.raises(ScenarioError) as info:
        link_in(tmp_path, "trace: up.down\noutages: [{start: 1s, duration: 1s}]\n")
    assert (info.value.line, info.value.field) == (8, "network.links.a.outages")
    assert "outages do not combine with a Mahimahi trace" in info.value.message


def test_run_with_trace_end_to_end(tmp_path, capsys):
    """medlink run on a scenario with a Mahimahi trace exits 0 and writes results.json."""
    (tmp_path / "up.down").write_text("".join(f"{ms}\n" for ms in range(1, 11)))
    scenario = tmp_path / "links.yaml"
    scenario.write_text(text_for("trace: up.down\ndelay: 5ms\n"))
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    stream = json.loads((out / "results.json").read_text())["streams"]["s"]
    assert stream["packets_delivered"] > 0
    assert stream["latency_ms"]["p50"] >= 5.0


# --- timed loss and jitter -----------------------------------------------------------------------


def test_gilbert_elliott_per_time():
    """p, r and per: the chain steps every 200 ms, link-wide."""
    loss = link_of("loss: {model: gilbert-elliott, p: 0.00285, r: 0.121, per: 200ms}\n").loss
    assert loss.per_s == 0.2 and loss.timed
    assert (loss.p, loss.r) == (0.00285, 0.121)


def test_burst_in_time():
    """rate: 1%, burst: 1.7s gives a timed chain losing 1% with Bad stretches of 1.7 s."""
    loss = link_of("loss: {model: gilbert-elliott, rate: 1%, burst: 1.7s}\n").loss
    assert loss.timed
    assert loss.long_run_rate() == pytest.approx(0.01, abs=1e-12)
    assert 1.0 / loss.rates_per_s()[1] == pytest.approx(1.7, abs=1e-9)


def test_burst_in_packets_stays_per_packet():
    """burst: 3 (a number) is still the per-packet chain with r = 1/3."""
    loss = link_of("loss: {model: gilbert-elliott, rate: 1%, burst: 3}\n").loss
    assert loss.per_s is None and not loss.timed
    assert loss.r == pytest.approx(1 / 3)
    assert loss.p == pytest.approx(0.01 * (1 / 3) / 0.99)
    assert loss.long_run_rate() == pytest.approx(0.01)


def test_jitter_hold():
    """hold: 20ms makes the jitter a process in time."""
    jitter = link_of("jitter: {distribution: exponential, mean: 5ms, hold: 20ms}\n").jitter
    assert jitter.hold_s == 0.02 and jitter.timed


# --- outages -------------------------------------------------------------------------------------


def test_outage_start_and_end():
    """An outage from 1 s lasting 2 s is the interval (1, 3)."""
    link = link_of("outages: [{start: 1s, duration: 2s}]\n")
    assert link.outages == ((1.0, 3.0),)


def test_outages_in_order_written():
    """Several outages keep the order written, each as (start, end)."""
    link = link_of("outages:\n  - {start: 0s, duration: 500ms}\n  - {start: 1.5s, duration: 1s}\n")
    assert link.outages == ((0.0, 0.5), (1.5, 2.5))


# --- radio ---------------------------------------------------------------------------------------


def test_straight_road_route_and_sites():
    """A straight 5 km road at 72 km/h: waypoints (0, 0) to (5000, 0), sites 500 m apart."""
    radio = radio_of()
    assert radio.route.waypoints_m == ((0.0, 0.0), (5000.0, 0.0))
    assert radio.route.speed_mps == pytest.approx(20.0) and radio.route.times_s is None
    xs = [x for x, _ in radio.sites_m]
    assert xs[:10] == [250.0 + 500.0 * k for k in range(10)]
    assert [y for _, y in radio.sites_m[:4]] == [50.0, -50.0, 50.0, -50.0]


def test_straight_road_sites_end_with_the_road():
    """Sites every 500 m from 250 m: exactly 250, 750, ..., 4750 on a 5 km road."""
    xs = [x for x, _ in radio_of().sites_m]
    assert xs == [250.0 + 500.0 * k for k in range(10)]


@pytest.mark.parametrize(
    ("direction", "power", "noise"), [("uplink", 23.0, 5.0), ("downlink", 46.0, 9.0)]
)
def test_radio_direction_defaults(direction, power, noise):
    """tx_power and noise_figure default by direction: 23 dBm / 5 dB up, 46 dBm / 9 dB down."""
    radio = radio_of(direction)
    assert radio.direction == direction
    assert (radio.tx_power_dbm, radio.noise_figure_db) == (power, noise)
    assert (radio.carrier_ghz, radio.bandwidth_hz) == (3.5, 20e6)


def test_radio_explicit_powers():
    """tx_power in W and noise_figure in dB replace the direction's defaults."""
    radio = radio_of(extra="tx_power: 200mW\nnoise_figure: 7dB\n")
    assert radio.tx_power_dbm == pytest.approx(10 * math.log10(200))
    assert radio.noise_figure_db == 7.0


def test_radio_link_capacity_is_unused():
    """A radio link's capacity_bps is infinite: the radio's curve sets it."""
    link = link_of("direction: uplink\n" + RADIO)
    assert link.capacity_bps == math.inf and link.radio is not None


def test_explicit_sites():
    """sites: [[0m, 50m], [1km, -50m]] is taken as written, in metres."""
    body = (
        "direction: downlink\nradio:\n  route: {length: 2km, speed: 10m/s}\n"
        "  sites: [[0m, 50m], [1km, -50m]]\n"
    )
    assert link_of(body).radio.sites_m == ((0.0, 50.0), (1000.0, -50.0))


def test_route_points_and_times():
    """points with times: waypoints in metres, times in seconds, no speed."""
    body = (
        "direction: uplink\nradio:\n  route:\n"
        "    points: [[0m, 0m], [1km, 0m], [1km, 500m]]\n    times: [0s, 1min, 90s]\n"
        "  sites: [[500m, 50m]]\n"
    )
    route = link_of(body).radio.route
    assert route.waypoints_m == ((0.0, 0.0), (1000.0, 0.0), (1000.0, 500.0))
    assert route.times_s == (0.0, 60.0, 90.0) and route.speed_mps is None


def test_handover_defaults_without_profile():
    """Without a profile: A3 with 3 dB, 160 ms, no offset, LTE interruption, buffered."""
    ho = radio_of().handover
    assert (ho.hysteresis_db, ho.time_to_trigger_s, ho.offset_db) == (3.0, 0.16, 0.0)
    assert (ho.interruption, ho.interruption_s, ho.during) == ("lte", None, "buffer")


@pytest.mark.parametrize(("profile", "kind"), [("5g-sa", "sa"), ("5g-nsa", "nsa-scg-change")])
def test_handover_interruption_from_profile(profile, kind):
    """The interruption defaults to the profile's handover kind."""
    assert PROFILES[profile].handover == kind
    assert radio_of(profile=profile).handover.interruption == kind


def test_handover_interruption_lte_for_profile_without_handover():
    """A profile without cellular handover (wifi-6) falls back to lte."""
    assert PROFILES["wifi-6"].handover is None
    assert radio_of(profile="wifi-6").handover.interruption == "lte"


def test_handover_fixed_interruption():
    """interruption: 50ms is a fixed interruption of 0.05 s."""
    ho = radio_of(extra="handover: {interruption: 50ms, during: drop}\n").handover
    assert (ho.interruption, ho.interruption_s, ho.during) == ("fixed", 0.05, "drop")


def test_handover_named_interruption():
    """interruption: nsa-anchor names a measured distribution."""
    ho = radio_of(profile="5g-sa", extra="handover: {interruption: nsa-anchor}\n").handover
    assert (ho.interruption, ho.interruption_s) == ("nsa-anchor", None)


def test_bad_site_point_is_located():
    """A bad coordinate in a sites list is reported at its own item and line."""
    body = (
        "direction: uplink\nradio:\n  route: {length: 5km, speed: 72km/h}\n"
        "  sites:\n    - [0m, 50m]\n    - [1km, 50]\n"
    )
    error = error_of(body)
    assert (error.line, error.field) == (12, "network.links.a.radio.sites[1][1]")


# --- units ---------------------------------------------------------------------------------------


def test_parse_length():
    """Lengths in m and km, negative allowed (a coordinate), a bare 0 allowed."""
    assert units.parse_length("500m") == 500.0
    assert units.parse_length("3.2km") == 3200.0
    assert units.parse_length("-50m") == -50.0
    assert units.parse_length(0) == 0.0


def test_parse_speed():
    """Speeds in km/h, kmh and m/s, to m/s."""
    assert units.parse_speed("72km/h") == pytest.approx(20.0)
    assert units.parse_speed("36kmh") == pytest.approx(10.0)
    assert units.parse_speed("14m/s") == 14.0


def test_parse_frequency():
    """Frequencies in Hz, kHz, MHz and GHz, to Hz."""
    assert units.parse_frequency("3.5GHz") == 3.5e9
    assert units.parse_frequency("20MHz") == 20e6
    assert units.parse_frequency("15kHz") == 15e3


def test_parse_db_and_dbm():
    """dB levels; powers in dBm, mW and W, to dBm."""
    assert units.parse_db("3dB") == 3.0
    assert units.parse_db("-10dB") == -10.0
    assert units.parse_db(0) == 0.0
    assert units.parse_dbm("23dBm") == 23.0
    assert units.parse_dbm("200mW") == pytest.approx(23.0103, abs=1e-4)
    assert units.parse_dbm("1W") == pytest.approx(30.0)
    assert units.parse_dbm("20W") == pytest.approx(43.0103, abs=1e-4)


UNIT_ERRORS = [
    (units.parse_length, "500", "needs a unit"),
    (units.parse_length, "5 miles", "unknown unit 'miles'"),
    (units.parse_length, True, "expected a length"),
    (units.parse_length, "inf m", "expected a length such as"),
    (units.parse_speed, "50kmh/h", "unknown unit 'kmh/h'"),
    (units.parse_speed, "50", "needs a unit"),
    (units.parse_frequency, "3.5GHZ", "unknown unit 'GHZ'"),
    (units.parse_frequency, [3.5], "expected a frequency"),
    (units.parse_db, "3", "needs a unit"),
    (units.parse_db, "3dBm", "unknown unit 'dBm'"),
    (units.parse_dbm, "23", "needs a unit, such as '23dBm'"),
    (units.parse_dbm, "23dB", "a power takes dBm, mW, W"),
    (units.parse_dbm, "0mW", "must be > 0"),
    (units.parse_dbm, "-1W", "must be > 0"),
]


@pytest.mark.parametrize(("parse", "value", "fragment"), UNIT_ERRORS)
def test_unit_errors(parse, value, fragment):
    """Bad quantities raise UnitError saying what was expected."""
    with pytest.raises(units.UnitError) as info:
        parse(value)
    assert fragment in str(info.value)
