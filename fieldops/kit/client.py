"""A client of the wire contract (docs/protocol.md), as a phone speaks it: join over REST, connect
(resuming with `since`), act (a verb with an id) and await its reply, collect journal entries.

One background reader per socket sorts what arrives: journal entries (frames with `at` and `seq`)
go to `on_entry` or into a bounded list, replies to a frame go to whoever awaits that id, and a
`replay.done` answering `?since=` is kept in `replayed`. Every wait has a timeout.
"""

import asyncio
import json
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable

import orjson
import websockets

TIMEOUT = 30.0  # liveness only: two shared cores, other runs alongside
KEEP = 10_000  # entries kept per socket when no `on_entry` takes them


def http_json(
    base_url: str, method: str, path: str, *, token=None, body=None, headers=None, timeout=TIMEOUT
):
    """A JSON request to the REST API at `base_url` (as given by whoever runs the driver); the
    decoded reply. HTTP errors raise `urllib.error.HTTPError`."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the operator's or the launcher's URL
        f"{base_url.rstrip('/')}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
        method=method,
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def join(base_url: str, *, code: str, callsign: str) -> dict:
    """Redeem an invite as a device does (`POST /api/join`): token, participant, role, ..."""
    return http_json(base_url, "POST", "/api/join", body={"code": code, "callsign": callsign})


def socket_url(base_url: str, slug: str) -> str:
    """The event's WebSocket address on the server at `base_url` (http → ws, https → wss)."""
    return base_url.rstrip("/").replace("http", "ws", 1) + f"/ws/events/{slug}/"


class RefusedError(Exception):
    """The server answered an action with an `error` frame (kept in `.frame`)."""

    def __init__(self, frame: dict):
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.frame = frame


def is_entry(frame: dict) -> bool:
    """A journal entry, as opposed to `hello` and the replies to a client's frames."""
    return "at" in frame and "seq" in frame


def options(token: str | None = None, *, headers: dict | None = None, **extra) -> dict:
    """`websockets.connect` keyword arguments: bearer token, no compression (the server has none),
    no client-side pings, no receive-queue limit (the reader drains it)."""
    all_headers = {**(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    return {
        "additional_headers": all_headers,
        "compression": None,
        "max_queue": None,
        "max_size": None,
        "ping_interval": None,
        "open_timeout": TIMEOUT,
        "close_timeout": 5,
        **extra,
    }


class Client:
    """One socket to an event. `last` is the highest seq seen (hello's, or the `since` asked)."""

    def __init__(self, ws, hello: dict, *, since: int | None, keep: int, on_entry):
        self.ws = ws
        self.hello = hello
        self.last = hello["data"]["seq"] if since is None else since
        self.entries: deque[dict] = deque(maxlen=keep)
        self.on_entry: Callable[[dict, int], None] | None = on_entry
        self.replayed: dict | None = None  # the `replay.done` of a `?since=` resume
        self.replayed_at = 0  # its time.time_ns()
        self._waiting: dict[str, asyncio.Future] = {}
        self._arrived = asyncio.Condition()
        self._watchers = 0
        self.gone = False  # the socket has closed and the reader has stopped
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        token: str | None = None,
        since: int | None = None,
        keep: int = KEEP,
        on_entry: Callable[[dict, int], None] | None = None,
        attempts: int = 1,
        **connect,
    ) -> "Client":
        """Connect (with `?since=` when given), read `hello`, start the reader. Retries a refused
        or timed-out connect `attempts` times in all, backing off."""
        target = url if since is None else f"{url}?since={since}"
        for attempt in range(attempts):
            try:
                ws = await websockets.connect(target, **options(token, **connect))
                break
            except (OSError, websockets.InvalidHandshake, TimeoutError):
                if attempt + 1 == attempts:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if hello.get("type") != "hello":
            await ws.close()
            raise RefusedError(hello)
        return cls(ws, hello, since=since, keep=keep, on_entry=on_entry)

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                now = time.time_ns()
                frame = orjson.loads(text)
                if is_entry(frame):
                    self.last = max(self.last, frame["seq"])
                    if self.on_entry is not None:
                        self.on_entry(frame, now)
                    else:
                        self.entries.append(frame)
                    if self._watchers:
                        async with self._arrived:
                            self._arrived.notify_all()
                    continue
                waiter = self._waiting.pop(frame.get("id"), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
                elif frame.get("type") == "replay.done":
                    self.replayed, self.replayed_at = frame, now
                    if self._watchers:
                        async with self._arrived:
                            self._arrived.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.gone = True
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("the socket closed"))
            async with self._arrived:
                self._arrived.notify_all()

    @property
    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.entries]

    async def send(self, frame: dict) -> asyncio.Future:
        """Send a frame as it is (a resend keeps its id); a future of the reply to its id."""
        future = asyncio.get_running_loop().create_future()
        if frame.get("id"):
            self._waiting[frame["id"]] = future
        await self.ws.send(orjson.dumps(frame).decode())
        return future

    async def submit(self, verb: str, data: dict | None = None, *, frame_id=None) -> asyncio.Future:
        """Send `verb` with a fresh id (or `frame_id`); a future of the server's reply."""
        frame = {"type": verb, "id": str(frame_id or uuid.uuid4()), "data": data or {}}
        return await self.send(frame)

    async def request(
        self, verb: str, data: dict | None = None, *, frame_id=None, timeout: float = TIMEOUT
    ) -> dict:
        """Send a frame and return the reply to it: ack, error, pong or replay.done."""
        future = await self.submit(verb, data, frame_id=frame_id)
        return await asyncio.wait_for(future, timeout)

    async def act(self, verb: str, data: dict, *, frame_id=None, timeout: float = TIMEOUT) -> dict:
        """Send an action and return its `ack` (with the entry's `seq`); raise `RefusedError` on an
        `error`."""
        reply = await self.request(verb, data, frame_id=frame_id, timeout=timeout)
        if reply.get("type") != "ack":
            raise RefusedError(reply)
        return reply

    async def until(self, condition: Callable[[], bool], *, timeout: float = TIMEOUT) -> None:
        """Wait until `condition()` holds, checked on every entry or replay.done that arrives;
        TimeoutError if it never does, ConnectionError if the socket closes first."""

        def settled() -> bool:
            return condition() or self.gone

        self._watchers += 1
        try:
            async with self._arrived:
                await asyncio.wait_for(self._arrived.wait_for(settled), timeout)
        finally:
            self._watchers -= 1
        if not condition():
            raise ConnectionError("the socket closed")

    async def wait_for(
        self, predicate: Callable[[dict], bool], *, timeout: float = TIMEOUT
    ) -> dict:
        """The first kept entry matching `predicate`, waiting for it to arrive if need be."""
        found: list[dict] = []

        def match() -> bool:
            found[:] = [e for e in self.entries if predicate(e)][:1]
            return bool(found)

        await self.until(match, timeout=timeout)
        return found[0]

    async def collect(
        self, *, upto: int, limit: int = KEEP, timeout: float = TIMEOUT
    ) -> list[dict]:
        """The kept entries once one with seq ≥ `upto` has arrived (at most `limit` of them)."""
        await self.until(lambda: self.last >= upto, timeout=timeout)
        return [e for e in self.entries if e["seq"] <= upto][:limit]

    async def closed(self, *, timeout: float = TIMEOUT) -> int | None:
        """Wait for the server to close the socket; its close code."""
        await asyncio.wait_for(asyncio.shield(self.reader), timeout)
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        await self.reader
