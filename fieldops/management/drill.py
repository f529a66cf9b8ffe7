"""The drill command's side of `manage.py simulate_march`: how the simulated people act, and the
timed walk that prints what the journal gains.

`Direct` acts through the services in this process and runs the watch sweeps here; `OverSocket`
acts over a running server's WebSocket with each participant's device token, as phones do (the
server's own watch then raises overdue alerts and reminders). Who walks where is the service's:
fieldops/services/safety/drill.py.
"""

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

from fieldops.actions import action_perform
from fieldops.kit.client import Client, join, socket_url
from fieldops.models import Alarm, Event, JournalEntry
from fieldops.services.routes import route_for
from fieldops.services.safety.acks import route_ack_remind_sweep
from fieldops.services.safety.alarms import alarm_escalate_sweep
from fieldops.services.safety.drill import STRAY_METERS, WALKING_PACE, Drill, Walker, move
from fieldops.services.safety.overdue import overdue_sweep
from marshals.models import Participant
from marshals.services import invite_redeem


class Direct:
    """Act through the services in this process, and run the watch sweeps here."""

    sweeps = True

    def __init__(self, *, ack_reminder_seconds: int):
        self.ack_reminder_seconds = ack_reminder_seconds

    def act(self, who: Walker, verb: str, data: dict) -> dict:
        entry = action_perform(
            participant=who.participant, verb=verb, data=data, client_id=uuid.uuid4()
        )
        return json.loads(entry.frame)

    def join(self, code: str, callsign: str) -> tuple[Participant, str]:
        joined = invite_redeem(code=code, callsign=callsign, with_token=True)
        return joined.participant, joined.token

    def sweep(self, event_id: int) -> None:
        overdue_sweep(event_id=event_id)
        route_ack_remind_sweep(event_id=event_id, delay_seconds=self.ack_reminder_seconds)
        alarm_escalate_sweep(event_id=event_id)

    def close(self) -> None:
        pass


class OverSocket:
    """Act over a running server's WebSocket, one socket per participant, each action awaited
    until acknowledged."""

    sweeps = False

    def __init__(self, *, base_url: str, slug: str):
        self.base_url, self.slug = base_url.rstrip("/"), slug
        self.url = socket_url(self.base_url, slug)
        self.sockets: dict[str, Client] = {}
        # The kit's client is asynchronous; the drill is not: a loop of its own in a thread.
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def join(self, code: str, callsign: str) -> tuple[Participant, str]:
        joined = join(self.base_url, code=code, callsign=callsign)
        return Participant.objects.get(pk=joined["participant"]), joined["token"]

    async def _act(self, token: str, verb: str, data: dict) -> dict:
        if token not in self.sockets:
            self.sockets[token] = await Client.open(self.url, token=token)
        return await self.sockets[token].act(verb, data)

    def act(self, who: Walker, verb: str, data: dict) -> dict:
        ack = self._run(self._act(who.token, verb, data))
        if ack["seq"] is None:  # acknowledged, nothing new written
            return {}
        # Not every entry reaches its sender's socket (a route acknowledgement goes to
        # organizers): the drill reads it back from the journal it shares with the server.
        entry = JournalEntry.objects.get(event__slug=self.slug, seq=ack["seq"])
        return json.loads(entry.frame)

    def sweep(self, event_id: int) -> None:
        pass  # the server's embedded watch (or `manage.py watch`) does it

    def close(self) -> None:
        async def close_all() -> None:
            await asyncio.gather(*(c.close() for c in self.sockets.values()))

        try:
            self._run(close_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)


