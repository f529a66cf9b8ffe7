"""SOS: organizers, medics and the sender get it; marshals within the radius (their position's
accuracy counted) get it with their own distance and bearing, or, if none is, the nearest two; a re-send updates the active SOS; it stays until the sender or an organizer
resolves it, and its end reaches everyone who was told."""

import uuid
from datetime import timedelta

import orjson
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from fieldops import audiences, errors
from fieldops.actions import action_perform
from fieldops.models import ActiveSos, Incident, JournalEntry
from fieldops.services.alerts import alert_send
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_update, sos_raise
from marshals.models import CheckIn, Participant

from .conftest import api_client, connect_as, receive_until
from .factories import ParticipantFactory
from .test_safety_geo import VERTEX, offset

SOS_AT = VERTEX  # Cibeles


def place(participant, point):
    return checkin_create(participant=participant, lat=point.lat, lng=point.lng)


def frames_of(published, kind):
    return [
        (p["audience"], orjson.loads(p["frame"])["data"])
        for p in published
        if orjson.loads(p["frame"])["type"] == kind
    ]


@pytest.fixture
def around(cast):
    """Marshal B 499 m north of the SOS, a group-A marshal 501 m south, the medic 2 km east."""
    far = ParticipantFactory(event=cast.event, role="marshal", group=cast.group_a, callsign="far")
    place(cast.marshal_b, offset(SOS_AT, bearing=0, meters=499))
    place(far, offset(SOS_AT, bearing=180, meters=501))
    place(cast.medic, offset(SOS_AT, bearing=90, meters=2000))
    return far


@pytest.mark.django_db(transaction=True)
def test_sos_reaches_organizers_medics_sender_and_marshals_within_the_radius(
    cast, around, published
):
    published.clear()
    entry = sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng, note="crush")

    [(audience, data)] = frames_of(published, "sos.raised")
    assert sorted(audience) == sorted(
        [audiences.ORGANIZERS, audiences.MEDICS, f"participant.{cast.marshal_a.pk}"]
    )
    assert data["incident"] == orjson.loads(entry.frame)["data"]["incident"]
    nearby = {tuple(a): d for a, d in frames_of(published, "sos.nearby")}
    # Marshal B (499 m) and the medic (any distance) are told personally; "far" (501 m) is not.
    assert set(nearby) == {
        (audiences.ORGANIZERS, f"participant.{cast.marshal_b.pk}"),
        (audiences.ORGANIZERS, f"participant.{cast.medic.pk}"),
    }
    to_b = nearby[(audiences.ORGANIZERS, f"participant.{cast.marshal_b.pk}")]
    assert to_b["distance_m"] == pytest.approx(499, abs=0.2)
    assert to_b["bearing_deg"] == pytest.approx(180, abs=0.1) and to_b["direction"] == "S"
    assert to_b["within_radius"] is True and to_b["radius_m"] == 500
    to_medic = nearby[(audiences.ORGANIZERS, f"participant.{cast.medic.pk}")]
    assert to_medic["distance_m"] == pytest.approx(2000, abs=0.5)
    assert to_medic["direction"] == "W" and to_medic["within_radius"] is False


def test_the_radius_comes_from_settings(cast, around, settings):
    settings.FIELDOPS = {**settings.FIELDOPS, "SOS_RADIUS_METERS": 600}
    sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)
    incident = Incident.objects.get(kind="sos")
    told = set(incident.sos_recipients.values_list("participant__callsign", flat=True))
    assert told == {"m-b", "far", "medic"}


def told(incident=None) -> dict[str, str]:
    """Callsign → why they were told, from the personal entries of the one SOS."""
    incident = incident or Incident.objects.get(kind="sos")
    entries = JournalEntry.objects.filter(event_id=incident.event_id, kind="sos.nearby")
    data = [orjson.loads(e.frame)["data"] for e in entries]
    return {
        Participant.objects.get(pk=int(e.audience.split("participant.")[1].split()[0])).callsign: d
        for e, d in zip(entries, data, strict=True)
    }


