"""A phone that goes in the middle of an exchange (before its ack, during its hello or replay, at a
live entry or a close) leaves nothing behind in the worker: no traceback, no socket still held by
the hub or counted against its credential, and the phone connects again at once.

uvicorn's ASGI `send` raises ClientDisconnected (an OSError) once the connection is lost; the
`websocket.disconnect` follows through `receive`. The first tests stand in for the server with a
send that raises once the phone is gone, then the disconnect; the last runs a real server."""

import asyncio
import json
import logging
import socket
import struct
import uuid

import pytest
import websockets
from channels.db import database_sync_to_async
from uvicorn.protocols.utils import ClientDisconnected

from fieldops.asgi import application
from fieldops.kit.client import Client, options

from .conftest import communicator_for, connect_with, nothing_held, open_sockets
from .factories import issue_token
from .servers import fault_stack

db = pytest.mark.django_db(transaction=True)


def phone(participant, token, gone, *, since=None):
    """A client whose connection is lost once `gone(message)` is true of what the app sends."""
    lost = False

    async def app(scope, receive, send):
        async def send_or_lose(message):
            nonlocal lost
            lost = gone(message) or lost  # `gone` sees every send, also those after the loss
            if lost:
                raise ClientDisconnected()
            await send(message)

        await application(scope, receive, send_or_lose)

    return communicator_for(participant, token=token, since=since, app=app)


def sent_text(message) -> dict:
    text = message.get("text")
    return json.loads(text) if text else {}


async def reconnects_at_once(participant, token):
    again, _ = await connect_with(participant, token)
    await again.disconnect()


@db
async def test_a_phone_gone_before_its_ack_leaves_nothing_behind(cast, settings, caplog):
    settings.FIELDOPS = {**settings.FIELDOPS, "MAX_SOCKETS_PER_CREDENTIAL": 1}
    marshal = cast.marshal_a
    token = await database_sync_to_async(issue_token)(marshal)
    before = open_sockets(marshal.role)
    client = phone(marshal, token, lambda message: sent_text(message).get("type") == "ack")
    assert (await client.connect())[0]
    assert (await client.receive_json_from())["type"] == "hello"
    frame = {"type": "checkin", "id": str(uuid.uuid4()), "data": {"lat": 40.4193, "lng": -3.6932}}
    await client.send_to(text_data=json.dumps(frame))
    await client.send_input({"type": "websocket.disconnect", "code": 1006})
    await client.wait(timeout=3)  # the app ends as it should, without raising

    count = await database_sync_to_async(marshal.checkins.count)()
    assert count == 1, "the check-in was recorded before the phone went"
    nothing_held(marshal, before)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    await reconnects_at_once(marshal, token)  # not refused as one socket too many (4429)


@pytest.mark.parametrize("where", ["hello", "replay"])
@db
async def test_a_phone_gone_while_it_connects_leaves_nothing_behind(cast, settings, caplog, where):
    from fieldops.services.alerts import alert_send

    settings.FIELDOPS = {**settings.FIELDOPS, "MAX_SOCKETS_PER_CREDENTIAL": 1}
    for n in range(3):
        await database_sync_to_async(alert_send)(participant=cast.organizer, text=f"alert {n}")
    marshal = cast.marshal_a
    token = await database_sync_to_async(issue_token)(marshal)
    before = open_sockets(marshal.role)
    sends = []

    def gone(message):
        sends.append(sent_text(message).get("type"))
        # "hello": at the hello; "replay": at the second entry the replay sends.
        return sends[-1] == "hello" if where == "hello" else sends.count("alert.sent") == 2

    client = phone(marshal, token, gone, since=0)
    assert (await client.connect())[0]
    await client.send_input({"type": "websocket.disconnect", "code": 1006})
    await client.wait(timeout=3)

    assert "replay.done" not in sends, "the replay stops when the phone is gone"
    nothing_held(marshal, before)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    await reconnects_at_once(marshal, token)


@pytest.mark.parametrize("where", ["live entry", "close as revoked"])
@db
async def test_a_phone_gone_while_its_socket_is_open_leaves_nothing_behind(
    cast, settings, caplog, where
):
    from fieldops.services.alerts import alert_send
    from marshals.services import token_revoke

    settings.FIELDOPS = {**settings.FIELDOPS, "MAX_SOCKETS_PER_CREDENTIAL": 1}
    marshal = cast.marshal_a
    token = await database_sync_to_async(issue_token)(marshal)
    before = open_sockets(marshal.role)
    lost_at = "alert.sent" if where == "live entry" else None

    def gone(message):
        if lost_at is None:
            return message["type"] == "websocket.close"
        return sent_text(message).get("type") == lost_at

    client = phone(marshal, token, gone)
    assert (await client.connect())[0]
    assert (await client.receive_json_from())["type"] == "hello"
    if where == "live entry":
        await database_sync_to_async(alert_send)(participant=cast.organizer, text="one")
    else:
        device = await database_sync_to_async(lambda: marshal.tokens.last().pk)()
        await database_sync_to_async(token_revoke)(participant=cast.organizer, device=device)
    assert await client.receive_nothing(timeout=0.5)  # what the hub sent it went nowhere
    await client.send_input({"type": "websocket.disconnect", "code": 1006})
    await client.wait(timeout=3)

    nothing_held(marshal, before)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    if where == "live entry":
        await reconnects_at_once(marshal, token)


async def check_in_and_drop(url: str, token: str) -> None:
    """A phone that sends a check-in and loses its connection at once (a reset, as a phone that
    leaves the cell does), before its ack can reach it."""
    ws = await websockets.connect(url, **options(token))
    assert json.loads(await ws.recv())["type"] == "hello"
    frame = {"type": "checkin", "id": str(uuid.uuid4()), "data": {"lat": 40.4193, "lng": -3.6932}}
    await ws.send(json.dumps(frame))
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.transport.abort()


@pytest.mark.multiworker
def test_a_phone_that_drops_after_each_check_in_is_never_refused_by_a_real_server():
    env = {"FIELDOPS_MAX_SOCKETS_PER_CREDENTIAL": "2"}
    servers = ("uvicorn", "daphne")
    with fault_stack(servers=servers, postgres=False, env_extra=env) as stack:
        token = stack.join("marshal", "drops")["token"]

        async def scenario(worker: int):
            for _ in range(4):  # twice the sockets the credential may hold
                await check_in_and_drop(stack.ws_url(worker), token)
                await asyncio.sleep(0.3)  # the worker acks into the lost connection
            client = await Client.open(stack.ws_url(worker), token=token)  # not refused: 4429
            await client.close()

        for worker, server in enumerate(servers):
            asyncio.run(asyncio.wait_for(scenario(worker), 60))
            logs = stack.workers[worker].logs()
            assert "Traceback" not in logs, f"{server}: {logs[-3000:]}"
