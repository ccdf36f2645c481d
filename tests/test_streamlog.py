"""Runs without a packet log (``packets=False``): the lean per-stream record gives the same
statistics as the full log, to the bit, and the engine's buffer stays window-sized."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from netsim import engine
from netsim.columns import stream_columns
from netsim.engine import run, simulate
from netsim.packetlog import PacketLog
from netsim.scenario import load_scenario
from netsim.streamlog import StreamLog

from .test_columns import assert_same, mixed_plan

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def document(results) -> str:
    return json.dumps(results.to_dict(), sort_keys=True)


@pytest.fixture
def small_retire(monkeypatch):
    """Retire final rows in stretches of 200 (the default is 65,536), so that a short run
    retires, compacts and shifts the queued packets' ids many times."""
    monkeypatch.setattr(engine, "RETIRE_ROWS", 200)
    held: list[int] = []
    retire = engine._Run.retire

    def recording(self, final=False):
        held.append(self.log.n)
        return retire(self, final)

    monkeypatch.setattr(engine._Run, "retire", recording)
    return held


@pytest.mark.parametrize("window_s", [None, 0.05])
def test_lean_record_gives_the_full_logs_statistics_and_columns(small_retire, window_s):
    plan = mixed_plan(30.0)
    full = run(plan, seed=4, window_s=window_s)
    lean = run(plan, seed=4, window_s=window_s, packets=False)
    assert isinstance(full.packets, PacketLog) and isinstance(lean.packets, StreamLog)
    assert len(lean.packets) == len(full.packets)
    assert document(lean) == document(full)
    a, b = stream_columns(plan, full.packets), stream_columns(plan, lean.packets)
    assert a.keys() == b.keys()
    for name in a:
        for x, y in zip(a[name], b[name], strict=True):
            assert_same(x, y)
    # the run reordered, lost, dropped and gated packets, and retired many times
    fates = np.bincount(full.packets.fate, minlength=4)
    assert fates[1] > 0 and fates[2] > 0
    if window_s is not None:  # the default window holds this whole run
        assert len(small_retire) > 20


def test_the_engine_buffer_holds_windows_not_the_run(small_retire):
    plan = mixed_plan(60.0)
    sim = simulate(plan, seed=4, window_s=0.5, packets=False)
    total = len(sim.packets)
    # ~400 packets/s: half a second's packets plus the stretch retired at once, plus those
    # held behind the oldest queued packet (the 20 ms + jitter links), not the 24k of the run
    assert total > 20_000
    assert max(small_retire) < 1_500, max(small_retire)


@pytest.mark.parametrize("name", ["ambulance-bonded", "webrtc-vitals-modes"])
def test_shipped_scenarios_and_workloads_agree(small_retire, name):
    loaded = load_scenario(SCENARIOS / f"{name}.yaml")
    plan = dataclasses.replace(loaded.plan, duration_s=8.0)
    full = run(plan, window_s=0.1, packets=True)
    lean = run(plan, window_s=0.1, packets=False)
    assert document(lean) == document(full)
    dump = lambda r: json.dumps(loaded.judge(r), sort_keys=True, default=str)  # noqa: E731
    assert dump(lean) == dump(full)
    assert len(small_retire) > 3


def test_the_lean_record_names_what_it_does_not_keep():
    plan = mixed_plan(5.0)
    log = run(plan, seed=1, packets=False).packets
    with pytest.raises(AttributeError, match="--packets"):
        log.t_recv_s  # noqa: B018
    video = log.stream("video")
    assert video.seq is None and log.stream("vitals@a").seq is not None
    assert video.size_bytes.dtype == np.int32
    again = pickle.loads(pickle.dumps(log))
    assert len(again) == len(log)
    assert_same(again.stream("video").t_recv_s, video.t_recv_s)


def test_cli_packets_are_written_in_windows_and_equal_the_full_logs(
    tmp_path, capsys, monkeypatch, small_retire
):
    """``medlink run --packets`` streams each window's final packets to the files; they equal
    the files written from the full packet log of the API run, row for row."""
    pq = pytest.importorskip("pyarrow.parquet")
    from netsim.cli import main
    from netsim.files import write_packets_csv, write_packets_parquet

    monkeypatch.setattr(engine, "default_window", lambda plan: 0.25)
    scenario = SCENARIOS / "ambulance-bonded.yaml"
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--duration", "6s", "--packets", "--out", str(out)])
    capsys.readouterr()
    assert code in (0, 1)
    assert len(small_retire) > 10  # many stretches were written
    plan = dataclasses.replace(load_scenario(scenario).plan, duration_s=6.0)
    full = run(plan, window_s=0.25)
    write_packets_csv(tmp_path / "full.csv.gz", full.packets)
    write_packets_parquet(tmp_path / "full.parquet", full.packets)
    assert (out / "packets.csv.gz").read_bytes() == (tmp_path / "full.csv.gz").read_bytes()
    streamed = pq.read_table(out / "packets.parquet")
    assert streamed.num_rows == len(full.packets) > 1000
    assert streamed.equals(pq.read_table(tmp_path / "full.parquet"))
    doc = json.loads((out / "results.json").read_text())
    assert doc["files"][:3] == ["results.json", "packets.csv.gz", "packets.parquet"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_an_interrupted_run_leaves_no_packet_files(tmp_path, monkeypatch):
    """A run that fails half-way removes its temporary packet files and keeps earlier ones."""
    from netsim.files import packet_files

    plan = mixed_plan(20.0)
    (tmp_path / "packets.csv.gz").write_bytes(b"earlier")
    calls = []

    def progress(t, end):
        calls.append(t)
        if t > 5.0:
            raise KeyboardInterrupt

    names = tuple(s.name for s in plan.streams)
    with pytest.raises(KeyboardInterrupt):
        with packet_files(tmp_path, names, tuple(plan.links), parquet=False) as sink:
            run(plan, window_s=0.5, packets=False, sink=sink, progress=progress)
    assert calls and sorted(p.name for p in tmp_path.iterdir()) == ["packets.csv.gz"]
    assert (tmp_path / "packets.csv.gz").read_bytes() == b"earlier"


def test_a_sink_needs_a_run_without_a_packet_log():
    with pytest.raises(ValueError, match="packets=False"):
        simulate(mixed_plan(1.0), sink=lambda columns, count: None)
