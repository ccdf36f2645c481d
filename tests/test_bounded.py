"""Runs with ``memory="bounded"``: streaming statistics against the exact record of the same
run (the ground truth), the exact budget verdicts, memory that does not grow with the run, the
ambulance's per-km tap, and the CLI and scenario key."""

from __future__ import annotations

import dataclasses
import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from netsim import engine
from netsim.cli import app
from netsim.engine import run, simulate
from netsim.errors import ScenarioError
from netsim.plan import BudgetSpec, NetworkPlan
from netsim.scenario import load_scenario, load_scenario_text
from netsim.sketch import ALPHA, QuantileSketch
from netsim.summaries import RunSummaries, StreamSummary

from .test_columns import mixed_plan

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
PERCENTILE_KEYS = ("p50", "p95", "p99", "p999")


@pytest.fixture
def small_retire(monkeypatch):
    """Retire final rows in stretches of 200 (not 65,536): many stretches, groups merged
    across them, bins and jitter carried across them."""
    monkeypatch.setattr(engine, "RETIRE_ROWS", 200)


def _close(a: float, b: float, rel: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rel * abs(a) + 1e-15


def assert_bounded_agrees(exact: dict, bounded: dict) -> None:
    """results.json of a bounded run against the exact run of the same plan and seed."""
    assert bounded["memory"] == "bounded" and "memory" not in exact
    assert exact["streams"].keys() == bounded["streams"].keys()
    for name, e in exact["streams"].items():
        b = bounded["streams"][name]
        for key in ("packets_sent", "packets_delivered", "packets_lost", "packets_dropped",
                    "packets_in_flight", "loss_rate", "loss_bursts"):  # fmt: skip
            assert b[key] == e[key], (name, key)
        assert b["throughput_mbps"] == e["throughput_mbps"], name
        lat_e, lat_b = e["latency_ms"], b["latency_ms"]
        assert lat_b["min"] == lat_e["min"] and lat_b["max"] == lat_e["max"], name
        assert _close(lat_e["mean"], lat_b["mean"], 1e-12), name
        for key in PERCENTILE_KEYS:
            assert _close(lat_e[key], lat_b[key], ALPHA * (1 + 1e-9)), (name, key)
        assert _close(e["jitter_ms"], b["jitter_ms"], 1e-9), name
        assert _close(e["jitter_final_ms"], b["jitter_final_ms"], 1e-9), name
    # the per-bin series exactly; the quantile curve within the sketch's accuracy (and the
    # 6 significant digits results.json keeps)
    se, sb = exact["series"], bounded["series"]
    assert se["streams"] == sb["streams"]
    assert se["quantiles"].keys() == sb["quantiles"].keys()
    for name, q in se["quantiles"].items():
        assert q["p"] == sb["quantiles"][name]["p"]
        for x, y in zip(q["ms"], sb["quantiles"][name]["ms"], strict=True):
            assert _close(x, y, ALPHA + 2e-6), name
    for key in ("links", "events", "t_s", "bin_s"):
        assert se[key] == sb[key]
    # every verdict identical; values within the accuracy
    assert [b["pass"] for b in exact["budgets"]] == [b["pass"] for b in bounded["budgets"]]
    for e, b in zip(exact["budgets"], bounded["budgets"], strict=True):
        assert _close(e["value"], b["value"], ALPHA * (1 + 1e-9)), e


def copies_alike(plan: NetworkPlan) -> NetworkPlan:
    """The mixed plan with its group's copies sending the same packets (one is cbr, the other
    Poisson there): what a group is (StreamSpec's docstring), and what bounded runs need."""
    streams = tuple(
        dataclasses.replace(s, kind="cbr") if s.name == "vitals@b" else s for s in plan.streams
    )
    return dataclasses.replace(plan, streams=streams)


def budgeted(plan: NetworkPlan) -> NetworkPlan:
    """The mixed plan with latency budgets on a stream and a group (and other metrics)."""
    plan = copies_alike(plan)
    budgets = (
        BudgetSpec("video", "latency", 0.05, percentile=99.0),
        BudgetSpec("video", "latency", 0.03, percentile=50.0),
        BudgetSpec("vitals", "latency", 0.1, percentile=99.9),
        BudgetSpec("voice", "loss", 0.05),
        BudgetSpec("voice", "jitter", 0.002),
    )
    return dataclasses.replace(plan, budgets=budgets)


@pytest.mark.parametrize("window_s", [None, 0.05, 1.0])
def test_bounded_run_gives_the_exact_runs_figures(small_retire, window_s):
    plan = budgeted(mixed_plan(30.0))
    exact = run(plan, seed=4, window_s=window_s, packets=False)
    bounded = run(plan, seed=4, window_s=window_s, packets=False, memory="bounded")
    assert isinstance(bounded.packets, RunSummaries)
    assert len(bounded.packets) == len(exact.packets)
    # the run lost, dropped, reordered packets and merged a gated group
    s = bounded.streams
    assert s["video"].packets_lost > 0 and s["video"].packets_dropped > 0
    assert s["vitals"].packets_sent < s["vitals@a"].packets_sent + s["vitals@b"].packets_sent
    assert_bounded_agrees(exact.to_dict(), bounded.to_dict())


def test_bounded_memory_is_the_plans_default_without_a_packet_log():
    plan = dataclasses.replace(copies_alike(mixed_plan(5.0)), memory="bounded")
    assert isinstance(run(plan, packets=False).packets, RunSummaries)
    # a packet log asked for explicitly is still a packet log
    assert not isinstance(run(plan).packets, RunSummaries)
    with pytest.raises(ValueError, match="packets=False"):
        simulate(plan, packets=True, memory="bounded")
    with pytest.raises(ValueError, match="memory must be"):
        simulate(plan, packets=False, memory="small")


def test_a_group_whose_copies_differ_is_refused():
    with pytest.raises(ValueError, match="copies must send the same packets"):
        simulate(mixed_plan(2.0), packets=False, memory="bounded")


def test_per_packet_columns_are_refused_with_a_way_out():
    results = run(copies_alike(mixed_plan(3.0)), packets=False, memory="bounded")
    with pytest.raises(AttributeError, match="memory='exact'"):
        _ = results.packets.t_recv_s
    with pytest.raises(AttributeError, match="memory='exact'"):
        results.packets.stream("video")


def _summary(values: np.ndarray, limit: float) -> StreamSummary:
    sketch = QuantileSketch()
    sketch.add(values)
    return StreamSummary("s", values.size, values.size, 0, 0, 0, 0, sketch, {}, {}, (0, 0), {},
                         (), {limit: int(np.count_nonzero(values <= limit))})  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_budget_verdicts_are_exact_where_the_counts_tell(seed):
    """Limits placed at, just under and just over the exact percentile (closer than the
    sketch's accuracy): the verdict is the exact one unless the limit lies strictly between
    the two packets the percentile interpolates."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    values = np.round(rng.lognormal(math.log(0.03), 0.4, n), int(rng.integers(3, 9)))
    q = float(rng.choice([50.0, 95.0, 99.0, 99.9]))
    exact = float(np.percentile(values, q))
    ordered = np.sort(values)
    for limit in (exact, np.nextafter(exact, 0), exact * (1 - ALPHA / 3), exact * (1 + ALPHA / 3)):
        summary = _summary(values, float(limit))
        estimate = summary.percentile(q)
        value, settled = summary.settle(q, float(limit), estimate)
        truth = exact <= limit
        if settled is None:
            # ambiguous only when the limit falls between the interpolated order statistics
            k = (n - 1) * q / 100.0
            lo, hi = ordered[math.floor(k)], ordered[min(math.floor(k) + 1, n - 1)]
            assert lo <= limit < hi
        else:
            assert settled == truth, (q, limit, exact, estimate)
            assert (value <= limit) == truth
            assert abs(value - exact) <= ALPHA * exact * (1 + 1e-9)


def test_a_verdict_the_sketch_alone_would_get_wrong_is_exact():
    """Most packets exactly at the limit: the exact p99 is the limit (a pass), the sketch's
    estimate lies above it (within ALPHA); the count settles it."""
    wrong = 0
    for limit in np.linspace(0.05, 0.0501, 41):
        values = np.concatenate([np.full(990, limit), np.full(5, 0.04), np.full(5, 0.06)])
        summary = _summary(values, float(limit))
        assert float(np.percentile(values, 99.0)) == limit
        sketch_only = summary.percentile(99.0)
        value, settled = summary.settle(99.0, float(limit), sketch_only)
        assert settled is True and value <= limit
        wrong += sketch_only > limit
    assert wrong > 5  # the sketch alone would have failed these


def _traced_peak(plan: NetworkPlan, memory: str) -> tuple[int, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        sim = simulate(plan, seed=2, window_s=0.5, packets=False, memory=memory)
        kept = tracemalloc.get_traced_memory()[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(sim.packets) > 0
    return peak, kept


def test_memory_does_not_grow_with_the_run(small_retire):
    """Eight times the packets: what the bounded run keeps stays flat, and its peak grows by
    a fraction of the exact record's growth (the links' own per-run arrays, such as jitter
    slots, scale with the duration), while the exact record grows with the packets."""
    short, long = copies_alike(mixed_plan(20.0)), copies_alike(mixed_plan(160.0))
    peak_short, kept_short = _traced_peak(short, "bounded")
    peak_long, kept_long = _traced_peak(long, "bounded")
    exact_short, exact_kept_short = _traced_peak(short, "exact")
    exact_long, exact_kept_long = _traced_peak(long, "exact")
    # the exact record grows with the packets (so the test can tell growth) ...
    assert exact_kept_long > exact_kept_short + 1_000_000
    # ... the bounded one does not
    assert kept_long < kept_short * 1.05 + 20_000, (kept_short, kept_long)
    assert peak_long - peak_short < (exact_long - exact_short) / 3, (peak_short, peak_long)


def test_ambulance_per_km_tap_gives_the_exact_table(small_retire):
    loaded = load_scenario(SCENARIOS / "ambulance-bonded.yaml")
    plan = dataclasses.replace(loaded.plan, duration_s=40.0)
    exact = run(plan, window_s=0.1, packets=False)
    bounded = run(plan, window_s=0.1, packets=False, memory="bounded", taps=loaded.taps())
    per_km_exact = loaded.judge(exact)["ambulance"]["per_km"]
    per_km_bounded = loaded.judge(bounded)["ambulance"]["per_km"]
    assert per_km_bounded == per_km_exact
    assert sum(per_km_exact["streams"]["video"]["sent"]) > 0
    assert_bounded_agrees(exact.to_dict(), bounded.to_dict())


def test_scenario_key_and_a_workload_that_reads_every_packet(tmp_path):
    text = (SCENARIOS / "uplink-voice-video.yaml").read_text()
    bounded = load_scenario_text(text.replace("\nduration:", "\nmemory: bounded\nduration:", 1))
    assert bounded.plan.memory == "bounded"
    assert load_scenario_text(text).plan.memory == "exact"
    telesurgery = (SCENARIOS / "telesurgery-or-5g.yaml").read_text()
    assert load_scenario_text(telesurgery).bounded_reason() is not None
    with pytest.raises(ScenarioError) as caught:
        load_scenario_text(
            telesurgery.replace("\nduration:", "\nmemory: bounded\nduration:", 1),
            filename="ts.yaml",
        )
    message = str(caught.value)
    assert "ts.yaml" in message and "memory" in message and "telesurgery" in message


def test_cli_run_memory_bounded(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    scenario = SCENARIOS / "uplink-voice-video.yaml"
    done = runner.invoke(
        app, ["run", str(scenario), "--memory", "bounded", "--duration", "5s", "--out", str(out)]
    )
    assert done.exit_code in (0, 1), done.output
    assert "memory: bounded" in done.output
    document = json.loads((out / "results.json").read_text())
    assert document["memory"] == "bounded"
    assert document["percentile_relative_error"] == ALPHA
    assert (out / "report.html").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory", "small"], "--memory: expected exact or bounded"),
        (["--memory", "bounded"], "telesurgery workload reads every packet"),
    ],
)
def test_cli_refuses_bad_memory_without_writing(tmp_path, args, message):
    out = tmp_path / "out"
    scenario = SCENARIOS / "telesurgery-or-5g.yaml"
    done = CliRunner().invoke(app, ["run", str(scenario), "--out", str(out), *args])
    assert done.exit_code == 2
    assert message in done.output
    assert len(done.output.strip().splitlines()) == 1
    assert not out.exists()


def test_bounded_replications_are_deterministic():
    from netsim.replications import replicate

    plan = dataclasses.replace(budgeted(mixed_plan(6.0)), memory="bounded")
    a = replicate(plan, 3, seed=9)
    b = replicate(plan, 3, seed=9)
    assert isinstance(a.first.packets, RunSummaries)
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


def test_windows_do_not_change_a_bounded_runs_results(monkeypatch):
    """As for the exact record: the same document to the bit whatever the window length and
    however many packets are retired at once (fixed-block sums, jitter blocks counted from
    the first packet); the final RFC 3550 jitter is the exact record's to the bit."""
    plan = budgeted(mixed_plan(20.0))
    documents = set()
    for retire_rows in (65_536, 200, 1_000):
        monkeypatch.setattr(engine, "RETIRE_ROWS", retire_rows)
        for window_s in (None, 0.05, 0.3, 1.0):
            results = run(plan, seed=4, window_s=window_s, packets=False, memory="bounded")
            documents.add(json.dumps(results.to_dict(), sort_keys=True))
    assert len(documents) == 1
    exact = run(plan, seed=4, packets=False).to_dict()["streams"]
    bounded = json.loads(documents.pop())["streams"]
    for name, stats in exact.items():
        assert bounded[name]["jitter_final_ms"] == stats["jitter_final_ms"], name
