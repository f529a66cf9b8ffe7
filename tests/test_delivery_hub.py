"""A worker's hub delivers every entry once and in seq order, and repairs from the journal what the
channel layer lost: a publish that never happened, one that arrived late, the last of a burst."""

import asyncio
from collections import deque

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer

from fieldops.services.alerts import alert_send
from realtime import counters, fanout
from realtime import hub as hub_module
from realtime.hub import Hub

from .conftest import connect_as, receive_until


def public_alert(cast, text="public"):
    return alert_send(participant=cast.organizer, text=text)


class Sink:
    def __init__(self):
        self.got: list[int] = []
        self.revoked = 0

    def offer(self, entry) -> bool:  # the hub's fast path: this sink always takes the slow one
        return False

    async def deliver(self, entry):
        self.got.append(entry.seq)

    def revoke(self):
        self.revoked += 1


async def wait_until(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
def lose(monkeypatch):
    """`lose(seqs)`: those entries never reach any hub, as if their publish was lost."""
    lost: set[int] = set()
    real = fanout.hubs_take

    def take(messages):
        real([m for m in messages if m.get("seq") not in lost])

    monkeypatch.setattr(fanout, "hubs_take", take)
    return lost.update


@pytest.fixture
def fast_repair(settings):
    settings.FIELDOPS = {**settings.FIELDOPS, "REPAIR_INTERVAL_SECONDS": 0.1}


def entry_message(event_id, seq, tags=("public", "organizers")):
    return {"type": "journal.entry", "event": event_id, "seq": seq, "audience": list(tags),
            "frame": f'{{"seq": {seq}}}'}  # fmt: skip


@pytest.mark.django_db(transaction=True)
async def test_entries_that_cross_in_the_layer_reach_sockets_in_seq_order(cast):
    hub = Hub(InMemoryChannelLayer())
    sink = Sink()
    key = {"event_id": cast.event.pk, "tags": ["public"], "participant_id": 1, "token_id": None}
    assert await hub.join(sink, **key)
    # Two workers' publishes may reach Redis in either order.
    hub.take([entry_message(cast.event.pk, 2), entry_message(cast.event.pk, 1)])
    hub.take([entry_message(cast.event.pk, 3), entry_message(cast.event.pk, 3)])
    await wait_until(lambda: len(sink.got) == 3)
    assert sink.got == [1, 2, 3]
    await hub.leave(sink, **key)


class FastSink(Sink):
    """A socket that takes every entry on the hub's fast path, and notes when it did."""

    def __init__(self, log: list):
        super().__init__()
        self.log = log

    def offer(self, entry) -> bool:
        self.log.append("delivered")
        return True


@pytest.mark.django_db(transaction=True)
async def test_a_fan_out_to_many_sockets_lets_the_workers_other_work_in_as_it_goes(cast):
    """One entry to thousands of sockets on a worker takes a good part of a second: an SOS's ack,
    a pong, a frame read must not wait until the last socket has it."""
    hub = Hub(InMemoryChannelLayer())
    log: list[str] = []
    sinks = [FastSink(log) for _ in range(2000)]
    for i, sink in enumerate(sinks):
        key = {"event_id": cast.event.pk, "tags": ["public"], "participant_id": i, "token_id": None}
        assert await hub.join(sink, **key)

    async def other_work():  # ready to run as soon as the fan-out begins
        log.append("other")

    hub.take([entry_message(cast.event.pk, 1)])
    await asyncio.sleep(0)  # the hub's dispatcher takes the entry and starts on it
    other = asyncio.get_running_loop().create_task(other_work())
    await wait_until(lambda: log.count("delivered") == len(sinks))
    await other

    assert 0 < log.index("other") < 500, "the other work waited for most of the fan-out"


@pytest.mark.django_db(transaction=True)
async def test_a_lost_publish_is_repaired_from_the_journal_before_what_follows(cast, lose):
    client, _ = await connect_as(cast.marcher)
    repaired_before = counters.snapshot()["entries_from_database"]
    lose({2})
    for n in range(3):
        await database_sync_to_async(public_alert)(cast, f"alert {n}")

    frames = await receive_until(client, lambda f: f.get("seq") == 3)

    assert [f["seq"] for f in frames] == [1, 2, 3]
    assert frames[1]["data"]["text"] == "alert 1"
    assert counters.snapshot()["entries_from_database"] > repaired_before
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_last_entry_lost_with_nothing_after_it_still_arrives(cast, lose, fast_repair):
    # A worker killed between COMMIT and publish, or Redis down: no later entry shows the gap.
    client, _ = await connect_as(cast.organizer)
    lose({1})
    await database_sync_to_async(public_alert)(cast, "lost, then found")

    frame = await client.receive_json_from(timeout=5)

    assert frame["seq"] == 1 and frame["data"]["text"] == "lost, then found"
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_repair_delivers_only_what_each_socket_may_see(cast, lose):
    from fieldops.services.arrests import arrest_log

    marcher, _ = await connect_as(cast.marcher)
    legal, _ = await connect_as(cast.legal)
    lose({1, 2})
    await database_sync_to_async(arrest_log)(participant=cast.legal, lat=40.4153, lng=-3.6941)
    await database_sync_to_async(public_alert)(cast, "seen by all")
    await database_sync_to_async(public_alert)(cast, "the one that shows the gap")

    legal_frames = await receive_until(legal, lambda f: f.get("seq") == 3)
    marcher_frames = await receive_until(marcher, lambda f: f.get("seq") == 3)

    assert [f["seq"] for f in legal_frames] == [1, 2, 3]
    assert [f["seq"] for f in marcher_frames] == [2, 3]  # never the arrest
    await marcher.disconnect()
    await legal.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_publish_that_fails_still_acks_the_committed_action(cast, monkeypatch):
    # The commit happened: `unavailable` would make the phone resend what is already saved.
    def broken(messages):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(fanout, "hubs_take", broken)
    client, _ = await connect_as(cast.marshal_a)
    await client.send_json_to(
        {"type": "checkin", "id": "6d1e0c8e-3a51-4f1e-9d43-31a4ab0e3b11",
         "data": {"lat": 40.4193, "lng": -3.6932}}
    )  # fmt: skip
    reply = await client.receive_json_from(timeout=5)
    assert reply["type"] == "ack" and reply["seq"] == 1
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_revocation_lost_with_the_entries_is_found_by_the_repair(cast, lose, monkeypatch):
    from marshals.services import participant_revoke

    client, _ = await connect_as(cast.marshal_a)
    monkeypatch.setattr(fanout, "publish_revocation", lambda **kwargs: None)
    lose({1})
    await database_sync_to_async(participant_revoke)(
        participant=cast.organizer, target=cast.marshal_a.pk
    )
    await database_sync_to_async(public_alert)(cast, "shows the gap")
    closed = await client.receive_output(timeout=5)
    while closed["type"] != "websocket.close":
        closed = await client.receive_output(timeout=5)
    assert closed["code"] == 4403


@pytest.mark.django_db(transaction=True)
async def test_sockets_per_credential_are_capped(cast, settings):
    from .conftest import communicator_for
    from .factories import issue_token

    settings.FIELDOPS = {**settings.FIELDOPS, "MAX_SOCKETS_PER_CREDENTIAL": 2}
    token = await database_sync_to_async(issue_token)(cast.marcher)
    clients = [communicator_for(cast.marcher, token=token) for _ in range(3)]
    for client in clients[:2]:
        assert (await client.connect())[0]
        assert (await client.receive_json_from())["type"] == "hello"
    assert (await clients[2].connect())[0]
    closed = await clients[2].receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4429}
    before = counters.snapshot()["sockets_refused"]
    assert before >= 1
    # Another device of the same participant is another credential.
    other = communicator_for(
        cast.marcher, token=await database_sync_to_async(issue_token)(cast.marcher)
    )
    assert (await other.connect())[0]
    assert (await other.receive_json_from())["type"] == "hello"
    for client in [*clients[:2], other]:
        await client.disconnect()


