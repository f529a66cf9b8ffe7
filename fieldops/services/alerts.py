"""Alerts from organizers to everyone, a role or a march group."""

import uuid
from datetime import timedelta

from django.utils import timezone

from fieldops import audiences, errors
from fieldops.models import Alert, MarchGroup

from . import kinds
from .journal import journal_writer


def alert_audience_tags(*, audience: str) -> list[str]:
    if audience.startswith("group:"):
        return [audiences.march_group_tag(int(audience.split(":", 1)[1]))]
    if audience == "public":
        return [audiences.PUBLIC]
    return [audiences.role_tag(audience)]


def alert_send(
    *,
    participant,
    text: str,
    audience: str = "public",
    level: str = "info",
    expires_in_minutes: int | None = None,
    client_id: uuid.UUID | None = None,
):
    """Send an alert; it reaches exactly the audience chosen (organizers always see it)."""
    event_id = participant.event_id
    if audience.startswith("group:"):
        group_id = int(audience.split(":", 1)[1])
        if not MarchGroup.objects.filter(pk=group_id, event_id=event_id).exists():
            raise errors.ActionError.field("data.audience", errors.MSG_NO_SUCH_GROUP)
    expires_at = None
    if expires_in_minutes:
        expires_at = timezone.now() + timedelta(minutes=expires_in_minutes)
    with journal_writer(event_id=event_id) as journal:
        alert = Alert.objects.create(
            event_id=event_id,
            sender=participant,
            audience=audience,
            level=level,
            text=text,
            expires_at=expires_at,
        )
        return journal.append(
            kind=kinds.ALERT_SENT,
            audience=alert_audience_tags(audience=audience),
            data={
                "alert": alert.pk,
                "audience": audience,
                "level": level,
                "text": text,
                "expires_at": expires_at,
            },
            actor=participant,
            client_id=client_id,
        )
