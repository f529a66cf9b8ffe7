"""Who receives what: every role against every journal kind, live, on resume and over REST; and
every verb a role may not use is refused without writing anything."""

import uuid

import orjson
import pytest
from channels.db import database_sync_to_async

from fieldops.actions import ACTIONS, REST_PATHS, action_allowed
from fieldops.services.alerts import alert_send
from fieldops.services.arrests import arrest_log
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_report, incident_update, sos_raise
from fieldops.services.routes import route_publish
from fieldops.services.safety.acks import route_ack
from marshals.services import invite_create, invite_redeem, participant_revoke

from .conftest import (
    CAST_NAMES,
    api_client,
    communicator_for,
    connect_as,
    connect_with,
    footprint,
    receive_until,
    valid_data,
)
from .factories import EventFactory, ParticipantFactory

EVERYONE = set(CAST_NAMES)
FIELD = {"organizer", "marshal_a", "marshal_b", "legal", "medic"}
ORGANIZER = {"organizer"}
SENTINEL_TEXT = "sentinel: everything before this has been delivered"


def _checkin_marshal_a(cast):
    return checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229)


def _checkin_medic(cast):
    return checkin_create(participant=cast.medic, lat=40.4193, lng=-3.6932, status="need_help")


def _incident_reported(cast):
    return incident_report(
        participant=cast.marshal_b, lat=40.4153, lng=-3.6941, kind="police", severity="high"
    )


def _incident_updated(cast, incident):
    return incident_update(participant=cast.organizer, incident=incident, status="acknowledged")


def _sos(cast):
    return sos_raise(
        participant=cast.marshal_a, lat=40.4153, lng=-3.6941, note="crush at the front"
    )


def _arrest(cast):
    return arrest_log(
        participant=cast.legal, lat=40.4153, lng=-3.6941, arrestee_description="red jacket"
    )


def _route_published(cast):
    return route_publish(participant=cast.organizer, **valid_data("route.publish", cast))


def _route_acked(cast):
    return route_ack(participant=cast.marshal_a, route=cast.route.pk)


def _alert(audience):
    def send(cast):
        target = f"group:{cast.group_a.pk}" if audience == "group:A" else audience
        return alert_send(participant=cast.organizer, text=f"to {audience}", audience=target)

    return send


def _participant_joined(cast):
    issued = invite_create(event=cast.event, role="medic")
    invite_redeem(code=issued.code, callsign="new-medic", with_token=False)


def _participant_revoked(cast, extra):
    return participant_revoke(participant=cast.organizer, target=extra)


# kind, how to make it, who may receive it.
CASES = [
    ("checkin", _checkin_marshal_a, {"organizer", "marshal_a"}),
    ("checkin", _checkin_medic, {"organizer", "medic"}),
    ("incident.reported", _incident_reported, FIELD),
    ("incident.updated", _incident_updated, FIELD),
    # Marshals other than the sender hear of an SOS only when near it (tests/test_safety_sos.py).
    ("sos.raised", _sos, {"organizer", "marshal_a", "medic"}),
    ("arrest.logged", _arrest, {"organizer", "legal"}),
    ("route.published", _route_published, EVERYONE),
    ("route.acked", _route_acked, ORGANIZER),
    ("alert.sent", _alert("public"), EVERYONE),
    ("alert.sent", _alert("organizer"), ORGANIZER),
    ("alert.sent", _alert("marshal"), {"organizer", "marshal_a", "marshal_b"}),
    ("alert.sent", _alert("legal"), {"organizer", "legal"}),
    ("alert.sent", _alert("medic"), {"organizer", "medic"}),
    ("alert.sent", _alert("group:A"), {"organizer", "marshal_a", "marcher"}),
    ("participant.joined", _participant_joined, ORGANIZER),
    ("participant.revoked", _participant_revoked, ORGANIZER),
]
CASE_IDS = [
    "checkin-marshal-A",
    "checkin-medic",
    "incident.reported",
    "incident.updated",
    "sos.raised",
    "arrest.logged",
    "route.published",
    "route.acked",
    "alert-public",
    "alert-organizer",
    "alert-marshal",
    "alert-legal",
    "alert-medic",
    "alert-group-A",
    "participant.joined",
    "participant.revoked",
]


