"""The scripted march on the demo event: every alert kind is written once, to the right people."""

import io
from collections import Counter

import orjson
import pytest
from django.core.management import call_command

from fieldops import audiences
from fieldops.demo import demo_create
from fieldops.models import Event
from fieldops.services import kinds


@pytest.mark.django_db(transaction=True)
def test_the_drill_raises_every_alert_once_to_the_right_people(settings, published):
    settings.FIELDOPS = {**settings.FIELDOPS, "OVERDUE_GRACE_SECONDS": 2}
    demo = demo_create()
    out = io.StringIO()

    call_command(
        "simulate_march",
        "--duration=10",
        "--tick=0.25",
        "--speed=100",
        "--interval-minutes=0",
        "--ack-reminder-seconds=1",
        "--escalate-minutes=0",
        stdout=out,
        stderr=io.StringIO(),
    )

    entries = [(p["audience"], orjson.loads(p["frame"])) for p in published]
    by_kind = Counter(frame["type"] for _, frame in entries)
    for kind in (
        kinds.MARSHAL_OVERDUE,
        kinds.MARSHAL_BACK,
        kinds.MARSHAL_OFF_ROUTE,
        kinds.MARSHAL_ON_ROUTE,
        kinds.SOS_RAISED,
        kinds.SOS_UPDATED,
        kinds.ZONE_ACTIVATED,
        kinds.ZONE_DEACTIVATED,
        kinds.ROUTE_ACK_REMINDER,
        kinds.INCIDENT_UPDATED,
    ):
        assert by_kind[kind] == 1, (kind, by_kind)
    assert by_kind["marshal.in_zone"] >= 1

    def only(kind):
        [(audience, frame)] = [(a, f) for a, f in entries if f["type"] == kind]
        return set(audience), frame["data"]

    audience, data = only("marshal.overdue")
    assert data["callsign"].startswith("sim-1-")
    assert audience == {
        audiences.ORGANIZERS,
        audiences.march_group_marshals_tag(demo["groups"]["North block"]),
        f"participant.{data['participant']}",
    }
    audience, data = only("marshal.off_route")
    assert audience == {audiences.ORGANIZERS, f"participant.{data['participant']}"}
    assert only("zone.activated")[0] == {audiences.ORGANIZERS, audiences.PUBLIC}
    audience, data = only("route.ack_reminder")
    assert data["callsign"].startswith("sim-4-")
    assert audience == {audiences.ORGANIZERS, f"participant.{data['participant']}"}
    # Personal SOS notes each go to one person (organizers see all); never to a role as a whole.
    for audience, frame in entries:
        if frame["type"] in ("sos.nearby", "marshal.in_zone"):
            assert len(audience) == 2 and audiences.ORGANIZERS in audience
    # Alarms: the medic claimed the SOS's; the silent marshal's overdue alarm escalated one step,
    # unclaimed, then the organizer claimed it and it escalated no further.
    alarms = {}
    for _, frame in entries:
        if frame["type"].startswith("alarm."):
            alarms.setdefault(frame["data"]["alarm"], []).append(frame)
    claims = {
        frames[0]["data"]["subject"]: [f["data"] for f in frames if f["type"] == "alarm.claimed"]
        for frames in alarms.values()
    }
    assert [c["claimed_by"] for c in claims["sos"]] == [demo_medic(entries)]
    [overdue] = [f for f in alarms.values() if f[0]["data"]["subject"] == "overdue"]
    kinds_in_order = [f["type"] for f in overdue]
    assert kinds_in_order[:3] == ["alarm.opened", "alarm.escalated", "alarm.claimed"]
    assert "alarm.escalated" not in kinds_in_order[3:]
    assert overdue[2]["data"]["claimed_by"].startswith("drill-org-")
    # The drill printed its progress and restored the event's check-in interval.
    assert "marshal.overdue" in out.getvalue() and "tick" in out.getvalue()
    event = Event.objects.get(slug=demo["event"])
    assert (event.checkin_interval_minutes, event.alarm_escalate_minutes) == (10, 3)


def demo_medic(entries) -> str:
    """The drill's medic's callsign, as its check-ins name it."""
    return next(
        f["data"]["callsign"]
        for _, f in entries
        if f["type"] == "checkin" and f["data"]["role"] == "medic"
    )


@pytest.mark.django_db(transaction=True)
def test_a_drill_whose_ticks_run_late_still_plays_its_whole_script(published):
    """On a loaded machine a tick takes longer than planned: the steps due before the end (the
    SOS, its resolution) are still carried out, on the last tick, before the drill stops."""
    import time

    from fieldops.management.drill import Direct, drill_run
    from fieldops.services.safety.drill import drill_prepare

    demo = demo_create()
    event = Event.objects.get(slug=demo["event"])
    actor = Direct(ack_reminder_seconds=60)
    drill = drill_prepare(
        event=event, actor=actor, marshals=4, interval_minutes=10, escalate_minutes=3
    )

    def late(seconds):  # every tick runs 0.7 s past its plan
        time.sleep(seconds + 0.7)

    counts = drill_run(
        drill=drill, actor=actor, duration=2, speed=100, tick=0.5, say=lambda line: None,
        sleep=late,
    )  # fmt: skip

    for kind in (kinds.SOS_RAISED, kinds.ZONE_ACTIVATED, kinds.ZONE_DEACTIVATED):
        assert counts[kind] == 1, counts
    assert counts[kinds.INCIDENT_UPDATED] == 1, counts  # the organizer resolved the SOS


@pytest.mark.multiworker
def test_the_drill_against_a_running_server_acts_through_it_as_phones_do():
    from fieldops.kit.launcher import launch, manage

    with launch(servers=("daphne",), redis=False) as running:
        out = manage(
            running.env, "simulate_march", "--server", running.base_url(0),
            "--duration=6", "--tick=0.5", "--speed=100", "--marshals=4",
        )  # fmt: skip
        logs = running.workers[0].logs()
    for kind in ("route.published", "sos.raised", "zone.activated", "zone.deactivated"):
        assert kind in out, out
    assert "incident.updated" in out  # the organizer resolved the SOS the drill's marshal raised
    assert "alarm.claimed" in out  # the medic claimed it over their socket
    assert "Traceback" not in logs, logs[-3000:]
