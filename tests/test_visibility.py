"""DESIGN.md's table of roles through every door that reads: the REST reads, the REST map and the
page snapshot. The socket, its replay and the REST journal are held to the same table, kind by
kind, in tests/test_roles.py. The expectations are written out here, not read from
fieldops/visibility.py, so a change to the policy has to change this table too."""

import json
import re

import orjson
import pytest
from django.test import Client

from fieldops.services.arrests import arrest_log
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_report, sos_raise
from marshals.sessions import session_remember

from .conftest import CAST_NAMES, api_client
from .factories import PlaceFactory

SNAPSHOT = re.compile(r'<script id="fo-snapshot" type="application/json">(.*?)</script>', re.S)
CONFIG = re.compile(r'<script id="fo-config" type="application/json">(.*?)</script>', re.S)

# Who may read what over REST, as DESIGN.md says: arrest records never reach marshals or marchers;
# what organizers steer by is theirs; the safety board is for those who go to help.
READS = {
    "arrests/{arrest}": {"organizer", "legal"},
    "audit": {"organizer"},
    "participants": {"organizer"},
    "participants/{marshal}/devices": {"organizer"},
    "route-acks/status": {"organizer"},
    "safety": {"organizer", "marshal_a", "marshal_b", "medic"},
}
# What each one's map holds (REST /map and the page's snapshot alike): positions as check-in
# entries reach them (marshals their own group's marshals, medics the medics), incidents for
# the field teams (legal observers without SOS), places that are not public for all but marchers.
SEES = {
    "organizer": {"positions": {"m-a", "medic"}, "incidents": {"police", "sos"}, "private": True},
    "marshal_a": {"positions": {"m-a"}, "incidents": {"police", "sos"}, "private": True},
    "marshal_b": {"positions": set(), "incidents": {"police", "sos"}, "private": True},
    "legal": {"positions": set(), "incidents": {"police"}, "private": True},
    "medic": {"positions": {"medic"}, "incidents": {"police", "sos"}, "private": True},
    "marcher": {"positions": set(), "incidents": set(), "private": False},
}


@pytest.fixture
def happened(cast):
    """One of everything a map can hold, and an arrest record."""
    checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.6932)
    checkin_create(participant=cast.medic, lat=40.4190, lng=-3.6930)
    incident_report(
        participant=cast.marshal_b, lat=40.4153, lng=-3.6941, kind="police", severity="high"
    )
    sos_raise(participant=cast.marshal_b, lat=40.4150, lng=-3.6940)
    PlaceFactory(event=cast.event, kind="medic", name="Tent", public=True)
    PlaceFactory(event=cast.event, kind="legal", name="Lawyers' van", public=False)
    arrest = arrest_log(participant=cast.legal, lat=40.41, lng=-3.69, arrestee_description="x")
    return {"arrest": orjson.loads(arrest.frame)["data"]["arrest"], "marshal": cast.marshal_a.pk}


def _map_seen(collection: dict) -> dict:
    layers: dict[str, list[dict]] = {}
    for feature in collection["features"]:
        layers.setdefault(feature["properties"]["layer"], []).append(feature["properties"])
    return {
        "positions": {p["callsign"] for p in layers.get("position", [])},
        "incidents": {p["kind"] for p in layers.get("incident", [])},
        "private": "Lawyers' van" in {p["name"] for p in layers.get("place", [])},
    }


def _page(cast, name: str) -> tuple[dict, dict]:
    browser = Client()
    session = browser.session
    participant = getattr(cast, name)
    session_remember(session, event_slug=cast.event.slug, participant_id=participant.pk)
    session.save()
    html = browser.get(f"/e/{cast.event.slug}/").content.decode()
    snapshot = json.loads(SNAPSHOT.search(html).group(1))
    return snapshot, json.loads(CONFIG.search(html).group(1))


@pytest.mark.parametrize("name", CAST_NAMES)
def test_each_role_reads_over_rest_exactly_what_the_table_allows(cast, tokens, happened, name):
    client = api_client(tokens[name])
    for path, allowed in READS.items():
        url = f"/api/events/{cast.event.slug}/" + path.format(**happened)
        status = client.get(url).status_code
        assert status == (200 if name in allowed else 403), (path, status)


@pytest.mark.parametrize("name", CAST_NAMES)
def test_each_role_sees_the_same_map_over_rest_and_in_its_page(cast, tokens, happened, name):
    rest = api_client(tokens[name]).get(f"/api/events/{cast.event.slug}/map").json()
    snapshot, config = _page(cast, name)
    assert _map_seen(rest) == SEES[name]
    assert _map_seen(snapshot) == SEES[name]
    # The page carries arrest records only where the REST door opens to them.
    assert ("arrests" in config) == (name in READS["arrests/{arrest}"])
