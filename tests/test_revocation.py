"""One revocation path: however a participant, a device or an invite is revoked, or a role or group
changed (REST, the command page, the admin), open sockets are closed or re-scoped at once, and every
action re-reads the credential first, so a lost close message changes nothing."""

import re
import uuid
from contextlib import contextmanager

import orjson
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from fieldops.services.alerts import alert_send
from fieldops.services.checkins import checkin_create
from marshals.models import DeviceToken, Invite, Participant
from marshals.tokens import digest
from realtime import fanout
from realtime.frames import CLOSE_RESCOPED

from .browser import *  # noqa: F403 - the command page's fixtures
from .conftest import (
    api_client,
    connect_as,
    connect_with,
    expect_close,
    footprint,
    receive_until,
)
from .factories import ParticipantFactory, issue_token

ON_ROUTE = {"lat": 40.4193, "lng": -3.6932}
ALERT = {"text": "Everyone left", "audience": "public", "level": "info"}


def new_id() -> str:
    return str(uuid.uuid4())


def post(client: Client, url: str, body: dict):
    return client.post(url, body, content_type="application/json")


async def still_open(client) -> None:
    ping_id = new_id()
    await client.send_json_to({"type": "ping", "id": ping_id})
    frames = await receive_until(client, lambda f: f.get("id") == ping_id)
    assert frames[-1] == {"type": "pong", "id": ping_id}


@pytest.fixture
def lost_close_messages(monkeypatch):
    """Close orders never reach any worker, as if the channel layer dropped them."""
    monkeypatch.setattr(fanout, "publish_revocation", lambda **kwargs: None)


@pytest.fixture(params=["delivered", "lost"])
def close_messages(request) -> str:
    """Run the test with the close orders delivered, then again with them lost."""
    if request.param == "lost":
        request.getfixturevalue("lost_close_messages")
    return request.param


# --- the admin --------------------------------------------------------------------------------


def admin_change(admin_client, participant, **changes) -> None:
    """Post the participant's admin change form: `changes`, every other field as it is."""
    p = Participant.objects.get(pk=participant.pk)
    form = {
        "event": p.event_id,
        "role": p.role,
        "callsign": p.callsign,
        "group": p.group_id or "",
        "user": p.user_id or "",
        "invite": p.invite_id or "",
        "revoked_at_0": "",
        "revoked_at_1": "",
    }
    form.update(changes)
    reply = admin_client.post(f"/admin/marshals/participant/{p.pk}/change/", form)
    assert reply.status_code == 302, reply.content.decode()[:3000]


async def reconnected_after_admin_change(
    admin_client, participant, close_messages: str, next_action: dict, **changes
) -> tuple[dict, WebsocketCommunicator, dict]:
    """Connect a device of the participant, post `changes` in the admin, and see the socket closed
    to reconnect: at once, or, with the close order lost, at its `next_action`, which writes
    nothing. Returns the hello from before the change, and the device reconnected with its hello."""
    token = await database_sync_to_async(issue_token)(participant)
    client, before = await connect_with(participant, token)

    await database_sync_to_async(admin_change)(admin_client, participant, **changes)

    if close_messages == "lost":
        written = await database_sync_to_async(footprint)(participant.event)
        await client.send_json_to({**next_action, "id": new_id()})
        await expect_close(client, CLOSE_RESCOPED)
        assert await database_sync_to_async(footprint)(participant.event) == written
    else:
        await expect_close(client, CLOSE_RESCOPED)
    await client.disconnect()
    again, hello = await connect_with(participant, token)
    return before, again, hello


def admin_action(admin_client, model: str, action: str, pks: list[int]) -> None:
    reply = admin_client.post(
        f"/admin/marshals/{model}/", {"action": action, "_selected_action": pks, "index": 0}
    )
    assert reply.status_code == 302, reply.content.decode()[:3000]
    assert "No action selected" not in admin_client.get(reply["Location"]).content.decode()


def admin_revoke_by_action(admin_client, participant) -> None:
    admin_action(admin_client, "participant", "revoke_participants", [participant.pk])


