"""What an export holds: one dataset of an event, row by row, narrowed by what the caller's role may
see (fieldops/visibility.py), for the whole event or a time range. The formats (CSV, GeoJSON, KML)
are written from these rows by fieldops/exports.py.

Rows are read with `iterator()`, so an export of a large event never holds it in memory. After the
event's purge, a dataset that held personal data yields what remains of it instead: counts per
hour and kind, and roughly where (EventTally).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min, Q

from fieldops import errors, visibility
from fieldops.audit import audit_record
from fieldops.models import (
    Alert,
    ArrestRecord,
    AuditEntry,
    Event,
    EventTally,
    Incident,
    Place,
    Route,
)
from fieldops.services.alerts import alert_audience_tags
from fieldops.services.arrests import arrest_follow_up, arrest_summary
from fieldops.services.incidents import incident_payload
from marshals.models import CheckIn, Role

DATASETS = ("incidents", "arrests", "checkins", "alerts", "routes", "places")
# The READS key (fieldops/visibility.py) a role needs for each dataset; None: every role.
NEEDS = {
    "incidents": "incidents",
    "arrests": "arrests",
    "checkins": "positions",
    "alerts": None,
    "routes": None,
    "places": None,
}
# What each dataset was reduced to at the purge (EventTally kinds by prefix).
TALLIED = {
    "incidents": ("incident.", "sos"),
    "arrests": ("arrest",),
    "checkins": ("checkin.",),
    "alerts": ("alert.",),
}
TALLY_COLUMNS = ["hour", "kind", "cell_lat", "cell_lng", "count"]
CHUNK = 500  # rows fetched from the database at a time

MSG_NO_DATASET = "No such export: one of " + ", ".join(DATASETS) + "."


@dataclass
class Row:
    properties: dict
    geometry: dict | None


@dataclass
class Export:
    """One dataset as the caller may see it: its columns, and its rows to be read once."""

    event: Event
    dataset: str
    columns: list[str]
    rows: Iterator[Row]
    purged: bool
    personal: bool


def _point(lat: float | None, lng: float | None) -> dict | None:
    if lat is None or lng is None:
        return None
    return {"type": "Point", "coordinates": [lng, lat]}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _in_range(query, field: str, since: datetime | None, until: datetime | None):
    if since is not None:
        query = query.filter(**{f"{field}__gte": since})
    if until is not None:
        query = query.filter(**{f"{field}__lt": until})
    return query


def may_export(participant, dataset: str) -> bool:
    """Whether this participant's role may export `dataset` at all."""
    if dataset not in NEEDS:
        return False
    need = NEEDS[dataset]
    return need is None or visibility.may_read(participant, need)


def sos_visible(participant) -> Q:
    """The SOS among incidents this participant may export: those `sos.raised` reached them
    (organizers and medics), and their own."""
    if participant.role in (Role.ORGANIZER, Role.MEDIC):
        return Q()
    return ~Q(kind=Incident.Kind.SOS) | Q(reporter_id=participant.pk)


INCIDENT_COLUMNS = ["incident", "created_at", "kind", "severity", "status", "lat", "lng",
                    "description", "reporter", "group", "acknowledged_at", "closed_at"]  # fmt: skip


def incident_rows(*, participant, since=None, until=None) -> Iterator[Row]:
    """Incidents and SOS (each with when it was acknowledged and closed), oldest first."""
    query = Incident.objects.filter(sos_visible(participant), event_id=participant.event_id)
    query = _in_range(query, "created_at", since, until).select_related("reporter")
    acked = Min("changes__at", filter=Q(changes__status=Incident.Status.ACKNOWLEDGED))
    closed = Min(
        "changes__at",
        filter=Q(changes__status__in=[Incident.Status.RESOLVED, Incident.Status.DISMISSED]),
    )
    query = query.annotate(acked=acked, closed=closed).order_by("created_at", "pk")
    for i in query.iterator(chunk_size=CHUNK):
        yield Row(
            # The incident as the journal carries it, with its times beside it.
            {"incident": i.pk, "created_at": _iso(i.created_at)}
            | incident_payload(i)
            | {"acknowledged_at": _iso(i.acked), "closed_at": _iso(i.closed)},
            _point(i.lat, i.lng),
        )


ARREST_COLUMNS = ["arrest", "occurred_at", "lat", "lng", "people_count", "agency",
                  "dispersal_order", "force_used", "medical_needs", "observer", "released",
                  "released_at", "welfare_met", "contact_made", "lawyer_assigned"]  # fmt: skip


def arrest_rows(*, participant, since=None, until=None, personal=False) -> Iterator[Row]:
    """Arrest records with their jail-support state, oldest first; with `personal`, their
    decrypted personal fields too, each record's reading audited as it is written out."""
    query = ArrestRecord.objects.filter(event_id=participant.event_id, purged_at__isnull=True)
    query = _in_range(query, "occurred_at", since, until).select_related("observer")
    for record in query.order_by("occurred_at", "pk").iterator(chunk_size=CHUNK):
        properties = arrest_summary(record) | arrest_follow_up(record)
        if personal:
            audit_record(
                action=AuditEntry.Action.READ,
                via=AuditEntry.Via.EXPORT,
                objects=[record],
                fields=ArrestRecord.PERSONAL_FIELDS,
                participant=participant,
            )
            properties |= {name: getattr(record, name) for name in ArrestRecord.PERSONAL_FIELDS}
        yield Row(properties, _point(record.lat, record.lng))


CHECKIN_COLUMNS = ["checkin", "participant", "callsign", "role", "group", "server_time",
                   "device_time", "status", "lat", "lng", "accuracy_m", "note",
                   "since_previous_s"]  # fmt: skip


