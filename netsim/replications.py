"""Independent replications of one scenario: confidence intervals, and whether a verdict is
settled.

One run is one draw of the scenario's randomness (a drive's shadowing, a link's fades): its
verdict can flip with the seed. ``replicate`` runs seeds ``seed, seed + 1, ...``, keeps each
run's figures (never the packets) and reports, for every figure, the mean over the runs and a
95 % confidence interval (Student t over the replications). A budget's verdict is on the mean
of its metric; it is **settled** when the whole interval lies on one side of the limit, and
**unsettled** when the interval straddles it: more replications are needed to tell.

Simpler than it could be: the runs are treated as independent and identically distributed
(they are: independent root seeds), the interval assumes the per-run figure is roughly normal
over runs (for a tail percentile with few runs it is only approximate), and the runs go one
after another in this process (``medlink sweep`` runs in parallel).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import stdtrit

from .engine import run
from .plan import NetworkPlan

__all__ = ["replicate", "Replicated", "interval", "STREAM_FIGURES"]

STREAM_FIGURES = ("p50", "p95", "p99", "p999", "max", "mean")


def interval(values: list[float], level: float = 0.95) -> dict[str, Any]:
    """Mean and a two-sided Student-t confidence interval of independent values.

    Returns ``{"mean", "low", "high", "half_width", "n"}``; the bounds are None with fewer than
    two finite values.
    """
    data = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = int(data.size)
    if n == 0:
        return {"mean": None, "low": None, "high": None, "half_width": None, "n": 0}
    mean = float(data.mean())
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "half_width": None, "n": n}
    half = float(stdtrit(n - 1, 0.5 + level / 2) * data.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "half_width": half, "n": n}


@dataclass
class Replicated:
    """The figures of ``n`` replications and their aggregate (see :meth:`to_dict`)."""

    seeds: list[int]
    runs: list[dict] = field(default_factory=list)
    first: Any = None  # the first replication's Results (for the report and plots)

    @property
    def passed(self) -> bool:
        return all(b["pass"] for b in self.budgets())

    def budgets(self) -> list[dict]:
        """Each budget over the replications: mean value, interval, verdict, settled."""
        out = []
        for j, first in enumerate(self.runs[0]["budgets"] if self.runs else []):
            values = [r["budgets"][j]["value"] for r in self.runs]
            stats = interval(values)
            limit = first["limit"]
            lower_bound = first["metric"] == "throughput"
            mean = stats["mean"]
            passed = mean is not None and (mean >= limit if lower_bound else mean <= limit)
            if stats["low"] is None:
                settled = False
            elif lower_bound:
                settled = stats["low"] >= limit or stats["high"] < limit
            else:
                settled = stats["high"] <= limit or stats["low"] > limit
            out.append(
                {
                    "stream": first["stream"],
                    "metric": first["metric"],
                    "unit": first["unit"],
                    "limit": limit,
                    "source": first.get("source", ""),
                    "value": stats,
                    "pass": bool(passed),
                    "settled": bool(settled),
                    "runs_passed": sum(bool(r["budgets"][j]["pass"]) for r in self.runs),
                }
            )
        return out

    def streams(self) -> dict[str, dict]:
        """Each stream's latency figures and loss over the replications."""
        out: dict[str, dict] = {}
        for name in self.runs[0]["streams"] if self.runs else []:
            per_run = [r["streams"][name] for r in self.runs]
            entry = {
                f"latency_{k}_ms": interval([s["latency_ms"][k] for s in per_run])
                for k in STREAM_FIGURES
            }
            entry["loss_rate"] = interval([r["streams"][name]["loss_rate"] for r in self.runs])
            entry["jitter_ms"] = interval([r["streams"][name]["jitter_ms"] for r in self.runs])
            out[name] = entry
        return out

    def to_dict(self) -> dict:
        """The ``replications`` section of results.json."""
        budgets = self.budgets()
        return {
            "n": len(self.runs),
            "seeds": self.seeds,
            "level": 0.95,
            "pass": all(b["pass"] for b in budgets),
            "settled": all(b["settled"] for b in budgets),
            "budgets": budgets,
            "streams": self.streams(),
            "runs": [{"seed": r["seed"], "pass": r["pass"]} for r in self.runs],
        }


def _figures(results: Any, seed: int) -> dict:
    document = results.to_dict()
    return {
        "seed": seed,
        "pass": document["pass"],
        "budgets": document["budgets"],
        "streams": {
            name: {
                "latency_ms": stats["latency_ms"],
                "loss_rate": stats["loss_rate"],
                "jitter_ms": stats["jitter_ms"],
            }
            for name, stats in document["streams"].items()
        },
    }


def replicate(
    plan: NetworkPlan,
    n: int,
    seed: int | None = None,
    judge: Callable[[Any], Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    packets: bool = False,
    sink: Callable[[dict, int], None] | None = None,
    taps: Callable[[], dict] | None = None,
) -> Replicated:
    """Run ``n`` replications with seeds ``seed, seed + 1, ...`` (default the plan's seed).

    ``judge`` (such as ``Scenario.judge``) is called on each run's Results before its figures
    are kept, so a workload's own budgets count in every replication. ``packets`` keeps the
    first run's packet log (``Replicated.first.packets``); the others keep only what the
    statistics read (:func:`netsim.engine.simulate`); ``sink`` takes the first run's packets
    as they become final (``packets`` False). ``taps`` (such as ``Scenario.taps``) makes
    each run's fresh taps, for plans with ``memory="bounded"``.
    """
    if n < 1:
        raise ValueError("replications must be >= 1")
    base = plan.seed if seed is None else int(seed)
    out = Replicated(seeds=[base + i for i in range(n)])
    for i, s in enumerate(out.seeds):
        first = i == 0
        results = run(
            plan,
            seed=s,
            packets=packets and first,
            sink=sink if first else None,
            taps=None if taps is None else taps(),
        )
        if judge is not None:
            judge(results)
        out.runs.append(_figures(results, s))
        if i == 0:
            out.first = results
        if progress is not None:
            progress(i + 1, n)
    return out
