"""Load-generator processes: many subscriber sockets each, driven by commands over a pipe.

A subscriber records, for every bench alert it receives, the journal seq and the latency from the
publisher's send (a `time.time_ns()` stamp inside the alert text; every process reads the same
clock). The parent asks for the figures after each phase.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import orjson
import websockets

from .stack import raise_fd_limit

MARK = "bench:"
CONNECT_CONCURRENCY = 64  # per process; a bigger burst overflows the server's accept backlog


def stamp_text(n: int) -> str:
    return f"{MARK}{time.time_ns()}:{n}"


def stamp_of(text: str) -> int | None:
    if not text.startswith(MARK):
        return None
    return int(text[len(MARK) :].split(":", 1)[0])


def connect_kwargs(token: str | None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return {
        "additional_headers": headers,
        "compression": None,
        "max_queue": None,
        "ping_interval": None,
        "open_timeout": 120,
        "close_timeout": 5,
    }


@dataclass
class Sub:
    url: str
    token: str | None
    last: int = 0
    got: set = field(default_factory=set)
    ws: object = None
    task: object = None
    done_at: int = 0  # time.time_ns() of replay.done after a resume
    replayed: int = 0


class Subscribers:
    def __init__(self) -> None:
        self.subs: list[Sub] = []
        self.latencies: list[int] = []
        self.received = 0
        self.failed = 0

    async def _open(self, sub: Sub, gate: asyncio.Semaphore, resume: bool) -> None:
        async with gate:
            # A resume is asked for in the connect request (`?since=`), as the pages do.
            url = f"{sub.url}?since={sub.last}" if resume else sub.url
            for attempt in range(20):
                try:
                    sub.ws = await websockets.connect(url, **connect_kwargs(sub.token))
                    break
                except (OSError, websockets.InvalidHandshake, TimeoutError):
                    await asyncio.sleep(0.2 * (attempt + 1))
            else:
                self.failed += 1
                return
            hello = orjson.loads(await sub.ws.recv())
            if not resume:
                sub.last = hello["data"]["seq"]
        sub.task = asyncio.create_task(self._read(sub))

    async def _read(self, sub: Sub) -> None:
        try:
            async for text in sub.ws:
                now = time.time_ns()
                frame = orjson.loads(text)
                kind = frame.get("type")
                if kind == "alert.sent":
                    seq = frame["seq"]
                    sub.last = max(sub.last, seq)
                    stamp = stamp_of(frame["data"].get("text", ""))
                    if stamp is not None:
                        if seq not in sub.got:
                            self.latencies.append(now - stamp)
                        sub.got.add(seq)
                        self.received += 1
                elif kind == "replay.done":
                    sub.done_at = now
                    sub.replayed = frame.get("count", 0)
                elif "seq" in frame and isinstance(frame["seq"], int):
                    sub.last = max(sub.last, frame["seq"])
        except websockets.ConnectionClosed:
            pass

    async def connect(self, urls: list[str], tokens: list[str | None], count: int) -> dict:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        start = len(self.subs)
        new = [
            Sub(url=urls[(start + i) % len(urls)], token=tokens[(start + i) % len(tokens)])
            for i in range(count)
        ]
        self.subs.extend(new)
        await asyncio.gather(*(self._open(s, gate, resume=False) for s in new))
        return {"open": sum(1 for s in self.subs if s.ws is not None), "failed": self.failed}

    def progress(self) -> dict:
        return {"received": self.received, "open": sum(1 for s in self.subs if s.ws is not None)}

    def reset(self) -> dict:
        self.latencies = []
        self.received = 0
        for sub in self.subs:
            sub.got = set()
            sub.done_at = 0
        return {}

    def collect(self, expected: list[int]) -> dict:
        want = set(expected)
        lost = sum(len(want - s.got) for s in self.subs if s.ws is not None)
        return {
            "latencies": self.latencies,
            "received": self.received,
            "lost": lost,
            "sockets": sum(1 for s in self.subs if s.ws is not None),
        }

    def caught_up(self, expected: list[int]) -> dict:
        want = set(expected)
        waiting = sum(1 for s in self.subs if not s.done_at or not want <= s.got)
        last = max((s.done_at for s in self.subs), default=0)
        return {
            "waiting": waiting,
            "last_done": last,
            "replayed": sum(s.replayed for s in self.subs),
        }

    async def drop(self) -> dict:
        async def close(sub: Sub) -> None:
            if sub.ws is not None:
                await sub.ws.close()
                if sub.task is not None:
                    await sub.task
            sub.ws = None

        await asyncio.gather(*(close(s) for s in self.subs))
        return {"open": 0}

    async def resume(self) -> dict:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self.failed = 0
        await asyncio.gather(*(self._open(s, gate, resume=True) for s in self.subs))
        return {"open": sum(1 for s in self.subs if s.ws is not None), "failed": self.failed}


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
    urls: list[str], tokens: list[str], *, rate: float, duration: float, lat: float, lng: float
) -> dict:
    """Marshals check in at `rate` per second in total for `duration` s; ack latencies in ns."""
    latencies: list[int] = []
    errors = 0
    per_socket = rate / len(tokens)

    async def marshal(i: int) -> None:
        nonlocal errors
        url = urls[i % len(urls)]
        async with websockets.connect(url, **connect_kwargs(tokens[i])) as ws:
            await ws.recv()  # hello
            sent: dict[str, int] = {}

            async def read() -> None:
                nonlocal errors
                async for text in ws:
                    frame = orjson.loads(text)
                    if frame.get("id") in sent:
                        if frame["type"] == "ack":
                            latencies.append(time.time_ns() - sent.pop(frame["id"]))
                        else:
                            sent.pop(frame["id"])
                            errors += 1

            reader = asyncio.create_task(read())
            start = time.monotonic() + i / rate  # spread the marshals' phases
            n = 0
            while True:
                due = start + n / per_socket
                if due - start > duration:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                frame_id = str(uuid.uuid4())
                sent[frame_id] = time.time_ns()
                data = {"lat": lat, "lng": lng, "status": "ok"}
                frame = {"type": "checkin", "id": frame_id, "data": data}
                await ws.send(orjson.dumps(frame).decode())
                n += 1
            deadline = time.monotonic() + 15
            while sent and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            errors += len(sent)
            reader.cancel()

    began = time.monotonic()
    await asyncio.gather(*(marshal(i) for i in range(len(tokens))))
    return {"latencies": latencies, "errors": errors, "elapsed": time.monotonic() - began}


def ingest_main(conn: Connection, urls, tokens, options: dict) -> None:
    """Entry point of the ingest process: runs once, sends its figures back."""
    raise_fd_limit()
    conn.send(asyncio.run(ingest(urls, tokens, **options)))
