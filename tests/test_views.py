"""The data behind the views: the plot series in results.json, the progress bar, Parquet."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from netsim import load_scenario_text, run
from netsim.capacity import RateSchedule
from netsim.files import write_packets_parquet
from netsim.plan import LinkSpec, NetworkPlan, SizeModel, StreamSpec
from netsim.progress import progress_bar
from netsim.series import bin_width

from .test_cli import medlink, write

SMALL = """\
name: small
seed: 3
duration: 20s
network:
  links:
    up: {capacity: 10Mbps, delay: 5ms, jitter: 1ms, loss: 1%}
streams:
  - {name: probe, type: poisson, packet_size: 1000B, rate: 400pps, path: [up]}
  - {name: beat, type: cbr, packet_size: 100B, rate: 10pps, path: [up]}
"""


@pytest.mark.parametrize(
    ("duration", "expected"),
    [(20.0, 0.05), (600.0, 1.0), (3600.0, 10.0), (0.1, 0.001), (1000.0, 2.0), (7200.0, 20.0)],
)
def test_bin_width_by_hand(duration, expected):
    """The smallest 1-2-5 step with at most 600 bins: 20 s / 600 = 0.033 -> 0.05 s, ..."""
    assert bin_width(duration) == pytest.approx(expected)


def test_series_adds_up_to_the_stream_figures():
    """Per-bin counts sum to the stream's totals; the last quantile is the maximum latency."""
    results = run(load_scenario_text(SMALL).plan)
    document = results.to_dict()
    series = document["series"]
    assert series["bin_s"] == 0.05 and len(series["t_s"]) == 400
    for name, stats in document["streams"].items():
        binned = series["streams"][name]
        assert sum(binned["sent"]) == stats["packets_sent"]
        assert sum(binned["delivered"]) == stats["packets_delivered"]
        quantiles = series["quantiles"][name]
        assert quantiles["p"][-1] == 1.0
        assert quantiles["ms"][-1] == pytest.approx(stats["latency_ms"]["max"], rel=1e-5)
        assert quantiles["p"] == sorted(quantiles["p"]) and quantiles["ms"] == sorted(
            quantiles["ms"]
        )
        # Only quantiles the sample supports: at least one packet beyond each.
        assert (1 - quantiles["p"][-2]) * stats["packets_delivered"] >= 1
    assert series["links"] == {} and series["events"] == []


def test_series_capacity_of_a_schedule_by_hand():
    """A link at 1 Mbit/s for 1 s, then 3 Mbit/s: 0.05 s bins show 1 then 3 (and 2 across)."""
    curve = RateSchedule(np.array([0.0, 1.025]), np.array([1e6, 3e6]))
    stream = StreamSpec("s", "cbr", 10.0, SizeModel("constant", 100.0), ("l",))
    plan = NetworkPlan("cap", 20.0, {"l": LinkSpec("l", curve=curve)}, (stream,))
    capacity = run(plan).to_dict()["series"]["links"]["l"]["capacity_mbps"]
    assert len(capacity) == 400
    assert capacity[:20] == [1.0] * 20
    assert capacity[20] == pytest.approx(2.0)  # half of [1.0, 1.05) at each rate
    assert capacity[21:] == [3.0] * 379


def test_progress_bar_is_quiet_off_a_terminal_and_shows_time_on_one():
    """No bar into a pipe; forced, it shows the simulated time reached."""
    with progress_bar("x", 10.0, stream=io.StringIO()) as update:
        assert update is None
    out = io.StringIO()
    with progress_bar("drive", 10.0, stream=out, force=True) as update:
        update(5.0, 10.0)
        update(10.0, 10.0)
    assert "simulated 10 / 10 s" in out.getvalue()


def test_cli_run_prints_no_progress_into_a_pipe(tmp_path, capsys):
    """Under pytest stderr is not a terminal: a run writes nothing there."""
    code, _, stderr = medlink(capsys, "run", write(tmp_path, SMALL), "--out", tmp_path / "o")
    assert code == 0 and stderr == ""


