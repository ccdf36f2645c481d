"""``medlink profiles``: the built-in link profiles as a table with their sources, or JSON.

A view (no simulation): what each profile gives per direction, the one-way delay percentiles
its fitted model implies, its loss, its handover kind, and every figure behind it with the
source and how the figure was checked ([read], [secondary], [recalled], assumption, derived).
"""

from __future__ import annotations

import math

from scipy.special import ndtri

from .plan import JitterModel
from .profiles import Profile
from .units import format_rate, format_time

__all__ = ["render_profiles", "model_delay_quantile_s"]


def model_delay_quantile_s(delay_s: float, jitter: JitterModel, p: float) -> float:
    """The ``p`` quantile of delay + jitter for a lognormal (or absent) jitter, in seconds."""
    if jitter.distribution == "none" or not jitter.active:
        return delay_s
    if jitter.distribution == "lognormal":
        return delay_s + jitter.median_s * math.exp(jitter.sigma * float(ndtri(p)))
    raise ValueError(f"no closed-form quantile for {jitter.distribution} jitter")


def _loss_text(profile: Profile) -> str:
    loss = profile.loss
    rate = loss.long_run_rate()
    if loss.kind == "none" or rate == 0:
        return "none"
    if loss.kind == "iid":
        return f"{rate:.3%} independent"
    if loss.timed:
        burst = 1.0 / loss.rates_per_s()[1]
        return f"{rate:.3%} in bursts of {format_time(burst)} (timed chain)"
    return f"{rate:.3%} in bursts of {1.0 / loss.r:.3g} packets"


def render_profiles(profiles: list[Profile]) -> str:
    """The text ``medlink profiles`` prints."""
    blocks = []
    for profile in profiles:
        lines = [f"{profile.name}: {profile.title}", f"  {profile.summary}"]
        for label, side in (("uplink", profile.uplink), ("downlink", profile.downlink)):
            quantiles = [
                format_time(model_delay_quantile_s(side.delay_s, side.jitter, p))
                for p in (0.5, 0.95, 0.99)
            ]
            lines.append(
                f"  {label:<9}{format_rate(side.capacity_bps):>10}   one-way delay "
                f"p50 {quantiles[0]}  p95 {quantiles[1]}  p99 {quantiles[2]}"
            )
        lines.append(f"  loss      {_loss_text(profile)}")
        lines.append(f"  handover  {profile.handover or 'none'}")
        lines.append("  sources:")
        for figure in profile.figures:
            note = f" ({figure.note})" if figure.note else ""
            lines.append(f"    [{figure.mark}] {figure.what}{note}: {figure.source}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