def drill_run(
    *,
    drill: Drill,
    actor,
    duration: float,
    speed: float,
    tick: float,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> Counter:
    """Walk the march for `duration` seconds; print every non-check-in entry as it is written.

    Returns how many entries of each kind the drill's event received meanwhile.
    """
    event = drill.event
    pace = WALKING_PACE * speed
    first_seq = Event.objects.values_list("last_seq", flat=True).get(pk=event.pk)
    seen = first_seq
    names = {w.participant.pk: w.participant.callsign for w in drill.marshals}
    names[drill.medic.participant.pk] = drill.medic.participant.callsign
    done: set[str] = set()
    sos_incident = None
    started = time.monotonic()
    step = 0

    def once(name: str, at: float, now: float) -> bool:
        if name in done or now < at * duration:
            return False
        done.add(name)
        return True

    briefed = route_for(participant=drill.marshals[0].participant)
    for walker in drill.marshals:  # everyone acknowledges the route they were briefed on
        actor.act(walker, "route.ack", {"route": briefed.pk})
    while True:
        # A tick that starts past the end runs as the last one, at the end: on a loaded machine the
        # steps due before it (the SOS resolved, the zone lifted) are still carried out.
        elapsed = min(time.monotonic() - started, duration)
        step += 1
        head_m = 0.0
        for walker in drill.marshals:
            along = walker.start_m + pace * elapsed
            head_m = max(head_m, min(along, drill.route_length))
            if walker.part == "silent" and 0.15 * duration <= elapsed < 0.85 * duration:
                continue  # the phone is in a pocket, or worse
            if walker.part == "stray" and 0.25 * duration <= elapsed < 0.55 * duration:
                walker.position = drill.beside(along, STRAY_METERS)
            else:
                walker.position = drill.point_at(along)
            actor.act(walker, "checkin", {"lat": walker.position.lat, "lng": walker.position.lng})
        tent = drill.beside(0, 20)  # the medic stays at the first aid tent by the start
        drill.medic.position = tent
        actor.act(drill.medic, "checkin", {"lat": tent.lat, "lng": tent.lng})
        if once("route", 0.10, elapsed):
            frame = actor.act(
                drill.organizer,
                "route.publish",
                {
                    "geometry": {"type": "LineString", "coordinates": drill.route_coords},
                    "note": "Drill: route confirmed, please acknowledge",
                },
            )
            for walker in drill.marshals:
                if walker.part != "forgetful":
                    actor.act(walker, "route.ack", {"route": frame["data"]["route"]})
        if once("zone", 0.35, elapsed):
            ahead = drill.point_at(head_m + pace * 0.1 * duration)
            ring = [[move(ahead, b, 85).lng, move(ahead, b, 85).lat] for b in (45, 135, 225, 315)]
            frame = actor.act(
                drill.organizer,
                "zone.activate",
                {
                    "name": "Drill: police line",
                    "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]},
                },
            )
            zone = frame["data"]["place"]
        sos_walker = next((w for w in drill.marshals if w.part == "sos"), None)
        if sos_walker and sos_walker.position and once("sos", 0.45, elapsed):
            frame = actor.act(
                sos_walker,
                "sos",
                {"lat": sos_walker.position.lat, "lng": sos_walker.position.lng, "note": "Drill"},
            )
            sos_incident = frame["data"]["incident"]
        if sos_walker and sos_walker.position and once("sos-again", 0.55, elapsed):
            where = sos_walker.position
            actor.act(sos_walker, "sos", {"lat": where.lat, "lng": where.lng, "note": "Drill"})
        claim_alarms(drill=drill, actor=actor, sos_incident=sos_incident, done=done)
        if "zone" in done and once("zone-off", 0.80, elapsed):
            actor.act(drill.organizer, "zone.deactivate", {"place": zone})
        if sos_incident and once("sos-resolved", 0.90, elapsed):
            actor.act(
                drill.organizer,
                "incident.update",
                {"incident": sos_incident, "status": "resolved", "note": "Drill over"},
            )
        if actor.sweeps:
            actor.sweep(event.pk)
        seen = _report(event=event, since=seen, elapsed=elapsed, names=names, say=say)
        say(f"[{elapsed:5.0f}s] tick {step}: head {head_m:.0f} m of {drill.route_length:.0f} m")
        if elapsed >= duration:
            break
        sleep(max(0.0, min(tick, duration - (time.monotonic() - started))))
    if actor.sweeps:
        actor.sweep(event.pk)
    _report(event=event, since=seen, elapsed=duration, names=names, say=say)
    return Counter(
        JournalEntry.objects.filter(event=event, seq__gt=first_seq).values_list("kind", flat=True)
    )


def claim_alarms(*, drill: Drill, actor, sos_incident: int | None, done: set[str]) -> None:
    """The medic claims the SOS's alarm as soon as it is open; the organizer claims the silent
    marshal's overdue alarm once it has escalated a step, which stops its escalation."""
    open_alarms = Alarm.objects.filter(event=drill.event, closed_at__isnull=True)
    if sos_incident and "sos-claim" not in done:
        alarm = open_alarms.filter(incident_id=sos_incident, claimed_at__isnull=True).first()
        if alarm is not None:
            done.add("sos-claim")
            actor.act(drill.medic, "alarm.claim", {"alarm": alarm.pk})
    silent = next((w for w in drill.marshals if w.part == "silent"), None)
    if silent and "overdue-claim" not in done:
        alarm = open_alarms.filter(
            subject=Alarm.Subject.OVERDUE, participant=silent.participant, step__gte=1
        ).first()
        if alarm is not None:
            done.add("overdue-claim")
            actor.act(drill.organizer, "alarm.claim", {"alarm": alarm.pk})


def _report(*, event: Event, since: int, elapsed: float, names: dict, say) -> int:
    entries = JournalEntry.objects.filter(event=event, seq__gt=since).order_by("seq")
    last = since
    for entry in entries:
        last = entry.seq
        if entry.kind == "checkin":
            continue
        data = json.loads(entry.frame)["data"]
        who = data.get("callsign") or data.get("sender") or data.get("reporter") or ""
        audience = ", ".join(
            names.get(int(tag.split(".")[1]), tag) if tag.startswith("participant.") else tag
            for tag in entry.audience_tags
        )
        extra = ""
        if "distance_m" in data:
            extra = f" {data['distance_m']:.0f} m"
            if "direction" in data:
                extra += f" {data['direction']}"
        say(f"[{elapsed:5.0f}s] #{entry.seq} {entry.kind} {who}{extra} → {audience}")
    return last
