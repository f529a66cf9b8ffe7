"""Off route: a check-in farther than OFF_ROUTE_METERS from the group's active route tells
organizers once; back within it clears it. Route acknowledgements: who has and has not, and one
reminder to each marshal who has not within ROUTE_ACK_REMINDER_SECONDS."""

from datetime import timedelta

import orjson
import pytest
from django.utils import timezone

from fieldops import audiences
from fieldops.models import OffRoute, Route, RouteAckReminder
from fieldops.services.checkins import checkin_create
from fieldops.services.routes import route_for, route_publish
from fieldops.services.safety.acks import route_ack, route_ack_remind_sweep, route_ack_status

from .conftest import api_client
from .factories import MADRID_ROUTE, ParticipantFactory
from .test_safety_geo import VERTEX, beside_route

SAFETY = ("marshal.off_route", "marshal.on_route")


def go(participant, point):
    return checkin_create(participant=participant, lat=point.lat, lng=point.lng)


def street_through(point) -> dict:
    """A short north-south street with the point in its middle, as a route geometry."""
    return {
        "type": "LineString",
        "coordinates": [[point.lng, point.lat - 0.002], [point.lng, point.lat + 0.002]],
    }


def give_group_a_its_own_street(cast):
    """Publish a route for group A alone, a parallel street 400 m east of the march's route (which
    stays as it was); returns a point on it."""
    east = beside_route(400)
    route_publish(participant=cast.organizer, group=cast.group_a.pk, geometry=street_through(east))
    return east


def safety_frames(published):
    return [
        (p["audience"], orjson.loads(p["frame"]))
        for p in published
        if orjson.loads(p["frame"])["type"] in SAFETY
    ]


@pytest.mark.django_db(transaction=True)
def test_off_route_tells_organizers_and_the_marshal_once_and_back_on_route_clears_it(
    cast, published
):
    go(cast.marshal_a, beside_route(149))  # just inside: nothing
    go(cast.marshal_a, beside_route(151))  # just outside: off route
    go(cast.marshal_a, beside_route(400))  # still off: nothing more
    go(cast.marshal_a, VERTEX)  # exactly on a vertex: back on route

    frames = safety_frames(published)
    marshal_a = f"participant.{cast.marshal_a.pk}"
    assert [(a, f["type"]) for a, f in frames] == [
        ([audiences.ORGANIZERS, marshal_a], "marshal.off_route"),
        ([audiences.ORGANIZERS, marshal_a], "marshal.on_route"),
    ]
    assert frames[0][1]["data"]["distance_m"] == pytest.approx(151, abs=0.1)
    assert frames[0][1]["data"]["limit_m"] == 150
    assert frames[1][1]["data"]["distance_m"] == 0.0
    assert not OffRoute.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_route_published_away_from_a_marshal_tells_them_at_once(cast, published):
    go(cast.marshal_a, VERTEX)  # on the march's route
    go(cast.marshal_b, VERTEX)
    go(cast.medic, beside_route(400))  # medics are held to no route
    east = give_group_a_its_own_street(cast)  # 400 m east: group A's marshal is now off it

    frames = safety_frames(published)
    assert [(a, f["type"], f["data"]["callsign"]) for a, f in frames] == [
        ([audiences.ORGANIZERS, f"participant.{cast.marshal_a.pk}"], "marshal.off_route", "m-a")
    ]
    assert frames[0][1]["data"]["distance_m"] > frames[0][1]["data"]["limit_m"]
    # Walking to the new street clears it, as any check-in back on route does.
    go(cast.marshal_a, east)
    assert [f["type"] for _, f in safety_frames(published)][-1] == "marshal.on_route"


@pytest.mark.django_db(transaction=True)
def test_a_route_published_under_a_marshal_who_strayed_clears_it_at_once(cast, published):
    east = beside_route(400)
    go(cast.marshal_a, east)  # off the march's route
    route_publish(participant=cast.organizer, geometry=street_through(east))

    assert [f["type"] for _, f in safety_frames(published)] == [
        "marshal.off_route",
        "marshal.on_route",
    ]
    assert not OffRoute.objects.exists()


def test_the_threshold_comes_from_settings(cast, settings):
    settings.FIELDOPS = {**settings.FIELDOPS, "OFF_ROUTE_METERS": 100}
    go(cast.marshal_a, beside_route(120))
    assert OffRoute.objects.filter(participant=cast.marshal_a).exists()


