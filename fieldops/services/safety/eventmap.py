"""A worker's copy of each event's map: the active route of each group and the active danger zones.

Every check-in is measured against them while it holds the event's write lock; reading them from
the database each time was a third of that time (docs/performance.md). The copy is kept per event
with the event's map_stamp, which every save or delete of a route or place draws anew
(fieldops/signals.py) and which the journal writer reads with each seq, in the same transaction: a
check-in never uses a map older than the one committed before it.

A batch of check-ins measures them against the copy before it takes the lock (`map_held`); under
the lock a rule finds the measure on the copy if that copy is still the event's map, and measures
anew on the new one if not.
"""

from dataclasses import dataclass, field

from fieldops.models import Event, Place, Route

from .geo import LatLng, line_within_m

ZONE_SHAPES = ("Polygon", "MultiPolygon")
NEAR_KEPT = 4096  # measures a map keeps (a batch's are asked for within milliseconds)


@dataclass(frozen=True)
class EventMap:
    stamp: int
    routes: dict[int | None, Route] = field(default_factory=dict)  # group id (None: whole march)
    zones: tuple[Place, ...] = ()
    # (route id, lat, lng, limit): whether the route surely lies within the limit of the point.
    near: dict = field(default_factory=dict, compare=False, repr=False)

    def route_near(self, route: Route, point: LatLng, limit_m: float) -> bool:
        """`geo.line_within_m` for one of this map's routes, measured once per point."""
        key = (route.pk, point.lat, point.lng, limit_m)
        found = self.near.get(key)
        if found is None:
            if len(self.near) >= NEAR_KEPT:
                self.near.clear()
            found = self.near[key] = line_within_m(point, route.geometry, limit_m)
        return found


_maps: dict[int, EventMap] = {}


def zones_active(*, event_id: int) -> list[Place]:
    """The event's active danger zones that have an area."""
    zones = Place.objects.filter(event_id=event_id, kind=Place.Kind.DANGER, active=True)
    return [z for z in zones if (z.geometry or {}).get("type") in ZONE_SHAPES]


def event_map(*, event_id: int, stamp: int | None = None) -> EventMap:
    """The event's map for `stamp` (read from the database only when the copy is stale); without a
    stamp, as the database has it now."""
    if stamp is None:
        stamp = Event.objects.values_list("map_stamp", flat=True).get(pk=event_id)
    found = _maps.get(event_id)
    if found is not None and found.stamp == stamp:
        return found
    routes: dict[int | None, Route] = {}
    for route in Route.objects.filter(event_id=event_id).order_by("version"):
        routes[route.group_id] = route  # the newest version of each scope wins
    found = EventMap(stamp=stamp, routes=routes, zones=tuple(zones_active(event_id=event_id)))
    _maps[event_id] = found
    return found


def map_held(*, event_id: int) -> EventMap | None:
    """This worker's copy of the event's map as it is, maybe no longer the event's: for work done
    before the event's lock, which the rules under it redo if the map changed meanwhile."""
    return _maps.get(event_id)


def journal_map(journal) -> EventMap:
    """The map as of a journal writer's transaction (its stamp was read with the seq)."""
    return event_map(event_id=journal.event_id, stamp=journal.map_stamp)
