"""Reads shared by the API and the pages, filtered by what the caller's role may see."""

from django.db.models import Max

from fieldops.models import Incident, Place
from fieldops.services.routes import route_active
from marshals.models import CheckIn
from realtime import groups

SEES_POSITIONS = {"organizer", "marshal", "medic"}
SEES_INCIDENTS = {"organizer", "marshal", "legal", "medic"}


def _feature(geometry: dict, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _point(lat: float, lng: float) -> dict:
    return {"type": "Point", "coordinates": [lng, lat]}


def checkin_latest_visible(*, participant) -> list[CheckIn]:
    """Each visible participant's latest check-in (the audience rules of check-in entries)."""
    query = CheckIn.objects.filter(event_id=participant.event_id)
    if participant.role == "marshal":
        query = query.filter(
            participant__role="marshal", participant__group_id=participant.group_id
        )
        if participant.group_id is None:
            return []
    elif participant.role == "medic":
        query = query.filter(participant__role="medic")
    elif participant.role != "organizer":
        return []
    latest = query.values("participant_id").annotate(last=Max("pk")).values_list("last", flat=True)
    return list(CheckIn.objects.filter(pk__in=list(latest)).select_related("participant"))


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
    if participant.role == "marcher":
        places = places.filter(public=True)
    features += [
        _feature(place.geometry, layer="place", place=place.pk, kind=place.kind, name=place.name)
        for place in places
    ]
    if participant.role in SEES_POSITIONS:
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
    if participant.role in SEES_INCIDENTS:
        open_incidents = Incident.objects.filter(
            event_id=event_id, status__in=[Incident.Status.REPORTED, Incident.Status.ACKNOWLEDGED]
        )
        if participant.role == "legal":
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
            )
            for i in open_incidents
        ]
    return {"type": "FeatureCollection", "features": features}


def journal_visible(*, participant, since: int, limit: int) -> list[str]:
    """Journal frames after `since` the participant may see, as the JSON texts sent on the wire."""
    from fieldops.services.journal import journal_since

    tags = groups.tags_for(
        role=participant.role, group_id=participant.group_id, participant_id=participant.pk
    )
    return [
        frame
        for _, frame in journal_since(
            event_id=participant.event_id, since=since, upto=None, tags=tags, limit=limit
        )
    ]