def admin_revoke_in_the_form(admin_client, participant) -> None:
    # `revoked_at` was once a plain editable date: setting it there must revoke just the same.
    admin_change(
        admin_client, participant, revoke="on", revoked_at_0="2026-03-08", revoked_at_1="12:00:00"
    )


def admin_delete(admin_client, participant) -> None:
    url = f"/admin/marshals/participant/{participant.pk}/delete/"
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Participant.objects.filter(pk=participant.pk).exists()


def admin_delete_selected(admin_client, participant) -> None:
    admin_client.post(
        "/admin/marshals/participant/",
        {"action": "delete_selected", "_selected_action": [participant.pk], "post": "yes"},
    )
    assert not Participant.objects.filter(pk=participant.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "revoke",
    [admin_revoke_by_action, admin_revoke_in_the_form, admin_delete, admin_delete_selected],
    ids=["action", "form", "delete", "delete-selected"],
)
async def test_revoking_a_participant_in_the_admin_closes_their_open_sockets(
    cast, admin_client, revoke
):
    phone, _ = await connect_as(cast.marshal_a)
    tablet, _ = await connect_as(cast.marshal_a)
    bystander, _ = await connect_as(cast.marshal_b)

    await database_sync_to_async(revoke)(admin_client, cast.marshal_a)

    await expect_close(phone, 4403)
    await expect_close(tablet, 4403)
    await still_open(bystander)
    for client in (phone, tablet, bystander):
        await client.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_revoking_a_device_in_the_admin_closes_that_device_only(cast, admin_client):
    phone_token = await database_sync_to_async(issue_token)(cast.medic)
    phone, _ = await connect_with(cast.medic, phone_token)
    tablet, _ = await connect_as(cast.medic)
    device = await database_sync_to_async(
        lambda: DeviceToken.objects.filter(participant=cast.medic).order_by("pk").first()
    )()

    await database_sync_to_async(admin_action)(admin_client, "devicetoken", "revoke_devices",
                                               [device.pk])  # fmt: skip

    await expect_close(phone, 4403)
    await still_open(tablet)
    await phone.disconnect()
    await tablet.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_organizer_demoted_in_the_admin_cannot_send_alerts_over_a_socket_opened_before(
    cast, admin_client, close_messages
):
    send_alert = {"type": "alert.send", "data": ALERT}
    before, again, hello = await reconnected_after_admin_change(
        admin_client, cast.organizer, close_messages, send_alert, role="marcher"
    )

    assert before["data"]["role"] == "organizer"
    # The close says "reconnect": the same device comes back as what it is now.
    assert hello["data"]["role"] == "marcher"
    frame_id = new_id()
    await again.send_json_to({**send_alert, "id": frame_id})
    refused = await receive_until(again, lambda f: f.get("id") == frame_id)
    assert refused[-1]["type"] == "error" and refused[-1]["code"] == "forbidden"
    await again.disconnect()


def _checkins(frames: list[dict]) -> set[int]:
    return {f["data"]["participant"] for f in frames if f.get("type") == "checkin"}


@pytest.mark.django_db(transaction=True)
async def test_a_marshal_moved_to_another_group_in_the_admin_receives_that_groups_checkins_only(
    cast, admin_client, close_messages
):
    check_in = {"type": "checkin", "data": ON_ROUTE}
    before, again, hello = await reconnected_after_admin_change(
        admin_client, cast.marshal_a, close_messages, check_in, group=cast.group_b.pk
    )

    assert before["data"]["group"] == cast.group_a.pk
    assert hello["data"]["group"] == cast.group_b.pk
    old_mate = await database_sync_to_async(ParticipantFactory)(
        event=cast.event, role="marshal", group=cast.group_a, callsign="old-mate"
    )
    await database_sync_to_async(checkin_create)(participant=old_mate, **ON_ROUTE)
    await database_sync_to_async(checkin_create)(participant=cast.marshal_b, **ON_ROUTE)

    frames = await receive_until(
        again,
        lambda f: f.get("type") == "checkin" and f["data"]["participant"] == cast.marshal_b.pk,
    )
    assert _checkins(frames) == {cast.marshal_b.pk}
    await again.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_group_change_whose_messages_were_lost_is_found_by_the_repair(
    cast, admin_client, monkeypatch, lost_close_messages
):
    from fieldops.models import Event

    client, _ = await connect_as(cast.marshal_a)
    changed = await database_sync_to_async(
        lambda: Event.objects.values_list("last_seq", flat=True).get(pk=cast.event.pk) + 1
    )()
    real = fanout.hubs_take
    # The change's own journal entry is lost as well; the next entry shows the gap.
    monkeypatch.setattr(
        fanout, "hubs_take", lambda messages: real([m for m in messages if m.get("seq") != changed])
    )
    await database_sync_to_async(admin_change)(admin_client, cast.marshal_a, group=cast.group_b.pk)
    await database_sync_to_async(alert_send)(participant=cast.organizer, text="shows the gap")

    await expect_close(client, CLOSE_RESCOPED)
    await client.disconnect()


