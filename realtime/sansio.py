"""The WebSocket protocol uvicorn runs for each socket: its own sans-I/O protocol, lighter at rest.

uvicorn's `WebSocketsSansIOProtocol` keeps, for every open socket, an `asyncio.Queue` for what the
socket received and an `asyncio.Event` for whether it may write. Between them they hold five
`collections.deque`s, 760 bytes each even when empty, for the socket's whole life: 3.8 KB of an
idle socket's 16 (docs/performance.md, "Where the time goes"). An idle socket has nothing queued
and no one waiting to write, so `SocketProtocol` keeps the same two things as `Inbox` and `Flag`,
which hold a list only while something is in it.

It reads a socket until the app is a message behind, where uvicorn's stops reading after every
message and starts again when the app has taken it (two system calls a message).

It also answers, at the cost of one attribute read, whether a data frame may be written to the
socket now (`wire_open`): what the hub asks once per socket per journal entry
(realtime/transport.py).

Its keepalive pings fall due on a few shared ticks of each interval rather than each at its own
moment, so a worker wakes once for many pings and once for their pongs (`PING_MOMENTS`).

deploy/worker and `make run` start uvicorn with `--ws realtime.sansio:SocketProtocol`. Everything
else is uvicorn's (0.54, pinned in requirements.txt): it calls `put_nowait`, `get` and `empty` on
the queue (and this module `len`), and `set`, `clear`, `wait` and `is_set` on the event, which is
all these implement.
"""

import asyncio
import math
import random

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import OPEN


