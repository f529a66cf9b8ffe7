"""Bad input on the socket: a clear error naming the field, nothing written, the socket still usable;
a failure that is not the input's fault is told apart from one that resending can cure."""

import dataclasses
import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import DataError, OperationalError

from fieldops.actions import ACTIONS
from fieldops.asgi import application
from realtime import consumer as consumer_module

from .conftest import connect_with, footprint, receive_until

FRAME_ID = "5d2c8e5e-6a0b-4d6e-9a55-0c4b8e9d7f10"


def checkin(**data) -> str:
    return json.dumps(
        {"type": "checkin", "id": FRAME_ID, "data": {"lat": 40.4193, "lng": -3.6932, **data}}
    )


def frame(type_, data, **extra) -> str:
    return json.dumps({"type": type_, "id": FRAME_ID, "data": data, **extra})


def incident(**data) -> str:
    return frame(
        "incident.report", {"lat": 40.4, "lng": -3.7, "kind": "crowd", "severity": "low", **data}
    )


# name, who sends it, the raw text, error code, the fields named, the id echoed back.
CASES = [
    ("malformed-json", "marshal_a", '{"type": "checkin", "id": ', "invalid", [], None),
    ("not-an-object", "marshal_a", "[1, 2, 3]", "invalid", ["frame"], None),
    ("unknown-type", "marshal_a", frame("teleport", {}), "invalid", ["type"], FRAME_ID),
    ("missing-id", "marshal_a", json.dumps({"type": "ping"}), "invalid", ["id"], None),
    (
        "id-not-a-uuid",
        "marshal_a",
        json.dumps({"type": "ping", "id": "7"}),
        "invalid",
        ["id"],
        "7",  # echoed as sent, so the client can match the error to its frame
    ),
    ("missing-type", "marshal_a", json.dumps({"id": FRAME_ID}), "invalid", ["type"], FRAME_ID),
    (
        "missing-lat",
        "marshal_a",
        frame("checkin", {"lng": -3.69}),
        "invalid",
        ["data.lat"],
        FRAME_ID,
    ),
    (
        "extra-top-level",
        "marshal_a",
        checkin()[:-1] + ', "extra": 1}',
        "invalid",
        ["extra"],
        FRAME_ID,
    ),
    ("extra-in-data", "marshal_a", checkin(speed=3), "invalid", ["data.speed"], FRAME_ID),
    (
        "data-not-object",
        "marshal_a",
        frame("checkin", [40.42, -3.69]),
        "invalid",
        ["data"],
        FRAME_ID,
    ),
    ("lat-a-word", "marshal_a", checkin(lat="north"), "invalid", ["data.lat"], FRAME_ID),
    ("lat-a-boolean", "marshal_a", checkin(lat=True), "invalid", ["data.lat"], FRAME_ID),
    ("lat-a-string-number", "marshal_a", checkin(lat="40.42"), "invalid", ["data.lat"], FRAME_ID),
    ("status-unknown", "marshal_a", checkin(status="fine"), "invalid", ["data.status"], FRAME_ID),
    ("note-a-number", "marshal_a", checkin(note=5), "invalid", ["data.note"], FRAME_ID),
    ("lat-out-of-range", "marshal_a", checkin(lat=90.5), "invalid", ["data.lat"], FRAME_ID),
    ("lng-out-of-range", "marshal_a", checkin(lng=-180.01), "invalid", ["data.lng"], FRAME_ID),
    (
        "accuracy-negative",
        "marshal_a",
        checkin(accuracy_m=-1),
        "invalid",
        ["data.accuracy_m"],
        FRAME_ID,
    ),
    ("note-over-limit", "marshal_a", checkin(note="x" * 281), "invalid", ["data.note"], FRAME_ID),
    (
        "incident-description-over-limit",
        "marshal_a",
        incident(description="d" * 1001),
        "invalid",
        ["data.description"],
        FRAME_ID,
    ),
    (
        "arrest-count-a-boolean",
        "legal",
        frame("arrest.log", {"lat": 40.4078, "lng": -3.692, "people_count": True}),
        "invalid",
        ["data.people_count"],
        FRAME_ID,
    ),
    (
        "route-point-out-of-range",
        "organizer",
        frame(
            "route.publish",
            {"geometry": {"type": "LineString", "coordinates": [[-3.69, 40.4], [200, 40.4]]}},
        ),
        "invalid",
        ["data.geometry.coordinates"],
        FRAME_ID,
    ),
    (
        "route-one-point",
        "organizer",
        frame(
            "route.publish", {"geometry": {"type": "LineString", "coordinates": [[-3.69, 40.4]]}}
        ),
        "invalid",
        ["data.geometry.coordinates"],
        FRAME_ID,
    ),
    (
        "route-not-a-line",
        "organizer",
        frame(
            "route.publish",
            {"geometry": {"type": "Point", "coordinates": [[-3.69, 40.4], [-3.7, 40.4]]}},
        ),
        "invalid",
        ["data.geometry.type"],
        FRAME_ID,
    ),
    (
        "alert-empty-text",
        "organizer",
        frame("alert.send", {"text": "   "}),
        "invalid",
        ["data.text"],
        FRAME_ID,
    ),
    (
        "alert-unknown-audience",
        "organizer",
        frame("alert.send", {"text": "hi", "audience": "everyone"}),
        "invalid",
        ["data.audience"],
        FRAME_ID,
    ),
    (
        "alert-to-a-group-of-another-event",
        "organizer",
        frame("alert.send", {"text": "hi", "audience": "group:999999"}),
        "invalid",
        ["data.audience"],
        FRAME_ID,
    ),
    (
        "route-ack-unknown-route",
        "marshal_a",
        frame("route.ack", {"route": 999999}),
        "invalid",
        ["data.route"],
        FRAME_ID,
    ),
    (
        "resume-negative",
        "marshal_a",
        frame("resume", {"since": -1}),
        "invalid",
        ["data.since"],
        FRAME_ID,
    ),
    ("resume-missing-since", "marshal_a", frame("resume", {}), "invalid", ["data.since"], FRAME_ID),
    ("ping-with-data", "marshal_a", frame("ping", {"x": 1}), "invalid", ["data.x"], FRAME_ID),
    ("too-large", "marshal_a", checkin(note="x" * (16 * 1024)), "too_large", [], None),
    # Control characters: PostgreSQL cannot store NUL, and an SOS holding one was never saved.
    ("note-with-nul", "marshal_a", checkin(note="a\u0000b"), "invalid", ["data.note"], FRAME_ID),
    (
        "sos-note-with-nul",
        "marshal_a",
        frame("sos", {"lat": 40.4193, "lng": -3.6932, "note": "help\u0000"}),
        "invalid",
        ["data.note"],
        FRAME_ID,
    ),
    (
        "description-with-escape",
        "marshal_a",
        incident(description="\u001b[2J"),
        "invalid",
        ["data.description"],
        FRAME_ID,
    ),
    (
        "alert-text-with-c1-control",
        "organizer",
        frame("alert.send", {"text": "Keep \u009b left"}),
        "invalid",
        ["data.text"],
        FRAME_ID,
    ),
    (
        "one-line-agency-with-a-line-break",
        "legal",
        frame("arrest.log", {"lat": 40.4078, "lng": -3.692, "agency": "city\npolice"}),
        "invalid",
        ["data.agency"],
        FRAME_ID,
    ),
    # Times at the edges of the calendar overflowed converting to UTC (a traceback, `unavailable`).
    (
        "device-time-past-the-calendar",
        "marshal_a",
        checkin(device_time="9999-12-31T23:59:59-23:59"),
        "invalid",
        ["data.device_time"],
        FRAME_ID,
    ),
    (
        "device-time-before-the-calendar",
        "marshal_a",
        checkin(device_time="0001-01-01T00:00:00+23:59"),
        "invalid",
        ["data.device_time"],
        FRAME_ID,
    ),
    (
        "occurred-at-past-the-calendar",
        "legal",
        frame("arrest.log", {"lat": 40.4, "lng": -3.7, "occurred_at": "9999-12-31T23:59:59-23:59"}),
        "invalid",
        ["data.occurred_at"],
        FRAME_ID,
    ),
    # Ids and seqs are 64-bit in the database: 2^63 closed the socket with 1011 (resume).
    (
        "resume-past-64-bits",
        "marshal_a",
        frame("resume", {"since": 2**63}),
        "invalid",
        ["data.since"],
        FRAME_ID,
    ),
    (
        "incident-id-past-64-bits",
        "organizer",
        frame("incident.update", {"incident": 2**63, "status": "resolved"}),
        "invalid",
        ["data.incident"],
        FRAME_ID,
    ),
    (
        "route-id-past-64-bits",
        "marshal_a",
        frame("route.ack", {"route": 2**63}),
        "invalid",
        ["data.route"],
        FRAME_ID,
    ),
    (
        "zone-id-past-64-bits",
        "organizer",
        frame("zone.deactivate", {"place": 2**63}),
        "invalid",
        ["data.place"],
        FRAME_ID,
    ),
]


