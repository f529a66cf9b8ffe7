"""A phone that stays connected, as the pages behave: whenever its socket closes it connects again,
to the first of its addresses that answers, resumes with `?since=` the highest seq it holds, and
resends every action not acknowledged yet with the same id. It records what it received and what
was acknowledged, for a driver to compare with the journal."""

import asyncio
import uuid

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .client import Client


class Peer:
    """One phone. `urls` are tried in order (its own worker first); `connect` goes to
    `websockets.connect` (`ssl=` for wss)."""

    def __init__(self, urls: list[str], token: str, name: str, *, since: int, **connect):
        self.urls, self.token, self.name, self.connect = urls, token, name, connect
        self.last = since
        self.seqs: list[int] = []  # every journal entry received, in arrival order
        self.outbox: dict[str, dict] = {}  # id -> frame, until acked
        self.acks: dict[str, int] = {}
        self.errors: list[dict] = []  # error frames: the server refused an action
        self.client: Client | None = None
        self.on: int | None = None  # the index in `urls` of the socket open now
        self.reconnects = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until `stop` is set."""
        while not stop.is_set():
            for index, url in enumerate(self.urls):
                if stop.is_set():
                    return
                try:
                    client = await Client.open(
                        url, token=self.token, since=self.last, keep=0, on_entry=self.receive,
                        open_timeout=3, close_timeout=1, **self.connect,
                    )  # fmt: skip
                except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed):
                    await asyncio.sleep(0.2)
                    continue
                self.client, self.on = client, index
                try:
                    for frame in list(self.outbox.values()):  # resend, same ids
                        self.track(await client.send(frame))
                    await client.reader  # until the socket closes
                except ConnectionClosed:
                    pass
                finally:
                    self.client = None
                    self.reconnects += 1
                await asyncio.sleep(0.1)

    def receive(self, entry: dict, _at: int) -> None:
        self.seqs.append(entry["seq"])
        self.last = max(self.last, entry["seq"])

    def track(self, reply: asyncio.Future) -> None:
        def settled(reply: asyncio.Future) -> None:
            if reply.exception() is not None:
                return  # the socket closed first: resent on reconnect
            frame = reply.result()
            if frame["type"] == "ack":
                self.outbox.pop(frame["id"], None)
                self.acks[frame["id"]] = frame["seq"]
            else:
                self.errors.append(frame)

        reply.add_done_callback(settled)

    async def go_home(self) -> None:
        """Back to the first address (as a balancer would spread new connections)."""
        if self.client is not None and self.on != 0:
            await self.client.ws.close()

    async def act(self, verb: str, data: dict) -> None:
        """Send an action now if connected; it stays in the outbox until acknowledged."""
        frame = {"type": verb, "id": str(uuid.uuid4()), "data": data}
        self.outbox[frame["id"]] = frame
        if self.client is not None:
            try:
                self.track(await self.client.send(frame))
            except ConnectionClosed:
                pass  # resent on reconnect

    async def hang_up(self) -> None:
        """Close the socket open now (`run` ends once `stop` is set)."""
        if self.client is not None:
            await self.client.ws.close()
