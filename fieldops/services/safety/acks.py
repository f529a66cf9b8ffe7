"""Route acknowledgements: a marshal confirms a route version (`route_ack`); who has confirmed the
newest version of each active route and who has not; a marshal who has not within ROUTE_ACK_REMINDER_SECONDS gets one personal reminder
(`route.ack_reminder`, which organizers see too). A reminder row, unique per route and marshal,
makes "once" hold with several workers sweeping at once.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from fieldops import audiences, errors
from fieldops.models import Event, Route, RouteAckReminder
from fieldops.services import kinds
from fieldops.services.journal import journal_writer
from fieldops.services.routes import route_active, route_for, route_is_change
from marshals.models import Participant, Role, RouteAck


def route_marshals(*, route: Route, routes: list[Route]) -> list[Participant]:
    """The active marshals a route version is for: those whose route_for it is."""
    marshals = Participant.objects.filter(
        event_id=route.event_id, role=Role.MARSHAL, revoked_at__isnull=True
    )
    if route.group_id is not None:
        marshals = marshals.filter(group_id=route.group_id)
    return [m for m in marshals if route_for(participant=m, routes=routes) == route]


def route_ack_status(*, event_id: int) -> list[dict]:
    """For each active route: the marshals who acknowledged its newest version and who have not."""
    routes = route_active(event_id=event_id)
    status = []
    for route in routes:
        acks = dict(RouteAck.objects.filter(route=route).values_list("participant_id", "at"))
        acked, pending = [], []
        for marshal in route_marshals(route=route, routes=routes):
            who = {
                "participant": marshal.pk,
                "callsign": marshal.callsign,
                "group": marshal.group_id,
            }
            if marshal.pk in acks:
                acked.append(who | {"at": acks[marshal.pk]})
            else:
                pending.append(who)
        status.append(
            {
                "route": route.pk,
                "version": route.version,
                "group": route.group_id,
                "published_at": route.published_at,
                "acknowledged": acked,
                "pending": pending,
            }
        )
    return status


def route_ack_remind(*, route: Route, participant: Participant, now: datetime):
    """Send one reminder to one marshal for one route version; None if it was sent already."""
    with journal_writer(event_id=route.event_id) as journal:
        if RouteAck.objects.filter(route=route, participant=participant).exists():
            return None  # acknowledged since the sweep looked
        try:
            with transaction.atomic():
                RouteAckReminder.objects.create(route=route, participant=participant, at=now)
        except IntegrityError:
            return None  # another sweep sent it first
        return journal.append(
            kind=kinds.ROUTE_ACK_REMINDER,
            audience=[audiences.participant_tag(participant.pk)],
            data={
                "route": route.pk,
                "version": route.version,
                "group": route.group_id,
                "participant": participant.pk,
                "callsign": participant.callsign,
                "published_at": route.published_at,
                "changed": route_is_change(route=route),
                "text": f"The route changed (version {route.version}): please confirm you have read it.",
            },
        )


def route_ack_remind_sweep(
    *, now: datetime | None = None, event_id: int | None = None, delay_seconds: int | None = None
) -> list:
    """Remind every marshal of every running event who is late acknowledging their route."""
    now = now or timezone.now()
    if delay_seconds is None:
        delay_seconds = settings.FIELDOPS["ROUTE_ACK_REMINDER_SECONDS"]
    delay = timedelta(seconds=delay_seconds)
    written = []
    for event in Event.objects.running(now, event_id=event_id):
        routes = route_active(event_id=event.pk)
        for route in routes:
            acked = set(
                RouteAck.objects.filter(route=route).values_list("participant_id", flat=True)
            )
            reminded = set(
                RouteAckReminder.objects.filter(route=route).values_list(
                    "participant_id", flat=True
                )
            )
            for marshal in route_marshals(route=route, routes=routes):
                if marshal.pk in acked or marshal.pk in reminded:
                    continue
                if now - max(route.published_at, marshal.created_at) < delay:
                    continue
                entry = route_ack_remind(route=route, participant=marshal, now=now)
                if entry is not None:
                    written.append(entry)
    return written


def route_ack(*, participant, route: int, client_id: uuid.UUID | None = None):
    """A marshal confirms they have understood a route version; organizers see it live."""
    with journal_writer(event_id=participant.event_id) as journal:
        found = Route.objects.filter(pk=route, event_id=participant.event_id).first()
        if found is None:
            raise errors.ActionError.field("data.route", errors.MSG_NO_SUCH_ROUTE)
        RouteAck.objects.get_or_create(route=found, participant=participant)
        return journal.append(
            kind=kinds.ROUTE_ACKED,
            audience=[audiences.ORGANIZERS],
            data={
                "route": found.pk,
                "version": found.version,
                "group": found.group_id,
                "participant": participant.pk,
                "callsign": participant.callsign,
            },
            actor=participant,
            client_id=client_id,
        )
