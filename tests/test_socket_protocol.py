"""The WebSocket protocol deploy/worker gives uvicorn (realtime/sansio.py): the same queue and
flag behaviour as asyncio's, and an idle socket that keeps none of asyncio's empty deques."""

import asyncio
import collections
import gc
import math
from pathlib import Path

import pytest

from realtime.sansio import PING_MOMENTS, Flag, Inbox, SocketProtocol

ROOT = Path(__file__).resolve().parent.parent


async def test_the_inbox_hands_out_in_order_what_was_put_before_or_while_waiting():
    inbox = Inbox()
    assert inbox.empty()
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    assert not inbox.empty()
    assert await inbox.get() == "a"
    assert inbox.get_nowait() == "b"
    with pytest.raises(asyncio.QueueEmpty):
        inbox.get_nowait()
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("c")
    assert await waiting == "c"
    assert inbox.empty() and inbox._items is None and inbox._getters is None


async def test_a_cancelled_reader_loses_nothing_and_the_next_reader_gets_it():
    inbox = Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("x")  # wakes the first reader ...
    first.cancel()  # ... which is cancelled before it runs: the item passes to the second
    assert await second == "x"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert inbox.empty() and inbox._getters is None


async def test_a_reader_cancelled_while_waiting_leaves_no_waiter_behind():
    inbox = Inbox()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert inbox._getters is None
    inbox.put_nowait("kept")
    assert await inbox.get() == "kept"


async def test_the_flag_wakes_every_waiter_when_set_and_waits_again_once_cleared():
    flag = Flag()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True, True]
    assert flag.is_set() and await flag.wait() is True and flag._waiters is None
    flag.clear()
    late = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not late.done()
    late.cancel()
    with pytest.raises(asyncio.CancelledError):
        await late
    assert flag._waiters is None
    flag.set()
    flag.set()  # twice is once
    assert flag.is_set()


def deques_held_by(protocol) -> int:
    """Deques reachable from the protocol's queue and events, up to three levels down."""
    seen, count = set(), 0
    frontier = list(vars(protocol).values())
    for _ in range(3):
        nxt = []
        for item in frontier:
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, collections.deque):
                count += 1
            elif isinstance(item, Inbox | Flag | asyncio.Queue | asyncio.Event):
                nxt.extend(gc.get_referents(item))
        frontier = nxt
    return count


def protocol_config(**options):
    """uvicorn's configuration for a protocol built by hand (no server, no app called)."""
    from uvicorn.config import Config

    async def app(scope, receive, send):  # pragma: no cover - never called
        pass

    config = Config(app, ws_per_message_deflate=False, **options)
    config.load()
    return config


async def test_an_idle_socket_protocol_keeps_no_empty_deques():
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState

    config = protocol_config()
    stock = WebSocketsSansIOProtocol(config, ServerState(), {})
    ours = SocketProtocol(config, ServerState(), {})
    assert deques_held_by(stock) == 5  # the measure sees what uvicorn's own keeps
    assert deques_held_by(ours) == 0
    assert ours.writable.is_set() and ours.queue.empty()


class Clock:
    """An event loop's clock and timers, as far as the keepalive uses them: when each timer is
    due, on a clock that stands at `now`."""

    def __init__(self, now: float = 1000.3) -> None:
        self.now, self.due = now, []

    def time(self) -> float:
        return self.now

    def call_at(self, when, callback):
        self.due.append(when)

    def call_later(self, delay, callback):
        self.due.append(self.now + delay)


