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
    return shape(geojson).covers(Point(point.lng, point.lat))
