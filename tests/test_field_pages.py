"""What the field pages are given to start from: the route a marshal must acknowledge (only the
active version of their own route, worded as a change only when it is one) and the SOS that are
active (the sender's own, and the ones the participant may see)."""

import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from fieldops.models import Route
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_update, sos_raise
from fieldops.services.routes import route_is_change, route_publish
from fieldops.services.safety.acks import route_ack, route_ack_remind
from fieldops.services.safety.sos import sos_active_visible
from marshals.models import Participant
from marshals.services import invite_create

from .factories import MADRID_ROUTE

LINE = {"type": "LineString", "coordinates": MADRID_ROUTE[:3]}
CONFIG = re.compile(r'<script id="fo-config" type="application/json">(.*?)</script>', re.S)


def joined(cast, role: str, group=None) -> tuple[Client, Participant]:
    issued = invite_create(event=cast.event, role=role, group=group)
    browser = Client()
    reply = browser.post(f"/join/{issued.code}/", {"callsign": f"{role}-page"})
    assert reply.status_code == 302
    return browser, Participant.objects.filter(event=cast.event).latest("pk")


def page_config(browser: Client, cast) -> dict:
    reply = browser.get(f"/e/{cast.event.slug}/")
    assert reply.status_code == 200
    return json.loads(CONFIG.search(reply.content.decode()).group(1))


def test_the_first_route_of_the_march_is_the_plan_and_later_versions_are_changes(cast):
    assert route_is_change(route=cast.route) is False
    route_publish(participant=cast.organizer, geometry=LINE)
    assert route_is_change(route=Route.objects.get(event=cast.event, version=2)) is True
    # A group's first route replaces the march's route its marchers followed.
    route_publish(participant=cast.organizer, geometry=LINE, group=cast.group_a.pk)
    assert route_is_change(route=Route.objects.get(group=cast.group_a)) is True


def test_a_marshal_first_asked_to_read_the_plan_not_told_it_changed(cast):
    browser, _ = joined(cast, "marshal", cast.group_a.pk)
    [request] = page_config(browser, cast)["unacked_routes"]
    assert (request["route"], request["version"], request["changed"]) == (cast.route.pk, 1, False)


def test_a_superseded_version_is_never_asked_for_and_an_acknowledged_one_is_done(cast):
    browser, marshal = joined(cast, "marshal", cast.group_b.pk)
    route_publish(participant=cast.organizer, geometry=LINE)
    v2 = Route.objects.get(event=cast.event, version=2)
    [request] = page_config(browser, cast)["unacked_routes"]
    assert (request["route"], request["changed"]) == (v2.pk, True)

    route_ack(participant=marshal, route=v2.pk)
    assert page_config(browser, cast)["unacked_routes"] == []


def test_a_marshal_whose_group_has_its_own_route_acknowledges_only_that_one(cast):
    browser, _ = joined(cast, "marshal", cast.group_a.pk)
    route_publish(participant=cast.organizer, geometry=LINE, group=cast.group_a.pk)
    own = Route.objects.get(group=cast.group_a)
    [request] = page_config(browser, cast)["unacked_routes"]
    assert (request["route"], request["group"], request["changed"]) == (own.pk, own.group_id, True)
    other, _ = joined(cast, "marshal", cast.group_b.pk)
    assert [r["route"] for r in page_config(other, cast)["unacked_routes"]] == [cast.route.pk]


def test_the_sender_page_shows_their_sos_active_until_it_ends(cast):
    browser, marshal = joined(cast, "marshal", cast.group_a.pk)
    assert page_config(browser, cast)["my_sos"] is None
    sos_raise(participant=marshal, lat=40.42, lng=-3.69)
    sos_raise(participant=marshal, lat=40.421, lng=-3.691)  # moved: the same SOS
    mine = page_config(browser, cast)["my_sos"]
    assert (mine["lat"], mine["lng"], mine["kind"]) == (40.421, -3.691, "sos")
    incident_update(participant=marshal, incident=mine["incident"], status="resolved")
    assert page_config(browser, cast)["my_sos"] is None


def test_a_legal_observer_page_shows_their_own_sos(cast):
    browser, observer = joined(cast, "legal")
    sos_raise(participant=observer, lat=40.42, lng=-3.69)
    config = page_config(browser, cast)
    assert config["my_sos"]["reporter"] == observer.callsign
    assert config["active_sos"] == []


def test_a_medic_who_never_checked_in_is_given_every_active_sos(cast):
    browser, _ = joined(cast, "medic")
    sos_raise(participant=cast.marshal_a, lat=40.42, lng=-3.69, note="crush")
    [active] = page_config(browser, cast)["active_sos"]
    assert (active["reporter"], active["description"]) == ("m-a", "crush")


def test_a_marshal_sees_the_sos_they_were_told_of_and_not_the_others(cast):
    near = (40.4200, -3.6900)
    checkin_create(participant=cast.marshal_b, lat=near[0], lng=near[1])
    sos_raise(participant=cast.marshal_a, lat=near[0], lng=near[1])  # marshal B is told
    far = (40.50, -3.60)
    checkin_create(participant=cast.marshal_a, lat=far[0], lng=far[1])
    sos_raise(participant=cast.medic, lat=far[0], lng=far[1])  # marshal A is nearby, not B
    assert [i.reporter.callsign for i in sos_active_visible(participant=cast.marshal_b)] == ["m-a"]
    assert sos_active_visible(participant=cast.legal) == []
    medic_sees = {i.reporter.callsign for i in sos_active_visible(participant=cast.organizer)}
    assert medic_sees == {"m-a", "medic"}


@pytest.mark.parametrize("role", ["marcher", "organizer"])
def test_pages_without_an_sos_button_are_given_no_sos_state(cast, role):
    browser, _ = joined(cast, role, cast.group_a.pk if role == "marcher" else None)
    config = page_config(browser, cast)
    assert "my_sos" not in config and "unacked_routes" not in config


def test_a_reminder_says_whether_the_route_it_asks_about_is_a_change(cast):
    plan = route_ack_remind(route=cast.route, participant=cast.marshal_a, now=timezone.now())
    assert json.loads(plan.frame)["data"]["changed"] is False
    route_publish(participant=cast.organizer, geometry=LINE)
    v2 = Route.objects.get(event=cast.event, version=2)
    change = route_ack_remind(route=v2, participant=cast.marshal_a, now=timezone.now())
    assert json.loads(change.frame)["data"]["changed"] is True


def test_a_page_is_sent_the_route_its_participant_follows(cast):
    browser, _ = joined(cast, "marshal", group=cast.group_a.pk)
    route = page_config(browser, cast)["route"]
    assert (route["route"], route["group"]) == (cast.route.pk, None)  # the march's, for now
    route_publish(participant=cast.organizer, geometry=LINE, group=cast.group_a.pk)
    own = Route.objects.get(group=cast.group_a)
    config = page_config(browser, cast)
    assert config["route"] == {"route": own.pk, "version": 1, "group": cast.group_a.pk}
    assert [r["route"] for r in config["unacked_routes"]] == [own.pk]
    other, _ = joined(cast, "marcher", group=cast.group_b.pk)
    assert page_config(other, cast)["route"]["route"] == cast.route.pk
