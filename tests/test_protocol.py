"""Wire protocol v1 over the event socket: hello, ack after commit, resume, resend, ping, closes."""

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from fieldops.asgi import application
from fieldops.models import JournalEntry
from fieldops.services.alerts import alert_send
from fieldops.services.arrests import arrest_log
from fieldops.services.checkins import checkin_create
from fieldops.services.routes import route_publish
from marshals.models import CheckIn, DeviceToken
from marshals.services import participant_revoke, token_revoke
from realtime import consumer as consumer_module
from realtime import fanout

from .conftest import (
    api_client,
    communicator_for,
    connect_as,
    connect_with,
    expect_close,
    footprint,
    receive_until,
)
from .factories import MADRID_ROUTE, EventFactory, ParticipantFactory, issue_token


def new_id() -> str:
    return str(uuid.uuid4())


def public_alert(cast, text="public"):
    return alert_send(participant=cast.organizer, text=text)


async def alerts_written(cast, texts: list[str]) -> None:
    """Public alerts from the organizer, one per text, each committed before the next."""
    for text in texts:
        await database_sync_to_async(public_alert)(cast, text)


class ReplayReads:
    """Stands in for the consumer's replay read: counts the rows of each batch it reads, and runs
    `before_each` (when set) before each read, as a write arriving during the replay would."""

    def __init__(self, real):
        self.real = real
        self.sizes: list[int] = []
        self.before_each = None

    def __call__(self, **kwargs):
        if self.before_each is not None:
            self.before_each()
        rows, more = self.real(**kwargs)
        self.sizes.append(len(rows))
        return rows, more


@pytest.fixture
def replay_reads(monkeypatch) -> ReplayReads:
    """The consumer's replay reads, watched for the length of the test."""
    reads = ReplayReads(consumer_module.replay_batch)
    monkeypatch.setattr(consumer_module, "replay_batch", reads)
    return reads


@pytest.mark.django_db(transaction=True)
async def test_hello_says_who_you_are_and_the_journal_position(cast):
    await database_sync_to_async(public_alert)(cast)
    await database_sync_to_async(public_alert)(cast)

    client, hello = await connect_as(cast.marshal_a)

    assert hello == {
        "type": "hello",
        "data": {
            "protocol": 1,
            "event": cast.event.slug,
            "participant": cast.marshal_a.pk,
            "callsign": "m-a",
            "role": "marshal",
            "group": cast.group_a.pk,
            "seq": 2,
        },
    }
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ack_comes_only_after_the_write_is_committed(cast, published):
    client, _ = await connect_as(cast.marshal_a)
    frame_id = new_id()

    await client.send_json_to(
        {
            "type": "checkin",
            "id": frame_id,
            "data": {"lat": 40.4193, "lng": -3.693229, "note": "calm"},
        }
    )
    ack = await client.receive_json_from()

    assert ack == {"type": "ack", "id": frame_id, "seq": 1}
    # on_commit callbacks run only once the transaction has committed: the publish is proof.
    assert [p["seq"] for p in published] == [1]
    entry = await database_sync_to_async(JournalEntry.objects.get)(event=cast.event, seq=1)
    assert entry.kind == "checkin" and str(entry.client_id) == frame_id
    notes = await database_sync_to_async(lambda: [c.note for c in CheckIn.objects.all()])()
    assert notes == ["calm"]  # notes are sealed: compared once read, not searched
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_resume_replays_exactly_the_missed_entries_the_role_may_see_in_order(cast, tokens):
    client, hello = await connect_with(cast.marshal_a, tokens["marshal_a"])
    await client.disconnect()
    since = hello["data"]["seq"]

    def offline_traffic():
        seen = []
        seen.append(checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229).seq)
        checkin_create(participant=cast.marshal_b, lat=40.4153, lng=-3.694124)  # other group
        arrest_log(participant=cast.legal, lat=40.4153, lng=-3.6941)  # never for marshals
        # A new version of the same street: everyone stays on route, so no off-route entry.
        same_street = {"type": "LineString", "coordinates": MADRID_ROUTE}
        seen.append(route_publish(participant=cast.organizer, geometry=same_street).seq)
        alert_send(participant=cast.organizer, text="legal only", audience="legal")
        seen.append(alert_send(participant=cast.organizer, text="marshals", audience="marshal").seq)
        seen.append(
            alert_send(
                participant=cast.organizer, text="block A", audience=f"group:{cast.group_a.pk}"
            ).seq
        )
        alert_send(participant=cast.organizer, text="block B", audience=f"group:{cast.group_b.pk}")
        return seen

    expected = await database_sync_to_async(offline_traffic)()
    client, hello = await connect_with(cast.marshal_a, tokens["marshal_a"])
    assert hello["data"]["seq"] == 8
    resume_id = new_id()
    await client.send_json_to({"type": "resume", "id": resume_id, "data": {"since": since}})
    frames = await receive_until(client, lambda f: f["type"] == "replay.done")

    assert [f["seq"] for f in frames[:-1]] == expected
    assert frames[-1] == {"type": "replay.done", "id": resume_id, "seq": 8, "count": 4}
    # A second resume from the middle gives only what came after.
    await client.send_json_to({"type": "resume", "id": new_id(), "data": {"since": expected[1]}})
    frames = await receive_until(client, lambda f: f["type"] == "replay.done")
    assert [f["seq"] for f in frames[:-1]] == expected[2:]
    assert await client.receive_nothing()
    await client.disconnect()


