"""Presence: each worker knows whose phones have a socket open on it and when each was last heard
(any frame), writes it in one batch now and then, never per frame; the overdue entry tells a phone
that is connected but silent from a phone that is gone."""

import uuid
from datetime import timedelta

import orjson
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from fieldops.models import JournalEntry, Presence
from fieldops.services.presence import presence_flush, presence_of
from fieldops.services.safety.overdue import overdue_sweep
from realtime.presence import BOOK, WORKER

from .conftest import connect_as


@pytest.fixture(autouse=True)
def empty_book():
    BOOK.people.clear()
    yield
    BOOK.people.clear()


def flush(now=None):
    return presence_flush(worker=WORKER, rows=BOOK.take(), now=now)


@pytest.mark.django_db(transaction=True)
async def test_any_frame_is_heard_and_nothing_is_written_until_the_batch(cast):
    client, _ = await connect_as(cast.marshal_a)
    opened = BOOK.people[cast.marshal_a.pk].last_heard
    for _ in range(5):
        await client.send_json_to({"type": "ping", "id": str(uuid.uuid4())})
        assert (await client.receive_json_from())["type"] == "pong"
    assert BOOK.people[cast.marshal_a.pk].sockets == 1
    assert BOOK.people[cast.marshal_a.pk].last_heard >= opened
    assert await database_sync_to_async(Presence.objects.count)() == 0
    await database_sync_to_async(flush)()
    assert await database_sync_to_async(Presence.objects.count)() == 1
    await client.disconnect()
    assert BOOK.people[cast.marshal_a.pk].sockets == 0


@pytest.mark.django_db(transaction=True)
async def test_marchers_are_not_kept(cast):
    client, _ = await connect_as(cast.marcher)
    assert cast.marcher.pk not in BOOK.people
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_flushed_phone_reads_as_connected_then_gone_with_its_last_heard_kept(cast):
    client, _ = await connect_as(cast.marshal_a)
    await database_sync_to_async(flush)()
    seen = await database_sync_to_async(presence_of)(participant_ids=[cast.marshal_a.pk])
    assert seen[cast.marshal_a.pk]["connected"] is True
    heard = seen[cast.marshal_a.pk]["last_heard"]
    await client.disconnect()
    await database_sync_to_async(flush)()
    seen = await database_sync_to_async(presence_of)(participant_ids=[cast.marshal_a.pk])
    assert seen[cast.marshal_a.pk]["connected"] is False
    assert seen[cast.marshal_a.pk]["last_heard"] >= heard
    assert cast.marshal_a.pk not in BOOK.people  # reported once, then forgotten


def test_a_worker_that_stops_writing_counts_as_gone(cast, settings):
    BOOK.opened(cast.marshal_a.pk)
    now = timezone.now()
    flush(now=now)
    stale = now + timedelta(seconds=settings.FIELDOPS["PRESENCE_FLUSH_SECONDS"] * 4)
    seen = presence_of(participant_ids=[cast.marshal_a.pk], now=stale)[cast.marshal_a.pk]
    assert seen["connected"] is False and seen["last_heard"] is not None
    # Two workers: a fresh row on one is enough.
    presence_flush(worker="other", rows=[(cast.marshal_a.pk, 1, stale.timestamp())], now=stale)
    seen = presence_of(participant_ids=[cast.marshal_a.pk], now=stale)[cast.marshal_a.pk]
    assert seen["connected"] is True
    assert Presence.objects.filter(participant=cast.marshal_a).count() == 2


def test_the_overdue_entry_tells_a_silent_connected_phone_from_a_gone_one(cast):
    cast.event.checkin_interval_minutes = 1
    cast.event.save()
    BOOK.opened(cast.marshal_a.pk)  # marshal A's page is open and pinging; B's phone never was
    later = timezone.now() + timedelta(minutes=5)
    flush(now=later)
    overdue_sweep(now=later, event_id=cast.event.pk)
    phones = {
        d["callsign"]: d["phone"]
        for d in (
            orjson.loads(e.frame)["data"]
            for e in JournalEntry.objects.filter(event=cast.event, kind="marshal.overdue")
        )
    }
    assert phones["m-a"]["connected"] is True and phones["m-a"]["last_heard"] is not None
    assert phones["m-b"] == {"connected": False, "last_heard": None}


def test_organizers_read_presence_and_nobody_else(cast, tokens):
    BOOK.opened(cast.marshal_b.pk)
    flush()
    from .conftest import api_client

    url = f"/api/events/{cast.event.slug}/presence"
    rows = {r["participant"]: r for r in api_client(tokens["organizer"]).get(url).json()}
    assert rows[cast.marshal_b.pk]["connected"] is True
    assert rows[cast.marshal_a.pk] == {
        "participant": cast.marshal_a.pk,
        "connected": False,
        "last_heard": None,
    }
    for name in ("marshal_a", "legal", "medic", "marcher"):
        assert api_client(tokens[name]).get(url).status_code == 403, name


@pytest.mark.django_db(transaction=True)
async def test_a_phone_gone_while_the_database_was_down_is_written_as_gone_once_it_is_back(
    cast, monkeypatch, caplog
):
    """A flush that fails gives its rows back to the book: a phone that went during the outage
    was forgotten with them, and read as connected for as long as the worker lived."""
    from django.db import OperationalError

    from fieldops import watch

    client, _ = await connect_as(cast.marshal_a)
    await watch.presence_write()
    await client.disconnect()
    with monkeypatch.context() as patch:

        def down(**kwargs):
            raise OperationalError("could not connect to server")

        patch.setattr(watch, "presence_flush", down)
        await watch.presence_write()
    await watch.presence_write()

    seen = await database_sync_to_async(presence_of)(participant_ids=[cast.marshal_a.pk])
    assert seen[cast.marshal_a.pk]["connected"] is False
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "presence flush failed: database unavailable; retrying in 10 s"
    ]
    assert not [r for r in caplog.records if r.exc_info]
