"""Replications: Student-t intervals by hand, settled verdicts, the CLI, and coverage."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from netsim import load_scenario_text
from netsim.plan import LinkSpec, NetworkPlan, SizeModel, StreamSpec
from netsim.replications import Replicated, interval, replicate

from .test_cli import medlink, write

SMALL = """\
name: small
seed: 3
duration: 10s
REPLICATIONS
network:
  links:
    up: {capacity: 10Mbps, delay: 5ms, jitter: 1ms, loss: 1%}
streams:
  - {name: probe, type: poisson, packet_size: 1000B, rate: 400pps, path: [up]}
budgets:
  - {stream: probe, latency: LIMIT, percentile: 99, max_loss: 5%}
"""


def small(limit="50ms", replications=""):
    return SMALL.replace("LIMIT", limit).replace("REPLICATIONS", replications)


def test_interval_by_hand():
    """[1, 2, 3]: mean 2, s = 1, t(2, 0.975) = 4.3027: half-width 4.3027 / sqrt(3) = 2.4841."""
    stats = interval([1.0, 2.0, 3.0])
    assert stats["mean"] == 2.0 and stats["n"] == 3
    assert stats["half_width"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert interval([5.0])["half_width"] is None and interval([])["mean"] is None


def _fake(values: list[float], limit: float) -> Replicated:
    budget = {"stream": "s", "metric": "latency_p99", "unit": "ms", "limit": limit}
    runs = [
        {"seed": i, "pass": v <= limit, "budgets": [{**budget, "value": v, "pass": v <= limit}],
         "streams": {}}
        for i, v in enumerate(values)
    ]  # fmt: skip
    return Replicated(seeds=list(range(len(values))), runs=runs)


def test_a_verdict_is_settled_only_when_the_interval_clears_the_limit():
    """Interval [8, 12] against 20: settled pass; against 10: unsettled; against 5: settled fail."""
    values = [9.0, 10.0, 11.0]  # mean 10, half-width 2.48
    b = _fake(values, 20.0).budgets()[0]
    assert b["pass"] and b["settled"] and b["runs_passed"] == 3
    b = _fake(values, 10.0).budgets()[0]
    assert b["pass"] and not b["settled"]
    b = _fake(values, 5.0).budgets()[0]
    assert not b["pass"] and b["settled"]


def test_replications_are_independent_seeds_and_reproducible():
    """Seeds seed..seed+n-1; the same call gives the same figures; seeds differ in draws."""
    plan = load_scenario_text(small()).plan
    a, b = replicate(plan, 3), replicate(plan, 3)
    assert a.seeds == [3, 4, 5] and a.to_dict() == b.to_dict()
    p99 = [r["streams"]["probe"]["latency_ms"]["p99"] for r in a.runs]
    assert len(set(p99)) == 3


def test_run_with_replications_writes_intervals(tmp_path, capsys):
    """`medlink run --replications 4`: the table of intervals, results.json 'replications'."""
    path = write(tmp_path, small(), "s.yaml")
    code, stdout, _ = medlink(capsys, "run", path, "--out", tmp_path / "o", "--replications", "4")
    assert code == 0, stdout
    assert "4 replications, seeds 3..6" in stdout and "±" in stdout
    document = json.loads((tmp_path / "o" / "results.json").read_text())
    section = document["replications"]
    assert section["n"] == 4 and section["seeds"] == [3, 4, 5, 6]
    assert {b["metric"] for b in section["budgets"]} == {"latency_p99", "loss_rate"}
    assert document["pass"] is True
    html = (tmp_path / "o" / "report.html").read_text()
    assert 'id="replications"' in html and "4 of 4" in html
    assert "budgets hold on the mean of 4 replications" in html


def test_scenario_replications_field_and_failing_verdict(tmp_path, capsys):
    """`replications: 3` in the file; a limit nobody meets fails, settled (exit 1)."""
    path = write(tmp_path, small("5ms", "replications: 3"), "s.yaml")
    code, stdout, _ = medlink(capsys, "run", path, "--out", tmp_path / "o", "--no-report")
    assert code == 1 and "3 replications" in stdout
    budget = json.loads((tmp_path / "o" / "results.json").read_text())["replications"]["budgets"]
    latency = next(b for b in budget if b["metric"] == "latency_p99")
    assert not latency["pass"] and latency["settled"]


@pytest.mark.slow
def test_intervals_cover_the_true_mean_about_95_percent_of_the_time():
    """M/D/1 at load 0.5: Pollaczek-Khinchine mean wait rho S / (2 (1 - rho)) plus S.

    200 intervals of 5 replications (10 s at 500 packets/s each) must cover the analytic mean
    latency in 95 % of cases: the binomial standard error over 200 is 1.5 %, so 88-99 % is
    over four of them (the per-run means are close to normal; the t-interval is then exact).
    """
    service = 1000 * 8 / 8e6  # 1 ms for 1000 B at 8 Mbit/s
    rate = 500.0
    rho = rate * service
    expected_ms = (service + rho * service / (2 * (1 - rho))) * 1e3
    link = LinkSpec("l", capacity_bps=8e6)
    stream = StreamSpec("s", "poisson", rate, SizeModel("constant", 1000.0), ("l",))
    plan = NetworkPlan("md1", 10.0, {"l": link}, (stream,), drain_s=1.0)
    covered = 0
    for k in range(200):
        rep = replicate(plan, 5, seed=1000 + 5 * k)
        stats = rep.streams()["s"]["latency_mean_ms"]
        covered += stats["low"] <= expected_ms <= stats["high"]
    assert 0.88 <= covered / 200 <= 0.99, covered
    assert np.isfinite(expected_ms)


@pytest.mark.parametrize("value", ["0", "'3'", "2.5"])
def test_bad_replications_is_a_one_line_error(value):
    """replications takes a whole number >= 1, reported at its line."""
    from netsim.errors import ScenarioError

    with pytest.raises(ScenarioError) as info:
        load_scenario_text(small(replications=f"replications: {value}"), "s.yaml")
    assert info.value.line == 4 and info.value.field == "replications"
