"""Shared fixtures: an event with two march groups and one participant of each role."""

from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from fieldops.asgi import application
from realtime import fanout

from .factories import (
    EventFactory,
    MarchGroupFactory,
    ParticipantFactory,
    RouteFactory,
    issue_token,
)


@dataclass
class Cast:
    event: object
    group_a: object
    group_b: object
    organizer: object
    marshal_a: object
    marshal_b: object
    legal: object
    medic: object
    marcher: object
    route: object


@pytest.fixture
def cast(db) -> Cast:
    event = EventFactory()
    group_a = MarchGroupFactory(event=event, name="North block")
    group_b = MarchGroupFactory(event=event, name="South block")
    return Cast(
        event=event,
        group_a=group_a,
        group_b=group_b,
        organizer=ParticipantFactory(event=event, role="organizer", callsign="org"),
        marshal_a=ParticipantFactory(event=event, role="marshal", group=group_a, callsign="m-a"),
        marshal_b=ParticipantFactory(event=event, role="marshal", group=group_b, callsign="m-b"),
        legal=ParticipantFactory(event=event, role="legal", callsign="legal"),
        medic=ParticipantFactory(event=event, role="medic", callsign="medic"),
        marcher=ParticipantFactory(event=event, role="marcher", group=group_a, callsign="anon"),
        route=RouteFactory(event=event),
    )


@pytest.fixture(autouse=True)
def _no_rest_rate_spent():
    """REST rate limits count in the process's memory: each test starts with every budget full."""
    from django.core.cache import caches

    caches["ratelimit"].clear()


@pytest.fixture
def published():
    """Every journal entry published after commit during the test, as dicts."""
    captured: list[dict] = []

    def listener(**entry):
        captured.append(entry)

    fanout.listeners.append(listener)
    yield captured
    fanout.listeners.remove(listener)


def communicator_for(
    participant, *, token: str, headers=None, since=None, app=None
) -> WebsocketCommunicator:
    """A WebSocket client for the participant, authenticated with the given bearer token (to
    `app`, the project's by default), resuming from `since` when given."""
    all_headers = [(b"authorization", f"Bearer {token}".encode())] + list(headers or [])
    query = "" if since is None else f"?since={since}"
    return WebsocketCommunicator(
        app or application, f"/ws/events/{participant.event.slug}/{query}", headers=all_headers
    )


def open_sockets(role) -> float:
    """The worker's open-sockets gauge for `role`."""
    from realtime.metrics import OPEN_SOCKETS

    return OPEN_SOCKETS.labels(role)._value.get()


def nothing_held(participant, gauge_before: float) -> None:
    """The worker holds no socket of `participant`: not in its hub, not in the open-sockets gauge
    (as it read `gauge_before`), not as connected in its presence book."""
    from channels.layers import get_channel_layer

    from realtime.hub import hub_for
    from realtime.presence import BOOK

    feed = hub_for(get_channel_layer()).feeds.get(participant.event_id)
    assert feed is None or feed.sockets == 0, "the hub still holds the socket"
    assert open_sockets(participant.role) == gauge_before
    heard = BOOK.people.get(participant.pk)
    assert heard is None or heard.sockets == 0, "presence still counts the phone as connected"


async def connect_with(
    participant, token: str, *, headers=None
) -> tuple[WebsocketCommunicator, dict]:
    """Connect a participant with the given bearer token; return the client and its hello frame."""
    client = communicator_for(participant, token=token, headers=headers)
    connected, _ = await client.connect()
    assert connected
    hello = await client.receive_json_from()
    assert hello["type"] == "hello", hello
    return client, hello


async def connect_as(participant, *, headers=None) -> tuple[WebsocketCommunicator, dict]:
    """Connect a participant with a fresh device token; return the client and its hello frame."""
    token = await database_sync_to_async(issue_token)(participant)
    return await connect_with(participant, token, headers=headers)


# --- shared by the consumer, role and REST tests ---------------------------------------------

# The cast's participants by attribute name; marshal_a and the marcher are in group A.
CAST_NAMES = ("organizer", "marshal_a", "marshal_b", "legal", "medic", "marcher")


