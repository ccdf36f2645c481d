"""Unit strings at the edge: every family parses to SI, and bad values say what was expected."""

from __future__ import annotations

import math

import pytest

from netsim.units import (
    UnitError,
    format_rate,
    format_size,
    format_time,
    parse_bit_rate,
    parse_buffer,
    parse_rate,
    parse_ratio,
    parse_size,
    parse_time,
)

TIMES = [
    ("250us", 250e-6),
    ("250µs", 250e-6),
    ("20ms", 0.020),
    ("1.5s", 1.5),
    ("10min", 600.0),
    ("2h", 7200.0),
    ("100ns", 100e-9),
    (" 5 ms ", 0.005),
    (".5s", 0.5),
    ("1e3ms", 1.0),
    ("0", 0.0),
    (0, 0.0),
    ("-5ms", -0.005),  # the sign is parsed; the scenario loader rejects negative times
]
RATES = [
    ("800kbps", (800e3, "bps")),
    ("25Mbps", (25e6, "bps")),
    ("1Gbps", (1e9, "bps")),
    ("64bps", (64.0, "bps")),
    ("10Mbit/s", (10e6, "bps")),
    ("800pps", (800.0, "pps")),
    ("2kpps", (2000.0, "pps")),
    ("1.5Mpps", (1.5e6, "pps")),
]
SIZES = [
    ("1250B", 1250.0),
    ("64KB", 64_000.0),
    ("64kB", 64_000.0),
    ("1MB", 1e6),
    ("1GB", 1e9),
    ("1KiB", 1024.0),
    ("1MiB", 1024.0**2),
    ("1GiB", 1024.0**3),
]
RATIOS = [
    ("1%", 0.01),
    ("0.1%", 0.001),
    ("100%", 1.0),
    ("0%", 0.0),
    (0.01, 0.01),
    ("0.01", 0.01),
    (0, 0.0),
    (1, 1.0),
]
BUFFERS = [
    ("unlimited", (math.inf, "unlimited")),
    ("Unlimited", (math.inf, "unlimited")),
    ("64KB", (64_000.0, "bytes")),
    ("1500B", (1500.0, "bytes")),
    ("100 packets", (100.0, "packets")),
    ("1 packet", (1.0, "packets")),
    ("20p", (20.0, "packets")),
    ("30 pkts", (30.0, "packets")),
]


@pytest.mark.parametrize(("text", "seconds"), TIMES)
def test_parse_time(text, seconds):
    assert parse_time(text) == pytest.approx(seconds, rel=1e-12, abs=0)


@pytest.mark.parametrize(("text", "expected"), RATES)
def test_parse_rate(text, expected):
    value, kind = parse_rate(text)
    assert (value, kind) == (pytest.approx(expected[0], rel=1e-12), expected[1])


@pytest.mark.parametrize(("text", "expected"), [r for r in RATES if r[1][1] == "bps"])
def test_parse_bit_rate(text, expected):
    assert parse_bit_rate(text) == pytest.approx(expected[0], rel=1e-12)


@pytest.mark.parametrize(("text", "nbytes"), SIZES)
def test_parse_size(text, nbytes):
    assert parse_size(text) == nbytes


@pytest.mark.parametrize(("text", "ratio"), RATIOS)
def test_parse_ratio(text, ratio):
    assert parse_ratio(text) == pytest.approx(ratio, rel=1e-12, abs=0)


@pytest.mark.parametrize(("text", "expected"), BUFFERS)
def test_parse_buffer(text, expected):
    assert parse_buffer(text) == expected


REJECTED = [
    # (parser, value, words the message must contain)
    (parse_time, "20", "needs a unit"),
    (parse_time, 20, "needs a unit"),
    (parse_time, "20 parsecs", "unknown unit"),
    (parse_time, "20MS", "unknown unit"),
    (parse_time, "fast", "expected a time"),
    (parse_time, "", "expected a time"),
    (parse_time, True, "expected a time"),
    (parse_time, None, "expected a time"),
    (parse_time, [20], "expected a time"),
    (parse_time, math.nan, "finite"),
    (parse_time, math.inf, "finite"),
    (parse_time, "1e999s", "finite"),
    (parse_rate, "10 Mbit", "unknown unit 'Mbit'"),
    (parse_rate, "25", "needs a unit"),
    (parse_rate, "25mbps", "unknown unit"),
    (parse_rate, False, "expected a rate"),
    (parse_rate, math.nan, "finite"),
    (parse_bit_rate, "800pps", "unknown unit 'pps'"),
    (parse_bit_rate, "10", "needs a unit"),
    (parse_size, "1250", "needs a unit"),
    (parse_size, "1250b", "unknown unit"),
    (parse_size, "64Kb", "unknown unit"),
    (parse_size, True, "expected a size"),
    (parse_ratio, "101%", "between 0% and 100%"),
    (parse_ratio, 1.5, "between 0% and 100%"),
    (parse_ratio, "-1%", "between 0% and 100%"),
    (parse_ratio, -0.01, "between 0% and 100%"),
    (parse_ratio, "1 percent", "expected a ratio"),
    (parse_ratio, True, "expected a ratio"),
    (parse_ratio, math.nan, "finite"),
    (parse_buffer, 64, "expected a buffer"),
    (parse_buffer, "64", "expected a buffer"),
    (parse_buffer, "2.5 packets", "whole number"),
    (parse_buffer, "0 packets", "whole number"),
    (parse_buffer, "-3 packets", "whole number"),
    (parse_buffer, "lots", "expected a buffer"),
    (parse_buffer, True, "expected a buffer"),
]


@pytest.mark.parametrize(("parse", "value", "words"), REJECTED)
def test_rejects(parse, value, words):
    with pytest.raises(UnitError) as info:
        parse(value)
    message = str(info.value)
    assert words in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("format_", "value", "text"),
    [
        (format_time, 0.0203, "20.3ms"),
        (format_time, 1.5, "1.5s"),
        (format_time, 250e-6, "250us"),
        (format_time, 0.0, "0s"),
        (format_time, math.inf, "-"),
        (format_rate, 2.5e7, "25Mbps"),
        (format_rate, math.inf, "unlimited"),
        (format_size, 65536, "65.54KB"),
        (format_size, 1250, "1.25KB"),
    ],
)
def test_format(format_, value, text):
    assert format_(value) == text


@pytest.mark.parametrize(("text", "seconds"), [t for t in TIMES if isinstance(t[0], str)][:6])
def test_time_round_trip(text, seconds):
    assert parse_time(format_time(seconds)) == pytest.approx(seconds, rel=1e-3)
