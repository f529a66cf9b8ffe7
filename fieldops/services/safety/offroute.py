"""Off route: a marshal's check-in farther than OFF_ROUTE_METERS from their group's active route
raises `marshal.off_route` to organizers and to the marshal; the first check-in back within it
clears it with `marshal.on_route`. While off route, further check-ins write nothing more. A newly
published route is measured at once against each marshal's last known position
(`offroute_check_everyone`), so a marshal the route moved away from is told without waiting for
their next check-in."""

from django.conf import settings
from django.db import connection

from fieldops import audiences
from fieldops.models import OffRoute, Route
from fieldops.services.routes import route_for
from marshals.models import CheckIn, Participant, Role

from .. import kinds
from . import alarms
from .eventmap import journal_map, map_held
from .geo import LatLng, distance_to_shape_m


def offroute_audience(participant: Participant) -> list[str]:
    return [audiences.ORGANIZERS, audiences.participant_tag(participant.pk)]


def route_distance_m(*, route: Route, lat: float, lng: float) -> float:
    """Geodesic distance in metres from a position to a route line."""
    return distance_to_shape_m(LatLng(lat, lng), route.geometry)


def offroute_check(*, journal, participant: Participant, checkin: CheckIn, off: bool | None = None):
    """Inside a check-in's transaction: raise or clear the marshal's off-route state. `off`:
    whether the marshal has one, if the caller read it already."""
    if participant.role != Role.MARSHAL:
        return None
    found = journal_map(journal)
    route = route_for(participant=participant, routes=found.routes.values())
    # Almost always none: asked in one statement, and loaded only when there is one.
    if off is None:
        off = _off(participant)
    state = OffRoute.objects.filter(participant=participant).first() if off else None
    if route is None:
        if state is not None:
            state.delete()
            alarms.alarm_clear(journal=journal, key=f"off_route.{participant.pk}")
        return None
    limit = settings.FIELDOPS["OFF_ROUTE_METERS"]
    if state is None and found.route_near(route, LatLng(checkin.lat, checkin.lng), limit):
        return None  # on route, as before: nothing to write (settled without a geodesic)
    distance = route_distance_m(route=route, lat=checkin.lat, lng=checkin.lng)
    data = {
        "participant": participant.pk,
        "callsign": participant.callsign,
        "group": participant.group_id,
        "route": route.pk,
        "version": route.version,
        "distance_m": round(distance, 1),
        "limit_m": limit,
        "lat": checkin.lat,
        "lng": checkin.lng,
    }
    if distance > limit:
        if state is not None:
            OffRoute.objects.filter(pk=state.pk).update(distance_m=distance, route=route)
            return None
        OffRoute.objects.create(
            event_id=participant.event_id,
            participant=participant,
            route=route,
            distance_m=distance,
            since=checkin.server_time,
        )
        entry = journal.append(
            kind=kinds.MARSHAL_OFF_ROUTE,
            audience=offroute_audience(participant),
            data=data,
            actor=participant,
        )
        alarms.alarm_open_at(
            journal=journal,
            subject="off_route",
            key=f"off_route.{participant.pk}",
            participant=participant,
            checkin=checkin,
        )
        return entry
    if state is not None:
        state.delete()
        entry = journal.append(
            kind=kinds.MARSHAL_ON_ROUTE,
            audience=offroute_audience(participant),
            data=data,
            actor=participant,
        )
        alarms.alarm_clear(journal=journal, key=f"off_route.{participant.pk}")
        return entry
    return None


def offroute_measure(*, participant: Participant, lat: float, lng: float) -> None:
    """Before the event's lock: measure a check-in against the marshal's route on this worker's
    copy of the map, for `offroute_check` to find measured if the copy is still the event's map."""
    found = map_held(event_id=participant.event_id)
    if found is None or participant.role != Role.MARSHAL:
        return
    route = route_for(participant=participant, routes=found.routes.values())
    if route is not None:
        found.route_near(route, LatLng(lat, lng), settings.FIELDOPS["OFF_ROUTE_METERS"])


def _off(participant: Participant) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM fieldops_offroute WHERE participant_id = %s LIMIT 1", [participant.pk]
        )
        return cursor.fetchone() is not None


def offroute_check_everyone(*, journal, event_id: int) -> list:
    """Inside a route publish's transaction: measure every active marshal's last check-in against
    the map as it now stands."""
    latest = CheckIn.objects.filter(
        event_id=event_id, participant__role=Role.MARSHAL, participant__revoked_at__isnull=True
    ).latest_each()
    written = [
        offroute_check(journal=journal, participant=c.participant, checkin=c) for c in latest
    ]
    return [w for w in written if w is not None]
