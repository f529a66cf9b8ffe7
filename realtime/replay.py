"""Reading the journal back (the only database reads realtime/ makes), as SQL: every reconnect and
every repair runs these, and building them through the ORM cost several times running them."""

from django.conf import settings
from django.db import connection

from fieldops.crypto import frame_text
from fieldops.models import Event
from fieldops.services.journal import audience_pattern


def latest_seq(*, event_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_seq FROM fieldops_event WHERE id = %s", [event_id])
        row = cursor.fetchone()
    if row is None:
        raise Event.DoesNotExist(f"no event {event_id}")
    return row[0]


def latest_seqs(*, event_ids: list[int]) -> dict[int, int]:
    """{event id: latest seq} for the events that exist: a worker's periodic look at its events."""
    marks = ", ".join(["%s"] * len(event_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, last_seq FROM fieldops_event WHERE id IN ({marks})",  # noqa: S608
            event_ids,
        )
        return dict(cursor.fetchall())


def journal_range(*, event_id: int, since: int, upto: int, limit: int):
    """(seq, audience tags, frame) of every entry after `since` up to `upto`, oldest first, whoever
    may see it: a worker repairing a gap delivers each to the sockets of its audience."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, audience, frame FROM fieldops_journalentry"
            " WHERE event_id = %s AND seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
            [event_id, since, upto, limit],
        )
        rows = cursor.fetchall()
    return [(seq, tuple(audience.split()), frame_text(frame)) for seq, audience, frame in rows]


def replay_batch(*, event_id: int, since: int, upto: int, tags: list[str]):
    """(rows, more): the next (seq, frame) a socket with these tags may see after `since`, up to
    `upto`, oldest first; at most REPLAY_BATCH rows and, past the first, REPLAY_BATCH_BYTES of
    frames (route changes are large, check-ins small: a replay holds one batch in memory however
    large the journal); `more` says whether rows are left.

    The database sizes at most REPLAY_BATCH rows (`firsts`, their lengths only); the running sum
    over them decides which frames to read and send back. Only placeholders are put into the text; values are parameters.
    """
    limit = settings.FIELDOPS["REPLAY_BATCH"]
    visible = " OR ".join(["audience LIKE %s ESCAPE '\\'"] * len(tags)) or "1 = 0"
    sql = (
        "SELECT j.seq, j.frame, b.scanned FROM fieldops_journalentry j JOIN ("  # noqa: S608
        " SELECT seq, COUNT(*) OVER () AS scanned,"
        " SUM(size) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) - size AS before"
        " FROM (SELECT seq, LENGTH(frame) AS size FROM fieldops_journalentry"
        f" WHERE event_id = %s AND seq > %s AND seq <= %s AND ({visible}) ORDER BY seq LIMIT %s)"
        " AS firsts) AS b ON j.seq = b.seq"
        " WHERE j.event_id = %s AND b.before < %s ORDER BY j.seq"
    )
    params = [event_id, since, upto, *(audience_pattern(t) for t in tags), limit]
    params += [event_id, settings.FIELDOPS["REPLAY_BATCH_BYTES"]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    if not found:
        return [], False
    scanned = found[0][2]
    rows = [(seq, frame_text(frame)) for seq, frame, _ in found]
    return rows, len(found) < scanned or scanned == limit