def url_socket(participant, token: str, query: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application,
        f"/ws/events/{participant.event.slug}/?{query}",
        headers=[(b"authorization", f"Bearer {token}".encode())],
    )


@pytest.mark.django_db(transaction=True)
async def test_a_resume_asked_for_in_the_connect_request_replays_without_a_resume_frame(
    cast, tokens
):
    def offline_traffic():
        mine = checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229).seq
        checkin_create(participant=cast.marshal_b, lat=40.4153, lng=-3.694124)  # other group
        return [mine, public_alert(cast, "after").seq]

    before = (await database_sync_to_async(public_alert)(cast, "before")).seq
    expected = await database_sync_to_async(offline_traffic)()
    client = url_socket(cast.marshal_a, tokens["marshal_a"], f"since={before}")
    assert (await client.connect())[0]
    frames = await receive_until(client, lambda f: f["type"] == "replay.done")

    assert frames[0]["type"] == "hello" and frames[0]["data"]["seq"] == 4
    assert [f["seq"] for f in frames[1:-1]] == expected
    assert frames[-1] == {"type": "replay.done", "id": None, "seq": 4, "count": 2}
    # Live traffic follows, once.
    live = (await database_sync_to_async(public_alert)(cast, "live")).seq
    assert (await client.receive_json_from())["seq"] == live
    assert await client.receive_nothing()
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("query", ["since=-1", "since=abc", "since=", "since=1.5"])
async def test_a_bad_since_in_the_connect_request_is_named_and_the_socket_stays(
    cast, tokens, query
):
    client = url_socket(cast.marshal_a, tokens["marshal_a"], query)
    assert (await client.connect())[0]
    hello = await client.receive_json_from()
    error = await client.receive_json_from()
    assert hello["type"] == "hello"
    assert error["type"] == "error" and error["code"] == "invalid" and error["id"] is None
    assert [f["field"] for f in error["fields"]] == ["since"]
    resume_id = new_id()
    await client.send_json_to({"type": "resume", "id": resume_id, "data": {"since": 0}})
    frames = await receive_until(client, lambda f: f["type"] == "replay.done")
    assert frames[-1]["id"] == resume_id
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_device_revoked_while_connecting_with_since_is_closed(cast, tokens, monkeypatch):
    # Revoked after its token was accepted, before the replay: the check with the replay sees it.
    original = consumer_module.credential_scope

    def revoked_meanwhile(**kwargs):
        DeviceToken.objects.filter(participant=cast.marshal_a).update(revoked_at=timezone.now())
        return original(**kwargs)

    monkeypatch.setattr(consumer_module, "credential_scope", revoked_meanwhile)
    client = url_socket(cast.marshal_a, tokens["marshal_a"], "since=0")
    assert (await client.connect())[0]
    assert await client.receive_output() == {"type": "websocket.close", "code": 4403}
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_entries_written_during_a_replay_arrive_once_after_replay_done(
    cast, tokens, settings, replay_reads
):
    # Small batches so the replay takes several reads, with a write between each.
    settings.FIELDOPS = {**settings.FIELDOPS, "REPLAY_BATCH": 2}
    await alerts_written(cast, [f"before {n}" for n in range(5)])
    written_during = []
    replay_reads.before_each = lambda: written_during.append(
        public_alert(cast, "during the replay").seq
    )

    client, hello = await connect_with(cast.marcher, tokens["marcher"])
    await client.send_json_to({"type": "resume", "id": new_id(), "data": {"since": 0}})
    replayed = await receive_until(client, lambda f: f["type"] == "replay.done")
    replay_reads.before_each = None
    sentinel = await database_sync_to_async(public_alert)(cast, "after")
    live = await receive_until(client, lambda f: f.get("seq") == sentinel.seq)

    assert [f["seq"] for f in replayed[:-1]] == [1, 2, 3, 4, 5]
    assert len(written_during) == 3  # three batches of at most two
    assert [f["seq"] for f in live] == [*written_during, sentinel.seq]
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_entry_delivered_live_before_resume_is_not_replayed_again(cast, tokens):
    client, hello = await connect_with(cast.marcher, tokens["marcher"])
    since = hello["data"]["seq"]
    entry = await database_sync_to_async(public_alert)(cast)
    live = await client.receive_json_from()
    assert live["seq"] == entry.seq

    await client.send_json_to({"type": "resume", "id": new_id(), "data": {"since": since}})
    done = await client.receive_json_from()

    assert done["type"] == "replay.done" and done["count"] == 0 and done["seq"] == entry.seq
    assert await client.receive_nothing()
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_resend_with_the_same_id_gets_the_original_ack_and_writes_nothing(cast, tokens):
    client, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])
    frame = {"type": "checkin", "id": new_id(), "data": {"lat": 40.4193, "lng": -3.693229}}
    await client.send_json_to(frame)
    first = await receive_until(client, lambda f: f["type"] == "ack")
    before = await database_sync_to_async(footprint)(cast.event)

    await client.send_json_to(frame)
    again = await receive_until(client, lambda f: f["type"] == "ack")
    # And from another device of the same participant, after a reconnect.
    other, _ = await connect_with(
        cast.marshal_a, await database_sync_to_async(issue_token)(cast.marshal_a)
    )
    await other.send_json_to(frame)
    from_other = await receive_until(other, lambda f: f["type"] == "ack")

    assert again[-1] == first[-1] == from_other[-1] == {"type": "ack", "id": frame["id"], "seq": 1}
    assert await database_sync_to_async(footprint)(cast.event) == before
    await client.disconnect()
    await other.disconnect()


