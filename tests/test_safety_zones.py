"""Danger zones: organizers switch them on and off live; a public zone reaches marchers as an
alert; a check-in inside an active zone (its edge and vertices count, its holes do not) warns the
participant and tells organizers, once per entry."""

import uuid

import orjson
import pytest
from channels.db import database_sync_to_async

from fieldops import audiences, errors
from fieldops.actions import action_perform
from fieldops.models import Place, ZoneActivation
from fieldops.services.alerts import alert_send
from fieldops.services.checkins import checkin_create
from fieldops.services.safety.zones import zone_activate, zone_deactivate

from .conftest import connect_as, receive_until
from .factories import PlaceFactory
from .test_safety_geo import VERTEX, offset, square

RING_WITH_HOLE = {"type": "Polygon", "coordinates": [square(VERTEX, 100), square(VERTEX, 30)]}
IN_RING = offset(VERTEX, bearing=90, meters=60)
OUTER_VERTEX = RING_WITH_HOLE["coordinates"][0][0]


def go(participant, point):
    return checkin_create(participant=participant, lat=point.lat, lng=point.lng)


def warnings(published):
    return [
        (p["audience"], orjson.loads(p["frame"])["data"])
        for p in published
        if orjson.loads(p["frame"])["type"] == "marshal.in_zone"
    ]


@pytest.fixture
def zone(cast):
    return PlaceFactory(
        event=cast.event, kind="danger", name="Kettle", geometry=RING_WITH_HOLE, active=False
    )


@pytest.mark.django_db(transaction=True)
def test_activating_a_public_zone_reaches_everyone_and_a_private_one_the_field_teams(
    cast, zone, published
):
    zone_activate(participant=cast.organizer, place=zone.pk)
    zone_deactivate(participant=cast.organizer, place=zone.pk)
    zone_activate(participant=cast.organizer, place=zone.pk, public=False)

    entries = [(p["audience"], orjson.loads(p["frame"])) for p in published]
    assert [(a, f["type"]) for a, f in entries] == [
        ([audiences.ORGANIZERS, audiences.PUBLIC], "zone.activated"),
        ([audiences.ORGANIZERS, audiences.PUBLIC], "zone.deactivated"),
        (
            sorted([audiences.ORGANIZERS, audiences.LEGAL, audiences.MARSHALS, audiences.MEDICS]),
            "zone.activated",
        ),
    ]
    assert entries[0][1]["data"]["level"] == "danger"
    assert entries[0][1]["data"]["geometry"] == RING_WITH_HOLE
    assert list(ZoneActivation.objects.values_list("active", flat=True)) == [True, False, True]


def test_an_organizer_draws_a_new_zone_through_the_verb(cast):
    entry = action_perform(
        participant=cast.organizer,
        verb="zone.activate",
        data={"name": "Police line", "geometry": RING_WITH_HOLE},
        client_id=uuid.uuid4(),
    )
    data = orjson.loads(entry.frame)["data"]
    assert Place.objects.get(pk=data["place"]).kind == "danger"
    assert data["public"] is True and data["active"] is True


@pytest.mark.parametrize(
    "data",
    [
        {},  # neither
        {"place": 1, "geometry": RING_WITH_HOLE},  # both
        {
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-3.69, 40.42], [-3.68, 40.42], [-3.69, 40.43]]],
            }
        },
        {
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-3.69, 40.42], [-3.68, 40.42], [-3.68, 40.43], [-3.7, 40.4]]],
            }
        },
    ],
    ids=["neither", "both", "too-few-points", "ring-not-closed"],
)
def test_a_bad_zone_is_refused_and_writes_nothing(cast, data):
    before = Place.objects.count()
    with pytest.raises(errors.ActionError):
        action_perform(participant=cast.organizer, verb="zone.activate", data=data, client_id=None)
    assert Place.objects.count() == before


def test_only_organizers_switch_zones(cast, zone):
    with pytest.raises(errors.ActionError) as refused:
        action_perform(
            participant=cast.marshal_a,
            verb="zone.activate",
            data={"place": zone.pk},
            client_id=None,
        )
    assert refused.value.code == errors.FORBIDDEN


