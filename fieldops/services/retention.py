"""Retention that erases: once an event's retention has passed, whatever could hurt someone is
deleted or reduced to counts, and the event's data key is destroyed (fieldops/crypto.py), so copies
of its sealed values left in WAL, data files, backups or replicas no longer decrypt.

What remains of a purged event (docs/deployment.md, "Retention and keys"):
- the event, its march groups, routes and places, and when danger zones were switched on and off:
  the organizers' plan, shown to every marcher; who published or switched them is cleared;
- each journal entry reduced to kind, seq and time: its frame is `{"type", "seq", "at"}` in clear,
  its audience organizers only, without actor or client id;
- `EventTally` rows: per hour and kind, how many check-ins (by status), incidents (by kind), SOS,
  arrests (records and people), alerts (by level) and participants (by role) there were, and for
  what had a position, per cell of 0.01° (about a kilometre).
Everything else of the event is deleted: participants with their device tokens and Web Push
subscriptions, check-ins, route acknowledgements and safety-rule state; invites; incidents with
their history and SOS recipients; arrest records; alerts; and the browser sessions that name the
event.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import import_module

import orjson
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from fieldops import audiences, crypto
from fieldops.models import (
    Alert,
    ArrestRecord,
    Event,
    EventKey,
    EventTally,
    Incident,
    JournalEntry,
)
from marshals.models import CheckIn, Invite, Participant, PushSubscription
from marshals.sessions import SESSION_KEY

from .locks import event_lock

log = logging.getLogger(__name__)

CELL_DECIMALS = 2  # a cell of 0.01°: about a kilometre
_BATCH = 500


@dataclass
class Purged:
    """What one event's purge did, in counts."""

    event: str
    deleted: dict[str, int] = field(default_factory=dict)
    journal_reduced: int = 0
    tallies: int = 0
    keys_destroyed: int = 0


def retention_due(*, now: datetime) -> list[Event]:
    """The events whose retention has passed (ends_at + retention_hours <= now)."""
    events = Event.objects.only("pk", "slug", "ends_at", "retention_hours", "purged_at")
    return [e for e in events if e.ends_at + timedelta(hours=e.retention_hours) <= now]


def retention_purge_due(*, now: datetime | None = None) -> tuple[list[Purged], int, str]:
    """Purge every event whose retention has passed (again: data that arrived after an earlier
    purge goes too), re-wrap the remaining data keys with the first master key, then let the
    database drop what it still holds of the destroyed keys. Returns (purges, keys re-wrapped, what
    the storage step did)."""
    now = now or timezone.now()
    _secure_delete()
    purged = [
        event_purge(event=event, now=now)
        for event in retention_due(now=now)
        if event.purged_at is None or _arrived_since_purge(event)
    ]
    with transaction.atomic():
        rewrapped = crypto.event_keys_rewrap()
    return purged, rewrapped, storage_scrub()


def event_purge(*, event: Event, now: datetime | None = None) -> Purged:
    """Erase one event's personal data and destroy its data key, in one transaction."""
    now = now or timezone.now()
    result = Purged(event=event.slug)
    with event_lock(event.pk), transaction.atomic():
        tallies = _tallies(event)
        EventTally.objects.bulk_create(tallies, batch_size=_BATCH)
        result.tallies = len(tallies)
        result.journal_reduced = _journal_reduce(event, everything=event.purged_at is None)
        for label, query in (
            ("alerts", Alert.objects.filter(event=event)),
            ("arrests", ArrestRecord.objects.filter(event=event)),
            ("incidents", Incident.objects.filter(event=event)),
            ("checkins", CheckIn.objects.filter(event=event)),
            ("push_subscriptions", PushSubscription.objects.filter(event=event)),
            ("participants", Participant.objects.filter(event=event)),
            ("invites", Invite.objects.filter(event=event)),
        ):
            _, per_model = query.delete()
            for model, count in per_model.items():
                key = label if model == query.model._meta.label else model.split(".")[-1].lower()
                result.deleted[key] = result.deleted.get(key, 0) + count
        result.deleted["sessions"] = _sessions_forget(event.slug)
        result.keys_destroyed = crypto.event_keys_destroy(event_id=event.pk)
        Event.objects.filter(pk=event.pk).update(purged_at=now)
    return result


