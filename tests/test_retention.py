"""Retention that erases: after an event's retention only counts and the event's plan remain, its
data key is destroyed, and its tokens and sessions stop working once it has ended plus a grace."""

import base64
import io
import uuid
from datetime import timedelta

import orjson
import pytest
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from fieldops import crypto
from fieldops.models import (
    Alert,
    ArrestRecord,
    Event,
    EventKey,
    EventTally,
    Incident,
    IncidentChange,
    JournalEntry,
    MarchGroup,
    Place,
    Route,
)
from fieldops.services.alerts import alert_send
from fieldops.services.arrests import arrest_log
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_report, incident_update, sos_raise
from fieldops.services.retention import event_purge
from marshals.models import CheckIn, DeviceToken, Invite, Participant
from marshals.services import invite_create
from marshals.sessions import session_participant
from marshals.tokens import credential_active, credentials_revoked, token_authenticate

from .factories import EventFactory, ParticipantFactory, PlaceFactory, issue_token

HERE = {"lat": 40.4193, "lng": -3.6932}
NEAR = {"lat": 40.4196, "lng": -3.6935}


def fill(cast) -> dict:
    """One of everything personal at the cast's event; returns the marshal's token."""
    token = issue_token(cast.marshal_a)
    checkin_create(participant=cast.marshal_a, note="by the fountain", **HERE)
    checkin_create(participant=cast.medic, status="need_help", **NEAR)
    reported = incident_report(
        participant=cast.marshal_a, kind="police", severity="high", description="kettle", **HERE
    )
    incident = orjson.loads(reported.frame)["data"]["incident"]
    incident_update(participant=cast.organizer, incident=incident, status="acknowledged", note="ok")
    sos_raise(participant=cast.marshal_b, note="fainted", **NEAR)
    arrest_log(participant=cast.legal, people_count=3, agency="riot unit", notes="phone", **HERE)
    alert_send(participant=cast.organizer, text="m-a: go home", audience="marshal")
    invite_create(event=cast.event, role="marshal", label="for Ana")
    PlaceFactory(event=cast.event)
    return {"token": token}


def age(event, *, ended_hours_ago: float, retention_hours: int = 72) -> None:
    now = timezone.now()
    Event.objects.filter(pk=event.pk).update(
        starts_at=now - timedelta(hours=ended_hours_ago + 8),
        ends_at=now - timedelta(hours=ended_hours_ago),
        retention_hours=retention_hours,
    )


def purge() -> str:
    out = io.StringIO()
    call_command("purge_personal_data", stdout=out)
    return out.getvalue()


