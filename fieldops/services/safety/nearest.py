"""Nearest help: the closest places of a kind to a position, with distance and bearing.

A read, not a write: the position asked about is neither stored, journaled nor logged.
"""

from fieldops.models import Place

from .geo import LatLng, LocalFrame, compass

HELP_KINDS = ("medic", "legal", "exit", "water")


def place_nearest(
    *, event_id: int, position: LatLng, kind: str, limit: int = 3, public_only: bool = False
) -> list[dict]:
    """Active places of `kind` nearest to `position`, closest first (polygons: their nearest edge,
    0 m when inside)."""
    places = Place.objects.filter(event_id=event_id, kind=kind, active=True)
    if public_only:
        places = places.filter(public=True)
    frame = LocalFrame(position)
    found = []
    for place in places:
        try:
            dist, bearing = frame.measure(place.geometry)
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # a place drawn with a broken geometry is skipped, not fatal
        found.append(
            {
                "place": place.pk,
                "kind": place.kind,
                "name": place.name,
                "geometry": place.geometry,
                "distance_m": round(dist, 1),
                "bearing_deg": round(bearing, 1),
                "direction": compass(bearing),
            }
        )
    found.sort(key=lambda p: p["distance_m"])
    return found[:limit]
