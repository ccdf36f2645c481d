"""Mobility: where a mobile endpoint (an ambulance, a handheld) is at each sample time.

A :class:`Route` is a polyline of waypoints in metres, travelled either at a constant speed or
on an explicit timetable. It gives positions, the arc length travelled (for the spatial
correlation of shadow fading) and the speed, all vectorised over arrays of times in seconds.
:func:`sites_along_road` and :func:`distances_2d` build the usual test case of a straight road
past evenly spaced cell sites; path loss itself is computed elsewhere from the distances.

The model is kinematic and simpler than reality: the endpoint moves in a plane, at a
constant speed along each segment, and turns corners instantly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Route", "sites_along_road", "distances_2d"]


def _readonly(a: NDArray) -> NDArray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Route:
    """A polyline travelled at a constant speed or on a timetable.

    Give exactly one of ``speed_mps`` and ``times_s``.

    Parameters
    ----------
    waypoints_m : array_like, shape (n_waypoints, 2)
        Waypoints (x, y) in metres; at least two, all finite.
    speed_mps : float, optional
        Constant speed in m/s along the whole route (> 0). Consecutive waypoints must then
        differ.
    times_s : array_like, shape (n_waypoints,), optional
        Time in seconds at which each waypoint is reached: starts at 0 and strictly increases.
        Two equal consecutive waypoints with different times make a stop.

    Attributes
    ----------
    waypoints_m : ndarray, shape (n_waypoints, 2)
        The waypoints in metres (read-only copy).
    times_s : ndarray, shape (n_waypoints,)
        Arrival time at each waypoint in seconds (computed from ``speed_mps`` when given).
    speed_mps : float or None
        The constant speed, or None for a timetable.

    Notes
    -----
    The speed is constant along each segment and changes instantly at the waypoints. Before
    ``t_s = 0`` the endpoint is at the first waypoint and after :attr:`duration_s` it stays at
    the last waypoint, with speed 0 in both cases.
    """

    waypoints_m: NDArray[np.float64]
    speed_mps: float | None = None
    times_s: NDArray[np.float64] | None = None
    _arc_m: NDArray[np.float64] = field(init=False, repr=False)
    _seg_speed_mps: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        w = np.array(self.waypoints_m, dtype=float)
        if w.ndim != 2 or w.shape[1] != 2:
            raise ValueError(f"waypoints_m must have shape (n, 2), got {w.shape}")
        if w.shape[0] < 2:
            raise ValueError(f"a route needs at least 2 waypoints, got {w.shape[0]}")
        if not np.all(np.isfinite(w)):
            raise ValueError("waypoints_m must be finite")
        seg_m = np.hypot(*np.diff(w, axis=0).T)
        if (self.speed_mps is None) == (self.times_s is None):
            raise ValueError("give exactly one of speed_mps and times_s")
        if self.speed_mps is not None:
            speed = float(self.speed_mps)
            if not (np.isfinite(speed) and speed > 0):
                raise ValueError(f"speed_mps must be finite and > 0, got {self.speed_mps}")
            if np.any(seg_m == 0):
                i = int(np.argmax(seg_m == 0))
                raise ValueError(
                    f"waypoints {i} and {i + 1} are equal; at a constant speed a route cannot "
                    "stop (use times_s for a stop)"
                )
            t = np.concatenate(([0.0], np.cumsum(seg_m) / speed))
            object.__setattr__(self, "speed_mps", speed)
        else:
            t = np.array(self.times_s, dtype=float)
            if t.shape != (w.shape[0],):
                raise ValueError(
                    f"times_s must have one time per waypoint ({w.shape[0]}), got shape {t.shape}"
                )
            if not np.all(np.isfinite(t)):
                raise ValueError("times_s must be finite")
            if t[0] != 0.0:
                raise ValueError(f"times_s must start at 0, got {t[0]}")
            if np.any(np.diff(t) <= 0):
                raise ValueError("times_s must be strictly increasing")
        object.__setattr__(self, "waypoints_m", _readonly(w))
        object.__setattr__(self, "times_s", _readonly(t))
        object.__setattr__(self, "_arc_m", _readonly(np.concatenate(([0.0], np.cumsum(seg_m)))))
        object.__setattr__(self, "_seg_speed_mps", _readonly(seg_m / np.diff(t)))

    @property
    def length_m(self) -> float:
        """Total length of the route in metres."""
        return float(self._arc_m[-1])

    @property
    def duration_s(self) -> float:
        """Time in seconds at which the last waypoint is reached."""
        return float(self.times_s[-1])

    def position(self, t_s: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Position at times ``t_s`` (seconds), by linear interpolation along the segments.

        Returns ``(x_m, y_m)``, each with the shape of ``t_s``. Times before 0 give the first
        waypoint and times after :attr:`duration_s` the last one.
        """
        t = np.asarray(t_s, dtype=float)
        w = self.waypoints_m
        return np.interp(t, self.times_s, w[:, 0]), np.interp(t, self.times_s, w[:, 1])

    def distance_travelled(self, t_s: ArrayLike) -> NDArray[np.float64]:
        """Arc length in metres travelled along the route by time ``t_s`` (seconds).

        0 before the start, :attr:`length_m` after the end; non-decreasing in ``t_s``.
        """
        return np.interp(np.asarray(t_s, dtype=float), self.times_s, self._arc_m)

    def speed_at(self, t_s: ArrayLike) -> NDArray[np.float64]:
        """Speed in m/s at times ``t_s`` (seconds).

        At a waypoint the speed of the segment that starts there applies (right-continuous).
        The speed is 0 before 0 and from :attr:`duration_s` on.
        """
        t = np.asarray(t_s, dtype=float)
        seg = np.searchsorted(self.times_s, t, side="right") - 1
        inside = (seg >= 0) & (seg < len(self._seg_speed_mps))
        speed = np.zeros(t.shape)
        speed[inside] = self._seg_speed_mps[seg[inside]]
        return speed


