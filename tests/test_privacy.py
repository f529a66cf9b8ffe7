"""Personal data: arrest details encrypted at rest, kept out of the journal and logs, erased after
retention, and listed (never shown) by the privacy report; secrets (tokens, invite codes) stored
only as digests."""

import io
import json
import logging
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from fieldops.models import ArrestRecord, Event, EventTally, JournalEntry
from fieldops.services import arrests as arrest_service
from fieldops.services.arrests import arrest_log
from marshals.models import DeviceToken, Invite
from marshals.services import invite_create
from marshals.tokens import digest

from .conftest import connect_with, footprint

PERSONAL = {
    "arrestee_description": "Tall, red jacket, glasses, name Ana Ruiz",
    "officers": "Badge 4471, officer with beard",
    "dispersal_details": "Megaphone at 14:02 from the van roof",
    "force_details": "Baton strike to the left arm",
    "stated_reason": "Blocking the road",
    "vehicle": "Van plate 1234-KLM",
    "taken_to": "Moratalaz station",
    "welfare_notes": "Needs insulin by 18:00",
    "witnesses": "Two people with a blue banner",
    "notes": "Phone taken",
}


def raw_row(table: str, pk: int, columns) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s", [pk])
        return dict(zip(columns, cursor.fetchone(), strict=True))


