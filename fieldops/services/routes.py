"""Routes: each publish is a new version; the newest per event and group is the active one."""

import uuid
from collections.abc import Iterable

from django.db.models import Max

from fieldops import audiences, errors
from fieldops.models import MarchGroup, Route

from . import kinds
from .journal import journal_writer


def route_payload(route: Route) -> dict:
    return {
        "route": route.pk,
        "version": route.version,
        "group": route.group_id,
        "geometry": route.geometry,
        "note": route.note,
    }


def route_publish(
    *,
    participant,
    geometry: dict,
    group: int | None = None,
    note: str = "",
    client_id: uuid.UUID | None = None,
):
    """Publish a new version of the event's (or a group's) route to everyone."""
    event_id = participant.event_id
    if group is not None and not MarchGroup.objects.filter(pk=group, event_id=event_id).exists():
        raise errors.ActionError.field("data.group", errors.MSG_NO_SUCH_GROUP)
    with journal_writer(event_id=event_id) as journal:
        latest = Route.objects.filter(event_id=event_id, group_id=group).aggregate(v=Max("version"))
        route = Route.objects.create(
            event_id=event_id,
            group_id=group,
            version=(latest["v"] or 0) + 1,
            geometry=geometry,
            note=note,
            published_by=participant,
        )
        written = journal.append(
            kind=kinds.ROUTE_PUBLISHED,
            audience=[audiences.PUBLIC],
            data=route_payload(route),
            actor=participant,
            client_id=client_id,
        )
        # Imported here: the off-route rule measures against route_for, defined in this module.
        from fieldops.services.safety.offroute import offroute_check_everyone

        offroute_check_everyone(journal=journal, event_id=event_id)
        return written


def route_active(*, event_id: int) -> list[Route]:
    """The newest version of each route of the event (the whole march's and each group's)."""
    routes: dict[int | None, Route] = {}
    for route in Route.objects.filter(event_id=event_id).order_by("group_id", "-version"):
        routes.setdefault(route.group_id, route)
    return list(routes.values())


def route_for(*, participant, routes: Iterable[Route] | None = None) -> Route | None:
    """The active route a participant follows and a marshal acknowledges: their group's own newest
    version, else the whole march's. `routes` are the active ones (route_active, or a worker's
    EventMap) when the caller holds them already; otherwise they are read."""
    if routes is None:
        routes = route_active(event_id=participant.event_id)
    by_scope = {route.group_id: route for route in routes}
    own = by_scope.get(participant.group_id) if participant.group_id is not None else None
    return own or by_scope.get(None)


def route_is_change(*, route: Route) -> bool:
    """Whether this version changed the route its marchers were following: an earlier version of
    the same route, or, for a group's first route, the whole march's route published before it.
    The first route of the march is the plan, not a change."""
    if route.version > 1:
        return True
    if route.group_id is None:
        return False
    return Route.objects.filter(
        event_id=route.event_id, group_id=None, published_at__lt=route.published_at
    ).exists()
