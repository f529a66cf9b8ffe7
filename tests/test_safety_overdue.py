"""The overdue watch: one `marshal.overdue` per lapse to organizers and the marshal's group, a
check-in clears it with `marshal.back`, and no second sweep, thread or process doubles it."""

from datetime import timedelta

import orjson
import pytest
from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.utils import timezone

from fieldops import audiences, errors, visibility
from fieldops.actions import action_perform
from fieldops.models import JournalEntry, OverdueLapse
from fieldops.services.alerts import alert_send
from fieldops.services.checkins import checkin_create
from fieldops.services.safety.acks import route_ack_remind_sweep
from fieldops.services.safety.overdue import overdue_after, overdue_raise, overdue_sweep
from marshals.models import Participant

from .conftest import connect_as, receive_until
from .factories import ParticipantFactory

ON_ROUTE = {"lat": 40.4193, "lng": -3.6932}  # Cibeles, a vertex of the test route


def silent_marshal(cast, *, minutes: float, group=None, callsign="quiet"):
    """A marshal of group A (by default) who joined `minutes` ago and never checked in."""
    marshal = ParticipantFactory(
        event=cast.event, role="marshal", group=group or cast.group_a, callsign=callsign
    )
    Participant.objects.filter(pk=marshal.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )
    return Participant.objects.select_related("event").get(pk=marshal.pk)


def kinds(published, kind):
    return [p for p in published if orjson.loads(p["frame"])["type"] == kind]


@pytest.mark.django_db(transaction=True)
def test_a_silent_marshal_raises_one_overdue_to_organizers_and_their_group(cast, published):
    quiet = silent_marshal(cast, minutes=60)

    written = overdue_sweep(event_id=cast.event.pk)

    assert [e.kind for e in written] == ["marshal.overdue"]
    [entry] = kinds(published, "marshal.overdue")
    assert sorted(entry["audience"]) == sorted(
        [
            audiences.ORGANIZERS,
            audiences.march_group_marshals_tag(cast.group_a.pk),
            f"participant.{quiet.pk}",
        ]
    )
    data = orjson.loads(entry["frame"])["data"]
    assert data["participant"] == quiet.pk and data["callsign"] == "quiet"
    assert data["silent_minutes"] >= 60
    # Who may see it: organizers, group A's marshals and the marshal; never group B or marchers.
    tags_b = visibility.subscriptions(
        role="marshal", group_id=cast.group_b.pk, participant_id=cast.marshal_b.pk
    )
    tags_marcher = visibility.subscriptions(
        role="marcher", group_id=cast.group_a.pk, participant_id=1
    )
    tags_a = visibility.subscriptions(
        role="marshal", group_id=cast.group_a.pk, participant_id=cast.marshal_a.pk
    )
    assert set(entry["audience"]).isdisjoint(tags_b + tags_marcher + ["legal", "medics"])
    assert not set(entry["audience"]).isdisjoint(tags_a)


def test_silence_within_the_interval_and_grace_is_not_overdue(cast):
    quiet = silent_marshal(cast, minutes=0)
    limit = overdue_after(cast.event)

    def raised_for_quiet(now):
        entries = overdue_sweep(now=now, event_id=cast.event.pk)
        return [e for e in entries if orjson.loads(e.frame)["data"]["participant"] == quiet.pk]

    assert raised_for_quiet(quiet.created_at + limit) == []
    assert len(raised_for_quiet(quiet.created_at + limit + timedelta(seconds=1))) == 1


def test_sweeping_again_during_the_same_lapse_writes_nothing(cast):
    silent_marshal(cast, minutes=60)

    first = overdue_sweep(event_id=cast.event.pk)
    second = overdue_sweep(event_id=cast.event.pk)
    third = overdue_sweep(now=timezone.now() + timedelta(minutes=1), event_id=cast.event.pk)

    assert len(first) == 1 and second == [] and third == []


@pytest.mark.django_db(transaction=True)
def test_a_check_in_clears_it_with_back_and_a_new_silence_is_a_new_lapse(cast, published):
    quiet = silent_marshal(cast, minutes=60)
    overdue_sweep(event_id=cast.event.pk)

    checkin_create(participant=quiet, **ON_ROUTE)
    checkin_create(participant=quiet, **ON_ROUTE)  # a second check-in: nothing more to clear

    [back] = kinds(published, "marshal.back")
    assert sorted(back["audience"]) == sorted(kinds(published, "marshal.overdue")[0]["audience"])
    assert OverdueLapse.objects.get(participant=quiet).cleared_at is not None
    # Silent again for longer than the interval: one more alert, for the new lapse.
    later = timezone.now() + overdue_after(cast.event) + timedelta(seconds=5)
    assert [e.kind for e in overdue_sweep(now=later, event_id=cast.event.pk)].count(
        "marshal.overdue"
    ) >= 1
    assert OverdueLapse.objects.filter(participant=quiet).count() == 2


def test_a_stale_sweep_finds_the_lapse_taken_and_writes_nothing(cast):
    quiet = silent_marshal(cast, minutes=60)
    assert overdue_raise(participant=quiet, since=quiet.created_at) is not None
    before = JournalEntry.objects.count()

    # Another worker read the same candidate before the first one committed.
    assert overdue_raise(participant=quiet, since=quiet.created_at) is None
    assert JournalEntry.objects.count() == before


