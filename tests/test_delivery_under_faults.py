"""Nothing acknowledged is lost and every socket sees everything it may see, in order, once, while
a worker is killed, Redis is killed, and a worker is frozen, under steady traffic.

Real processes: redis-server, SQLite or PostgreSQL, one daphne and one uvicorn worker started by
deploy/worker. Clients are the kit's phones (fieldops/kit/peer.py), behaving as the pages do: they
resume with `?since=` the highest seq they hold, and resend an unacknowledged action with
the same id.
Everything is asserted from the outside, against the journal in the database. Each fault's catch-up
time (from the end of the fault until every watcher holds an alert written right after it) is
printed; run with `-s` to see it.
"""

import asyncio
import functools
import json
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from fieldops.kit.peer import Peer

from .servers import FaultStack, fault_stack

pytestmark = pytest.mark.multiworker

ON_ROUTE = {"lat": 40.4193, "lng": -3.6932}
MARSHALS = 4
CHECKINS_PER_SECOND = 4  # each
SETTLE_SECONDS = 30.0  # liveness bound for catching up after a fault (two shared cores)


def journal_rows(stack: FaultStack) -> list[tuple[int, str, str | None]]:
    """(seq, audience, client id) of every journal entry, straight from the database."""
    sql = "SELECT seq, audience, client_id FROM fieldops_journalentry ORDER BY seq"
    if stack.database_url.startswith("sqlite"):
        with sqlite3.connect(stack.database_url.removeprefix("sqlite:///")) as db:
            rows = db.execute(sql).fetchall()
    else:
        import psycopg

        with psycopg.connect(stack.database_url) as db:
            rows = db.execute(sql).fetchall()
    return [
        (seq, audience, str(uuid.UUID(str(cid))) if cid else None) for seq, audience, cid in rows
    ]


def readiness(stack: FaultStack) -> tuple[int, list[str]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{stack.ports[0]}/readyz", timeout=5) as r:
            return r.status, json.loads(r.read())["down"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["down"]


def subscribers(stack: FaultStack) -> int:
    """How many workers Redis says are subscribed to the event's stream."""
    import redis

    client = redis.Redis(port=stack.redis.port, socket_timeout=2)
    try:
        channels = client.pubsub_channels("asgi__group__ev*")
        return max((n for _, n in client.pubsub_numsub(*channels)), default=0) if channels else 0
    finally:
        client.close()


def post_alert(stack: FaultStack, token: str, text: str) -> int:
    """A public alert through whichever worker answers; returns its seq."""
    body = {"text": text, "audience": "public", "level": "info"}
    key = {"Idempotency-Key": str(uuid.uuid5(uuid.NAMESPACE_OID, text))}
    for _ in range(100):
        for worker in range(len(stack.ports)):
            try:
                return stack.http(
                    worker, "POST", f"/api/events/{stack.slug}/alerts",
                    token=token, body=body, headers=key, timeout=3,
                )["seq"]  # fmt: skip
            except OSError:
                continue
        time.sleep(0.2)
    raise AssertionError(f"no worker took the alert {text!r}")


async def traffic(marshals: list[Peer], stop: asyncio.Event, position: dict) -> None:
    """Every marshal checks in at `position`, CHECKINS_PER_SECOND times a second, until `stop`."""
    n = 0
    while not stop.is_set():
        n += 1
        for m in marshals:
            await m.act("checkin", {**position, "status": "ok", "note": f"n{n}"})
        await asyncio.sleep(1 / CHECKINS_PER_SECOND)


async def caught_up(watchers: list[Peer], post: Callable[[str], int], label: str) -> float:
    """Write a marker alert after a fault (`post` writes it and returns its seq) and time until
    every watcher holds it."""
    began = time.monotonic()
    seq = await asyncio.get_running_loop().run_in_executor(None, post, f"after {label}")
    while any(seq not in w.seqs for w in watchers):
        assert time.monotonic() - began < SETTLE_SECONDS, f"not caught up after {label}"
        await asyncio.sleep(0.05)
    return round(time.monotonic() - began, 2)


async def settled(marshals: list[Peer]) -> None:
    """Until every action the marshals sent is acknowledged."""
    began = time.monotonic()
    while any(m.outbox for m in marshals):
        assert time.monotonic() - began < SETTLE_SECONDS, "actions never acknowledged"
        await asyncio.sleep(0.1)


async def scenario(stack: FaultStack) -> dict:
    loop = asyncio.get_running_loop()
    joined = {
        role: [stack.join(role, f"{role[:3]}-{i}") for i in range(count)]
        for role, count in (("organizer", 3), ("marcher", 2), ("marshal", MARSHALS))
    }
    start = stack.http(0, "GET", f"/api/events/{stack.slug}", token=joined["organizer"][0]["token"])
    since = start["seq"]
    alerter = joined["organizer"].pop()["token"]

    def phone(joined: dict, name: str, prefer: int) -> Peer:
        urls = [stack.ws_url(prefer), stack.ws_url(1 - prefer)]
        return Peer(urls, joined["token"], name, since=since)

    watchers = [
        phone(j, f"{role}-{i}", i % 2)
        for role in ("organizer", "marcher")
        for i, j in enumerate(joined[role])
    ]
    marshals = [phone(j, f"marshal-{i}", i % 2) for i, j in enumerate(joined["marshal"])]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in watchers + marshals]
    tasks.append(asyncio.create_task(traffic(marshals, stop, ON_ROUTE)))

    async def catch_up(label: str) -> float:
        return await caught_up(watchers, functools.partial(post_alert, stack, alerter), label)

    figures = {}
    await asyncio.sleep(3)
    figures["steady"] = await catch_up("steady traffic")

    stack.workers[1].kill()  # kill -9 the uvicorn worker, then a new one on its port
    await asyncio.sleep(1)
    await loop.run_in_executor(None, stack.workers[1].start)
    figures["worker killed"] = await catch_up("worker killed")
    for peer in watchers + marshals:
        await peer.go_home()
    await asyncio.sleep(2)

    stack.redis.kill()  # kill -9 redis-server; back a few seconds later on the same port
    # While it is down: actions are acked (the marshals keep going), joins work, entries still
    # reach every worker's sockets (from the journal), and /readyz names what is down.
    figures["redis down"] = await catch_up("an alert while redis is down")
    late = await loop.run_in_executor(None, stack.join, "marcher", "joined-while-down")
    assert late["token"]
    assert await loop.run_in_executor(None, readiness, stack) == (503, ["channel_layer"])
    await loop.run_in_executor(None, stack.redis.start)
    figures["redis restarted"] = await catch_up("redis restarted")
    # Back at full speed: every worker is subscribed to the event again.
    began = time.monotonic()
    while await loop.run_in_executor(None, subscribers, stack) < len(stack.workers):
        assert time.monotonic() - began < SETTLE_SECONDS, "workers never resubscribed:\n" + "".join(
            w.logs()[-3000:] for w in stack.workers
        )
        await asyncio.sleep(0.2)
    assert await loop.run_in_executor(None, readiness, stack) == (200, [])
    await asyncio.sleep(1)

    stack.workers[0].pause()  # freeze the daphne worker for 5 s
    await asyncio.sleep(5)
    stack.workers[0].resume()
    figures["worker frozen 5 s"] = await catch_up("worker frozen")
    await asyncio.sleep(1)

    # Stop writing; let every phone settle its outbox and every watcher reach the end.
    tasks[-1].cancel()
    await settled(marshals)
    began = time.monotonic()
    final = await catch_up("the end")
    rows = await loop.run_in_executor(None, journal_rows, stack)
    last = rows[-1][0]
    while any(w.last < last and w.name.startswith("organizer") for w in watchers):
        assert time.monotonic() - began < SETTLE_SECONDS, "organizers never reached the end"
        await asyncio.sleep(0.05)
    figures["final"] = final
    stop.set()
    for peer in watchers + marshals:
        await peer.hang_up()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"since": since, "rows": rows, "watchers": watchers, "marshals": marshals,
            "figures": figures}  # fmt: skip


