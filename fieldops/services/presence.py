"""Presence in the database: each worker's batch of who has a socket open there and when each
was last heard (realtime/presence.py), and what all workers' rows say about one phone.

A row not rewritten for PRESENCE_STALE_FACTOR flushes belongs to a worker that is gone: its
sockets no longer count, its `last_heard` still does.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from fieldops.models import Presence
from marshals.models import Participant

PRESENCE_STALE_FACTOR = 3


def presence_flush(*, worker: str, rows: list[tuple[int, int, float]], now=None) -> int:
    """Write this worker's rows (participant id, sockets, last heard as a Unix time) in one
    batch; returns how many were written. Participants deleted meanwhile are skipped."""
    now = now or timezone.now()
    if not rows:
        # Still alive: the rows this worker wrote before stay fresh.
        Presence.objects.filter(worker=worker).update(written_at=now)
        return 0
    existing = set(
        Participant.objects.filter(pk__in=[r[0] for r in rows]).values_list("pk", flat=True)
    )
    batch = [
        Presence(
            participant_id=pid,
            worker=worker,
            sockets=sockets,
            last_heard=datetime.fromtimestamp(heard, UTC),
            written_at=now,
        )
        for pid, sockets, heard in rows
        if pid in existing
    ]
    Presence.objects.bulk_create(
        batch,
        update_conflicts=True,
        unique_fields=["participant", "worker"],
        update_fields=["sockets", "last_heard", "written_at"],
    )
    Presence.objects.filter(worker=worker).exclude(
        participant_id__in=[p.participant_id for p in batch]
    ).update(written_at=now)
    return len(batch)


def presence_forget(*, worker: str) -> None:
    """A worker shutting down: its sockets are gone (their last-heard times stay)."""
    Presence.objects.filter(worker=worker).update(sockets=0, written_at=timezone.now())


def presence_of(*, participant_ids, now=None) -> dict[int, dict]:
    """For each participant: whether a phone of theirs has a socket open on a live worker
    (`connected`), and when one was last heard (`last_heard`, None if never)."""
    now = now or timezone.now()
    fresh = now - timedelta(
        seconds=settings.FIELDOPS["PRESENCE_FLUSH_SECONDS"] * PRESENCE_STALE_FACTOR
    )
    found = {pid: {"connected": False, "last_heard": None} for pid in participant_ids}
    for row in Presence.objects.filter(participant_id__in=list(found)):
        seen = found[row.participant_id]
        seen["connected"] |= row.sockets > 0 and row.written_at >= fresh
        if seen["last_heard"] is None or row.last_heard > seen["last_heard"]:
            seen["last_heard"] = row.last_heard
    return found
