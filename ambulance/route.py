"""Routes given as geography (GPX, GeoJSON) turned into metres on a local plane and a timetable.

The simulator's :class:`netsim.mobility.Route` wants waypoints in metres and either a constant
speed or the time each waypoint is reached. A drive is usually recorded or drawn as latitude and
longitude: :func:`read_gpx` and :func:`read_geojson` read those into a :class:`GeoTrack`,
:func:`to_local` projects it onto east/north metres about its first point, and
:func:`timetable` gives the waypoints and times that :class:`netsim.plan.RouteSpec` takes::

    track = read_track("ambulance/routes/highway.gpx")
    x_m, y_m = to_local(track)
    waypoints, times = timetable(x_m, y_m, t_s=track.t_s)
    spec = RouteSpec(waypoints_m=tuple(map(tuple, waypoints)), times_s=tuple(times))

(:func:`route_spec` does the same in one call.)

Projection
----------
:func:`project` maps latitude φ and longitude λ to east/north metres about an origin (φ0, λ0)
by the stereographic projection of the sphere of radius R = 6,371,008.8 m (the IUGG mean
radius) onto the plane tangent at the origin::

    k = 2 / (1 + sin φ0 sin φ + cos φ0 cos φ cos Δλ)        Δλ = λ − λ0
    x = R · k · cos φ sin Δλ
    y = R · k · (cos φ0 sin φ − sin φ0 cos φ cos Δλ)

Near the origin this is x ≈ R·Δλ·cos φ0, y ≈ R·Δφ, the equirectangular projection, but it
keeps its accuracy further out. The projection is conformal (angles and so perpendicular site
offsets are kept) and its scale is k ≈ 1 + (ρ / 2R)² at a distance ρ from the origin: every
distance in the plane is too long by at most 6·10⁻⁶ (0.0006 %) within 30 km of the first point
and 2.5·10⁻⁵ within 60 km. The plain equirectangular projection (x = R·Δλ·cos φ0 for every
point) errs to first order instead: an east-west distance at Δy north of the origin is off by
about tan φ0 · Δy / R, 0.9 % at 60 km north of a point at 45° (0.18 % in the length of the
shipped rural route, 0.85 % for some of its point-to-point distances), above the 0.1 % aimed
at. The sphere itself differs from the WGS 84 ellipsoid by up to about 0.5 % in distances
(north-south ones most), as haversine does; next to the uncertainty of a path-loss model this
does not matter, and the tests compare the projection with haversine on the same sphere.

Errors in the files are :class:`netsim.errors.ScenarioError`, one line naming the file and,
where known, the line.
"""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from netsim.errors import ScenarioError, read_user_text
from netsim.plan import RouteSpec

__all__ = [
    "EARTH_RADIUS_M",
    "GeoTrack",
    "read_gpx",
    "read_geojson",
    "read_track",
    "project",
    "to_local",
    "haversine_m",
    "timetable",
    "route_length_m",
    "route_spec",
]

#: Mean radius of the Earth in metres (IUGG: R1 = (2a + b) / 3 of WGS 84).
EARTH_RADIUS_M = 6_371_008.8

GPX_NAMESPACES = (
    "http://www.topografix.com/GPX/1/1",
    "http://www.topografix.com/GPX/1/0",
    "",
)


@dataclass(frozen=True, eq=False)
class GeoTrack:
    """A route as read from a file: points in degrees, optionally timed.

    Parameters
    ----------
    lat_deg, lon_deg : ndarray, shape (n_points,)
        Latitude and longitude of each point in degrees (WGS 84 as in the file).
    t_s : ndarray, shape (n_points,), or None
        Time of each point in seconds after the first point's time; None when the file gives
        no times. Non-decreasing (the readers refuse times that go back).
    source : str
        The file the track came from, for messages.
    """

    lat_deg: NDArray[np.float64]
    lon_deg: NDArray[np.float64]
    t_s: NDArray[np.float64] | None
    source: str

    def __len__(self) -> int:
        return int(self.lat_deg.shape[0])


# --------------------------------------------------------------------------------------------
# Reading files