# --- REST ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_an_organizer_revokes_one_device_over_rest_and_only_that_device_closes(cast, tokens):
    slug = cast.event.slug
    organizer = api_client(tokens["organizer"])
    phone, _ = await connect_with(cast.medic, tokens["medic"])
    tablet_token = await database_sync_to_async(issue_token)(cast.medic)
    tablet, _ = await connect_with(cast.medic, tablet_token)
    devices_url = f"/api/events/{slug}/participants/{cast.medic.pk}/devices"

    listed = await database_sync_to_async(organizer.get)(devices_url)
    assert listed.status_code == 200, listed.content
    devices = listed.json()
    assert len(devices) == 2
    assert set(devices[0]) >= {"device", "label", "created_at", "last_used_at", "revoked"}
    assert all(d["last_used_at"] is not None and not d["revoked"] for d in devices)
    phone_device = min(d["device"] for d in devices)  # the `tokens` fixture made it first

    revoked = await database_sync_to_async(post)(
        organizer, f"/api/events/{slug}/device-revocations", {"device": phone_device}
    )

    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["entry"]["type"] == "device.revoked"
    await expect_close(phone, 4403)
    await still_open(tablet)
    listed = (await database_sync_to_async(organizer.get)(devices_url)).json()
    assert {d["device"]: d["revoked"] for d in listed}[phone_device] is True
    medic_api = await database_sync_to_async(
        lambda: (api_client(tokens["medic"]).get(f"/api/events/{slug}").status_code,
                 api_client(tablet_token).get(f"/api/events/{slug}").status_code)
    )()  # fmt: skip
    assert medic_api == (401, 200)
    assert (
        await database_sync_to_async(lambda: Participant.objects.get(pk=cast.medic.pk).revoked_at)()
        is None
    )
    await phone.disconnect()
    await tablet.disconnect()


def test_only_organizers_list_and_revoke_devices_and_only_of_their_event(cast, tokens):
    from .factories import EventFactory

    slug = cast.event.slug
    stranger = ParticipantFactory(event=EventFactory(), role="marshal")
    issue_token(stranger)
    elsewhere = DeviceToken.objects.get(participant=stranger).pk
    mine = DeviceToken.objects.get(participant=cast.marshal_a).pk
    marshal = api_client(tokens["marshal_b"])
    organizer = api_client(tokens["organizer"])

    assert (
        marshal.get(f"/api/events/{slug}/participants/{cast.marshal_a.pk}/devices").status_code
        == 403
    )
    assert (
        post(marshal, f"/api/events/{slug}/device-revocations", {"device": mine}).status_code == 403
    )
    refused = post(organizer, f"/api/events/{slug}/device-revocations", {"device": elsewhere})
    assert refused.status_code in (400, 404)
    assert refused.json()["fields"][0]["field"] == "device"
    listing = organizer.get(f"/api/events/{slug}/participants/{stranger.pk}/devices")
    assert listing.status_code == 404
    assert not DeviceToken.objects.filter(revoked_at__isnull=False).exists()


# --- invites ------------------------------------------------------------------------------------


