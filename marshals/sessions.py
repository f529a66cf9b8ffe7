"""Browser sessions: a join link stores which participant this browser is, per event."""

SESSION_KEY = "fieldops.participants"


def session_remember(session, *, event_slug: str, participant_id: int) -> None:
    """Remember the participant; the session then lasts until its last event's credentials end."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Max

    from fieldops.models import Event

    known = dict(session.get(SESSION_KEY, {}))
    known[event_slug] = participant_id
    session[SESSION_KEY] = known
    last_end = Event.objects.filter(slug__in=list(known)).aggregate(last=Max("ends_at"))["last"]
    if last_end is not None:
        session.set_expiry(last_end + timedelta(hours=settings.CREDENTIAL_GRACE_HOURS))


def session_participant(session, *, event_slug: str, with_event: bool = True):
    """The active participant this session holds for the event, or None."""
    from .models import Participant
    from .tokens import credential_cutoff

    participant_id = (session or {}).get(SESSION_KEY, {}).get(event_slug)
    if participant_id is None:
        return None
    found = Participant.objects.filter(
        pk=participant_id,
        event__slug=event_slug,
        event__ends_at__gt=credential_cutoff(),
        revoked_at=None,
    )
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