def test_a_rest_resend_with_the_same_idempotency_key_returns_the_original_entry(cast, tokens):
    client = api_client(tokens["medic"])
    key = new_id()
    url = f"/api/events/{cast.event.slug}/sos"
    first = client.post(
        url,
        {"lat": 40.4078, "lng": -3.692},
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )
    before = footprint(cast.event)
    again = client.post(
        url,
        {"lat": 40.4078, "lng": -3.692},
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert footprint(cast.event) == before


@pytest.mark.django_db(transaction=True)
async def test_a_socket_frame_and_a_rest_call_share_one_idempotency_space(cast, tokens):
    client, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])
    frame = {"type": "sos", "id": new_id(), "data": {"lat": 40.4193, "lng": -3.6932}}
    await client.send_json_to(frame)
    ack = (await receive_until(client, lambda f: f["type"] == "ack"))[-1]

    def rest_resend():
        return api_client(tokens["marshal_a"]).post(
            f"/api/events/{cast.event.slug}/sos",
            frame["data"],
            content_type="application/json",
            headers={"Idempotency-Key": frame["id"]},
        )

    response = await database_sync_to_async(rest_resend)()
    assert response.status_code == 200 and response.json()["seq"] == ack["seq"]
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ping_gets_pong_with_its_id(cast):
    client, _ = await connect_as(cast.marcher)
    frame_id = new_id()
    await client.send_json_to({"type": "ping", "id": frame_id})
    assert await client.receive_json_from() == {"type": "pong", "id": frame_id}
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_revoked_participant_is_disconnected_at_once_on_every_device(cast, tokens):
    phone, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])
    tablet, _ = await connect_as(cast.marshal_a)
    bystander, _ = await connect_with(cast.marshal_b, tokens["marshal_b"])

    await database_sync_to_async(participant_revoke)(
        participant=cast.organizer, target=cast.marshal_a.pk
    )

    await expect_close(phone, 4403)
    await expect_close(tablet, 4403)
    ping_id = new_id()
    await bystander.send_json_to({"type": "ping", "id": ping_id})
    assert (await bystander.receive_json_from())["id"] == ping_id
    # And the token no longer opens a socket.
    again = communicator_for(cast.marshal_a, token=tokens["marshal_a"])
    assert (await again.connect())[0]
    assert (await again.receive_output())["code"] == 4401
    for client in (phone, tablet, bystander, again):
        await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_revoked_token_closes_that_device_only(cast, tokens):
    phone, _ = await connect_with(cast.medic, tokens["medic"])
    tablet, _ = await connect_as(cast.medic)
    # The `tokens` fixture made the phone's token before connect_as made the tablet's.
    phone_token = await database_sync_to_async(
        lambda: DeviceToken.objects.filter(participant=cast.medic).order_by("pk").first()
    )()

    await database_sync_to_async(token_revoke)(participant=cast.organizer, device=phone_token.pk)

    await expect_close(phone, 4403)
    ping_id = new_id()
    await tablet.send_json_to({"type": "ping", "id": ping_id})
    assert await tablet.receive_json_from() == {"type": "pong", "id": ping_id}
    await phone.disconnect()
    await tablet.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_revoked_socket_is_closed_once_and_hears_nothing_more(cast, tokens, caplog):
    phone, _ = await connect_with(cast.medic, tokens["medic"])
    phone_token = await database_sync_to_async(
        lambda: DeviceToken.objects.filter(participant=cast.medic).order_by("pk").first()
    )()

    await database_sync_to_async(token_revoke)(participant=cast.organizer, device=phone_token.pk)
    await expect_close(phone, 4403)
    # Until the server sees the disconnect, neither a second close order nor an entry goes out.
    await database_sync_to_async(participant_revoke)(
        participant=cast.organizer, target=cast.medic.pk
    )
    await database_sync_to_async(public_alert)(cast, "after the close")

    assert await phone.receive_nothing(timeout=0.3)
    assert "delivery to one socket failed" not in caplog.text
    await phone.disconnect()


