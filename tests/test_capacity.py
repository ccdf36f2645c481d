"""Time-varying capacity: service curves by hand, and the engine against two references.

- :class:`RateSchedule` and :class:`OpportunitySchedule` are checked on values worked out by
  hand, and for being inverse to each other (``time_of`` is the generalised inverse of
  ``work_at``).
- The engine with rate schedules, looping schedules, given outages and timed loss chains is
  held to the per-packet reference (tests/reference.py), which integrates the rate segment by
  segment instead of inverting cumulative work.
- The engine with Mahimahi opportunities is held to tests/mahimahi_reference.py, a plain
  re-implementation of Mahimahi's ``LinkQueue``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from netsim.capacity import OpportunitySchedule, RateSchedule, zero_during
from netsim.engine import simulate
from netsim.plan import LinkSpec, LossModel, NetworkPlan, SizeModel, StreamSpec

from .mahimahi_reference import simulate_mahimahi
from .plans import random_plan
from .test_reference import assert_matches_reference

B = 1504


def test_rate_schedule_by_hand():
    """1000 B/s for 1 s, nothing for 1 s, then 2000 B/s for ever."""
    curve = RateSchedule(np.array([0.0, 1.0, 2.0]), np.array([8000.0, 0.0, 16000.0]))
    work = curve.work_at(np.array([0.0, 0.5, 1.5, 2.0, 2.5]))
    assert work.tolist() == [0.0, 500.0, 1000.0, 1000.0, 2000.0]
    # 1000 bytes are done at 1.0 (not during the silence); one more byte needs the next rate.
    times = curve.time_of(np.array([0.0, 250.0, 1000.0, 1000.5, 3000.0]))
    assert times.tolist() == pytest.approx([0.0, 0.25, 1.0, 2.00025, 3.0], abs=1e-12)
    assert curve.mean_rate_bps() == 16000.0


def test_looping_rate_schedule_by_hand():
    """A 3 s loop of 1000 B/s, 0, 2000 B/s serves 3000 bytes per loop."""
    curve = RateSchedule(np.array([0.0, 1.0, 2.0]), np.array([8000.0, 0.0, 16000.0]), 3.0)
    assert curve.work_at(np.array([3.0, 3.5, 4.5, 7.0])).tolist() == [
        3000.0,
        3500.0,
        4000.0,
        7000.0,
    ]
    # Exactly 3000 bytes are done at the end of the first loop; 3000.5 half a ms into the next.
    assert curve.time_of(np.array([3000.0, 3000.5, 6000.0])).tolist() == pytest.approx(
        [3.0, 3.0005, 6.0], abs=1e-12
    )
    assert curve.mean_rate_bps() == pytest.approx(8000.0)


def test_opportunities_by_hand():
    """Opportunities at 1, 2, 2 and 5 ms, looping every 5 ms (Mahimahi's period)."""
    curve = OpportunitySchedule(np.array([0.001, 0.002, 0.002, 0.005]), 0.005)
    work = curve.work_at(np.array([0.0, 0.0019, 0.002, 0.0049, 0.005, 0.006, 0.0071]))
    assert (work / B).tolist() == [0, 1, 3, 3, 4, 5, 7]
    # Byte 1 rides the first opportunity; byte B + 1 the second (at 2 ms); byte 4B + 1 the
    # first one of the second loop (at 6 ms).
    times = curve.time_of(np.array([1.0, B, B + 1.0, 3 * B + 1.0, 4 * B + 1.0, 7 * B]))
    assert times.tolist() == pytest.approx([0.001, 0.001, 0.002, 0.005, 0.006, 0.007], abs=1e-12)
    assert curve.mean_rate_bps() == pytest.approx(4 * B * 8 / 0.005)


@pytest.mark.parametrize("seed", range(6))
def test_time_of_inverts_work_at(seed):
    """time_of(w) is the first time the curve reaches w, for random curves of both kinds."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    t = np.concatenate([[0.0], np.sort(rng.uniform(0.01, 5.0, n - 1))])
    rates = rng.choice([0.0, 1e4, 1e5, 3e6], size=n)
    rates[-1] = 1e5
    curves = [
        RateSchedule(t, rates),
        RateSchedule(t, rates, period_s=5.0 + float(rng.uniform(0, 1))),
        OpportunitySchedule(np.sort(rng.integers(0, 40, n)) / 1e3, 0.04 + n / 1e3),
    ]
    for curve in curves:
        work = rng.uniform(1.0, 5e5, 400)
        when = curve.time_of(work)
        assert (curve.work_at(when) >= work - 1e-6).all()
        assert (curve.work_at(when - 1e-6) < work).all()
        probe = rng.uniform(0.0, 30.0, 400)
        assert (curve.time_of(curve.work_at(probe)) <= probe + 1e-12).all()


def test_zero_during_unrolls_and_silences():
    """A looping schedule with two silences, by hand."""
    base = RateSchedule(np.array([0.0, 1.0]), np.array([8e3, 16e3]), period_s=2.0)
    out = zero_during(base, np.array([0.5, 2.5]), np.array([1.2, 3.0]), horizon_s=4.0)
    assert out.t_s.tolist() == [0.0, 0.5, 1.2, 2.0, 2.5, 3.0]
    assert out.rate_bps.tolist() == [8e3, 0.0, 16e3, 8e3, 0.0, 16e3]
    assert out.period_s is None


def _random_schedule(rng: np.random.Generator, offered_bps: float, duration: float):
    n = int(rng.integers(2, 25))
    t = np.concatenate([[0.0], np.sort(rng.uniform(0.0, duration, n - 1))])
    rates = offered_bps * rng.choice([0.0, 0.2, 0.7, 1.0, 1.6, 3.0], size=n)
    rates[-1] = offered_bps * 2.0
    period = float(t[-1] + rng.uniform(0.05, 0.5)) if rng.random() < 0.4 else None
    return RateSchedule(t, rates, period)


def dynamic_plan(seed: int) -> NetworkPlan:
    """A random plan whose links get rate schedules, outages, timed loss and timed jitter."""
    plan = random_plan(seed)
    rng = np.random.default_rng(10_000 + seed)
    links = {}
    for name, spec in plan.links.items():
        changes = {}
        if math.isfinite(spec.capacity_bps) and rng.random() < 0.8:
            changes["curve"] = _random_schedule(rng, spec.capacity_bps, plan.duration_s)
        if rng.random() < 0.5:
            cuts = np.sort(rng.uniform(0.0, plan.duration_s, 2 * int(rng.integers(1, 4))))
            changes["outages"] = tuple(zip(cuts[::2].tolist(), cuts[1::2].tolist(), strict=True))
        if rng.random() < 0.5:
            changes["loss"] = LossModel(
                "gilbert-elliott",
                p=float(rng.uniform(0.05, 0.3)),
                r=float(rng.uniform(0.1, 0.6)),
                loss_good=float(rng.choice([0.0, 0.01])),
                loss_bad=float(rng.choice([1.0, 0.5])),
                per_s=float(rng.choice([0.05, 0.2])),
            )
        if spec.jitter.active and rng.random() < 0.5:
            hold = float(rng.choice([0.004, 0.05]))
            changes["jitter"] = dataclasses.replace(spec.jitter, hold_s=hold)
        links[name] = dataclasses.replace(spec, **changes)
    return dataclasses.replace(plan, links=links)


@pytest.mark.parametrize("seed", range(40))
def test_time_varying_links_match_reference(seed):
    """Rate schedules, looping schedules, outages, timed chains and timed jitter, packet for
    packet."""
    plan = dynamic_plan(seed)
    packets, _ = assert_matches_reference(plan, seed)
    assert len(packets) > 0


@pytest.mark.parametrize("seed", range(3))
def test_time_varying_links_ignore_windows(seed):
    """The window length does not change a time-varying run."""
    plan = dynamic_plan(seed)
    for window in (0.013, 0.4):
        assert_matches_reference(plan, seed, window_s=window)


def _mahimahi_plan(rng: np.random.Generator, opportunity_ms: np.ndarray, big: bool):
    period_s = float(opportunity_ms[-1]) / 1e3
    curve = OpportunitySchedule(opportunity_ms / 1e3, period_s)
    mean_bytes = float(rng.uniform(200, 1400))
    size = (
        SizeModel("uniform", min_bytes=40, max_bytes=4000 if big else B, mean_bytes=0.0)
        if rng.random() < 0.7
        else SizeModel("constant", mean_bytes=mean_bytes)
    )
    load = float(rng.uniform(0.3, 1.3))
    rate_pps = load * curve.mean_rate_bps() / (8.0 * size.mean())
    stream = StreamSpec("probe", str(rng.choice(["poisson", "cbr"])), rate_pps, size, ("trace",))
    link = LinkSpec("trace", curve=curve)
    return NetworkPlan("mahimahi", 2.0, {"trace": link}, (stream,), drain_s=60.0)


@pytest.mark.parametrize("seed", range(25))
def test_mahimahi_replay_matches_linkqueue(seed):
    """Every packet leaves at the opportunity Mahimahi's LinkQueue would deliver it on."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    opportunity_ms = np.sort(rng.integers(0, 80, n))
    opportunity_ms[-1] = max(int(opportunity_ms[-1]), 1)
    plan = _mahimahi_plan(rng, opportunity_ms, big=seed % 2 == 1)
    packets = simulate(plan, seed=seed).packets
    assert (packets.fate == 0).all()
    expected_ms = simulate_mahimahi(
        opportunity_ms.tolist(), (packets.t_send_s * 1e3).tolist(), packets.size_bytes.tolist()
    )
    np.testing.assert_allclose(packets.t_recv_s * 1e3, expected_ms, rtol=0, atol=1e-6)
