"""Writing to the journal: gapless per-event sequence numbers, serialized once, published on commit."""

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

import orjson
from django.db import connection, transaction
from django.utils import timezone

from fieldops import audiences
from fieldops.crypto import data_key_held, frame_text, seal
from fieldops.models import JournalEntry
from realtime import fanout, metrics

from .kinds import PUSHED, Payload, kind_get, kind_payload
from .locks import event_lock
from .rows import ids_ahead, row_insert, row_prepared, row_values, rows_run

# Set when an entry of a kind that is also sent by Web Push commits in this process: the push loop
# (fieldops/watch.py) wakes at once instead of at its next look (fieldops/services/push.py).
push_wake = threading.Event()


@dataclass(frozen=True)
class Written:
    """One journal entry an action wrote: its seq and text for the ack and the REST reply, and its
    data as its kind's model, where the caller finds the ids of what was created."""

    id: int | None  # None for an entry of a batch: its row is written at the batch's end
    event_id: int
    seq: int
    kind: str
    at: datetime
    audience_tags: list[str]
    frame: str
    data: Payload | None  # a resent entry's, if it no longer fits its model: None


@dataclass
class JournalWriter:
    event_id: int
    entries: list[Written] = field(default_factory=list)
    # The event's map stamp as of this transaction (see safety/eventmap.py), read with the seq.
    map_stamp: int | None = None
    # A batch's writer takes its first seq from the database and counts the rest itself; the
    # event's last_seq is written once, before the commit (journal_batch).
    batched: bool = False
    last_seq: int | None = None
    # What a batch read ahead for its actions ((what, key): value); each action takes its own.
    prepared: dict = field(default_factory=dict)
    # A batch's rows not yet written, prepared ((sql, params)): they go, a statement per table,
    # before the commit (flush), and the primary keys taken ahead for its rows, per model.
    pending: list[tuple[str, list]] = field(default_factory=list)
    ids: dict[type, list[int]] = field(default_factory=dict)

    def append(
        self,
        *,
        kind: str,
        audience: list[str],
        data: Payload | dict,
        actor=None,
        client_id: uuid.UUID | None = None,
    ) -> Written:
        """Add one entry inside the current transaction and return it (its seq is final).

        The kind must be registered, `data` must fit its payload model and every audience tag be
        one the kind may reach: anything else is a bug, raised before a seq is taken.
        """
        wrong = [tag for tag in audience if not kind_get(kind=kind).allows(tag)]
        if wrong:
            raise ValueError(f"{kind} may not reach {', '.join(wrong)}")
        payload = kind_payload(kind=kind, data=data)
        seq = self._next_seq()
        at = timezone.now()
        frame = orjson.dumps(
            {
                "type": kind,
                "seq": seq,
                "at": at.isoformat(),
                "data": payload.model_dump(mode="json"),
            }
        ).decode()
        stored = audiences.audience_text(audience)
        values = {
            "event_id": self.event_id,
            "seq": seq,
            "kind": kind,
            "audience": stored,
            "frame": seal(frame, event_id=self.event_id),
            "actor_id": None if actor is None else actor.pk,
            "client_id": client_id,
            "at": at,
        }
        if self.batched:
            # No model instance: a batch's entries are only ever read back by SQL.
            self.pending.append(row_values(JournalEntry, values))
            pk = None
        else:
            pk = row_insert(JournalEntry(**values)).pk
        written = Written(
            id=pk,
            event_id=self.event_id,
            seq=seq,
            kind=kind,
            at=at,
            audience_tags=stored.split(),
            frame=frame,
            data=payload,
        )
        self.entries.append(written)
        return written

    def _next_seq(self) -> int:
        if self.batched and self.last_seq is not None:
            self.last_seq += 1  # the event's write lock is held: no one else numbers its entries
            return self.last_seq
        self.last_seq, self.map_stamp = _next_seq(self.event_id)
        return self.last_seq

    def insert(self, instance, *, params: list | None = None):
        """Insert a new row in this transaction and return it with its primary key: at once, or
        in a batch with a key taken ahead (`ids_reserve`), later with the batch's others. A
        batch's row may come with its parameters made ready before the lock (`rows.row_ready`)."""
        ids = self.ids.get(type(instance))
        if not self.batched or not ids:
            return row_insert(instance, params=params)
        instance, sql, params = row_prepared(instance, pk=ids.pop(), params=params)
        self.pending.append((sql, params))
        return instance

    def ids_reserve(self, model, count: int) -> None:
        """Take `count` primary keys of `model` ahead, in one statement, for `insert`: the rows
        then go in one statement per table (`rows.ids_ahead` says where that is possible)."""
        self.ids.setdefault(model, []).extend(reversed(ids_ahead(model, count)))

    def flush(self) -> None:
        """Write the batch's pending rows (before its commit, and before the journal is read)."""
        rows_run(self.pending)
        self.pending.clear()

    def _seq_store(self) -> None:
        if self.batched and self.last_seq is not None:
            with connection.cursor() as cursor:
                cursor.execute(_SEQ_STORE, [self.last_seq, self.event_id])


def written_from_entry(entry: JournalEntry) -> Written:
    """A stored entry as `append` returned it (an idempotent resend answers with it)."""
    return Written(
        id=entry.pk,
        event_id=entry.event_id,
        seq=entry.seq,
        kind=entry.kind,
        at=entry.at,
        audience_tags=entry.audience_tags,
        frame=entry.frame,
        data=_stored_payload(entry),
    )


def _stored_payload(entry: JournalEntry) -> Payload | None:
    # A resend is answered by its seq and text alone: data that an older version wrote, or that
    # retention took away, must not turn a committed action's answer into an error.
    data = orjson.loads(entry.frame).get("data")
    try:
        return None if data is None else kind_payload(kind=entry.kind, data=data)
    except (LookupError, TypeError, ValueError):
        return None


