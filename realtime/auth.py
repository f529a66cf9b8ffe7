"""Who is on the other end of a socket: a device's bearer token, or a browser's session."""

from django.db import connection

from marshals.sessions import cookie_session, session_participant
from marshals.tokens import token_authenticate


def scope_participant(scope, *, event_slug: str):
    """(participant, token_id) for a WebSocket scope, or (None, None).

    Devices send `Authorization: Bearer <token>`; tokens never travel in the URL, where proxies log
    them. Browsers send the session cookie a join link set. The participant comes without its event.
    """
    headers = dict(scope.get("headers") or [])
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization:
        scheme, _, raw = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None, None
        found = token_authenticate(raw.strip(), event_slug=event_slug)
        return found if found is not None else (None, None)
    session = cookie_session(headers)
    if session is None:
        return None, None
    return session_participant(session, event_slug=event_slug, with_event=False), None


def credential_active(*, participant_id: int, token_id: int | None) -> bool:
    """Whether the socket's participant, and its device token if it used one, is still not revoked.

    Revocation closes sockets through the channel layer, which may drop the message (at-most-once);
    checking again before each action and replay keeps a revoked device out even then.
    """
    # SQL, like the journal reads: every action and every resume asks it.
    if token_id is not None:
        sql = (
            "SELECT 1 FROM marshals_devicetoken t"
            " JOIN marshals_participant p ON p.id = t.participant_id"
            " WHERE t.id = %s AND t.revoked_at IS NULL AND p.revoked_at IS NULL"
        )
        params = [token_id]
    else:
        sql = "SELECT 1 FROM marshals_participant WHERE id = %s AND revoked_at IS NULL"
        params = [participant_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None
