"""`manage.py rotate_keys`: with a new master key first, everything the old one encrypted is
encrypted again with the new one, so the old key can be removed; an interrupted run loses nothing
and a second run finishes it."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from fieldops import crypto
from fieldops.models import ArrestRecord, EventKey, JournalEntry
from fieldops.services import keys
from fieldops.services.arrests import arrest_log
from fieldops.services.checkins import checkin_create
from marshals.models import CheckIn

from .factories import EventFactory, ParticipantFactory

HERE = {"lat": 40.4193, "lng": -3.6932}
NEW = Fernet.generate_key().decode()


@pytest.fixture
def held(cast, settings) -> dict:
    """Two events' data keys, sealed values, and arrest notes sealed with the master key itself
    (as versions before data keys wrote them); what each should read back as."""
    checkin_create(participant=cast.marshal_a, note="by the fountain", **HERE)
    for n in range(3):
        arrest_log(participant=cast.legal, notes=f"arrest {n}", **HERE)
    with connection.cursor() as cursor:
        for record in ArrestRecord.objects.all():
            cursor.execute(
                "UPDATE fieldops_arrestrecord SET notes = %s WHERE id = %s",
                [crypto.encrypt(f"sealed before {record.pk}"), record.pk],
            )
    other = ParticipantFactory(event=EventFactory(), role="marshal")
    checkin_create(participant=other, note="elsewhere", **HERE)
    return {"old": settings.FIELD_ENCRYPTION_KEYS[0], "expected": readable()}


def readable() -> dict:
    """Every personal value and journal frame, decrypted (raises if a key is missing)."""
    crypto.keys_forget()
    return {
        "checkins": sorted((c.note, c.lat, c.lng) for c in CheckIn.objects.all()),
        "arrests": sorted(a.notes for a in ArrestRecord.objects.all()),
        "frames": sorted((e.event_id, e.seq, e.frame) for e in JournalEntry.objects.all()),
    }


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_keys", *args, stdout=out)
    return out.getvalue()


def test_after_rotation_the_old_master_key_can_be_removed(held):
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, held["old"]]):
        out = rotate()
        assert "fieldops.EventKey.wrapped: 2 encrypted with a master key, 2 rotated" in out
        assert "fieldops.ArrestRecord.notes: 3 encrypted with a master key, 3 rotated" in out
        assert "Rotated 5 value(s)." in out
        assert "Rotated 0 value(s)." in rotate()
        assert "the others may be removed" in rotate("--check")

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        assert readable() == held["expected"]
    with pytest.raises(ValueError):  # the old key alone opens nothing any more
        readable()
    crypto.keys_forget()


def test_an_interrupted_rotation_loses_nothing_and_a_second_run_finishes_it(held, monkeypatch):
    real, calls = crypto.master_rotate, []

    def fails_on_the_fourth(token: str):
        calls.append(token)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the operator's Ctrl-C, or a lost connection
        return real(token)

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, held["old"]]):
        monkeypatch.setattr(crypto, "master_rotate", fails_on_the_fourth)
        with pytest.raises(KeyboardInterrupt):
            rotate()
        monkeypatch.setattr(crypto, "master_rotate", real)
        assert readable() == held["expected"]  # with both keys, nothing is lost
        with pytest.raises(CommandError, match="2 value\\(s\\) still need an old master key"):
            rotate("--check")
        assert "Rotated 2 value(s)." in rotate()

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        assert readable() == held["expected"]
        assert "the others may be removed" in rotate("--check")
    crypto.keys_forget()


def test_rotation_reads_in_batches_and_shows_its_progress(held, monkeypatch):
    monkeypatch.setattr(keys, "_BATCH", 2)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, held["old"]]):
        out = rotate()
        assert "fieldops.ArrestRecord.notes: 2 read, 2 rotated so far" in out
        assert "fieldops.ArrestRecord.notes: 3 encrypted with a master key, 3 rotated" in out
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        assert readable() == held["expected"]
    crypto.keys_forget()


def test_rotation_refuses_when_a_key_it_needs_was_removed_too_early(held):
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]):
        crypto.keys_forget()
        with pytest.raises(CommandError, match="5 value\\(s\\) open with none of"):
            rotate()
        assert EventKey.objects.count() == 2  # nothing written, nothing destroyed
    crypto.keys_forget()