def stored(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_after_retention_only_counts_per_hour_and_the_events_plan_remain(cast):
    fill(cast)
    age(cast.event, ended_hours_ago=73)

    out = purge()

    event = cast.event
    for model in (CheckIn, Incident, ArrestRecord, Alert, Participant, Invite):
        assert not model.objects.filter(event=event).exists(), model.__name__
    assert not IncidentChange.objects.filter(incident__event=event).exists()
    assert not DeviceToken.objects.filter(participant__event=event).exists()
    assert not EventKey.objects.filter(event=event).exists()
    tallies = {}
    for tally in EventTally.objects.filter(event=event):
        tallies[tally.kind] = tallies.get(tally.kind, 0) + tally.count
    assert tallies == {
        "checkin.ok": 1,
        "checkin.need_help": 1,
        "incident.police": 1,
        "sos": 1,
        "arrest": 1,
        "arrest.people": 3,
        "alert.info": 1,
        "participant.organizer": 1,
        "participant.marshal": 2,
        "participant.legal": 1,
        "participant.medic": 1,
        "participant.marcher": 1,
    }
    cells = {(t.cell_lat, t.cell_lng) for t in EventTally.objects.filter(kind="arrest")}
    assert cells == {(40.42, -3.69)}  # rounded to 0.01°
    assert Route.objects.filter(event=event, published_by=None).exists()
    assert MarchGroup.objects.filter(event=event).count() == 2
    assert Place.objects.filter(event=event).exists()
    assert "1 data key(s) destroyed" in out


def test_journal_entries_keep_only_kind_seq_and_time(cast):
    fill(cast)
    before = list(JournalEntry.objects.filter(event=cast.event).values_list("seq", "kind", "at"))
    age(cast.event, ended_hours_ago=73)

    purge()

    after = JournalEntry.objects.filter(event=cast.event).order_by("seq")
    assert [(e.seq, e.kind, e.at) for e in after] == before
    kinds = {e.kind for e in after}
    assert {"checkin", "sos.raised", "sos.nearby", "arrest.logged", "alert.sent"} <= kinds
    for entry in after:
        assert orjson.loads(entry.frame) == {
            "type": entry.kind,
            "seq": entry.seq,
            "at": entry.at.isoformat(),
        }
        assert (entry.audience, entry.actor_id, entry.client_id) == (" organizers ", None, None)


def test_an_event_still_within_its_retention_keeps_everything(cast):
    fill(cast)
    age(cast.event, ended_hours_ago=71)
    counts = CheckIn.objects.count(), Incident.objects.count(), ArrestRecord.objects.count()

    purge()

    assert (CheckIn.objects.count(), Incident.objects.count(), ArrestRecord.objects.count()) == (
        counts
    )
    assert EventKey.objects.filter(event=cast.event).exists()
    assert CheckIn.objects.get(participant=cast.marshal_a).note == "by the fountain"


def test_purging_one_event_leaves_another_events_data_and_key(cast):
    fill(cast)
    other = EventFactory()
    them = ParticipantFactory(event=other, role="marshal")
    checkin_create(participant=them, note="other march", **HERE)
    age(cast.event, ended_hours_ago=73)

    purge()

    assert CheckIn.objects.get(participant=them).note == "other march"
    assert EventKey.objects.filter(event=other).exists()


def test_values_copied_before_the_purge_no_longer_decrypt(cast, django_capture_on_commit_callbacks):
    fill(cast)
    note = CheckIn.objects.get(participant=cast.marshal_a)
    copy = stored("marshals_checkin", "note", note.pk)  # as a backup or the WAL would keep it
    frame_copy = stored("fieldops_journalentry", "frame", JournalEntry.objects.first().pk)
    assert crypto.unseal(copy) == "by the fountain"
    age(cast.event, ended_hours_ago=73)

    with django_capture_on_commit_callbacks(execute=True):
        event_purge(event=Event.objects.get(pk=cast.event.pk))
    crypto.keys_forget()  # as any other worker, or a fresh process, would see it

    for old in (copy, frame_copy):
        with pytest.raises(ValueError, match="no longer exists"):
            crypto.unseal(old)
        with pytest.raises(InvalidToken):  # nor does the master key open it
            crypto.fernet().decrypt(old.split(":", 2)[2].encode())


def test_data_written_after_a_purge_goes_at_the_next_one(cast):
    age(cast.event, ended_hours_ago=73)
    assert "Purged 1 event(s)" in purge()
    assert "Purged 0 event(s)" in purge()  # nothing new: a purged event is not purged again
    late = ParticipantFactory(event=cast.event, role="marshal")
    checkin_create(participant=late, note="late", **HERE)

    assert "Purged 1 event(s)" in purge()

    assert not CheckIn.objects.filter(event=cast.event).exists()
    assert not EventKey.objects.filter(event=cast.event).exists()
    entries = JournalEntry.objects.filter(event=cast.event)
    assert all("data" not in orjson.loads(e.frame) for e in entries)


def test_personal_columns_are_sealed_with_the_events_own_key(cast):
    fill(cast)
    checkin = CheckIn.objects.get(participant=cast.marshal_a)
    key = EventKey.objects.get(event=cast.event)
    own = crypto.decrypt(key.wrapped).encode()
    columns = [
        ("marshals_checkin", ("lat", "lng", "note"), checkin.pk),
        ("fieldops_incident", ("lat", "lng", "description"), Incident.objects.first().pk),
        ("fieldops_incidentchange", ("note",), IncidentChange.objects.exclude(note="").get().pk),
        ("fieldops_arrestrecord", ("lat", "lng", "agency", "notes"), ArrestRecord.objects.get().pk),
        ("fieldops_alert", ("text",), Alert.objects.get().pk),
        ("fieldops_journalentry", ("frame",), JournalEntry.objects.first().pk),
    ]
    for table, names, pk in columns:
        for name in names:
            value = stored(table, name, pk)
            prefix, key_id, token = value.split(":", 2)
            assert (prefix, key_id) == ("v2", key.key_id), (table, name)
            assert opened_as_documented(own, key_id, token)
            with pytest.raises(InvalidToken):
                crypto.fernet().decrypt(token.encode())
    assert (checkin.lat, checkin.lng, checkin.note) == (HERE["lat"], HERE["lng"], "by the fountain")
    other = EventFactory()
    checkin_create(participant=ParticipantFactory(event=other), **HERE)
    assert EventKey.objects.get(event=other).key_id != key.key_id


def opened_as_documented(data_key: bytes, key_id: str, token: str) -> bytes:
    """A v2 value opened as fieldops/crypto.py's docstring describes it, without its code."""
    derive = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"fieldops seal v2")
    sealed = base64.urlsafe_b64decode(token)
    aead = AESGCM(derive.derive(base64.urlsafe_b64decode(data_key)))
    return aead.decrypt(sealed[:12], sealed[12:], key_id.encode())


