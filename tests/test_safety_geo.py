"""The geometry under the safety rules, on the Madrid route: distances to a line, bearings,
polygons with holes, vertices, and coordinates written in degrees, minutes and seconds."""

import math
import random

import pytest
from geopy.distance import geodesic

from fieldops.services.safety.geo import (
    LatLng,
    bearing_deg,
    compass,
    covers,
    distance_m,
    distance_to_shape_m,
    line_within_m,
    parse_position,
)

from .factories import MADRID_ROUTE

ROUTE = {"type": "LineString", "coordinates": MADRID_ROUTE}
# Cibeles, a vertex of the route ([lng, lat] in the factory).
VERTEX = LatLng(MADRID_ROUTE[2][1], MADRID_ROUTE[2][0])


def offset(point: LatLng, *, bearing: float, meters: float) -> LatLng:
    """The point `meters` from `point` along a geodesic leaving at `bearing` (test geometry)."""
    moved = geodesic(meters=meters).destination((point.lat, point.lng), bearing)
    return LatLng(moved.latitude, moved.longitude)


def beside_route(meters: float) -> LatLng:
    """A point `meters` to the east of the middle of the Recoletos–Cibeles segment, at right
    angles to it, so the nearest point of the route is that middle."""
    a = LatLng(MADRID_ROUTE[1][1], MADRID_ROUTE[1][0])
    b = LatLng(MADRID_ROUTE[2][1], MADRID_ROUTE[2][0])
    half = distance_m(a, b) / 2
    middle = offset(a, bearing=bearing_deg(a, b), meters=half)
    return offset(middle, bearing=(bearing_deg(middle, b) + 90) % 360, meters=meters)


def square(center: LatLng, half_side_m: float) -> list[list[float]]:
    """A closed ring ([lng, lat]) of a square around `center`, corners at 45° multiples."""
    diagonal = half_side_m * 2**0.5
    corners = [offset(center, bearing=b, meters=diagonal) for b in (45, 135, 225, 315)]
    ring = [[c.lng, c.lat] for c in corners]
    return ring + [ring[0]]


def test_a_marshal_exactly_on_a_vertex_is_zero_metres_from_the_route():
    assert distance_to_shape_m(VERTEX, ROUTE) == 0.0


@pytest.mark.parametrize("meters", [5.0, 149.0, 151.0, 400.0])
def test_distance_to_the_route_is_the_geodesic_distance_to_its_nearest_point(meters):
    assert distance_to_shape_m(beside_route(meters), ROUTE) == pytest.approx(meters, abs=0.05)


def test_bearing_and_distance_agree_with_geopy_and_name_the_compass_point():
    cibeles_medic = LatLng(40.4200, -3.6915)
    assert distance_m(VERTEX, cibeles_medic) == pytest.approx(
        geodesic((VERTEX.lat, VERTEX.lng), (40.4200, -3.6915)).meters
    )
    assert bearing_deg(VERTEX, cibeles_medic) == pytest.approx(61.7, abs=0.1)
    assert compass(61.7) == "NE"
    assert compass(359.0) == "N" and compass(180.0) == "S" and compass(270.0) == "W"
    assert bearing_deg(offset(VERTEX, bearing=0, meters=300), VERTEX) == pytest.approx(
        180, abs=0.01
    )


def test_a_polygon_with_a_hole_covers_its_ring_and_its_vertices_but_not_the_hole():
    zone = {"type": "Polygon", "coordinates": [square(VERTEX, 100), square(VERTEX, 30)]}
    outer_vertex = LatLng(zone["coordinates"][0][0][1], zone["coordinates"][0][0][0])

    assert not covers(zone, VERTEX)  # the centre is in the hole
    assert covers(zone, offset(VERTEX, bearing=90, meters=60))  # between hole and edge
    assert covers(zone, outer_vertex)
    assert covers(zone, offset(VERTEX, bearing=90, meters=99))
    assert not covers(zone, offset(VERTEX, bearing=90, meters=101))
    assert distance_to_shape_m(offset(VERTEX, bearing=90, meters=110), zone) == pytest.approx(
        10, abs=0.05
    )
    assert distance_to_shape_m(offset(VERTEX, bearing=90, meters=60), zone) == 0.0


@pytest.mark.parametrize(
    ("text", "lat", "lng"),
    [
        ("40°25′08″N 3°41′31″W", 40.418889, -3.691944),
        ("40°25'08\"N, 3°41'31\"W", 40.418889, -3.691944),
        ("40 25m 8s N, 3 41m 31s W", 40.418889, -3.691944),
        ("40.4193, -3.6932", 40.4193, -3.6932),
    ],
)
def test_positions_parse_from_decimals_and_degrees_minutes_seconds(text, lat, lng):
    position = parse_position(text)
    assert position.lat == pytest.approx(lat, abs=1e-6)
    assert position.lng == pytest.approx(lng, abs=1e-6)


@pytest.mark.parametrize("text", ["", "north of the fountain", "95°N 3°W"])
def test_a_position_that_is_not_one_is_refused(text):
    with pytest.raises(ValueError):
        parse_position(text)


def test_the_quick_off_route_screen_never_calls_a_position_within_that_is_not():
    # Random lines from a few hundred metres to tens of kilometres, at every latitude it answers
    # for: whenever the screen says "within the limit", the exact measure agrees.
    rng = random.Random(17)
    said_within = 0
    for _ in range(1500):
        lat0, lng0 = rng.uniform(-79, 79), rng.uniform(-180, 180)
        scale = rng.choice([0.002, 0.01, 0.05, 0.2, 0.6])
        stretch = 1 / max(0.2, math.cos(math.radians(lat0)))
        coords = [
            [lng0 + rng.uniform(-scale, scale) * stretch, lat0 + rng.uniform(-scale, scale)]
            for _ in range(rng.randint(2, 8))
        ]
        line = {"type": "LineString", "coordinates": coords}
        point = LatLng(lat0 + rng.uniform(-scale, scale), lng0 + rng.uniform(-scale, scale))
        exact = distance_to_shape_m(point, line)
        for limit in (exact * 0.98, exact, exact * 1.05, exact + 20, exact + 100, 150):
            if line_within_m(point, line, limit):
                said_within += 1
                assert exact <= limit
    assert said_within > 1000  # and it does settle most positions near their line


def test_the_quick_screen_leaves_other_shapes_and_far_positions_to_the_exact_measure():
    near = beside_route(20)
    assert line_within_m(near, ROUTE, 150)
    assert not line_within_m(beside_route(400), ROUTE, 150)
    polygon = {"type": "Polygon", "coordinates": [[*MADRID_ROUTE[:3], MADRID_ROUTE[0]]]}
    assert not line_within_m(near, polygon, 150)
    assert not line_within_m(LatLng(85.0, 0.0), ROUTE, 10_000_000)
