"""The radio model computes received power and SINR in stretches of samples (bounded
temporaries); the values are those of the whole route at once, to the bit.

Ground truth: the formulas applied to the whole route in blocks of 8 sites
(``reference_trace``, the implementation before the stretches)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from netsim import radiolink
from netsim.handover import select_serving
from netsim.mobility import distances_2d
from netsim.plan import RadioSpec
from netsim.radio import (
    ShannonMapping,
    correlated_shadowing_db,
    correlation_distance_m,
    path_loss_db,
    shadow_fading_sigma_db,
    sinr_db,
    thermal_noise_dbm,
    vehicle_penetration_loss_db,
)
from netsim.radiolink import RadioTrace, radio_trace, route_of
from netsim.rng import component_rng
from netsim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def reference_trace(spec: RadioSpec, seed: int, link: str, horizon_s: float) -> RadioTrace:
    """radio_trace as it was before the time chunks: every site block over the whole route."""
    route = route_of(spec)
    t = np.arange(0.0, horizon_s, spec.step_s)
    x, y = route.position(t)
    sites = np.asarray(spec.sites_m, dtype=np.float64).reshape(-1, 2)
    los = spec.condition == "los"
    travelled = route.distance_travelled(t) if spec.shadowing else None
    penetration_db = 0.0
    if spec.vehicle_penetration:
        rng = component_rng(seed, "link", link, "radio", "penetration")
        penetration_db = float(vehicle_penetration_loss_db(rng))
    # Sites in small blocks, so that the temporaries of the path-loss formulas stay a few
    # sites wide: memory is one (sites x samples) array plus what the SINR needs.
    rx_dbm = np.empty((sites.shape[0], t.size))
    for start in range(0, sites.shape[0], 8):
        block = slice(start, start + 8)
        d2d = distances_2d(sites[block], x, y)
        loss = path_loss_db(
            spec.environment,
            d2d,
            fc_ghz=spec.carrier_ghz,
            h_bs_m=spec.h_bs_m,
            h_ut_m=spec.h_ut_m,
            los=los,
        )
        if travelled is not None:
            # sigma per site and sample (RMa LOS changes it at the breakpoint distance).
            sigma = np.broadcast_to(
                shadow_fading_sigma_db(
                    spec.environment,
                    los,
                    d2d,
                    fc_ghz=spec.carrier_ghz,
                    h_bs_m=spec.h_bs_m,
                    h_ut_m=spec.h_ut_m,
                ),
                d2d.shape,
            )
            corr = correlation_distance_m(spec.environment, los)
            for row, (sx, sy) in enumerate(sites[block]):
                # Each site's shadowing is named by its position: adding a site changes no
                # other site's fading (common random numbers between variants of a scenario).
                rng = component_rng(seed, "link", link, "radio", "shadowing", f"{sx:.3f},{sy:.3f}")
                loss[row] += correlated_shadowing_db(rng, travelled, 1.0, corr) * sigma[row]
        del d2d
        rx_dbm[block] = spec.tx_power_dbm + spec.antenna_gain_db - penetration_db - loss
        del loss
    trace = select_serving(
        rx_dbm,
        t,
        spec.handover.hysteresis_db,
        spec.handover.time_to_trigger_s,
        offset_db=spec.handover.offset_db,
    )
    noise = thermal_noise_dbm(spec.bandwidth_hz, spec.noise_figure_db)
    load = spec.interference_load if spec.direction == "downlink" else 0.0
    sinr = sinr_db(rx_dbm, trace.serving, noise, load=load)
    mapping = ShannonMapping(spec.alpha, spec.sinr_min_db, spec.max_bps_per_hz)
    rate = spec.bandwidth_hz * mapping.spectral_efficiency(sinr) * spec.share
    return RadioTrace(
        t, trace.serving, sinr, rate, trace.handover_t_s, trace.from_site, trace.to_site
    )


def _specs():
    found = []
    for name in ("ambulance-urban-5g-sa", "ambulance-rural-4g", "drive-5g-sa"):
        plan = load_scenario(SCENARIOS / f"{name}.yaml").plan
        found += [(f"{name}:{n}", s.radio) for n, s in plan.links.items() if s.radio is not None]
    base = found[0][1]
    found += [
        ("rma-los", dataclasses.replace(base, environment="rma", condition="los")),
        ("umi-no-shadowing", dataclasses.replace(base, environment="umi", shadowing=False)),
        ("downlink", dataclasses.replace(base, direction="downlink", interference_load=0.5)),
    ]
    return found


@pytest.mark.parametrize(("label", "spec"), _specs(), ids=[label for label, _ in _specs()])
def test_stretches_give_the_whole_routes_values(monkeypatch, label, spec):
    monkeypatch.setattr(radiolink, "TIME_CHUNK", 997)  # many stretches, a ragged last one
    monkeypatch.setattr(radiolink, "SINR_CELLS", 7_919)
    horizon = 120.0
    got = radio_trace(spec, 5, "up", horizon)
    want = reference_trace(spec, 5, "up", horizon)
    for field in ("t_s", "serving", "sinr_db", "rate_bps", "from_site", "to_site"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field), err_msg=field)
    np.testing.assert_array_equal(np.asarray(got.handover_t_s), np.asarray(want.handover_t_s))
    assert got.t_s.size > 5 * 997


def test_radio_links_built_in_threads_give_the_same_run(monkeypatch):
    """The bonded ambulance's two radio links are built in two threads (netsim.dynamics):
    the run is the same to the bit as with one thread, and the threads are really used."""
    from netsim import dynamics, engine

    plan = load_scenario(SCENARIOS / "ambulance-bonded.yaml").plan
    plan = dataclasses.replace(plan, duration_s=60.0)
    pools = []
    real_pool = dynamics.ThreadPoolExecutor

    def counting_pool(*args, **kwargs):
        pools.append(kwargs.get("max_workers"))
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(dynamics, "ThreadPoolExecutor", counting_pool)

    def run(threads: str):
        monkeypatch.setenv(dynamics.THREADS_VARIABLE, threads)
        return engine.simulate(plan, seed=11)

    one = run("1")
    assert pools == []
    two = run("2")
    assert pools == [2]
    for column in ("t_send_s", "t_recv_s", "fate", "size_bytes", "stream"):
        a, b = getattr(one.packets, column), getattr(two.packets, column)
        assert a.tobytes() == b.tobytes(), column
    for name in one.dynamics:
        assert one.dynamics[name].events == two.dynamics[name].events
        a, b = one.dynamics[name].curve, two.dynamics[name].curve
        if a is not None:
            assert (
                a.t_s.tobytes() == b.t_s.tobytes() and a.rate_bps.tobytes() == b.rate_bps.tobytes()
            )
    monkeypatch.setenv(dynamics.THREADS_VARIABLE, "two")
    with pytest.raises(ValueError, match="MEDLINK_THREADS"):
        dynamics.threads()