def _next_seq(event_id: int) -> tuple[int, int]:
    """Take the event's next seq, and read its map stamp, in one statement (SQLite 3.35+ and
    PostgreSQL both have RETURNING): it runs under the event's write lock, once per entry."""
    with connection.cursor() as cursor:
        cursor.execute(_NEXT_SEQ, [event_id])
        return cursor.fetchone()


_NEXT_SEQ = (
    "UPDATE fieldops_event SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq, map_stamp"
)
_SEQ_STORE = "UPDATE fieldops_event SET last_seq = %s WHERE id = %s"

# The batch being written in this thread, if any (journal_batch): its writes join it.
_batch = threading.local()


@contextmanager
def journal_writer(*, event_id: int) -> Iterator[JournalWriter]:
    """Run writes and their journal entries in one transaction; publish the entries on commit.

    The event lock is held until the publish is done, so entries leave in sequence order. Inside
    a `journal_batch` of the same event, the writes join the batch's transaction instead.
    """
    joined = getattr(_batch, "writer", None)
    if joined is not None and joined.event_id == event_id:
        yield joined
        return
    with event_lock(event_id), transaction.atomic():
        writer = JournalWriter(event_id=event_id)
        yield writer
        transaction.on_commit(partial(_publish, writer.entries))


@contextmanager
def journal_batch(*, event_id: int) -> Iterator[JournalWriter]:
    """Run several actions of one event as one transaction: one lock, one commit, one publish.

    Every `journal_writer` of the event inside it joins it, with no savepoint: if any action
    raises, all of them roll back, and the caller carries each out alone (fieldops/actions.py).
    Only for actions that change no route or place: the map stamp is read once, with the first seq.
    """
    with event_lock(event_id), transaction.atomic():
        writer = _batch.writer = JournalWriter(event_id=event_id, batched=True)
        try:
            with data_key_held(event_id=event_id):
                yield writer
        finally:
            _batch.writer = None
        if connection.needs_rollback:
            # An error was caught inside an atomic block: Django would roll back on leaving and
            # report nothing. Raise instead, so that each action is carried out alone.
            raise transaction.TransactionManagementError("a write in the batch failed")
        writer.flush()
        writer._seq_store()
        transaction.on_commit(partial(_publish, writer.entries))


def _publish(entries: list[Written]) -> None:
    fanout.publish_entries(
        [(entry.event_id, entry.seq, entry.audience_tags, entry.frame) for entry in entries]
    )
    for entry in entries:
        metrics.JOURNAL_ENTRIES.labels(entry.kind).inc()
    if any(entry.kind in PUSHED for entry in entries):
        push_wake.set()


_CLIENT_ID = JournalEntry._meta.get_field("client_id")


def journal_find_action(*, actor, client_id: uuid.UUID) -> Written | None:
    """The entry an earlier frame with this id created, if any (idempotent resend)."""
    # Asked before every action, and almost always answered "none": that answer is one SQL
    # statement; only a resend loads the entry through the ORM.
    batch = getattr(_batch, "writer", None)
    if batch is not None:
        batch.flush()  # an earlier action of the batch may be the one resent
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM fieldops_journalentry WHERE actor_id = %s AND client_id = %s"
            " ORDER BY seq LIMIT 1",
            [actor.pk, _CLIENT_ID.get_db_prep_value(client_id, connection)],
        )
        row = cursor.fetchone()
    return written_from_entry(JournalEntry.objects.get(pk=row[0])) if row else None


def journal_actions_done(*, actions: list[tuple[int, uuid.UUID]]) -> set[tuple[int, uuid.UUID]]:
    """Which of these (actor id, client id) pairs an earlier frame already carried out: a batch
    asks for all its actions in one statement, and looks up only the resends."""
    if not actions:
        return set()
    actors = sorted({actor for actor, _ in actions})
    ids = [_CLIENT_ID.get_db_prep_value(client_id, connection) for _, client_id in actions]
    sql = (
        "SELECT actor_id, client_id FROM fieldops_journalentry"  # noqa: S608 - placeholders only
        f" WHERE actor_id IN ({', '.join(['%s'] * len(actors))})"
        f" AND client_id IN ({', '.join(['%s'] * len(ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*actors, *ids])
        found = {(actor, _CLIENT_ID.to_python(client_id)) for actor, client_id in cursor.fetchall()}
    return found & set(actions)


def journal_since(*, event_id: int, since: int, upto: int | None, tags: list[str], limit: int):
    """(seq, frame) of the entries after `since` (up to `upto`) visible to any of `tags`, oldest
    first.

    Written as SQL: every reconnecting socket runs it, and in a reconnect storm building it through
    the ORM cost several times what running it did (docs/performance.md). Only placeholders are put
    into the text; every value is a parameter.
    """
    if not tags:
        return []
    visible = " OR ".join(["audience LIKE %s ESCAPE '\\'"] * len(tags))
    bounded = " AND seq <= %s" if upto is not None else ""
    sql = (
        "SELECT seq, frame FROM fieldops_journalentry"  # noqa: S608 - placeholders only
        f" WHERE event_id = %s AND seq > %s{bounded} AND ({visible}) ORDER BY seq LIMIT %s"
    )
    params = [event_id, since, *([upto] if upto is not None else [])]
    params += [audience_pattern(tag) for tag in tags] + [limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(seq, frame_text(frame)) for seq, frame in cursor.fetchall()]


def audience_pattern(tag: str) -> str:
    """The LIKE pattern (with ESCAPE '\\') matching a stored audience that holds `tag`."""
    escaped = tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"% {escaped} %"
