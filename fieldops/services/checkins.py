"""Check-ins: where a marshal or medic is and how they are, and the safety rules each one settles
(overdue, off route, inside a danger zone), in the same transaction as the row it writes."""

import uuid

from fieldops import audiences
from fieldops.services import kinds
from fieldops.services.journal import journal_writer
from fieldops.services.rows import row_insert
from fieldops.services.safety import offroute, overdue, zones
from marshals.models import CheckIn, Participant, Role
from marshals.payloads import participant_payload


def checkin_audience(participant: Participant) -> list[str]:
    """Organizers, and the check-in's peers: a marshal's group's marshals, the medics for a medic."""
    if participant.role == Role.MARSHAL and participant.group_id:
        return [audiences.ORGANIZERS, audiences.march_group_marshals_tag(participant.group_id)]
    if participant.role == Role.MEDIC:
        return [audiences.ORGANIZERS, audiences.MEDICS]
    return [audiences.ORGANIZERS]


def checkin_create(
    *,
    participant,
    lat: float,
    lng: float,
    status: str = "ok",
    accuracy_m: float | None = None,
    note: str = "",
    device_time=None,
    client_id: uuid.UUID | None = None,
):
    """Record where a marshal or medic is and how they are."""
    with journal_writer(event_id=participant.event_id) as journal:
        checkin = row_insert(
            CheckIn(
                event_id=participant.event_id,
                participant=participant,
                lat=lat,
                lng=lng,
                status=status,
                accuracy_m=accuracy_m,
                note=note,
                device_time=device_time,
            )
        )
        entry = journal.append(
            kind=kinds.CHECKIN,
            audience=checkin_audience(participant),
            data={
                "checkin": checkin.pk,
                **participant_payload(participant),
                "lat": lat,
                "lng": lng,
                "accuracy_m": accuracy_m,
                "status": status,
                "note": note,
                "device_time": device_time,
            },
            actor=participant,
            client_id=client_id,
        )
        # The safety rules a check-in settles: overdue, off route, inside a danger zone.
        overdue.overdue_clear(journal=journal, participant=participant, checkin=checkin)
        offroute.offroute_check(journal=journal, participant=participant, checkin=checkin)
        zones.zone_check(journal=journal, participant=participant, checkin=checkin)
        return entry
