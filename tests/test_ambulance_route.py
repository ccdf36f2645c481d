"""Ambulance routes from GPX/GeoJSON, their projection and timetable, and sites along them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ambulance.cells import (
    DEFAULT_SPACING_M,
    distance_to_route_m,
    explicit_sites,
    site_positions,
    sites_along_route,
    sites_around_route,
)
from ambulance.route import (
    EARTH_RADIUS_M,
    haversine_m,
    project,
    read_geojson,
    read_gpx,
    read_track,
    route_length_m,
    route_spec,
    timetable,
    to_local,
)
from netsim.errors import ScenarioError
from netsim.mobility import Route, sites_along_road

ROUTES = Path(__file__).resolve().parents[1] / "ambulance" / "routes"
GPX11 = "http://www.topografix.com/GPX/1/1"
GPX10 = "http://www.topografix.com/GPX/1/0"


def gpx_text(points: str, ns: str | None = GPX11, body: str = "trk") -> str:
    """A GPX document around ``points`` (trkpt or rtept elements)."""
    xmlns = f' xmlns="{ns}"' if ns else ""
    inner = f"<trk><trkseg>\n{points}</trkseg></trk>" if body == "trk" else f"<rte>\n{points}</rte>"
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1"{xmlns}>\n{inner}\n</gpx>\n'


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``tmp_path / name`` and return the path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


THREE_TIMED = (
    '<trkpt lat="52.0" lon="13.0"><time>2024-05-01T08:00:00Z</time></trkpt>\n'
    '<trkpt lat="52.001" lon="13.0"><time>2024-05-01T08:00:10Z</time></trkpt>\n'
    '<trkpt lat="52.001" lon="13.002"><time>2024-05-01T08:00:30.5Z</time></trkpt>\n'
)


def one_line_error(excinfo: pytest.ExceptionInfo[ScenarioError], path: Path) -> str:
    """The error's text, checked to be one line naming the file."""
    text = str(excinfo.value)
    assert "\n" not in text
    assert text.startswith(str(path))
    return text


# ---- GPX ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ns", [GPX11, GPX10, None])
def test_gpx_points_and_times_in_every_namespace(tmp_path: Path, ns: str | None) -> None:
    """GPX 1.1, 1.0 and no namespace give the same points, times from the first point."""
    track = read_gpx(write(tmp_path, "a.gpx", gpx_text(THREE_TIMED, ns)))
    np.testing.assert_array_equal(track.lat_deg, [52.0, 52.001, 52.001])
    np.testing.assert_array_equal(track.lon_deg, [13.0, 13.0, 13.002])
    np.testing.assert_allclose(track.t_s, [0.0, 10.0, 30.5])
    assert track.source.endswith("a.gpx")


def test_gpx_segments_join_and_untimed_points(tmp_path: Path) -> None:
    """Segments of the first track are joined; without times t_s is None."""
    text = (
        f'<gpx xmlns="{GPX11}"><trk><trkseg><trkpt lat="1" lon="2"/></trkseg>'
        '<trkseg><trkpt lat="3" lon="4"/><trkpt lat="5" lon="6"/></trkseg></trk>'
        '<trk><trkseg><trkpt lat="7" lon="8"/></trkseg></trk></gpx>'
    )
    track = read_gpx(write(tmp_path, "segs.gpx", text))
    np.testing.assert_array_equal(track.lat_deg, [1, 3, 5])
    assert track.t_s is None


def test_gpx_route_points_when_there_is_no_track(tmp_path: Path) -> None:
    """Without trkpt the first rte's rtept are read."""
    points = '<rtept lat="10" lon="20"/>\n<rtept lat="10.5" lon="20.5"/>\n'
    track = read_gpx(write(tmp_path, "r.gpx", gpx_text(points, body="rte")))
    np.testing.assert_array_equal(track.lon_deg, [20, 20.5])


def test_gpx_doctype_and_entity_refused(tmp_path: Path) -> None:
    """A DOCTYPE (the way into an XML bomb) is refused before parsing, with its line."""
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
        f'<gpx xmlns="{GPX11}"><trk><trkseg><trkpt lat="1" lon="&lol2;"/></trkseg></trk></gpx>\n'
    )
    path = write(tmp_path, "bomb.gpx", bomb)
    with pytest.raises(ScenarioError) as excinfo:
        read_gpx(path)
    assert excinfo.value.line == 2
    assert "DOCTYPE" in one_line_error(excinfo, path)