def test_values_sealed_with_fernet_before_still_read_until_the_purge(cast):
    checkin_create(participant=cast.marshal_a, note="now", **HERE)
    checkin = CheckIn.objects.get()
    key = EventKey.objects.get(event=cast.event)
    fernet = Fernet(crypto.decrypt(key.wrapped).encode())
    before = f"v1:{key.key_id}:{fernet.encrypt(b'sealed before').decode()}"
    with connection.cursor() as cursor:
        cursor.execute("UPDATE marshals_checkin SET note = %s", [before])

    assert CheckIn.objects.get().note == "sealed before"
    assert stored("marshals_checkin", "lat", checkin.pk).startswith("v2:")  # new values: v2
    age(cast.event, ended_hours_ago=73)
    purge()
    crypto.keys_forget()
    with pytest.raises(ValueError, match="no longer exists"):
        crypto.unseal(before)


def test_a_sealed_value_altered_at_rest_is_refused_not_misread(cast):
    checkin_create(participant=cast.marshal_a, note="by the fountain", **HERE)
    value = stored("marshals_checkin", "note", CheckIn.objects.get().pk)
    head, token = value.rsplit(":", 1)
    sealed = bytearray(base64.urlsafe_b64decode(token))
    sealed[20] ^= 1
    altered = f"{head}:{base64.urlsafe_b64encode(bytes(sealed)).decode()}"
    other_key = f"v2:{'0' * 16}:{token}"

    for bad in (altered, value[:-8], f"{head}:not base64!"):
        with pytest.raises(ValueError, match="cannot be read"):
            crypto.unseal(bad)
    with pytest.raises(ValueError, match="no longer exists"):
        crypto.unseal(other_key)


def test_a_plain_update_of_a_sealed_column_is_refused(cast):
    checkin_create(participant=cast.marshal_a, **HERE)
    with pytest.raises(ValueError, match="CheckIn.note is encrypted"):
        CheckIn.objects.update(note="in clear")