def _other_event_token():
    event = EventFactory()
    return issue_token(ParticipantFactory(event=event, role="organizer"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        b"Bearer not-a-real-token",
        b"Bearer ",
        b"Basic dXNlcjpwYXNz",
        b"Bearer " + b"x" * 300,
        "other-event",
    ],
    ids=["none", "unknown", "empty", "wrong-scheme", "oversized", "other-event"],
)
async def test_no_valid_credential_for_the_event_closes_with_4401(cast, authorization):
    if authorization == "other-event":
        authorization = b"Bearer " + (await database_sync_to_async(_other_event_token)()).encode()
    headers = [(b"authorization", authorization)] if authorization else []
    client = WebsocketCommunicator(application, f"/ws/events/{cast.event.slug}/", headers=headers)
    before = await database_sync_to_async(footprint)(cast.event)

    assert (await client.connect())[0]
    assert await client.receive_output() == {"type": "websocket.close", "code": 4401}
    assert await database_sync_to_async(footprint)(cast.event) == before
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_burst_delivered_live_before_resume_is_not_replayed_again(cast, tokens):
    client, hello = await connect_with(cast.marcher, tokens["marcher"])
    since = hello["data"]["seq"]

    def burst():
        return [public_alert(cast, f"burst {n}").seq for n in range(50)]

    # 150 entries reach the socket live (in bursts the in-memory layer's queue can hold).
    seqs, live = [], []
    for _ in range(3):
        seqs += await database_sync_to_async(burst)()
        live += [(await client.receive_json_from())["seq"] for _ in range(50)]
    assert live == seqs

    await client.send_json_to({"type": "resume", "id": new_id(), "data": {"since": since}})
    done = await client.receive_json_from()

    assert done["type"] == "replay.done" and done["count"] == 0
    assert await client.receive_nothing()
    await client.disconnect()


