"""Who an SOS reaches, and with what. The SOS itself (`sos.raised`, or `sos.updated` when the
same sender sends again while theirs is active) goes to organizers, medics and the sender. Each
marshal who may be within SOS_RADIUS_METERS, and each medic with a known position, also gets a
personal `sos.nearby` with the distance and bearing from where they last were. "May be within":
their distance less their position's accuracy (counted up to the radius itself, so a vague fix
at most doubles the reach) is within the radius. If no marshal is, the SOS_NEAREST_MARSHALS
nearest are told all the same: an SOS always reaches someone in the field. A position older than
SOS_STALE_SECONDS is flagged `stale`. A marshal told once is kept informed of that SOS's updates
and of its end.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from fieldops import audiences
from fieldops.models import ActiveSos, Incident, SosRecipient
from marshals.models import CheckIn, Participant, Role

from .. import kinds
from .geo import LatLng, bearing_deg, compass, distance_m

NEARBY_ROLES = (Role.MARSHAL, Role.MEDIC)


def sos_main_audience(*, sender: Participant) -> list[str]:
    """The SOS entry's audience: organizers, all medics, and the sender (their page shows it)."""
    return [audiences.ORGANIZERS, audiences.MEDICS, audiences.participant_tag(sender.pk)]


def sos_audience(*, incident: Incident) -> list[str]:
    """Everyone who was told of this SOS: for its later updates and its resolution."""
    tags = [audiences.ORGANIZERS, audiences.MEDICS]
    if incident.reporter_id:
        tags.append(audiences.participant_tag(incident.reporter_id))
    recipients = SosRecipient.objects.filter(incident=incident).values_list(
        "participant_id", flat=True
    )
    return tags + [audiences.participant_tag(pid) for pid in recipients]


def sos_active_for(*, participant: Participant) -> Incident | None:
    """The sender's active SOS, if any (locked for update by the caller's transaction)."""
    active = ActiveSos.objects.select_related("incident").filter(participant=participant).first()
    return active.incident if active else None


def latest_positions(*, event_id: int, roles=NEARBY_ROLES, exclude: int | None = None):
    """Each active participant of these roles with their latest check-in."""
    return (
        CheckIn.objects.filter(
            event_id=event_id, participant__role__in=roles, participant__revoked_at__isnull=True
        )
        .exclude(participant_id=exclude)
        .latest_each()
    )


def sos_notify(*, journal, incident: Incident, sender: Participant) -> list:
    """Inside the SOS's transaction: a personal `sos.nearby` to each marshal who may be within the
    radius (or the nearest, if none may), each medic with a known position, and anyone told of
    this SOS before."""
    radius = settings.FIELDOPS["SOS_RADIUS_METERS"]
    where = LatLng(incident.lat, incident.lng)
    told_before = set(
        SosRecipient.objects.filter(incident=incident).values_list("participant_id", flat=True)
    )
    measured = []
    for checkin in latest_positions(event_id=incident.event_id, exclude=sender.pk):
        here = LatLng(checkin.lat, checkin.lng)
        dist = distance_m(here, where)
        slack = min(checkin.accuracy_m or 0.0, radius)
        measured.append((dist, dist - slack <= radius, checkin, here))
    measured.sort(key=lambda m: m[0])
    marshals = [m for m in measured if m[2].participant.role == Role.MARSHAL]
    nearest = set()
    if not any(within for _, within, _, _ in marshals):
        k = settings.FIELDOPS["SOS_NEAREST_MARSHALS"]
        nearest = {m[2].participant_id for m in marshals[:k]}
    stale_before = timezone.now() - timedelta(seconds=settings.FIELDOPS["SOS_STALE_SECONDS"])
    written = []
    for dist, within, checkin, here in measured:
        person = checkin.participant
        if within and person.role == Role.MARSHAL:
            reason = "within_radius"
        elif person.role == Role.MEDIC:
            reason = "medic"
        elif person.pk in nearest:
            reason = "nearest"
        elif person.pk in told_before:
            reason = "told_before"
        else:
            continue
        bearing = bearing_deg(here, where)
        SosRecipient.objects.update_or_create(
            incident=incident,
            participant=person,
            defaults={"distance_m": dist, "bearing_deg": bearing},
        )
        written.append(
            journal.append(
                kind=kinds.SOS_NEARBY,
                audience=[audiences.participant_tag(person.pk)],
                data={
                    "incident": incident.pk,
                    "status": incident.status,
                    "sender": sender.callsign,
                    "group": sender.group_id,
                    "lat": incident.lat,
                    "lng": incident.lng,
                    "note": incident.description,
                    "distance_m": round(dist, 1),
                    "bearing_deg": round(bearing, 1),
                    "direction": compass(bearing),
                    "within_radius": within,
                    "radius_m": radius,
                    "reason": reason,
                    "accuracy_m": checkin.accuracy_m,
                    "stale": checkin.server_time < stale_before,
                    "from": {"lat": here.lat, "lng": here.lng, "at": checkin.server_time},
                },
                actor=sender,
            )
        )
    return written


def sos_closed(*, incident: Incident) -> None:
    """The SOS was resolved or dismissed: its sender may raise a new one."""
    ActiveSos.objects.filter(incident=incident).delete()


def sos_active_visible(*, participant: Participant) -> list[Incident]:
    """The active SOS this participant may see, oldest first: all of them for organizers and
    medics, for a marshal those they were told of and their own, for anyone else their own."""
    active = ActiveSos.objects.filter(incident__event_id=participant.event_id)
    if participant.role == Role.MARSHAL:
        active = active.filter(participant=participant) | active.filter(
            incident__sos_recipients__participant=participant
        )
    elif participant.role not in (Role.ORGANIZER, Role.MEDIC):
        active = active.filter(participant=participant)
    ids = active.values_list("incident_id", flat=True).distinct()
    return list(
        Incident.objects.filter(pk__in=list(ids)).select_related("reporter").order_by("created_at")
    )
