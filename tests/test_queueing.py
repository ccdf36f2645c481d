"""Analytic ground truth: queueing theory, deterministic cases by hand, loss and jitter laws.

Statistical tolerances come from batch means: a long run's per-packet values are cut into
``BATCHES`` contiguous batches, each many relaxation times of the queue long, so the batch
means are close to independent and their standard deviation over sqrt(BATCHES) estimates the
standard error of the overall mean (Law & Kelton, *Simulation Modeling and Analysis*, §9.5.3).
A check passes within ``Z`` = 4.5 standard errors. With 25 batches the studentised error is
about Student's t with 24 degrees of freedom, so a correct engine fails a check with probability
P(|t_24| > 4.5) ~ 1.5e-4 (7e-6 where the standard error is known in closed form: binomial,
Markov-chain and renewal variances below); the seeds are fixed, so a run is reproducible. Every
check also asserts that its standard error is small against the value checked (1-3 %), so a
bias of a few percent is detected and the tolerance never becomes vacuous.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from netsim.engine import run, simulate
from netsim.plan import JitterModel, LinkSpec, LossModel, NetworkPlan, SizeModel, StreamSpec

from .plans import one_link_plan
from .reference import (
    DELIVERED,
    DROPPED,
    LOST,
    loss_bursts_by_hand,
    rfc3550_jitter_by_hand,
)

Z = 4.5
BATCHES = 25


def batch_mean(values: np.ndarray, batches: int = BATCHES) -> tuple[float, float]:
    """Mean of ``values`` (in time order) and its batch-means standard error."""
    usable = values.size - values.size % batches
    means = values[:usable].reshape(batches, -1).mean(axis=1)
    return float(values.mean()), float(means.std(ddof=1) / math.sqrt(batches))


def assert_close_statistically(
    measured: float, expected: float, se: float, max_relative_se: float, what: str
):
    assert se <= max_relative_se * abs(expected), (
        f"{what}: standard error {se:.3g} too large for a meaningful check of {expected:.6g}"
    )
    assert abs(measured - expected) <= Z * se, (
        f"{what}: measured {measured:.6g}, expected {expected:.6g}, "
        f"{(measured - expected) / se:+.2f} standard errors"
    )


def geometric_moments(mean_bytes: float) -> tuple[float, float]:
    """E[K], E[K^2] of K = ceil(X), X ~ Exp(mean): K is geometric on {1, 2, ...}.

    P(K = k) = (1 - q) q^(k-1) with q = exp(-1/mean): E[K] = 1/(1-q), E[K^2] = (1+q)/(1-q)^2.
    """
    q = math.exp(-1.0 / mean_bytes)
    return 1.0 / (1.0 - q), (1.0 + q) / (1.0 - q) ** 2


def pollaczek_khinchine_sojourn(lam: float, es: float, es2: float) -> float:
    """M/G/1 mean sojourn time: W = E[S] + lam E[S^2] / (2 (1 - rho)), rho = lam E[S].

    Pollaczek (1930), Khinchine (1932); Kleinrock, *Queueing Systems* vol. 1 (1975), ch. 5.
    """
    rho = lam * es
    return es + lam * es2 / (2.0 * (1.0 - rho))


def sojourn_times(plan: NetworkPlan, seed: int) -> np.ndarray:
    packets = simulate(plan, seed=seed).packets
    assert (packets.fate == DELIVERED).all()
    return packets.t_recv_s - packets.t_send_s


# -- M/D/1 and M/M/1 -----------------------------------------------------------------------


@pytest.mark.parametrize(("rho", "duration_s"), [(0.5, 400.0), (0.8, 1500.0)])
def test_md1_mean_sojourn_pollaczek_khinchine(rho, duration_s):
    """M/D/1: W = s + rho s / (2 (1 - rho)) (P-K with E[S^2] = s^2).

    Poisson arrivals, 1250-byte packets on 10 Mbit/s (s = 1 ms), unlimited buffer, no delay.
    rho = 0.8 gives W = 3 ms; its batches are 60 s, over 1000 relaxation times
    s / (1 - rho)^2 = 25 ms.
    """
    s = 8 * 1250 / 10e6
    plan = one_link_plan(capacity_bps=10e6, rate_pps=rho / s, duration_s=duration_s)
    mean, se = batch_mean(sojourn_times(plan, seed=101))
    expected = s + rho * s / (2 * (1 - rho))
    assert_close_statistically(mean, expected, se, 0.01, f"M/D/1 rho={rho}")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_md1_heavy_load_slow(seed):
    """M/D/1 at rho = 0.9: W = s (1 + 0.9 / 0.2) = 5.5 ms, over 3000 s (2.7 M packets)."""
    s, rho = 1e-3, 0.9
    plan = one_link_plan(capacity_bps=10e6, rate_pps=rho / s, duration_s=3000.0)
    mean, se = batch_mean(sojourn_times(plan, seed=seed))
    assert_close_statistically(mean, s + rho * s / (2 * (1 - rho)), se, 0.01, "M/D/1 rho=0.9")


def _mm1_plan(rho: float, duration_s: float, mean_bytes: float = 1250.0, **kw) -> NetworkPlan:
    size = SizeModel("exponential", mean_bytes=mean_bytes)
    es = 8 * size.mean() / 10e6
    return one_link_plan(
        capacity_bps=10e6, rate_pps=rho / es, size=size, duration_s=duration_s, **kw
    )


def test_mm1_mean_sojourn():
    """M/M/1: W = 1 / (mu - lam) at rho = 0.7 (exponential sizes, mean 1250 B, 10 Mbit/s).

    Sizes are ceil(Exp(1250 B)), geometric: the expectation uses P-K with the geometric
    E[S] and E[S^2]; it differs from 1/(mu - lam) with mu = 1/E[S] by E[S^2]/(2 E[S]^2) - 1 =
    (q - 1)/2 ~ -4e-4 of the waiting part, far below the 1% standard error cap, which the test
    also asserts.
    """
    rho, mean_bytes, capacity = 0.7, 1250.0, 10e6
    plan = _mm1_plan(rho, 1000.0, mean_bytes)
    lam = plan.streams[0].rate_pps
    ek, ek2 = geometric_moments(mean_bytes)
    assert ek == pytest.approx(SizeModel("exponential", mean_bytes=mean_bytes).mean(), rel=1e-12)
    es, es2 = 8 * ek / capacity, 64 * ek2 / capacity**2
    expected = pollaczek_khinchine_sojourn(lam, es, es2)
    mm1 = 1.0 / (1.0 / es - lam)
    assert abs(expected - mm1) / mm1 < 5e-4
    mean, se = batch_mean(sojourn_times(plan, seed=202))
    assert_close_statistically(mean, expected, se, 0.01, "M/M/1 mean sojourn")


def test_mm1_sojourn_distribution_is_exponential():
    """M/M/1 FIFO: the sojourn time T is exponential, P(T > t) = exp(-(mu - lam) t).

    (Kleinrock vol. 1, ch. 5, M/M/1 as a case of M/G/1.) Checked at t = 0.5, 1, 2 and 3 mean
    sojourns; the fraction above t is a mean of indicators, its standard error from batch
    means.
    """
    rho = 0.7
    plan = _mm1_plan(rho, 3000.0)
    lam = plan.streams[0].rate_pps
    mu = 10e6 / (8 * plan.streams[0].size.mean())
    latency = sojourn_times(plan, seed=303)
    for k in (0.5, 1.0, 2.0, 3.0):
        t = k / (mu - lam)
        mean, se = batch_mean((latency > t).astype(float))
        assert_close_statistically(mean, math.exp(-(mu - lam) * t), se, 0.03, f"P(T > {t:.4g})")


# -- deterministic cases --------------------------------------------------------------------


def test_cbr_on_idle_links_latency_is_exact():
    """No queueing: latency = sum of delays + hops * 8 size / capacity, to 1e-12 s.

    Three hops of equal capacity 10 Mbit/s, uniform sizes 100-1500 B (service <= 1.2 ms),
    CBR every 4 ms. Packet n leaves hop h at t_n + h s_n + delays, and the next packet reaches
    hop h + 1 no earlier than t_n + spacing + h s_(n+1) >= t_n + (h + 1) s_n, because the
    spacing (4 ms) exceeds hops x max service (3.6 ms); so nobody ever waits.
    """
    capacity = 10e6
    delays = {"a": 1e-3, "b": 2.5e-3, "c": 3e-4}
    links = {n: LinkSpec(name=n, capacity_bps=capacity, delay_s=d) for n, d in delays.items()}
    stream = StreamSpec(
        name="cbr",
        kind="cbr",
        rate_pps=250.0,
        size=SizeModel("uniform", min_bytes=100, max_bytes=1500),
        path=("a", "b", "c"),
        start_s=0.0123,
    )
    one = StreamSpec(
        name="one-hop",
        kind="cbr",
        rate_pps=300.0,
        size=SizeModel("constant", mean_bytes=700),
        path=("d",),
    )
    links["d"] = LinkSpec(name="d", capacity_bps=2e6, delay_s=7e-3)
    plan = NetworkPlan("idle", duration_s=20.0, links=links, streams=(stream, one))
    packets = simulate(plan, seed=9).packets
    assert (packets.fate == DELIVERED).all()
    latency = packets.t_recv_s - packets.t_send_s
    size = packets.size_bytes.astype(float)
    multi = packets.stream == 0
    expected = np.where(
        multi,
        sum(delays.values()) + 3 * 8 * size / capacity,
        7e-3 + 8 * size / 2e6,
    )
    assert multi.sum() == 5000 - 3 and (~multi).sum() == 6000  # 0.0123 s late: 3 fewer
    np.testing.assert_allclose(latency, expected, rtol=0, atol=1e-12)


def test_store_and_forward_by_hand():
    """Two hops with queueing and a cross stream, every time computed by hand.

    Unit u = 2^-10 s (all values dyadic, so exact in binary). Link A: 128 B packets take u
    (1 Mibit/s), delay u. Link B: 2u per packet (0.5 Mibit/s), delay 2u. Stream ``main``
    (index 0): CBR every u/2 from 0, five packets (stop at 2.5u), path A -> B. Stream
    ``cross`` (index 1): one packet at 3u, straight onto B.

    A: arrivals 0, .5, 1, 1.5, 2; departures 1, 2, 3, 4, 5; at B: 2, 3, 4, 5, 6.
    B: arrivals 2 (main 0), 3 (main 1), 3 (cross 0: tie, after stream index 0), 4, 5, 6;
    departures 4, 6, 8 (cross), 10, 12, 14; received (+2): 6, 8, 10 (cross), 12, 14, 16.
    """
    u = 2.0**-10
    size = SizeModel("constant", mean_bytes=128.0)
    links = {
        "A": LinkSpec(name="A", capacity_bps=1024 * 1024.0, delay_s=u),
        "B": LinkSpec(name="B", capacity_bps=512 * 1024.0, delay_s=2 * u),
    }
    streams = (
        StreamSpec("main", "cbr", 2 / u, size, ("A", "B"), start_s=0.0, stop_s=2.5 * u),
        StreamSpec("cross", "cbr", 1.0, size, ("B",), start_s=3 * u, stop_s=3.5 * u),
    )
    plan = NetworkPlan("hand", duration_s=1.0, links=links, streams=streams)
    packets = simulate(plan, seed=1).packets
    main = packets.stream == 0
    np.testing.assert_array_equal(packets.t_send_s[main], np.array([0, 0.5, 1, 1.5, 2]) * u)
    np.testing.assert_allclose(
        packets.t_recv_s[main], np.array([6, 8, 12, 14, 16]) * u, rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(packets.t_recv_s[~main], [10 * u], rtol=0, atol=1e-12)


# -- finite buffer ---------------------------------------------------------------------------


@pytest.mark.parametrize(("rho", "k", "duration_s"), [(0.9, 5, 600.0), (1.3, 3, 300.0)])
def test_mm1k_blocking_probability(rho, k, duration_s):
    """M/M/1/K: P(block) = (1 - rho) rho^K / (1 - rho^(K+1)), K counting the packet in service.

    (Kleinrock vol. 1, ch. 3, finite storage; by PASTA the fraction of arrivals dropped equals the
    time-stationary probability of K in the system.) A packet limit of K: an arrival is
    dropped when K admitted packets are still in the link. Also for rho > 1.
    """
    plan = _mm1_plan(rho, duration_s, buffer_limit=k, buffer_kind="packets")
    packets = simulate(plan, seed=404).packets
    assert set(np.unique(packets.fate)) <= {DELIVERED, DROPPED}
    expected = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    mean, se = batch_mean((packets.fate == DROPPED).astype(float))
    assert_close_statistically(mean, expected, se, 0.03, f"M/M/1/{k} blocking, rho={rho}")


def test_byte_buffer_holds_exactly_its_limit():
    """A byte limit of 3 packets' bytes: CBR bursts of 5 simultaneous packets keep 3.

    Five streams send 1000-byte packets at the same instants, 100 ms apart, on a link that
    needs 8 ms per packet; the buffer holds 3000 bytes (B + 1000 > 3000 drops the 4th and 5th,
    the first still in service counting). Streams 0-2 are always admitted, 3-4 always dropped.
    """
    size = SizeModel("constant", mean_bytes=1000.0)
    link = LinkSpec(name="x", capacity_bps=1e6, buffer_limit=3000.0, buffer_kind="bytes")
    streams = tuple(StreamSpec(f"s{i}", "cbr", 10.0, size, ("x",)) for i in range(5))
    plan = NetworkPlan("burst", duration_s=2.0, links={"x": link}, streams=streams)
    packets = simulate(plan, seed=1).packets
    dropped = packets.fate == DROPPED
    np.testing.assert_array_equal(dropped, packets.stream >= 3)
    latency = packets.t_recv_s - packets.t_send_s
    np.testing.assert_allclose(latency[~dropped], (packets.stream[~dropped] + 1) * 8e-3, atol=1e-12)


# -- jitter ----------------------------------------------------------------------------------


def test_exponential_jitter_sparse_reorder_mode():
    """Sparse packets, exponential jitter of mean m: RFC 3550 jitter ~ m, latency = base + m.

    For X, Y iid exponential with mean m, |X - Y| is exponential with mean m, so the RFC 3550
    filter (an average of |D|) centres on m; with a 20 ms spacing against m = 0.5 ms no packet
    overtakes another. Mean latency = delay + serialisation + m. The engine's jitter_ms must
    also equal this file's own RFC 3550 loop.
    """
    m, delay, capacity = 5e-4, 5e-3, 10e6
    plan = one_link_plan(
        capacity_bps=capacity,
        rate_pps=50.0,
        kind="cbr",
        duration_s=400.0,
        delay_s=delay,
        jitter=JitterModel("exponential", mean_s=m, reorder=True),
    )
    results = run(plan, seed=505)
    packets = results.packets
    stats = results.streams["probe"]
    latency = packets.t_recv_s - packets.t_send_s
    base = delay + 8 * 1250 / capacity
    assert latency.min() >= base
    assert (np.diff(packets.t_recv_s) > 0).all()  # sparse: nobody overtakes
    mean, se = batch_mean(latency - base)
    assert_close_statistically(mean, m, se, 0.03, "mean jitter delay")
    assert stats.latency_ms["mean"] == pytest.approx(1e3 * latency.mean(), rel=1e-12)

    jitter_mean, jitter_final = rfc3550_jitter_by_hand(packets.t_send_s, packets.t_recv_s)
    assert stats.jitter_ms == pytest.approx(1e3 * jitter_mean, rel=1e-9)
    assert stats.jitter_final_ms == pytest.approx(1e3 * jitter_final, rel=1e-9)
    d = np.abs(np.diff(latency))
    mean_d, se_d = batch_mean(d)
    assert_close_statistically(mean_d, m, se_d, 0.03, "E|X - Y|")
    # The filter's mean tracks the mean of |D| (16-packet memory against 20000 packets).
    assert jitter_mean == pytest.approx(mean_d, rel=0.01)
    assert abs(jitter_mean - m) <= Z * se_d + 0.01 * m


@pytest.mark.parametrize("distribution", ["exponential", "uniform", "lognormal", "pareto"])
def test_fifo_never_reorders_and_reorder_mode_does(distribution):
    """Dense packets (1 ms apart) with jitter of a few ms: FIFO keeps order, netem mode not.

    CBR every 1 ms with 0.1 ms of service: no queueing, so in reorder mode each receive time
    is d_n + delay + J_n, whose mean is delay + serialisation + E[J], and packets overtake
    each other. Both modes draw the same J_n (same seed and generator names), so the FIFO
    receive times must be exactly the running maximum of the reorder-mode ones
    (docs/model.md: ``max(d_n + delay + J_n, previous receive time)``).
    """
    jitters = {
        "exponential": dict(mean_s=4e-3),
        "uniform": dict(max_s=8e-3),
        "lognormal": dict(median_s=3e-3, sigma=0.6),
        "pareto": dict(scale_s=6e-3, alpha=2.5),
    }
    recv = {}
    for reorder in (False, True):
        jitter = JitterModel(distribution, reorder=reorder, **jitters[distribution])
        plan = one_link_plan(
            capacity_bps=100e6,
            rate_pps=1000.0,
            kind="cbr",
            duration_s=20.0,
            delay_s=2e-3,
            jitter=jitter,
        )
        packets = simulate(plan, seed=606).packets
        assert (packets.fate == DELIVERED).all()
        recv[reorder] = packets.t_recv_s
        steps = np.diff(packets.t_recv_s)
        latency = packets.t_recv_s - packets.t_send_s
        base = 2e-3 + 8 * 1250 / 100e6
        assert latency.min() >= base
        if reorder:
            assert (steps < 0).mean() > 0.05
            mean, se = batch_mean(latency - base)
            assert_close_statistically(mean, jitter.mean(), se, 0.05, "reorder-mode mean")
        else:
            assert (steps >= 0).all()
            assert latency.mean() > base + jitter.mean()
    np.testing.assert_allclose(recv[False], np.maximum.accumulate(recv[True]), rtol=0, atol=1e-12)


# -- loss ------------------------------------------------------------------------------------


def _lossy_plan(loss: LossModel, n_packets: int) -> NetworkPlan:
    """CBR on an unlimited link (no queue): only the loss model decides the fates."""
    return one_link_plan(rate_pps=10000.0, kind="cbr", duration_s=n_packets / 10000.0, loss=loss)


def markov_fraction_se(pi: float, lam2: float, n: int) -> float:
    """Standard error of the fraction of time in a state of a 2-state chain, from n steps.

    Asymptotic variance of the occupation fraction: pi (1 - pi) (1 + lam2) / (1 - lam2) / n,
    with lam2 = 1 - p - r the chain's second eigenvalue (the lag-k autocorrelation is
    lam2^k; sum over all lags).
    """
    return math.sqrt(pi * (1 - pi) * (1 + lam2) / (1 - lam2) / n)


def test_gilbert_elliott_loss_rate_and_burst_length():
    """loss_good 0, loss_bad 1: loss rate p / (p + r) and mean burst length 1 / r.

    (Gilbert 1960.) Bursts are the Bad sojourns, geometric with mean 1/r and variance
    (1 - r) / r^2. Checked with Results.loss_bursts and with bursts counted here.
    """
    p, r, n = 0.01, 0.25, 500_000
    plan = _lossy_plan(LossModel("gilbert-elliott", p=p, r=r, loss_good=0.0, loss_bad=1.0), n)
    results = run(plan, seed=707)
    packets = results.packets
    assert len(packets) == n
    lost = packets.fate == LOST
    assert set(np.unique(packets.fate)) == {DELIVERED, LOST}
    pi = p / (p + r)
    se = markov_fraction_se(pi, 1 - p - r, n)
    assert_close_statistically(lost.mean(), pi, se, 0.03, "GE loss rate")

    bursts = loss_bursts_by_hand(lost)
    stats = results.streams["probe"]
    assert stats.loss_bursts["count"] == len(bursts)
    assert stats.loss_bursts["mean_length"] == pytest.approx(np.mean(bursts), rel=1e-12)
    assert stats.loss_bursts["max_length"] == max(bursts)
    assert stats.packets_lost == lost.sum()
    assert stats.loss_rate == pytest.approx(lost.mean(), rel=1e-12)
    se_burst = math.sqrt((1 - r) / r**2 / len(bursts))
    assert_close_statistically(np.mean(bursts), 1 / r, se_burst, 0.03, "GE mean burst length")
    # Bursts start at Good -> Bad moves: a renewal count with cycle mean 1/p + 1/r and
    # variance (1 - p)/p^2 + (1 - r)/r^2, so Var(N) ~ n var / mean^3 (renewal CLT).
    cycle_mean, cycle_var = 1 / p + 1 / r, (1 - p) / p**2 + (1 - r) / r**2
    se_count = math.sqrt(n * cycle_var / cycle_mean**3)
    assert_close_statistically(len(bursts), n / cycle_mean, se_count, 0.03, "GE burst count")


@pytest.mark.parametrize(("p", "r", "lg", "lb"), [(0.02, 0.1, 0.02, 0.5), (0.3, 0.6, 0.1, 0.8)])
def test_gilbert_elliott_general_loss_rate(p, r, lg, lb):
    """General GE: long-run loss = pi_G loss_good + pi_B loss_bad, pi_B = p / (p + r).

    Variance of the lost count: n E[h(1 - h)] (Bernoulli given the states) plus
    (lb - lg)^2 times the variance of the Bad count (two-state chain, markov_fraction_se).
    """
    n = 400_000
    model = LossModel("gilbert-elliott", p=p, r=r, loss_good=lg, loss_bad=lb)
    packets = simulate(_lossy_plan(model, n), seed=808).packets
    pi = p / (p + r)
    expected = (1 - pi) * lg + pi * lb
    assert expected == pytest.approx(model.long_run_rate(), rel=1e-12)
    within = ((1 - pi) * lg * (1 - lg) + pi * lb * (1 - lb)) / n
    between = ((lb - lg) * markov_fraction_se(pi, 1 - p - r, n)) ** 2
    lost = (packets.fate == LOST).mean()
    assert_close_statistically(lost, expected, math.sqrt(within + between), 0.03, "GE loss")


def test_iid_loss_rate_binomial():
    """iid loss q: the lost count is Binomial(n, q), standard error sqrt(q (1 - q) / n)."""
    q, n = 0.05, 300_000
    packets = simulate(_lossy_plan(LossModel.iid(q), n), seed=909).packets
    lost = packets.fate == LOST
    se = math.sqrt(q * (1 - q) / n)
    assert_close_statistically(lost.mean(), q, se, 0.03, "iid loss rate")
    # Independence: P(lost | previous lost) = q as well.
    after_loss = lost[1:][lost[:-1]]
    se_cond = math.sqrt(q * (1 - q) / after_loss.size)
    assert_close_statistically(after_loss.mean(), q, se_cond, 0.2, "iid P(lost | lost)")