def _join(code: str, device: str = "phone"):
    return post(Client(), "/api/join", {"code": code, "device": device})


def _rest_revoke_with_invite(cast, tokens, participant_id: int) -> None:
    reply = post(
        api_client(tokens["organizer"]),
        f"/api/events/{cast.event.slug}/revocations",
        {"participant": participant_id, "revoke_invite": True},
    )
    assert reply.status_code == 200, reply.content
    assert reply.json()["entry"]["data"]["invite_revoked"] is True


def _admin_revoke_with_invite(cast, tokens, participant_id: int) -> None:
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("chief", password="pw-chief-1")
    admin = Client()
    admin.force_login(staff)
    admin_action(admin, "participant", "revoke_participants_and_invites", [participant_id])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "revoke", [_rest_revoke_with_invite, _admin_revoke_with_invite], ids=["rest", "admin"]
)
def test_a_seized_phone_cannot_rejoin_with_the_invite_of_its_revoked_participant(
    cast, tokens, revoke
):
    # An invite made over REST with no use limit: the limit alone cannot stop the phone.
    made = post(
        api_client(tokens["organizer"]),
        f"/api/events/{cast.event.slug}/invites",
        {"role": "legal", "label": "observers"},
    ).json()
    joined = _join(made["code"]).json()
    assert Participant.objects.get(pk=joined["participant"]).invite_id == made["invite"]

    revoke(cast, tokens, joined["participant"])

    again = _join(made["code"])
    assert again.status_code == 400 and again.json()["fields"][0]["field"] == "code"
    assert Client().get(f"/join/{made['code']}/").status_code == 404
    assert Invite.objects.get(pk=made["invite"]).revoked_at is not None


def _organizer_browser(cast) -> Client:
    from marshals.services import invite_create

    browser = Client()
    issued = invite_create(event=cast.event, role="organizer")
    assert browser.post(f"/join/{issued.code}/", {"callsign": "desk"}).status_code == 302
    return browser


def _page_invite(browser: Client, cast, **form) -> str:
    reply = browser.post(f"/e/{cast.event.slug}/invites/", form)
    assert reply.status_code == 200, reply.content.decode()[:2000]
    return re.search(r"/join/([\w-]+)/", reply.content.decode()).group(1)


@pytest.mark.django_db
def test_command_page_invites_have_a_use_limit_by_default(cast):
    from fieldops.pages import INVITE_DEFAULT_USES

    browser = _organizer_browser(cast)
    limits = {}
    for role in ("organizer", "marshal", "legal", "medic", "marcher"):
        code = _page_invite(browser, cast, role=role)
        limits[role] = Invite.objects.get(code_hash=digest(code)).max_uses

    assert limits == {
        "organizer": 1, "marshal": 1, "legal": 1, "medic": 1, "marcher": INVITE_DEFAULT_USES
    }  # fmt: skip
    assert INVITE_DEFAULT_USES is not None
    # An organizer may ask for more uses, within the same bounds as over REST.
    code = _page_invite(browser, cast, role="marshal", max_uses="12")
    assert Invite.objects.filter(max_uses=12).count() == 1
    assert _join(code).status_code == 200
    reply = browser.post(f"/e/{cast.event.slug}/invites/", {"role": "marshal", "max_uses": "0"})
    assert reply.status_code == 400


@pytest.mark.django_db
def test_a_seized_phone_cannot_rejoin_with_a_command_page_invite_after_a_plain_revocation(
    cast, tokens
):
    code = _page_invite(_organizer_browser(cast), cast, role="marshal", group=str(cast.group_a.pk))
    joined = _join(code).json()

    reply = post(
        api_client(tokens["organizer"]),
        f"/api/events/{cast.event.slug}/revocations",
        {"participant": joined["participant"]},
    )
    assert reply.status_code == 200

    again = _join(code)
    assert again.status_code == 400 and again.json()["fields"][0]["field"] == "code"


# --- what the journal says -------------------------------------------------------------------


