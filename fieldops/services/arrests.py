"""Arrest records: sealed with the event's data key, summarized in the journal, erased after
retention (fieldops/services/retention.py)."""

import uuid
from datetime import date, datetime

from django.utils import timezone

from fieldops import audiences, errors
from fieldops.models import ArrestRecord

from . import kinds
from .journal import journal_writer

ARREST_AUDIENCE = [audiences.ORGANIZERS, audiences.LEGAL]


def arrest_summary(record: ArrestRecord) -> dict:
    """What the journal may carry: no description, names, badges, vehicles or destinations."""
    return {
        "arrest": record.pk,
        "occurred_at": record.occurred_at.isoformat(),
        "lat": record.lat,
        "lng": record.lng,
        "people_count": record.people_count,
        "agency": record.agency,
        "dispersal_order": record.dispersal_order,
        "force_used": record.force_used,
        "medical_needs": record.medical_needs,
        "observer": record.observer.callsign if record.observer else None,
    }


def arrest_log(
    *,
    participant,
    lat: float,
    lng: float,
    occurred_at: datetime | None = None,
    client_id: uuid.UUID | None = None,
    **details,
):
    """Store a legal observer's arrest record and tell organizers and legal observers."""
    with journal_writer(event_id=participant.event_id) as journal:
        record = ArrestRecord.objects.create(
            event_id=participant.event_id,
            observer=participant,
            occurred_at=occurred_at or timezone.now(),
            lat=lat,
            lng=lng,
            **details,
        )
        return journal.append(
            kind=kinds.ARREST_LOGGED,
            audience=ARREST_AUDIENCE,
            data=arrest_summary(record),
            actor=participant,
            client_id=client_id,
        )


MSG_NO_SUCH_ARREST = "No such arrest record at this event."
MSG_CONTACT_WITHOUT_CONSENT = (
    "Record the person's consent before marking contact as made: nobody is contacted for them "
    "without it."
)
MSG_RELEASED_BEFORE_ARREST = "The release time is before the arrest."


def arrest_follow_up(record: ArrestRecord) -> dict:
    """Where a case stands, without personal data: what `arrest.updated` entries carry."""
    return {
        "arrest": record.pk,
        "released": record.released_at is not None,
        "released_at": record.released_at.isoformat() if record.released_at else None,
        "welfare_met": record.welfare_met,
        "contact_made": record.contact_made,
        "lawyer_assigned": bool(record.lawyer),
    }


def arrest_update(
    *,
    participant,
    arrest: int,
    client_id: uuid.UUID | None = None,
    court_date: date | None = None,
    **changes,
):
    """Jail support: record what is known since an arrest (where the person is held, charges,
    bail, court date, lawyer, welfare, contact with consent, release). Fields left as None stay
    as they were. Legal observers and organizers are told which fields changed, never how."""
    with journal_writer(event_id=participant.event_id) as journal:
        record = (
            ArrestRecord.objects.select_for_update(of=("self",))
            .select_related("observer")
            .filter(pk=arrest, event_id=participant.event_id, purged_at__isnull=True)
            .first()
        )
        if record is None:
            raise errors.ActionError.field("data.arrest", MSG_NO_SUCH_ARREST)
        if court_date is not None:
            changes["court_date"] = court_date.isoformat()
        changed = []
        for name, value in changes.items():
            if value is not None and getattr(record, name) != value:
                setattr(record, name, value)
                changed.append(name)
        if record.contact_made and not record.contact_consent:
            raise errors.ActionError.field("data.contact_consent", MSG_CONTACT_WITHOUT_CONSENT)
        if record.released_at is not None and record.released_at < record.occurred_at:
            raise errors.ActionError.field("data.released_at", MSG_RELEASED_BEFORE_ARREST)
        record.followed_up_at = timezone.now()
        record.save(update_fields=[*changed, "followed_up_at"])
        return journal.append(
            kind=kinds.ARREST_UPDATED,
            audience=ARREST_AUDIENCE,
            data=arrest_follow_up(record) | {"changed": changed, "by": participant.callsign},
            actor=participant,
            client_id=client_id,
        )