def test_values_stored_before_event_keys_still_read(cast):
    arrest_log(participant=cast.legal, notes="new", **HERE)
    checkin_create(participant=cast.marshal_a, **HERE)
    with connection.cursor() as cursor:  # an arrest sealed with the master key, a plain position
        cursor.execute(
            "UPDATE fieldops_arrestrecord SET notes = %s", [crypto.encrypt("sealed before")]
        )
        cursor.execute("UPDATE marshals_checkin SET lat = %s, note = %s", ["40.5", "plain"])

    assert ArrestRecord.objects.get().notes == "sealed before"
    checkin = CheckIn.objects.get()
    assert (checkin.lat, checkin.note) == (40.5, "plain")


def test_a_new_master_key_rewraps_the_data_keys_so_the_old_one_can_be_retired(cast, settings):
    checkin_create(participant=cast.marshal_a, note="kept", **HERE)
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()

    with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]):
        assert "re-wrapped 1 data key(s)" in purge()
        assert "re-wrapped 0 data key(s)" in purge()
    crypto.keys_forget()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new]):
        assert CheckIn.objects.get().note == "kept"
    crypto.keys_forget()
    with pytest.raises(ValueError):  # the old master key alone no longer opens it
        CheckIn.objects.get().note  # noqa: B018
    crypto.keys_forget()


@pytest.mark.parametrize(
    ("ended_hours_ago", "works"), [(-2, True), (11, True), (13, False), (100, False)]
)
def test_tokens_stop_working_when_the_event_ended_more_than_the_grace_ago(
    cast, settings, ended_hours_ago, works
):
    assert settings.CREDENTIAL_GRACE_HOURS == 12
    raw = issue_token(cast.marshal_a)
    token_id = DeviceToken.objects.get(participant=cast.marshal_a).pk
    age(cast.event, ended_hours_ago=ended_hours_ago)

    assert (token_authenticate(raw) is not None) is works
    assert (token_authenticate(raw, event_slug=cast.event.slug) is not None) is works
    assert credential_active(participant_id=cast.marshal_a.pk, token_id=token_id) is works
    assert credential_active(participant_id=cast.marshal_a.pk, token_id=None) is works
    lapsed, _ = credentials_revoked(participant_ids=[cast.marshal_a.pk], token_ids=[token_id])
    assert (cast.marshal_a.pk not in lapsed) is works


def test_a_join_link_session_lasts_until_its_event_ends_plus_the_grace(cast, settings):
    issued = invite_create(event=cast.event, role="marshal")
    browser = Client()
    browser.post(f"/join/{issued.code}/", {"callsign": "Osprey"})
    session = browser.session

    expected = cast.event.ends_at + timedelta(hours=settings.CREDENTIAL_GRACE_HOURS)
    assert abs(session.get_expiry_date() - expected) < timedelta(seconds=5)
    assert session_participant(session, event_slug=cast.event.slug) is not None
    age(cast.event, ended_hours_ago=13)
    assert session_participant(session, event_slug=cast.event.slug) is None
    assert settings.SESSION_COOKIE_AGE <= 24 * 3600  # any other session: not two weeks


def test_the_purge_deletes_the_sessions_that_name_the_event(cast):
    issued = invite_create(event=cast.event, role="marshal")
    Client().post(f"/join/{issued.code}/", {"callsign": "Osprey"})
    other = EventFactory()
    elsewhere = invite_create(event=other, role="marshal")
    Client().post(f"/join/{elsewhere.code}/", {"callsign": "Heron"})
    assert Session.objects.count() == 2
    age(cast.event, ended_hours_ago=73)

    purge()

    [kept] = Session.objects.all()
    assert other.slug in kept.get_decoded()["fieldops.participants"]


@pytest.mark.django_db(transaction=True)
async def test_an_open_socket_is_closed_at_its_next_action_once_its_event_is_long_over(cast):
    from channels.db import database_sync_to_async

    from .conftest import connect_as

    client, _ = await connect_as(cast.marshal_a)
    await database_sync_to_async(age)(cast.event, ended_hours_ago=13)

    await client.send_json_to({"type": "checkin", "id": str(uuid.uuid4()), "data": HERE})

    closed = await client.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4403}
    assert not await database_sync_to_async(CheckIn.objects.exists)()