class Inbox:
    """A FIFO without bound, as `asyncio.Queue()`: `put_nowait`, `get`, `get_nowait`, `empty`
    (what uvicorn calls)."""

    __slots__ = ("_items", "_getters")

    def __init__(self) -> None:
        self._items: list | None = None
        self._getters: list[asyncio.Future] | None = None

    def empty(self) -> bool:
        return not self._items

    def __len__(self) -> int:
        return len(self._items) if self._items else 0

    def put_nowait(self, item) -> None:
        self._items = _with(self._items, item)
        self._wake_one()

    def get_nowait(self):
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        # Usually one item; at most what one read of the socket brought (hundreds of small frames),
        # which the list moves up in C: 40,000 taken out this way cost 0.1 s here.
        item = items.pop(0)
        self._items = items or None
        return item

    async def get(self):
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._getters = _with(self._getters, getter)
            try:
                await getter
            except BaseException:
                # As asyncio.Queue: a getter woken and then cancelled passes the item on.
                getter.cancel()
                self._getters = _without(self._getters, getter)
                if self._items and not getter.cancelled():
                    self._wake_one()
                raise
        return self.get_nowait()

    def _wake_one(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break
        self._getters = getters or None


class Flag:
    """A flag to wait for, as `asyncio.Event`: `set`, `clear`, `is_set`, `wait`."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters = _with(self._waiters, waiter)
        try:
            await waiter
            return True
        finally:
            self._waiters = _without(self._waiters, waiter)


# What is queued, and who waits, is kept in a list made when the first one comes and dropped when
# the last one goes: an idle socket has none, and an empty deque (asyncio's choice) is 760 bytes.


def _with(waiters: list | None, waiter: asyncio.Future) -> list:
    if waiters is None:
        return [waiter]
    waiters.append(waiter)
    return waiters


def _without(waiters: list | None, waiter: asyncio.Future) -> list | None:
    if waiters is not None and waiter in waiters:
        waiters.remove(waiter)
    return waiters or None


def _closing(name: str) -> property:
    """An attribute of uvicorn's protocol that, once set, may mean no more data frames: setting it
    clears the protocol's `wire_open` (uvicorn sets it where it closes or loses the socket)."""
    key = "_" + name

    def get(self):
        return self.__dict__[key]

    def set_(self, value) -> None:
        self.__dict__[key] = value
        self.wire_open = False

    return property(get, set_)


PING_MOMENTS = 20  # ticks of a ping interval on which a worker's keepalive pings fall due


class SocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, with an `Inbox` and a `Flag` for its queue and
    `writable` (the same behaviour, 3.8 KB less per open socket), and `wire_open`."""

    # True once `wire_ready()` found the socket open for data frames, until anything that may
    # close it happens: a close sent or received, the connection lost, a protocol error, writing
    # paused. Each of those clears it, and the next `wire_ready()` looks at everything again.
    wire_open = False
    close_sent = _closing("close_sent")
    disconnected = _closing("disconnected")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Replaced before the connection is made: nothing has been queued or awaited yet.
        self.queue = Inbox()
        writable = Flag()
        writable.set()
        self.writable = writable

    def wire_ready(self) -> bool:
        """Whether a whole text frame may be written to the socket now, as uvicorn's `send`
        would write a "websocket.send": the handshake accepted with no extension (a frame is
        then the same bytes for every socket), no close sent or received, not lost, not paused."""
        conn = self.conn
        self.wire_open = ready = (
            self.handshake_complete
            and self.initial_response is None
            and not conn.extensions
            and not self.disconnected
            and not self.close_sent
            and self.writable.is_set()
            and conn.state is OPEN
            and not conn.expect_continuation_frame
        )
        return ready

    def send_receive_event_to_app(self) -> None:
        # uvicorn stops reading the socket after every message until the app takes it: two epoll
        # changes a message, about a tenth of the event loop's profiled time on a check-in
        # (docs/performance.md, "Where the time goes").
        # Here reading stops once the app is a message behind (this one queued and one before):
        # what a socket may queue stays bounded as under uvicorn, by what one read brings.
        paused = self.read_paused
        self.read_paused = True  # uvicorn's own code pauses only if it was not
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = paused
        if not paused and len(self.queue) > 1 and not self.transport.is_closing():
            self.read_paused = True
            self.transport.pause_reading()

    def start_keepalive(self) -> None:
        # A crowd back on the network reconnects at once, and uvicorn pings each socket one
        # interval after it opened: all of them at the same moment of every interval, a burst of
        # pings and pongs on the worker each time (docs/performance.md). The first ping comes at
        # a random tick of the first interval instead, and each socket keeps its own tick.
        if self.ping_interval is not None and self.ping_interval > 0:
            first = self.ping_interval * (1.0 - random.random())  # in (0, interval]
            self._ping_after(first)

    def schedule_ping(self) -> None:
        # uvicorn's, on a tick (it chains the next ping when a pong comes back).
        self._ping_after(max(0.0, self.ping_interval - self.last_ping_rtt))

    def _ping_after(self, delay: float) -> None:
        # Each socket pinged at its own moment wakes the worker for it, and its pong wakes it
        # again: on a virtual machine the wake-ups cost more than the pings, 47–51 ms of CPU a
        # second for 2,000 idle sockets on 2 workers, against 15–19 with the pings on ticks
        # (docs/performance.md). A ping is due on the nearest of PING_MOMENTS ticks of its
        # interval, where the loop sends every ping then due in one pass; phases stay spread over
        # the ticks. Nearest, not next: a chained ping is due one interval after the last was
        # sent, a little after its tick, and rounding up would move it a tick later every time.
        # Never before the next tick: a socket's first ping does not come as it opens.
        tick = self.ping_interval / PING_MOMENTS
        now = self.loop.time()
        due = max(round((now + delay) / tick), math.floor(now / tick) + 1) * tick
        self.ping_timer = self.loop.call_at(due, self.send_keepalive_ping)

    def pause_writing(self) -> None:
        self.wire_open = False
        super().pause_writing()

    def handle_close(self, event) -> None:
        self.wire_open = False
        super().handle_close(event)

    def handle_parser_exception(self) -> None:
        self.wire_open = False
        super().handle_parser_exception()
