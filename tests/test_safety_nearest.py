"""Nearest help: the closest medic, legal support, exit or water to a position, with distance and
bearing; the position is neither stored, journaled nor logged."""

import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from fieldops.models import JournalEntry
from fieldops.services.safety.geo import LatLng, LocalFrame, bearing_deg, distance_m
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


GEO_JS = Path(__file__).resolve().parent.parent / "fieldops/static/fieldops/geo.js"
# Just enough of a browser for Leaflet's UMD build to load in node (it reads these on load).
BROWSER_STUB = (
    "globalThis.window = globalThis; globalThis.screen = {};"
    "globalThis.navigator = {userAgent: 'node', platform: ''};"
    "globalThis.document = {documentElement: {style: {}}, createElement: () => ({style: {}})};"
)


def _page_measure(here: LatLng, geometries: list[dict]) -> list[dict]:
    """The marcher page's measure (geo.js with the pages' Leaflet, run by node) of each geometry
    from `here`."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is needed to run the page's measure")
    leaflet = finders.find("leaflet/leaflet.js")
    script = (
        BROWSER_STUB
        + "const { createRequire } = await import('node:module');"
        + f"createRequire(import.meta.url)({json.dumps(leaflet)});"
        + f"const m = await import({json.dumps(GEO_JS.as_uri())});"
        + "const [here, shapes] = JSON.parse((await import('node:fs')).readFileSync(0, 'utf8'));"
        + "process.stdout.write(JSON.stringify(shapes.map((g) => m.measure(here, g))));"
    )
    question = json.dumps([{"lat": here.lat, "lng": here.lng}, geometries])
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=question,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_the_marcher_page_measures_nearest_help_as_the_server_does(cast):
    here = VERTEX
    hole = square(offset(here, bearing=0, meters=10), 30)
    shapes = {
        "point 120 m east": _point(offset(here, bearing=90, meters=120)),
        "point 700 m north": _point(offset(here, bearing=0, meters=700)),
        "square 250 m west": {
            "type": "Polygon",
            "coordinates": [square(offset(here, bearing=270, meters=250), 50)],
        },
        "square around here": {"type": "Polygon", "coordinates": [square(here, 40)]},
        "inside its hole": {
            "type": "Polygon",
            "coordinates": [square(here, 200), hole],
        },
        "line 300 m south-east": {
            "type": "LineString",
            "coordinates": [
                [p.lng, p.lat]
                for p in (
                    offset(here, bearing=135, meters=300),
                    offset(offset(here, bearing=135, meters=300), bearing=45, meters=400),
                )
            ],
        },
        "multipolygon far and near": {
            "type": "MultiPolygon",
            "coordinates": [
                [square(offset(here, bearing=200, meters=900), 40)],
                [square(offset(here, bearing=20, meters=400), 40)],
            ],
        },
    }
    page = _page_measure(here, list(shapes.values()))
    for (name, geometry), measured in zip(shapes.items(), page, strict=True):
        distance, bearing = LocalFrame(here).measure(geometry)
        assert measured["distance_m"] == pytest.approx(distance, abs=0.05), name
        assert abs((measured["bearing_deg"] - bearing + 180) % 360 - 180) < 0.1, name

    # The server's answer for places holding these shapes is the same measure.
    for name, geometry in shapes.items():
        PlaceFactory(event=cast.event, kind="exit", name=name, geometry=geometry)
    served = place_nearest(event_id=cast.event.pk, position=here, kind="exit", limit=len(shapes))
    by_name = dict(zip(shapes, page, strict=True))
    for place in served:
        assert place["distance_m"] == pytest.approx(by_name[place["name"]]["distance_m"], abs=0.1)
