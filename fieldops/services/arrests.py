"""Arrest records: sealed with the event's data key, summarized in the journal, erased after
retention (fieldops/services/retention.py)."""

import uuid
from datetime import datetime

from django.utils import timezone

from fieldops import audiences
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