async def assert_still_usable(client: WebsocketCommunicator) -> None:
    """A valid check-in after the bad frame is acknowledged."""
    good_id = str(uuid.uuid4())
    await client.send_json_to(
        {"type": "checkin", "id": good_id, "data": {"lat": 40.4193, "lng": -3.6932}}
    )
    while True:  # skip journal entries the sender also receives
        reply = await client.receive_json_from(timeout=3)
        if reply.get("id") == good_id:
            break
    assert reply["type"] == "ack", reply


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("sender", "text", "code", "fields", "echoed_id"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_bad_frame_gets_a_clear_error_writes_nothing_and_the_socket_stays_usable(
    cast, tokens, sender, text, code, fields, echoed_id
):
    client, _ = await connect_with(getattr(cast, sender), tokens[sender])
    before = await database_sync_to_async(footprint)(cast.event)

    await client.send_to(text_data=text)
    error = await client.receive_json_from()

    assert error["type"] == "error"
    assert error["code"] == code
    assert error["id"] == echoed_id
    assert error["message"]
    assert [f["field"] for f in error["fields"]] == fields
    assert all(f["message"] for f in error["fields"])
    assert await database_sync_to_async(footprint)(cast.event) == before
    if sender in ("organizer", "marshal_a"):  # legal observers do not check in
        await assert_still_usable(client)
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_binary_frame_is_refused_and_the_socket_stays_usable(cast, tokens):
    client, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])
    before = await database_sync_to_async(footprint)(cast.event)

    await client.send_to(bytes_data=checkin().encode())
    error = await client.receive_json_from()

    assert (error["type"], error["code"], error["id"]) == ("error", "invalid", None)
    assert "binary" in error["message"]
    assert await database_sync_to_async(footprint)(cast.event) == before
    await assert_still_usable(client)
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_foreign_origin_is_refused_at_the_handshake(cast, tokens):
    headers = [
        (b"authorization", f"Bearer {tokens['organizer']}".encode()),
        (b"origin", b"https://evil.example"),
    ]
    client = WebsocketCommunicator(application, f"/ws/events/{cast.event.slug}/", headers=headers)
    connected, _ = await client.connect()
    assert not connected

    own_site, _ = await connect_with(
        cast.organizer, tokens["organizer"], headers=[(b"origin", b"http://127.0.0.1:8000")]
    )
    await own_site.disconnect()


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.mark.django_db(transaction=True)
async def test_too_many_frames_are_rate_limited_then_accepted_again(
    cast, tokens, settings, monkeypatch
):
    settings.FIELDOPS = {**settings.FIELDOPS, "RATE_LIMIT_PER_MINUTE": 3}
    clock = FakeClock()
    monkeypatch.setattr(consumer_module, "time", clock)
    client, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])

    for _ in range(3):
        await client.send_json_to({"type": "ping", "id": str(uuid.uuid4())})
        assert (await client.receive_json_from())["type"] == "pong"
    before = await database_sync_to_async(footprint)(cast.event)
    await client.send_to(text_data=checkin())
    error = await client.receive_json_from()

    assert (error["type"], error["code"]) == ("error", "rate_limited")
    assert await database_sync_to_async(footprint)(cast.event) == before
    clock.now += 20  # a minute's budget of 3 refills one frame every 20 seconds
    await assert_still_usable(client)
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_timestamps_arrive_as_iso_strings_and_are_accepted(cast, tokens):
    client, _ = await connect_with(cast.legal, tokens["legal"])

    await client.send_to(
        text_data=frame(
            "arrest.log",
            {
                "lat": 40.41,
                "lng": -3.69,
                "occurred_at": "2026-11-22T10:02:11+01:00",
                "people_count": 3,
            },
        )
    )
    reply = await client.receive_json_from()

    assert (reply["type"], reply["id"]) == ("ack", FRAME_ID)
    entry = await client.receive_json_from()
    assert datetime.fromisoformat(entry["data"]["occurred_at"]) == datetime(
        2026, 11, 22, 9, 2, 11, tzinfo=UTC
    )
    assert entry["data"]["people_count"] == 3
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_tabs_and_line_breaks_stay_in_multi_line_free_text(cast, tokens):
    client, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])
    note = "Two hurt:\n\tone at the fountain\r\n\tone at the kiosk"

    await client.send_to(text_data=checkin(note=note))
    frames = await receive_until(client, lambda f: f["type"] == "checkin")

    assert [f["type"] for f in frames] == ["ack", "checkin"]
    assert frames[1]["data"]["note"] == note
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_since_in_other_digits_is_refused_naming_since_and_the_socket_stays_up(
    cast, tokens
):
    headers = [(b"authorization", f"Bearer {tokens['marshal_a']}".encode())]
    path = f"/ws/events/{cast.event.slug}/?since=%C2%B2"  # "²": str.isdigit() holds, int() fails
    client = WebsocketCommunicator(application, path, headers=headers)
    assert (await client.connect())[0]

    assert (await client.receive_json_from())["type"] == "hello"
    error = await client.receive_json_from()
    assert (error["type"], error["code"], error["id"]) == ("error", "invalid", None)
    assert [f["field"] for f in error["fields"]] == ["since"]
    await assert_still_usable(client)
    await client.disconnect()


