"""The after-action report's reads: the day's timeline and the figures a safety team debriefs on,
from an event's records; after its purge, from what remains (EventTally and the journal reduced to
kind and time). Organizers only: the doors ask `visibility.require_read(p, "report")`.

Definitions (docs/pages.md, "After-action report"):
- time to acknowledge an SOS: from the SOS to its first change of status by anyone (acknowledged,
  resolved or dismissed): the first sign that someone was on it;
- time to resolve an incident: from the report to its change to "resolved" (dismissed ones are
  left out: nothing was resolved), SOS excluded;
- route acknowledgement delay: from a route version's publication to each marshal's
  acknowledgement of it;
- overdue lapse: from the overdue alert to the check-in that cleared it (open ones: until the
  event ended);
- check-in regularity: per marshal or medic, the intervals between consecutive check-ins, their
  median and longest, and the share within the event's check-in interval;
- arrests per hour (the event's time zone) and per place (cells of 0.01°, about a kilometre, the
  cells the purge keeps).
"""

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Min, Q
from django.utils.translation import gettext as _

from fieldops.models import (
    Alert,
    ArrestRecord,
    Event,
    EventTally,
    Incident,
    JournalEntry,
    OverdueLapse,
    Place,
    Route,
    ZoneActivation,
)
from marshals.models import CheckIn, Role, RouteAck

CELL = 2  # decimals of a place cell: 0.01°


def minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 1)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


@dataclass
class TimelineItem:
    at: datetime
    kind: str  # "incident", "sos", "arrest", "route", "alert", "zone.on", "zone.off", "overdue"
    text: str  # who or what, in the page's language; the page names the kind
    minutes: float | None = None  # how long until its response, when it has one


@dataclass
class RouteAcks:
    route: int
    version: int
    group: int | None
    published_at: datetime
    delays: list[tuple[str, float]]  # (callsign, minutes), fastest first
    pending: list[str]  # marshals who never acknowledged it


@dataclass
class Lapse:
    callsign: str
    raised_at: datetime
    minutes: float
    cleared: bool


@dataclass
class Regularity:
    callsign: str
    role: str
    checkins: int
    median_interval: float | None
    longest_interval: float | None
    within_interval: float | None  # share of intervals within the event's check-in interval