@pytest.mark.django_db
def test_revocations_and_changes_are_journaled_for_organizers_only(
    cast, tokens, published, django_capture_on_commit_callbacks
):
    from marshals import services

    org = cast.organizer
    device = DeviceToken.objects.get(participant=cast.medic).pk
    invite = services.invite_create(event=cast.event, role="marshal", label="bridge").invite
    with django_capture_on_commit_callbacks(execute=True):
        services.token_revoke(participant=org, device=device)
        services.participant_change(participant=org, target=cast.legal.pk, role="medic")
        services.participant_change(participant=org, target=cast.marshal_a.pk, group=None)
        services.invite_revoke(participant=org, invite=invite.pk)
        services.participant_revoke(participant=org, target=cast.marcher.pk, revoke_invite=True)

    entries = [(p["audience"], orjson.loads(p["frame"])) for p in published]
    assert [audience for audience, _ in entries] == [["organizers"]] * 5
    data = {frame["type"] + str(i): frame["data"] for i, (_, frame) in enumerate(entries)}
    assert data["device.revoked0"] == {
        "participant": cast.medic.pk, "callsign": "medic", "role": "medic", "group": None,
        "device": device, "label": "test",
    }  # fmt: skip
    assert data["participant.changed1"]["role"] == "medic"
    assert data["participant.changed1"]["was"] == {"role": "legal", "group": None}
    assert data["participant.changed2"]["group"] is None
    assert data["participant.changed2"]["was"] == {"role": "marshal", "group": cast.group_a.pk}
    assert data["invite.revoked3"] == {
        "invite": invite.pk, "role": "marshal", "group": None, "label": "bridge"
    }  # fmt: skip
    # The marcher joined with no invite (a factory made it): nothing else was revoked.
    assert data["participant.revoked4"]["invite_revoked"] is False


@pytest.mark.django_db
def test_a_change_to_nothing_new_writes_nothing_and_bad_targets_are_named(cast):
    from fieldops.errors import ActionError
    from marshals import services

    org = cast.organizer
    before = footprint(cast.event)
    same = services.participant_change(
        participant=org, target=cast.marshal_a.pk, role="marshal", group=cast.group_a.pk
    )
    assert same is None and footprint(cast.event) == before
    for kwargs, field in [
        ({"target": cast.marshal_a.pk, "role": "admiral"}, "role"),
        ({"target": cast.marshal_a.pk, "group": 10**9}, "group"),
        ({"target": 10**9, "role": "medic"}, "participant"),
    ]:
        with pytest.raises(ActionError) as refused:
            services.participant_change(participant=org, **kwargs)
        assert refused.value.fields[0]["field"] == field
    assert footprint(cast.event) == before


@pytest.mark.django_db
def test_a_device_revocation_resent_with_the_same_key_returns_the_first_entry(cast, tokens):
    organizer = api_client(tokens["organizer"])
    device = DeviceToken.objects.get(participant=cast.medic).pk
    key = {"HTTP_IDEMPOTENCY_KEY": new_id()}
    url = f"/api/events/{cast.event.slug}/device-revocations"

    first = organizer.post(url, {"device": device}, content_type="application/json", **key)
    again = organizer.post(url, {"device": device}, content_type="application/json", **key)

    assert first.status_code == again.status_code == 200
    assert again.json()["seq"] == first.json()["seq"]


# --- across workers ---------------------------------------------------------------------------


class AdminBrowser:
    """A staff user logged in to one worker's admin, posting forms as a browser would."""

    def __init__(self, base: str, username: str, password: str):
        import http.cookiejar
        import urllib.request

        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.post("/admin/login/?next=/admin/", {"username": username, "password": password})

    def post(self, path: str, form: dict) -> str:
        """Post `form` over the form at `path` as shown (its selected options), like a browser."""
        import urllib.parse

        with self.opener.open(self.base + path, timeout=30) as reply:
            page = reply.read().decode()
        shown = {
            name: re.search(r'<option value="([^"]*)" selected>', options).group(1)
            for name, options in re.findall(r'<select name="(\w+)"[^>]*>(.*?)</select>', page, re.S)
            if "selected>" in options
        }
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({**shown, **form, "csrfmiddlewaretoken": token}, doseq=True)
        with self.opener.open(self.base + path, body.encode(), timeout=30) as reply:
            assert reply.status == 200, reply.status  # after the redirect
            return reply.url


