"""Capacity traces: parsing Mahimahi and CSV throughput files, and the Mahimahi reference model.

Every trace here is a small hand-made file in ``tmp_path``; the expected values are worked out
by hand in the comments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from netsim.errors import ScenarioError
from netsim.traces import (
    MAHIMAHI_PACKET_SIZE,
    MahimahiTrace,
    ThroughputTrace,
    read_mahimahi,
    read_throughput_csv,
)

from .mahimahi_reference import simulate_mahimahi


def write(tmp_path: Path, text: str | bytes, name: str = "trace") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def error_of(reader, path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        reader(path)
    err = info.value
    assert err.file == str(path)
    assert err.field == ""
    assert "\n" not in str(err)
    return err


# --- Mahimahi: valid traces ----------------------------------------------------------------


def test_mahimahi_opportunities_period_and_mean_rate(tmp_path: Path) -> None:
    # 4 opportunities of 1504 bytes in a 5 ms period (ms 1 twice: two in that millisecond):
    # 4 * 1504 * 8 bit / 0.005 s = 9_625_600 bit/s.
    trace = read_mahimahi(write(tmp_path, "1\n1\n3\n5\n"))
    assert isinstance(trace, MahimahiTrace)
    assert trace.path == tmp_path / "trace"
    assert trace.opportunity_ms.dtype == np.int64
    assert trace.opportunity_ms.tolist() == [1, 1, 3, 5]
    assert trace.period_s == pytest.approx(0.005)
    assert trace.bytes_per_opportunity == MAHIMAHI_PACKET_SIZE == 1504
    assert trace.mean_rate_bps == pytest.approx(9_625_600.0)
    np.testing.assert_allclose(trace.opportunity_times_s(), [0.001, 0.001, 0.003, 0.005])


def test_mahimahi_one_opportunity_per_ms_is_12_mbps(tmp_path: Path) -> None:
    # 1504 B every ms = 12.032 Mbit/s, the rate of mahimahi's 12 Mbps example trace.
    trace = read_mahimahi(write(tmp_path, "".join(f"{ms}\n" for ms in range(1, 1001))))
    assert trace.period_s == pytest.approx(1.0)
    assert trace.mean_rate_bps == pytest.approx(12_032_000.0)


def test_mahimahi_accepts_trailing_blank_lines_crlf_and_no_final_newline(tmp_path: Path) -> None:
    assert read_mahimahi(write(tmp_path, "2\r\n4\r\n\r\n\n")).opportunity_ms.tolist() == [2, 4]
    assert read_mahimahi(write(tmp_path, "0\n7")).opportunity_ms.tolist() == [0, 7]
    assert read_mahimahi(write(tmp_path, "\ufeff3\n")).opportunity_ms.tolist() == [3]


def test_mahimahi_arrays_are_read_only(tmp_path: Path) -> None:
    trace = read_mahimahi(write(tmp_path, "1\n2\n"))
    with pytest.raises(ValueError):
        trace.opportunity_ms[0] = 5


# --- Mahimahi: errors ----------------------------------------------------------------------

MAHIMAHI_ERRORS = [
    # (id, text, line, part of the message)
    ("word", "1\nabc\n3\n", 2, "expected a whole number of milliseconds >= 0, got 'abc'"),
    ("decimal", "1\n2.5\n", 2, "expected a whole number of milliseconds >= 0, got '2.5'"),
    ("negative", "-3\n4\n", 1, "expected a whole number of milliseconds >= 0, got '-3'"),
    ("two-numbers", "1\n2 3\n", 2, "got '2 3'"),
    ("underscore", "1\n1_000\n", 2, "got '1_000'"),
    ("plus-sign", "+1\n", 1, "got '+1'"),
    ("too-large", "1\n99999999999999999999\n", 2, "too large"),
    ("blank-in-middle", "1\n\n3\n", 2, "blank line: expected a whole number of milliseconds"),
    ("blank-first", "\n1\n", 1, "mahimahi rejects empty lines"),
    (
        "decreasing",
        "1\n5\n5\n4\n9\n",
        4,
        "timestamps must be non-decreasing: expected >= 5 ms (line 3), got 4",
    ),
    ("empty", "", 1, "empty trace: expected one whole number of milliseconds per line"),
    ("only-blank", "\n\n", 1, "empty trace"),
    ("last-zero", "0\n0\n", 2, "expected the last timestamp, which is the period"),
]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [case[1:] for case in MAHIMAHI_ERRORS],
    ids=[case[0] for case in MAHIMAHI_ERRORS],
)
def test_mahimahi_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    err = error_of(read_mahimahi, path)
    assert err.line == line
    assert str(err).startswith(f"{path}:{line}: ")
    assert message in str(err)


def test_mahimahi_last_zero_message(tmp_path: Path) -> None:
    path = write(tmp_path, "0\n")
    assert str(error_of(read_mahimahi, path)) == (
        f"{path}:1: the trace must last a nonzero time: expected the last timestamp, which is "
        "the period the trace loops with, to be > 0 ms, got 0"
    )


def test_mahimahi_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.down"
    err = error_of(read_mahimahi, missing)
    assert err.line is None
    assert str(err) == f"{missing}: no such file"

    err = error_of(read_mahimahi, tmp_path)
    assert str(err) == f"{tmp_path}: is a directory, not a trace file"

    path = write(tmp_path, b"1\n2\n\xff3\n")
    err = error_of(read_mahimahi, path)
    assert str(err) == f"{path}:3: not UTF-8 text (byte 0xff)"


# --- CSV throughput: valid files -----------------------------------------------------------


def test_csv_with_header(tmp_path: Path) -> None:
    # Rows 1 s apart: the last holds for 1 s, period 3 s; mean (10 + 20 + 30) / 3 = 20 Mbit/s.
    trace = read_throughput_csv(write(tmp_path, "time_s,mbps\n0,10\n1,20\n2,30\n"))
    assert isinstance(trace, ThroughputTrace)
    assert trace.t_s.tolist() == [0.0, 1.0, 2.0]
    assert trace.rate_bps.tolist() == [10e6, 20e6, 30e6]
    assert trace.period_s == pytest.approx(3.0)
    assert trace.t0_s == 0.0
    assert trace.mean_rate_bps == pytest.approx(20e6)


def test_csv_without_header_shifted_and_last_row_rule(tmp_path: Path) -> None:
    # Times 5, 6, 8, 9 s: spacings 1, 2, 1, median 1 s, so the last row holds 1 s and the
    # period is 9 + 1 - 5 = 5 s. Shifted: t_s = 0, 1, 3, 4. Durations 1, 2, 1, 1 s; mean =
    # (4*1 + 8*2 + 2*1 + 6*1) / 5 = 28 / 5 = 5.6 Mbit/s.
    trace = read_throughput_csv(write(tmp_path, "5,4\n6,8\n8,2\n9,6\n"))
    assert trace.t_s.tolist() == [0.0, 1.0, 3.0, 4.0]
    assert trace.t0_s == 5.0
    assert trace.period_s == pytest.approx(5.0)
    assert trace.durations_s.tolist() == [1.0, 2.0, 1.0, 1.0]
    assert trace.mean_rate_bps == pytest.approx(5.6e6)


def test_csv_comments_blank_lines_and_header_spellings(tmp_path: Path) -> None:
    # Two rows 0.5 s apart at 1 and 3 Mbit/s: period 1 s, mean 2 Mbit/s.
    text = "# drive test, exported\ntime,throughput_mbps  # units\n\n0,1\n# gap\n0.5 , 3\r\n"
    trace = read_throughput_csv(write(tmp_path, text))
    assert trace.t_s.tolist() == [0.0, 0.5]
    assert trace.period_s == pytest.approx(1.0)
    assert trace.mean_rate_bps == pytest.approx(2e6)
    for header in ['"Time (s)","Throughput (Mbps)"', "t,rate_mbps", "seconds,Mbit/s"]:
        path = write(tmp_path, f"{header}\n0,1\n1,1\n")
        assert read_throughput_csv(path).mean_rate_bps == pytest.approx(1e6)


def test_csv_zero_rate_allowed(tmp_path: Path) -> None:
    # An outage: 0 Mbit/s for 2 of 4 s, 8 Mbit/s for the other 2: mean 4 Mbit/s.
    trace = read_throughput_csv(write(tmp_path, "0,8\n1,0\n2,0\n3,8\n"))
    assert trace.mean_rate_bps == pytest.approx(4e6)


# --- CSV throughput: errors ----------------------------------------------------------------

CSV_ERRORS = [
    # (id, text, line, part of the message)
    ("rate-word", "0,1\n1,abc\n", 2, "expected a throughput in Mbit/s >= 0, got 'abc'"),
    ("time-word", "0,1\nx,2\n", 2, "expected a time in seconds >= 0, got 'x'"),
    ("header-later", "0,1\ntime,mbps\n", 2, "expected a time in seconds >= 0, got 'time'"),
    ("negative-time", "-1,1\n0,1\n", 1, "expected a time in seconds >= 0, got '-1'"),
    (
        "decreasing",
        "0,1\n2,1\n1,1\n",
        3,
        "times must be strictly increasing: expected a time > 2 s (line 2), got '1'",
    ),
    ("repeated-time", "# c\n0,1\n0,2\n", 3, "times must be strictly increasing"),
    ("negative-rate", "0,1\n1,-2\n", 2, "expected a throughput in Mbit/s >= 0, got '-2'"),
    ("nan-rate", "0,nan\n1,1\n", 1, "got 'nan'"),
    ("inf-rate", "0,1\n1,inf\n", 2, "got 'inf'"),
    (
        "one-column",
        "0\n1\n",
        1,
        "expected 2 comma-separated columns: time in s, throughput in Mbit/s; got 1: '0'",
    ),
    ("semicolons", "0;1\n1;2\n", 1, "got 1: '0;1'"),
    ("three-columns", "0,1,2\n", 1, "got 3"),
    ("header-kbps", "time,kbps\n0,1\n1,1\n", 1, "throughput in Mbit/s second"),
    ("header-ms", "time_ms,mbps\n0,1\n1,1\n", 1, "time in seconds first"),
    ("one-row", "time,mbps\n0,5\n", 2, "expected at least 2 rows"),
    ("header-only", "time,mbps\n", 1, "got none"),
    ("empty", "", 1, "expected at least 2 rows"),
]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [case[1:] for case in CSV_ERRORS],
    ids=[case[0] for case in CSV_ERRORS],
)
def test_csv_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text, "log.csv")
    err = error_of(read_throughput_csv, path)
    assert err.line == line
    assert str(err).startswith(f"{path}:{line}: ")
    assert message in str(err)


def test_csv_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    err = error_of(read_throughput_csv, path)
    assert err.line is None
    assert str(err) == f"{path}: no such file"


# --- the Mahimahi reference on hand-worked cases -------------------------------------------


def test_reference_one_full_packet() -> None:
    # Arrives at 0.5 (now = 0): opportunity 1 sends its 1504 bytes -> departs at 1.
    assert simulate_mahimahi([1, 2, 3], [0.5], [1504]) == [1.0]


def test_reference_big_packet_spans_two_opportunities() -> None:
    # 3000 B: opp 1 sends 1504 (1496 left), opp 2 sends the 1496 -> departs at 2.
    assert simulate_mahimahi([1, 2, 3], [0.5], [3000]) == [2.0]


def test_reference_small_packets_share_an_opportunity() -> None:
    # 3 x 500 = 1500 <= 1504: all three leave in opp 1.
    assert simulate_mahimahi([1, 2, 3], [0.5, 0.5, 0.5], [500, 500, 500]) == [1.0, 1.0, 1.0]


def test_reference_remaining_bytes_carry_over() -> None:
    # Two 1000 B packets queued: opp 1 sends packet 0 (1000) and 504 B of packet 1;
    # opp 2 sends packet 1's last 496 B -> [1, 2].
    assert simulate_mahimahi([1, 2, 3], [0.2, 0.4], [1000, 1000]) == [1.0, 2.0]


def test_reference_packet_at_an_opportunity_time_cannot_use_it() -> None:
    # read_packet(now=1) runs rationalize(1) first, which burns opp 1 on an empty queue;
    # the packet is enqueued afterwards and leaves at opp 2. The same for 1.9 (now = 1);
    # a packet at 0.999 (now = 0) is queued in time for opp 1.
    assert simulate_mahimahi([1, 2, 3], [1.0], [100]) == [2.0]
    assert simulate_mahimahi([1, 2, 3], [1.9], [100]) == [2.0]
    assert simulate_mahimahi([1, 2, 3], [0.999], [100]) == [1.0]


def test_reference_unused_bytes_are_lost() -> None:
    # Packet 0 (1000 B, t=0) uses 1000 B of opp 1; its 504 B left are lost. Packet 1
    # (1000 B, t=1.5) cannot use them and leaves at opp 2 -> [1, 2].
    assert simulate_mahimahi([1, 2, 3], [0.0, 1.5], [1000, 1000]) == [1.0, 2.0]


def test_reference_idle_opportunities_are_not_banked() -> None:
    # Opps 1..3 pass with an empty queue; 3 full packets arriving at 3.5 get the next loop's
    # opportunities only: 1+3 = 4, 2+3 = 5, 3+3 = 6.
    assert simulate_mahimahi([1, 2, 3], [3.5] * 3, [1504] * 3) == [4.0, 5.0, 6.0]


def test_reference_trace_loops_with_period_last_timestamp() -> None:
    # Period 3: opportunities 1, 2, 3, then 4, 5, 6, ...: five full packets at t=0 leave at
    # 1, 2, 3, 4, 5.
    assert simulate_mahimahi([1, 2, 3], [0.0] * 5, [1504] * 5) == [1.0, 2.0, 3.0, 4.0, 5.0]
    # Period 5, opportunities at 2, 5, 7, 10, 12, ...: a packet at 7.2 (now = 7) misses 7 and
    # leaves at 10.
    assert simulate_mahimahi([2, 5], [7.2], [1504]) == [10.0]


def test_reference_repeated_timestamps_are_several_opportunities() -> None:
    # Two opportunities at ms 1, one at 2: three full packets leave at 1, 1, 2.
    assert simulate_mahimahi([1, 1, 2], [0.0] * 3, [1504] * 3) == [1.0, 1.0, 2.0]


def test_reference_trace_starting_at_zero() -> None:
    # Schedule [0, 2], period 2: opportunities at 0, 2, 2 (= 0 + 2), 4, 4, ... A packet at 0
    # (now = 0) misses opp 0, so three full packets leave at 2, 2, 4.
    assert simulate_mahimahi([0, 2], [0.0] * 3, [1504] * 3) == [2.0, 2.0, 4.0]


def test_reference_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        simulate_mahimahi([0], [0.0], [1])
    with pytest.raises(ValueError):
        simulate_mahimahi([2, 1, 3], [0.0], [1])
    with pytest.raises(ValueError):
        simulate_mahimahi([1], [1.0, 0.0], [1, 1])
    with pytest.raises(ValueError):
        simulate_mahimahi([1], [0.0], [0])