def test_a_group_route_is_measured_instead_of_the_whole_march_route(cast):
    east = give_group_a_its_own_street(cast)
    go(cast.marshal_a, east)  # on group A's route, 400 m from the march's
    go(cast.marshal_b, east)  # group B follows the march's route: off
    off = set(OffRoute.objects.values_list("participant__callsign", flat=True))
    assert off == {"m-b"}


def test_medics_and_organizers_are_not_held_to_a_route(cast):
    go(cast.medic, beside_route(400))
    go(cast.organizer, beside_route(400))
    assert not OffRoute.objects.exists()


# --- route acknowledgements ------------------------------------------------------------------


def age(route, **delta):
    Route.objects.filter(pk=route.pk).update(published_at=timezone.now() - timedelta(**delta))


def test_organizers_see_who_acknowledged_the_newest_version_and_who_has_not(cast, tokens):
    route_ack(participant=cast.marshal_a, route=cast.route.pk)
    url = f"/api/events/{cast.event.slug}/route-acks/status"

    [status] = api_client(tokens["organizer"]).get(url).json()
    assert status["version"] == 1
    assert [m["callsign"] for m in status["acknowledged"]] == ["m-a"]
    assert [m["callsign"] for m in status["pending"]] == ["m-b"]
    # A new version: nobody has acknowledged it yet.
    route_publish(
        participant=cast.organizer, geometry={"type": "LineString", "coordinates": MADRID_ROUTE[:3]}
    )
    [status] = route_ack_status(event_id=cast.event.pk)
    assert status["version"] == 2 and status["acknowledged"] == []
    assert api_client(tokens["marshal_a"]).get(url).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_marshal_late_to_acknowledge_gets_one_reminder_of_their_own(cast, published, settings):
    settings.FIELDOPS = {**settings.FIELDOPS, "ROUTE_ACK_REMINDER_SECONDS": 120}
    late = ParticipantFactory(event=cast.event, role="marshal", group=cast.group_a)
    from marshals.models import Participant

    Participant.objects.filter(event=cast.event).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    route_ack(participant=cast.marshal_a, route=cast.route.pk)
    age(cast.route, seconds=119)
    assert route_ack_remind_sweep(event_id=cast.event.pk) == []  # not yet
    age(cast.route, seconds=121)
    published.clear()

    first = route_ack_remind_sweep(event_id=cast.event.pk)
    second = route_ack_remind_sweep(event_id=cast.event.pk)

    assert second == []
    reminded = sorted(
        (tuple(p["audience"]), orjson.loads(p["frame"])["data"]["callsign"]) for p in published
    )
    assert reminded == sorted(
        [
            ((audiences.ORGANIZERS, f"participant.{cast.marshal_b.pk}"), "m-b"),
            ((audiences.ORGANIZERS, f"participant.{late.pk}"), late.callsign),
        ]
    )
    assert {e.kind for e in first} == {"route.ack_reminder"}


def test_a_route_edited_outside_the_services_is_measured_at_the_next_check_in(cast):
    # The worker keeps a copy of the map; an edit made in the admin (a plain save) must not be
    # measured against the stale copy.
    go(cast.marshal_a, VERTEX)
    assert not OffRoute.objects.exists()
    east = beside_route(400)
    route = Route.objects.get(pk=cast.route.pk)
    route.geometry = street_through(east)
    route.save()
    go(cast.marshal_a, VERTEX)
    assert OffRoute.objects.filter(participant=cast.marshal_a).exists()
    route.delete()  # no route left at all: nobody can be off it
    go(cast.marshal_a, VERTEX)
    assert not OffRoute.objects.exists()


def test_a_marshal_whose_group_has_its_own_route_is_held_asked_and_reminded_about_it_alone(cast):
    give_group_a_its_own_street(cast)
    own = Route.objects.get(group=cast.group_a)
    assert route_for(participant=cast.marshal_a) == own
    assert route_for(participant=cast.marshal_b) == cast.route

    # The off-route rule measures against it...
    go(cast.marshal_a, VERTEX)
    assert OffRoute.objects.get(participant=cast.marshal_a).route_id == own.pk
    # ...organizers see them pending on it and not on the march's...
    status = route_ack_status(event_id=cast.event.pk)
    pending = {s["route"]: [m["callsign"] for m in s["pending"]] for s in status}
    assert pending == {cast.route.pk: ["m-b"], own.pk: ["m-a"]}
    # ...and the reminders ask about it alone.
    route_ack_remind_sweep(event_id=cast.event.pk, delay_seconds=0)
    reminded = RouteAckReminder.objects.values_list("participant__callsign", "route_id")
    assert set(reminded) == {("m-a", own.pk), ("m-b", cast.route.pk)}
