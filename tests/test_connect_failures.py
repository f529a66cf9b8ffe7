"""A socket whose connect fails midway leaves nothing behind in the worker: a database that does not
answer closes it with 4503 (try again later) and one warning line, and a fault of the server's own
is logged; either way the hub, the open-sockets gauge and the presence book let go of it, and the
phone connects once the fault has passed. The last test restarts a real PostgreSQL under a real
worker."""

import asyncio
import logging
import shlex
import subprocess

import pytest
import websockets
from channels.db import database_sync_to_async
from django.db import OperationalError

from fieldops.kit.client import Client, options
from fieldops.kit.processes import _pg_account, pg_bindir
from realtime import consumer as consumer_module
from realtime import frames

from .conftest import communicator_for, connect_with, nothing_held, open_sockets
from .factories import issue_token
from .servers import fault_stack

db = pytest.mark.django_db(transaction=True)

# Each database trip of a connect, by the name the consumer calls it by.
TRIPS = {
    "credential": "scope_participant",
    "latest seq": "latest_seq",
    "resume": "resume_read",  # a connect with ?since=
}


def fail(monkeypatch, trip: str, raised: Exception) -> None:
    def failing(*args, **kwargs):
        raise raised

    if trip == "resume":
        monkeypatch.setattr(consumer_module.EventConsumer, "resume_read", failing)
    else:
        monkeypatch.setattr(consumer_module, TRIPS[trip], failing)


@db
@pytest.mark.parametrize("trip", list(TRIPS))
async def test_a_database_that_does_not_answer_at_connect_closes_the_socket_as_try_again(
    cast, monkeypatch, caplog, trip
):
    marshal = cast.marshal_a
    token = await database_sync_to_async(issue_token)(marshal)
    before = open_sockets(marshal.role)
    with monkeypatch.context() as patch:
        fail(patch, trip, OperationalError("could not connect to server"))
        client = communicator_for(marshal, token=token, since=0 if trip == "resume" else None)
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


@db
async def test_a_fault_of_the_servers_own_at_connect_is_logged_and_leaves_nothing_behind(
    cast, monkeypatch
):
    marshal = cast.marshal_a
    token = await database_sync_to_async(issue_token)(marshal)
    before = open_sockets(marshal.role)

    def broken(**kwargs):
        raise RuntimeError("a bug")

    with monkeypatch.context() as patch:
        patch.setattr(frames, "hello", broken)
        client = communicator_for(marshal, token=token)
        assert (await client.connect())[0]
        with pytest.raises(RuntimeError):  # the server logs it, as every fault of its own
            await client.wait(timeout=3)

    nothing_held(marshal, before)
    again, _ = await connect_with(marshal, token)
    await again.disconnect()


def pg_ctl(stack, action: str) -> None:
    """Stop PostgreSQL, or start it again with the options it was started with."""
    data = stack.tmp / "pg" / "data"
    command = [str(pg_bindir() / "pg_ctl"), "-D", str(data), "-w", "-t", "60"]
    if action == "stop":
        command += ["-m", "fast", "stop"]
    else:
        # postmaster.opts: the command line of the last start, its options from the second word.
        options = shlex.split((data / "postmaster.opts").read_text())[1:]
        command += [
            "-o",
            shlex.join(options),
            "-l",
            str(stack.tmp / "pg" / "postgres.log"),
            "start",
        ]
    subprocess.run(command, check=True, capture_output=True, **_pg_account())


async def close_code_of_a_connect(url: str, token: str) -> int | None:
    async with websockets.connect(url, **options(token)) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 30)
    return ws.close_code


@pytest.mark.multiworker
def test_phones_that_connect_while_postgresql_restarts_are_told_to_try_again_then_connect():
    servers = ("uvicorn", "daphne")
    with fault_stack(servers=servers, postgres=True) as stack:
        token = stack.join("marshal", "waits")["token"]

        async def connects(url: str) -> None:
            client = await Client.open(url, token=token, attempts=20)
            await client.close()

        for url in stack.ws_urls():  # each worker holds database connections from here on
            asyncio.run(connects(url))
        pg_ctl(stack, "stop")
        try:
            codes = {
                server: [asyncio.run(close_code_of_a_connect(url, token)) for _ in range(3)]
                for server, url in zip(servers, stack.ws_urls(), strict=True)
            }
        finally:
            pg_ctl(stack, "start")
        for url in stack.ws_urls():
            asyncio.run(connects(url))
        logs = {
            server: worker.logs() for server, worker in zip(servers, stack.workers, strict=True)
        }
    for server in servers:
        assert codes[server] == [frames.CLOSE_UNAVAILABLE] * 3, f"{server}: {logs[server][-4000:]}"
        told = logs[server].count("a socket could not open: database unavailable")
        assert told == 3, f"{server}: {logs[server][-3000:]}"
        assert "Traceback" not in logs[server], f"{server}: {logs[server][-3000:]}"
