"""Alarms: an SOS, an overdue participant, an off-route marshal, someone in a danger zone and a high
or critical incident each need a person. Whoever the alarm reaches may claim it, everyone it reaches
sees who did; unclaimed, it escalates one step per wait (repeat, the nearest, everyone) and each
step is written once however many watches run; it clears when its cause ends."""

from datetime import timedelta

import orjson
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from fieldops import audiences, errors
from fieldops.actions import action_perform
from fieldops.models import Alarm, JournalEntry
from fieldops.services.alerts import alert_send
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_report, incident_update, sos_raise
from fieldops.services.safety.alarms import alarm_escalate, alarm_escalate_sweep
from fieldops.services.safety.overdue import overdue_sweep

from .conftest import api_client, connect_as, receive_until
from .factories import ParticipantFactory
from .test_safety_geo import VERTEX, offset

SOS_AT = VERTEX


def place(participant, point):
    return checkin_create(participant=participant, lat=point.lat, lng=point.lng)


def entries(event, kind, subject=None):
    """(audience, data) of each entry of this kind, of alarms about `subject` if given (a marshal
    placed far from the route is off route: that opens an alarm too)."""
    rows = JournalEntry.objects.filter(event=event, kind=kind).order_by("seq")
    found = [(e.audience_tags, orjson.loads(e.frame)["data"]) for e in rows]
    return [(a, d) for a, d in found if subject is None or d["subject"] == subject]


def sos_steps(written):
    return [w for w in written if w.data.subject == "sos"]


def act(participant, verb, **data):
    return action_perform(participant=participant, verb=verb, data=data, client_id=None)


@pytest.fixture
def lonely_sos(cast):
    """Marshal A raises an SOS; marshal B is 2 km north, a group-A marshal 3 km south and the
    medic 1 km east: nobody within the 500 m radius."""
    far = ParticipantFactory(event=cast.event, role="marshal", group=cast.group_a, callsign="far")
    place(cast.marshal_b, offset(SOS_AT, bearing=0, meters=2000))
    place(far, offset(SOS_AT, bearing=180, meters=3000))
    place(cast.medic, offset(SOS_AT, bearing=90, meters=1000))
    sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)
    return Alarm.objects.get(subject="sos"), far


def test_an_sos_opens_one_alarm_told_to_everyone_told_of_the_sos(cast, lonely_sos):
    alarm, far = lonely_sos
    [(audience, data)] = entries(cast.event, "alarm.opened", "sos")
    # Nobody within the radius: the two nearest marshals were told, so they are in the alarm.
    assert set(audience) == {
        audiences.ORGANIZERS,
        audiences.MEDICS,
        audiences.participant_tag(cast.marshal_a.pk),
        audiences.participant_tag(cast.marshal_b.pk),
        audiences.participant_tag(far.pk),
        audiences.participant_tag(cast.medic.pk),
    }
    assert data["alarm"] == alarm.pk and data["subject"] == "sos" and data["step"] == 0
    assert data["callsign"] == "m-a" and data["claimed_by"] is None
    sos_raise(participant=cast.marshal_a, lat=SOS_AT.lat, lng=SOS_AT.lng)  # sent again
    assert len(entries(cast.event, "alarm.opened", "sos")) == 1


def test_whoever_the_alarm_reaches_may_claim_it_once_and_everyone_sees_who(cast, lonely_sos):
    alarm, _ = lonely_sos
    claimed = act(cast.marshal_b, "alarm.claim", alarm=alarm.pk)
    assert claimed.kind == "alarm.claimed" and claimed.data.claimed_by == "m-b"
    assert set(claimed.audience_tags) == set(alarm.audience.split())

    with pytest.raises(errors.ActionError) as second:
        act(cast.medic, "alarm.claim", alarm=alarm.pk)
    assert second.value.fields == [{"field": "data.alarm", "message": "m-b is already on it."}]


def test_the_person_in_trouble_and_those_not_told_cannot_claim(cast, lonely_sos):
    alarm, _ = lonely_sos
    with pytest.raises(errors.ActionError) as own:
        act(cast.marshal_a, "alarm.claim", alarm=alarm.pk)
    assert own.value.code == errors.FORBIDDEN
    with pytest.raises(errors.ActionError) as legal:
        act(cast.legal, "alarm.claim", alarm=alarm.pk)
    assert legal.value.code == errors.FORBIDDEN
    stranger = ParticipantFactory(event=cast.event, role="marshal", group=cast.group_b)
    with pytest.raises(errors.ActionError) as unknown:
        act(stranger, "alarm.claim", alarm=alarm.pk)
    assert unknown.value.fields[0]["field"] == "data.alarm"  # as if there were none
    assert Alarm.objects.get(pk=alarm.pk).claimed_by is None


