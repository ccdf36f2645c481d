"""The scenario file compiles to the exact NetworkPlan, with defaults, schema and hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from netsim.errors import ScenarioError
from netsim.plan import (
    BudgetSpec,
    JitterModel,
    LinkSpec,
    LossModel,
    NetworkPlan,
    SizeModel,
    StreamSpec,
)
from netsim.scenario import Scenario, load_scenario, load_scenario_text, scenario_json_schema

ROOT = Path(__file__).resolve().parent.parent

EXAMPLE = """\
name: md1-check            # required
description: free text     # optional
seed: 1
duration: 600s
drain: 10s
network:
  links:
    bottleneck:
      capacity: 10Mbps
      delay: 0ms
      jitter: 0ms
      loss: 0%
      buffer: unlimited
streams:
  - name: probe
    type: poisson
    packet_size: 1250B
    rate: 800pps
    path: [bottleneck]
    start: 0s
    stop: 60s
budgets:
  - stream: probe
    latency: 5ms
    percentile: 99
    max_loss: 0.1%
    max_jitter: 10ms
    min_throughput: 5Mbps
    source: "3GPP TS 23.501 Table 5.7.4-1, 5QI 7"
    name: optional label
"""

MINIMAL = """\
name: tiny
duration: 1min
network:
  links:
    up: {}
streams:
  - {name: s, type: cbr, packet_size: 100B, rate: 10pps, path: [up]}
