"""The SimPy baseline computes the engine's model: ``pytest benchmarks/test_baseline_agrees.py``.

Not part of the default test run (pyproject's testpaths is ``tests``), and nothing here is
timed. Two checks, about 10 s in all:

1. **Statistically**, with the baseline drawing its own randomness: over several independent
   seeds of a short run, the mean latency, p99 latency and loss rate of the baseline and of
   ``netsim.engine.run`` agree within a few standard errors of their difference (the spread is
   estimated from the per-seed figures, which are independent replications).
2. **Packet for packet**, with the baseline drawing from the engine's named generators: the
   same packets are lost and every receive time agrees to 1e-9 s. This is what makes the
   benchmark a like-for-like comparison, beyond agreeing on three numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from simpy_baseline import simulate_baseline, summarise, workload_plan

from netsim import engine
from netsim.packetlog import DELIVERED, LOST

SEEDS = range(101, 109)
SECONDS = 20.0  # ~52,000 packets per run
Z = 4.5  # standard errors allowed (Welch-type, 8 + 8 replications)


def _per_seed_figures():
    medlink, baseline = [], []
    for seed in SEEDS:
        plan = workload_plan(SECONDS, seed=seed)
        stats = engine.run(plan).streams["flow"]
        medlink.append((stats.latency_ms["mean"], stats.latency_ms["p99"], stats.loss_rate))
        run = simulate_baseline(plan)
        figures = summarise(run.t_send_s, run.t_recv_s)
        baseline.append((figures["mean_ms"], figures["p99_ms"], figures["loss_rate"]))
    return np.array(medlink), np.array(baseline)


@pytest.fixture(scope="module")
def figures():
    return _per_seed_figures()


@pytest.mark.parametrize(
    ("column", "name", "max_tolerance"),
    [(0, "mean latency (ms)", 0.15), (1, "p99 latency (ms)", 1.0), (2, "loss rate", 0.0015)],
)
def test_statistics_agree(figures, column, name, max_tolerance):
    medlink, baseline = figures[0][:, column], figures[1][:, column]
    n = len(SEEDS)
    standard_error = np.sqrt(medlink.var(ddof=1) / n + baseline.var(ddof=1) / n)
    tolerance = Z * standard_error
    difference = medlink.mean() - baseline.mean()
    # The check must be able to fail: a tolerance wider than this would let a wrong model by.
    assert tolerance < max_tolerance, f"{name}: tolerance {tolerance:.4g} too loose to judge"
    assert abs(difference) < tolerance, (
        f"{name}: medlink {medlink.mean():.5g} vs simpy {baseline.mean():.5g} "
        f"(difference {difference:.3g}, allowed {tolerance:.3g})"
    )


def test_latency_is_the_models():
    """A sanity anchor independent of both programs: FIFO jitter raises the mean above
    delay + E[J] + service (12.19 ms) and it stays well below delay + 4 ms."""
    run = simulate_baseline(workload_plan(SECONDS, seed=7))
    mean = summarise(run.t_send_s, run.t_recv_s)["mean_ms"]
    assert 12.3 < mean < 16.0


def test_same_streams_packet_for_packet():
    plan = workload_plan(SECONDS, seed=3)
    packets = engine.simulate(plan).packets
    run = simulate_baseline(plan, same_streams=True)
    assert run.packets == len(packets)
    assert np.array_equal(run.lost, packets.fate == LOST)
    delivered = packets.fate == DELIVERED
    assert np.array_equal(~np.isnan(run.t_recv_s), delivered)
    assert np.max(np.abs(run.t_send_s - packets.t_send_s)) < 1e-9
    assert np.max(np.abs(run.t_recv_s[delivered] - packets.t_recv_s[delivered])) < 1e-9
