"""Reading the journal back for a socket (the only database reads realtime/ makes)."""

from django.conf import settings

from fieldops.models import Event
from fieldops.services.journal import journal_since


def latest_seq(*, event_id: int) -> int:
    return Event.objects.values_list("last_seq", flat=True).get(pk=event_id)


def replay_batch(*, event_id: int, since: int, upto: int, tags: list[str]) -> list[tuple[int, str]]:
    return journal_since(
        event_id=event_id,
        since=since,
        upto=upto,
        tags=tags,
        limit=settings.FIELDOPS["REPLAY_BATCH"],
    )