def all_raw_text(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return repr(cursor.fetchall())


def test_arrest_personal_fields_are_encrypted_in_the_database(cast):
    entry = arrest_log(participant=cast.legal, lat=40.4153, lng=-3.6941, people_count=1, **PERSONAL)
    record = ArrestRecord.objects.get(event=cast.event)

    raw = raw_row("fieldops_arrestrecord", record.pk, list(PERSONAL))
    for name, value in PERSONAL.items():
        assert raw[name] and value not in raw[name], name
        assert raw[name].startswith("v2:") and ":gAAAA" not in raw[name], name  # sealed, AES-GCM
        assert getattr(record, name) == value  # and the model reads it back
    assert entry.kind == "arrest.logged"


@pytest.mark.django_db(transaction=True)
async def test_arrest_details_never_travel_in_the_journal_frame(cast, tokens, published):
    legal, _ = await connect_with(cast.legal, tokens["legal"])
    frame_id = str(uuid.uuid4())

    await legal.send_json_to(
        {"type": "arrest.log", "id": frame_id, "data": {"lat": 40.4153, "lng": -3.6941, **PERSONAL}}
    )
    ack = await legal.receive_json_from()
    live = await legal.receive_from()

    stored = await database_sync_to_async(JournalEntry.objects.get)(
        event=cast.event, seq=ack["seq"]
    )
    for text in (live, stored.frame, published[0]["frame"]):
        for name, value in PERSONAL.items():
            assert value not in text, name
            assert f'"{name}"' not in text, name
    await legal.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_failed_arrest_log_never_writes_the_details_to_the_log(
    cast, tokens, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(arrest_service.ArrestRecord.objects, "create", broken)
    legal, _ = await connect_with(cast.legal, tokens["legal"])
    before = await database_sync_to_async(footprint)(cast.event)

    with caplog.at_level(logging.DEBUG):
        await legal.send_json_to(
            {
                "type": "arrest.log",
                "id": str(uuid.uuid4()),
                "data": {"lat": 40.4153, "lng": -3.6941, **PERSONAL},
            }
        )
        error = await legal.receive_json_from()

    assert error["code"] == "internal"  # not `unavailable`: resending would fail the same way
    assert "arrest.log failed" in caplog.text
    for value in PERSONAL.values():
        assert value not in caplog.text
    assert await database_sync_to_async(footprint)(cast.event) == before
    await legal.disconnect()


def test_purge_erases_arrest_records_once_retention_has_passed(cast):
    arrest_log(participant=cast.legal, lat=40.4153, lng=-3.6941, **PERSONAL)
    ongoing = Event.objects.create(
        slug="still-running",
        name="Still running",
        starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(hours=1),
    )
    kept = ArrestRecord.objects.create(
        event=ongoing, occurred_at=timezone.now(), lat=1, lng=1, notes="keep me"
    )
    # The cast's event ended longer ago than its retention.
    Event.objects.filter(pk=cast.event.pk).update(
        starts_at=timezone.now() - timedelta(hours=80),
        ends_at=timezone.now() - timedelta(hours=73),
        retention_hours=72,
    )

    call_command("purge_personal_data", stdout=io.StringIO())

    assert not ArrestRecord.objects.filter(event=cast.event).exists()
    arrests = EventTally.objects.get(event=cast.event, kind="arrest.people")
    assert arrests.count == 1  # what remains: how many, when, roughly where
    assert ArrestRecord.objects.get(pk=kept.pk).notes == "keep me"


def test_purge_before_retention_ends_keeps_the_data(cast):
    arrest_log(participant=cast.legal, lat=40.4153, lng=-3.6941, **PERSONAL)
    Event.objects.filter(pk=cast.event.pk).update(
        ends_at=timezone.now() - timedelta(hours=71), retention_hours=72
    )
    call_command("purge_personal_data", stdout=io.StringIO())
    record = ArrestRecord.objects.get(event=cast.event)
    assert record.purged_at is None and record.notes == PERSONAL["notes"]


def test_device_tokens_and_invite_codes_are_stored_only_as_digests(cast):
    issued = invite_create(event=cast.event, role="marshal", group=cast.group_a.pk)
    response = Client().post("/api/join", {"code": issued.code}, content_type="application/json")
    token = response.json()["token"]

    assert issued.code not in all_raw_text("marshals_invite")
    assert token not in all_raw_text("marshals_devicetoken")
    assert Invite.objects.get(pk=issued.invite.pk).code_hash == digest(issued.code)
    assert DeviceToken.objects.filter(token_hash=digest(token)).count() == 1
    assert issued.code not in all_raw_text("fieldops_journalentry")
    assert token not in all_raw_text("fieldops_journalentry")


def privacy_report(slug: str, *args: str) -> str:
    out = io.StringIO()
    call_command("privacy_report", slug, *args, stdout=out)
    return out.getvalue()


def test_privacy_report_counts_personal_data_by_kind_and_age_without_showing_it(cast):
    from .test_retention import fill

    fill(cast)
    arrest_log(participant=cast.legal, lat=40.4153, lng=-3.6941, **PERSONAL)

    text = privacy_report(cast.event.slug)
    report = json.loads(privacy_report(cast.event.slug, "--json"))

    counts = {item["kind"]: item["count"] for item in report["holdings"]}
    assert counts["check-ins (position, note)"] == 2
    assert counts["incidents (position, description)"] == 1
    assert counts["SOS (position, note)"] == 1
    assert counts["arrest records"] == 2
    assert counts["alerts (text)"] == 1
    assert counts["participants (callsign, role, group)"] == 6
    assert counts["device tokens"] == 1
    assert counts["invites"] == 1
    assert counts["data key (opens sealed copies)"] == 1
    assert counts["journal entries with content"] == JournalEntry.objects.count()
    for item in report["holdings"]:
        assert (item["oldest"] is None) == (item["count"] == 0), item
        assert item["oldest"] is None or item["oldest"] <= item["newest"]
    assert report["total"] == sum(counts.values())
    assert "check-ins (position, note)" in text and "h ago" in text
    for value in [*PERSONAL.values(), "by the fountain", "kettle", "fainted", "m-a: go home"]:
        assert value not in text
    for position in ("40.4193", "40.4153", "-3.6932"):
        assert position not in text


def test_privacy_report_finds_none_of_the_purged_kinds_after_the_purge(cast):
    from .test_retention import age, fill

    fill(cast)
    age(cast.event, ended_hours_ago=73)
    assert json.loads(privacy_report(cast.event.slug, "--json"))["total"] > 0

    call_command("purge_personal_data", stdout=io.StringIO())

    report = json.loads(privacy_report(cast.event.slug, "--json"))
    assert [item["kind"] for item in report["holdings"] if item["count"]] == []
    assert report["total"] == 0 and report["purged_at"] is not None
    assert "Total: 0 record(s) of personal data." in privacy_report(cast.event.slug)


def test_privacy_report_refuses_an_unknown_event(db):
    with pytest.raises(CommandError, match="no-such-march"):
        privacy_report("no-such-march")
