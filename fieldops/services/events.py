"""The event's own course: an organizer ends it when the march is over, whatever the schedule said.
Until then the watch keeps raising overdue alerts and reminders (Event.objects.running), and a
march that overruns is still watched, up to WATCH_OVERRUN_HOURS past its scheduled end."""

import uuid

from django.utils import timezone

from fieldops import audiences, errors
from fieldops.models import Event
from fieldops.services import kinds
from fieldops.services.journal import journal_writer

MSG_ALREADY_ENDED = "This event has already ended."


def event_end(*, participant, client_id: uuid.UUID | None = None):
    """End the participant's event now (organizers); everyone is told."""
    with journal_writer(event_id=participant.event_id) as journal:
        event = Event.objects.get(pk=participant.event_id)
        if event.ended_at is not None:
            raise errors.ActionError(errors.INVALID, MSG_ALREADY_ENDED)
        event.ended_at = timezone.now()
        event.save(update_fields=["ended_at"])
        return journal.append(
            kind=kinds.EVENT_ENDED,
            audience=[audiences.PUBLIC],
            data={"ended_at": event.ended_at, "level": "info", "text": "The event has ended."},
            actor=participant,
            client_id=client_id,
        )