def test_the_live_span_holds_every_entry_sent_live_and_nothing_before():
    from realtime.delivery import Delivery
    from realtime.hub import entry_of

    class Open:  # a socket that takes every frame
        def send_wire(self, wire):
            return True

    delivery = Delivery(None, transport=Open(), on_behind=None, on_revoke=None, limits=(5, 5, 5))
    assert not delivery.went_live(0) and not delivery.went_live(1)
    for seq in (3, 5, 9, 4000, 10**9):  # a socket gets its audience's entries in seq order
        assert delivery.offer(entry_of(seq, ["public"], "{}"))
    assert not delivery.went_live(2) and not delivery.went_live(10**9 + 1)
    assert all(delivery.went_live(seq) for seq in (3, 4, 6, 4000, 10**9 - 1))  # no window


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("what", ["participant", "token"])
@pytest.mark.parametrize(
    "frame",
    [
        {"type": "checkin", "data": {"lat": 40.4193, "lng": -3.6932}},
        {"type": "resume", "data": {"since": 0}},
    ],
    ids=["checkin", "resume"],
)
async def test_a_revoked_device_whose_close_message_was_lost_cannot_act_or_read(
    cast, tokens, monkeypatch, what, frame
):
    # The channel layer is at-most-once: the close order may never reach the worker.
    monkeypatch.setattr(fanout, "publish_revocation", lambda **kwargs: None)
    client, hello = await connect_with(cast.marshal_a, tokens["marshal_a"])
    await database_sync_to_async(public_alert)(cast, "before the revocation")
    assert (await client.receive_json_from())["type"] == "alert.sent"
    if what == "participant":
        await database_sync_to_async(participant_revoke)(
            participant=cast.organizer, target=cast.marshal_a.pk
        )
    else:
        token = await database_sync_to_async(
            lambda: DeviceToken.objects.get(participant=cast.marshal_a)
        )()
        await database_sync_to_async(token_revoke)(participant=cast.organizer, device=token.pk)
    before = await database_sync_to_async(footprint)(cast.event)

    await client.send_json_to({**frame, "id": new_id()})

    assert await client.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}
    assert await database_sync_to_async(footprint)(cast.event) == before
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_burst_written_while_the_socket_is_busy_still_arrives_whole(cast, tokens):
    client, _ = await connect_with(cast.marcher, tokens["marcher"])

    def burst():
        # One call: the socket cannot drain its queue until the whole burst is written.
        return [public_alert(cast, f"burst {n}").seq for n in range(300)]

    seqs = await database_sync_to_async(burst)()
    live = [(await client.receive_json_from())["seq"] for _ in seqs]

    assert live == seqs
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_resume_frame_after_live_entries_replays_the_older_ones_once_as_documented(
    cast, tokens
):
    # docs/protocol.md: live entries flow from `hello` on, so a `resume` frame sent after some
    # arrived brings older entries after newer ones; each entry still arrives exactly once.
    await alerts_written(cast, [f"before {n}" for n in range(3)])
    client, hello = await connect_with(cast.marcher, tokens["marcher"])
    live = await database_sync_to_async(public_alert)(cast, "live")
    assert (await client.receive_json_from())["seq"] == live.seq
    await client.send_json_to({"type": "resume", "id": new_id(), "data": {"since": 0}})
    replayed = await receive_until(client, lambda f: f["type"] == "replay.done")
    assert [f["seq"] for f in replayed[:-1]] == [1, 2, 3]
    assert replayed[-1]["seq"] == live.seq and replayed[-1]["count"] == 3
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_replay_of_large_entries_is_read_in_batches_bounded_in_bytes(
    cast, tokens, settings, replay_reads
):
    settings.FIELDOPS = {**settings.FIELDOPS, "REPLAY_BATCH_BYTES": 2000}
    await alerts_written(cast, [f"{n} " + "x" * 480 for n in range(6)])

    client = url_socket(cast.marcher, tokens["marcher"], "since=0")
    assert (await client.connect())[0]
    frames = await receive_until(client, lambda f: f["type"] == "replay.done")
    assert [f["seq"] for f in frames[1:-1]] == [1, 2, 3, 4, 5, 6]
    # About 600 bytes an entry, 2000 bytes a batch: four entries at most in each.
    batches = replay_reads.sizes
    assert len(batches) > 1 and max(batches) <= 4 and sum(batches) == 6
    await client.disconnect()
