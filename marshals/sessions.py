"""Browser sessions: a join link stores which participant this browser is, per event."""

SESSION_KEY = "fieldops.participants"


def session_remember(session, *, event_slug: str, participant_id: int) -> None:
    known = dict(session.get(SESSION_KEY, {}))
    known[event_slug] = participant_id
    session[SESSION_KEY] = known


def session_participant(session, *, event_slug: str):
    """The active participant this session holds for the event, or None."""
    from .models import Participant

    participant_id = (session or {}).get(SESSION_KEY, {}).get(event_slug)
    if participant_id is None:
        return None
    return (
        Participant.objects.select_related("event")
        .filter(pk=participant_id, event__slug=event_slug, revoked_at__isnull=True)
        .first()
    )
