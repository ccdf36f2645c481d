"""Built-in link profiles: published measurements turned into link parameters.

A scenario names a profile (``profile: 5g-sa``) and may override any field. A profile gives, per
direction, a capacity (bit/s), a base delay (s) and a jitter distribution; for the link, a loss
model and the kind of handover interruption the radio layer should apply.

Every number is built here, at import time, from :class:`Figure` records that name their source
and how well the figure was checked (its *mark*):

- ``read``: read in the source itself (or computed from its public data);
- ``secondary``: read in a faithful copy (a news report of the data, a review table);
- ``recalled``: not checked against the source; use with care;
- ``assumption``: no published figure was found; the value is a stated guess;
- ``derived``: computed here from other figures (physics, a midpoint, a rescaling).

Delay model. A measured delay distribution given by percentiles is modelled as a shift (the
link's ``delay_s``) plus lognormal jitter with median ``m`` and log-space deviation ``sigma``:
q(p) = shift + m * exp(sigma * z_p), z_p the standard normal quantile. Three percentiles fix all
three parameters (:func:`fit_shifted_lognormal`); two fix median and sigma for a given shift
(:func:`fit_lognormal`, :func:`fit_lognormal_two`).

Where a source gives round-trip times (RTT), each one-way percentile is taken as half the RTT
percentile. That holds if the two directions are symmetric and fully correlated (the same queue
and radio state on both legs). If they are independent, the one-way tail is *heavier* than half
the RTT tail (a round trip averages two draws), so halving understates one-way tail delay.

Loss model. Measured driving loss is bursty: outages of seconds. The chains were fitted to pings
every 200 ms, so they are kept as timed Gilbert-Elliott chains (``LossModel.per_s = 0.2``) that
run in time per link, whatever the packet rate (:class:`netsim.plan.LossModel`).

See docs/profiles.md for the table of values, sources and marks, and for what the profiles
leave out.
"""

from __future__ import annotations

from .profile_catalog import build_profiles
from .profile_model import (
    C_M_PER_S,
    DEFAULT_ROUTING_FACTOR,
    FIBER_S_PER_M,
    GEO_ALTITUDE_M,
    HANDOVER_KINDS,
    JITTER_HOLD_S,
    MARKS,
    PING_INTERVAL_S,
    SHORTEST_CONDUIT_ROUTING_FACTOR,
    DirectionProfile,
    Figure,
    Profile,
    fiber_delay_s,
    fit_lognormal,
    fit_lognormal_two,
    fit_shifted_lognormal,
    lognormal_quantile,
    shifted_lognormal_is_exact,
    timed_gilbert,
)

__all__ = [
    "C_M_PER_S",
    "DEFAULT_ROUTING_FACTOR",
    "FIBER_S_PER_M",
    "GEO_ALTITUDE_M",
    "HANDOVER_KINDS",
    "JITTER_HOLD_S",
    "MARKS",
    "PING_INTERVAL_S",
    "PROFILES",
    "SHORTEST_CONDUIT_ROUTING_FACTOR",
    "DirectionProfile",
    "Figure",
    "Profile",
    "fiber_delay_s",
    "fit_lognormal",
    "fit_lognormal_two",
    "fit_shifted_lognormal",
    "get_profile",
    "lognormal_quantile",
    "profile_names",
    "shifted_lognormal_is_exact",
    "timed_gilbert",
]

PROFILES: dict[str, Profile] = build_profiles()


def profile_names() -> tuple[str, ...]:
    """Names of the built-in profiles, in order."""
    return tuple(PROFILES)


def get_profile(name: str) -> Profile:
    """The built-in profile called ``name``.

    Raises
    ------
    KeyError
        If there is no such profile; the message lists the names.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(
            f"no link profile {name!r}; built-in profiles: {', '.join(PROFILES)}"
        ) from None