def sites_along_road(
    length_m: float,
    spacing_m: float,
    offset_m: float = 0.0,
    first_m: float | None = None,
    side: str = "left",
) -> NDArray[np.float64]:
    """Cell sites evenly spaced along a straight road on the x axis from 0 to ``length_m``.

    Parameters
    ----------
    length_m : float
        Length of the road in metres (> 0).
    spacing_m : float
        Distance in metres between consecutive sites along the road (> 0).
    offset_m : float
        Perpendicular distance in metres from the road to each site (>= 0).
    first_m : float, optional
        Position along the road of the first site, in metres; default ``spacing_m / 2``, so
        that both ends of the road are half a spacing from the nearest site and cell borders
        fall at multiples of ``spacing_m``.
    side : {"left", "right", "alternate"}
        Sites at ``y = +offset_m`` ("left"), ``y = -offset_m`` ("right") or alternating,
        starting on the left.

    Returns
    -------
    ndarray, shape (n_sites, 2)
        Site positions (x, y) in metres: every ``first_m + k * spacing_m`` within
        ``[0, length_m]`` (to within 1 µm).
    """
    if not (np.isfinite(length_m) and length_m > 0):
        raise ValueError(f"length_m must be finite and > 0, got {length_m}")
    if not (np.isfinite(spacing_m) and spacing_m > 0):
        raise ValueError(f"spacing_m must be finite and > 0, got {spacing_m}")
    if not (np.isfinite(offset_m) and offset_m >= 0):
        raise ValueError(f"offset_m must be finite and >= 0, got {offset_m}")
    first = spacing_m / 2 if first_m is None else float(first_m)
    if not (0 <= first <= length_m):
        raise ValueError(f"first_m must lie on the road [0, {length_m}], got {first}")
    n = int(np.floor((length_m - first) / spacing_m + 1e-6 / spacing_m)) + 1
    x = first + spacing_m * np.arange(n)
    if side == "left":
        sign = np.ones(n)
    elif side == "right":
        sign = -np.ones(n)
    elif side == "alternate":
        sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    else:
        raise ValueError(f"side must be 'left', 'right' or 'alternate', got {side!r}")
    return np.column_stack((x, sign * offset_m))


def distances_2d(sites_xy: ArrayLike, x_m: ArrayLike, y_m: ArrayLike) -> NDArray[np.float64]:
    """Horizontal distance in metres from each site to each sample position.

    Parameters
    ----------
    sites_xy : array_like, shape (n_sites, 2)
        Site positions (x, y) in metres.
    x_m, y_m : array_like, shape (n_samples,)
        Positions of the mobile endpoint in metres.

    Returns
    -------
    ndarray, shape (n_sites, n_samples)
        Euclidean distances in the plane; antenna heights are not included.
    """
    s = np.asarray(sites_xy, dtype=float)
    if s.ndim != 2 or s.shape[1] != 2:
        raise ValueError(f"sites_xy must have shape (n_sites, 2), got {s.shape}")
    x = np.asarray(x_m, dtype=float).ravel()
    y = np.asarray(y_m, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x_m and y_m differ in size: {x.size} and {y.size}")
    return np.hypot(x[None, :] - s[:, 0:1], y[None, :] - s[:, 1:2])