def test_sockets_opened_together_spread_their_keepalive_pings_over_the_interval():
    """A crowd back on the network reconnects at once; pinged all at the same moment of every
    interval, its sockets would cost the worker a burst of pings and pongs each time."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState

    config = protocol_config(ws_ping_interval=20.0)
    firsts = {}
    for protocol in (WebSocketsSansIOProtocol, SocketProtocol):
        clock = Clock()
        for _ in range(200):
            protocol(config, ServerState(), {}, _loop=clock).start_keepalive()
        firsts[protocol] = [when - clock.now for when in clock.due]
    assert set(firsts[WebSocketsSansIOProtocol]) == {20.0}, "uvicorn pings all of them together"
    ours = firsts[SocketProtocol]
    assert all(0 < d <= 20.0 + 20.0 / PING_MOMENTS for d in ours), (
        "none waits much over the interval"
    )
    assert max(ours) - min(ours) > 15 and len(set(ours)) >= 15, "spread over the interval"


def on_a_tick(when: float, tick: float) -> bool:
    return abs(when / tick - round(when / tick)) < 1e-6


@pytest.mark.parametrize("interval", [20.0, 0.5])
def test_a_workers_keepalive_pings_fall_on_a_few_shared_moments_of_each_interval(interval):
    """Each ping at its own moment wakes the worker on its own: on a virtual machine the wake-up
    costs more than the ping, 48 ms of CPU a second for 2,000 idle sockets on 2 workers
    (docs/performance.md). Pings that fall due on a shared tick go out in one wake-up, and their
    pongs come back together."""
    from uvicorn.server import ServerState

    config = protocol_config(ws_ping_interval=interval)
    tick = interval / PING_MOMENTS
    clock = Clock()
    sockets = [SocketProtocol(config, ServerState(), {}, _loop=clock) for _ in range(500)]
    for socket in sockets:
        socket.start_keepalive()
    assert all(on_a_tick(when, tick) for when in clock.due), "first pings"
    assert len(set(clock.due)) <= PING_MOMENTS + 1, "one moment per tick of the first interval"

    # The pings of one tick go out a little after it (the timer runs late, and the pass over
    # them takes a while) and their pongs come back over the next milliseconds: each socket's
    # next ping is chained from its pong, one interval after its ping was sent, less nothing.
    # It must fall on the same tick one interval on, not drift a tick later every interval.
    clock.due.clear()
    sent_from = (math.ceil(clock.now / tick) + 7) * tick
    for i, socket in enumerate(sockets):
        sent = sent_from + 0.3 * tick * (i % 11) / 10  # up to 0.3 of a tick late
        socket.last_ping_rtt = 0.002 * tick * (i % 7)
        clock.now = sent + socket.last_ping_rtt  # its pong is back
        socket.schedule_ping()
    assert all(on_a_tick(when, tick) for when in clock.due), "pings after a pong"
    assert {round((when - sent_from) / tick) for when in clock.due} == {PING_MOMENTS}, (
        "each one interval after the tick its last ping went out on"
    )


def test_uvicorn_is_started_with_this_protocol_wherever_fieldops_starts_it():
    for path in ("deploy/worker", "Makefile"):
        text = (ROOT / path).read_text()
        assert "--ws realtime.sansio:SocketProtocol" in text, path
        assert "--ws websockets-sansio" not in text, path


async def serve_one(app, ws: str = "realtime.sansio:SocketProtocol", **options):
    """uvicorn with SocketProtocol (or `ws`) on 127.0.0.1, serving `app`, with uvicorn's other
    `options`; (server, its task, ws URL)."""
    import socket

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                            ws=ws, ws_per_message_deflate=False, **options)  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    return server, task, f"ws://127.0.0.1:{port}/"


@pytest.mark.parametrize("closed_by", ["client", "server", "connection"])
async def test_a_frame_is_written_straight_only_while_the_socket_is_open_and_not_paused(closed_by):
    import websockets

    from realtime.transport import SocketTransport, transport_of, wire_frame

    held = {}
    done = asyncio.Event()

    async def app(scope, receive, send):
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        held["send"], held["receive"] = send, receive
        await done.wait()

    server, task, url = await serve_one(app)
    try:
        async with websockets.connect(url, compression=None) as client:
            while "send" not in held:
                await asyncio.sleep(0.01)
            transport = transport_of(held["send"])
            protocol = held["send"].__self__
            assert isinstance(transport, SocketTransport)
            assert transport.send_wire(wire_frame(b"one")) and protocol.wire_open
            assert await client.recv() == "one"

            protocol.pause_writing()  # the socket's buffer is over its high-water mark
            assert not protocol.wire_open and not transport.send_wire(wire_frame(b"held"))
            protocol.resume_writing()
            assert transport.send_wire(wire_frame(b"two"))
            assert await client.recv() == "two"

            # What the flag says when the connection is lost: a close sent or received must have
            # cleared it already (the connection lost clears it last, whatever came before).
            at_loss = []
            lose = protocol.connection_lost

            def connection_lost(exc):
                at_loss.append(protocol.wire_open)
                lose(exc)

            protocol.connection_lost = connection_lost
            if closed_by == "client":
                await client.close()
            elif closed_by == "server":
                await held["send"]({"type": "websocket.close", "code": 1000})
                assert not protocol.wire_open, "a close sent ends straight writes at once"
            else:
                protocol.transport.abort()
            for _ in range(300):
                if at_loss:
                    break
                await asyncio.sleep(0.01)
            assert at_loss == ([True] if closed_by == "connection" else [False])
            assert not protocol.wire_open
            assert not transport.send_wire(wire_frame(b"after the close"))
    finally:
        done.set()
        server.should_exit = True
        await task


def counting_pauses(protocol) -> list:
    """A list that gets an item each time the protocol stops reading its socket."""
    pauses = []
    pause = protocol.transport.pause_reading

    def pause_reading():
        queue = protocol.queue
        pauses.append(queue.qsize() if isinstance(queue, asyncio.Queue) else len(queue))
        pause()

    protocol.transport.pause_reading = pause_reading
    return pauses


@pytest.mark.parametrize(("ws", "paused"), [("websockets-sansio", 20), (None, 0)])
async def test_a_socket_whose_app_keeps_up_is_read_without_stopping(ws, paused):
    import websockets

    held = {}

    async def app(scope, receive, send):
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        held["pauses"] = counting_pauses(send.__self__)
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"]})

    server, task, url = await serve_one(app, **({"ws": ws} if ws else {}))
    try:
        async with asyncio.timeout(30), websockets.connect(url, compression=None) as client:
            for i in range(20):  # a phone's check-ins: one, its ack, the next
                await client.send(f"checkin {i}")
                assert await client.recv() == f"checkin {i}"
        assert len(held["pauses"]) == paused  # uvicorn's own stops after every message
    finally:
        server.should_exit = True
        await task


async def test_a_socket_whose_app_falls_behind_stops_being_read_and_loses_nothing():
    import websockets

    held, go = {}, asyncio.Event()

    async def app(scope, receive, send):
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        held["protocol"] = send.__self__
        held["pauses"] = counting_pauses(send.__self__)
        await go.wait()  # busy elsewhere while the messages come
        got = []
        while len(got) < 2000:
            got.append((await receive())["text"])
        held["got"] = got
        await send({"type": "websocket.send", "text": "done"})

    server, task, url = await serve_one(app)
    try:
        async with asyncio.timeout(30), websockets.connect(url, compression=None) as client:
            while "protocol" not in held:
                await asyncio.sleep(0.01)
            sent = [f"m{i:04d} " + "x" * 400 for i in range(2000)]  # 800 KB: more than one read
            sending = asyncio.gather(*(client.send(m) for m in sent))
            for _ in range(300):
                if held["protocol"].read_paused:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            protocol = held["protocol"]
            assert protocol.read_paused, "the app is behind: the socket is no longer read"
            assert 2 <= len(protocol.queue) < 2000 and held["pauses"][0] == 2
            go.set()
            assert await client.recv() == "done"
            await sending
        assert held["got"] == sent
    finally:
        go.set()
        server.should_exit = True
        await task


async def test_pings_on_ticks_keep_a_socket_that_answers_and_close_one_that_does_not():
    """The keepalive still does its work: a peer that answers stays open, a peer gone silent (a
    phone seized or out of coverage) is closed after the interval, a tick and the timeout."""
    import websockets

    interval = 0.4
    protocols = []

    async def app(scope, receive, send):
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        protocols.append(send.__self__)
        while (await receive())["type"] != "websocket.disconnect":
            pass

    server, task, url = await serve_one(app, ws_ping_interval=interval, ws_ping_timeout=interval)
    try:
        async with asyncio.timeout(30), websockets.connect(url, ping_interval=None) as client:
            await asyncio.sleep(4 * interval)
            assert protocols[0].last_ping_rtt > 0, "pinged, and its pong came back"
            await client.send("still here")  # the socket is open after four intervals

        port = int(url.rsplit(":", 1)[1].strip("/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        began = asyncio.get_running_loop().time()
        async with asyncio.timeout(10):
            received = await reader.read()  # read to the end, answering nothing
        waited = asyncio.get_running_loop().time() - began
        writer.close()
        assert received[:1] == b"\x89", "pinged first"
        close = received.rindex(b"\x88")
        assert received[close + 2 : close + 4] == (1011).to_bytes(2, "big"), "closed as silent"
        # The close code says the keepalive closed it; the bound (the first ping, its timeout and
        # room for a loaded machine) says it did so on time.
        assert waited < interval + interval / PING_MOMENTS + interval + 3.0
    finally:
        server.should_exit = True
        await task
