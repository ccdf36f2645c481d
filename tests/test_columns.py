"""The statistics' lean paths equal the plain computations they replace, value for value.

``netsim.columns.stream_packets`` gathers each stream from the log's stretches and keeps only
what the statistics read; the jitter takes packets by arrival without a full argsort; the plot
series and the ambulance's per-km figures find time bins and kms as slices. Each is checked
here against the straightforward computation (fancy indexing, ``np.unique``, a stable argsort,
per-bin masks), with exact equality: results.json must not change by a bit.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from netsim import run
from netsim.columns import stream_columns, stream_packets
from netsim.packetlog import DELIVERED
from netsim.plan import (
    JitterModel,
    LinkSpec,
    LossModel,
    NetworkPlan,
    SizeModel,
    StreamGate,
    StreamSpec,
)
from netsim.series import QUANTILE_GRID, _stream_bins, build_series
from netsim.stats import disordered_blocks, jitter_in_arrival_order, rfc3550_jitter

SIZE = SizeModel("uniform", min_bytes=100, max_bytes=1400)


def mixed_plan(duration: float = 40.0) -> NetworkPlan:
    """Grouped copies (one gated, so its sequence numbers have gaps) beside a reordering
    video stream and a second plain stream: the log interleaves them window by window."""
    jitter = JitterModel("exponential", mean_s=0.004, reorder=True)
    links = {
        "a": LinkSpec(
            "a", capacity_bps=2e6, delay_s=0.02, jitter=jitter, loss=LossModel.iid(0.02),
            outages=((10.0, 14.0),), buffer_limit=30_000, buffer_kind="bytes",
        ),
        "b": LinkSpec("b", delay_s=0.05, loss=LossModel.iid(0.1)),
    }  # fmt: skip
    streams = (
        StreamSpec("vitals@a", "cbr", 50.0, SIZE, ("a",), source="vitals", group="vitals"),
        StreamSpec(
            "vitals@b", "poisson", 50.0, SIZE, ("b",), source="vitals", group="vitals",
            gate=StreamGate("a", "down", detect_s=0.5),
        ),
        StreamSpec("video", "poisson", 300.0, SIZE, ("a",)),
        StreamSpec("voice", "cbr", 50.0, SIZE, ("b",)),
    )  # fmt: skip
    return NetworkPlan("mixed", duration, links, streams, drain_s=2.0)


def reference_columns(plan: NetworkPlan, log) -> dict[str, tuple]:
    """The columns as computed before the lean paths: fancy indexing and np.unique."""
    in_group = {s.name for s in plan.streams if s.group is not None}
    out: dict[str, tuple] = {}
    for name in log.stream_names:
        rows = np.flatnonzero(log.stream == log.stream_names.index(name))
        out[name] = (
            log.t_send_s[rows],
            log.t_recv_s[rows],
            log.fate[rows],
            log.size_bytes[rows],
            log.seq[rows] if name in in_group else None,
        )
    groups: dict[str, list[str]] = {}
    for stream in plan.streams:
        if stream.group is not None:
            groups.setdefault(stream.group, []).append(stream.name)
    for group, members in groups.items():
        out[group] = reference_merge([out[m] for m in members])
    return out


def reference_merge(columns: list[tuple]) -> tuple:
    seq = np.concatenate([c[4] for c in columns])
    unique, index = np.unique(seq, return_inverse=True)
    t_send = np.empty(unique.size)
    size = np.empty(unique.size, dtype=np.int64)
    recv = np.full(unique.size, np.inf)
    fate = np.full(unique.size, 99, dtype=np.int8)
    f_all = np.concatenate([c[2] for c in columns])
    r_all = np.concatenate([c[1] for c in columns])
    t_send[index] = np.concatenate([c[0] for c in columns])
    size[index] = np.concatenate([c[3] for c in columns])
    np.fmin.at(recv, index, np.where(f_all == DELIVERED, r_all, np.inf))
    np.minimum.at(fate, index, f_all.astype(np.int8))
    recv[~np.isfinite(recv)] = np.nan
    return t_send, recv, fate, size, unique


def assert_same(a: np.ndarray | None, b: np.ndarray | None) -> None:
    if a is None or b is None:
        assert a is None and b is None
        return
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)  # NaN equals NaN here; values exactly


@pytest.fixture(scope="module", params=[None, 2.0, 0.05])
def mixed(request):
    """One stretch per stream (a view), a few long stretches, many short ones (row indices)."""
    plan = mixed_plan()
    return plan, run(plan, seed=4, window_s=request.param)


def test_stream_columns_equal_fancy_indexing_and_unique(mixed):
    plan, results = mixed
    log = results.packets
    expected = reference_columns(plan, log)
    got = stream_columns(plan, log)
    assert list(got) == list(expected)
    for name in expected:
        for a, b in zip(got[name], expected[name], strict=True):
            assert_same(a, b)
    # the gated copy skips sequence numbers: the group's merge is not the trivial one
    seq_b = got["vitals@b"][4]
    assert 0 < seq_b.size < got["vitals"][4].size


def test_stream_packets_derive_the_same_figures(mixed):
    plan, results = mixed
    log = results.packets
    expected = reference_columns(plan, log)
    for name, packets in stream_packets(plan, log).items():
        t_send, t_recv, fate, size, _ = expected[name]
        delivered = fate == DELIVERED
        assert_same(packets.fate, fate)
        assert_same(packets.latency_s, t_recv[delivered] - t_send[delivered])
        assert_same(packets.t_recv_delivered(), t_recv[delivered])
        assert packets.delivered_bytes == int(size[delivered].sum())
        assert_same(np.concatenate(list(packets.send_pieces())), t_send)
        assert_same(np.concatenate([np.empty(0), *packets.recv_pieces()]), t_recv[delivered])


def test_stream_packets_are_computed_once_per_log_and_not_pickled(mixed):
    plan, results = mixed
    log = results.packets
    assert stream_packets(plan, log) is stream_packets(plan, log)
    copy = pickle.loads(pickle.dumps(log))
    assert "_memo" not in copy.__dict__
    np.testing.assert_array_equal(copy.t_send_s, log.t_send_s)


def test_the_run_reorders_loses_and_drops_packets(mixed):
    """Not vacuous: the video's receive times are out of send order somewhere, and packets
    are lost and dropped."""
    _, results = mixed
    recv = stream_packets(results.plan, results.packets)["video"].t_recv_delivered()
    assert (recv[1:] < recv[:-1]).any()
    assert (np.bincount(results.packets.fate, minlength=3)[:3] > 0).all()


def test_group_merge_falls_back_when_sequence_numbers_repeat():
    """A copy whose numbers are not increasing takes np.unique and ufunc.at, as before."""
    from netsim.columns import _merge

    rng = np.random.default_rng(2)

    def member(seq):
        n = seq.size
        fate = rng.integers(0, 3, n).astype(np.int8)
        t_send = np.sort(rng.random(n))
        recv = np.where(fate == DELIVERED, t_send + rng.random(n), np.nan)
        size = rng.integers(50, 1500, n)
        packets = _FakePackets(t_send, fate, seq)
        return (packets, recv, size), (t_send, recv, fate, size, seq)

    for seqs in (
        [np.arange(10), np.array([0, 2, 3, 7, 12])],  # gaps, increasing: direct indexing
        [np.array([3, 1, 1, 0]), np.arange(4)],  # repeats: the fallback
        [np.array([-2, 0, 5]), np.arange(3)],  # negative: the fallback
    ):
        pairs = [member(s) for s in seqs]
        merged = _merge("g", [p for p, _ in pairs])
        t_send, recv, fate, size, unique = reference_merge([c for _, c in pairs])
        assert_same(merged.t_send(), t_send)
        assert_same(merged.t_recv(), recv)
        assert_same(merged.fate, fate)
        assert_same(merged.size(), size)
        assert_same(merged.seq, unique)


class _FakePackets:
    def __init__(self, t_send, fate, seq):
        self._t, self.fate, self.seq = t_send, fate, seq

    def t_send(self):
        return self._t


def stable_order_jitter(t_recv: np.ndarray, transit: np.ndarray) -> tuple[float, float]:
    """RFC 3550 jitter as it was computed before: a full stable argsort, then the filter."""
    from netsim.stats import smooth_exponentially

    if t_recv.size < 2:
        return math.nan, math.nan
    if (t_recv[1:] < t_recv[:-1]).any():
        transit = transit[np.argsort(t_recv, kind="stable")]
    d = np.abs(np.diff(transit))
    j = smooth_exponentially(d, 1.0 / 16.0)
    return float(j.mean()), float(j[-1])


@pytest.mark.parametrize("case", range(24))
def test_arrival_order_by_blocks_equals_a_stable_argsort(case):
    rng = np.random.default_rng(case)
    n = int(rng.integers(2, 4000))
    t_send = np.cumsum(rng.exponential(1e-3, n))
    latency = 0.02 + rng.exponential(2e-3, n)
    if case % 4 == 1:
        latency = 0.02 + np.round(rng.exponential(2e-3, n), 4)  # ties
    elif case % 4 == 2:
        latency = np.full(n, 0.02)  # in order
    elif case % 4 == 3:
        latency[rng.integers(0, n, 4)] += 1.0  # a few packets overtaken by many
    t_recv = t_send + latency
    if case % 4 == 1:
        t_recv = np.round(t_recv, 3)
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(n - 1, int(rng.integers(0, 30)))))
    bounds = [0, *np.unique(cuts).tolist(), n]

    def pieces():
        return (t_recv[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True))

    order = np.arange(n)
    for a, b, t in disordered_blocks(pieces):
        np.testing.assert_array_equal(t, t_recv[a:b])
        order[a:b] = a + np.argsort(t, kind="stable")
    np.testing.assert_array_equal(order, np.argsort(t_recv, kind="stable"))
    expected = stable_order_jitter(t_recv, latency)
    assert jitter_in_arrival_order(latency, pieces) == expected
    assert rfc3550_jitter(t_send, t_recv, latency) == expected


def test_series_bins_by_slices_equal_the_masks(mixed):
    """The fast bins (slices of send order) against _stream_bins on every packet, and the
    quantiles against np.quantile of the unsorted latencies."""
    plan, results = mixed
    series = build_series(results)
    edges = np.arange(len(series["t_s"]) + 1) * series["bin_s"]
    for name, (t_send, t_recv, fate, _, _) in reference_columns(plan, results.packets).items():
        delivered = fate == DELIVERED
        latency_ms = (t_recv - t_send) * 1e3
        sent, got, p50, p99, top = _stream_bins(t_send, latency_ms, delivered, edges)
        entry = series["streams"][name]
        assert entry["sent"] == sent.tolist()
        assert entry["delivered"] == got.tolist()
        for key, values in (("latency_p50_ms", p50), ("latency_p99_ms", p99)):
            expected = [None if not math.isfinite(v) else float(f"{v:.4g}") for v in values]
            assert entry[key] == expected
        assert entry["latency_max_ms"] == [
            None if not math.isfinite(v) else float(f"{v:.4g}") for v in top
        ]
        lat = latency_ms[delivered]
        grid = QUANTILE_GRID[(1.0 - QUANTILE_GRID) * lat.size >= 1.0]
        values = np.append(np.quantile(lat, grid), lat.max())
        assert series["quantiles"][name]["ms"] == [float(f"{v:.6g}") for v in values]


def test_series_bins_fall_back_when_send_times_are_not_sorted():
    from netsim.series import _stream_bins_sent_order

    rng = np.random.default_rng(7)
    n = 500
    t_send = rng.uniform(-1.0, 11.0, n)  # unsorted, some before 0 and after the end
    fate = rng.integers(0, 3, n).astype(np.int8)
    delivered = fate == DELIVERED
    lat = rng.exponential(20.0, int(delivered.sum()))
    edges = np.arange(11) * 1.0
    full = np.zeros(n)
    full[delivered] = lat
    expected = _stream_bins(t_send, full, delivered, edges)
    for sort in (False, True):
        times = np.sort(t_send) if sort else t_send
        if sort:
            expected = _stream_bins(times, full, delivered, edges)
        packets = _SeriesPackets(times, fate)
        got = _stream_bins_sent_order(packets, lat.copy(), edges)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)


class _SeriesPackets:
    def __init__(self, t_send, fate):
        self._t, self.fate = t_send, fate

    def t_send(self):
        return self._t

    def send_pieces(self):
        return (self._t[a : a + 64] for a in range(0, self._t.size, 64))


def test_per_km_slices_equal_the_masks():
    """The ambulance's per-km figures by slices of send order, against masks per km; and
    the masks again when the send times are not in order."""
    from ambulance.workload import _km_of, _per_km_stream
    from netsim.mobility import Route

    route = Route(np.array([[0.0, 0.0], [2500.0, 0.0], [2500.0, 1800.0]]), speed_mps=10.0)
    n_km = max(1, int(math.ceil(route.length_m / 1000.0)))
    rng = np.random.default_rng(3)
    n = 3000
    for ordered in (True, False):
        t_send = np.sort(rng.uniform(0.0, 500.0, n))
        if not ordered:
            t_send = rng.permutation(t_send)
        fate = rng.integers(0, 3, n).astype(np.int8)
        ok = fate == 0
        latency_s = rng.exponential(0.03, int(ok.sum()))
        packets = _KmPackets(t_send, fate, latency_s)
        got = _per_km_stream(route, n_km, packets)
        km = _km_of(route, t_send, n_km)
        sent = np.bincount(km, minlength=n_km)
        delivered = np.bincount(km[ok], minlength=n_km)
        latency = latency_s * 1e3
        p99 = []
        for k in range(n_km):
            values = latency[km[ok] == k]
            p99.append(float(np.percentile(values, 99)) if values.size else None)
        assert got["sent"] == sent.tolist()
        assert got["loss"] == [
            None if s == 0 else float(1 - d / s) for s, d in zip(sent, delivered, strict=True)
        ]
        assert got["latency_p99_ms"] == p99


class _KmPackets:
    def __init__(self, t_send, fate, latency_s):
        self._t, self.fate, self.latency_s = t_send, fate, latency_s

    def t_send(self):
        return self._t

    def send_pieces(self):
        return (self._t[a : a + 700] for a in range(0, self._t.size, 700))


def test_piece_sizes_do_not_change_results(monkeypatch):
    """Gathering and ordering a few hundred rows at a time (instead of 2^20) changes nothing
    in the results document."""
    import netsim.columns
    import netsim.stats

    plan = mixed_plan(20.0)
    expected = run(plan, seed=9, window_s=2.0).to_dict()
    monkeypatch.setattr(netsim.columns, "CHUNK", 97)
    monkeypatch.setattr(netsim.stats, "ORDER_CHUNK", 131)
    assert run(plan, seed=9, window_s=2.0).to_dict() == expected