def test_with_no_marshal_within_the_radius_the_nearest_two_are_told(cast):
    place(cast.marshal_b, offset(SOS_AT, bearing=0, meters=900))
    second = ParticipantFactory(event=cast.event, role="marshal", callsign="second")
    third = ParticipantFactory(event=cast.event, role="marshal", callsign="third")
    place(second, offset(SOS_AT, bearing=90, meters=1500))
    place(third, offset(SOS_AT, bearing=270, meters=3000))
    sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)

    reached = told()
    assert {name: d["reason"] for name, d in reached.items()} == {
        "m-b": "nearest",
        "second": "nearest",
    }
    assert reached["second"]["direction"] == "W"
    assert reached["second"]["distance_m"] == pytest.approx(1500, abs=0.5)
    assert reached["m-b"]["within_radius"] is False


def test_how_many_nearest_comes_from_settings_and_none_are_added_when_one_is_near(
    cast, around, settings
):
    settings.FIELDOPS = {**settings.FIELDOPS, "SOS_NEAREST_MARSHALS": 5}
    sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)
    # Marshal B is within: the nearest rule adds nobody ("far" at 501 m stays untold).
    assert {name: d["reason"] for name, d in told().items()} == {
        "m-b": "within_radius",
        "medic": "medic",
    }


def test_a_vague_position_counts_its_accuracy_up_to_the_radius(cast):
    vague = ParticipantFactory(event=cast.event, role="marshal", callsign="vague")
    vaguer = ParticipantFactory(event=cast.event, role="marshal", callsign="vaguer")
    at_650 = offset(SOS_AT, bearing=0, meters=650)
    checkin_create(participant=vague, lat=at_650.lat, lng=at_650.lng, accuracy_m=160)
    at_1100 = offset(SOS_AT, bearing=180, meters=1100)
    checkin_create(participant=vaguer, lat=at_1100.lat, lng=at_1100.lng, accuracy_m=5000)
    sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)

    reached = told()
    # 650 m less 160 m of accuracy may be within 500 m; 1,100 m less 500 (the cap) may not.
    assert reached["vague"]["reason"] == "within_radius"
    assert reached["vague"]["within_radius"] is True and reached["vague"]["accuracy_m"] == 160
    assert "vaguer" not in reached


def test_a_recipients_old_position_is_flagged_stale(cast, settings):
    settings.FIELDOPS = {**settings.FIELDOPS, "SOS_STALE_SECONDS": 600}
    old = place(cast.marshal_b, offset(SOS_AT, bearing=0, meters=100))
    CheckIn.objects.filter(pk=old.data.checkin).update(
        server_time=timezone.now() - timedelta(seconds=601)
    )
    place(cast.medic, offset(SOS_AT, bearing=0, meters=200))
    sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)

    reached = told()
    assert reached["m-b"]["stale"] is True
    assert reached["medic"]["stale"] is False


@pytest.mark.django_db(transaction=True)
def test_a_resent_sos_updates_the_active_one_instead_of_doubling_it(cast, around, published):
    first = sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng, note="crush")
    published.clear()
    moved = offset(SOS_AT, bearing=180, meters=300)  # now 199 m from "far", 799 m from B
    second = sos_raise(participant=cast.marshal_a, lat=moved.lat, lng=moved.lng)

    assert Incident.objects.filter(kind="sos").count() == 1
    assert orjson.loads(second.frame)["type"] == "sos.updated"
    assert (
        orjson.loads(second.frame)["data"]["incident"]
        == orjson.loads(first.frame)["data"]["incident"]
    )
    assert orjson.loads(second.frame)["data"]["description"] == "crush"  # kept when not resent
    nearby = {
        d["callsign"] if "callsign" in d else a[1]: d for a, d in frames_of(published, "sos.nearby")
    }
    # B was told before and is kept informed though now outside; "far" is now within.
    assert set(nearby) == {
        f"participant.{cast.marshal_b.pk}",
        f"participant.{around.pk}",
        f"participant.{cast.medic.pk}",
    }
    assert nearby[f"participant.{cast.marshal_b.pk}"]["within_radius"] is False
    assert nearby[f"participant.{around.pk}"]["distance_m"] == pytest.approx(201, abs=0.5)


