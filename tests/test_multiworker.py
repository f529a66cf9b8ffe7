"""Two real daphne workers sharing one real redis-server and one SQLite database.

Clients are the kit's protocol client (fieldops/kit/client.py) holding bearer tokens from
POST /api/join, as a phone would be. The scenario functions here take a running stack, so test_postgres.py runs them on PostgreSQL too.
Each runs on its own event loop in a thread (`drive`), so no other loop in the session can interfere.
"""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from fieldops.kit.client import Client

from .servers import Stack, fieldops_stack

pytestmark = pytest.mark.multiworker

A, B = 0, 1
TIMEOUT = 30.0  # liveness only: two shared cores, other test runs alongside
ON_ROUTE = {"lat": 40.4193, "lng": -3.6932}  # a point of the demo route, away from its danger zone
NEW_ROUTE = [[-3.6903, 40.4253], [-3.6886, 40.4200], [-3.6920, 40.4078]]


@pytest.fixture(scope="module")
def stack():
    with fieldops_stack(servers=("daphne", "daphne")) as running:
        yield running


@pytest.fixture(scope="module")
def organizer(stack) -> dict:
    """One organizer for the module: the demo invite allows only a few joins."""
    return stack.join("organizer", "org-mw")


def drive(coro, *, timeout: float = 300):
    """Run a scenario coroutine to completion on a fresh event loop in its own thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coro, timeout)).result()


# --- client -------------------------------------------------------------------------------------------


async def connect(stack: Stack, worker: int, token: str) -> Client:
    return await Client.open(stack.ws_url(worker), token=token)


async def seq_of(client: Client, verb: str, data: dict) -> int:
    """Send an action and return the seq of its journal entry (the ack)."""
    return (await client.act(verb, data))["seq"]


# --- scenarios (also run on PostgreSQL) ------------------------------------------------------------


async def checkin_on_a_reaches_organizer_on_b(stack: Stack, organizer_token: str) -> None:
    marshal = stack.join("marshal", f"m-{uuid.uuid4().hex[:6]}")
    watcher = await connect(stack, B, organizer_token)
    sender = await connect(stack, A, marshal["token"])
    try:
        seq = await seq_of(sender, "checkin", {**ON_ROUTE, "status": "need_help", "note": "cross"})
        entry = await watcher.wait_for(lambda e: e["seq"] == seq)
        assert entry["type"] == "checkin"
        assert entry["data"]["participant"] == marshal["participant"]
        assert entry["data"]["status"] == "need_help"
    finally:
        await sender.close()
        await watcher.close()


async def resend_to_the_other_worker_gets_the_original_ack(stack: Stack, organizer_token: str):
    """A phone that lost the ack resends the same frame, reconnected to another worker."""
    marshal = stack.join("marshal", f"m-{uuid.uuid4().hex[:6]}")
    frame = {"type": "checkin", "id": str(uuid.uuid4()), "data": {**ON_ROUTE, "status": "ok"}}
    first = await connect(stack, A, marshal["token"])
    again = await connect(stack, B, marshal["token"])
    try:
        acks = []
        for client in (first, again):
            acks.append(await asyncio.wait_for(await client.send(frame), TIMEOUT))
        assert acks[0]["type"] == "ack" and acks[1] == acks[0]
    finally:
        await first.close()
        await again.close()


async def marcher_on_b_gets_route_change_from_a_and_nothing_else(
    stack: Stack, organizer_token: str
) -> None:
    marshal = stack.join("marshal", f"m-{uuid.uuid4().hex[:6]}")
    legal = stack.join("legal", f"l-{uuid.uuid4().hex[:6]}")
    marcher_token = stack.join("marcher", "")["token"]
    marcher = await connect(stack, B, marcher_token)
    org = await connect(stack, A, organizer_token)
    field = await connect(stack, A, marshal["token"])
    observer = await connect(stack, A, legal["token"])
    try:
        await field.act("checkin", ON_ROUTE)
        await field.act(
            "incident.report", {**ON_ROUTE, "kind": "crowd", "severity": "low", "description": "x"}
        )
        await observer.act("arrest.log", {**ON_ROUTE, "people_count": 1, "notes": "test"})
        route_seq = await seq_of(org, "route.publish", {"geometry": {"type": "LineString",
                                                                     "coordinates": NEW_ROUTE}})  # fmt: skip
        entry = await marcher.wait_for(lambda e: e["seq"] >= route_seq)
        assert entry["type"] == "route.published"
        assert entry["data"]["geometry"]["coordinates"] == NEW_ROUTE
        # Entries leave in seq order, so anything earlier would already have arrived.
        assert [e["type"] for e in marcher.entries] == ["route.published"]
        # And the journal agrees: a fresh marcher socket replaying the same span gets the same.
        again = await connect(stack, A, marcher_token)
        try:
            done = await again.request("resume", {"since": marcher.hello["data"]["seq"]})
            assert done["type"] == "replay.done"
            replayed = [e for e in again.entries if e["seq"] <= route_seq]
            assert [e["type"] for e in replayed] == ["route.published"]
        finally:
            await again.close()
    finally:
        for client in (marcher, org, field, observer):
            await client.close()


async def parallel_writers_get_gapless_ordered_seqs(
    stack: Stack, organizer_token: str, *, writers: int = 6, each: int = 10
) -> None:
    tokens = [
        stack.join("marshal", f"w{i}-{uuid.uuid4().hex[:4]}")["token"] for i in range(writers)
    ]
    watchers = [await connect(stack, A, organizer_token), await connect(stack, B, organizer_token)]
    start = watchers[0].hello["data"]["seq"]
    senders = [await connect(stack, i % 2, token) for i, token in enumerate(tokens)]

    async def write(client: Client) -> list[int]:
        return [await seq_of(client, "checkin", ON_ROUTE) for _ in range(each)]

    try:
        acked = [seq for seqs in await asyncio.gather(*(write(s) for s in senders)) for seq in seqs]
        assert len(acked) == len(set(acked)) == writers * each
        last = max(acked)
        journal = stack.http(
            A, "GET", f"/api/events/{stack.slug}/journal?since={start}", token=organizer_token
        )["entries"]
        seqs = [e["seq"] for e in journal if e["seq"] <= last]
        assert seqs == list(range(start + 1, last + 1)), "journal has a gap or a duplicate"
        assert set(acked) <= set(seqs)
        for watcher in watchers:
            seen = [e["seq"] for e in await watcher.collect(upto=last)]
            assert seen == sorted(set(seen)), "a live client saw entries out of order or twice"
            assert set(acked) <= set(seen)
    finally:
        for client in watchers + senders:
            await client.close()


async def dropped_client_resumes_while_traffic_continues(stack: Stack, organizer: dict) -> None:
    marshal = stack.join("marshal", "m-steady")
    sender = await connect(stack, A, marshal["token"])
    watcher = await connect(stack, B, organizer["token"])
    start = watcher.hello["data"]["seq"]
    total = 40
    acked: list[int] = []
    halfway, dropped, resuming = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def keep_writing() -> None:
        # Some entries before the drop, some while disconnected, the last ones during the replay.
        for i in range(total):
            if i == total // 3:
                halfway.set()
                await dropped.wait()
            if i == total - 10:
                await resuming.wait()
            acked.append(await seq_of(sender, "checkin", {**ON_ROUTE, "note": f"n{i}"}))

    async def written(count: int) -> None:
        while len(acked) < count:
            if writing.done():
                writing.result()  # re-raise the writer's failure here
            await asyncio.sleep(0.05)

    writing = asyncio.create_task(keep_writing())
    try:
        await asyncio.wait_for(halfway.wait(), TIMEOUT)
        before = await watcher.collect(upto=acked[-1])
        await watcher.close()  # the phone loses its connection mid-march
        dropped.set()
        await asyncio.wait_for(written(total - 10), TIMEOUT)  # written on A while we are away
        resumed = await connect(stack, B, organizer["token"])
        try:
            reply = await resumed.submit("resume", {"since": before[-1]["seq"]})
            resuming.set()
            assert (await asyncio.wait_for(reply, TIMEOUT))["type"] == "replay.done"
            await writing
            seqs = [e["seq"] for e in before + await resumed.collect(upto=max(acked))]
            assert len(seqs) == len(set(seqs)), "an entry arrived twice"
            # The organizer may see everything, so what it got must be every seq, in order.
            assert seqs == list(range(start + 1, seqs[-1] + 1))
            assert set(acked) <= set(seqs)
        finally:
            await resumed.close()
    finally:
        writing.cancel()
        await sender.close()


async def revoked_participant_socket_closes_on_other_worker(stack: Stack, organizer: dict) -> None:
    marshal = stack.join("marshal", "m-revoked")
    victim = await connect(stack, B, marshal["token"])
    try:
        stack.http(
            A,
            "POST",
            f"/api/events/{stack.slug}/revocations",
            token=organizer["token"],
            body={"participant": marshal["participant"]},
        )
        assert await victim.closed() == 4403
    finally:
        await victim.close()


# --- tests --------------------------------------------------------------------------------------------


def test_checkin_sent_to_worker_a_reaches_organizer_on_worker_b(stack, organizer):
    drive(checkin_on_a_reaches_organizer_on_b(stack, organizer["token"]))


def test_a_resend_through_the_other_worker_gets_the_original_ack(stack, organizer):
    drive(resend_to_the_other_worker_gets_the_original_ack(stack, organizer["token"]))


def test_marcher_on_worker_b_gets_route_change_from_a_and_no_field_reports(stack, organizer):
    drive(marcher_on_b_gets_route_change_from_a_and_nothing_else(stack, organizer["token"]))


def test_dropped_client_resumes_without_gap_or_duplicate_while_traffic_continues(stack, organizer):
    drive(dropped_client_resumes_while_traffic_continues(stack, organizer))


def test_revoking_a_participant_closes_their_socket_on_the_other_worker(stack, organizer):
    drive(revoked_participant_socket_closes_on_other_worker(stack, organizer))


def test_parallel_writers_through_two_workers_get_gapless_seqs_seen_in_order(stack, organizer):
    drive(parallel_writers_get_gapless_ordered_seqs(stack, organizer["token"]))