def test_the_in_memory_layer_needs_no_publisher():
    from realtime.redis_publish import publisher_for

    assert publisher_for(InMemoryChannelLayer()) is None


async def test_entries_published_from_a_thread_reach_a_hub_on_the_redis_layer(tmp_path):
    # The publisher thread PUBLISHes with a blocking client beside channels_redis; a worker's
    # hub, subscribed through the layer the workers run, must hear each entry, in order.
    from realtime.layer import PubSubLayer
    from realtime.redis_publish import publisher_for

    from .servers import redis_server

    with redis_server(tmp_path) as url:
        layer = PubSubLayer(hosts=[url])
        publisher = publisher_for(layer)
        assert publisher is not None and publisher.ping()
        hub = Hub(layer)
        feed = hub_module.Feed(7)
        hub.feeds[7] = feed
        await hub._subscribe(feed)
        feed.delivered = 0
        sink = Sink()
        feed.add(sink, ["public"], 1, None)
        hub.tasks.append(asyncio.get_running_loop().create_task(hub._dispatch()))
        publisher.publish([("ev7", entry_message(7, seq)) for seq in range(1, 51)])
        await wait_until(lambda: len(sink.got) == 50)
        for task in hub.tasks:
            task.cancel()
        await layer.flush()
    assert sink.got == list(range(1, 51))


class StuckTransport:
    """A socket whose phone stopped reading: nothing it is sent leaves the server."""

    def __init__(self):
        self.reading = False
        self.aborted = False

    def ready(self):
        return self.reading

    def can_send(self):
        return self.reading

    def buffered(self):
        return 0 if self.reading else 10**6

    def abort(self):
        self.aborted = True


