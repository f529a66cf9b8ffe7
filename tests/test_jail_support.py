"""Jail support: an arrest record's follow-up (where the person is held, charges, bail, court
date, lawyer, welfare, contact with consent, release) kept by legal observers and organizers,
through one service by socket, REST and the cases page; the journal says which fields changed,
never what they say."""

import json
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from fieldops.models import ArrestRecord, AuditEntry, JournalEntry
from fieldops.services import kinds
from fieldops.services.arrests import (
    MSG_CONTACT_WITHOUT_CONSENT,
    MSG_RELEASED_BEFORE_ARREST,
    arrest_log,
    arrest_update,
)

from .conftest import api_client, connect_with, footprint
from .test_field_pages import joined
from .test_privacy import raw_row

HERE = {"lat": 40.4153, "lng": -3.6941}
FOLLOW_UP = {
    "station": "Comisaría Centro, Leganitos 19",
    "charges": "public disorder (art. 557)",
    "bail": "600 EUR",
    "lawyer": "Lda. Marta Gil, 600 111 222",
    "follow_up_notes": "Asthma inhaler handed over at 16:10",
}


@pytest.fixture
def arrest(cast) -> ArrestRecord:
    arrest_log(participant=cast.legal, people_count=2, arrestee_description="Ana R.", **HERE)
    return ArrestRecord.objects.get(event=cast.event)


def test_a_follow_up_is_sealed_at_rest_and_read_back_by_the_model(cast, arrest):
    arrest_update(participant=cast.legal, arrest=arrest.pk, court_date=None, **FOLLOW_UP)

    raw = raw_row("fieldops_arrestrecord", arrest.pk, list(FOLLOW_UP))
    arrest.refresh_from_db()
    for name, value in FOLLOW_UP.items():
        assert raw[name].startswith("v2:") and value not in raw[name], name
        assert getattr(arrest, name) == value