def read_track(path: str | os.PathLike[str]) -> GeoTrack:
    """Read a GPX (``.gpx``) or GeoJSON (``.geojson``, ``.json``) route, by file extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".gpx":
        return read_gpx(path)
    if suffix in (".geojson", ".json"):
        return read_geojson(path)
    raise ScenarioError(
        f"unknown route file type {suffix or '(none)'!r}: expected .gpx, .geojson or .json",
        os.fspath(path),
    )


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def read_gpx(path: str | os.PathLike[str]) -> GeoTrack:
    """Read the first track (``trk/trkseg/trkpt``) of a GPX 1.0 or 1.1 file, else its first route.

    All segments of the first track with points are joined in order. Without track points the
    first route's ``rte/rtept`` are used. Each point needs ``lat`` and ``lon`` attributes in
    degrees; ``<time>`` (ISO 8601, UTC when no offset is given) is used when every point has
    one, and must never go back. The GPX 1.1 and 1.0 namespaces and none are accepted.

    Files with a DOCTYPE or ENTITY declaration are refused before parsing: GPX needs neither,
    and they are how XML bombs (entity expansion) and external entities get in.

    Raises
    ------
    ScenarioError
        Naming the file and, where known, the line.
    """
    name, text = read_user_text(path, "a GPX file")
    bad = _DECLARATION.search(text)
    if bad:
        raise ScenarioError(
            f"<!{bad.group(1).upper()} declarations are not allowed in a GPX file "
            "(refused: they can expand into an XML bomb)",
            name,
            _line_of(text, bad.start()),
        )
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        reason = str(exc).split(":")[0]
        raise ScenarioError(f"not well-formed XML: {reason}", name, line) from None
    ns_match = re.match(r"\{([^}]*)\}(.*)", root.tag)
    ns, local = ns_match.groups() if ns_match else ("", root.tag)
    if local != "gpx":
        raise ScenarioError(f"not a GPX file: the root element is <{local}>, not <gpx>", name, 1)
    if ns not in GPX_NAMESPACES:
        raise ScenarioError(
            f"unknown GPX namespace {ns!r}: expected GPX 1.1 or 1.0 "
            "(http://www.topografix.com/GPX/1/1 or .../1/0) or none",
            name,
            1,
        )
    q = (lambda tag: f"{{{ns}}}{tag}") if ns else (lambda tag: tag)

    kind, points = "trkpt", []
    for trk in root.findall(q("trk")):
        points = [p for seg in trk.findall(q("trkseg")) for p in seg.findall(q("trkpt"))]
        if points:
            break
    if not points:
        kind = "rtept"
        for rte in root.findall(q("rte")):
            points = rte.findall(q("rtept"))
            if points:
                break
    lines = _element_lines(text, kind, points, root, q)
    if len(points) < 2:
        raise ScenarioError(
            f"a GPX track needs at least 2 points, found {len(points)} "
            "(trk/trkseg/trkpt or rte/rtept)",
            name,
        )
    lat = np.empty(len(points))
    lon = np.empty(len(points))
    times: list[float | None] = []
    for i, p in enumerate(points):
        line = lines[i] if lines else None
        lat[i], lon[i] = (
            _coordinate(p.get(a), a, name, line, f"{kind}[{i}].{a}") for a in ("lat", "lon")
        )
        t = p.find(q("time"))
        times.append(
            None
            if t is None or not (t.text or "").strip()
            else _iso_seconds(t.text or "", name, line, f"{kind}[{i}].time")
        )
    t_s = _relative_times(times, name, lines, kind)
    return GeoTrack(lat, lon, t_s, name)


def _element_lines(
    text: str, kind: str, chosen: list[ET.Element], root: ET.Element, q: Any
) -> list[int] | None:
    """1-based line of each chosen ``kind`` element, found in the raw text; None when unsure.

    ElementTree keeps no line numbers, so the start tags are found with a pattern and trusted
    only when they number exactly as many as the document holds (comments or CDATA holding
    such tags would break the match); both are in document order.
    """
    starts = [m.start() for m in re.finditer(rf"<(?:[\w.-]+:)?{kind}[\s/>]", text)]
    every = list(root.iter(q(kind)))
    if len(starts) != len(every):
        return None
    index = {id(e): i for i, e in enumerate(every)}
    return [_line_of(text, starts[index[id(e)]]) for e in chosen]


def _coordinate(value: Any, which: str, name: str, line: int | None, fld: str) -> float:
    limit = 90.0 if which == "lat" else 180.0
    try:
        v = float(value)
    except (TypeError, ValueError):
        got = "nothing" if value is None else repr(value)
        raise ScenarioError(
            f"{which} must be a number of degrees, got {got}", name, line, fld
        ) from None
    if not (math.isfinite(v) and -limit <= v <= limit):
        hint = " (GeoJSON positions are [lon, lat])" if which == "lat" else ""
        raise ScenarioError(
            f"{which} must be a number of degrees in [-{limit:g}, {limit:g}], got {value!r}" + hint,
            name,
            line,
            fld,
        ) from None
    return v


def _iso_seconds(value: str, name: str, line: int | None, fld: str) -> float:
    """POSIX seconds of an ISO 8601 time; UTC when it carries no offset."""
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ScenarioError(
            f"expected an ISO 8601 time such as 2024-05-01T08:30:00Z, got {value.strip()!r}",
            name,
            line,
            fld,
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _relative_times(
    times: Sequence[float | None], name: str, lines: list[int] | None, kind: str
) -> NDArray[np.float64] | None:
    """Seconds after the first point, or None when no point has a time; never going back."""
    have = [t is not None for t in times]
    if not any(have):
        return None
    if not all(have):
        i = have.index(False)
        raise ScenarioError(
            f"some points have a time and {kind}[{i}] does not: give every point a time or none",
            name,
            lines[i] if lines else None,
            f"{kind}[{i}].time",
        )
    t = np.array(times, dtype=float)
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise ScenarioError(
            f"time goes back: {kind}[{i}] is {t[i - 1] - t[i]:g} s before the point ahead of it",
            name,
            lines[i] if lines else None,
            f"{kind}[{i}].time",
        )
    return t - t[0]


def read_geojson(path: str | os.PathLike[str]) -> GeoTrack:
    """Read a LineString from GeoJSON (RFC 7946): bare, in a Feature, or in a FeatureCollection.

    In a FeatureCollection the first feature whose geometry is a LineString is used. Positions
    are ``[lon, lat]`` or ``[lon, lat, altitude]`` in degrees (GeoJSON order: longitude
    first); the altitude is ignored. An optional ``properties.times`` of the feature, one per
    position, gives times as ISO 8601 strings or as seconds (numbers); they must never go back.

    Raises
    ------
    ScenarioError
        Naming the file (and the line, for JSON syntax errors).
    """
    name, text = read_user_text(path, "a GeoJSON file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"not valid JSON: {exc.msg}", name, exc.lineno) from None
    if not isinstance(doc, dict) or "type" not in doc:
        raise ScenarioError("not GeoJSON: expected an object with a 'type'", name)
    kind = doc["type"]
    properties: Any = None
    where = ""
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise ScenarioError(
                "a FeatureCollection needs a list of features", name, None, "features"
            )
        found = [
            (i, f)
            for i, f in enumerate(features)
            if isinstance(f, dict)
            and isinstance(f.get("geometry"), dict)
            and f["geometry"].get("type") == "LineString"
        ]
        if not found:
            kinds = sorted(
                {
                    str(f["geometry"].get("type"))
                    for f in features
                    if isinstance(f, dict) and isinstance(f.get("geometry"), dict)
                }
            )
            got = ", ".join(kinds) if kinds else "no geometries"
            raise ScenarioError(
                f"expected a LineString feature in the FeatureCollection, got {got}", name
            )
        i, feature = found[0]
        geometry, properties = feature["geometry"], feature.get("properties")
        where = f"features[{i}]."
    elif kind == "Feature":
        geometry, properties = doc.get("geometry"), doc.get("properties")
        if not isinstance(geometry, dict):
            raise ScenarioError("expected a LineString, the Feature has no geometry", name)
        where = ""
    else:
        geometry = doc
    gkind = geometry.get("type")
    if gkind != "LineString":
        raise ScenarioError(f"expected a LineString, got {gkind}", name, None, f"{where}geometry")
    coords = geometry.get("coordinates")
    cfield = f"{where}geometry.coordinates" if where or kind == "Feature" else "coordinates"
    if not isinstance(coords, list):
        raise ScenarioError("expected a list of [lon, lat] positions", name, None, cfield)
    if len(coords) < 2:
        raise ScenarioError(
            f"a LineString route needs at least 2 points, found {len(coords)}", name, None, cfield
        )
    lat = np.empty(len(coords))
    lon = np.empty(len(coords))
    for i, pos in enumerate(coords):
        if (
            not isinstance(pos, list)
            or not 2 <= len(pos) <= 3
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos)
        ):
            raise ScenarioError(
                f"expected a position [lon, lat] or [lon, lat, altitude], got {pos!r}",
                name,
                None,
                f"{cfield}[{i}]",
            )
        lon[i] = _coordinate(pos[0], "lon", name, None, f"{cfield}[{i}][0]")
        lat[i] = _coordinate(pos[1], "lat", name, None, f"{cfield}[{i}][1]")
    t_s = None
    times = properties.get("times") if isinstance(properties, dict) else None
    if times is not None:
        tfield = f"{where}properties.times"
        if not isinstance(times, list) or len(times) != len(coords):
            got = len(times) if isinstance(times, list) else type(times).__name__
            raise ScenarioError(
                f"expected one time per position ({len(coords)}), got {got}", name, None, tfield
            )
        values: list[float | None] = []
        for i, v in enumerate(times):
            if isinstance(v, str):
                values.append(_iso_seconds(v, name, None, f"{tfield}[{i}]"))
            elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                values.append(float(v))
            else:
                raise ScenarioError(
                    f"expected an ISO 8601 time or seconds, got {v!r}", name, None, f"{tfield}[{i}]"
                )
        t_s = _relative_times(values, name, None, "times")
    return GeoTrack(lat, lon, t_s, name)


# --------------------------------------------------------------------------------------------
# Projection


def project(
    lat_deg: ArrayLike, lon_deg: ArrayLike, origin_lat_deg: float, origin_lon_deg: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """East/north metres of points about an origin (stereographic projection; module notes).

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        Points in degrees; less than 90° of arc from the origin (a route is far less).
    origin_lat_deg, origin_lon_deg : float
        The origin (x = y = 0) in degrees.

    Returns
    -------
    x_m, y_m : ndarray
        East and north of the origin in metres, with the shape of the inputs.
    """
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    dlon = np.radians(np.asarray(lon_deg, dtype=float) - origin_lon_deg)
    lat0 = math.radians(origin_lat_deg)
    cos_lat, sin_lat, cos_dlon = np.cos(lat), np.sin(lat), np.cos(dlon)
    k = 2.0 / (1.0 + math.sin(lat0) * sin_lat + math.cos(lat0) * cos_lat * cos_dlon)
    x = EARTH_RADIUS_M * k * cos_lat * np.sin(dlon)
    y = EARTH_RADIUS_M * k * (math.cos(lat0) * sin_lat - math.sin(lat0) * cos_lat * cos_dlon)
    return x, y


def to_local(track: GeoTrack) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project a track onto east/north metres about its first point (:func:`project`).

    Returns
    -------
    x_m, y_m : ndarray, shape (n_points,)
        East and north of the first point in metres; the first point is (0, 0).
    """
    return project(track.lat_deg, track.lon_deg, track.lat_deg[0], track.lon_deg[0])


