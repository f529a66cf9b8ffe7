"""The ingest floor: what a bare server does with one of the bench's check-in frames at the least.
It is parsed, INSERTed as one row in its own transaction (the same database, SQLite in WAL mode or
PostgreSQL, on the same machine), PUBLISHed to Redis, and acked with its seq. No Django, no
authentication, no journal, no safety rules: what Python, the database driver and the Redis client
cost per check-in here.

bench/floor.py takes check-ins this way when it is given a database:

    python -m bench.floor PORT DATABASE_URL REDIS_URL
"""

import sqlite3
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import orjson
import redis

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


def checkin_taker(database_url: str, redis_url: str) -> Callable[[dict], str]:
    """take(frame) -> the text of its ack, once its row is written and its entry published."""
    db, mark = connect(database_url)
    sqlite = isinstance(db, sqlite3.Connection)
    broker = redis.Redis.from_url(redis_url)
    insert = (
        f"INSERT INTO floor_checkin (lat, lng, status, server_time)"  # noqa: S608 - no values
        f" VALUES ({mark}, {mark}, {mark}, {mark}) RETURNING id"
    )

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

    def take(frame: dict) -> str:
        seq = store(frame["data"])
        broker.publish(
            "floor", orjson.dumps({"type": "checkin", "seq": seq, "data": frame["data"]})
        )
        return orjson.dumps({"type": "ack", "id": frame["id"], "seq": seq}).decode()

    return take