def _prepare(cast, make):
    """Whatever the case needs to exist before the snapshot (an incident, someone to revoke)."""
    if make is _incident_updated:
        incident = incident_report(
            participant=cast.marshal_a, lat=40.4193, lng=-3.6932, kind="crowd", severity="low"
        )
        incident_id = orjson.loads(incident.frame)["data"]["incident"]
        return lambda cast: make(cast, incident_id)
    if make is _participant_revoked:
        extra = ParticipantFactory(event=cast.event, role="marshal", group=cast.group_b).pk
        return lambda cast: make(cast, extra)
    return make


def _journal_kinds(token: str, slug: str, since: int) -> list[str]:
    response = api_client(token).get(f"/api/events/{slug}/journal", {"since": since})
    assert response.status_code == 200, response.content
    return [e["type"] for e in response.json()["entries"]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("kind", "make", "audience"), CASES, ids=CASE_IDS)
async def test_each_role_receives_exactly_the_kinds_it_may_see(cast, tokens, kind, make, audience):
    act = await database_sync_to_async(_prepare)(cast, make)
    live = {}
    for name in CAST_NAMES:
        live[name] = communicator_for(getattr(cast, name), token=tokens[name])
        assert (await live[name].connect())[0]
    hellos = {name: await client.receive_json_from() for name, client in live.items()}
    before = hellos["organizer"]["data"]["seq"]

    await database_sync_to_async(act)(cast)
    # A public alert after the action: once a socket has it, it has everything sent before it.
    sentinel = await database_sync_to_async(alert_send)(
        participant=cast.organizer, text=SENTINEL_TEXT
    )

    # Live: exactly one entry of the kind for those who may see it, nothing for the others.
    for name, client in live.items():
        frames = await receive_until(client, lambda f: f.get("seq") == sentinel.seq)
        # The alarm an SOS or a high incident opens is proved in tests/test_alarms.py.
        got = [f["type"] for f in frames[:-1] if not f["type"].startswith("alarm.")]
        assert got == ([kind] if name in audience else []), name
        await client.disconnect()

    # Resume on a fresh socket: the same, read back from the journal.
    for name in CAST_NAMES:
        client, _ = await connect_with(getattr(cast, name), tokens[name])
        resume_id = str(uuid.uuid4())
        await client.send_json_to({"type": "resume", "id": resume_id, "data": {"since": before}})
        frames = await receive_until(client, lambda f: f["type"] == "replay.done")
        got = [
            f["type"]
            for f in frames[:-1]
            if f.get("seq") != sentinel.seq and not f["type"].startswith("alarm.")
        ]
        assert got == ([kind] if name in audience else []), name
        await client.disconnect()

    # REST journal: the same again.
    for name in CAST_NAMES:
        kinds = await database_sync_to_async(_journal_kinds)(tokens[name], cast.event.slug, before)
        kinds = [k for k in kinds if not k.startswith("alarm.")]
        assert kinds[:-1] == ([kind] if name in audience else []), name
        assert kinds[-1] == "alert.sent"


@pytest.mark.django_db(transaction=True)
async def test_marcher_never_receives_checkins_incidents_or_arrests(cast, tokens):
    marcher, _ = await connect_with(cast.marcher, tokens["marcher"])

    for make in (_checkin_marshal_a, _checkin_medic, _incident_reported, _sos, _arrest):
        await database_sync_to_async(make)(cast)
    sentinel = await database_sync_to_async(alert_send)(
        participant=cast.organizer, text=SENTINEL_TEXT
    )

    frames = await receive_until(marcher, lambda f: f.get("seq") == sentinel.seq)
    assert [f["type"] for f in frames] == ["alert.sent"]
    await marcher.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_marshal_of_group_a_gets_group_a_checkins_not_group_b_and_never_arrests(cast, tokens):
    marshal, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])

    own_group = await database_sync_to_async(checkin_create)(
        participant=cast.marshal_a, lat=40.4193, lng=-3.6932
    )
    await database_sync_to_async(checkin_create)(
        participant=cast.marshal_b, lat=40.4153, lng=-3.694124
    )
    await database_sync_to_async(_arrest)(cast)
    sentinel = await database_sync_to_async(alert_send)(
        participant=cast.organizer, text=SENTINEL_TEXT
    )

    frames = await receive_until(marshal, lambda f: f.get("seq") == sentinel.seq)
    assert [(f["type"], f["seq"]) for f in frames[:-1]] == [("checkin", own_group.seq)]
    assert frames[0]["data"]["group"] == cast.group_a.pk
    await marshal.disconnect()


