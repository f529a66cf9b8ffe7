"""Reading the journal back for a socket (the only database reads realtime/ makes)."""

from django.conf import settings
from django.db import connection

from fieldops.models import Event
from fieldops.services.journal import journal_since


def latest_seq(*, event_id: int) -> int:
    # SQL, like journal_since: every connect and every resume reads it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_seq FROM fieldops_event WHERE id = %s", [event_id])
        row = cursor.fetchone()
    if row is None:
        raise Event.DoesNotExist(f"no event {event_id}")
    return row[0]


def replay_batch(*, event_id: int, since: int, upto: int, tags: list[str]) -> list[tuple[int, str]]:
    return journal_since(
        event_id=event_id,
        since=since,
        upto=upto,
        tags=tags,
        limit=settings.FIELDOPS["REPLAY_BATCH"],
    )