def test_the_database_refuses_a_second_alert_for_one_lapse(cast):
    quiet = silent_marshal(cast, minutes=60)
    now = timezone.now()
    OverdueLapse.objects.create(
        event=cast.event, participant=quiet, silent_since=quiet.created_at, raised_at=now
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        OverdueLapse.objects.create(
            event=cast.event, participant=quiet, silent_since=quiet.created_at, raised_at=now
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # nor two open lapses at once
        OverdueLapse.objects.create(
            event=cast.event, participant=quiet, silent_since=now, raised_at=now
        )


def test_a_revoked_marshal_or_an_event_not_running_raises_nothing(cast, settings):
    quiet = silent_marshal(cast, minutes=60)
    Participant.objects.filter(pk=quiet.pk).update(revoked_at=timezone.now())
    assert overdue_sweep(event_id=cast.event.pk) == []
    other = silent_marshal(cast, minutes=60, callsign="other")
    hours = settings.FIELDOPS["WATCH_OVERRUN_HOURS"]
    assert overdue_sweep(now=cast.event.ends_at + timedelta(hours=hours, minutes=1)) == []
    assert overdue_sweep(now=cast.event.starts_at - timedelta(minutes=1)) == []
    assert [e.kind for e in overdue_sweep(event_id=cast.event.pk)] == ["marshal.overdue"]
    assert other.pk == orjson.loads(JournalEntry.objects.last().frame)["data"]["participant"]


def test_a_march_that_overruns_is_watched_until_an_organizer_ends_it(cast, settings):
    settings.FIELDOPS = {**settings.FIELDOPS, "WATCH_OVERRUN_HOURS": 3}
    silent_marshal(cast, minutes=60)
    late = cast.event.ends_at + timedelta(hours=2)
    # Two hours past the schedule and nobody ended it: the silent marshal is still reported.
    assert "marshal.overdue" in {e.kind for e in overdue_sweep(now=late, event_id=cast.event.pk)}

    ended = action_perform(participant=cast.organizer, verb="event.end", data={}, client_id=None)
    assert ended.kind == "event.ended" and audiences.PUBLIC in ended.audience_tags
    silent_marshal(cast, minutes=60, callsign="after")
    assert overdue_sweep(now=late, event_id=cast.event.pk) == []
    assert route_ack_remind_sweep(now=late, event_id=cast.event.pk, delay_seconds=0) == []


def test_only_organizers_end_an_event_and_only_once(cast):
    with pytest.raises(errors.ActionError) as refused:
        action_perform(participant=cast.marshal_a, verb="event.end", data={}, client_id=None)
    assert refused.value.code == errors.FORBIDDEN
    action_perform(participant=cast.organizer, verb="event.end", data={}, client_id=None)
    with pytest.raises(errors.ActionError) as again:
        action_perform(participant=cast.organizer, verb="event.end", data={}, client_id=None)
    assert again.value.code == errors.INVALID and "already ended" in again.value.message


@pytest.mark.django_db(transaction=True)
async def test_overdue_and_back_arrive_live_to_organizer_and_group_mate_only(cast):
    quiet = await database_sync_to_async(silent_marshal)(cast, minutes=60)
    names = ("organizer", "marshal_a", "marshal_b", "legal", "medic", "marcher")
    clients = {n: (await connect_as(getattr(cast, n)))[0] for n in names}
    silent_client, _ = await connect_as(quiet)

    await database_sync_to_async(overdue_sweep)(event_id=cast.event.pk)
    await database_sync_to_async(overdue_sweep)(event_id=cast.event.pk)  # a second runner
    await database_sync_to_async(checkin_create)(participant=quiet, **ON_ROUTE)
    sentinel = await database_sync_to_async(alert_send)(participant=cast.organizer, text="end")

    told = ["marshal.overdue", "alarm.opened", "checkin", "marshal.back", "alarm.resolved"]
    expected = {
        "organizer": told,
        "marshal_a": told,
        "marshal_b": [],
        "legal": [],
        "medic": [],
        "marcher": [],
    }
    for name, client in clients.items():
        frames = await receive_until(client, lambda f: f.get("seq") == sentinel.seq)
        assert [f["type"] for f in frames[:-1]] == expected[name], name
        await client.disconnect()
    frames = await receive_until(silent_client, lambda f: f.get("seq") == sentinel.seq)
    assert [f["type"] for f in frames[:-1]] == told
    await silent_client.disconnect()


def test_a_silent_medic_is_reported_to_organizers_and_medics(cast):
    Participant.objects.filter(pk=cast.medic.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    [entry] = overdue_sweep(event_id=cast.event.pk)
    assert entry.audience_tags == sorted(
        [audiences.MEDICS, audiences.ORGANIZERS, f"participant.{cast.medic.pk}"]
    )


def test_silence_counts_from_the_event_start_at_the_earliest(cast):
    from fieldops.models import Event
    from marshals.models import CheckIn

    quiet = silent_marshal(cast, minutes=600)
    checkin = checkin_create(participant=quiet, **ON_ROUTE)
    CheckIn.objects.filter(participant=quiet).update(
        server_time=timezone.now() - timedelta(hours=10)
    )
    starts = timezone.now() - timedelta(minutes=5)
    Event.objects.filter(pk=cast.event.pk).update(starts_at=starts)

    assert checkin.seq and overdue_sweep(event_id=cast.event.pk) == []  # 5 minutes into the event
    later = starts + overdue_after(cast.event) + timedelta(seconds=1)
    [entry] = overdue_sweep(now=later, event_id=cast.event.pk)
    assert orjson.loads(entry.frame)["data"]["silent_since"] == starts.isoformat()
