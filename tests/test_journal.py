"""The journal: gapless per-event sequence numbers, stored audiences, publish after commit only."""

import orjson
import pytest
from django.db import transaction

from fieldops import errors
from fieldops.models import Event, JournalEntry
from fieldops.services import journal as journal_service
from fieldops.services.alerts import alert_send
from fieldops.services.arrests import arrest_log
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_report, incident_update, sos_raise
from fieldops.services.routes import route_publish
from fieldops.services.safety.acks import route_ack

from .factories import EventFactory, ParticipantFactory


class RollbackError(Exception):
    """Raised inside a transaction to make it roll back."""


def seqs(event) -> list[int]:
    return list(
        JournalEntry.objects.filter(event=event).order_by("seq").values_list("seq", flat=True)
    )


def test_each_event_numbers_its_entries_one_by_one_from_one(cast):
    other = EventFactory()
    stranger = ParticipantFactory(event=other, role="organizer")
    checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229)
    alert_send(participant=stranger, text="elsewhere")
    incident_report(participant=cast.medic, lat=40.4078, lng=-3.692, kind="medical", severity="low")
    arrest_log(participant=cast.legal, lat=40.4153, lng=-3.6941)
    alert_send(participant=stranger, text="elsewhere again")
    sos_raise(participant=cast.marshal_b, lat=40.4153, lng=-3.6941)

    # The SOS may add personal `sos.nearby` entries: whatever their number, no gaps.
    last = Event.objects.get(pk=cast.event.pk).last_seq
    assert last >= 4
    assert seqs(cast.event) == list(range(1, last + 1))
    assert seqs(other) == [1, 2]


def test_a_failed_or_rolled_back_call_leaves_no_gap(cast):
    checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229)
    # Refused by the service before anything is written.
    with pytest.raises(errors.ActionError):
        route_ack(participant=cast.marshal_a, route=999_999)
    with pytest.raises(errors.ActionError):
        incident_update(participant=cast.organizer, incident=999_999, status="resolved")
    # Written, then rolled back by a failure later in the same transaction.
    with pytest.raises(RollbackError), transaction.atomic():
        route_publish(
            participant=cast.organizer,
            geometry={"type": "LineString", "coordinates": [[-3.69, 40.42], [-3.7, 40.41]]},
        )
        raise RollbackError
    entry = checkin_create(participant=cast.marshal_a, lat=40.425, lng=-3.6904)

    assert entry.seq == 2
    assert seqs(cast.event) == [1, 2]


def test_each_entry_stores_its_audience_with_organizers_always_in_it(cast):
    checkin = checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229)
    arrest = arrest_log(participant=cast.legal, lat=40.4153, lng=-3.6941)
    alert = alert_send(
        participant=cast.organizer, text="group A only", audience=f"group:{cast.group_a.pk}"
    )

    stored = {e.kind: set(e.audience_tags) for e in JournalEntry.objects.filter(event=cast.event)}
    assert stored["checkin"] == {"organizers", f"marshals.{cast.group_a.pk}"}
    assert stored["arrest.logged"] == {"organizers", "legal"}
    assert stored["alert.sent"] == {"organizers", f"group.{cast.group_a.pk}"}
    assert {checkin.kind, arrest.kind, alert.kind} == set(stored)


@pytest.mark.django_db(transaction=True)
def test_an_entry_is_published_only_after_its_transaction_commits(cast, published):
    with transaction.atomic():
        entry = checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229)
        assert published == []

    assert published == [
        {
            "event_id": cast.event.pk,
            "seq": entry.seq,
            "audience": entry.audience_tags,
            "frame": entry.frame,
        }
    ]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_entry_is_never_published(cast, published):
    with pytest.raises(RollbackError), transaction.atomic():
        checkin_create(participant=cast.marshal_a, lat=40.4193, lng=-3.693229)
        raise RollbackError

    assert published == []
    assert seqs(cast.event) == []
    assert Event.objects.get(pk=cast.event.pk).last_seq == 0


@pytest.mark.django_db(transaction=True)
def test_the_frame_is_serialized_once_and_that_text_is_what_is_published(
    cast, published, monkeypatch
):
    calls = []
    real_dumps = orjson.dumps

    def counting_dumps(*args, **kwargs):
        calls.append(args)
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr(journal_service.orjson, "dumps", counting_dumps)
    # An incident goes to four audience tags: still one serialization.
    entry = incident_report(
        participant=cast.marshal_a, lat=40.4193, lng=-3.6932, kind="crowd", severity="medium"
    )

    assert len(calls) == 1
    stored = JournalEntry.objects.get(pk=entry.id).frame
    assert [p["frame"] for p in published] == [stored]
    assert published[0]["frame"] is entry.frame
    frame = orjson.loads(stored)
    assert (frame["type"], frame["seq"], frame["at"]) == (
        "incident.reported",
        entry.seq,
        entry.at.isoformat(),
    )
    assert frame["data"]["kind"] == "crowd"
