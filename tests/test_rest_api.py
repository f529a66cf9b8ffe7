"""REST under /api/: joining, the same actions as the socket, the journal, the map, and who may do what."""

from datetime import timedelta

import orjson
import pytest
from django.test import Client
from django.utils import timezone

from fieldops.models import JournalEntry
from fieldops.services.alerts import alert_send
from fieldops.services.arrests import arrest_log
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_report, sos_raise
from marshals.models import Invite, Participant
from marshals.services import invite_create, invite_redeem

from .conftest import api_client, footprint, valid_data
from .factories import EventFactory, ParticipantFactory, PlaceFactory, issue_token


def entry_data(entry) -> dict:
    return orjson.loads(entry.frame)["data"]


def post(client: Client, url: str, body: dict, **kwargs):
    return client.post(url, body, content_type="application/json", **kwargs)


# --- joining ------------------------------------------------------------------------------------


def test_a_device_joins_with_an_invite_code_and_gets_a_working_token(cast):
    issued = invite_create(event=cast.event, role="marshal", group=cast.group_a.pk, max_uses=5)

    response = post(
        Client(), "/api/join", {"code": issued.code, "callsign": "Kestrel", "device": "phone"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "marshal" and body["group"] == cast.group_a.pk
    assert body["callsign"] == "Kestrel" and body["event"] == cast.event.slug
    assert body["websocket"] == f"/ws/events/{cast.event.slug}/"
    me = api_client(body["token"]).get(f"/api/events/{cast.event.slug}").json()["me"]
    assert me == {
        "participant": body["participant"],
        "callsign": "Kestrel",
        "role": "marshal",
        "group": cast.group_a.pk,
    }
    assert Invite.objects.get(pk=issued.invite.pk).uses == 1


def _expired(cast):
    issued = invite_create(event=cast.event, role="marshal")
    Invite.objects.filter(pk=issued.invite.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    return issued.code


def _used_up(cast):
    issued = invite_create(event=cast.event, role="medic", max_uses=1)
    invite_redeem(code=issued.code, with_token=True)
    return issued.code


def _revoked(cast):
    issued = invite_create(event=cast.event, role="legal")
    Invite.objects.filter(pk=issued.invite.pk).update(revoked_at=timezone.now())
    return issued.code


@pytest.mark.parametrize(
    "make_code",
    [_expired, _used_up, _revoked, lambda cast: "never-issued-code"],
    ids=["expired", "used-up", "revoked", "unknown"],
)
def test_an_unusable_invite_is_refused_naming_the_code_field(cast, make_code):
    code = make_code(cast)
    before = footprint(cast.event)

    response = post(Client(), "/api/join", {"code": code})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert [f["field"] for f in body["fields"]] == ["code"]
    assert footprint(cast.event) == before


def test_a_malformed_join_body_names_the_fields(cast):
    response = post(Client(), "/api/join", {"code": "short", "extra": 1})
    assert response.status_code == 400
    assert {f["field"] for f in response.json()["fields"]} == {"code", "extra"}


# --- actions --------------------------------------------------------------------------------


ACTIONS = [
    ("checkins", "checkin", "marshal_a", "checkin"),
    ("incidents", "incident.report", "legal", "incident.reported"),
    ("incident-updates", "incident.update", "organizer", "incident.updated"),
    ("arrests", "arrest.log", "legal", "arrest.logged"),
    ("sos", "sos", "medic", "sos.raised"),
    ("routes", "route.publish", "organizer", "route.published"),
    ("route-acks", "route.ack", "marshal_b", "route.acked"),
    ("alerts", "alert.send", "organizer", "alert.sent"),
]


@pytest.mark.parametrize(("path", "verb", "name", "kind"), ACTIONS, ids=[a[1] for a in ACTIONS])
def test_every_action_endpoint_writes_one_journal_entry_through_the_service(
    cast, tokens, an_incident, path, verb, name, kind
):
    before = footprint(cast.event)

    response = post(
        api_client(tokens[name]), f"/api/events/{cast.event.slug}/{path}", valid_data(verb, cast)
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["seq"] == before["last_seq"] + 1
    assert body["entry"]["type"] == kind and body["entry"]["seq"] == body["seq"]
    stored = JournalEntry.objects.get(event=cast.event, seq=body["seq"])
    assert stored.kind == kind and stored.actor_id == getattr(cast, name).pk
    # An SOS or a high incident also opens an alarm (tests/test_alarms.py): the rule's, not the action's.
    alarms = JournalEntry.objects.filter(event=cast.event, kind="alarm.opened").count()
    assert footprint(cast.event)["journal"] == before["journal"] + 1 + alarms


def test_an_invalid_rest_body_names_the_field_and_writes_nothing(cast, tokens):
    before = footprint(cast.event)
    response = post(
        api_client(tokens["marshal_a"]),
        f"/api/events/{cast.event.slug}/checkins",
        {"lat": 91, "lng": "west", "mood": "good"},
    )
    assert response.status_code == 400
    assert {f["field"] for f in response.json()["fields"]} == {"lat", "lng", "mood"}
    assert footprint(cast.event) == before


def test_a_marshal_may_resolve_their_own_sos_but_not_acknowledge_it(cast, tokens):
    sos = sos_raise(participant=cast.marshal_a, lat=40.4193, lng=-3.6932)
    incident_id = entry_data(sos)["incident"]
    client = api_client(tokens["marshal_a"])
    url = f"/api/events/{cast.event.slug}/incident-updates"

    refused = post(client, url, {"incident": incident_id, "status": "acknowledged"})
    resolved = post(client, url, {"incident": incident_id, "status": "resolved"})

    assert refused.status_code == 403
    assert resolved.status_code == 200 and resolved.json()["entry"]["data"]["status"] == "resolved"


# --- reading --------------------------------------------------------------------------------


def test_the_journal_since_a_seq_holds_only_what_the_role_may_see(cast, tokens):
    checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229)  # 1
    since = 1
    checkin_create(participant=cast.marshal_b, lat=40.4193, lng=-3.693229)  # 2: group B
    arrest_log(participant=cast.legal, lat=40.4153, lng=-3.6941)  # 3
    alert_send(participant=cast.organizer, text="everyone")  # 4
    checkin_create(participant=cast.marshal_a, lat=40.425, lng=-3.6904)  # 5

    def seqs(name, **params):
        response = api_client(tokens[name]).get(
            f"/api/events/{cast.event.slug}/journal", {"since": since, **params}
        )
        assert response.status_code == 200
        return [e["seq"] for e in response.json()["entries"]]

    assert seqs("organizer") == [2, 3, 4, 5]
    assert seqs("marshal_a") == [4, 5]
    assert seqs("marshal_b") == [2, 4]
    assert seqs("legal") == [3, 4]
    assert seqs("marcher") == [4]
    assert seqs("organizer", limit=2) == [2, 3]
    bad = api_client(tokens["organizer"]).get(
        f"/api/events/{cast.event.slug}/journal", {"since": -1}
    )
    assert bad.status_code == 400 and bad.json()["fields"][0]["field"] == "since"


def _layers(response) -> dict[str, list[dict]]:
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    layers: dict[str, list[dict]] = {}
    for feature in body["features"]:
        assert feature["type"] == "Feature" and feature["geometry"]["type"]
        layers.setdefault(feature["properties"]["layer"], []).append(feature["properties"])
    return layers


def test_the_map_is_a_feature_collection_filtered_by_role(cast, tokens):
    PlaceFactory(event=cast.event, kind="water", name="Public water")
    PlaceFactory(event=cast.event, kind="legal", name="Legal van", public=False)
    PlaceFactory(event=cast.event, kind="exit", name="Closed exit", active=False)
    checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229)
    checkin_create(participant=cast.marshal_b, lat=40.4153, lng=-3.694124)
    checkin_create(participant=cast.medic, lat=40.4078, lng=-3.692)
    incident_report(
        participant=cast.legal, lat=40.4153, lng=-3.6941, kind="police", severity="high"
    )
    sos_raise(participant=cast.medic, lat=40.4078, lng=-3.692)

    def layers(name):
        return _layers(api_client(tokens[name]).get(f"/api/events/{cast.event.slug}/map"))

    marcher = layers("marcher")
    assert set(marcher) == {"route", "place"}
    assert [p["name"] for p in marcher["place"]] == ["Public water"]
    assert [r["route"] for r in marcher["route"]] == [cast.route.pk]

    organizer = layers("organizer")
    assert {p["name"] for p in organizer["place"]} == {"Public water", "Legal van"}
    assert {p["callsign"] for p in organizer["position"]} == {"m-a", "m-b", "medic"}
    assert {i["kind"] for i in organizer["incident"]} == {"police", "sos"}

    marshal = layers("marshal_a")
    assert {p["callsign"] for p in marshal["position"]} == {"m-a"}
    assert {i["kind"] for i in marshal["incident"]} == {"police", "sos"}

    medic = layers("medic")
    assert {p["callsign"] for p in medic["position"]} == {"medic"}

    legal = layers("legal")
    assert "position" not in legal
    assert {i["kind"] for i in legal["incident"]} == {"police"}


def test_the_map_shows_only_the_newest_route_version(cast, tokens):
    post(
        api_client(tokens["organizer"]),
        f"/api/events/{cast.event.slug}/routes",
        valid_data("route.publish", cast),
    )
    routes = _layers(api_client(tokens["marcher"]).get(f"/api/events/{cast.event.slug}/map"))[
        "route"
    ]
    assert [r["version"] for r in routes] == [2]


@pytest.mark.parametrize(
    ("name", "status"),
    [("organizer", 200), ("legal", 200), ("marshal_a", 403), ("medic", 403), ("marcher", 403)],
)
def test_arrest_details_are_for_organizers_and_legal_observers_only(cast, tokens, name, status):
    entry = arrest_log(
        participant=cast.legal, lat=40.4153, lng=-3.6941, arrestee_description="red jacket"
    )
    arrest_id = entry_data(entry)["arrest"]

    response = api_client(tokens[name]).get(f"/api/events/{cast.event.slug}/arrests/{arrest_id}")

    assert response.status_code == status
    if status == 200:
        assert response.json()["arrestee_description"] == "red jacket"
    else:
        assert "red jacket" not in response.content.decode()


def test_an_arrest_of_another_event_is_not_found(cast, tokens):
    other = EventFactory()
    entry = arrest_log(
        participant=ParticipantFactory(event=other, role="legal"), lat=40.4153, lng=-3.6941
    )
    arrest_id = entry_data(entry)["arrest"]
    response = api_client(tokens["organizer"]).get(
        f"/api/events/{cast.event.slug}/arrests/{arrest_id}"
    )
    assert response.status_code == 404


# --- organizers only ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["marshal_a", "legal", "medic", "marcher"])
def test_only_organizers_create_invites_revoke_and_list_participants(cast, tokens, name):
    client = api_client(tokens[name])
    slug = cast.event.slug
    before = footprint(cast.event)

    invite = post(client, f"/api/events/{slug}/invites", {"role": "organizer"})
    revoke = post(client, f"/api/events/{slug}/revocations", {"participant": cast.marshal_b.pk})
    listing = client.get(f"/api/events/{slug}/participants")

    assert (invite.status_code, revoke.status_code, listing.status_code) == (403, 403, 403)
    assert footprint(cast.event) == before
    assert Participant.objects.get(pk=cast.marshal_b.pk).revoked_at is None


def test_an_organizer_invites_and_the_invite_joins(cast, tokens):
    response = post(
        api_client(tokens["organizer"]),
        f"/api/events/{cast.event.slug}/invites",
        {"role": "marshal", "group": cast.group_b.pk, "max_uses": 2, "expires_in_hours": 3},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["url"].endswith(f"/join/{body['code']}/")
    joined = post(Client(), "/api/join", {"code": body["code"]}).json()
    assert (joined["role"], joined["group"]) == ("marshal", cast.group_b.pk)


def test_an_invite_for_a_group_of_another_event_is_refused(cast, tokens):
    other_group = EventFactory().groups.create(name="Elsewhere")
    response = post(
        api_client(tokens["organizer"]),
        f"/api/events/{cast.event.slug}/invites",
        {"role": "marshal", "group": other_group.pk},
    )
    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "group"


def test_an_organizer_revokes_and_the_token_stops_working(cast, tokens):
    slug = cast.event.slug
    response = post(
        api_client(tokens["organizer"]),
        f"/api/events/{slug}/revocations",
        {"participant": cast.marshal_b.pk},
    )

    assert response.status_code == 200
    assert response.json()["entry"]["type"] == "participant.revoked"
    assert api_client(tokens["marshal_b"]).get(f"/api/events/{slug}").status_code == 401
    listing = api_client(tokens["organizer"]).get(f"/api/events/{slug}/participants").json()
    assert {p["callsign"]: p["revoked"] for p in listing}["m-b"] is True
    assert "anon" not in {p["callsign"] for p in listing}  # marchers are not listed


# --- who is calling -------------------------------------------------------------------------


def test_no_credential_is_401_and_another_events_token_is_403(cast):
    assert Client().get(f"/api/events/{cast.event.slug}/journal").status_code == 401
    stranger = issue_token(ParticipantFactory(event=EventFactory(), role="organizer"))
    response = api_client(stranger).get(f"/api/events/{cast.event.slug}/journal")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_event_detail_says_who_you_are_and_which_verbs_you_may_use(cast, tokens):
    body = api_client(tokens["legal"]).get(f"/api/events/{cast.event.slug}").json()
    assert body["me"]["role"] == "legal"
    assert body["may"] == [
        "arrest.log",
        "arrest.update",
        "incident.report",
        "incident.update",
        "sos",
    ]
    assert {g["name"] for g in body["groups"]} == {"North block", "South block"}
    assert api_client(tokens["marcher"]).get(f"/api/events/{cast.event.slug}").json()["may"] == []


def test_the_openapi_schema_lists_every_endpoint(db):
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/api/join",
        "/api/events/{slug}",
        "/api/events/{slug}/journal",
        "/api/events/{slug}/map",
        "/api/events/{slug}/arrests/{arrest_id}",
        "/api/events/{slug}/invites",
        "/api/events/{slug}/revocations",
        "/api/events/{slug}/participants",
        *(f"/api/events/{{slug}}/{path}" for path, *_ in ACTIONS),
    }
    assert expected <= set(paths)
    checkin = paths["/api/events/{slug}/checkins"]["post"]
    assert "requestBody" in checkin
    assert any(p["name"] == "Idempotency-Key" for p in checkin["parameters"])


def test_a_browser_session_works_with_the_csrf_token_and_not_without(cast):
    issued = invite_create(event=cast.event, role="medic")
    browser = Client(enforce_csrf_checks=True)
    browser.get(f"/join/{issued.code}/")
    csrf = browser.cookies["csrftoken"].value
    joined = browser.post(
        f"/join/{issued.code}/", {"callsign": "Heron", "csrfmiddlewaretoken": csrf}
    )
    assert joined.status_code == 302
    url = f"/api/events/{cast.event.slug}/sos"
    before = footprint(cast.event)

    without = post(browser, url, {"lat": 40.4193, "lng": -3.6932})
    assert without.status_code == 403
    assert footprint(cast.event) == before

    csrf = browser.cookies["csrftoken"].value  # rotated when the session was made
    with_token = post(browser, url, {"lat": 40.4193, "lng": -3.6932}, headers={"X-CSRFToken": csrf})
    assert with_token.status_code == 200, with_token.content
    assert with_token.json()["entry"]["data"]["reporter"] == "Heron"
    assert browser.get(f"/api/events/{cast.event.slug}").json()["me"]["callsign"] == "Heron"


@pytest.mark.parametrize(
    ("body", "headers", "fields"),
    [
        ("{not json", {}, ["body"]),
        ({"lat": True, "lng": -3.6932}, {}, ["lat"]),
        ({"lat": "40.4193", "lng": -3.6932}, {}, ["lat"]),
        (
            {"lat": 40.4193, "lng": -3.6932},
            {"Idempotency-Key": "not-a-uuid"},
            ["header.Idempotency-Key"],
        ),
    ],
    ids=["malformed-json", "boolean-lat", "string-lat", "bad-idempotency-key"],
)
def test_bad_rest_input_gets_the_common_error_shape_and_writes_nothing(
    cast, tokens, body, headers, fields
):
    before = footprint(cast.event)
    response = api_client(tokens["marshal_a"]).post(
        f"/api/events/{cast.event.slug}/checkins",
        body,
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid" and payload["message"]
    assert [f["field"] for f in payload["fields"]] == fields
    assert footprint(cast.event) == before


@pytest.mark.parametrize(
    ("path", "name", "body", "field"),
    [
        ("route-acks", "marshal_a", {"route": 999_999}, "route"),
        ("incident-updates", "organizer", {"incident": 999_999, "status": "resolved"}, "incident"),
        ("alerts", "organizer", {"text": "hi", "audience": "group:999999"}, "audience"),
        ("routes", "organizer", "route-for-another-group", "group"),
    ],
    ids=["unknown-route", "unknown-incident", "unknown-group-alert", "unknown-group-route"],
)
def test_a_service_refusal_over_rest_names_the_body_field(cast, tokens, path, name, body, field):
    if body == "route-for-another-group":
        body = {**valid_data("route.publish", cast), "group": 999_999}
    before = footprint(cast.event)
    response = post(api_client(tokens[name]), f"/api/events/{cast.event.slug}/{path}", body)
    assert response.status_code == 400
    assert [f["field"] for f in response.json()["fields"]] == [field]
    assert footprint(cast.event) == before


def test_an_incident_cannot_move_back_from_resolved(cast, tokens, an_incident):
    client = api_client(tokens["organizer"])
    url = f"/api/events/{cast.event.slug}/incident-updates"
    assert post(client, url, {"incident": an_incident, "status": "resolved"}).status_code == 200
    before = footprint(cast.event)

    response = post(client, url, {"incident": an_incident, "status": "acknowledged"})

    assert response.status_code == 400
    assert [f["field"] for f in response.json()["fields"]] == ["status"]
    assert footprint(cast.event) == before
