"""Getting in with a browser: a join link shows the invite, a POST sets a session, and the session
opens the event socket."""

import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from fieldops.asgi import application
from marshals.models import Invite, Participant
from marshals.services import invite_create, participant_revoke
from marshals.sessions import SESSION_KEY

from .factories import EventFactory


def _invite(cast, role="marshal", **kwargs):
    return invite_create(event=cast.event, role=role, group=cast.group_a.pk, **kwargs)


def test_opening_a_join_link_shows_the_invite_and_does_not_use_it(cast):
    issued = _invite(cast, max_uses=1)
    browser = Client()

    for _ in range(3):  # link previews, scanners, a second look
        page = browser.get(f"/join/{issued.code}/")
        assert page.status_code == 200
        html = page.content.decode()
        assert cast.event.name in html and "Marshal" in html and "North block" in html

    assert Invite.objects.get(pk=issued.invite.pk).uses == 0
    assert Participant.objects.filter(invite=issued.invite).count() == 0
    assert SESSION_KEY not in browser.session


def test_posting_the_join_form_sets_a_session_for_the_event(cast):
    issued = _invite(cast)
    browser = Client()

    response = browser.post(f"/join/{issued.code}/", {"callsign": "Osprey"})

    assert response.status_code == 302
    assert response["Location"] == f"/e/{cast.event.slug}/"
    participant = Participant.objects.get(invite=issued.invite)
    assert (participant.callsign, participant.role, participant.group) == (
        "Osprey",
        "marshal",
        cast.group_a,
    )
    assert browser.session[SESSION_KEY] == {cast.event.slug: participant.pk}
    assert browser.get(f"/e/{cast.event.slug}/").status_code == 200
    assert Invite.objects.get(pk=issued.invite.pk).uses == 1


@pytest.mark.parametrize("state", ["unknown", "expired", "revoked"])
def test_an_unusable_join_link_says_so_and_sets_no_session(cast, state):
    code = "no-such-code-at-all"
    if state != "unknown":
        issued = _invite(cast)
        code = issued.code
        change = (
            {"expires_at": timezone.now() - timedelta(seconds=1)}
            if state == "expired"
            else {"revoked_at": timezone.now()}
        )
        Invite.objects.filter(pk=issued.invite.pk).update(**change)
    browser = Client()

    assert browser.get(f"/join/{code}/").status_code == 404
    assert browser.post(f"/join/{code}/", {"callsign": "x"}).status_code == 404
    assert SESSION_KEY not in browser.session
    assert Participant.objects.filter(callsign="x").count() == 0


def _join_in_browser(cast, role="marshal") -> tuple[str, int]:
    """Join through the link like a browser; the session cookie and the participant made."""
    issued = _invite(cast, role=role)
    browser = Client()
    browser.post(f"/join/{issued.code}/", {"callsign": "Osprey"})
    participant = Participant.objects.get(invite=issued.invite)
    return browser.cookies["sessionid"].value, participant.pk


def session_socket(cast, session_id: str) -> WebsocketCommunicator:
    headers = [
        (b"cookie", f"sessionid={session_id}".encode()),
        (b"origin", b"http://127.0.0.1:8000"),
    ]
    return WebsocketCommunicator(application, f"/ws/events/{cast.event.slug}/", headers=headers)


@pytest.mark.django_db(transaction=True)
async def test_the_join_session_authenticates_the_event_socket(cast):
    session_id, participant_id = await database_sync_to_async(_join_in_browser)(cast)
    client = session_socket(cast, session_id)

    assert (await client.connect())[0]
    hello = await client.receive_json_from()

    assert hello["data"]["participant"] == participant_id
    assert hello["data"]["role"] == "marshal" and hello["data"]["callsign"] == "Osprey"
    frame_id = str(uuid.uuid4())
    await client.send_json_to(
        {"type": "checkin", "id": frame_id, "data": {"lat": 40.4193, "lng": -3.6932}}
    )
    assert await client.receive_json_from() == {"type": "ack", "id": frame_id, "seq": 2}
    await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_session_is_closed_at_once_when_its_participant_is_revoked(cast):
    session_id, participant_id = await database_sync_to_async(_join_in_browser)(cast)
    client = session_socket(cast, session_id)
    assert (await client.connect())[0]
    await client.receive_json_from()

    await database_sync_to_async(participant_revoke)(
        participant=cast.organizer, target=participant_id
    )

    assert await client.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}
    await client.disconnect()
    again = session_socket(cast, session_id)
    assert (await again.connect())[0]
    assert await again.receive_output() == {"type": "websocket.close", "code": 4401}
    await again.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_session_for_one_event_does_not_open_another(cast):
    session_id, _ = await database_sync_to_async(_join_in_browser)(cast)
    other = await database_sync_to_async(EventFactory)()
    client = WebsocketCommunicator(
        application,
        f"/ws/events/{other.slug}/",
        headers=[(b"cookie", f"sessionid={session_id}".encode())],
    )
    assert (await client.connect())[0]
    assert await client.receive_output() == {"type": "websocket.close", "code": 4401}
    await client.disconnect()
