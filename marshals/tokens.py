"""Random secrets (device tokens, invite codes) and the only form in which they are stored; how long
a credential holds (until its event ends, plus settings.CREDENTIAL_GRACE_HOURS).

The secrets carry 256 (tokens) or 80+ (codes) bits from `secrets`, so a plain SHA-256 is enough to
store them: a slow password hash protects guessable secrets, and these are not guessable.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

USE_RECORDED_EVERY = timedelta(minutes=1)

# A token holds while neither it nor its participant is revoked and its event has not ended more
# than the grace ago (the one parameter: `credential_cutoff()`); every lookup below says so here.
_ACTIVE_TOKENS = (
    " FROM marshals_devicetoken t JOIN marshals_participant p ON p.id = t.participant_id"
    " JOIN fieldops_event e ON e.id = p.event_id"
    " WHERE t.revoked_at IS NULL AND p.revoked_at IS NULL AND e.ends_at > %s"
)

# The same for a participant without a device token (a joined browser's session).
_ACTIVE_SESSIONS = (
    " FROM marshals_participant p JOIN fieldops_event e ON e.id = p.event_id"
    " WHERE p.revoked_at IS NULL AND e.ends_at > %s"
)


def credential_cutoff(now: datetime | None = None) -> datetime:
    """Tokens and sessions of an event that ended before this instant no longer work."""
    return (now or timezone.now()) - timedelta(hours=settings.CREDENTIAL_GRACE_HOURS)


def _db_time(value: datetime):
    # Datetimes go into SQL as the ORM would store them (text in SQLite, timestamptz in PostgreSQL).
    return connection.ops.adapt_datetimefield_value(value)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_invite_code() -> str:
    # Short enough to type from a printed sheet, long enough not to be guessed (~100 bits).
    return secrets.token_urlsafe(13)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_authenticate(raw: str, *, event_slug: str | None = None):
    """The (participant, token id) for a bearer token, or None if unknown, revoked, its participant
    is, or its event ended more than the grace ago; with `event_slug`, only a token of that event,
    and the participant comes without its event (a socket keeps it for as long as it is open).

    The token is found by one SQL statement (every reconnect runs this, and building the join
    through the ORM cost three times running it), then the participant by primary key.
    """
    from .models import Participant

    if not raw or len(raw) > 200:
        return None
    now = timezone.now()
    sql = "SELECT t.id, t.participant_id, (t.last_used_at IS NULL OR t.last_used_at < %s)"
    sql += _ACTIVE_TOKENS + " AND t.token_hash = %s"
    adapt = _db_time
    params = [adapt(now - USE_RECORDED_EVERY), adapt(credential_cutoff(now)), digest(raw)]
    if event_slug is not None:
        sql += " AND p.event_id = (SELECT id FROM fieldops_event WHERE slug = %s)"
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


def credential_active(*, participant_id: int, token_id: int | None) -> bool:
    """Whether a participant, and the device token it used if any, is still not revoked (nor
    expired with its event)."""
    return credential_scope(participant_id=participant_id, token_id=token_id) is not None


def credential_scope(*, participant_id: int, token_id: int | None) -> tuple[str, int | None] | None:
    """The (role, group id) a participant holds now, or None once its credential (the device token
    it used, if any) no longer holds: revoked, deleted, or its event long over.

    Revocations and role changes reach sockets through the channel layer, which may drop the
    message (at-most-once); sockets ask this before each action and replay, in one statement.
    """
    return credential_scopes([(participant_id, token_id)])[0]


def credential_scopes(
    credentials: list[tuple[int, int | None]],
) -> list[tuple[str, int | None] | None]:
    """`credential_scope` for each (participant id, token id) pair, in at most two statements
    (one for tokens, one for sessions): a worker asks for all the sockets whose actions it carries
    out together (realtime/gather.py)."""
    cutoff = _db_time(credential_cutoff())
    tokens = sorted({token for _, token in credentials if token is not None})
    sessions = sorted({pid for pid, token in credentials if token is None})
    found_tokens, found_sessions = {}, {}
    with connection.cursor() as cursor:
        if tokens:
            marks = ", ".join(["%s"] * len(tokens))
            cursor.execute(
                "SELECT t.id, p.role, p.group_id" + _ACTIVE_TOKENS + f" AND t.id IN ({marks})",
                [cutoff, *tokens],
            )
            found_tokens = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
        if sessions:
            marks = ", ".join(["%s"] * len(sessions))
            cursor.execute(
                "SELECT p.id, p.role, p.group_id" + _ACTIVE_SESSIONS + f" AND p.id IN ({marks})",
                [cutoff, *sessions],
            )
            found_sessions = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    return [
        found_sessions.get(pid) if token is None else found_tokens.get(token)
        for pid, token in credentials
    ]


def credentials_revoked(
    *, participant_ids: list[int], token_ids: list[int]
) -> tuple[set[int], set[int]]:
    """Which of these participants and device tokens are revoked (a participant whose event ended
    more than the grace ago counts as revoked): a worker asks after it may have missed revocation
    messages (realtime/hub.py), for all its sockets of an event at once."""
    with connection.cursor() as cursor:
        return tuple(  # type: ignore[return-value]
            _revoked_among(cursor, table, ids)
            for table, ids in (("marshals_participant", participant_ids),
                               ("marshals_devicetoken", token_ids))
        )  # fmt: skip


def _revoked_among(cursor, table: str, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    marks = ", ".join(["%s"] * len(ids))
    lapsed, params = "revoked_at IS NOT NULL", list(ids)
    if table == "marshals_participant":
        lapsed += " OR event_id IN (SELECT id FROM fieldops_event WHERE ends_at <= %s)"
        params.append(_db_time(credential_cutoff()))
    cursor.execute(
        f"SELECT id FROM {table} WHERE id IN ({marks}) AND ({lapsed})",  # noqa: S608
        params,
    )
    return {row[0] for row in cursor.fetchall()}
