"""Browser sessions: a join link stores which participant this browser is, per event."""

SESSION_KEY = "fieldops.participants"


def session_remember(session, *, event_slug: str, participant_id: int) -> None:
    known = dict(session.get(SESSION_KEY, {}))
    known[event_slug] = participant_id
    session[SESSION_KEY] = known


def session_participant(session, *, event_slug: str, with_event: bool = True):
    """The active participant this session holds for the event, or None."""
    from .models import Participant

    participant_id = (session or {}).get(SESSION_KEY, {}).get(event_slug)
    if participant_id is None:
        return None
    found = Participant.objects.filter(pk=participant_id, event__slug=event_slug, revoked_at=None)
    return (found.select_related("event") if with_event else found).first()


def cookie_session(headers: dict[bytes, bytes]):
    """The session a request's Cookie header names, loaded lazily; None without one.

    Sockets read the session once, when they connect, and never write it: they use this instead of
    channels' session middleware, which keeps a wrapper and copies of the scope for the socket's
    whole life.
    """
    from importlib import import_module

    from django.conf import settings
    from django.http.cookie import parse_cookie

    key = parse_cookie(headers.get(b"cookie", b"").decode("latin-1")).get(
        settings.SESSION_COOKIE_NAME
    )
    if not key:
        return None
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