def test_gpx_bad_latitude_names_its_line(tmp_path: Path) -> None:
    """A latitude out of range is reported with the line of its trkpt."""
    points = '<trkpt lat="52" lon="13"/>\n<trkpt lat="95" lon="13"/>\n'
    path = write(tmp_path, "lat.gpx", gpx_text(points))
    with pytest.raises(ScenarioError) as excinfo:
        read_gpx(path)
    assert excinfo.value.line == 5
    assert excinfo.value.field == "trkpt[1].lat"
    assert "[-90, 90]" in one_line_error(excinfo, path)


def test_gpx_too_few_points(tmp_path: Path) -> None:
    """One point is not a route."""
    path = write(tmp_path, "one.gpx", gpx_text('<trkpt lat="52" lon="13"/>\n'))
    with pytest.raises(ScenarioError, match="at least 2 points, found 1") as excinfo:
        read_gpx(path)
    one_line_error(excinfo, path)


def test_gpx_malformed_xml_gives_its_line(tmp_path: Path) -> None:
    """ElementTree's parse error position becomes the line."""
    path = write(
        tmp_path, "bad.gpx", gpx_text('<trkpt lat="52" lon="13">\n<trkpt lat="1" lon="1"/>')
    )
    with pytest.raises(ScenarioError, match="not well-formed XML") as excinfo:
        read_gpx(path)
    assert excinfo.value.line == 5  # the </trkseg> that does not match the open <trkpt>
    one_line_error(excinfo, path)


def test_gpx_time_going_back_refused(tmp_path: Path) -> None:
    """Times that go back are an error at the point where they do."""
    points = THREE_TIMED.replace("08:00:30.5Z", "07:59:59Z")
    path = write(tmp_path, "back.gpx", gpx_text(points))
    with pytest.raises(ScenarioError, match="time goes back") as excinfo:
        read_gpx(path)
    assert excinfo.value.line == 6


def test_not_a_gpx_root(tmp_path: Path) -> None:
    """A different XML document is named by its root element."""
    path = write(tmp_path, "k.gpx", "<kml><x/></kml>")
    with pytest.raises(ScenarioError, match="root element is <kml>"):
        read_gpx(path)


# ---- GeoJSON -----------------------------------------------------------------------------------


def test_geojson_linestring_feature_and_collection(tmp_path: Path) -> None:
    """Bare geometry, Feature and FeatureCollection read the same [lon, lat(, alt)] points."""
    line = {"type": "LineString", "coordinates": [[13.0, 52.0, 34.0], [13.1, 52.2]]}
    feature = {"type": "Feature", "properties": {}, "geometry": line}
    point = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Point", "coordinates": [0, 0]},
    }
    collection = {"type": "FeatureCollection", "features": [point, feature]}
    for i, doc in enumerate((line, feature, collection)):
        track = read_geojson(write(tmp_path, f"{i}.geojson", json.dumps(doc)))
        np.testing.assert_array_equal(track.lat_deg, [52.0, 52.2])
        np.testing.assert_array_equal(track.lon_deg, [13.0, 13.1])
        assert track.t_s is None


def test_geojson_property_times(tmp_path: Path) -> None:
    """properties.times as ISO strings or as seconds become t_s from 0."""
    coords = [[13.0, 52.0], [13.0, 52.01], [13.01, 52.01]]
    for times in (
        ["2024-05-01T08:00:00Z", "2024-05-01T08:01:00Z", "2024-05-01T08:01:30Z"],
        [100, 160, 190],
    ):
        doc = {
            "type": "Feature",
            "properties": {"times": times},
            "geometry": {"type": "LineString", "coordinates": coords},
        }
        track = read_geojson(write(tmp_path, "t.geojson", json.dumps(doc)))
        np.testing.assert_allclose(track.t_s, [0, 60, 90])


def test_geojson_not_a_linestring(tmp_path: Path) -> None:
    """A Polygon is named in the error."""
    doc = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    path = write(tmp_path, "poly.geojson", json.dumps(doc))
    with pytest.raises(ScenarioError, match="expected a LineString, got Polygon") as excinfo:
        read_geojson(path)
    one_line_error(excinfo, path)


