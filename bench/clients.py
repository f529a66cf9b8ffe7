"""Load-generator processes: many subscriber sockets each, driven by commands over a pipe.

A subscriber records, for every bench alert it receives, the journal seq and the latency from the
publisher's send (a `time.time_ns()` stamp inside the alert text; every process reads the same
clock). The parent asks for the figures after each phase.
"""

import asyncio
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import websockets

from fieldops.kit.client import Client

from .stack import raise_fd_limit

MARK = "bench:"
CONNECT_CONCURRENCY = 64  # per process; a bigger burst overflows the server's accept backlog


def stamp_text(n: int) -> str:
    return f"{MARK}{time.time_ns()}:{n}"


def stamp_of(text: str) -> int | None:
    if not text.startswith(MARK):
        return None
    return int(text[len(MARK) :].split(":", 1)[0])


@dataclass
class Sub:
    url: str
    token: str | None
    last: int | None = None  # the highest seq held while dropped; None before the first connect
    got: set = field(default_factory=set)
    client: Client | None = None


class Subscribers:
    def __init__(self) -> None:
        self.subs: list[Sub] = []
        self.latencies: list[int] = []
        self.received = 0
        self.failed = 0

    def _entry(self, sub: Sub, frame: dict, now: int) -> None:
        if frame["type"] != "alert.sent":
            return
        stamp = stamp_of(frame["data"].get("text", ""))
        if stamp is not None:
            if frame["seq"] not in sub.got:
                self.latencies.append(now - stamp)
            sub.got.add(frame["seq"])
            self.received += 1

    async def _open(self, sub: Sub, gate: asyncio.Semaphore, resume: bool) -> None:
        async with gate:
            # A resume is asked for in the connect request (`?since=`), as the pages do.
            try:
                sub.client = await Client.open(
                    sub.url, token=sub.token, since=sub.last if resume else None, keep=0,
                    on_entry=lambda frame, now: self._entry(sub, frame, now),
                    attempts=20, open_timeout=120,
                )  # fmt: skip
            except (OSError, websockets.InvalidHandshake, TimeoutError):
                self.failed += 1

    def _open_count(self) -> int:
        return sum(1 for s in self.subs if s.client is not None)

    async def connect(self, urls: list[str], tokens: list[str | None], count: int) -> dict:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        start = len(self.subs)
        new = [
            Sub(url=urls[(start + i) % len(urls)], token=tokens[(start + i) % len(tokens)])
            for i in range(count)
        ]
        self.subs.extend(new)
        await asyncio.gather(*(self._open(s, gate, resume=False) for s in new))
        return {"open": self._open_count(), "failed": self.failed}

    def progress(self) -> dict:
        return {"received": self.received, "open": self._open_count()}

    def reset(self) -> dict:
        self.latencies = []
        self.received = 0
        for sub in self.subs:
            sub.got = set()
        return {}

    def collect(self, expected: list[int]) -> dict:
        want = set(expected)
        lost = sum(len(want - s.got) for s in self.subs if s.client is not None)
        return {
            "latencies": self.latencies,
            "received": self.received,
            "lost": lost,
            "sockets": self._open_count(),
        }

    def caught_up(self, expected: list[int]) -> dict:
        want = set(expected)
        clients = [s.client for s in self.subs]
        waiting = sum(
            1 for s in self.subs if s.client is None or not s.client.replayed or not want <= s.got
        )
        return {
            "waiting": waiting,
            "last_done": max((c.replayed_at for c in clients if c is not None), default=0),
            "replayed": sum(c.replayed["count"] for c in clients if c and c.replayed),
        }

    async def drop(self) -> dict:
        async def close(sub: Sub) -> None:
            if sub.client is not None:
                await sub.client.close()
                sub.last = sub.client.last
            sub.client = None

        await asyncio.gather(*(close(s) for s in self.subs))
        return {"open": 0}

    async def resume(self) -> dict:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self.failed = 0
        await asyncio.gather(*(self._open(s, gate, resume=True) for s in self.subs))
        return {"open": self._open_count(), "failed": self.failed}


async def _serve(conn: Connection) -> None:
    subs = Subscribers()
    loop = asyncio.get_running_loop()
    while True:
        rid, command, args = await loop.run_in_executor(None, conn.recv)
        if command == "stop":
            await subs.drop()
            conn.send((rid, {}))
            return
        result = getattr(subs, command)(*args)
        if asyncio.iscoroutine(result):
            # Long commands run in the background so that progress polls are still answered.
            task = asyncio.create_task(result)
            task.add_done_callback(lambda t, rid=rid: conn.send((rid, t.result())))
        else:
            conn.send((rid, result))


def subscriber_main(conn: Connection) -> None:
    """Entry point of one load-generator process."""
    raise_fd_limit()
    asyncio.run(_serve(conn))


async def ingest(
    urls: list[str],
    tokens: list[str],
    *,
    rate: float,
    duration: float,
    lat: float,
    lng: float,
    ready=None,
) -> dict:
    """Marshals check in at `rate` per second in total for `duration` s; ack latencies in ns.
    Every socket is open before the first check-in; `ready`, if given, is awaited then."""
    latencies: list[int] = []
    errors = 0
    per_socket = rate / len(tokens)
    clients = await asyncio.gather(
        *(
            Client.open(urls[i % len(urls)], token=token, keep=0, open_timeout=120)
            for i, token in enumerate(tokens)
        )
    )
    if ready is not None:
        await ready()

    async def marshal(i: int, client: Client) -> None:
        nonlocal errors
        pending: set[asyncio.Future] = set()

        def acked(reply: asyncio.Future, sent: int) -> None:
            nonlocal errors
            if reply.exception() is None and reply.result()["type"] == "ack":
                latencies.append(time.time_ns() - sent)
            else:
                errors += 1

        start = time.monotonic() + i / rate  # spread the marshals' phases
        n = 0
        while True:
            due = start + n / per_socket
            if due - start > duration:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            sent = time.time_ns()
            data = {"lat": lat, "lng": lng, "status": "ok"}
            reply = await client.submit("checkin", data)
            reply.add_done_callback(lambda r, sent=sent: acked(r, sent))
            pending.add(reply)
            n += 1
        if pending:
            _, late = await asyncio.wait(pending, timeout=15)
            errors += len(late)

    began = time.monotonic()
    try:
        await asyncio.gather(*(marshal(i, c) for i, c in enumerate(clients)))
    finally:
        elapsed = time.monotonic() - began
        await asyncio.gather(*(c.close() for c in clients))
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


def ingest_main(conn: Connection, urls, tokens, options: dict) -> None:
    """Entry point of the ingest process: opens its sockets, says "ready" and waits for "go",
    then runs once and sends its figures back."""
    raise_fd_limit()

    async def ready() -> None:
        conn.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    conn.send(asyncio.run(ingest(urls, tokens, ready=ready, **options)))