@dataclass
class Report:
    event: Event
    purge_at: datetime
    purged: bool
    timeline: list[TimelineItem] = field(default_factory=list)
    sos_ack_minutes: list[float] = field(default_factory=list)
    resolve_minutes: list[float] = field(default_factory=list)
    routes: list[RouteAcks] = field(default_factory=list)
    lapses: list[Lapse] = field(default_factory=list)
    regularity: list[Regularity] = field(default_factory=list)
    arrests_per_hour: list[tuple[str, int, int]] = field(default_factory=list)  # hour, rec, people
    arrests_per_place: list[tuple[float, float, int, int]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    activity_per_hour: list[tuple[str, int]] = field(default_factory=list)  # after a purge
    map_routes: list[dict] = field(default_factory=list)
    map_places: list[dict] = field(default_factory=list)
    map_incidents: list[tuple[float, float, str]] = field(default_factory=list)
    map_arrests: list[tuple[float, float, int]] = field(default_factory=list)

    @property
    def median_sos_ack(self) -> float | None:
        return median(self.sos_ack_minutes)

    @property
    def median_resolve(self) -> float | None:
        return median(self.resolve_minutes)

    @property
    def median_route_ack(self) -> float | None:
        return median([m for r in self.routes for _, m in r.delays])

    @property
    def median_lapse(self) -> float | None:
        return median([lapse.minutes for lapse in self.lapses])


def _hour(moment: datetime, tz: ZoneInfo) -> datetime:
    """The hour a moment falls in, in the event's time zone: counted per hour, sorted by time."""
    return moment.astimezone(tz).replace(minute=0, second=0, microsecond=0)


def _per_hour(counts: dict[datetime, list[int]]) -> list[tuple[str, int, int]]:
    return [(hour.strftime("%H:00"), n, p) for hour, (n, p) in sorted(counts.items())]


def purge_time(event: Event) -> datetime:
    """When the event's personal data is (or was) erased."""
    return event.purged_at or event.ends_at + timedelta(hours=event.retention_hours)


def report_build(*, event: Event) -> Report:
    """Everything the report shows, for an event as it stands now."""
    report = Report(event=event, purge_at=purge_time(event), purged=event.purged_at is not None)
    report.map_routes = [
        {"geometry": r.geometry, "version": r.version, "group": r.group_id}
        for r in Route.objects.filter(event=event).order_by("published_at")
    ]
    report.map_places = [
        {"geometry": p.geometry, "kind": p.kind, "name": p.name}
        for p in Place.objects.filter(event=event)
    ]
    if report.purged:
        _from_tallies(report)
        return report
    tz = ZoneInfo(event.time_zone)
    _incidents(report)
    _arrests(report, tz)
    _routes(report)
    _lapses(report)
    _regularity(report)
    _others(report)
    report.timeline.sort(key=lambda item: item.at)
    return report


def _incidents(report: Report) -> None:
    incidents = Incident.objects.filter(event=report.event).select_related("reporter")
    incidents = incidents.annotate(
        first_change=Min("changes__at"),
        resolved=Min("changes__at", filter=Q(changes__status=Incident.Status.RESOLVED)),
    )
    for i in incidents.order_by("created_at"):
        who = i.reporter.callsign if i.reporter else "?"
        if i.kind == Incident.Kind.SOS:
            took = minutes(i.first_change - i.created_at) if i.first_change else None
            if took is not None:
                report.sos_ack_minutes.append(took)
            report.timeline.append(TimelineItem(i.created_at, "sos", who, took))
            report.counts["sos"] = report.counts.get("sos", 0) + 1
        else:
            took = minutes(i.resolved - i.created_at) if i.resolved else None
            if took is not None:
                report.resolve_minutes.append(took)
            kind, severity = _(i.get_kind_display()), _(i.get_severity_display())
            text = f"{kind} ({severity}) · {who} · {_(i.get_status_display())}"
            report.timeline.append(TimelineItem(i.created_at, "incident", text, took))
            report.counts["incidents"] = report.counts.get("incidents", 0) + 1
        report.map_incidents.append((i.lat, i.lng, i.kind))


def _arrests(report: Report, tz: ZoneInfo) -> None:
    per_hour: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    per_place: dict[tuple[float, float], list[int]] = defaultdict(lambda: [0, 0])
    records = ArrestRecord.objects.filter(event=report.event).order_by("occurred_at")
    for r in records:
        hour = per_hour[_hour(r.occurred_at, tz)]
        hour[0] += 1
        hour[1] += r.people_count
        cell = per_place[round(r.lat, CELL), round(r.lng, CELL)]
        cell[0] += 1
        cell[1] += r.people_count
        report.map_arrests.append((r.lat, r.lng, r.people_count))
        report.timeline.append(
            TimelineItem(
                r.occurred_at, "arrest", " · ".join(filter(None, [str(r.people_count), r.agency]))
            )
        )
    report.counts["arrests"] = len(report.map_arrests)
    report.counts["arrested"] = sum(people for _, _, people in report.map_arrests)
    report.arrests_per_hour = _per_hour(per_hour)
    report.arrests_per_place = sorted(
        ((lat, lng, n, p) for (lat, lng), (n, p) in per_place.items()), key=lambda c: -c[2]
    )


def _routes(report: Report) -> None:
    marshals = list(
        report.event.participants.filter(role=Role.MARSHAL).values_list("pk", "callsign", "group")
    )
    acks = defaultdict(dict)
    for ack in RouteAck.objects.filter(route__event=report.event).select_related("participant"):
        acks[ack.route_id][ack.participant_id] = (ack.participant.callsign, ack.at)
    for route in Route.objects.filter(event=report.event).order_by("published_at"):
        concerned = [(pk, c) for pk, c, g in marshals if route.group_id in (None, g)]
        done = acks.get(route.pk, {})
        delays = sorted(
            ((c, minutes(at - route.published_at)) for c, at in done.values()), key=lambda d: d[1]
        )
        pending = sorted(c for pk, c in concerned if pk not in done)
        report.routes.append(
            RouteAcks(route.pk, route.version, route.group_id, route.published_at, delays, pending)
        )
        text = f"v{route.version} · {len(delays)}/{len(delays) + len(pending)}"
        report.timeline.append(
            TimelineItem(route.published_at, "route", text, median([d for _, d in delays]))
        )


def _lapses(report: Report) -> None:
    end = report.event.ended_at or report.event.ends_at
    lapses = OverdueLapse.objects.filter(event=report.event).select_related("participant")
    for lapse in lapses.order_by("raised_at"):
        cleared = lapse.cleared_at is not None
        took = minutes((lapse.cleared_at or max(end, lapse.raised_at)) - lapse.raised_at)
        callsign = lapse.participant.callsign
        report.lapses.append(Lapse(callsign, lapse.raised_at, took, cleared))
        report.timeline.append(TimelineItem(lapse.raised_at, "overdue", callsign, took))


def _regularity(report: Report) -> None:
    limit = report.event.checkin_interval_minutes
    times = defaultdict(list)
    checkins = CheckIn.objects.filter(
        event=report.event, participant__role__in=[Role.MARSHAL, Role.MEDIC]
    ).values_list("participant__callsign", "participant__role", "server_time")
    for callsign, role, at in checkins.order_by("participant__callsign", "server_time"):
        times[callsign, role].append(at)
    for (callsign, role), moments in sorted(times.items()):
        gaps = [minutes(b - a) for a, b in zip(moments, moments[1:], strict=False)]
        within = round(sum(g <= limit for g in gaps) / len(gaps), 2) if gaps else None
        report.regularity.append(
            Regularity(
                callsign, role, len(moments), median(gaps), max(gaps, default=None), within
            )  # fmt: skip
        )


def _others(report: Report) -> None:
    for a in Alert.objects.filter(event=report.event).order_by("created_at"):
        report.timeline.append(
            TimelineItem(a.created_at, "alert", f"{_(a.get_level_display())} · {a.text}")
        )
    zones = ZoneActivation.objects.filter(place__event=report.event).select_related("place")
    for z in zones.order_by("at"):
        kind = "zone.on" if z.active else "zone.off"
        report.timeline.append(TimelineItem(z.at, kind, z.place.name))
    report.counts["checkins"] = CheckIn.objects.filter(event=report.event).count()
    report.counts["alerts"] = Alert.objects.filter(event=report.event).count()


def _from_tallies(report: Report) -> None:
    """What the purge left: counts per hour and kind, arrests per hour and cell; the journal's
    entries per hour (kind and time only)."""
    tz = ZoneInfo(report.event.time_zone)
    per_hour: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    per_place: dict[tuple[float, float], list[int]] = defaultdict(lambda: [0, 0])
    counts: Counter = Counter()
    for t in EventTally.objects.filter(event=report.event):
        family = t.kind.split(".")[0]
        if t.kind == "arrest" or t.kind == "arrest.people":
            slot = 0 if t.kind == "arrest" else 1
            per_hour[_hour(t.hour, tz)][slot] += t.count
            if t.cell_lat is not None:
                per_place[t.cell_lat, t.cell_lng][slot] += t.count
            counts["arrests" if slot == 0 else "arrested"] += t.count
        elif family in ("checkin", "alert"):
            counts[f"{family}s"] += t.count
        elif family == "incident":
            counts["incidents"] += t.count
        elif family == "sos":
            counts["sos"] += t.count
    report.counts = dict(counts)
    report.arrests_per_hour = _per_hour(per_hour)
    report.arrests_per_place = sorted(
        ((lat, lng, n, p) for (lat, lng), (n, p) in per_place.items()), key=lambda c: -c[2]
    )
    activity: Counter = Counter()
    for at in JournalEntry.objects.filter(event=report.event).values_list("at", flat=True):
        activity[_hour(at, tz)] += 1
    report.activity_per_hour = [(h.strftime("%H:00"), n) for h, n in sorted(activity.items())]