def test_a_resend_with_the_same_frame_id_writes_nothing(cast, around):
    frame_id = uuid.uuid4()
    data = {"lat": SOS_AT.lat, "lng": SOS_AT.lng}
    first = action_perform(participant=cast.marshal_a, verb="sos", data=data, client_id=frame_id)
    again = action_perform(participant=cast.marshal_a, verb="sos", data=data, client_id=frame_id)
    assert again.seq == first.seq
    assert Incident.objects.filter(kind="sos").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_sender_resolves_it_and_everyone_told_hears_so(cast, around, published):
    entry = sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)
    incident = orjson.loads(entry.frame)["data"]["incident"]
    published.clear()

    incident_update(participant=cast.marshal_a, incident=incident, status="resolved")

    [(audience, data)] = frames_of(published, "incident.updated")
    assert sorted(audience) == sorted(
        [
            audiences.ORGANIZERS,
            audiences.MEDICS,
            f"participant.{cast.marshal_a.pk}",
            f"participant.{cast.marshal_b.pk}",
            f"participant.{cast.medic.pk}",
        ]
    )
    assert data["status"] == "resolved"
    assert not ActiveSos.objects.exists()
    # A new SOS after that is a new incident.
    sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)
    assert Incident.objects.filter(kind="sos").count() == 2


def test_it_stays_active_until_an_organizer_or_the_sender_resolves_it(cast, around):
    entry = sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)
    incident = orjson.loads(entry.frame)["data"]["incident"]

    with pytest.raises(errors.ActionError):  # another marshal cannot close it
        incident_update(participant=cast.marshal_b, incident=incident, status="resolved")
    incident_update(participant=cast.organizer, incident=incident, status="acknowledged")
    assert ActiveSos.objects.filter(incident_id=incident).exists()  # acknowledged, still active
    incident_update(participant=cast.organizer, incident=incident, status="resolved")
    assert not ActiveSos.objects.exists()


def test_every_page_can_list_the_active_sos(cast, around, tokens):
    sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)
    url = f"/api/events/{cast.event.slug}/safety"

    def active(name):
        response = api_client(tokens[name]).get(url)
        return response.status_code, len(response.json().get("sos", []))

    assert active("organizer") == (200, 1)
    assert active("medic") == (200, 1)
    assert active("marshal_a") == (200, 1)  # the sender
    assert active("marshal_b") == (200, 1)  # told: within the radius
    assert active("legal")[0] == 403
    assert active("marcher")[0] == 403


@pytest.mark.django_db(transaction=True)
async def test_sos_arrives_live_once_with_distance_to_the_near_marshal_only(cast, around):
    names = ("organizer", "marshal_a", "marshal_b", "legal", "medic", "marcher")
    clients = {n: (await connect_as(getattr(cast, n)))[0] for n in names}
    far_client, _ = await connect_as(around)

    frame_id = str(uuid.uuid4())
    sos = {"type": "sos", "id": frame_id, "data": {"lat": SOS_AT.lat, "lng": SOS_AT.lng}}
    await clients["marshal_a"].send_json_to(sos)
    await clients["marshal_a"].send_json_to(sos)  # a resend of the same frame
    sender_frames = await receive_until(clients["marshal_a"], lambda f: f["type"] == "ack")
    sender_frames += await receive_until(clients["marshal_a"], lambda f: f["type"] == "ack")
    sentinel = await database_sync_to_async(alert_send)(participant=cast.organizer, text="end")

    got = {}
    for name, client in [*clients.items(), ("far", far_client)]:
        frames = await receive_until(client, lambda f: f.get("seq") == sentinel.seq)
        got[name] = (sender_frames if name == "marshal_a" else []) + frames[:-1]
        await client.disconnect()
    types = {name: [f["type"] for f in frames] for name, frames in got.items()}
    # ack and entries race
    assert sorted(types["marshal_a"]) == ["ack", "ack", "alarm.opened", "sos.raised"]
    assert types["organizer"] == ["sos.raised", "sos.nearby", "sos.nearby", "alarm.opened"]
    assert types["medic"] == ["sos.raised", "sos.nearby", "alarm.opened"]
    assert types["marshal_b"] == ["sos.nearby", "alarm.opened"]
    assert types["far"] == [] and types["legal"] == [] and types["marcher"] == []
    assert got["marshal_b"][0]["data"]["distance_m"] == pytest.approx(499, abs=0.2)
    acks = [f for f in got["marshal_a"] if f["type"] == "ack"]
    raised = [f for f in got["marshal_a"] if f["type"] == "sos.raised"]
    assert acks[0]["seq"] == acks[1]["seq"] == raised[0]["seq"]
