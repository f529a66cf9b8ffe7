"""What the sockets of a worker hold now: read by every worker after it may have missed close
orders (realtime/hub.py). A single socket asks marshals.tokens.credential_scope before it acts.

A socket keeps the participant, role and group it connected with. Revocations and role or group
changes close or re-scope its sockets through the channel layer, which may drop the message
(at-most-once); these reads make the database the judge, in one statement.
"""

from django.db import connection


def scopes_lapsed(scopes: set[tuple[int, str, int | None]]) -> tuple[set[int], set[tuple]]:
    """Of these (participant id, role, group) a worker's sockets hold: the participants revoked or
    deleted since, and the scopes whose role or group has changed."""
    if not scopes:
        return set(), set()
    ids = sorted({participant_id for participant_id, _, _ in scopes})
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, role, group_id FROM marshals_participant"  # noqa: S608 - placeholders only
            f" WHERE revoked_at IS NULL AND id IN ({marks})",
            ids,
        )
        now = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
    gone = {participant_id for participant_id in ids if participant_id not in now}
    changed = {
        scope for scope in scopes if scope[0] in now and now[scope[0]] != (scope[1], scope[2])
    }
    return gone, changed
