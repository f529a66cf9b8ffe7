"""A scripted small march for demos and training drills: the simulated people and where they
walk.

`drill_prepare` creates a simulated organizer, medic and marshals through invites, as people join,
and `Drill` knows the route they walk; one marshal goes silent, one strays off the route, one raises
an SOS, one forgets to acknowledge a route change. The timed run and the ways of acting (in this
process, or over a running server's socket) are the command's: fieldops/management/drill.py.
"""

import uuid
from dataclasses import dataclass, field

from django.db import transaction
from geopy.distance import geodesic

from fieldops.models import Event, MarchGroup
from fieldops.services.routes import route_for
from marshals.models import Participant, Role
from marshals.services import invite_create

from .geo import LatLng, bearing_deg, distance_m

WALKING_PACE = 1.2  # metres per second, a march's pace
SPACING = 30  # metres between simulated marshals at the start
STRAY_METERS = 250


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
                return move(a, bearing_deg(a, b), meters - self.lengths[i - 1])
        raise ValueError("empty route")

    def beside(self, meters: float, offset: float) -> LatLng:
        """A point `offset` metres to the right of the route at `meters` along it."""
        here, ahead = self.point_at(meters), self.point_at(meters + 10)
        return move(here, (bearing_deg(here, ahead) + 90) % 360, offset)


def move(point: LatLng, bearing: float, meters: float) -> LatLng:
    moved = geodesic(meters=meters).destination((point.lat, point.lng), bearing)
    return LatLng(moved.latitude, moved.longitude)


def drill_prepare(
    *, event: Event, actor, marshals: int, interval_minutes: int, escalate_minutes: int = 1
) -> Drill:
    """Create the simulated organizer, medic and marshals (through invites, as people join)."""
    route = route_for(
        participant=Participant(event=event, role=Role.MARSHAL, group=None)  # the march's route
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
        Event.objects.filter(pk=event.pk).update(
            checkin_interval_minutes=interval_minutes, alarm_escalate_minutes=escalate_minutes
        )
    organizer = Walker(*join(Role.ORGANIZER, f"drill-org-{tag}"), start_m=0)
    medic = Walker(*join(Role.MEDIC, f"drill-medic-{tag}"), start_m=0)
    parts = ["silent", "stray", "sos", "forgetful"]
    walkers = []
    for n in range(marshals):
        participant, token = join(Role.MARSHAL, f"sim-{n + 1}-{tag}", groups[n % len(groups)])
        start = (marshals - n) * SPACING
        walkers.append(Walker(participant, token, start, parts[n] if n < len(parts) else ""))
    drill = Drill(event, route.geometry["coordinates"], organizer, medic, walkers)
    drill.lengths = [0.0]
    for a, b in zip(drill.route_coords, drill.route_coords[1:], strict=False):
        drill.lengths.append(drill.lengths[-1] + distance_m(LatLng(a[1], a[0]), LatLng(b[1], b[0])))
    return drill
