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


@pytest.fixture
def published():
    """Every journal entry published after commit during the test, as dicts."""
    captured: list[dict] = []

    def listener(**entry):
        captured.append(entry)

    fanout.listeners.append(listener)
    yield captured
    fanout.listeners.remove(listener)


def communicator_for(participant, *, token: str, headers=None) -> WebsocketCommunicator:
    """A WebSocket client for the participant, authenticated with the given bearer token."""
    all_headers = [(b"authorization", f"Bearer {token}".encode())] + list(headers or [])
    return WebsocketCommunicator(
        application, f"/ws/events/{participant.event.slug}/", headers=all_headers
    )


async def connect_as(participant, *, headers=None) -> tuple[WebsocketCommunicator, dict]:
    """Connect a participant with a fresh device token; return the client and its hello frame."""
    token = await database_sync_to_async(issue_token)(participant)
    client = communicator_for(participant, token=token, headers=headers)
    connected, _ = await client.connect()
    assert connected
    hello = await client.receive_json_from()
    assert hello["type"] == "hello", hello
    return client, hello
