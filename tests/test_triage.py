"""The command page's standing state, as the server gives it on load: who is where and how, who is
overdue, off route, in a danger zone or in SOS, and who has not confirmed the route; nobody revoked."""

import json
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from fieldops import selectors
from fieldops.demo import PLACES
from fieldops.models import Place
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_report, sos_raise
from fieldops.services.safety.overdue import overdue_sweep
from marshals.services import invite_create, participant_revoke

from .factories import PlaceFactory

ON_ROUTE = (40.4200, -3.6925)  # on the demo route, by Cibeles
FAR_AWAY = (40.4300, -3.7200)  # 2 km west of it
ZONE = {
    "type": "Polygon",
    "coordinates": [
        [[-3.70, 40.40], [-3.69, 40.40], [-3.69, 40.41], [-3.70, 40.41], [-3.70, 40.40]]
    ],
}
IN_ZONE = (40.405, -3.695)


def organizer_page_config(cast) -> dict:
    issued = invite_create(event=cast.event, role="organizer")
    browser = Client()
    assert browser.post(f"/join/{issued.code}/", {"callsign": "Boss"}).status_code == 302
    page = browser.get(f"/e/{cast.event.slug}/").content.decode()
    start = page.index('<script id="fo-config" type="application/json">')
    body = page[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)


def features(participant, layer: str) -> list[dict]:
    collection = selectors.event_feature_collection(participant=participant)
    return [f["properties"] for f in collection["features"] if f["properties"]["layer"] == layer]


def test_a_revoked_participant_is_not_on_the_map_after_a_reload(cast):
    checkin_create(participant=cast.marshal_a, lat=ON_ROUTE[0], lng=ON_ROUTE[1])
    checkin_create(participant=cast.medic, lat=ON_ROUTE[0], lng=ON_ROUTE[1])
    participant_revoke(participant=cast.organizer, target=cast.marshal_a.pk)

    shown = {p["participant"] for p in features(cast.organizer, "position")}

    assert shown == {cast.medic.pk}


def test_open_incidents_keep_their_reporter_after_a_reload(cast):
    incident_report(participant=cast.marshal_a, lat=40.42, lng=-3.69, kind="crowd", severity="high")

    (incident,) = features(cast.organizer, "incident")

    assert incident["reporter"] == "m-a"
    assert incident["group"] == cast.group_a.pk


def test_triage_lists_one_row_per_person_with_their_latest_check_in_and_no_revoked(cast):
    checkin_create(participant=cast.marshal_a, lat=ON_ROUTE[0], lng=ON_ROUTE[1])
    checkin_create(participant=cast.marshal_a, lat=ON_ROUTE[0], lng=ON_ROUTE[1], status="need_help")
    participant_revoke(participant=cast.organizer, target=cast.marshal_b.pk)

    people = {p["callsign"]: p for p in selectors.triage_state(event_id=cast.event.pk)["people"]}

    # Field people only: organizers steer, marchers are anonymous, revoked ones are gone.
    assert set(people) == {"m-a", "legal", "medic"}
    assert people["m-a"]["status"] == "need_help"
    assert people["m-a"]["role"] == "marshal" and people["m-a"]["group"] == cast.group_a.pk
    assert people["m-a"]["at"] and people["m-a"]["lat"] == ON_ROUTE[0]
    assert people["medic"]["status"] is None and people["medic"]["at"] is None


def test_triage_gives_overdue_off_route_in_zone_and_unacknowledged_routes(cast):
    PlaceFactory(event=cast.event, kind="danger", name="Works", geometry=ZONE)
    checkin_create(participant=cast.marshal_a, lat=FAR_AWAY[0], lng=FAR_AWAY[1])
    checkin_create(participant=cast.marshal_b, lat=IN_ZONE[0], lng=IN_ZONE[1])
    overdue_sweep(now=timezone.now() + timedelta(hours=2), event_id=cast.event.pk)

    state = selectors.triage_state(event_id=cast.event.pk)

    assert {o["callsign"] for o in state["overdue"]} == {"m-a", "m-b", "medic"}
    off_route = {o["callsign"]: o for o in state["off_route"]}
    assert off_route["m-a"]["distance_m"] > 150
    assert [(z["callsign"], z["name"]) for z in state["in_zone"]] == [("m-b", "Works")]
    (route,) = state["routes"]
    assert route["version"] == 1
    assert {p["callsign"] for p in route["pending"]} == {"m-a", "m-b"}


def test_triage_leaves_out_revoked_participants_everywhere(cast):
    PlaceFactory(event=cast.event, kind="danger", name="Works", geometry=ZONE)
    checkin_create(participant=cast.marshal_b, lat=IN_ZONE[0], lng=IN_ZONE[1])
    overdue_sweep(now=timezone.now() + timedelta(hours=2), event_id=cast.event.pk)
    participant_revoke(participant=cast.organizer, target=cast.marshal_b.pk)

    state = selectors.triage_state(event_id=cast.event.pk)

    for panel in ("people", "overdue", "off_route", "in_zone"):
        assert "m-b" not in {p["callsign"] for p in state[panel]}, panel


def test_the_command_page_carries_the_triage_state_and_active_sos(cast):
    sos_raise(participant=cast.marshal_a, lat=40.42, lng=-3.69, note="hurt")

    config = organizer_page_config(cast)

    assert {"people", "overdue", "off_route", "in_zone", "routes"} <= set(config["triage"])
    assert "m-a" in {p["callsign"] for p in config["triage"]["people"]}


def test_the_safety_board_tells_organizers_who_is_in_a_danger_zone(cast):
    from .factories import issue_token

    PlaceFactory(event=cast.event, kind="danger", name="Works", geometry=ZONE)
    checkin_create(participant=cast.marshal_b, lat=IN_ZONE[0], lng=IN_ZONE[1])
    token = issue_token(cast.organizer)

    reply = Client().get(
        f"/api/events/{cast.event.slug}/safety", headers={"Authorization": f"Bearer {token}"}
    )

    assert reply.status_code == 200
    assert [z["callsign"] for z in reply.json()["in_zone"]] == ["m-b"]


def test_demo_place_names_do_not_repeat_their_kind():
    labels = {choice.value: str(choice.label).lower() for choice in Place.Kind}
    for kind, name, _ in PLACES:
        assert not name.lower().startswith(labels[kind].split()[0]), name
        assert ":" not in name, name
