"""A scripted small march for demos and training drills (`manage.py simulate_march`).

Simulated marshals walk the event's route and check in; one goes silent, one strays off the route,
one raises an SOS (and sends it again), one forgets to acknowledge a route change; an organizer
publishes that change, draws a danger zone ahead of the march, and resolves the SOS. Everything is
done through the same actions as a phone would use, so the journal and the fan-out work live:
either in this process (`Direct`, with the watch sweeps run here too), or against a running server
over its REST API (`OverHttp`, where the server's own watch raises overdue and reminders).
"""

import json
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from geopy.distance import geodesic

from fieldops.actions import action_perform
from fieldops.models import Event, JournalEntry, MarchGroup
from marshals.models import Participant
from marshals.services import invite_create, invite_redeem

from .acks import route_ack_remind_sweep
from .geo import LatLng, bearing_deg, distance_m
from .overdue import overdue_sweep
from .route_watch import route_for

WALKING_PACE = 1.2  # metres per second, a march's pace
SPACING = 30  # metres between simulated marshals at the start
STRAY_METERS = 250
REST_PATHS = {
    "checkin": "checkins",
    "sos": "sos",
    "incident.update": "incident-updates",
    "route.publish": "routes",
    "route.ack": "route-acks",
    "zone.activate": "zones/activate",
    "zone.deactivate": "zones/deactivate",
}


class Direct:
    """Act through the services in this process, and run the watch sweeps here."""

    sweeps = True

    def __init__(self, *, ack_reminder_seconds: int):
        self.ack_reminder_seconds = ack_reminder_seconds

    def act(self, who: "Walker", verb: str, data: dict) -> dict:
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


class OverHttp:
    """Act through a running server's REST API with each participant's device token."""

    sweeps = False

    def __init__(self, *, base_url: str, slug: str):
        self.base_url = base_url.rstrip("/")
        self.slug = slug

    def _post(self, path: str, data: dict, headers: dict) -> dict:
        request = urllib.request.Request(  # noqa: S310 - the operator gives the server's URL
            f"{self.base_url}/api/{path}",
            data=json.dumps(data).encode(),
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def join(self, code: str, callsign: str) -> tuple[Participant, str]:
        joined = self._post("join", {"code": code, "callsign": callsign}, {})
        return Participant.objects.get(pk=joined["participant"]), joined["token"]

    def act(self, who: "Walker", verb: str, data: dict) -> dict:
        headers = {"Authorization": f"Bearer {who.token}", "Idempotency-Key": str(uuid.uuid4())}
        return self._post(f"events/{self.slug}/{REST_PATHS[verb]}", data, headers)["entry"]

    def sweep(self, event_id: int) -> None:
        pass  # the server's embedded watch (or `manage.py watch`) does it


@dataclass
class Walker:
    participant: Participant
    token: str
    start_m: float
    part: str = ""  # "silent", "stray", "sos", "forgetful" or ""
    position: LatLng | None = None


@dataclass
class Drill:
    event: Event
    route_coords: list[list[float]]
    organizer: Walker
    medic: Walker
    marshals: list[Walker]
    lengths: list[float] = field(default_factory=list)

    @property
    def route_length(self) -> float:
        return self.lengths[-1]

    def point_at(self, meters: float) -> LatLng:
        """The point `meters` along the route (clamped to its ends), following each segment's
        geodesic."""
        meters = max(0.0, min(meters, self.route_length))
        for i in range(1, len(self.lengths)):
            if meters <= self.lengths[i] or i == len(self.lengths) - 1:
                a = LatLng(self.route_coords[i - 1][1], self.route_coords[i - 1][0])
                b = LatLng(self.route_coords[i][1], self.route_coords[i][0])
                return _move(a, bearing_deg(a, b), meters - self.lengths[i - 1])
        raise ValueError("empty route")

    def beside(self, meters: float, offset: float) -> LatLng:
        """A point `offset` metres to the right of the route at `meters` along it."""
        here, ahead = self.point_at(meters), self.point_at(meters + 10)
        return _move(here, (bearing_deg(here, ahead) + 90) % 360, offset)


def _move(point: LatLng, bearing: float, meters: float) -> LatLng:
    moved = geodesic(meters=meters).destination((point.lat, point.lng), bearing)
    return LatLng(moved.latitude, moved.longitude)


def drill_prepare(*, event: Event, actor, marshals: int, interval_minutes: int) -> Drill:
    """Create the simulated organizer, medic and marshals (through invites, as people join)."""
    route = route_for(
        participant=Participant(event=event, role="marshal", group=None)  # the march's route
    )
    if route is None:
        raise ValueError("The event has no route to walk.")
    tag = uuid.uuid4().hex[:4]
    groups = list(MarchGroup.objects.filter(event=event)) or [None]

    def join(role: str, callsign: str, group=None) -> tuple[Participant, str]:
        issued = invite_create(
            event=event, role=role, group=group.pk if group else None, max_uses=1
        )
        return actor.join(issued.code, callsign)

    with transaction.atomic():
        Event.objects.filter(pk=event.pk).update(checkin_interval_minutes=interval_minutes)
    organizer = Walker(*join("organizer", f"drill-org-{tag}"), start_m=0)
    medic = Walker(*join("medic", f"drill-medic-{tag}"), start_m=0)
    parts = ["silent", "stray", "sos", "forgetful"]
    walkers = []
    for n in range(marshals):
        participant, token = join("marshal", f"sim-{n + 1}-{tag}", groups[n % len(groups)])
        start = (marshals - n) * SPACING
        walkers.append(Walker(participant, token, start, parts[n] if n < len(parts) else ""))
    drill = Drill(event, route.geometry["coordinates"], organizer, medic, walkers)
    drill.lengths = [0.0]
    for a, b in zip(drill.route_coords, drill.route_coords[1:], strict=False):
        drill.lengths.append(drill.lengths[-1] + distance_m(LatLng(a[1], a[0]), LatLng(b[1], b[0])))
    return drill


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
        elapsed = time.monotonic() - started
        if elapsed > duration:
            break
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
            ring = [[_move(ahead, b, 85).lng, _move(ahead, b, 85).lat] for b in (45, 135, 225, 315)]
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
        sleep(max(0.0, min(tick, duration - (time.monotonic() - started))))
    if actor.sweeps:
        actor.sweep(event.pk)
    _report(event=event, since=seen, elapsed=duration, names=names, say=say)
    return Counter(
        JournalEntry.objects.filter(event=event, seq__gt=first_seq).values_list("kind", flat=True)
    )


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
