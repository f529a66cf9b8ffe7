"""One socket's side of delivery: entries in order, never waiting on a socket that does not read.

- `Delivery`: what a socket holds between the worker's hub (realtime/hub.py) and the ASGI server. An
  entry goes straight to the server when the socket is free and its server buffer is low; otherwise
  it waits in a bounded backlog that a task of the socket's own drains as the phone reads. A socket
  whose backlog outgrows its bounds has fallen behind: it is closed (CLOSE_BEHIND) and its client
  resumes from the journal. So no socket delays another, and a worker's memory per socket is
  bounded whatever its phones do (docs/protocol.md, "Slow sockets").
- `gc_tune`: garbage-collector settings for a process holding many sockets.

Each delivery allocates a handful of short-lived objects; with the default thresholds (700, 10, 10)
the collector runs every few hundred deliveries and its older generations walk every live object,
and a worker holding thousands of sockets holds millions of them. Freezing what exists once the
worker has started (modules, settings, URL patterns) and collecting the young generation less often
keeps the cost per delivery flat as sockets are added (docs/performance.md).
"""

import asyncio
import gc
import logging
import time
from collections import deque

from . import counters

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 50_000
POLL_SECONDS = 0.05  # how often a backlog looks whether its socket reads again


def gc_tune() -> None:
    """Move everything alive now out of the collector's sight and raise the young threshold."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


class Delivery:
    """Hold entries while the socket is busy or not reading, then send them in order, each once.

    `send(entry)` writes one entry through the server's ASGI `send`; `transport` (a
    realtime.transport.Transport, or None: unbounded) says whether the socket takes frames now and
    writes a prepared frame straight to it. `on_behind()` and `on_revoke()` are the socket's own
    reactions, called at most once each. `busy` counts the socket's own handlers running
    (connecting, a frame, a replay): entries wait until they are done, as they would have waited
    in a channel of its own.

    Which entries went out is two numbers: `covered` (entries up to it go out in the socket's
    replay) and the live span `first`..`last`. The hub hands a socket each entry of its audience
    once, in seq order (realtime/hub.py), a socket that cannot keep up is closed rather than
    skipped, and a replay reads the journal through the same audience tags: so every entry from
    `first` to `last` went out live, whatever their count, and an entry at or below either mark
    reaching the socket again (through a second tag, or after a resume) is dropped. A set or a
    bitmap per socket cost memory and, for every delivery, the CPU of keeping it.

    This object is the only one of Fieldops' that a delivery touches (`offer`): with thousands of
    sockets each object a delivery reads is a likely cache miss, and the consumer and a separate
    span object per socket were about a tenth of a delivery's CPU (docs/performance.md).
    """

    __slots__ = (
        "send", "transport", "on_behind", "on_revoke", "limits", "busy", "backlog",
        "backlog_bytes", "closed", "drainer", "covered", "first", "last",
    )  # fmt: skip

    def __init__(self, send, *, transport, on_behind, on_revoke, limits) -> None:
        self.send = send
        self.transport = transport
        self.on_behind = on_behind
        self.on_revoke = on_revoke
        self.limits = limits  # (max entries, max bytes, seconds a socket may take nothing)
        self.busy = 0
        self.backlog: deque | None = None  # made on first use: most sockets never need one
        self.backlog_bytes = 0
        self.closed = False
        self.drainer: asyncio.Task | None = None
        self.covered = 0  # entries up to this seq went out (or go out) in the socket's replay
        self.first = 0  # the live span: none yet
        self.last = 0

    def went_live(self, seq: int) -> bool:
        """Whether entry `seq` already went out to the socket live."""
        return 0 < self.first <= seq <= self.last

    def close(self) -> None:
        """The socket is gone or going: drop what is held and ignore what still arrives."""
        self.closed = True
        self.backlog = None
        self.backlog_bytes = 0

    def ready(self) -> bool:
        transport = self.transport
        return transport is None or transport.ready()

    def offer(self, entry) -> bool:
        """Write `entry` now if nothing stands in the way, without awaiting; False when the
        caller must `await deliver(entry)` instead. Runs once per socket per entry: a coroutine
        per socket per entry was a tenth of a fan-out's CPU."""
        if self.closed:
            return True
        if self.busy or self.backlog:
            return False
        return self._write(entry)

    async def deliver(self, entry) -> None:
        if self.closed:
            return
        if self.busy or self.backlog or not self.ready():
            self.hold(entry)
            return
        await self._send(entry)

    def _write(self, entry) -> bool:
        """Write `entry` straight to the server if the socket takes it now; True when it went, or
        went already (by a second tag, or in the replay); False when it must take the ASGI send."""
        seq = entry.seq
        if seq <= self.covered or seq <= self.last:
            return True
        transport = self.transport
        if transport is None or not entry.wire or not transport.send_wire(entry.wire):
            return False
        self._went(seq)
        return True

    async def _send(self, entry) -> None:
        if self._write(entry):
            return
        # The server does not take it now (its buffer, a closing socket, daphne): its ASGI send,
        # which waits as long as it must.
        self._went(entry.seq)
        await self.send(entry)

    def _went(self, seq: int) -> None:
        if not self.first:
            self.first = seq
        self.last = seq
        counters.DELIVERIES.value += 1

    def revoke(self, code: int | None = None) -> None:
        """Close the socket as revoked, or with `code` (a role or group change: reconnect)."""
        if not self.closed:
            self.close()
            asyncio.ensure_future(self.on_revoke() if code is None else self.on_revoke(code))

    def hold(self, entry) -> None:
        if self.backlog is None:
            self.backlog = deque()
        self.backlog.append(entry)
        self.backlog_bytes += len(entry.frame)
        max_entries, max_bytes, _ = self.limits
        if len(self.backlog) > max_entries or self.backlog_bytes > max_bytes:
            self.fall_behind()
        elif not self.busy:
            self.drain_soon()

    def fall_behind(self) -> None:
        if self.closed:
            return
        self.close()
        counters.add("sockets_behind")
        asyncio.ensure_future(self.on_behind())

    async def flush(self) -> None:
        """The socket's own handlers are done: send what was held while the socket takes it."""
        while self.backlog and not self.closed and not self.busy and self.drainer is None:
            if not self.ready():
                self.drain_soon()
                return
            entry = self.backlog.popleft()
            self.backlog_bytes -= len(entry.frame)
            await self._send(entry)

    def drain_soon(self) -> None:
        """Send what is held from a task of the socket's own, as the phone reads."""
        if self.backlog and self.drainer is None and not self.closed:
            self.drainer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            while self.backlog and not self.closed and not self.busy:
                if not self.ready():
                    if not await self.wait_ready():
                        return
                    continue
                entry = self.backlog.popleft()
                self.backlog_bytes -= len(entry.frame)
                await self._send(entry)
        except Exception:
            log.exception("delivery to one socket failed")
        finally:
            self.drainer = None

    async def wait_ready(self) -> bool:
        """Wait until the socket's server buffer is low again; False (and the socket is closed as
        behind) if it takes nothing for the stall limit, or if it is closed meanwhile."""
        deadline = time.monotonic() + self.limits[2]
        while not self.closed and not self.ready():
            if time.monotonic() >= deadline:
                self.fall_behind()
                return False
            await asyncio.sleep(POLL_SECONDS)
        return not self.closed