"""


def link_with(**fields: str) -> LinkSpec:
    """The one link of MINIMAL, with the given fields written (YAML flow values)."""
    body = ", ".join(f"{k}: {v}" for k, v in fields.items())
    return load_scenario_text(MINIMAL.replace("up: {}", f"up: {{{body}}}")).plan.links["up"]


def stream_with(**fields: str) -> StreamSpec:
    """The one stream of MINIMAL, with the given fields replaced (YAML flow values)."""
    entry = {"name": "s", "type": "cbr", "packet_size": "100B", "rate": "10pps", "path": "[up]"}
    entry |= fields
    line = "  - {" + ", ".join(f"{k}: {v}" for k, v in entry.items()) + "}\n"
    text = MINIMAL.split("streams:")[0] + "streams:\n" + line
    return load_scenario_text(text).plan.streams[0]


def test_example_compiles_to_the_exact_plan():
    source = "3GPP TS 23.501 Table 5.7.4-1, 5QI 7"
    common = {"stream": "probe", "source": source, "name": "optional label"}
    expected = NetworkPlan(
        name="md1-check",
        duration_s=600.0,
        links={"bottleneck": LinkSpec("bottleneck", capacity_bps=10e6)},
        streams=(
            StreamSpec(
                name="probe",
                kind="poisson",
                rate_pps=800.0,
                size=SizeModel("constant", mean_bytes=1250.0),
                path=("bottleneck",),
                start_s=0.0,
                stop_s=60.0,
            ),
        ),
        budgets=(
            BudgetSpec(metric="latency", limit=0.005, percentile=99.0, **common),
            BudgetSpec(metric="loss", limit=0.001, **common),
            BudgetSpec(metric="jitter", limit=0.010, **common),
            BudgetSpec(metric="throughput", limit=5e6, **common),
        ),
        seed=1,
        drain_s=10.0,
    )
    assert load_scenario_text(EXAMPLE, "x.yaml").plan == expected


def test_defaults():
    plan = load_scenario_text(MINIMAL).plan
    assert (plan.seed, plan.drain_s, plan.budgets) == (1, 10.0, ())
    assert plan.window_s == NetworkPlan("n", 1.0, {}, ()).window_s  # the plan's own default
    assert plan.links["up"] == LinkSpec("up")  # unlimited, no delay, jitter, loss or buffer
    link = plan.links["up"]
    assert link.capacity_bps == math.inf and link.buffer_kind == "unlimited"
    assert not link.jitter.active and not link.loss.active
    stream = plan.streams[0]
    assert (stream.start_s, stream.stop_s) == (0.0, math.inf)


def test_budget_defaults_and_order():
    text = MINIMAL + "budgets:\n  - {stream: s, min_throughput: 1kbps, latency: 20ms}\n"
    budgets = load_scenario_text(text).plan.budgets
    assert [b.metric for b in budgets] == ["latency", "throughput"]
    assert budgets[0].percentile == 99.0 and budgets[0].metric_name == "latency_p99"
    assert budgets[1].percentile is None and budgets[1].limit == 1000.0
    text = MINIMAL + "budgets:\n  - {stream: s, latency: 1s, percentile: 99.9}\n"
    assert load_scenario_text(text).plan.budgets[0].metric_name == "latency_p999"


@pytest.mark.parametrize(
    ("loss", "expected"),
    [
        ("0%", LossModel()),
        ("1%", LossModel.iid(0.01)),
        ("0.02", LossModel.iid(0.02)),
        ("{model: iid, rate: 1%}", LossModel.iid(0.01)),
        (
            "{model: gilbert-elliott, p: 0.001, r: 0.3, loss_good: 0%, loss_bad: 100%}",
            LossModel("gilbert-elliott", p=0.001, r=0.3, loss_good=0.0, loss_bad=1.0),
        ),
        (
            "{model: gilbert-elliott, p: 1%, r: 50%, loss_bad: 80%}",
            LossModel("gilbert-elliott", p=0.01, r=0.5, loss_good=0.0, loss_bad=0.8),
        ),
    ],
)
def test_loss_forms(loss, expected):
    assert link_with(loss=loss).loss == expected


def test_gilbert_elliott_rate_and_burst():
    loss = link_with(loss="{model: gilbert-elliott, rate: 1%, burst: 3}").loss
    assert loss.kind == "gilbert-elliott"
    assert loss.r == pytest.approx(1 / 3, rel=1e-15)
    assert loss.p == pytest.approx(0.01 * (1 / 3) / 0.99, rel=1e-15)
    assert (loss.loss_good, loss.loss_bad) == (0.0, 1.0)
    assert loss.long_run_rate() == pytest.approx(0.01, rel=1e-12)
    assert 1 / loss.r == pytest.approx(3.0)  # mean burst length


@pytest.mark.parametrize(
    ("jitter", "expected"),
    [
        ("0ms", JitterModel()),
        ("0", JitterModel()),
        ("5ms", JitterModel("exponential", mean_s=0.005)),
        ("{distribution: exponential, mean: 5ms}", JitterModel("exponential", mean_s=0.005)),
        (
            "{distribution: exponential, mean: 5ms, reorder: true}",
            JitterModel("exponential", mean_s=0.005, reorder=True),
        ),
        ("{distribution: uniform, max: 10ms}", JitterModel("uniform", max_s=0.010)),
        (
            "{distribution: lognormal, median: 3ms, sigma: 0.6}",
            JitterModel("lognormal", median_s=0.003, sigma=0.6),
        ),
        (
            "{distribution: pareto, scale: 2ms, alpha: 2.5}",
            JitterModel("pareto", scale_s=0.002, alpha=2.5),
        ),
    ],
)
def test_jitter_forms(jitter, expected):
    assert link_with(jitter=jitter).jitter == expected


@pytest.mark.parametrize(
    ("buffer", "limit", "kind"),
    [
        ("unlimited", math.inf, "unlimited"),
        ("64KB", 64_000.0, "bytes"),
        ("1MiB", 1024.0**2, "bytes"),
        ("100 packets", 100.0, "packets"),
    ],
)
def test_buffer_forms(buffer, limit, kind):
    link = link_with(buffer=f"'{buffer}'")
    assert (link.buffer_limit, link.buffer_kind) == (limit, kind)


@pytest.mark.parametrize(
    ("fields", "capacity", "delay"),
    [
        ({"capacity": "25Mbps", "delay": "250us"}, 25e6, 250e-6),
        ({"capacity": "unlimited"}, math.inf, 0.0),
    ],
)
def test_capacity_and_delay(fields, capacity, delay):
    link = link_with(**fields)
    assert (link.capacity_bps, link.delay_s) == (capacity, pytest.approx(delay, rel=1e-12))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("1250B", SizeModel("constant", mean_bytes=1250.0)),
        ("1.1KB", SizeModel("constant", mean_bytes=1100.0)),  # no float noise: not 1101
        ("1250.5B", SizeModel("constant", mean_bytes=1251.0)),  # rounded up to whole bytes
        ("1KiB", SizeModel("constant", mean_bytes=1024.0)),
        ("{distribution: exponential, mean: 1250B}", SizeModel("exponential", mean_bytes=1250.0)),
        (
            "{distribution: uniform, min: 64B, max: 1500B}",
            SizeModel("uniform", mean_bytes=782.0, min_bytes=64, max_bytes=1500),
        ),
    ],
)
def test_packet_size_forms(size, expected):
    assert stream_with(packet_size=size).size == expected


@pytest.mark.parametrize(
    ("size", "rate", "pps"),
    [
        ("1250B", "8Mbps", 800.0),
        ("1250B", "800pps", 800.0),
        ("100B", "800kbps", 1000.0),
        ("{distribution: uniform, min: 64B, max: 1500B}", "782kbps", 125.0),
        ("{distribution: exponential, mean: 1000B}", "8Mbps", None),
    ],
)
def test_bit_rate_becomes_packet_rate(size, rate, pps):
    stream = stream_with(packet_size=size, rate=rate)
    if pps is None:  # rate_bps / (8 * mean size), with the mean of the rounded-up sizes
        pps = 8e6 / (8 * stream.size.mean())
        assert stream.size.mean() == pytest.approx(1000.5, rel=1e-4)
    assert stream.rate_pps == pytest.approx(pps, rel=1e-12)


def test_stream_times_and_kind():
    stream = stream_with(type="poisson", start="1.5s", stop="10min")
    assert (stream.kind, stream.start_s, stream.stop_s) == ("poisson", 1.5, 600.0)


def test_paths_in_a_common_order_are_accepted():
    text = MINIMAL.replace("up: {}", "a: {}\n    b: {}\n    c: {}") + "".join(
        f"  - {{name: s{i}, type: cbr, packet_size: 100B, rate: 1pps, path: {path}}}\n"
        for i, path in enumerate(["[a, b, c]", "[a, c]", "[b, c]", "[c]"])
    )
    text = text.replace("path: [up]", "path: [a]")
    plan = load_scenario_text(text).plan
    assert [s.path for s in plan.streams][1:] == [("a", "b", "c"), ("a", "c"), ("b", "c"), ("c",)]


def test_yaml_merge_keys_and_anchors():
    text = MINIMAL.replace(
        "    up: {}\n",
        "    up: &radio {capacity: 10Mbps, delay: 5ms}\n    down:\n      <<: *radio\n"
        "      delay: 7ms\n",
    )
    links = load_scenario_text(text).plan.links
    assert (links["down"].capacity_bps, links["down"].delay_s) == (10e6, 0.007)
    assert links["up"].delay_s == 0.005


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_load(path):
    scenario = load_scenario(path)
    assert scenario.path == path and scenario.plan.streams
    assert scenario.document == yaml.safe_load(path.read_text())


def test_scenario_object(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(EXAMPLE)
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario) and scenario.path == path
    assert load_scenario(str(path)).path == path
    assert load_scenario_text(EXAMPLE).path is None
    assert scenario.document == yaml.safe_load(EXAMPLE)
    assert scenario.document["streams"][0]["rate"] == "800pps"  # as the user wrote it
    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.sha256 = "x"  # type: ignore[misc]


def test_sha256_is_stable_and_tracks_values():
    first = load_scenario_text(EXAMPLE).sha256
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert load_scenario_text(EXAMPLE).sha256 == first
    canonical = json.dumps(yaml.safe_load(EXAMPLE), sort_keys=True, separators=(",", ":"))
    assert first == hashlib.sha256(canonical.encode()).hexdigest()
    # comments, spacing and key order do not change the document, so not the hash
    reformatted = "seed: 1\n" + EXAMPLE.replace("seed: 1\n", "").replace("# required", "")
    assert load_scenario_text(reformatted.replace("delay: 0ms", "delay:    0ms")).sha256 == first
    assert load_scenario_text(EXAMPLE.replace("rate: 800pps", "rate: 801pps")).sha256 != first
    assert load_scenario_text(EXAMPLE.replace("seed: 1", "seed: 2")).sha256 != first


def test_json_schema_shape():
    schema = scenario_json_schema()
    json.dumps(schema)  # plain JSON
    assert schema["type"] == "object" and "$schema" in schema
    assert {"name", "duration", "network", "streams", "budgets"} <= set(schema["properties"])
    assert {"name", "duration"} <= set(schema["required"])
    # network and streams, unless a workload section (ambulance, ...) supplies them
    assert {"required": ["network", "streams"]} in schema["anyOf"]
    assert {"required": ["ambulance"]} in schema["anyOf"]
    objects = [schema, *schema["$defs"].values()]
    for obj in objects:
        if "properties" in obj:
            assert obj["additionalProperties"] is False, obj.get("title")
    duration = schema["properties"]["duration"]
    assert duration["type"] == "string" and duration["pattern"] and duration["examples"]
    assert "description" in duration
    link = schema["$defs"]["LinkEntry"]["properties"]
    assert link["capacity"]["default"] == "unlimited"
    assert "anyOf" in link["jitter"] and "anyOf" in link["loss"]


def test_committed_schema_rejects_a_scenario_without_streams_or_workload():
    """The schema still says a file needs network and streams, or a workload section."""
    root = Path(__file__).resolve().parent.parent / "scenarios"
    validator = jsonschema.Draft202012Validator(json.loads((root / "schema.json").read_text()))
    assert list(validator.iter_errors({"name": "x", "duration": "1s"}))


def test_committed_schema_accepts_every_shipped_scenario():
    """What an editor does with scenarios/schema.json: every shipped file passes it."""
    root = Path(__file__).resolve().parent.parent / "scenarios"
    schema = json.loads((root / "schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(root.glob("*.yaml")):
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, (path.name, errors)


def test_json_schema_validates_the_example():
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(yaml.safe_load(EXAMPLE)))
    bad = yaml.safe_load(EXAMPLE.replace("capacity: 10Mbps", "capacty: 10Mbps"))
    assert list(validator.iter_errors(bad))


@pytest.mark.parametrize(
    ("pattern_of", "good", "bad"),
    [
        (("properties", "duration"), ["600s", "1.5 min", "250us", "20ms"], ["600", "10 parsecs"]),
        (
            ("$defs", "StreamEntry", "properties", "rate"),
            ["800pps", "25Mbps", "10Mbit/s"],
            ["10 Mbit"],
        ),
    ],
)
def test_schema_patterns_agree_with_the_parser(pattern_of, good, bad):
    node = scenario_json_schema()
    for key in pattern_of:
        node = node[key]
    if "anyOf" in node:  # an optional field: the pattern is on its non-null choice
        (node,) = [choice for choice in node["anyOf"] if choice.get("type") != "null"]
    pattern = re.compile(node["pattern"])
    assert all(pattern.search(text) for text in good)
    assert not any(pattern.search(text) for text in bad)


def test_first_error_in_file_order_is_reported():
    text = EXAMPLE.replace("delay: 0ms", "delay: soon").replace("rate: 800pps", "rate: 0pps")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "x.yaml")
    assert (info.value.line, info.value.field) == (10, "network.links.bottleneck.delay")


def test_a_file_that_cannot_be_read(tmp_path):
    for path, words in ((tmp_path / "nope.yaml", "no such file"), (tmp_path, "directory")):
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert info.value.line is None and words in str(info.value)
        assert str(info.value).startswith(str(path))
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: t\ndescription: caf\xe9\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(latin)
    assert info.value.line == 2 and "UTF-8" in info.value.message
