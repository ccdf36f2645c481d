"""Small NetworkPlan builders shared by the tests (random scenarios and one-link plans)."""

from __future__ import annotations

import math

import numpy as np

from netsim.plan import JitterModel, LinkSpec, LossModel, NetworkPlan, SizeModel, StreamSpec

__all__ = ["random_plan", "one_link_plan", "random_jitter", "random_loss", "random_size"]


def random_jitter(rng: np.random.Generator) -> JitterModel:
    """No jitter, or any of the four distributions, in either reorder mode."""
    kind = rng.choice(["none", "exponential", "uniform", "lognormal", "pareto"])
    reorder = bool(rng.random() < 0.5)
    if kind == "exponential":
        return JitterModel("exponential", mean_s=float(rng.uniform(1e-4, 5e-3)), reorder=reorder)
    if kind == "uniform":
        return JitterModel("uniform", max_s=float(rng.uniform(1e-4, 1e-2)), reorder=reorder)
    if kind == "lognormal":
        return JitterModel(
            "lognormal",
            median_s=float(rng.uniform(1e-4, 3e-3)),
            sigma=float(rng.uniform(0.2, 1.2)),
            reorder=reorder,
        )
    if kind == "pareto":
        return JitterModel(
            "pareto",
            scale_s=float(rng.uniform(1e-4, 3e-3)),
            alpha=float(rng.uniform(1.2, 3.5)),
            reorder=reorder,
        )
    return JitterModel(reorder=reorder)


def random_loss(rng: np.random.Generator) -> LossModel:
    """No loss, iid loss, or a Gilbert-Elliott chain with general loss_good/loss_bad."""
    kind = rng.choice(["none", "iid", "gilbert-elliott"])
    if kind == "iid":
        return LossModel.iid(float(rng.uniform(0.005, 0.2)))
    if kind == "gilbert-elliott":
        return LossModel(
            kind="gilbert-elliott",
            p=float(rng.uniform(0.005, 0.3)),
            r=float(rng.uniform(0.05, 0.9)),
            loss_good=float(rng.choice([0.0, rng.uniform(0.0, 0.1)])),
            loss_bad=float(rng.choice([1.0, rng.uniform(0.3, 1.0)])),
        )
    return LossModel()


def random_size(rng: np.random.Generator) -> SizeModel:
    kind = rng.choice(["constant", "exponential", "uniform"])
    if kind == "constant":
        return SizeModel("constant", mean_bytes=float(rng.integers(60, 1500)))
    if kind == "exponential":
        return SizeModel("exponential", mean_bytes=float(rng.uniform(100, 1200)))
    low = int(rng.integers(40, 300))
    return SizeModel("uniform", min_bytes=low, max_bytes=int(rng.integers(low, 1500)))


def random_plan(seed: int) -> NetworkPlan:
    """A random acyclic network: 1-4 links, 1-4 streams, offered loads 0.3-1.5 per link.

    The links have a hidden order (a random permutation of the names); every path is an
    increasing subsequence of it, so the paths are acyclic, and the plan lists the links in
    a different, random order.
    """
    rng = np.random.default_rng(seed)
    n_links = int(rng.integers(1, 5))
    n_streams = int(rng.integers(1, 5))
    hidden = [f"L{i}" for i in rng.permutation(n_links)]
    duration = float(rng.uniform(1.0, 3.0))
    streams = []
    for i in range(n_streams):
        hops = int(rng.integers(1, n_links + 1))
        chosen = sorted(rng.choice(n_links, size=hops, replace=False))
        path = tuple(hidden[j] for j in chosen)
        start = float(rng.choice([0.0, rng.uniform(0.0, duration / 2)]))
        stop = float(rng.choice([math.inf, rng.uniform(start + 0.2, duration + 1.0)]))
        streams.append(
            StreamSpec(
                name=f"s{i}",
                kind=str(rng.choice(["poisson", "cbr"])),
                rate_pps=float(rng.uniform(100.0, 700.0)),
                size=random_size(rng),
                path=path,
                start_s=start,
                stop_s=stop,
            )
        )
    links = {}
    for name in rng.permutation(hidden):
        name = str(name)
        offered = sum(8.0 * s.rate_pps * s.size.mean() for s in streams if name in s.path)
        if offered == 0 or rng.random() < 0.1:
            capacity = math.inf
        else:
            capacity = offered / float(rng.uniform(0.3, 1.5))
        buffer = rng.choice(["unlimited", "bytes", "packets"])
        limit, kind = math.inf, "unlimited"
        if buffer == "bytes":
            limit, kind = float(rng.integers(1500, 20000)), "bytes"
        elif buffer == "packets":
            limit, kind = float(rng.integers(1, 20)), "packets"
        links[name] = LinkSpec(
            name=name,
            capacity_bps=capacity,
            delay_s=float(rng.choice([0.0, rng.uniform(0.0, 0.02)])),
            jitter=random_jitter(rng),
            loss=random_loss(rng),
            buffer_limit=limit,
            buffer_kind=kind,
        )
    return NetworkPlan(
        name=f"random-{seed}",
        duration_s=duration,
        links=links,
        streams=tuple(streams),
        seed=seed,
        drain_s=float(rng.uniform(0.0, 0.5)),
    )


def one_link_plan(
    *,
    capacity_bps: float = math.inf,
    rate_pps: float = 100.0,
    size: SizeModel | None = None,
    kind: str = "poisson",
    duration_s: float = 10.0,
    delay_s: float = 0.0,
    jitter: JitterModel | None = None,
    loss: LossModel | None = None,
    buffer_limit: float = math.inf,
    buffer_kind: str = "unlimited",
    drain_s: float = 10.0,
    name: str = "one-link",
) -> NetworkPlan:
    """One stream ``probe`` on one link ``link``."""
    link = LinkSpec(
        name="link",
        capacity_bps=capacity_bps,
        delay_s=delay_s,
        jitter=jitter or JitterModel(),
        loss=loss or LossModel(),
        buffer_limit=buffer_limit,
        buffer_kind=buffer_kind,
    )
    stream = StreamSpec(
        name="probe",
        kind=kind,
        rate_pps=rate_pps,
        size=size or SizeModel("constant", mean_bytes=1250.0),
        path=("link",),
    )
    return NetworkPlan(
        name=name,
        duration_s=duration_s,
        links={"link": link},
        streams=(stream,),
        drain_s=drain_s,
    )
