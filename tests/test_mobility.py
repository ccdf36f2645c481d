"""Routes against hand computations: positions, arc length and speed on an L-shaped route."""

from __future__ import annotations

import numpy as np
import pytest

from netsim.mobility import Route, distances_2d, sites_along_road

L_SHAPE = [[0.0, 0.0], [30.0, 0.0], [30.0, 40.0]]  # 30 m east, then 40 m north


def test_l_shaped_route_by_hand():
    """At 10 m/s the corner is reached at 3 s and the end at 7 s; positions in between."""
    route = Route(L_SHAPE, speed_mps=10.0)
    assert route.length_m == 70.0
    assert route.duration_s == 7.0
    x, y = route.position(np.array([0.0, 1.5, 3.0, 5.0, 7.0]))
    np.testing.assert_allclose(x, [0, 15, 30, 30, 30])
    np.testing.assert_allclose(y, [0, 0, 0, 20, 40])
    np.testing.assert_allclose(
        route.distance_travelled([0.0, 1.5, 3.0, 5.0, 7.0]), [0, 15, 30, 50, 70]
    )
    np.testing.assert_allclose(route.speed_at([0.0, 2.9, 3.0, 6.9]), 10.0)


def test_speed_mode_and_times_mode_agree():
    """A timetable with the times a constant speed gives describes the same motion."""
    by_speed = Route(L_SHAPE, speed_mps=10.0)
    by_times = Route(L_SHAPE, times_s=[0.0, 3.0, 7.0])
    t = np.linspace(-1, 9, 101)
    for a, b in zip(by_speed.position(t), by_times.position(t), strict=True):
        np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(by_speed.distance_travelled(t), by_times.distance_travelled(t))
    np.testing.assert_allclose(by_speed.speed_at(t), by_times.speed_at(t))


def test_after_the_end_it_stays_put():
    """After the last waypoint the position is the last waypoint and the speed is 0."""
    route = Route(L_SHAPE, speed_mps=10.0)
    x, y = route.position([7.0, 8.0, 1e6])
    np.testing.assert_array_equal(x, 30.0)
    np.testing.assert_array_equal(y, 40.0)
    np.testing.assert_array_equal(route.distance_travelled([8.0, 1e6]), 70.0)
    np.testing.assert_array_equal(route.speed_at([7.0, 8.0]), 0.0)
    # Before the start: the first waypoint, at rest.
    assert route.position(-1.0) == (0.0, 0.0)
    assert route.speed_at(-1.0) == 0.0


def test_timetable_with_a_stop():
    """Repeating a waypoint at two times makes the endpoint wait there."""
    route = Route([[0, 0], [10, 0], [10, 0], [20, 0]], times_s=[0, 1, 3, 4])
    x, _ = route.position([0.5, 2.0, 3.5])
    np.testing.assert_allclose(x, [5, 10, 15])
    np.testing.assert_allclose(route.speed_at([0.5, 2.0, 3.5]), [10, 0, 10])
    assert route.length_m == 20.0


def test_position_keeps_the_shape_of_t():
    """Vectorised: a 2-D array of times gives 2-D coordinates."""
    x, y = Route(L_SHAPE, speed_mps=10.0).position(np.zeros((2, 3)))
    assert x.shape == y.shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"waypoints_m": [[0, 0]], "speed_mps": 1.0}, "at least 2 waypoints"),
        ({"waypoints_m": [0, 1, 2], "speed_mps": 1.0}, "shape"),
        ({"waypoints_m": [[0, 0], [np.nan, 1]], "speed_mps": 1.0}, "finite"),
        ({"waypoints_m": L_SHAPE, "speed_mps": 0.0}, "speed_mps"),
        ({"waypoints_m": L_SHAPE}, "exactly one"),
        ({"waypoints_m": L_SHAPE, "speed_mps": 1.0, "times_s": [0, 1, 2]}, "exactly one"),
        ({"waypoints_m": L_SHAPE, "times_s": [0, 2, 2]}, "strictly increasing"),
        ({"waypoints_m": L_SHAPE, "times_s": [1, 2, 3]}, "start at 0"),
        ({"waypoints_m": L_SHAPE, "times_s": [0, 1]}, "one time per waypoint"),
        ({"waypoints_m": [[0, 0], [0, 0], [1, 0]], "speed_mps": 1.0}, "are equal"),
    ],
)
def test_route_validation(kwargs, message):
    """Bad routes raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        Route(**kwargs)


def test_sites_along_road():
    """Sites every 500 m on a 5 km road, first at 250 m, 50 m off the road."""
    sites = sites_along_road(5000.0, 500.0, offset_m=50.0)
    np.testing.assert_allclose(sites[:, 0], 250.0 + 500.0 * np.arange(10))
    np.testing.assert_array_equal(sites[:, 1], 50.0)
    inclusive = sites_along_road(1000.0, 500.0, first_m=0.0)
    np.testing.assert_array_equal(inclusive[:, 0], [0, 500, 1000])
    np.testing.assert_array_equal(
        sites_along_road(2000.0, 500.0, 10.0, side="alternate")[:, 1], [10, -10, 10, -10]
    )
    with pytest.raises(ValueError, match="side"):
        sites_along_road(1000.0, 500.0, side="up")


def test_distances_2d_by_hand():
    """A 3-4-5 triangle and a site on the route."""
    d = distances_2d([[0.0, 0.0], [3.0, 4.0]], np.array([3.0, 0.0]), np.array([4.0, 0.0]))
    np.testing.assert_allclose(d, [[5.0, 0.0], [0.0, 5.0]])