def test_geojson_errors(tmp_path: Path) -> None:
    """Bad JSON gives its line; swapped coordinates and one point are refused."""
    path = write(tmp_path, "bad.geojson", '{"type": "LineString",\n "coordinates": [1, }')
    with pytest.raises(ScenarioError, match="not valid JSON") as excinfo:
        read_geojson(path)
    assert excinfo.value.line == 2
    one_line_error(excinfo, path)
    swapped = {"type": "LineString", "coordinates": [[52.0, 13.0], [52.0, 100.0]]}
    with pytest.raises(ScenarioError, match=r"\[lon, lat\]"):
        read_geojson(write(tmp_path, "swap.geojson", json.dumps(swapped)))
    one = {"type": "LineString", "coordinates": [[13.0, 52.0]]}
    with pytest.raises(ScenarioError, match="at least 2 points"):
        read_geojson(write(tmp_path, "one.geojson", json.dumps(one)))


def test_read_track_by_extension(tmp_path: Path) -> None:
    """read_track picks the reader by extension and refuses others."""
    assert len(read_track(write(tmp_path, "a.gpx", gpx_text(THREE_TIMED)))) == 3
    with pytest.raises(ScenarioError, match="unknown route file type"):
        read_track(write(tmp_path, "a.kml", "<kml/>"))


# ---- Projection --------------------------------------------------------------------------------


def test_one_degree_of_latitude() -> None:
    """1° of latitude is R·π/180 ≈ 111,195 m (haversine), and so in the plane to 3·10⁻⁵."""
    assert EARTH_RADIUS_M * np.pi / 180 == pytest.approx(111_195.08, abs=0.01)
    assert haversine_m(52.0, 13.0, 53.0, 13.0) == pytest.approx(111_195.08, abs=0.01)
    x, y = project(53.0, 13.0, 52.0, 13.0)
    assert x == pytest.approx(0.0, abs=1e-6)
    assert y == pytest.approx(111_195.08, rel=3e-5)


def test_projection_east_is_x_north_is_y() -> None:
    """Near the origin x ≈ R·Δλ·cos φ0 east and y ≈ R·Δφ north."""
    x, y = project([52.0, 52.0], [13.0, 13.001], 52.0, 13.0)
    assert x[1] == pytest.approx(EARTH_RADIUS_M * np.radians(0.001) * np.cos(np.radians(52)))
    assert abs(y[1]) < 0.01


