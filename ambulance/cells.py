"""Cell sites of one operator and technology along or around an ambulance route.

Three ways to place sites, all in the route's local metres (:func:`ambulance.route.to_local`):

- :func:`sites_along_route`: every ``spacing_m`` of arc length along the route, offset to its
  side: the road-side layout of a motorway or a country road. On a straight road it is
  :func:`netsim.mobility.sites_along_road`.
- :func:`sites_around_route`: a hexagonal grid with inter-site distance ``spacing_m``, keeping
  the sites within ``margin_m`` of the route: the usual layout of a city network.
- :func:`explicit_sites`: sites given one by one, in latitude/longitude (projected exactly as
  the route is) or in metres.

How far apart sites are
-----------------------
Inter-site distances (ISD) of the 3GPP TR 38.901 evaluation scenarios (Table 7.2-1; the
values are recalled, not checked against the document here), :data:`DEFAULT_SPACING_M`:

=======  ==========================================  =========
key      scenario                                    ISD
=======  ==========================================  =========
``uma``  Urban macro (BS 25 m high)                  500 m
``umi``  Urban micro, street canyon (BS 10 m high)   200 m
``rma``  Rural macro (BS 35 m high)                  1732 m
=======  ==========================================  =========

What drives measure (Hassan et al., "Vivisecting mobility management in 5G cellular
networks", ACM SIGCOMM 2022), :data:`MEASURED_HANDOVER_SPACING_M` (the same numbers as
:data:`netsim.handover.HANDOVER_SPACING_M`): an LTE mid-band handover every ~559 m, an NSA 5G
leg change every ~405-428 m on low band and every ~118-142 m on mmWave. A handover happens at
each cell border crossed, so along a road these are upper bounds on the distance between the
sites that serve it (sectors and ping-pong add handovers). Reasonable defaults therefore: LTE
or low/mid-band 5G in a city ``uma`` (500 m), mmWave ``umi`` (200 m), country roads ``rma``
(1732 m).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ambulance.route import project
from netsim.errors import ScenarioError
from netsim.handover import HANDOVER_SPACING_M

__all__ = [
    "DEFAULT_SPACING_M",
    "MEASURED_HANDOVER_SPACING_M",
    "Site",
    "sites_along_route",
    "sites_around_route",
    "explicit_sites",
    "site_positions",
    "distance_to_route_m",
]

#: Inter-site distance in metres of the TR 38.901 scenarios (Table 7.2-1, recalled).
DEFAULT_SPACING_M: dict[str, float] = {"uma": 500.0, "umi": 200.0, "rma": 1732.0}

#: Measured distance driven between handovers in metres (Hassan et al., SIGCOMM 2022).
MEASURED_HANDOVER_SPACING_M: dict[str, float] = dict(HANDOVER_SPACING_M)


def _waypoints(waypoints_m: ArrayLike) -> NDArray[np.float64]:
    """Waypoints as an (n, 2) float array with zero-length segments removed."""
    w = np.asarray(waypoints_m, dtype=float)
    if w.ndim != 2 or w.shape[1] != 2:
        raise ValueError(f"waypoints_m must have shape (n, 2), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("waypoints_m must be finite")
    if w.shape[0]:
        w = w[np.concatenate(([True], np.any(np.diff(w, axis=0) != 0, axis=1)))]
    if w.shape[0] < 2:
        raise ValueError("a route needs at least 2 distinct waypoints")
    return w


def _positive(value: float, what: str) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{what} must be finite and > 0, got {value}")
    return v


def sites_along_route(
    waypoints_m: ArrayLike,
    spacing_m: float,
    offset_m: float,
    *,
    first_m: float | None = None,
    side: str = "alternate",
) -> NDArray[np.float64]:
    """Sites every ``spacing_m`` of arc length along a route, ``offset_m`` to its side.

    Parameters
    ----------
    waypoints_m : array_like, shape (n_waypoints, 2)
        The route's waypoints (x, y) in metres; repeated waypoints are ignored.
    spacing_m : float
        Arc length in metres between consecutive sites (> 0).
    offset_m : float
        Distance in metres from the route to each site, perpendicular to the segment the site
        is beside (>= 0).
    first_m : float, optional
        Arc length of the first site in metres; default ``spacing_m / 2``.
    side : {"alternate", "left", "right"}
        Left or right of the direction of travel, or alternating starting on the left.

    Returns
    -------
    ndarray, shape (n_sites, 2)
        Site positions (x, y) in metres, at arc lengths ``first_m + k * spacing_m`` within
        ``[0, length]`` (to within 1 µm). For a straight road along the x axis from 0 this is
        :func:`netsim.mobility.sites_along_road` with the same arguments.

    Notes
    -----
    A site at a waypoint is placed beside the segment that starts there (beside the last
    segment at the end). On the inside of a bend a site can be nearer than ``offset_m`` to
    another part of the route, and sites spaced along the path are nearer each other in
    straight line than ``spacing_m`` across a bend.
    """
    w = _waypoints(waypoints_m)
    spacing = _positive(spacing_m, "spacing_m")
    if not (math.isfinite(offset_m) and offset_m >= 0):
        raise ValueError(f"offset_m must be finite and >= 0, got {offset_m}")
    d = np.diff(w, axis=0)
    seg = np.hypot(d[:, 0], d[:, 1])
    arc = np.concatenate(([0.0], np.cumsum(seg)))
    length = float(arc[-1])
    first = spacing / 2 if first_m is None else float(first_m)
    if not (0 <= first <= length):
        raise ValueError(f"first_m must lie on the route [0, {length}], got {first}")
    n = int(np.floor((length - first) / spacing + 1e-6 / spacing)) + 1
    s = first + spacing * np.arange(n)
    i = np.clip(np.searchsorted(arc, s, side="right") - 1, 0, len(seg) - 1)
    u = d[i] / seg[i, None]
    on = w[i] + u * (s - arc[i])[:, None]
    left = np.column_stack((-u[:, 1], u[:, 0]))
    if side == "left":
        sign = np.ones(n)
    elif side == "right":
        sign = -np.ones(n)
    elif side == "alternate":
        sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    else:
        raise ValueError(f"side must be 'left', 'right' or 'alternate', got {side!r}")
    return on + left * (sign * offset_m)[:, None]


def distance_to_route_m(points_m: ArrayLike, waypoints_m: ArrayLike) -> NDArray[np.float64]:
    """Shortest distance in metres from each point (shape (n, 2), metres) to the route."""
    p = np.asarray(points_m, dtype=float).reshape(-1, 2)
    w = _waypoints(waypoints_m)
    a, d = w[:-1], np.diff(w, axis=0)
    seg2 = np.einsum("ij,ij->i", d, d)
    out = np.empty(len(p))
    chunk = max(1, 2_000_000 // len(a))  # bound the (points x segments) temporaries
    for k in range(0, len(p), chunk):
        q = p[k : k + chunk, None, :] - a[None, :, :]
        t = np.clip(np.einsum("pij,ij->pi", q, d) / seg2, 0.0, 1.0)
        r = q - t[..., None] * d[None, :, :]
        out[k : k + chunk] = np.sqrt(np.min(np.einsum("pij,pij->pi", r, r), axis=1))
    return out


def sites_around_route(
    waypoints_m: ArrayLike, spacing_m: float, *, margin_m: float
) -> NDArray[np.float64]:
    """Sites on a hexagonal grid with inter-site distance ``spacing_m`` near the route.

    The grid has a site at the route's first waypoint, rows along x ``spacing_m`` apart in x,
    ``spacing_m · √3 / 2`` apart in y, every other row shifted by half a spacing, so each site
    has six neighbours at ``spacing_m``. It covers the route's bounding box plus ``margin_m``
    and keeps the sites within ``margin_m`` of the route.

    Parameters
    ----------
    waypoints_m : array_like, shape (n_waypoints, 2)
        The route's waypoints (x, y) in metres.
    spacing_m : float
        Inter-site distance in metres (> 0), e.g. :data:`DEFAULT_SPACING_M` ``["uma"]``.
    margin_m : float
        Keep sites at most this far from the route, in metres (> 0). ``spacing_m`` or more
        keeps every site whose cell the route can cross, and the first ring of interferers.

    Returns
    -------
    ndarray, shape (n_sites, 2)
        Site positions (x, y) in metres, row by row from the south-west.
    """
    w = _waypoints(waypoints_m)
    spacing = _positive(spacing_m, "spacing_m")
    margin = _positive(margin_m, "margin_m")
    dy = spacing * math.sqrt(3) / 2
    lo = w.min(axis=0) - margin - w[0]
    hi = w.max(axis=0) + margin - w[0]
    rows = np.arange(math.floor(lo[1] / dy), math.ceil(hi[1] / dy) + 1)
    cols = np.arange(math.floor(lo[0] / spacing) - 1, math.ceil(hi[0] / spacing) + 2)
    r, c = np.meshgrid(rows, cols, indexing="ij")
    x = (c + 0.5 * (r % 2)) * spacing
    y = r * dy
    grid = np.column_stack((x.ravel(), y.ravel())) + w[0]
    return grid[distance_to_route_m(grid, w) <= margin]


@dataclass(frozen=True)
class Site:
    """One cell site in the route's local metres.

    Parameters
    ----------
    x_m, y_m : float
        East and north of the route's origin in metres.
    height_m : float or None
        Antenna height above ground in metres, or None for the scenario's default.
    technology, band : str or None
        Free-form labels (e.g. ``"5g-nsa"``, ``"n78"``), or None.
    name : str
        A label for plots and messages; default ``site <index>``.
    """

    x_m: float
    y_m: float
    height_m: float | None = None
    technology: str | None = None
    band: str | None = None
    name: str = ""


_SITE_KEYS = ("lat", "lon", "x_m", "y_m", "height_m", "technology", "band", "name")


def explicit_sites(
    entries: Iterable[Mapping[str, Any]],
    origin: tuple[float, float] | None,
    *,
    source: str = "",
    field: str = "sites",
) -> tuple[Site, ...]:
    """Sites given one by one, as ``lat``/``lon`` in degrees or ``x_m``/``y_m`` in metres.

    Parameters
    ----------
    entries : iterable of mapping
        Each with either ``lat`` and ``lon`` or ``x_m`` and ``y_m``, and optionally
        ``height_m`` (> 0), ``technology``, ``band`` and ``name``.
    origin : (float, float) or None
        The route's origin (latitude, longitude) in degrees, e.g. its first point
        ``(track.lat_deg[0], track.lon_deg[0])``; sites in degrees are projected about it with
        :func:`ambulance.route.project`, as the route is. None when all sites are in metres.
    source : str
        The file the entries came from, named in errors.
    field : str
        The entries' place in that file, for messages (``sites[2].lat``).

    Returns
    -------
    tuple of Site
    """
    sites = []
    for i, entry in enumerate(entries):
        where = f"{field}[{i}]"
        if not isinstance(entry, Mapping):
            raise ScenarioError(
                f"expected a mapping with lat/lon or x_m/y_m, got {entry!r}", source, None, where
            )
        unknown = sorted(set(entry) - set(_SITE_KEYS))
        if unknown:
            raise ScenarioError(
                f"unknown key {unknown[0]!r}: expected {', '.join(_SITE_KEYS)}",
                source,
                None,
                where,
            )
        geo = "lat" in entry or "lon" in entry
        local = "x_m" in entry or "y_m" in entry
        if geo == local:
            raise ScenarioError(
                "give either lat and lon (degrees) or x_m and y_m (metres)", source, None, where
            )
        keys = ("lat", "lon") if geo else ("x_m", "y_m")
        a, b = (_number(entry.get(k), f"{where}.{k}", source) for k in keys)
        if geo:
            if not -90 <= a <= 90:
                raise ScenarioError(f"expected [-90, 90], got {a}", source, None, f"{where}.lat")
            if not -180 <= b <= 180:
                raise ScenarioError(f"expected [-180, 180], got {b}", source, None, f"{where}.lon")
            if origin is None:
                raise ScenarioError(
                    "a site in lat/lon needs the route's origin to be projected",
                    source,
                    None,
                    where,
                )
            x, y = project(a, b, origin[0], origin[1])
            a, b = float(x), float(y)
        height = entry.get("height_m")
        if height is not None:
            height = _number(height, f"{where}.height_m", source)
            if height <= 0:
                raise ScenarioError(
                    f"expected a height > 0 m, got {height}", source, None, f"{where}.height_m"
                )
        labels = {}
        for k in ("technology", "band", "name"):
            v = entry.get(k)
            if v is not None and not isinstance(v, str):
                raise ScenarioError(f"expected text, got {v!r}", source, None, f"{where}.{k}")
            labels[k] = v
        sites.append(
            Site(a, b, height, labels["technology"], labels["band"], labels["name"] or f"site {i}")
        )
    return tuple(sites)


def _number(value: Any, where: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        got = "nothing" if value is None else repr(value)
        raise ScenarioError(f"expected a finite number, got {got}", source, None, where)
    return float(value)


def site_positions(sites: Iterable[Site]) -> NDArray[np.float64]:
    """Positions of sites as an array of shape (n_sites, 2) in metres."""
    return np.array([(s.x_m, s.y_m) for s in sites], dtype=float).reshape(-1, 2)
