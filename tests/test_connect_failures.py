"""A socket whose connect fails midway leaves nothing behind in the worker: a database that does not
answer closes it with 1013 (try again later) and one warning line, and a fault of the server's own
is logged; either way the hub, the open-sockets gauge and the presence book let go of it, and the
phone connects once the fault has passed."""

import logging

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import OperationalError

from fieldops.asgi import application
from realtime import consumer as consumer_module
from realtime import frames
from realtime.hub import hub_for
from realtime.metrics import OPEN_SOCKETS
from realtime.presence import BOOK

from .conftest import connect_with
from .factories import issue_token

pytestmark = pytest.mark.django_db(transaction=True)

# Each database trip of a connect, by the name the consumer calls it by.
TRIPS = {
    "credential": "scope_participant",
    "latest seq": "latest_seq",
    "resume": "resume_read",  # a connect with ?since=
}


def client_for(participant, token, *, since=None) -> WebsocketCommunicator:
    query = "" if since is None else f"?since={since}"
    return WebsocketCommunicator(
        application,
        f"/ws/events/{participant.event.slug}/{query}",
        headers=[(b"authorization", f"Bearer {token}".encode())],
    )


def nothing_held(participant, gauge_before) -> None:
    feed = hub_for(get_channel_layer()).feeds.get(participant.event_id)
    assert feed is None or feed.sockets == 0, "the hub still holds the socket"
    assert OPEN_SOCKETS.labels(participant.role)._value.get() == gauge_before
    heard = BOOK.people.get(participant.pk)
    assert heard is None or heard.sockets == 0, "presence still counts the phone as connected"


def fail(monkeypatch, trip: str, raised: Exception) -> None:
    def failing(*args, **kwargs):
        raise raised

    if trip == "resume":
        monkeypatch.setattr(consumer_module.EventConsumer, "resume_read", failing)
    else:
        monkeypatch.setattr(consumer_module, TRIPS[trip], failing)


@pytest.mark.parametrize("trip", list(TRIPS))
async def test_a_database_that_does_not_answer_at_connect_closes_the_socket_as_try_again(
    cast, monkeypatch, caplog, trip
):
    marshal = cast.marshal_a
    token = await database_sync_to_async(issue_token)(marshal)
    before = OPEN_SOCKETS.labels(marshal.role)._value.get()
    with monkeypatch.context() as patch:
        fail(patch, trip, OperationalError("could not connect to server"))
        client = client_for(marshal, token, since=0 if trip == "resume" else None)
        assert (await client.connect())[0]
        closed = await client.receive_output(timeout=3)
        assert closed == {"type": "websocket.close", "code": frames.CLOSE_UNAVAILABLE}
        await client.send_input({"type": "websocket.disconnect", "code": closed["code"]})
        await client.wait(timeout=3)

    nothing_held(marshal, before)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == ["a socket could not open: database unavailable"]
    assert not warnings[0].exc_info
    again, _ = await connect_with(marshal, token)  # the database is back: it connects
    await again.disconnect()


async def test_a_fault_of_the_servers_own_at_connect_is_logged_and_leaves_nothing_behind(
    cast, monkeypatch
):
    marshal = cast.marshal_a
    token = await database_sync_to_async(issue_token)(marshal)
    before = OPEN_SOCKETS.labels(marshal.role)._value.get()

    def broken(**kwargs):
        raise RuntimeError("a bug")

    with monkeypatch.context() as patch:
        patch.setattr(frames, "hello", broken)
        client = client_for(marshal, token)
        assert (await client.connect())[0]
        with pytest.raises(RuntimeError):  # the server logs it, as every fault of its own
            await client.wait(timeout=3)

    nothing_held(marshal, before)
    again, _ = await connect_with(marshal, token)
    await again.disconnect()
