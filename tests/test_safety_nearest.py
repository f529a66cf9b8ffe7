"""Nearest help: the closest medic, legal support, exit or water to a position, with distance and
bearing; the position is neither stored, journaled nor logged."""

import logging

import pytest

from fieldops.models import JournalEntry
from fieldops.services.safety.geo import LatLng, bearing_deg, distance_m
from fieldops.services.safety.nearest import place_nearest

from .conftest import api_client, footprint
from .factories import PlaceFactory
from .test_safety_geo import VERTEX, offset, square

# Cibeles in degrees, minutes and seconds (40°25′09.48″N 3°41′35.52″W).
VERTEX_DMS = "40°25′09.48″N 3°41′35.52″W"


@pytest.fixture
def medics(cast):
    near = offset(VERTEX, bearing=90, meters=120)
    far = offset(VERTEX, bearing=0, meters=700)
    PlaceFactory(event=cast.event, kind="medic", name="Near tent", geometry=_point(near))
    PlaceFactory(event=cast.event, kind="medic", name="Far tent", geometry=_point(far))
    PlaceFactory(
        event=cast.event, kind="medic", name="Closed tent", geometry=_point(VERTEX), active=False
    )
    PlaceFactory(event=cast.event, kind="water", name="Fountain", geometry=_point(VERTEX))
    PlaceFactory(
        event=cast.event,
        kind="exit",
        name="Side street",
        geometry={
            "type": "Polygon",
            "coordinates": [square(offset(VERTEX, bearing=270, meters=250), 50)],
        },
    )
    return near, far


def _point(p: LatLng) -> dict:
    return {"type": "Point", "coordinates": [p.lng, p.lat]}


def test_the_nearest_active_places_of_the_kind_come_first_with_distance_and_bearing(cast, medics):
    near, far = medics
    found = place_nearest(event_id=cast.event.pk, position=VERTEX, kind="medic")

    assert [p["name"] for p in found] == ["Near tent", "Far tent"]
    assert found[0]["distance_m"] == pytest.approx(120, abs=0.1)
    assert found[0]["bearing_deg"] == pytest.approx(bearing_deg(VERTEX, near), abs=0.1)
    assert found[0]["direction"] == "E"
    assert found[1]["distance_m"] == pytest.approx(distance_m(VERTEX, far), abs=0.1)
    assert found[1]["direction"] == "N"


def test_a_polygon_place_is_measured_to_its_nearest_edge(cast, medics):
    [exit_] = place_nearest(event_id=cast.event.pk, position=VERTEX, kind="exit")
    assert exit_["distance_m"] == pytest.approx(200, abs=0.5)
    assert exit_["direction"] == "W"


def test_the_api_takes_decimal_or_dms_positions_and_stores_nothing(cast, medics, tokens, caplog):
    url = f"/api/events/{cast.event.slug}/nearest"
    before = footprint(cast.event)
    journal = JournalEntry.objects.count()
    caplog.set_level(logging.DEBUG)

    decimal = api_client(tokens["marshal_a"]).post(
        url,
        {"lat": VERTEX.lat, "lng": VERTEX.lng, "kind": "medic", "limit": 1},
        content_type="application/json",
    )
    dms = api_client(tokens["medic"]).post(
        url, {"position": VERTEX_DMS, "kind": "water"}, content_type="application/json"
    )

    assert decimal.status_code == 200, decimal.content
    assert [p["name"] for p in decimal.json()["places"]] == ["Near tent"]
    assert dms.status_code == 200, dms.content
    assert dms.json()["places"][0]["name"] == "Fountain"
    assert dms.json()["places"][0]["distance_m"] < 1
    assert footprint(cast.event) == before and JournalEntry.objects.count() == journal
    logged = caplog.text
    assert str(VERTEX.lat)[:7] not in logged and "41′35" not in logged


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "medic"}, "position"),
        ({"kind": "medic", "position": "by the fountain"}, "position"),
        ({"kind": "toilets", "lat": 40.4, "lng": -3.69}, "kind"),
        ({"kind": "medic", "lat": 91, "lng": -3.69}, "lat"),
    ],
    ids=["no-position", "not-a-position", "kind-not-help", "lat-out-of-range"],
)
def test_a_bad_question_gets_a_clear_error(cast, tokens, body, field):
    response = api_client(tokens["marshal_a"]).post(
        f"/api/events/{cast.event.slug}/nearest", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert [f["field"] for f in response.json()["fields"]] == [field]


def test_marchers_never_send_their_position(cast, tokens):
    response = api_client(tokens["marcher"]).post(
        f"/api/events/{cast.event.slug}/nearest",
        {"kind": "medic", "lat": 40.42, "lng": -3.69},
        content_type="application/json",
    )
    assert response.status_code == 403
