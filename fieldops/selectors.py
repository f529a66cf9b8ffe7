"""Reads shared by the API and the pages, filtered by what the caller's role may see."""

from fieldops import visibility
from fieldops.models import Incident, OffRoute, OverdueLapse, Place, ZonePresence
from fieldops.services.routes import route_active
from marshals.models import CheckIn, Participant
from marshals.payloads import participant_payload


def _feature(geometry: dict, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _point(lat: float, lng: float) -> dict:
    return {"type": "Point", "coordinates": [lng, lat]}


def checkin_latest_visible(*, participant) -> list[CheckIn]:
    """Each visible participant's latest check-in (the audience rules of check-in entries); nobody
    revoked, so a reload does not put them back on the map."""
    scope = visibility.position_scope(participant)
    if scope is None:
        return []
    return CheckIn.objects.filter(
        event_id=participant.event_id, participant__revoked_at__isnull=True, **scope
    ).latest_each()


def event_feature_collection(*, participant) -> dict:
    """The event as GeoJSON: active routes, places, latest positions, open incidents."""
    event_id = participant.event_id
    features = [
        _feature(
            route.geometry,
            layer="route",
            route=route.pk,
            version=route.version,
            group=route.group_id,
            note=route.note,
        )
        for route in route_active(event_id=event_id)
    ]
    places = Place.objects.filter(event_id=event_id, active=True)
    if not visibility.may_read(participant, "private_places"):
        places = places.filter(public=True)
    features += [
        _feature(place.geometry, layer="place", place=place.pk, kind=place.kind, name=place.name)
        for place in places
    ]
    if visibility.may_read(participant, "positions"):
        features += [
            _feature(
                _point(c.lat, c.lng),
                layer="position",
                participant=c.participant_id,
                callsign=c.participant.callsign,
                role=c.participant.role,
                group=c.participant.group_id,
                status=c.status,
                at=c.server_time.isoformat(),
            )
            for c in checkin_latest_visible(participant=participant)
        ]
    if visibility.may_read(participant, "incidents"):
        open_incidents = Incident.objects.filter(
            event_id=event_id, status__in=[Incident.Status.REPORTED, Incident.Status.ACKNOWLEDGED]
        ).select_related("reporter")
        if visibility.sos_hidden(participant):
            open_incidents = open_incidents.exclude(kind=Incident.Kind.SOS)
        features += [
            _feature(
                _point(i.lat, i.lng),
                layer="incident",
                incident=i.pk,
                kind=i.kind,
                severity=i.severity,
                status=i.status,
                description=i.description,
                reporter=i.reporter.callsign if i.reporter else None,
                group=i.reporter.group_id if i.reporter else None,
            )
            for i in open_incidents
        ]
    return {"type": "FeatureCollection", "features": features}


def in_zone_list(*, event_id: int) -> list[dict]:
    """Who is inside an active danger zone now, as their last check-in placed them."""
    presences = ZonePresence.objects.filter(
        place__event_id=event_id, place__active=True, participant__revoked_at__isnull=True
    ).select_related("participant", "place")
    return [
        participant_payload(z.participant)
        | {"place": z.place_id, "name": z.place.name, "since": z.since.isoformat()}
        for z in presences
    ]


def presence_list(*, event_id: int, people=None) -> dict[int, dict]:
    """Each field participant's phone: connected now, and when last heard (ISO text or None)."""
    from fieldops.services.presence import presence_of

    if people is None:
        people = Participant.objects.filter(
            event_id=event_id, role__in=visibility.FIELD_ROLES, revoked_at__isnull=True
        )
    found = presence_of(participant_ids=[p.pk for p in people])
    return {
        pid: {
            "connected": seen["connected"],
            "last_heard": seen["last_heard"].isoformat() if seen["last_heard"] else None,
        }
        for pid, seen in found.items()
    }


def triage_state(*, event_id: int) -> dict:
    """What an organizer triages, as it stands: each field participant with their latest check-in,
    who is overdue, off route or inside an active danger zone, and who has not acknowledged the
    newest version of their route. Revoked participants appear nowhere."""
    from fieldops.services.safety.acks import route_ack_status

    people = Participant.objects.filter(
        event_id=event_id, role__in=visibility.FIELD_ROLES, revoked_at__isnull=True
    ).order_by("callsign")
    checkins = {
        c.participant_id: c for c in CheckIn.objects.filter(participant__in=people).latest_each()
    }
    phones = presence_list(event_id=event_id, people=people)
    rows = []
    for person in people:
        c = checkins.get(person.pk)
        rows.append(
            participant_payload(person)
            | {
                "status": c.status if c else None,
                "at": c.server_time.isoformat() if c else None,
                "lat": c.lat if c else None,
                "lng": c.lng if c else None,
                "phone": phones[person.pk],
            }
        )
    active = {"event_id": event_id, "participant__revoked_at__isnull": True}
    overdue = OverdueLapse.objects.filter(cleared_at__isnull=True, **active)
    off_route = OffRoute.objects.filter(**active)
    return {
        "people": rows,
        "overdue": [
            participant_payload(o.participant) | {"silent_since": o.silent_since.isoformat()}
            for o in overdue.select_related("participant")
        ],
        "off_route": [
            participant_payload(o.participant)
            | {"distance_m": round(o.distance_m, 1), "since": o.since.isoformat()}
            for o in off_route.select_related("participant")
        ],
        "in_zone": in_zone_list(event_id=event_id),
        "routes": [
            {
                "route": r["route"],
                "version": r["version"],
                "group": r["group"],
                "pending": r["pending"],
            }
            for r in route_ack_status(event_id=event_id)
        ],
    }


def journal_visible(*, participant, since: int, limit: int) -> list[str]:
    """Journal frames after `since` the participant may see, as the JSON texts sent on the wire."""
    from fieldops.services.journal import journal_since

    tags = visibility.participant_tags(participant)
    return [
        frame
        for _, frame in journal_since(
            event_id=participant.event_id, since=since, upto=None, tags=tags, limit=limit
        )
    ]