async def test_a_socket_that_does_not_read_holds_a_bounded_backlog_then_falls_behind():
    from realtime.delivery import Delivery
    from realtime.hub import Entry

    sent, behind = [], []

    async def send(entry):
        sent.append(entry.seq)

    async def on_behind():
        behind.append(True)

    async def on_revoke():
        pass

    transport = StuckTransport()
    delivery = Delivery(send, transport=transport, on_behind=on_behind, on_revoke=on_revoke,
                        limits=(5, 10_000, 30.0))  # fmt: skip
    for seq in range(1, 6):
        await delivery.deliver(Entry(seq, ("public",), "x" * 100))
    assert sent == [] and len(delivery.backlog) == 5
    transport.reading = True  # the phone reads again: the backlog goes out, in order
    await wait_until(lambda: sent == [1, 2, 3, 4, 5])

    transport.reading = False
    for seq in range(6, 13):
        await delivery.deliver(Entry(seq, ("public",), "x" * 100))
    await asyncio.sleep(0)
    assert behind == [True] and delivery.closed and not delivery.backlog
    await delivery.deliver(Entry(13, ("public",), "x"))
    assert sent == [1, 2, 3, 4, 5] and behind == [True]


def test_an_entry_is_written_at_once_only_when_nothing_stands_before_it():
    """The hub's fast path (Delivery.offer) never jumps a socket's own frames, its backlog or a
    full server buffer: then the entry takes the awaited path, which holds it in order. An entry
    the socket had already (its replay, or through a second tag) is dropped on either path."""
    from realtime.delivery import Delivery
    from realtime.hub import entry_of

    written = []

    class Wire(StuckTransport):
        def send_wire(self, wire):  # as the server's: only when it takes the frame now
            if not self.reading:
                return False
            written.append(wire)
            return True

    async def unused(*args):
        raise AssertionError("not on this path")

    def entry(seq):
        return entry_of(seq, ["public"], f"entry {seq}")

    transport = Wire()
    transport.reading = True
    delivery = Delivery(unused, transport=transport, on_behind=unused, on_revoke=unused,
                        limits=(5, 10_000, 30.0))  # fmt: skip
    assert delivery.offer(entry(1)) and written == [entry(1).wire]
    assert delivery.offer(entry(1)) and len(written) == 1, "here again by a second tag: dropped"
    delivery.busy = 1  # the socket is handling a frame of its own
    assert not delivery.offer(entry(2))
    delivery.busy = 0
    delivery.backlog = deque([entry(2)])  # something waits already
    assert not delivery.offer(entry(3))
    delivery.backlog = None
    transport.reading = False  # the server's buffer is full
    assert not delivery.offer(entry(3))
    delivery.covered = 9  # a replay sends up to 9
    assert delivery.offer(entry(9)) and len(written) == 1
    delivery.close()
    assert delivery.offer(entry(10)), "a closed socket takes nothing, at once"
    assert len(written) == 1 and delivery.went_live(1) and not delivery.went_live(2)


@pytest.mark.django_db(transaction=True)
async def test_no_writer_waits_for_redis(cast, monkeypatch):
    # Redis that hangs (redis-py retrying, a blackholed host): publishes are stuck until the end
    # of the test, yet every action is committed and acked, one after the other, meanwhile.
    import threading

    from realtime.redis_publish import Publisher

    release = threading.Event()
    written = []

    class HangingRedis(Publisher):
        def write(self, sends):
            release.wait(10)
            written.extend(sends)

    hanging = HangingRedis()
    monkeypatch.setattr(fanout, "publisher_for", lambda layer: hanging)
    client, _ = await connect_as(cast.marshal_a)
    try:
        for n in range(3):
            frame_id = f"6d1e0c8e-3a51-4f1e-9d43-31a4ab0e3b1{n}"
            await client.send_json_to(
                {"type": "checkin", "id": frame_id, "data": {"lat": 40.4193, "lng": -3.6932}}
            )
            replies = await receive_until(client, lambda f, i=frame_id: f.get("id") == i, timeout=5)
            assert replies[-1]["type"] == "ack"
        assert written == []  # the first publish is still hanging
    finally:
        release.set()
    await wait_until(lambda: len(written) == 3)
    assert [message["seq"] for _, message in written] == [1, 2, 3]
    await client.disconnect()


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_an_entry_framed_once_is_byte_for_byte_the_servers_own_frame(size):
    """An entry is framed once for all its sockets (realtime/transport.py): the bytes must be what
    uvicorn's websockets would have written for each."""
    from websockets.frames import Frame, Opcode

    from realtime.transport import wire_frame

    data = ("é" * size).encode()[:size]
    assert wire_frame(data) == Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