async def admin_changes_reach_sockets_on_the_other_worker(stack) -> None:
    import asyncio

    from .test_multiworker import A, B
    from .test_multiworker import connect as ws_connect

    admin_user = stack.seed["admin"]
    admin = await asyncio.to_thread(
        AdminBrowser, f"http://127.0.0.1:{stack.ports[A]}", admin_user["username"],
        admin_user["password"],
    )  # fmt: skip
    organizer = stack.join("organizer", "org-demoted")
    marshal = stack.join("marshal", "m-revoked-admin")
    chief = await ws_connect(stack, B, organizer["token"])
    field = await ws_connect(stack, B, marshal["token"])

    async def closed_with(client) -> int:
        return await client.closed()

    try:
        path = f"/admin/marshals/participant/{organizer['participant']}/change/"
        form = {"role": "marcher", "callsign": "org-demoted"}
        landed = await asyncio.to_thread(admin.post, path, form)
        assert landed.endswith("/admin/marshals/participant/"), landed
        assert await closed_with(chief) == CLOSE_RESCOPED
        again = await ws_connect(stack, B, organizer["token"])
        assert again.hello["data"]["role"] == "marcher"
        refused = await again.request("alert.send", ALERT)
        assert refused["type"] == "error" and refused["code"] == "forbidden"
        await again.close()

        action = {"action": "revoke_participants", "_selected_action": [marshal["participant"]]}
        await asyncio.to_thread(admin.post, "/admin/marshals/participant/", action)
        assert await closed_with(field) == 4403
    finally:
        await chief.close()
        await field.close()


@pytest.mark.multiworker
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_admin_changes_on_one_worker_close_or_rescope_sockets_on_the_other(database):
    from .servers import fieldops_stack
    from .test_multiworker import drive

    postgres = database == "postgresql"
    with fieldops_stack(servers=("daphne", "daphne"), postgres=postgres) as stack:
        drive(admin_changes_reach_sockets_on_the_other_worker(stack))


# --- the command page -----------------------------------------------------------------------


@contextmanager
def _device(server, callsign: str):
    """A phone that joined with the marshals' invite, holding an open socket."""
    import json
    import urllib.request

    from websockets.sync.client import connect as ws_connect

    request = urllib.request.Request(
        f"{server.base_url}/api/join",
        data=json.dumps({"code": server.invites["marshal"], "callsign": callsign,
                         "device": f"{callsign} phone"}).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as reply:
        token = json.loads(reply.read())["token"]
    url = server.base_url.replace("http", "ws") + f"/ws/events/{server.event}/"
    with ws_connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "hello"
        yield ws


def _close_code(ws) -> int:
    from websockets.exceptions import ConnectionClosed

    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(timeout=30)
    return ws.close_code


@pytest.mark.browser
def test_an_organizer_revokes_one_device_from_the_command_page(field, organizer_state):
    import json

    with _device(field.server, "Heron-dev") as heron, _device(field.server, "Egret-dev") as egret:
        _, command = field.open_as(organizer_state)
        command.click("#people-panel summary")
        command.click("#people-load")
        person = "#people li[data-participant]:has-text('Heron-dev')"
        command.click(f"{person} button[data-action=devices]")
        device = command.wait_for_selector(f"{person} li[data-device]:has-text('Heron-dev phone')")
        assert "last used" in device.inner_text()
        command.once("dialog", lambda dialog: dialog.accept())
        command.click(f"{person} li[data-device] button:has-text('Revoke')")

        command.wait_for_selector(f"{person} li[data-device][data-revoked='1']")
        assert _close_code(heron) == 4403
        egret.send(json.dumps({"type": "ping", "id": str(uuid.uuid4())}))
        while json.loads(egret.recv(timeout=30))["type"] != "pong":
            pass
        # The device went, not the person: they are still listed as active.
        assert "✕" not in command.inner_text(f"{person} > div")
