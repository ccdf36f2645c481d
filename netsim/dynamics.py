"""Build a link's dynamics for one run: its capacity curve, refusals, fades and events.

The one place that turns the time-driven parts of a :class:`~netsim.plan.LinkSpec` (a
replayed trace, a radio link along a route, a timed loss chain) into a
:class:`~netsim.timeline.LinkDynamics`, with randomness drawn from the link's own named
generators (``link/<name>/fade``, ``link/<name>/radio/...``).
"""

from __future__ import annotations

import math

import numpy as np

from .capacity import OpportunitySchedule, zero_during
from .plan import LinkSpec
from .rng import component_rng
from .timeline import IntervalSet, LinkDynamics, LinkEvent, timed_chain_bad_intervals

__all__ = ["link_dynamics"]


def link_dynamics(spec: LinkSpec, seed: int, horizon_s: float) -> LinkDynamics:
    """The dynamics of ``spec`` over [0, ``horizon_s``) for root seed ``seed``."""
    timed = spec.loss.timed and spec.loss.active
    if (timed or spec.radio is not None) and not math.isfinite(horizon_s):
        raise ValueError(f"link {spec.name!r}: a timed loss chain or a radio needs a finite run")
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
    return LinkDynamics(curve=curve, refuse=refuse, bad=bad, events=tuple(events))