@pytest.mark.django_db(transaction=True)
def test_a_check_in_inside_an_active_zone_warns_once_per_entry(cast, zone, published):
    go(cast.marshal_a, VERTEX)  # in the hole: outside the zone
    zone_activate(participant=cast.organizer, place=zone.pk)
    go(cast.marshal_a, IN_RING)  # entered: warned
    go(cast.marshal_a, IN_RING)  # still inside: nothing more
    go(cast.marshal_a, VERTEX)  # in the hole: outside the zone
    go(cast.marshal_a, IN_RING)  # entered again: warned again

    warned = warnings(published)
    assert len(warned) == 2
    audience, data = warned[0]
    assert audience == [audiences.ORGANIZERS, f"participant.{cast.marshal_a.pk}"]
    assert data["place"] == zone.pk and data["callsign"] == "m-a"


@pytest.mark.django_db(transaction=True)
def test_switching_a_zone_on_warns_at_once_everyone_last_seen_inside_it(cast, zone, published):
    go(cast.marshal_a, IN_RING)  # inside, before the zone is on: nothing yet
    go(cast.medic, IN_RING)
    go(cast.marshal_b, VERTEX)  # in the hole: outside
    zone_activate(participant=cast.organizer, place=zone.pk)

    warned = warnings(published)
    assert sorted(a[1] for a, _ in warned) == sorted(
        [f"participant.{cast.marshal_a.pk}", f"participant.{cast.medic.pk}"]
    )
    assert all(data["place"] == zone.pk and data["level"] == "danger" for _, data in warned)
    go(cast.marshal_a, IN_RING)  # still inside: told once, not again
    assert len(warnings(published)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_marshal_exactly_on_the_zone_vertex_is_inside_and_just_outside_is_not(
    cast, zone, published
):
    zone_activate(participant=cast.organizer, place=zone.pk)
    checkin_create(participant=cast.marshal_a, lng=OUTER_VERTEX[0], lat=OUTER_VERTEX[1])
    go(cast.marshal_b, offset(VERTEX, bearing=90, meters=101))
    assert [d["callsign"] for _, d in warnings(published)] == ["m-a"]


def test_a_deactivated_zone_warns_nobody(cast, zone, published):
    zone_activate(participant=cast.organizer, place=zone.pk)
    zone_deactivate(participant=cast.organizer, place=zone.pk)
    go(cast.marshal_a, IN_RING)
    assert warnings(published) == []


@pytest.mark.django_db(transaction=True)
async def test_zone_alert_and_warning_arrive_live_to_the_right_people_once(cast, zone):
    names = ("organizer", "marshal_a", "marshal_b", "legal", "medic", "marcher")
    clients = {n: (await connect_as(getattr(cast, n)))[0] for n in names}

    await database_sync_to_async(zone_activate)(participant=cast.organizer, place=zone.pk)
    await database_sync_to_async(go)(cast.marshal_a, IN_RING)
    await database_sync_to_async(go)(cast.marshal_a, IN_RING)
    sentinel = await database_sync_to_async(alert_send)(participant=cast.organizer, text="end")

    expected = {
        "organizer": ["zone.activated", "checkin", "marshal.in_zone", "alarm.opened", "checkin"],
        "marshal_a": ["zone.activated", "checkin", "marshal.in_zone", "alarm.opened", "checkin"],
        "marshal_b": ["zone.activated"],
        "legal": ["zone.activated"],
        "medic": ["zone.activated"],
        "marcher": ["zone.activated"],
    }
    for name, client in clients.items():
        frames = await receive_until(client, lambda f: f.get("seq") == sentinel.seq)
        assert [f["type"] for f in frames[:-1]] == expected[name], name
        await client.disconnect()


@pytest.mark.django_db(transaction=True)
def test_a_zone_switched_on_in_the_admin_warns_at_the_next_check_in(cast, zone, published):
    go(cast.marshal_a, IN_RING)  # the worker's copy of the map now has no active zone
    zone.active = True
    zone.save()  # as the admin does: no service, no journal entry
    go(cast.marshal_a, IN_RING)
    assert [d["place"] for _, d in warnings(published)] == [zone.pk]