def haversine_m(
    lat1_deg: ArrayLike, lon1_deg: ArrayLike, lat2_deg: ArrayLike, lon2_deg: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance in metres on the sphere of radius :data:`EARTH_RADIUS_M`."""
    p1, p2 = np.radians(lat1_deg), np.radians(lat2_deg)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2_deg, dtype=float) - np.asarray(lon1_deg, dtype=float))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


# --------------------------------------------------------------------------------------------
# Timetable


def timetable(
    x_m: ArrayLike,
    y_m: ArrayLike,
    *,
    t_s: ArrayLike | None = None,
    speed_mps: float | None = None,
    segment_speeds_mps: ArrayLike | None = None,
    source: str = "",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Waypoints and the time each is reached, ready for :class:`netsim.plan.RouteSpec`.

    Give exactly one of ``t_s``, ``speed_mps`` and ``segment_speeds_mps``.

    Parameters
    ----------
    x_m, y_m : array_like, shape (n_points,)
        Points in metres (e.g. from :func:`to_local`).
    t_s : array_like, shape (n_points,), optional
        Time of each point in seconds (e.g. :attr:`GeoTrack.t_s`), non-decreasing; shifted to
        start at 0. A point with the same time as the one before it is dropped (GPS logs with
        1 s resolution repeat times); a repeated position at a later time is kept: it is a
        stop, which :class:`netsim.mobility.Route` supports.
    speed_mps : float, optional
        Constant speed in m/s (> 0).
    segment_speeds_mps : array_like, shape (n_points - 1,), optional
        Speed in m/s on each segment between consecutive points (> 0).
    source : str
        The file the points came from, named in errors.

    Returns
    -------
    waypoints : ndarray, shape (n_waypoints, 2)
        Waypoints (x, y) in metres. With speeds, consecutive duplicate points (and the speed of
        the zero-length segment between them) are dropped.
    times_s : ndarray, shape (n_waypoints,)
        Arrival times in seconds: 0 first, strictly increasing.

    Raises
    ------
    ScenarioError
        Times that go back, speeds that are not > 0, fewer than 2 distinct points, or not
        exactly one of the three ways to time the route.
    """
    x = np.asarray(x_m, dtype=float).ravel()
    y = np.asarray(y_m, dtype=float).ravel()
    if x.shape != y.shape:
        raise ScenarioError(f"x_m and y_m differ in size: {x.size} and {y.size}", source)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ScenarioError("route points must be finite", source)
    given = sum(v is not None for v in (t_s, speed_mps, segment_speeds_mps))
    if given != 1:
        raise ScenarioError(
            "give exactly one of t_s, speed_mps and segment_speeds_mps to time the route", source
        )
    w = np.column_stack((x, y))
    if t_s is not None:
        t = np.asarray(t_s, dtype=float).ravel()
        if t.shape != x.shape:
            raise ScenarioError(
                f"expected one time per point ({x.size}), got {t.size}", source, None, "times"
            )
        if not np.all(np.isfinite(t)):
            raise ScenarioError("times must be finite", source, None, "times")
        dt = np.diff(t)
        if np.any(dt < 0):
            i = int(np.argmax(dt < 0)) + 1
            raise ScenarioError(
                f"time goes back at point {i}: {t[i]:g} s after {t[i - 1]:g} s",
                source,
                None,
                f"times[{i}]",
            )
        keep = np.concatenate(([True], dt > 0))
        w, t = w[keep], t[keep] - t[0]
        if len(t) < 2:
            raise ScenarioError("a timed route needs at least 2 points at different times", source)
        return w, t
    seg_m = np.hypot(*np.diff(w, axis=0).T)
    if speed_mps is not None:
        speed = float(speed_mps)
        if not (math.isfinite(speed) and speed > 0):
            raise ScenarioError(f"speed must be finite and > 0, got {speed_mps}", source)
        speeds = np.full(seg_m.shape, speed)
    else:
        speeds = np.asarray(segment_speeds_mps, dtype=float).ravel()
        if speeds.shape != seg_m.shape:
            raise ScenarioError(
                f"expected one speed per segment ({seg_m.size}), got {speeds.size}", source
            )
        bad = ~(np.isfinite(speeds) & (speeds > 0))
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ScenarioError(
                f"segment speeds must be finite and > 0, got {speeds[i]:g} for segment {i}",
                source,
            )
    moving = seg_m > 0
    keep = np.concatenate(([True], moving))
    w, seg_m, speeds = w[keep], seg_m[moving], speeds[moving]
    if len(w) < 2:
        raise ScenarioError("a route needs at least 2 distinct points", source)
    return w, np.concatenate(([0.0], np.cumsum(seg_m / speeds)))


def route_length_m(waypoints: ArrayLike) -> float:
    """Length in metres of the polyline through ``waypoints`` (shape (n, 2), metres)."""
    w = np.asarray(waypoints, dtype=float)
    if w.ndim != 2 or w.shape[1] != 2:
        raise ValueError(f"waypoints must have shape (n, 2), got {w.shape}")
    return float(np.hypot(*np.diff(w, axis=0).T).sum())


def route_spec(
    track: GeoTrack,
    *,
    speed_mps: float | None = None,
    segment_speeds_mps: ArrayLike | None = None,
) -> RouteSpec:
    """A :class:`netsim.plan.RouteSpec` for a track: its own times unless a speed is given.

    With neither ``speed_mps`` nor ``segment_speeds_mps`` the track's times are used (an
    error when it has none); a speed given overrides the file's times.
    """
    x, y = to_local(track)
    if speed_mps is None and segment_speeds_mps is None:
        if track.t_s is None:
            raise ScenarioError(
                "the route has no times: give a speed for it", track.source, None, "speed"
            )
        w, t = timetable(x, y, t_s=track.t_s, source=track.source)
    else:
        w, t = timetable(
            x, y, speed_mps=speed_mps, segment_speeds_mps=segment_speeds_mps, source=track.source
        )
    return RouteSpec(
        waypoints_m=tuple((float(a), float(b)) for a, b in w),
        times_s=tuple(float(v) for v in t),
    )