def test_only_an_organizer_or_the_claimant_resolves(cast, lonely_sos):
    alarm, far = lonely_sos
    act(cast.medic, "alarm.claim", alarm=alarm.pk)
    with pytest.raises(errors.ActionError) as other:
        act(far, "alarm.resolve", alarm=alarm.pk)
    assert other.value.code == errors.FORBIDDEN
    done = act(cast.medic, "alarm.resolve", alarm=alarm.pk, note="with them now")
    assert (done.data.outcome, done.data.by, done.data.note) == (
        "resolved",
        "medic",
        "with them now",
    )
    assert Alarm.objects.get(pk=alarm.pk).closed_at is not None


def test_an_unclaimed_alarm_escalates_once_per_step_repeat_then_nearest_then_everyone(
    cast, lonely_sos
):
    alarm, far = lonely_sos
    ParticipantFactory(event=cast.event, role="marshal", group=cast.group_b, callsign="no-fix")
    wait = timedelta(minutes=cast.event.alarm_escalate_minutes)
    start = alarm.opened_at

    assert alarm_escalate_sweep(now=start + wait / 2) == []
    steps = [sos_steps(alarm_escalate_sweep(now=start + wait * n)) for n in (1, 1, 2, 3, 4, 9)]
    assert [len(s) for s in steps] == [1, 0, 1, 1, 0, 0]  # once per step, three steps at most

    escalated = entries(cast.event, "alarm.escalated", "sos")
    assert [(d["step"], d["widened"]) for _, d in escalated] == [
        (1, "repeat"),
        (2, "nearest"),
        (3, "all"),
    ]
    first, nearest, everyone = (set(a) for a, _ in escalated)
    assert first == set(alarm.audience.split())
    # An SOS with nobody near was told to the two nearest already: the step adds nobody new here
    # (test_the_nearest_step_adds_the_nearest_marshals_and_medics_of_any_group shows it widen).
    assert nearest == first
    assert {audiences.MARSHALS, audiences.MEDICS} <= everyone
    assert all(d["level"] == "danger" for _, d in escalated)


def test_the_nearest_step_adds_the_nearest_marshals_and_medics_of_any_group(cast):
    # Marshal A (group A) goes silent at the SOS point; two group-B marshals are 100 and 200 m
    # away, a third 5 km away, the medic 300 m away.
    place(cast.marshal_a, SOS_AT)
    near = [
        ParticipantFactory(event=cast.event, role="marshal", group=cast.group_b) for _ in range(3)
    ]
    for who, metres in zip(near, (100, 200, 5000), strict=True):
        place(who, offset(SOS_AT, bearing=45, meters=metres))
    place(cast.medic, offset(SOS_AT, bearing=90, meters=300))
    overdue_sweep(now=timezone.now() + timedelta(minutes=30), event_id=cast.event.pk)
    alarm = Alarm.objects.get(key=f"overdue.{cast.marshal_a.pk}")
    told = set(alarm.audience.split())
    assert audiences.participant_tag(near[0].pk) not in told  # another group: not told at first

    first = alarm_escalate(alarm=alarm, now=timezone.now())
    second = alarm_escalate(alarm=Alarm.objects.get(pk=alarm.pk), now=timezone.now())
    assert set(first.audience_tags) == told
    added = set(second.audience_tags) - told
    assert added == {
        audiences.participant_tag(near[0].pk),
        audiences.participant_tag(near[1].pk),
        audiences.participant_tag(cast.medic.pk),
    }


def test_a_claim_stops_the_escalation(cast, lonely_sos):
    alarm, _ = lonely_sos
    wait = timedelta(minutes=cast.event.alarm_escalate_minutes)
    assert len(sos_steps(alarm_escalate_sweep(now=alarm.opened_at + wait))) == 1
    act(cast.organizer, "alarm.claim", alarm=alarm.pk)
    assert sos_steps(alarm_escalate_sweep(now=alarm.opened_at + wait * 5)) == []


def test_two_watches_that_read_the_same_alarm_take_each_step_once(cast, lonely_sos):
    # Both watches read the alarm before either writes: the second's update finds the step taken.
    # (The same with two real workers on PostgreSQL: tests/test_alarms_workers.py.)
    alarm, _ = lonely_sos
    wait = timedelta(minutes=cast.event.alarm_escalate_minutes)
    written = []
    for n in (1, 2, 3):
        now = alarm.opened_at + wait * n
        first, second = (Alarm.objects.get(pk=alarm.pk) for _ in range(2))
        written += [alarm_escalate(alarm=first, now=now), alarm_escalate(alarm=second, now=now)]
    assert [w.data.step if w else None for w in written] == [1, None, 2, None, 3, None]