def checkin_rows(*, participant, since=None, until=None) -> Iterator[Row]:
    """Check-ins per person (by callsign, then time), each with the seconds since that person's
    previous one: how regularly they checked in."""
    scope = visibility.position_scope(participant)
    if scope is None:
        return
    query = CheckIn.objects.filter(event_id=participant.event_id, **scope)
    query = _in_range(query, "server_time", since, until).select_related("participant")
    previous: tuple[int, datetime] | None = None
    order = ("participant__callsign", "participant_id", "server_time", "pk")
    for c in query.order_by(*order).iterator(chunk_size=CHUNK):
        gap = None
        if previous and previous[0] == c.participant_id:
            gap = round((c.server_time - previous[1]).total_seconds(), 1)
        previous = (c.participant_id, c.server_time)
        person = c.participant
        yield Row(
            {
                "checkin": c.pk,
                "participant": person.pk,
                "callsign": person.callsign,
                "role": person.role,
                "group": person.group_id,
                "server_time": _iso(c.server_time),
                "device_time": _iso(c.device_time),
                "status": c.status,
                "lat": c.lat,
                "lng": c.lng,
                "accuracy_m": c.accuracy_m,
                "note": c.note,
                "since_previous_s": gap,
            },
            _point(c.lat, c.lng),
        )


ALERT_COLUMNS = ["alert", "created_at", "audience", "level", "text", "expires_at"]


def alert_rows(*, participant, since=None, until=None) -> Iterator[Row]:
    """The alerts whose audience reached this participant, oldest first."""
    query = _in_range(Alert.objects.filter(event_id=participant.event_id), "created_at", since,
                      until)  # fmt: skip
    for a in query.order_by("created_at", "pk").iterator(chunk_size=CHUNK):
        if participant.role != Role.ORGANIZER and not visibility.may_see(
            participant, alert_audience_tags(audience=a.audience)
        ):
            continue
        yield Row(
            {
                "alert": a.pk,
                "created_at": _iso(a.created_at),
                "audience": a.audience,
                "level": a.level,
                "text": a.text,
                "expires_at": _iso(a.expires_at),
            },
            None,
        )


ROUTE_COLUMNS = ["route", "version", "group", "published_at", "note"]


def route_rows(*, participant, since=None, until=None) -> Iterator[Row]:
    """Every version of every route, as published to everyone."""
    query = _in_range(Route.objects.filter(event_id=participant.event_id), "published_at", since,
                      until)  # fmt: skip
    for r in query.order_by("published_at", "pk").iterator(chunk_size=CHUNK):
        yield Row(
            {
                "route": r.pk,
                "version": r.version,
                "group": r.group_id,
                "published_at": _iso(r.published_at),
                "note": r.note,
            },
            r.geometry,
        )


PLACE_COLUMNS = ["place", "kind", "name", "active", "public"]


def place_rows(*, participant, since=None, until=None) -> Iterator[Row]:
    """Places and zones; marchers only the public ones. Places have no time: a range keeps all."""
    query = Place.objects.filter(event_id=participant.event_id)
    if not visibility.may_read(participant, "private_places"):
        query = query.filter(public=True)
    for p in query.order_by("pk").iterator(chunk_size=CHUNK):
        yield Row(
            {"place": p.pk, "kind": p.kind, "name": p.name, "active": p.active,
             "public": p.public},
            p.geometry,
        )  # fmt: skip


def tally_rows(*, event: Event, dataset: str, since=None, until=None) -> Iterator[Row]:
    """What the purge left of a dataset: counts per hour and kind, and per cell of 0.01°."""
    prefixes = Q()
    for prefix in TALLIED[dataset]:
        prefixes |= Q(kind__startswith=prefix)
    query = _in_range(EventTally.objects.filter(prefixes, event=event), "hour", since, until)
    for t in query.order_by("hour", "kind", "pk").iterator(chunk_size=CHUNK):
        yield Row(
            {"hour": _iso(t.hour), "kind": t.kind, "cell_lat": t.cell_lat,
             "cell_lng": t.cell_lng, "count": t.count},
            _point(t.cell_lat, t.cell_lng),
        )  # fmt: skip


READERS = {
    "incidents": (INCIDENT_COLUMNS, incident_rows),
    "arrests": (ARREST_COLUMNS, arrest_rows),
    "checkins": (CHECKIN_COLUMNS, checkin_rows),
    "alerts": (ALERT_COLUMNS, alert_rows),
    "routes": (ROUTE_COLUMNS, route_rows),
    "places": (PLACE_COLUMNS, place_rows),
}


def export_open(
    *,
    participant,
    dataset: str,
    since: datetime | None = None,
    until: datetime | None = None,
    personal: bool = False,
) -> Export:
    """The rows of one dataset this participant may export (refused with `forbidden` when their
    role may not read it). Personal data of arrestees only when asked for, by those who may read
    it."""
    if dataset not in READERS:
        raise errors.ActionError(errors.NOT_FOUND, MSG_NO_DATASET)
    if not may_export(participant, dataset):
        raise errors.ActionError(errors.FORBIDDEN, errors.MSG_FORBIDDEN_VERB)
    event = Event.objects.get(pk=participant.event_id)
    if event.purged_at is not None and dataset in TALLIED:
        rows = tally_rows(event=event, dataset=dataset, since=since, until=until)
        return Export(event, dataset, TALLY_COLUMNS, rows, purged=True, personal=False)
    columns, reader = READERS[dataset]
    kwargs = {"participant": participant, "since": since, "until": until}
    personal = personal and dataset == "arrests"
    if personal:
        kwargs["personal"] = True
        columns = [*columns, *ArrestRecord.PERSONAL_FIELDS]
    return Export(event, dataset, columns, reader(**kwargs), purged=False, personal=personal)
