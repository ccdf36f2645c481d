"""Build a link's dynamics for one run: its capacity curve, refusals, fades and events.

The one place that turns the time-driven parts of a :class:`~netsim.plan.LinkSpec` (a
replayed trace, a radio link along a route, a timed loss chain) into a
:class:`~netsim.timeline.LinkDynamics`, with randomness drawn from the link's own named
generators (``link/<name>/fade``, ``link/<name>/radio/...``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .capacity import OpportunitySchedule, zero_during
from .plan import JitterModel, LinkSpec
from .rng import component_rng
from .timeline import IntervalSet, LinkDynamics, LinkEvent, timed_chain_bad_intervals

__all__ = ["link_dynamics", "links_dynamics", "draw_jitter", "threads"]

THREADS_VARIABLE = "MEDLINK_THREADS"
"""Environment variable: how many threads a run may use to build its radio links' dynamics
(default: the cores this process may run on). Sweep workers set it to 1."""


def threads() -> int:
    """Threads a run may use (``MEDLINK_THREADS``, else the cores available to it)."""
    given = os.environ.get(THREADS_VARIABLE, "").strip()
    if given:
        try:
            return max(1, int(given))
        except ValueError:
            raise ValueError(f"{THREADS_VARIABLE} must be a whole number, not {given!r}") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def links_dynamics(specs: Sequence[LinkSpec], seed: int, horizon_s: float) -> list[LinkDynamics]:
    """:func:`link_dynamics` of each spec, in order.

    Radio links (the costly ones: path loss and SINR per site and sample) are built in
    threads, as many as :func:`threads` allows: each draws only from its own named
    generators and numpy releases the GIL in its array loops, so the results are the same
    to the bit as one after the other (the one-hour bonded ambulance's two radio links:
    1.9x faster on this 2-core machine).
    """
    radio = [i for i, spec in enumerate(specs) if spec.radio is not None]
    workers = min(threads(), len(radio))
    if workers <= 1:
        return [link_dynamics(spec, seed, horizon_s) for spec in specs]
    out: list[LinkDynamics | None] = [None] * len(specs)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="medlink-radio") as pool:
        futures = {i: pool.submit(link_dynamics, specs[i], seed, horizon_s) for i in radio}
        for i, spec in enumerate(specs):
            if i not in futures:
                out[i] = link_dynamics(spec, seed, horizon_s)
        for i, future in futures.items():
            out[i] = future.result()
    return out  # type: ignore[return-value]


def link_dynamics(spec: LinkSpec, seed: int, horizon_s: float) -> LinkDynamics:
    """The dynamics of ``spec`` over [0, ``horizon_s``) for root seed ``seed``."""
    timed = spec.loss.timed and spec.loss.active
    if (timed or spec.jitter.timed or spec.radio is not None) and not math.isfinite(horizon_s):
        what = "timed loss, timed jitter or a radio"
        raise ValueError(f"link {spec.name!r}: {what} needs a finite run")
    curve, refuse, events = spec.curve, IntervalSet(), ()
    if spec.radio is not None:
        from .radiolink import radio_dynamics  # the radio stack loads only when a run uses it

        curve, refuse, events = radio_dynamics(spec.radio, seed, spec.name, horizon_s)
    if spec.outages:
        if isinstance(curve, OpportunitySchedule):
            raise ValueError(f"link {spec.name!r}: outages do not combine with a Mahimahi trace")
        pairs = np.array(spec.outages, dtype=np.float64).reshape(-1, 2)
        given = IntervalSet.merged(pairs[:, 0], pairs[:, 1])
        refuse = IntervalSet.union(refuse, given)
        if curve is not None or math.isfinite(spec.capacity_bps):
            base = curve if curve is not None else spec.capacity_bps
            curve = zero_during(base, given.start_s, given.end_s, horizon_s)
        events = sorted(
            [*events]
            + [LinkEvent(float(s), "outage", float(e - s), "given") for s, e in spec.outages],
            key=lambda event: event.t_s,
        )
    bad = None
    if timed:
        bad = timed_chain_bad_intervals(
            spec.loss, horizon_s, component_rng(seed, "link", spec.name, "fade")
        )
    slots, hold = None, 0.0
    if spec.jitter.timed and spec.jitter.hold_s is not None:
        hold = spec.jitter.hold_s
        count = int(math.ceil(horizon_s / hold)) + 1
        rng = component_rng(seed, "link", spec.name, "jitter-process")
        slots = draw_jitter(spec.jitter, rng, count)
    return LinkDynamics(
        curve=curve,
        refuse=refuse,
        bad=bad,
        events=tuple(events),
        jitter_slots_s=slots,
        jitter_hold_s=hold,
    )


def draw_jitter(model: JitterModel, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` extra delays in seconds from the link's jitter distribution."""
    if model.distribution == "exponential":
        return rng.exponential(model.mean_s, n)
    if model.distribution == "uniform":
        return rng.uniform(0.0, model.max_s, n)
    if model.distribution == "lognormal":
        return rng.lognormal(math.log(model.median_s), model.sigma, n)
    if model.distribution == "pareto":
        return rng.pareto(model.alpha, n) * model.scale_s
    return np.zeros(n)