def test_each_update_is_a_journal_entry_for_legal_and_organizers_naming_fields_not_values(
    cast, arrest, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        entry = arrest_update(participant=cast.legal, arrest=arrest.pk, **FOLLOW_UP)

    assert entry.kind == kinds.ARREST_UPDATED
    [sent] = [p for p in published if p["seq"] == entry.seq]
    assert set(sent["audience"]) == {"organizers", "legal"}
    frame = JournalEntry.objects.get(event=cast.event, seq=entry.seq).frame
    for value in FOLLOW_UP.values():
        assert value not in frame and value not in sent["frame"]
    data = json.loads(sent["frame"])["data"]
    assert sorted(data["changed"]) == sorted(FOLLOW_UP)
    assert data["lawyer_assigned"] is True and data["released"] is False
    assert data["by"] == cast.legal.callsign


def test_an_unchanged_field_is_not_named_and_a_left_out_one_stays(cast, arrest):
    arrest_update(participant=cast.legal, arrest=arrest.pk, station="A", bail="100")
    entry = arrest_update(participant=cast.organizer, arrest=arrest.pk, station="A", charges="x")

    assert entry.data.changed == ["charges"]
    arrest.refresh_from_db()
    assert (arrest.station, arrest.bail, arrest.charges) == ("A", "100", "x")


def test_contact_is_never_marked_made_without_the_persons_consent(cast, arrest):
    from fieldops.errors import ActionError

    with pytest.raises(ActionError) as refused:
        arrest_update(participant=cast.legal, arrest=arrest.pk, contact_made=True)
    assert refused.value.message == MSG_CONTACT_WITHOUT_CONSENT
    assert refused.value.fields[0]["field"] == "data.contact_consent"

    arrest_update(participant=cast.legal, arrest=arrest.pk, contact_made=True,
                  contact_consent=True)  # fmt: skip
    arrest.refresh_from_db()
    assert arrest.contact_made and arrest.contact_consent


def test_a_release_before_the_arrest_is_refused(cast, arrest):
    from fieldops.errors import ActionError

    with pytest.raises(ActionError) as refused:
        arrest_update(
            participant=cast.legal, arrest=arrest.pk, released_at=arrest.occurred_at.replace(
                year=arrest.occurred_at.year - 1)
        )  # fmt: skip
    assert refused.value.message == MSG_RELEASED_BEFORE_ARREST


def test_over_rest_a_legal_observer_updates_and_reads_back_the_follow_up(cast, tokens, arrest):
    client = api_client(tokens["legal"])
    slug = cast.event.slug
    reply = client.post(
        f"/api/events/{slug}/arrest-updates",
        {"arrest": arrest.pk, **FOLLOW_UP, "court_date": "2026-06-02", "welfare_met": True,
         "released_at": (arrest.occurred_at + timedelta(hours=5)).isoformat()},
        content_type="application/json",
    )  # fmt: skip
    assert reply.status_code == 200, reply.content
    assert reply.json()["entry"]["type"] == "arrest.updated"

    record = client.get(f"/api/events/{slug}/arrests/{arrest.pk}").json()
    assert record["court_date"] == "2026-06-02" and record["station"] == FOLLOW_UP["station"]
    assert record["released"] is True and record["welfare_met"] is True


@pytest.mark.parametrize("name", ["marshal_a", "medic", "marcher"])
def test_only_legal_observers_and_organizers_update_a_case(cast, tokens, arrest, name):
    before = footprint(cast.event)
    reply = api_client(tokens[name]).post(
        f"/api/events/{cast.event.slug}/arrest-updates",
        {"arrest": arrest.pk, "station": "x"},
        content_type="application/json",
    )
    assert reply.status_code == 403
    assert footprint(cast.event) == before


def test_an_arrest_of_another_event_is_not_found(cast, tokens):
    from .factories import EventFactory, ParticipantFactory

    other = ParticipantFactory(event=EventFactory(), role="legal")
    arrest_log(participant=other, **HERE)
    theirs = ArrestRecord.objects.get(event=other.event)
    reply = api_client(tokens["legal"]).post(
        f"/api/events/{cast.event.slug}/arrest-updates",
        {"arrest": theirs.pk, "station": "x"},
        content_type="application/json",
    )
    assert reply.status_code == 400
    assert reply.json()["fields"][0]["field"] == "arrest"


@pytest.mark.django_db(transaction=True)
async def test_over_the_socket_the_same_action_is_acknowledged_once_for_a_resend(
    cast, tokens, arrest
):
    legal, _ = await connect_with(cast.legal, tokens["legal"])
    frame = {"type": "arrest.update", "id": str(uuid.uuid4()),
             "data": {"arrest": arrest.pk, "charges": "none yet"}}  # fmt: skip
    await legal.send_json_to(frame)
    first = await legal.receive_json_from()
    entry = await legal.receive_json_from()
    await legal.send_json_to(frame)
    again = await legal.receive_json_from()

    assert first["type"] == "ack" and again == first
    assert entry["type"] == "arrest.updated" and entry["data"]["changed"] == ["charges"]
    await legal.disconnect()


def test_the_cases_page_lists_open_cases_and_follows_one_to_release(cast, arrest):
    arrest_log(participant=cast.legal, people_count=1, **HERE)
    browser, observer = joined(cast, "legal")
    slug = cast.event.slug

    listing = browser.get(f"/e/{slug}/cases/").content.decode()
    assert listing.count('data-arrest="') == 2

    # Typed in the event's time zone, as the page asks.
    later = (arrest.occurred_at + timedelta(hours=3)).astimezone(ZoneInfo(cast.event.time_zone))
    page = browser.get(f"/e/{slug}/cases/{arrest.pk}/")
    assert page.status_code == 200 and "Ana R." in page.content.decode()
    assert AuditEntry.objects.filter(via="page", object_id=str(arrest.pk)).exists()
    saved = browser.post(
        f"/e/{slug}/cases/{arrest.pk}/",
        {"action_id": str(uuid.uuid4()), **FOLLOW_UP, "welfare_met": "on",
         "released_at": later.strftime("%Y-%m-%dT%H:%M")},
    )  # fmt: skip
    assert saved.status_code == 302, saved.content

    arrest.refresh_from_db()
    assert arrest.released_at == later.replace(second=0, microsecond=0) and arrest.welfare_met
    assert JournalEntry.objects.filter(kind="arrest.updated", actor=observer).count() == 1
    listing = browser.get(f"/e/{slug}/cases/").content.decode()
    assert listing.count('data-arrest="') == 1  # released: no longer open
    assert browser.get(f"/e/{slug}/cases/?all=1").content.decode().count('data-arrest="') == 2


def test_the_cases_page_shows_a_refusal_and_keeps_what_was_typed(cast, arrest):
    browser, _ = joined(cast, "legal")
    reply = browser.post(
        f"/e/{cast.event.slug}/cases/{arrest.pk}/",
        {"action_id": str(uuid.uuid4()), "charges": "kept text", "contact_made": "on"},
    )
    assert reply.status_code == 400
    text = reply.content.decode()
    assert "kept text" in text and "consent" in text
    assert not JournalEntry.objects.filter(kind="arrest.updated").exists()


@pytest.mark.parametrize("role", ["marshal", "medic", "marcher"])
def test_the_cases_pages_are_refused_to_roles_that_may_not_read_arrests(cast, arrest, role):
    browser, _ = joined(cast, role, cast.group_a.pk if role != "medic" else None)
    assert browser.get(f"/e/{cast.event.slug}/cases/").status_code == 403
    assert browser.get(f"/e/{cast.event.slug}/cases/{arrest.pk}/").status_code == 403


def test_a_case_page_escapes_what_was_written(cast, arrest):
    arrest_update(participant=cast.legal, arrest=arrest.pk, charges="<script>x()</script>")
    browser, _ = joined(cast, "legal")
    text = browser.get(f"/e/{cast.event.slug}/cases/{arrest.pk}/").content.decode()
    assert "<script>x()" not in text and "&lt;script&gt;x()" in text
