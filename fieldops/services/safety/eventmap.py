"""A worker's copy of each event's map: the active route of each group and the active danger zones.

Every check-in is measured against them while it holds the event's write lock; reading them from
the database each time was a third of that time (docs/performance.md). The copy is kept per event
with the event's map_stamp, which every save or delete of a route or place draws anew
(fieldops/signals.py) and which the journal writer reads with each seq, in the same transaction: a
check-in never uses a map older than the one committed before it.
"""

from dataclasses import dataclass, field

from fieldops.models import Event, Place, Route

ZONE_SHAPES = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class EventMap:
    stamp: int
    routes: dict[int | None, Route] = field(default_factory=dict)  # group id (None: whole march)
    zones: tuple[Place, ...] = ()

    def route_for(self, group_id: int | None) -> Route | None:
        """A group's newest route, else the whole march's."""
        return self.routes.get(group_id) or self.routes.get(None)


_maps: dict[int, EventMap] = {}


def event_map(*, event_id: int, stamp: int) -> EventMap:
    """The event's map for `stamp` (read from the database only when the copy is stale)."""
    found = _maps.get(event_id)
    if found is not None and found.stamp == stamp:
        return found
    routes: dict[int | None, Route] = {}
    for route in Route.objects.filter(event_id=event_id).order_by("version"):
        routes[route.group_id] = route  # the newest version of each scope wins
    zones = tuple(
        zone
        for zone in Place.objects.filter(event_id=event_id, kind=Place.Kind.DANGER, active=True)
        if (zone.geometry or {}).get("type") in ZONE_SHAPES
    )
    found = EventMap(stamp=stamp, routes=routes, zones=zones)
    _maps[event_id] = found
    return found


def journal_map(journal) -> EventMap:
    """The map as of a journal writer's transaction."""
    stamp = journal.map_stamp
    if stamp is None:  # nothing appended yet in this transaction
        stamp = Event.objects.values_list("map_stamp", flat=True).get(pk=journal.event_id)
    return event_map(event_id=journal.event_id, stamp=stamp)
