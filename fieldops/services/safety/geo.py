"""Geometry for the safety rules, on the WGS84 ellipsoid: geopy (geographiclib) for geodesics and
coordinate parsing, shapely for shapes. No geodesy is written here by hand.

Distances to a line or a polygon are measured in a local metric frame: an azimuthal equidistant
projection centred on the point asked about, built from geodesic distance and azimuth to each
vertex. In that frame distances and directions from the centre are true, so shapely's planar
`distance` from the origin is the geodesic distance to the shape (to within centimetres at the
scale of a city).
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np
import shapely
from geographiclib.geodesic import Geodesic
from geopy.distance import geodesic
from geopy.point import Point as GeoPoint
from shapely.geometry import Point, shape
from shapely.ops import nearest_points

_WGS84 = Geodesic.WGS84
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
MSG_BAD_POSITION = "Give a position as decimal degrees or as degrees, minutes and seconds."


@dataclass(frozen=True)
class LatLng:
    lat: float
    lng: float


def distance_m(a: LatLng, b: LatLng) -> float:
    """Geodesic distance in metres."""
    return geodesic((a.lat, a.lng), (b.lat, b.lng)).meters


def bearing_deg(a: LatLng, b: LatLng) -> float:
    """Initial bearing from a to b in degrees clockwise from true north, in [0, 360)."""
    if (a.lat, a.lng) == (b.lat, b.lng):
        return 0.0
    return _WGS84.Inverse(a.lat, a.lng, b.lat, b.lng)["azi1"] % 360.0


def compass(bearing: float) -> str:
    """The eight-point compass direction of a bearing ("N", "NE", ...)."""
    return _COMPASS[int((bearing % 360.0) / 45.0 + 0.5) % 8]


def parse_position(text: str) -> LatLng:
    """Parse "40.4189, -3.6919" or "40°25′08″N 3°41′31″W" (and similar) into a position."""
    try:
        with warnings.catch_warnings():  # geopy warns before refusing a latitude past a pole
            warnings.simplefilter("ignore", UserWarning)
            point = GeoPoint(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(MSG_BAD_POSITION) from exc
    if not (-90 <= point.latitude <= 90 and -180 <= point.longitude <= 180):
        raise ValueError(MSG_BAD_POSITION)
    return LatLng(point.latitude, point.longitude)


class LocalFrame:
    """An azimuthal equidistant frame in metres centred on `origin` (x east, y north)."""

    def __init__(self, origin: LatLng):
        self.origin = origin

    def _project(self, coords: np.ndarray) -> np.ndarray:
        out = np.empty_like(coords, dtype=float)
        for i, (lng, lat) in enumerate(coords):
            inverse = _WGS84.Inverse(self.origin.lat, self.origin.lng, float(lat), float(lng))
            s, azimuth = inverse["s12"], math.radians(inverse["azi1"])
            out[i] = (s * math.sin(azimuth), s * math.cos(azimuth))
        return out

    def shape(self, geojson: dict):
        """A GeoJSON geometry ([lng, lat] coordinates) as a shapely shape in this frame."""
        return shapely.transform(shape(geojson), self._project)

    def measure(self, geojson: dict) -> tuple[float, float]:
        """(distance in metres, bearing in degrees) from the origin to the nearest part of a shape.

        Inside a polygon (or on its edge) the distance is 0 and the bearing 0.
        """
        projected = self.shape(geojson)
        origin = Point(0.0, 0.0)
        dist = projected.distance(origin)
        if dist == 0.0:
            return 0.0, 0.0
        nearest = nearest_points(projected, origin)[0]
        # Azimuths from the centre are true in this projection.
        return dist, math.degrees(math.atan2(nearest.x, nearest.y)) % 360.0


def distance_to_shape_m(point: LatLng, geojson: dict) -> float:
    """Geodesic distance in metres from a point to a GeoJSON line or polygon (0 inside)."""
    return LocalFrame(point).measure(geojson)[0]


def covers(geojson: dict, point: LatLng) -> bool:
    """Whether a polygon (holes excluded) covers a point; its edges and vertices count as inside."""
    built, (west, south, east, north) = _shape(geojson)
    if not (west <= point.lng <= east and south <= point.lat <= north):
        return False  # outside its bounding box, as nearly every check-in is: no GEOS call
    return built.covers(Point(point.lng, point.lat))


# id(geojson) -> (that very dict, (its shape, its bounds: west, south, east, north))
_SHAPES: dict[int, tuple[dict, tuple]] = {}
_SHAPES_KEPT = 256


def _shape(geojson: dict):
    """(the shape of a GeoJSON geometry, its bounds), kept while that same dict is asked about again (each
    worker's event map holds its zones' dicts until the map changes, so every check-in tests the
    same few). The same shape and test: only the building is saved. Not prepared: GEOS builds a
    prepared shape's indexes lazily, which is not safe across threads."""
    found = _SHAPES.get(id(geojson))
    if found is not None and found[0] is geojson:
        return found[1]
    if len(_SHAPES) >= _SHAPES_KEPT:
        _SHAPES.clear()
    built = shape(geojson)
    _SHAPES[id(geojson)] = (geojson, (built, built.bounds))
    return built, built.bounds