def test_an_overdue_alarm_reaches_the_group_and_clears_when_they_check_in(cast):
    cast.event.checkin_interval_minutes = 1
    cast.event.save()
    place(cast.marshal_a, SOS_AT)
    later = timezone.now() + timedelta(minutes=5)
    overdue_sweep(now=later, event_id=cast.event.pk)
    [(audience, data)] = [
        (a, d)
        for a, d in entries(cast.event, "alarm.opened", "overdue")
        if d["participant"] == cast.marshal_a.pk
    ]
    assert data["subject"] == "overdue" and data["participant"] == cast.marshal_a.pk
    assert audiences.march_group_marshals_tag(cast.group_a.pk) in audience
    assert (data["lat"], data["lng"]) == (SOS_AT.lat, SOS_AT.lng)
    place(cast.marshal_a, SOS_AT)
    [(_, cleared)] = entries(cast.event, "alarm.resolved", "overdue")  # only A checked in
    assert (cleared["outcome"], cleared["by"]) == ("cleared", None)


def test_a_high_incident_opens_an_alarm_a_low_one_does_not_and_resolving_it_clears_it(cast):
    incident_report(
        participant=cast.legal, lat=SOS_AT.lat, lng=SOS_AT.lng, kind="crowd", severity="low"
    )
    assert entries(cast.event, "alarm.opened") == []
    high = incident_report(
        participant=cast.legal, lat=SOS_AT.lat, lng=SOS_AT.lng, kind="crowd", severity="high"
    )
    [(audience, data)] = entries(cast.event, "alarm.opened")
    assert data["subject"] == "incident" and data["incident"] == high.data.incident
    assert audiences.LEGAL in audience  # told as the incident was, though legal may not claim
    incident_update(participant=cast.organizer, incident=high.data.incident, status="resolved")
    [(_, cleared)] = entries(cast.event, "alarm.resolved")
    assert (cleared["outcome"], cleared["by"]) == ("cleared", "org")


def test_the_rest_door_claims_and_lists_alarms_as_the_socket_does(cast, tokens, lonely_sos):
    alarm, _ = lonely_sos
    medic = api_client(tokens["medic"])
    listed = medic.get(f"/api/events/{cast.event.slug}/alarms").json()
    assert [a["alarm"] for a in listed] == [alarm.pk]
    assert (
        api_client(tokens["legal"]).get(f"/api/events/{cast.event.slug}/alarms").status_code == 403
    )
    reply = medic.post(
        f"/api/events/{cast.event.slug}/alarms/claim",
        {"alarm": alarm.pk},
        content_type="application/json",
    )
    assert reply.status_code == 200, reply.content
    assert reply.json()["entry"]["data"]["claimed_by"] == "medic"
    listed = medic.get(f"/api/events/{cast.event.slug}/alarms").json()
    assert listed[0]["claimed_by"] == "medic"


@pytest.mark.django_db(transaction=True)
async def test_a_claim_arrives_live_to_everyone_the_alarm_reaches_and_no_one_else(cast, lonely_sos):
    alarm, _ = lonely_sos
    names = ("organizer", "marshal_a", "marshal_b", "legal", "medic", "marcher")
    clients = {n: (await connect_as(getattr(cast, n)))[0] for n in names}

    claim_id = "5b4b1f0e-8f3e-4b43-9d3e-1c6a3c1e9a01"
    await clients["medic"].send_json_to(
        {
            "type": "alarm.claim",
            "id": claim_id,
            "data": {"alarm": alarm.pk},
        }
    )
    answered = await receive_until(clients["medic"], lambda f: f.get("id") == claim_id)
    assert answered[-1]["type"] == "ack", answered[-1]
    sentinel = await database_sync_to_async(alert_send)(participant=cast.organizer, text="end")
    for name, client in clients.items():
        frames = await receive_until(client, lambda f: f.get("seq") == sentinel.seq)
        frames += answered if name == "medic" else []
        claims = [f for f in frames if f.get("type") == "alarm.claimed"]
        told = name in ("organizer", "marshal_a", "marshal_b", "medic")
        assert [c["data"]["claimed_by"] for c in claims] == (["medic"] if told else []), name
        await client.disconnect()
