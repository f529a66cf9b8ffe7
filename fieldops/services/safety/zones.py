"""Danger zones: organizers activate a zone live (an existing danger place, or a polygon drawn
now) and deactivate it; each change is a journal entry. A public zone reaches everyone, marchers
included, as an alert; a non-public one only the field teams. A participant whose check-in falls
inside an active zone is warned personally (organizers see the same entry) once per entry into it;
when a zone is switched on, everyone whose last check-in lies inside it is warned at once.
"""

import uuid

from django.db import connection
from django.utils import timezone

from fieldops import audiences, errors
from fieldops.models import Place, ZoneActivation, ZonePresence
from fieldops.services import kinds
from fieldops.services.journal import journal_writer
from marshals.models import CheckIn, Participant
from marshals.payloads import participant_payload

from . import alarms
from .eventmap import ZONE_SHAPES, journal_map
from .geo import LatLng, covers

MSG_NO_SUCH_ZONE = "No such danger zone at this event."
MSG_ZONE_ALREADY_ACTIVE = "This zone is already active."
MSG_ZONE_NOT_ACTIVE = "This zone is not active."
MSG_PLACE_OR_GEOMETRY = "Give either an existing zone (place) or a new polygon (geometry)."
FIELD_TEAMS = [audiences.MARSHALS, audiences.LEGAL, audiences.MEDICS]


def zone_audience(place: Place) -> list[str]:
    return [audiences.PUBLIC] if place.public else list(FIELD_TEAMS)


def zone_payload(place: Place) -> dict:
    return {
        "place": place.pk,
        "name": place.name,
        "geometry": place.geometry,
        "public": place.public,
        "active": place.active,
    }


def zone_activate(
    *,
    participant: Participant,
    place: int | None = None,
    name: str = "",
    geometry: dict | None = None,
    public: bool | None = None,
    client_id: uuid.UUID | None = None,
):
    """Switch on an existing danger zone, or draw a new one; tell its audience at once."""
    if (place is None) == (geometry is None):
        raise errors.ActionError.field("data.place", MSG_PLACE_OR_GEOMETRY)
    with journal_writer(event_id=participant.event_id) as journal:
        if place is not None:
            zone = _zone(participant=participant, place=place)
            if zone.active:
                raise errors.ActionError.field("data.place", MSG_ZONE_ALREADY_ACTIVE)
            zone.active = True
            zone.public = zone.public if public is None else public
            zone.save(update_fields=["active", "public"])
        else:
            zone = Place.objects.create(
                event_id=participant.event_id,
                kind=Place.Kind.DANGER,
                name=name or "Danger zone",
                geometry=geometry,
                active=True,
                public=True if public is None else public,
            )
        ZoneActivation.objects.create(place=zone, active=True, by=participant)
        data = zone_payload(zone) | {"level": "danger", "text": f"Avoid: {zone.name}"}
        written = journal.append(
            kind=kinds.ZONE_ACTIVATED,
            audience=zone_audience(zone),
            data=data,
            actor=participant,
            client_id=client_id,
        )
        zone_check_everyone(journal=journal, event_id=participant.event_id)
        return written


def zone_deactivate(*, participant: Participant, place: int, client_id: uuid.UUID | None = None):
    """Switch a danger zone off; those who were told it is on are told it is off."""
    with journal_writer(event_id=participant.event_id) as journal:
        zone = _zone(participant=participant, place=place)
        if not zone.active:
            raise errors.ActionError.field("data.place", MSG_ZONE_NOT_ACTIVE)
        zone.active = False
        zone.save(update_fields=["active"])
        ZoneActivation.objects.create(place=zone, active=False, by=participant)
        ZonePresence.objects.filter(place=zone).delete()
        entry = journal.append(
            kind=kinds.ZONE_DEACTIVATED,
            audience=zone_audience(zone),
            data=zone_payload(zone)
            | {"level": "info", "text": f"No longer a danger zone: {zone.name}"},
            actor=participant,
            client_id=client_id,
        )
        alarms.alarm_clear_prefix(journal=journal, prefix=in_zone_key(place=zone.pk))
        return entry


def _zone(*, participant: Participant, place: int) -> Place:
    zone = Place.objects.filter(
        pk=place, event_id=participant.event_id, kind=Place.Kind.DANGER
    ).first()
    if zone is None or (zone.geometry or {}).get("type") not in ZONE_SHAPES:
        raise errors.ActionError.field("data.place", MSG_NO_SUCH_ZONE)
    return zone


def in_zone_key(*, place: int, who: int | None = None) -> str:
    """The cause of an in-zone alarm; without `who`, the prefix of all of one zone's."""
    return f"in_zone.{place}." + (str(who) if who is not None else "")


def zone_check(
    *, journal, participant: Participant, checkin: CheckIn, known: set[int] | None = None
) -> list:
    """Inside a check-in's transaction: warn on entering an active zone; forget zones left.
    `known`: the zones the participant is known to be inside, if the caller read them already."""
    point = LatLng(checkin.lat, checkin.lng)
    inside = {z.pk: z for z in journal_map(journal).zones if covers(z.geometry, point)}
    if known is None:
        known = _zones_known(participant.pk)
    if known - inside.keys():
        ZonePresence.objects.filter(participant=participant).exclude(place_id__in=inside).delete()
        for left in known - inside.keys():
            alarms.alarm_clear(journal=journal, key=in_zone_key(place=left, who=participant.pk))
    written = []
    for zone in inside.values():
        if zone.pk in known:
            continue
        ZonePresence.objects.create(participant=participant, place=zone, since=timezone.now())
        written.append(
            journal.append(
                kind=kinds.MARSHAL_IN_ZONE,
                # The participant is warned; organizers are always in an audience.
                audience=[audiences.participant_tag(participant.pk)],
                data={
                    **participant_payload(participant),
                    "place": zone.pk,
                    "name": zone.name,
                    "lat": checkin.lat,
                    "lng": checkin.lng,
                    "level": "danger",
                    "text": f"You are inside a danger zone: {zone.name}. Leave it if you can.",
                },
                actor=participant,
            )
        )
        alarms.alarm_open_at(
            journal=journal,
            subject="in_zone",
            key=in_zone_key(place=zone.pk, who=participant.pk),
            participant=participant,
            checkin=checkin,
        )
    return written


def _zones_known(participant_id: int) -> set[int]:
    # Asked at every check-in: one statement, without the ORM's query compiler.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT place_id FROM fieldops_zonepresence WHERE participant_id = %s",
            [participant_id],
        )
        return {row[0] for row in cursor.fetchall()}


def zone_check_everyone(*, journal, event_id: int) -> list:
    """Inside a zone's activation: `zone_check` on every active participant's last check-in, so
    whoever the new zone covers is warned now, not at their next check-in."""
    latest = CheckIn.objects.filter(
        event_id=event_id, participant__revoked_at__isnull=True
    ).latest_each()
    return [
        w for c in latest for w in zone_check(journal=journal, participant=c.participant, checkin=c)
    ]