# Where the cheap local measure below may settle a question, and how far it can be from the exact
# one there (a conservative bound, checked against the exact measure in tests/test_safety_geo.py).
_NEAR_MAX_M = 100_000.0
_NEAR_MAX_LAT = 80.0
_NEAR_MAX_DLNG = 10.0
_R_MIN = 6_300_000.0


def _radii(lat: float) -> tuple[float, float]:
    """(meridional, prime vertical) radius of curvature of the WGS84 ellipsoid at `lat`, metres."""
    a, e2 = _WGS84.a, _WGS84.f * (2 - _WGS84.f)
    w = 1 - e2 * math.sin(math.radians(lat)) ** 2
    return a * (1 - e2) / w**1.5, a / math.sqrt(w)


def line_within_m(point: LatLng, geojson: dict, limit_m: float) -> bool:
    """True when a GeoJSON LineString surely lies within `limit_m` metres of a point, as
    `distance_to_shape_m` measures it; False when that needs the exact measure (farther, unsure,
    another shape, near a pole or across a wide span of longitude).

    Every check-in is measured against its route, and the exact measure takes a geodesic per
    vertex. Here the route is laid on a local flat frame at the point (the ellipsoid's radii of
    curvature there): near the point it differs from the exact frame by far less than `_bound`,
    so a route nearer than the limit by more than that is within it.
    """
    coords = geojson.get("coordinates") if geojson.get("type") == "LineString" else None
    if not coords or len(coords) < 2 or abs(point.lat) > _NEAR_MAX_LAT:
        return False
    m, n = _radii(point.lat)
    kx = math.radians(1.0) * n * math.cos(math.radians(point.lat))
    ky = math.radians(1.0) * m
    tan_lat = abs(math.tan(math.radians(point.lat)))
    flat = []
    for vertex in coords:
        lng, lat = float(vertex[0]), float(vertex[1])
        dlng = (lng - point.lng + 180.0) % 360.0 - 180.0
        if abs(dlng) > _NEAR_MAX_DLNG or abs(lat) > _NEAR_MAX_LAT:
            return False
        x, y = dlng * kx, (lat - point.lat) * ky
        reach = math.hypot(x, y)
        if reach > _NEAR_MAX_M:
            return False
        flat.append((x, y, reach))
    for (ax, ay, ar), (bx, by, br) in zip(flat, flat[1:], strict=False):
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else min(1.0, max(0.0, -(ax * dx + ay * dy) / length2))
        # A segment moves by no more than its farther end does between the two frames.
        if math.hypot(ax + t * dx, ay + t * dy) + _bound(max(ar, br), tan_lat) <= limit_m:
            return True
    return False


def _bound(reach_m: float, tan_lat: float) -> float:
    """How far a vertex `reach_m` metres from the centre may lie from its exact place in the local
    flat frame (generous: about 6 m at 1 km, 30 m at 5 km)."""
    return 0.5 + 0.005 * reach_m + reach_m**2 * (2.0 + tan_lat) / _R_MIN
