"""The ingest floor: a bare `websockets` server that takes the bench's check-in frames as Fieldops
does at the least: each one is parsed, INSERTed as one row in its own transaction (the same
database, SQLite in WAL mode or PostgreSQL, on the same machine), PUBLISHed to Redis, and acked
with its seq. No Django, no authentication, no journal, no safety rules: what Python, the database
driver and the Redis client cost per check-in here.

    python -m bench.ingest_floor PORT DATABASE_URL REDIS_URL
"""

import asyncio
import sqlite3
import sys
import time
from urllib.parse import urlsplit

import orjson
import redis
import websockets

from .stack import raise_fd_limit

TABLE = (
    "CREATE TABLE IF NOT EXISTS floor_checkin (id {pk}, lat DOUBLE PRECISION NOT NULL,"
    " lng DOUBLE PRECISION NOT NULL, status VARCHAR(10) NOT NULL, server_time DOUBLE PRECISION)"
)


def connect(url: str):
    """A DB-API connection and its placeholder: SQLite (WAL, as Fieldops opens it) or PostgreSQL."""
    if url.startswith("sqlite:///"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(TABLE.format(pk="INTEGER PRIMARY KEY AUTOINCREMENT"))
        return db, "?"
    import psycopg

    parts = urlsplit(url)
    db = psycopg.connect(
        host=parts.hostname, port=parts.port, user=parts.username, dbname=parts.path.lstrip("/")
    )
    with db.cursor() as cursor:
        cursor.execute(TABLE.format(pk="BIGSERIAL PRIMARY KEY"))
    db.commit()
    return db, "%s"


async def serve(port: int, database_url: str, redis_url: str) -> None:
    db, mark = connect(database_url)
    sqlite = isinstance(db, sqlite3.Connection)
    broker = redis.Redis.from_url(redis_url)
    insert = (
        f"INSERT INTO floor_checkin (lat, lng, status, server_time)"  # noqa: S608 - no values
        f" VALUES ({mark}, {mark}, {mark}, {mark}) RETURNING id"
    )
    state = {"seq": 0}

    def store(data: dict) -> int:
        row = (data["lat"], data["lng"], data.get("status", "ok"), time.time())
        if sqlite:
            db.execute("BEGIN IMMEDIATE")
            seq = db.execute(insert, row).fetchone()[0]
            db.execute("COMMIT")
            return seq
        with db.cursor() as cursor:
            cursor.execute(insert, row)
            seq = cursor.fetchone()[0]
        db.commit()
        return seq

    async def handler(ws) -> None:
        hello = {"type": "hello", "data": {"protocol": 1, "role": "marshal", "seq": state["seq"]}}
        await ws.send(orjson.dumps(hello).decode())
        async for text in ws:
            frame = orjson.loads(text)
            seq = store(frame["data"])
            state["seq"] = seq
            entry = orjson.dumps({"type": "checkin", "seq": seq, "data": frame["data"]})
            broker.publish("floor", entry)
            await ws.send(orjson.dumps({"type": "ack", "id": frame["id"], "seq": seq}).decode())

    async with websockets.serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=None, max_queue=None
    ):
        await asyncio.Future()


def main() -> None:
    raise_fd_limit()
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2], sys.argv[3]))


if __name__ == "__main__":
    main()