def test_parquet_holds_the_packet_log(tmp_path):
    """packets.parquet has every packet with its fate and link, equal to the log."""
    pq = pytest.importorskip("pyarrow.parquet")
    results = run(load_scenario_text(SMALL).plan)
    log = results.packets
    write_packets_parquet(tmp_path / "p.parquet", log)
    table = pq.read_table(tmp_path / "p.parquet").to_pydict()
    assert table["seq"] == log.seq.tolist()
    assert table["stream"] == [log.stream_names[i] for i in log.stream]
    recv = [np.nan if v is None else v for v in table["t_recv_s"]]
    np.testing.assert_array_equal(np.array(recv), log.t_recv_s)
    fates = {"delivered": 0, "lost": 1, "dropped": 2, "in_flight": 3}
    assert [fates[f] for f in table["fate"]] == log.fate.tolist()
    lost_rows = log.link >= 0
    assert all(table["link"][i] == "up" for i in np.flatnonzero(lost_rows))
    assert all(table["link"][i] is None for i in np.flatnonzero(~lost_rows))


def test_cli_packets_writes_csv_and_parquet(tmp_path, capsys):
    """--packets writes packets.csv.gz, and packets.parquet when pyarrow is installed."""
    pytest.importorskip("pyarrow")
    out = tmp_path / "o"
    code, _, _ = medlink(capsys, "run", write(tmp_path, SMALL), "--out", out, "--packets")
    assert code == 0
    assert (out / "packets.csv.gz").exists() and (out / "packets.parquet").exists()


def test_run_writes_a_report_unless_told_not_to(tmp_path, capsys):
    """`medlink run` writes report.html beside results.json and lists it; --no-report not."""
    scenario = write(tmp_path, SMALL)
    code, stdout, _ = medlink(capsys, "run", scenario, "--out", tmp_path / "a")
    assert code == 0 and (tmp_path / "a" / "report.html").exists()
    assert f"report: {tmp_path / 'a' / 'report.html'}" in stdout
    document = json.loads((tmp_path / "a" / "results.json").read_text())
    assert "report.html" in document["files"]
    code, _, _ = medlink(capsys, "run", scenario, "--out", tmp_path / "b", "--no-report")
    assert code == 0 and not (tmp_path / "b" / "report.html").exists()


def test_plot_redraws_from_results_json_alone(tmp_path, capsys):
    """`medlink plot` needs only results.json: every figure and the report, in each format."""
    scenario = write(tmp_path, SMALL)
    medlink(capsys, "run", scenario, "--out", tmp_path / "run", "--no-report")
    results_json = tmp_path / "run" / "results.json"
    for fmt in ("png", "svg", "pdf"):
        out = tmp_path / fmt
        code, stdout, _ = medlink(capsys, "plot", results_json, "--out", out, "--format", fmt)
        assert code == 0
        figures = ("latency-cdf", "latency-ccdf", "latency-over-time")  # no budgets: no margins
        expected = sorted([f"{key}.{fmt}" for key in figures] + ["report.html"])
        assert sorted(p.name for p in out.iterdir()) == expected
        assert stdout.count("wrote ") == len(list(out.iterdir()))
    assert (tmp_path / "png" / "latency-cdf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [("{bad", "results.json:1: not JSON"), ('{"a": 1}', "not a medlink results.json")],
)
def test_plot_rejects_what_is_not_results(tmp_path, capsys, text, message):
    """A file that is not a results.json: exit 2, one line naming it, nothing written."""
    path = tmp_path / "results.json"
    path.write_text(text)
    code, stdout, stderr = medlink(capsys, "plot", path, "--out", tmp_path / "o")
    assert code == 2 and message in stderr and len(stderr.splitlines()) == 1
    assert not (tmp_path / "o").exists() and stdout == ""