def _failing(monkeypatch, verb: str, raised: Exception) -> None:
    def broken(**kwargs):
        raise raised

    monkeypatch.setitem(ACTIONS, verb, dataclasses.replace(ACTIONS[verb], service=broken))


async def _ping(client: WebsocketCommunicator) -> None:
    ping_id = str(uuid.uuid4())
    await client.send_json_to({"type": "ping", "id": ping_id})
    assert await client.receive_json_from() == {"type": "pong", "id": ping_id}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("raised", "code", "fields"),
    [
        (RuntimeError("a bug"), "internal", []),
        (OperationalError("database is locked"), "unavailable", []),
        (DataError("integer out of range"), "invalid", ["data"]),
        (OverflowError("date value out of range"), "invalid", ["data"]),
    ],
    ids=["bug-is-internal", "database-down-is-unavailable", "data-error", "overflow"],
)
async def test_an_unexpected_failure_says_whether_resending_can_help_and_the_socket_stays_up(
    cast, tokens, monkeypatch, caplog, raised, code, fields
):
    _failing(monkeypatch, "checkin", raised)
    client, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])

    with caplog.at_level(logging.INFO):
        await client.send_to(text_data=checkin(note="Kiosk"))
        error = await client.receive_json_from()

    assert (error["type"], error["id"], error["code"]) == ("error", FRAME_ID, code)
    assert error["message"]
    assert [f["field"] for f in error["fields"]] == fields
    # Only a bug leaves a traceback behind; none of them logs the frame.
    assert any(r.exc_info for r in caplog.records) == (code == "internal")
    assert "Kiosk" not in caplog.text
    await _ping(client)
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_resume_that_fails_on_the_server_is_an_error_and_the_socket_stays_up(
    cast, tokens, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(consumer_module, "replay_batch", broken)
    client, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])

    await client.send_to(text_data=frame("resume", {"since": 0}))
    error = await client.receive_json_from()

    assert (error["type"], error["id"], error["code"]) == ("error", FRAME_ID, "internal")
    await _ping(client)
    await client.disconnect()


