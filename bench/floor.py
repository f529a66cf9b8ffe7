"""The floor: a bare `websockets` broadcast server speaking just enough of the Fieldops protocol.

Subscribers get a `hello` with the latest seq; a publisher on /pub sends `alert.send` frames and each
one is numbered, serialized once and handed to `websockets.broadcast()` for every subscriber, then
acknowledged. A subscriber's `resume` (or `?since=` in its connect request) gets the entries after
its `since` from memory, then `replay.done`: the reconnect storm's floor. Same clients, same frame
shapes, no Django, no Redis, no database: what Python and the `websockets` library cost per
delivery on this machine.

Given a database and a Redis, it takes check-ins too, on any socket, as bench/ingest_floor.py does
(one INSERT, one PUBLISH, one ack): the ingest floor, alone and while alerts fan out.

    python -m bench.floor PORT [DATABASE_URL REDIS_URL]
"""

import asyncio
import sys
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import orjson
import websockets

from .ingest_floor import checkin_taker
from .stack import raise_fd_limit


async def serve(port: int, take_checkin=None) -> None:
    subscribers: set = set()
    state = {"seq": 0}
    entries: list[str] = []  # entries[seq - 1] is the text of entry seq

    async def handler(ws) -> None:
        hello = {"type": "hello", "data": {"protocol": 1, "role": "marcher", "seq": state["seq"]}}
        await ws.send(orjson.dumps(hello).decode())
        if ws.request.path == "/pub":
            async for text in ws:
                frame = orjson.loads(text)
                state["seq"] += 1
                seq = state["seq"]
                entry = {
                    "type": "alert.sent",
                    "seq": seq,
                    "at": datetime.now(UTC).isoformat(),
                    "data": {"audience": "public", "level": "info", "text": frame["data"]["text"]},
                }
                entries.append(orjson.dumps(entry).decode())
                websockets.broadcast(subscribers, entries[-1])
                await ws.send(orjson.dumps({"type": "ack", "id": frame["id"], "seq": seq}).decode())
            return
        subscribers.add(ws)

        async def replay(frame_id, since: int) -> None:
            upto = state["seq"]
            missed = entries[since:upto]
            for entry in missed:
                await ws.send(entry)
            done = {"type": "replay.done", "id": frame_id, "seq": upto, "count": len(missed)}
            await ws.send(orjson.dumps(done).decode())

        try:
            since = parse_qs(urlsplit(ws.request.path).query).get("since")
            if since:  # asked for in the connect request
                await replay(None, int(since[-1]))
            async for text in ws:
                frame = orjson.loads(text)
                if frame.get("type") == "resume":
                    await replay(frame["id"], frame["data"]["since"])
                elif frame.get("type") == "checkin" and take_checkin is not None:
                    await ws.send(take_checkin(frame))
        finally:
            subscribers.discard(ws)

    async with websockets.serve(
        handler,
        "127.0.0.1",
        port,
        compression=None,
        ping_interval=None,
        max_queue=None,
        backlog=4096,
    ):
        await asyncio.Future()


def main() -> None:
    raise_fd_limit()
    port, *database_and_redis = sys.argv[1:]
    take = checkin_taker(*database_and_redis) if database_and_redis else None
    asyncio.run(serve(int(port), take))


if __name__ == "__main__":
    main()