def assert_nothing_lost(
    rows: list[tuple[int, str, str | None]], since: int, watchers: list[Peer], marshals: list[Peer]
) -> dict[str, int]:
    """Against the journal's `rows` after `since`: no action refused, every acknowledged one
    written once at its acked seq, seqs gapless, and every watcher (organizers: everything, the
    others: what is public) got exactly what it may see, in order, once. Returns the acks."""
    for peer in watchers + marshals:
        assert not peer.errors, f"{peer.name}: {peer.errors}"
    # Every acked id is in the journal exactly once, at its acked seq.
    by_client = {}
    for seq, _, client_id in rows:
        if client_id:
            assert client_id not in by_client, f"{client_id} written twice"
            by_client[client_id] = seq
    acked = {i: s for m in marshals for i, s in m.acks.items()}
    assert {i: by_client.get(i) for i in acked} == acked
    # Seqs are gapless.
    assert [r[0] for r in rows] == list(range(since + 1, since + 1 + len(rows)))

    everything = [seq for seq, _, _ in rows]
    public = [seq for seq, audience, _ in rows if " public " in audience]
    for watcher in watchers:
        expected = everything if watcher.name.startswith("organizer") else public
        got = watcher.seqs
        assert got == sorted(set(got)), f"{watcher.name}: duplicates or out of order"
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        assert not missing and not extra, (
            f"{watcher.name} missing {missing[:20]} extra {extra[:20]}"
        )
    return acked


def run_faults(*, postgres: bool) -> None:
    with fault_stack(servers=("daphne", "uvicorn"), postgres=postgres) as stack:
        with ThreadPoolExecutor(max_workers=1) as pool:
            result = pool.submit(asyncio.run, asyncio.wait_for(scenario(stack), 150)).result()
        logs = "".join(w.logs() for w in stack.workers)
    since, rows = result["since"], [r for r in result["rows"] if r[0] > result["since"]]
    database = "PostgreSQL" if postgres else "SQLite"
    print(f"\ncatch-up after each fault ({database}, daphne + uvicorn):", result["figures"])
    print(
        "entries:", len(rows), "reconnects:",
        {p.name: p.reconnects for p in result["watchers"] + result["marshals"]},
    )  # fmt: skip

    acked = assert_nothing_lost(rows, since, result["watchers"], result["marshals"])
    assert len(acked) > 50
    assert "Traceback" not in logs, logs[-4000:]


def test_delivery_survives_a_killed_worker_a_killed_redis_and_a_frozen_worker_on_sqlite():
    run_faults(postgres=False)


def test_delivery_survives_a_killed_worker_a_killed_redis_and_a_frozen_worker_on_postgresql():
    run_faults(postgres=True)