def _arrived_since_purge(event: Event) -> bool:
    # Every sealed value needs the event's data key, and people need a participant or an invite.
    return (
        EventKey.objects.filter(event=event).exists()
        or Participant.objects.filter(event=event).exists()
        or Invite.objects.filter(event=event).exists()
    )


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _coordinate(stored: str | None) -> float | None:
    if stored in (None, ""):
        return None
    try:  # a value sealed with a key already destroyed no longer has a position
        return round(float(crypto.unseal(stored)), CELL_DECIMALS)
    except ValueError:
        return None


def _positioned(query, *fields: str):
    """Rows of `fields` plus the stored (not decrypted) latitude and longitude."""
    raw = {"raw_lat": Cast("lat", TextField()), "raw_lng": Cast("lng", TextField())}
    return query.annotate(**raw).values_list(*fields, "raw_lat", "raw_lng")


def _tallies(event: Event) -> list[EventTally]:
    counts: Counter = Counter()
    checkins = CheckIn.objects.filter(event=event)
    for at, status, lat, lng in _positioned(checkins, "server_time", "status"):
        counts[_hour(at), f"checkin.{status}", _coordinate(lat), _coordinate(lng)] += 1
    for at, kind, lat, lng in _positioned(
        Incident.objects.filter(event=event), "created_at", "kind"
    ):
        name = "sos" if kind == Incident.Kind.SOS else f"incident.{kind}"
        counts[_hour(at), name, _coordinate(lat), _coordinate(lng)] += 1
    arrests = ArrestRecord.objects.filter(event=event)
    for at, people, lat, lng in _positioned(arrests, "occurred_at", "people_count"):
        cell = (_coordinate(lat), _coordinate(lng))
        counts[(_hour(at), "arrest", *cell)] += 1
        counts[(_hour(at), "arrest.people", *cell)] += people
    for at, level in Alert.objects.filter(event=event).values_list("created_at", "level"):
        counts[_hour(at), f"alert.{level}", None, None] += 1
    for at, role in Participant.objects.filter(event=event).values_list("created_at", "role"):
        counts[_hour(at), f"participant.{role}", None, None] += 1
    return [
        EventTally(event=event, hour=hour, kind=kind, cell_lat=lat, cell_lng=lng, count=count)
        for (hour, kind, lat, lng), count in sorted(counts.items(), key=str)
    ]


def _journal_reduce(event: Event, *, everything: bool) -> int:
    """Reduce the event's journal entries (after a first purge, only those written since, which
    are sealed) to kind, seq and time."""
    entries = JournalEntry.objects.filter(event=event)
    if not everything:
        entries = entries.filter(crypto.sealed_filter("frame"))
    rows = list(entries.order_by("seq").values_list("pk", "seq", "kind", "at"))
    audience = audiences.audience_text([])
    for start in range(0, len(rows), _BATCH):
        reduced = [
            JournalEntry(
                pk=pk,
                frame=crypto.Stored(
                    orjson.dumps({"type": kind, "seq": seq, "at": at.isoformat()}).decode()
                ),
                audience=audience,
                actor=None,
                client_id=None,
            )
            for pk, seq, kind, at in rows[start : start + _BATCH]
        ]
        JournalEntry.objects.bulk_update(reduced, ["frame", "audience", "actor", "client_id"])
    return len(rows)


def _sessions_forget(event_slug: str) -> int:
    """Delete expired sessions, and every session that names this event's participants."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    store.clear_expired()
    if not hasattr(store, "get_model_class"):  # cache or cookie sessions cannot be listed
        return 0
    model = store.get_model_class()
    doomed = [
        session.pk
        for session in model.objects.all()
        if event_slug in session.get_decoded().get(SESSION_KEY, {})
    ]
    return model.objects.filter(pk__in=doomed).delete()[0]


def _secure_delete() -> None:
    """SQLite: overwrite what this connection deletes with zeros (PostgreSQL has no such switch:
    there the destroyed data keys are what makes old copies useless)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")


