"""Random secrets (device tokens, invite codes) and the only form in which they are stored.

The secrets carry 256 (tokens) or 80+ (codes) bits from `secrets`, so a plain SHA-256 is enough to
store them: a slow password hash protects guessable secrets, and these are not guessable.
"""

import hashlib
import secrets
from datetime import timedelta

from django.db import connection
from django.utils import timezone

USE_RECORDED_EVERY = timedelta(minutes=1)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_invite_code() -> str:
    # Short enough to type from a printed sheet, long enough not to be guessed (~100 bits).
    return secrets.token_urlsafe(13)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_authenticate(raw: str, *, event_slug: str | None = None):
    """The (participant, token id) for a bearer token, or None if unknown, revoked or its
    participant is; with `event_slug`, only a token of that event, and the participant comes
    without its event (a socket keeps it for as long as it is open).

    The token is found by one SQL statement (every reconnect runs this, and building the join
    through the ORM cost three times running it), then the participant by primary key.
    """
    from .models import Participant

    if not raw or len(raw) > 200:
        return None
    now = timezone.now()
    sql = (
        "SELECT t.id, t.participant_id,"
        " (t.last_used_at IS NULL OR t.last_used_at < %s)"
        " FROM marshals_devicetoken t"
        " JOIN marshals_participant p ON p.id = t.participant_id"
        " JOIN fieldops_event e ON e.id = p.event_id"
        " WHERE t.token_hash = %s AND t.revoked_at IS NULL AND p.revoked_at IS NULL"
    )
    # Datetimes go in as the ORM would store them (text in SQLite, timestamptz in PostgreSQL).
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(now - USE_RECORDED_EVERY), digest(raw)]
    if event_slug is not None:
        sql += " AND e.slug = %s"
        params.append(event_slug)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    token_id, participant_id, stale = row
    participants = Participant.objects.all()
    if event_slug is None:
        participants = participants.select_related("event")
    try:
        # get(), not first(): first() would order by Meta.ordering, which joins the event.
        participant = participants.get(pk=participant_id)
    except Participant.DoesNotExist:  # deleted in between
        return None
    if stale:  # record use at most once a minute: no write per request
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE marshals_devicetoken SET last_used_at = %s WHERE id = %s",
                [adapt(now), token_id],
            )
    return participant, token_id