@pytest.mark.parametrize("name", ["urban.geojson", "highway.gpx", "rural.geojson"])
def test_shipped_routes_match_haversine(name: str) -> None:
    """Lengths and point-to-point distances in the plane agree with haversine to < 0.1 %."""
    track = read_track(ROUTES / name)
    x, y = to_local(track)
    lat, lon = track.lat_deg, track.lon_deg
    plane = route_length_m(np.column_stack((x, y)))
    sphere = float(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum())
    assert abs(plane - sphere) / sphere < 1e-3
    i, j = np.triu_indices(len(x), k=1)
    far = slice(None, None, max(1, len(i) // 20_000))
    d_plane = np.hypot(x[i[far]] - x[j[far]], y[i[far]] - y[j[far]])
    d_sphere = haversine_m(lat[i[far]], lon[i[far]], lat[j[far]], lon[j[far]])
    ok = d_sphere > 100
    assert np.max(np.abs(d_plane[ok] / d_sphere[ok] - 1)) < 1e-3


def test_projection_holds_60_km_north_and_east() -> None:
    """A 60 km diagonal at 52° N keeps every distance to 0.01 %, unlike cos φ0 (> 0.1 %)."""
    lat = np.linspace(52.0, 52.4, 41)
    lon = np.linspace(13.0, 13.6, 41)
    x, y = project(lat, lon, lat[0], lon[0])
    plane = np.hypot(np.diff(x), np.diff(y))
    sphere = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    assert sphere.sum() > 55_000
    assert np.max(np.abs(plane / sphere - 1)) < 1e-4
    x_eq = EARTH_RADIUS_M * np.radians(lon - lon[0]) * np.cos(np.radians(lat[0]))
    y_eq = EARTH_RADIUS_M * np.radians(lat - lat[0])
    eq = np.hypot(np.diff(x_eq), np.diff(y_eq))
    assert np.max(np.abs(eq / sphere - 1)) > 1e-3


# ---- Shipped routes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "km"), [("urban.geojson", 12), ("highway.gpx", 40), ("rural.geojson", 60)]
)
def test_shipped_route_lengths(name: str, km: float) -> None:
    """The synthetic routes are ~12, ~40 and ~60 km long (±10 %) and say they are synthetic."""
    track = read_track(ROUTES / name)
    x, y = to_local(track)
    assert route_length_m(np.column_stack((x, y))) == pytest.approx(km * 1000, rel=0.1)
    assert "synthetic" in (ROUTES / name).read_text(encoding="utf-8")


def test_highway_times_give_110_kmh() -> None:
    """The highway's GPX times drive it at ~110 km/h, and make a valid netsim Route."""
    spec = route_spec(read_track(ROUTES / "highway.gpx"))
    route = Route(spec.waypoints_m, times_s=spec.times_s)
    assert route.length_m / route.duration_s * 3.6 == pytest.approx(110, rel=0.01)
    speeds = route.speed_at(route.times_s[:-1]) * 3.6
    assert np.all(np.abs(speeds - 110) < 2)


def test_route_spec_with_speed_for_untimed_route() -> None:
    """An untimed route needs a speed; with one it takes length / speed."""
    track = read_track(ROUTES / "urban.geojson")
    with pytest.raises(ScenarioError, match="no times"):
        route_spec(track)
    spec = route_spec(track, speed_mps=10.0)
    route = Route(spec.waypoints_m, times_s=spec.times_s)
    assert route.duration_s == pytest.approx(route.length_m / 10.0)


# ---- Timetable ---------------------------------------------------------------------------------

L_X = [0.0, 30.0, 30.0]  # 30 m east, then 40 m north
L_Y = [0.0, 0.0, 40.0]


def test_timetable_constant_speed() -> None:
    """At 10 m/s the corner is reached at 3 s and the end at 7 s."""
    w, t = timetable(L_X, L_Y, speed_mps=10.0)
    np.testing.assert_array_equal(w, [[0, 0], [30, 0], [30, 40]])
    np.testing.assert_allclose(t, [0, 3, 7])


def test_timetable_segment_speeds_and_duplicates() -> None:
    """Per-segment speeds: 30 m at 15 m/s, 40 m at 4 m/s; a repeated point is dropped."""
    w, t = timetable([0, 30, 30, 30], [0, 0, 0, 40], segment_speeds_mps=[15, 99, 4])
    np.testing.assert_array_equal(w, [[0, 0], [30, 0], [30, 40]])
    np.testing.assert_allclose(t, [0, 2, 12])


def test_timetable_from_times() -> None:
    """GPX-like times are shifted to 0; a repeated time is dropped, a stop is kept."""
    w, t = timetable(L_X, L_Y, t_s=[100.0, 103.0, 110.0])
    np.testing.assert_allclose(t, [0, 3, 10])
    w, t = timetable([0, 30, 31, 30, 30], [0, 0, 0, 0, 40], t_s=[5, 8, 8, 20, 27])
    np.testing.assert_array_equal(w, [[0, 0], [30, 0], [30, 0], [30, 40]])
    np.testing.assert_allclose(t, [0, 3, 15, 22])
    route = Route(w, times_s=t)  # the stop at (30, 0) from 3 s to 15 s
    assert route.speed_at([5.0])[0] == 0.0


def test_timetable_matches_a_3_point_gpx(tmp_path: Path) -> None:
    """The 3-point GPX by hand: 111.195 m north in 10 s, then about 137 m east in 20.5 s."""
    track = read_gpx(write(tmp_path, "three.gpx", gpx_text(THREE_TIMED)))
    x, y = to_local(track)
    w, t = timetable(x, y, t_s=track.t_s)
    np.testing.assert_allclose(t, [0, 10, 30.5])
    np.testing.assert_allclose(w[1], [0, 111.195], atol=0.01)
    east = EARTH_RADIUS_M * np.radians(0.002) * np.cos(np.radians(52.001))
    assert w[2, 0] == pytest.approx(east, rel=1e-5)


def test_timetable_errors() -> None:
    """Times going back, bad speeds, and none or two ways of timing are refused."""
    with pytest.raises(ScenarioError, match="time goes back"):
        timetable(L_X, L_Y, t_s=[0, 5, 4])
    with pytest.raises(ScenarioError, match="> 0"):
        timetable(L_X, L_Y, speed_mps=0.0)
    with pytest.raises(ScenarioError, match="one speed per segment"):
        timetable(L_X, L_Y, segment_speeds_mps=[1.0])
    with pytest.raises(ScenarioError, match="exactly one"):
        timetable(L_X, L_Y)
    with pytest.raises(ScenarioError, match="exactly one"):
        timetable(L_X, L_Y, speed_mps=1.0, t_s=[0, 1, 2])
    with pytest.raises(ScenarioError, match="2 distinct points"):
        timetable([1, 1], [2, 2], speed_mps=1.0)


# ---- Sites -------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["left", "right", "alternate"])
def test_sites_along_straight_route_equal_sites_along_road(side: str) -> None:
    """On a straight road along x, sites_along_route is netsim's sites_along_road."""
    road = [[0.0, 0.0], [2000.0, 0.0], [5000.0, 0.0]]
    for first in (None, 0.0, 120.0):
        ours = sites_along_route(road, 500.0, 35.0, first_m=first, side=side)
        theirs = sites_along_road(5000.0, 500.0, 35.0, first_m=first, side=side)
        np.testing.assert_allclose(ours, theirs, atol=1e-9)


def arc_of(points: np.ndarray, waypoints: np.ndarray) -> np.ndarray:
    """Arc length of the nearest point of the polyline to each point."""
    a, d = waypoints[:-1], np.diff(waypoints, axis=0)
    seg = np.hypot(d[:, 0], d[:, 1])
    start = np.concatenate(([0.0], np.cumsum(seg)))[:-1]
    q = points[:, None, :] - a[None]
    t = np.clip(np.einsum("pij,ij->pi", q, d) / seg**2, 0, 1)
    dist = np.hypot(*(q - t[..., None] * d).transpose(2, 0, 1))
    k = np.argmin(dist, axis=1)
    return start[k] + t[np.arange(len(points)), k] * seg[k]


def test_sites_along_l_shaped_route() -> None:
    """On an L, sites are `spacing` apart along the path and `offset` from it, both sides."""
    w = np.array([[0.0, 0.0], [1000.0, 0.0], [1000.0, 1500.0]])
    sites = sites_along_route(w, 300.0, 40.0)  # at 150, 450, ..., 2250 m of 2500 m
    assert len(sites) == 8
    np.testing.assert_allclose(distance_to_route_m(sites, w), 40.0)
    np.testing.assert_allclose(arc_of(sites, w), 150 + 300 * np.arange(8))
    np.testing.assert_allclose(sites[:2], [[150, 40], [450, -40]])  # left of east is north
    np.testing.assert_allclose(sites[-1], [1000 + 40, 150 + 300 * 7 - 1000])  # 8th: right of north


def test_sites_around_route_hexagonal_and_near() -> None:
    """A hex grid: nearest neighbours `spacing` apart, all within the margin, none missing."""
    w = np.array([[0.0, 0.0], [3000.0, 0.0], [3000.0, 2000.0]])
    isd = DEFAULT_SPACING_M["uma"]
    sites = sites_around_route(w, isd, margin_m=600.0)
    d = np.hypot(*(sites[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(d.min(axis=1), isd)
    assert np.all(distance_to_route_m(sites, w) <= 600.0)
    assert any(np.allclose(s, w[0]) for s in sites)
    # every point of the route has a site within the hexagon's circumradius
    along = np.column_stack((np.linspace(0, 3000, 61), np.zeros(61)))
    nearest = np.hypot(*(along[:, None, :] - sites[None]).transpose(2, 0, 1)).min(axis=1)
    assert np.all(nearest <= isd / np.sqrt(3) + 1e-9)


def test_explicit_sites(tmp_path: Path) -> None:
    """Sites in lat/lon are projected like the route; metres pass through; typos refused."""
    sites = explicit_sites(
        [
            {"lat": 52.001, "lon": 13.0, "height_m": 25, "technology": "lte", "band": "b3"},
            {"x_m": 10.0, "y_m": -5.0, "name": "mast"},
        ],
        (52.0, 13.0),
    )
    np.testing.assert_allclose(site_positions(sites), [[0, 111.195], [10, -5]], atol=0.01)
    assert sites[0].height_m == 25.0 and sites[0].band == "b3" and sites[1].name == "mast"
    with pytest.raises(ScenarioError, match="unknown key 'heigth_m'") as excinfo:
        explicit_sites([{"x_m": 0, "y_m": 0, "heigth_m": 3}], None, source="s.yaml")
    assert str(excinfo.value).startswith("s.yaml: sites[0]:")
    with pytest.raises(ScenarioError, match="either lat and lon"):
        explicit_sites([{"lat": 1, "lon": 2, "x_m": 3, "y_m": 4}], (0, 0))
    with pytest.raises(ScenarioError, match="origin"):
        explicit_sites([{"lat": 1, "lon": 2}], None)