FORBIDDEN = [
    (name, verb)
    for name in CAST_NAMES
    for verb in ACTIONS
    if not action_allowed(role=name.removesuffix("_a").removesuffix("_b"), verb=verb)
]


def test_the_forbidden_table_matches_the_design():
    by_role = {}
    for name, verb in FORBIDDEN:
        by_role.setdefault(name, set()).add(verb)
    assert "organizer" not in by_role
    assert by_role["marcher"] == set(ACTIONS)
    only = {"zone.activate", "zone.deactivate", "event.push", "event.end"}  # organizers only
    arrests = {"arrest.log", "arrest.update"}
    claims = {"alarm.claim", "alarm.resolve"}  # those an alarm reaches, the service decides
    assert by_role["marshal_a"] == arrests | {"route.publish", "alert.send"} | only
    assert (
        by_role["legal"] == {"checkin", "route.publish", "route.ack", "alert.send"} | only | claims
    )
    assert by_role["medic"] == arrests | {"route.publish", "route.ack", "alert.send"} | only


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("name", "verb"), FORBIDDEN)
async def test_a_forbidden_verb_over_the_socket_is_refused_and_writes_nothing(
    cast, tokens, an_incident, name, verb
):
    data = await database_sync_to_async(valid_data)(verb, cast)
    before = await database_sync_to_async(footprint)(cast.event)
    client, _ = await connect_with(getattr(cast, name), tokens[name])

    frame_id = str(uuid.uuid4())
    await client.send_json_to({"type": verb, "id": frame_id, "data": data})
    error = await client.receive_json_from()

    assert (error["type"], error["id"], error["code"]) == ("error", frame_id, "forbidden")
    assert await database_sync_to_async(footprint)(cast.event) == before
    await client.disconnect()


@pytest.mark.parametrize(("name", "verb"), FORBIDDEN)
def test_a_forbidden_verb_over_rest_is_refused_and_writes_nothing(
    cast, tokens, an_incident, name, verb
):
    before = footprint(cast.event)
    response = api_client(tokens[name]).post(
        f"/api/events/{cast.event.slug}/{REST_PATHS[verb]}",
        valid_data(verb, cast),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert footprint(cast.event) == before


@pytest.mark.parametrize("name", ["marshal_a", "legal", "medic"])
def test_only_organizers_update_incidents_others_get_forbidden(cast, tokens, an_incident, name):
    before = footprint(cast.event)
    response = api_client(tokens[name]).post(
        f"/api/events/{cast.event.slug}/incident-updates",
        {"incident": an_incident, "status": "resolved"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert footprint(cast.event) == before


@pytest.mark.django_db(transaction=True)
async def test_nothing_crosses_from_one_event_to_another(cast, tokens):
    def other_event():
        event = EventFactory()
        return (
            ParticipantFactory(event=event, role="organizer"),
            ParticipantFactory(event=event, role="marcher"),
        )

    other_organizer, other_marcher = await database_sync_to_async(other_event)()
    clients = []
    for participant in (other_organizer, other_marcher):
        client, _ = await connect_as(participant)
        clients.append(client)

    await database_sync_to_async(_route_published)(cast)
    await database_sync_to_async(_checkin_marshal_a)(cast)
    await database_sync_to_async(alert_send)(participant=cast.organizer, text="here only")
    sentinel = await database_sync_to_async(alert_send)(
        participant=other_organizer, text=SENTINEL_TEXT
    )

    for client in clients:
        frames = await receive_until(client, lambda f: f.get("type") == "alert.sent")
        assert [(f["seq"], f["data"]["text"]) for f in frames] == [(sentinel.seq, SENTINEL_TEXT)]
        await client.disconnect()
