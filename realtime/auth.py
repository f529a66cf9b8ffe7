"""Who is on the other end of a socket: a device's bearer token, or a browser's session."""

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
