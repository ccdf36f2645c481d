"""``medlink sweep``: the PATH and VALUES grammar, grids, resume, determinism, Dask."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
from pathlib import Path

import pytest

from netsim.sweep import SweepInputError, parse_path, parse_values, sweep_main

SMALL = """\
name: small
seed: 3
duration: 20s
network:
  links:
    up: {capacity: 10Mbps, delay: 5ms, jitter: 1ms, loss: 1%}
streams:
  - {name: probe, type: poisson, packet_size: 1000B, rate: 400pps, path: [up]}
budgets:
  - {stream: probe, latency: 12ms, percentile: 99, max_loss: 5%}
"""
GRID = ["network.links.up.capacity=4Mbps,20Mbps", "streams[0].rate=100pps,400pps"]


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SMALL)
    return path


def sweep(scenario: Path, out: Path, params=GRID, **options) -> tuple[int, str, str]:
    """Run a 5 s sweep; return (exit code, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    options = {"replications": 2, "duration": "5s", "workers": 1, **options}
    code = sweep_main(scenario, params, out=out, out_stream=stdout, err_stream=stderr, **options)
    return code, stdout.getvalue(), stderr.getvalue()


def test_values_grammar():
    """Lists, unit ranges (stop included on the grid), lin and log, YAML scalars."""
    assert parse_values("10Mbps,20Mbps,50Mbps") == ["10Mbps", "20Mbps", "50Mbps"]
    assert parse_values("1,2.5,true") == [1, 2.5, True]
    assert parse_values("100km:3000km:500km") == [f"{d}km" for d in range(100, 3001, 500)]
    assert parse_values("100:1100:500km") == ["100km", "600km", "1100km"]
    assert parse_values("0.1:0.3:0.1") == [0.1, 0.2, 0.3]
    assert parse_values("10ms:0ms:-5ms") == ["10ms", "5ms", "0ms"]
    assert parse_values("lin(0,1,5)") == [0, 0.25, 0.5, 0.75, 1]
    assert parse_values("log(1km,1000km,4)") == ["1km", "10km", "100km", "1000km"]
    assert len(parse_values("log(1km,3000km,6)")) == 6
    for bad in ("1:2", "1km:2ms:1km", "1:5:0", "5:1:1", "lin(1,2)", "log(0,1,3)", "a,,b"):
        with pytest.raises(SweepInputError):
            parse_values(bad)


def test_path_grammar():
    """Dotted keys, list indices, quoted keys; the inverse of the loader's field names."""
    assert parse_path("network.links.radio-up.capacity") == (
        "network",
        "links",
        "radio-up",
        "capacity",
    )
    assert parse_path("ambulance.modems[0].cells.spacing") == (
        "ambulance",
        "modems",
        0,
        "cells",
        "spacing",
    )
    assert parse_path("network.links['wan.1'].delay") == ("network", "links", "wan.1", "delay")
    for bad in ("", "[0].rate", ".name", "streams[x]", "a..b", "a b"):
        with pytest.raises(SweepInputError):
            parse_path(bad)


BAD_PARAMS = [
    ("network.links.upp.capacity=1Mbps", r"^--param network.links.upp.capacity: no such field"),
    ("streams[3].rate=1pps", r"^--param streams\[3\].rate: no such field: streams has 1 "),
    (
        "network.links.up.capacity=fast,10Mbps",
        r"^--param network.links.up.capacity=fast: .*s\.yaml: network\.links\.up\.capacity: ",
    ),
    ("network.links.up.capcity=1Mbps", r"unknown key 'capcity'"),
    ("network.links.up.capacity", r"expected PATH=VALUES"),
]


@pytest.mark.parametrize(("param", "expected"), BAD_PARAMS)
def test_bad_input_exits_2_and_writes_nothing(scenario, tmp_path, param, expected):
    """A bad path or a value the loader rejects: exit 2, one line, no folder made."""
    out = tmp_path / "out"
    code, stdout, stderr = sweep(scenario, out, [param])
    assert code == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1 and stderr.startswith("medlink: error: ")
    assert re.search(expected, stderr.removeprefix("medlink: error: ")), stderr
    assert not out.exists()


def test_grid_with_replications(scenario, tmp_path):
    """2 x 2 grid x 2 replications: 8 run files, 4 combinations with CIs and pass rates;
    a lower capacity gives a higher latency."""
    out = tmp_path / "out"
    code, stdout, _ = sweep(scenario, out)
    assert code == 1  # 4 Mbit/s cannot carry 400 packets/s of 1000 B
    assert len(list((out / "runs").glob("*.json"))) == 8
    doc = json.loads((out / "sweep.json").read_text())
    combos = doc["combinations"]
    assert len(combos) == 4 and doc["runs"] == 8
    assert [c["params"]["network.links.up.capacity"] for c in combos] == ["4Mbps"] * 2 + [
        "20Mbps"
    ] * 2
    for c in combos:
        assert c["n"] == 2 and c["seeds"] == [3, 4] and 0.0 <= c["pass_rate"] <= 1.0
        latency = c["budgets"][0]
        assert latency["id"] == "probe.latency_p99" and latency["limit"] == 12.0
        v = latency["value"]
        assert v["n"] == 2 and v["low"] < v["mean"] < v["high"]
    slow, fast = combos[1], combos[3]  # 400 pps at 4 and 20 Mbit/s
    assert slow["streams"]["probe"]["latency_p50_ms"]["mean"] > (
        fast["streams"]["probe"]["latency_p50_ms"]["mean"] + 1.0
    )
    assert slow["pass_rate"] == 0.0 and fast["pass_rate"] == 1.0
    assert "UNSAFE" in stdout and "safe" in stdout
    run = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert {"params", "seed", "pass", "streams", "budgets", "workloads"} <= set(run)
    assert "packets" not in run and "series" not in run
    csv_lines = (out / "sweep.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and csv_lines[0].startswith("network.links.up.capacity,")
    assert {p.name for p in out.glob("*.png")} == {"probe.latency_p99.png", "probe.loss_rate.png"}


def test_resume_runs_only_what_is_missing(scenario, tmp_path):
    """After losing sweep.json and 3 run files, only those 3 runs happen again."""
    out = tmp_path / "out"
    sweep(scenario, out, plots=False)
    before = json.loads((out / "sweep.json").read_text())
    runs = sorted((out / "runs").glob("*.json"))
    (out / "sweep.json").unlink()
    for path in runs[:3]:
        path.unlink()
    kept = {p: p.stat().st_mtime_ns for p in runs[3:]}
    code, stdout, _ = sweep(scenario, out, plots=False)
    assert code == 1
    assert "reused 5 of 8 runs" in stdout
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert json.loads((out / "sweep.json").read_text()) == before


def test_same_results_whatever_the_workers(scenario, tmp_path):
    """One worker (in process) and two worker processes write byte-identical sweep.json."""
    one, two = tmp_path / "one", tmp_path / "two"
    sweep(scenario, one, plots=False, workers=1)
    sweep(scenario, two, plots=False, workers=2)
    assert (one / "sweep.json").read_bytes() == (two / "sweep.json").read_bytes()
    assert (one / "sweep.csv").read_bytes() == (two / "sweep.csv").read_bytes()


@pytest.mark.slow
def test_a_real_dask_cluster_gives_the_local_results(scenario, tmp_path):
    """A Dask distributed cluster (two worker processes on loopback, as `dask scheduler`
    and `dask worker` would start them) writes the sweep.json and sweep.csv of local
    worker processes, byte for byte. Needs the dask extra: skipped without it, except in CI
    (MEDLINK_REQUIRE_DASK=1), which installs it for the slow tests."""
    if os.environ.get("MEDLINK_REQUIRE_DASK") == "1":
        import distributed
    else:
        distributed = pytest.importorskip("distributed")
    local, remote = tmp_path / "local", tmp_path / "dask"
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        code, _, stderr = sweep(scenario, remote, plots=False, scheduler=address)
    assert code in (0, 1), stderr
    sweep(scenario, local, plots=False, workers=2)
    assert (local / "sweep.json").read_bytes() == (remote / "sweep.json").read_bytes()
    assert (local / "sweep.csv").read_bytes() == (remote / "sweep.csv").read_bytes()
    assert len(list((remote / "runs").glob("*.json"))) == 8


def test_sample_draws_seeded_points(scenario, tmp_path):
    """--sample N runs N distinct grid points, the same ones for the same seed."""
    params = ["network.links.up.capacity=5Mbps:50Mbps:5Mbps"]
    first = sweep(scenario, tmp_path / "a", params, sample=3, seed=7, plots=False)
    sweep(scenario, tmp_path / "b", params, sample=3, seed=7, plots=False)
    assert first[0] in (0, 1)
    a = json.loads((tmp_path / "a" / "sweep.json").read_text())
    b = json.loads((tmp_path / "b" / "sweep.json").read_text())
    points = [c["params"] for c in a["combinations"]]
    assert len(points) == 3 and len({json.dumps(p) for p in points}) == 3
    assert points == [c["params"] for c in b["combinations"]]


@pytest.mark.skipif(importlib.util.find_spec("dask") is not None, reason="dask is installed")
def test_scheduler_without_dask(scenario, tmp_path):
    """--scheduler without Dask: exit 2 and the pip command, before anything runs."""
    code, _, stderr = sweep(scenario, tmp_path / "out", scheduler="tcp://127.0.0.1:8786")
    assert code == 2 and "pip install 'medlink[dask]'" in stderr
    assert len(stderr.splitlines()) == 1 and not (tmp_path / "out").exists()


def test_scheduler_uses_the_client_executor(scenario, tmp_path, monkeypatch):
    """With --scheduler, runs go through ``Client(address).get_executor()`` (a stand-in)."""
    import sys
    import types
    from concurrent.futures import ThreadPoolExecutor

    seen = []

    class Client:
        def __init__(self, address):
            seen.append(address)

        def get_executor(self):
            return ThreadPoolExecutor(2)

        def close(self):
            seen.append("closed")

    dask = types.ModuleType("dask")
    distributed = types.ModuleType("dask.distributed")
    distributed.Client = Client
    dask.distributed = distributed
    monkeypatch.setitem(sys.modules, "dask", dask)
    monkeypatch.setitem(sys.modules, "dask.distributed", distributed)
    out = tmp_path / "out"
    code, _, _ = sweep(scenario, out, GRID[:1], plots=False, scheduler="tcp://h:8786")
    assert code == 1 and seen == ["tcp://h:8786", "closed"]
    assert len(list((out / "runs").glob("*.json"))) == 4