def storage_scrub() -> str:
    """After the purge: have the database drop the old copies it still holds where it can.

    SQLite: a checkpoint that empties the WAL, so deleted rows (zeroed in the main file by
    secure_delete) leave no copy in it. PostgreSQL: rewrite the small key table, so the destroyed
    keys' rows leave the table's data files; its WAL and any backup keep them, wrapped by the master
    key, until that key is retired (docs/deployment.md).
    """
    if connection.in_atomic_block:  # neither can run inside a transaction
        return "not done (inside a transaction)"
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy = cursor.fetchone()[0]
                return (
                    "SQLite WAL still in use: emptied at the next purge" if busy else "WAL emptied"
                )
            if connection.vendor == "postgresql":
                cursor.execute(f"VACUUM FULL {EventKey._meta.db_table}")
                return "key table rewritten"
    except DatabaseError as exc:
        log.warning("after the purge, the database kept old copies (%s)", type(exc).__name__)
        return f"not done ({type(exc).__name__})"
    return "nothing to do"


# --- What the database holds ---------------------------------------------------------------------


@dataclass
class Holding:
    """How many records of one kind of personal data an event has, and from when; never what."""

    kind: str
    count: int
    oldest: datetime | None
    newest: datetime | None


def personal_data_inventory(*, event: Event) -> list[Holding]:
    """Every kind of personal data the database holds for the event, with its count and age. After
    the event's purge every count is zero."""
    from django.db.models import Count, Max, Min, Q

    from fieldops.models import (
        Alarm,
        IncidentChange,
        OffRoute,
        OverdueLapse,
        Presence,
        RouteAckReminder,
        SosRecipient,
        ZonePresence,
    )
    from marshals.models import DeviceToken, RouteAck

    sos = Q(kind=Incident.Kind.SOS)
    with_content = crypto.sealed_filter("frame") | Q(frame__contains=crypto.Stored('"data"'))
    kinds = [
        ("check-ins (position, note)", CheckIn.objects.filter(event=event), "server_time"),
        ("incidents (position, description)", Incident.objects.filter(event=event).exclude(sos),
         "created_at"),
        ("SOS (position, note)", Incident.objects.filter(sos, event=event), "created_at"),
        ("incident changes (note)", IncidentChange.objects.filter(incident__event=event), "at"),
        ("SOS recipients (distance, bearing)",
         SosRecipient.objects.filter(incident__event=event), "at"),
        ("arrest records", ArrestRecord.objects.filter(event=event), "occurred_at"),
        ("alerts (text)", Alert.objects.filter(event=event), "created_at"),
        ("journal entries with content",
         JournalEntry.objects.filter(with_content, event=event), "at"),
        ("participants (callsign, role, group)", Participant.objects.filter(event=event),
         "created_at"),
        ("device tokens", DeviceToken.objects.filter(participant__event=event), "created_at"),
        ("Web Push subscriptions (endpoint, keys)", PushSubscription.objects.filter(event=event),
         "created_at"),
        ("invites", Invite.objects.filter(event=event), "created_at"),
        ("route acknowledgements", RouteAck.objects.filter(participant__event=event), "at"),
        ("route-ack reminders", RouteAckReminder.objects.filter(participant__event=event), "at"),
        ("overdue lapses", OverdueLapse.objects.filter(event=event), "raised_at"),
        ("off-route states", OffRoute.objects.filter(event=event), "since"),
        ("danger-zone presences", ZonePresence.objects.filter(participant__event=event), "since"),
        ("alarms (position, who is on it)", Alarm.objects.filter(event=event), "opened_at"),
        ("phones' presence (last heard)", Presence.objects.filter(participant__event=event),
         "written_at"),
        ("data key (opens sealed copies)", EventKey.objects.filter(event=event), "created_at"),
    ]  # fmt: skip
    found = []
    for kind, query, moment in kinds:
        seen = query.aggregate(count=Count("pk"), oldest=Min(moment), newest=Max(moment))
        found.append(Holding(kind, seen["count"], seen["oldest"], seen["newest"]))
    found.append(_sessions_held(event.slug))
    return found


def _sessions_held(event_slug: str) -> Holding:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    expiries = []
    if hasattr(store, "get_model_class"):
        model = store.get_model_class()
        expiries = [
            session.expire_date
            for session in model.objects.all()
            if event_slug in session.get_decoded().get(SESSION_KEY, {})
        ]
    return Holding(
        "browser sessions (by expiry)",
        len(expiries),
        min(expiries, default=None),
        max(expiries, default=None),
    )