@pytest.mark.django_db
def test_the_join_page_refuses_a_control_character_in_the_callsign_by_name(cast):
    from django.test import Client

    from marshals.services import invite_create

    issued = invite_create(event=cast.event, created_by=cast.organizer, role="marcher")
    reply = Client().post(f"/join/{issued.code}/", {"callsign": "Kes\x00trel"})
    assert reply.status_code == 400
    assert b"callsign" in reply.content
    from marshals.models import Participant

    assert not Participant.objects.filter(callsign__startswith="Kes").exists()


@pytest.mark.django_db
def test_the_join_page_counts_against_the_address_join_budget(cast, settings):
    from django.test import Client

    settings.FIELDOPS_REST_LIMITS = {
        **settings.FIELDOPS_REST_LIMITS,
        "JOIN_PER_ADDRESS_PER_MINUTE": 3,
    }
    client = Client()
    codes = [f"guess-{n:04d}-xxxxxxxx" for n in range(4)]
    replies = [client.get(f"/join/{code}/").status_code for code in codes]
    assert replies == [404, 404, 404, 429]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form, field",
    [({"group": "²"}, b"group"), ({"label": "front\x00door"}, b"label")],
    ids=["group-in-other-digits", "label-with-nul"],
)
def test_the_invite_page_refuses_bad_fields_by_name(cast, form, field):
    from django.test import Client

    from marshals.sessions import session_remember

    client = Client()
    session = client.session
    session_remember(session, event_slug=cast.event.slug, participant_id=cast.organizer.pk)
    session.save()
    reply = client.post(f"/e/{cast.event.slug}/invites/", {"role": "marcher", **form})
    assert reply.status_code == 400
    assert field in reply.content
