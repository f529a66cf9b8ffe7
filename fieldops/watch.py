"""The watch: the periodic sweeps behind the overdue alert and the route-acknowledgement reminder,
and the push loop that sends Web Push notifications (fieldops/services/push.py).

It runs in two ways, and any number of copies may run at once (each alert is guarded by a unique
constraint, so the copy whose insert wins writes it and the others write nothing):

- embedded in each ASGI worker (`EmbeddedWatch`, on by default, FIELDOPS_WATCH_EMBEDDED): it starts
  with the worker's first connection (or its lifespan startup under uvicorn). In the embedded default
  (one process, in-memory channel layer) this is the only way its alerts reach open sockets live;
- as its own process, `python manage.py watch` (with `--once` for a single sweep, e.g. from cron).
  With Redis (REDIS_URL) its alerts reach every worker's sockets live; without Redis a separate
  process can only write them to the journal, where clients get them on their next resume.

The push loop (`PushLoop`) is a thread of its own beside either: it sweeps the journals for entries
to push as soon as one commits in this process (the journal's `push_wake`) and otherwise every
PUSH_POLL_SECONDS (entries written by other processes), and hands the messages to the sending
threads; any number of copies may run, each entry is taken by one. It never runs on a socket's or
a request's path, and a push service that hangs holds up only its own sending threads.
"""

import asyncio
import logging
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from fieldops import errors
from fieldops.services import journal
from fieldops.services.presence import presence_flush, presence_forget
from fieldops.services.push import push_public_key, push_sweep, push_wait
from fieldops.services.safety.acks import route_ack_remind_sweep
from fieldops.services.safety.alarms import alarm_escalate_sweep
from fieldops.services.safety.overdue import overdue_sweep
from realtime.presence import BOOK, WORKER

log = logging.getLogger(__name__)
MAX_SLEEP_SECONDS = 300  # the loop's sleep is bounded, whatever the setting says


@dataclass
class SweepResult:
    overdue: list = field(default_factory=list)
    reminders: list = field(default_factory=list)
    escalations: list = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.reminders) + len(self.escalations)


def log_failure(what: str, retry: float) -> None:
    """Log the exception being handled in a loop that retries: one line while the database is
    down, where a traceback every few seconds would bury the outage's other lines, and the
    traceback for anything else."""
    if isinstance(sys.exc_info()[1], errors.DATABASE_DOWN):
        log.warning("%s failed: database unavailable; retrying in %.0f s", what, retry)
    else:
        log.exception("%s failed; retrying in %.0f s", what, retry)


def watch_interval() -> float:
    return float(max(1, min(settings.FIELDOPS["WATCH_INTERVAL_SECONDS"], MAX_SLEEP_SECONDS)))


def watch_sweep(*, now: datetime | None = None, event_id: int | None = None) -> SweepResult:
    """One pass of every watch rule over the running events; returns the entries it wrote."""
    close_old_connections()  # a long-lived loop must not keep a connection the server dropped
    try:
        return SweepResult(
            overdue=overdue_sweep(now=now, event_id=event_id),
            reminders=route_ack_remind_sweep(now=now, event_id=event_id),
            escalations=alarm_escalate_sweep(now=now, event_id=event_id),
        )
    finally:
        close_old_connections()


def watch_loop(*, stop: threading.Event, interval: float | None = None, on_sweep=None) -> None:
    """Sweep every `interval` seconds until `stop` is set; a failed sweep is logged and retried."""
    interval = interval or watch_interval()
    while not stop.is_set():
        try:
            result = watch_sweep()
            if on_sweep is not None:
                on_sweep(result)
        except Exception:
            log_failure("watch sweep", interval)
        stop.wait(min(interval, MAX_SLEEP_SECONDS))