@pytest.fixture
def tokens(cast) -> dict[str, str]:
    """A bearer token for each participant of the cast, by cast attribute name."""
    return {name: issue_token(getattr(cast, name)) for name in CAST_NAMES}


def api_client(token: str | None = None, **kwargs):
    """A Django test client that sends the bearer token on every request."""
    from django.test import Client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(headers=headers, **kwargs)


async def receive_until(client: WebsocketCommunicator, stop, *, timeout: float = 3) -> list[dict]:
    """Frames received up to and including the first one for which `stop(frame)` is true."""
    frames = []
    while True:
        frame = await client.receive_json_from(timeout=timeout)
        frames.append(frame)
        if stop(frame):
            return frames


async def expect_close(client: WebsocketCommunicator, code: int) -> None:
    """The next thing the server sends, skipping journal entries, is a close with this code."""
    while True:
        output = await client.receive_output(timeout=3)
        if output["type"] == "websocket.close":
            assert output.get("code") == code, output
            return
        assert output["type"] == "websocket.send", output


def footprint(event) -> dict:
    """Row counts of everything an action can write, and the event's journal position."""
    from fieldops.models import Alert, ArrestRecord, Event, Incident, JournalEntry, Route
    from marshals.models import CheckIn, Invite, Participant, RouteAck

    return {
        "last_seq": Event.objects.get(pk=event.pk).last_seq,
        "journal": JournalEntry.objects.filter(event=event).count(),
        **{
            model.__name__: model.objects.count()
            for model in (
                Alert,
                ArrestRecord,
                CheckIn,
                Incident,
                Invite,
                Participant,
                Route,
                RouteAck,
            )
        },
    }


def valid_data(verb: str, cast) -> dict:
    """A payload each verb accepts at the cast's event (incident.update needs `an_incident`)."""
    from fieldops.models import ArrestRecord, Incident

    incident = Incident.objects.filter(event=cast.event).order_by("pk").first()
    arrest = ArrestRecord.objects.filter(event=cast.event).order_by("pk").first()
    return {
        "checkin": {"lat": 40.4193, "lng": -3.693229, "status": "ok", "accuracy_m": 8},
        "incident.report": {"lat": 40.4193, "lng": -3.6932, "kind": "crowd", "severity": "high"},
        "incident.update": {"incident": incident.pk if incident else 1, "status": "acknowledged"},
        "arrest.log": {"lat": 40.4153, "lng": -3.6941, "people_count": 2, "agency": "city police"},
        "arrest.update": {"arrest": arrest.pk if arrest else 1, "station": "Central station"},
        "sos": {"lat": 40.4193, "lng": -3.6932, "note": "fainted"},
        "route.publish": {
            "geometry": {"type": "LineString", "coordinates": [[-3.69, 40.42], [-3.692, 40.41]]},
            "note": "detour",
        },
        "route.ack": {"route": cast.route.pk},
        "alert.send": {"text": "Keep left", "audience": "public", "level": "info"},
        "zone.activate": {
            "name": "Police line",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[-3.694, 40.415], [-3.693, 40.415], [-3.693, 40.416], [-3.694, 40.415]]
                ],
            },
        },
        "zone.deactivate": {"place": 1},
        "event.push": {"enabled": False},
        "event.end": {},
        "alarm.claim": {"alarm": 1},
        "alarm.resolve": {"alarm": 1},
    }[verb]


@pytest.fixture
def an_incident(cast):
    """An open incident reported by marshal A (committed before the test acts)."""
    from fieldops.services.incidents import incident_report

    entry = incident_report(
        participant=cast.marshal_a, lat=40.4193, lng=-3.6932, kind="crowd", severity="medium"
    )
    return entry.data.incident


def is_browser(item) -> bool:
    return item is not None and item.get_closest_marker("browser") is not None


def pytest_collection_modifyitems(config, items):
    """Run the browser tests last (those of one module after its others, under pytest-xdist), so
    one Chromium serves them all."""
    items.sort(key=is_browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After the last browser test of a stretch, shut Chromium: while Playwright is open an event
    loop runs in this process, and the asyncio tests and Django queries that follow would fail."""
    result = yield
    if is_browser(item) and not is_browser(nextitem):
        from .browser import SHARED_CHROMIUM

        SHARED_CHROMIUM.shut()
    return result