async def watch_forever(*, interval: float | None = None) -> None:
    """The embedded loop: sweeps on the worker's shared sync thread, sleeps on the event loop.

    The shared thread serializes the sweep with the worker's other database work, which is what
    SQLite wants in the one-process default.
    """
    interval = interval or watch_interval()
    sweep = sync_to_async(watch_sweep, thread_sensitive=True)
    while True:
        try:
            result = await sweep()
            if result.count:
                log.info(
                    "watch: %d overdue, %d reminders, %d escalations",
                    len(result.overdue),
                    len(result.reminders),
                    len(result.escalations),
                )
        except Exception:
            log_failure("watch sweep", interval)
        await asyncio.sleep(interval)


def presence_interval() -> int:
    return max(1, settings.FIELDOPS["PRESENCE_FLUSH_SECONDS"])


async def presence_forever() -> None:
    """Write this worker's presence book to the database every PRESENCE_FLUSH_SECONDS."""
    while True:
        await asyncio.sleep(presence_interval())
        await presence_write()


async def presence_write() -> None:
    """One batch of the book, whatever the number of frames, on the worker's shared database
    thread. Rows it could not write go back to the book for the next: a phone that went while the
    database was down was forgotten with them, and read as connected while the worker lived."""
    rows = BOOK.take()
    try:
        await sync_to_async(presence_flush, thread_sensitive=True)(worker=WORKER, rows=rows)
    except Exception:
        BOOK.give_back(rows)
        log_failure("presence flush", presence_interval())


class PushLoop:
    """The push loop in a thread of its own: sweep, then wait for a pushed entry to commit in this
    process (or PUSH_POLL_SECONDS), until stopped. A failed sweep is logged and retried."""

    def __init__(self, *, poll: float | None = None, on_sweep=None):
        self.poll = poll
        self.on_sweep = on_sweep
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> "PushLoop":
        self.thread = threading.Thread(target=self.run, name="fieldops-push-loop", daemon=True)
        self.thread.start()
        return self

    def stop(self, *, timeout: float = 10.0) -> None:
        self.stopping.set()
        journal.push_wake.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def run(self) -> None:
        poll = max(0.05, self.poll or settings.PUSH_POLL_SECONDS)
        while not self.stopping.is_set():
            more = False
            try:
                close_old_connections()
                result = push_sweep()
                more = result.more
                if self.on_sweep is not None:
                    self.on_sweep(result)
            except Exception:
                log_failure("push sweep", poll)
            finally:
                close_old_connections()
            if not more and not self.stopping.is_set():
                push_wait(timeout=poll)


class EmbeddedWatch:
    """ASGI wrapper that runs `watch_forever` on the worker's own event loop, so its journal
    entries are published from this process (the in-memory layer's sockets get them live), and
    the push loop in a thread beside it when Web Push is set up. It hands WebSockets to `sockets`
    and everything else to `app`, itself: every coroutine between the server and a socket's
    consumer stays on the stack, and holds memory, for as long as the socket is open."""

    def __init__(self, app, *, sockets=None):
        self.app = app
        self.sockets = sockets  # (scope, receive, send) -> an awaitable, for "websocket" scopes
        self.task: asyncio.Task | None = None
        self.push: PushLoop | None = None
        self.presence: asyncio.Task | None = None

    def start(self) -> None:
        # Presence is each worker's own, whether or not the watch runs here.
        if self.presence is None:
            self.presence = asyncio.get_running_loop().create_task(presence_forever())
        if self.task is None and settings.FIELDOPS["WATCH_EMBEDDED"]:
            self.task = asyncio.get_running_loop().create_task(watch_forever())
            if push_public_key() is not None:
                self.push = PushLoop().start()

    async def stop(self) -> None:
        presence, self.presence = self.presence, None
        if presence is not None:
            presence.cancel()
            try:
                await sync_to_async(presence_forget, thread_sensitive=True)(worker=WORKER)
            except Exception:
                log.exception("could not mark this worker's sockets gone")
        push, self.push = self.push, None
        if push is not None:
            await asyncio.to_thread(push.stop)
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":  # uvicorn; daphne never sends it
            await self._lifespan(receive, send)
            return
        self.start()
        if scope["type"] == "websocket" and self.sockets is not None:
            await self.sockets(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
