"""REST for field safety: nearest help, route acknowledgements, the safety board.

Mounted on the main API (fieldops/api.py); the same authentication and error replies. The zone
actions (`zone.activate`, `zone.deactivate`) are routed there with every other action.
"""

from ninja import Router

from fieldops import errors, schemas, selectors, visibility
from fieldops.api import REFUSALS, auth, caller
from fieldops.models import OffRoute, OverdueLapse
from fieldops.services.incidents import incident_payload
from fieldops.services.safety import acks, alarms, geo, nearest, zones
from fieldops.services.safety import sos as sos_rules
from fieldops.services.safety.eventmap import zones_active
from marshals.models import Role

router = Router(auth=auth, tags=["safety"])

MSG_NEED_POSITION = "Give lat and lng, or a position as text."
MSG_MARCHERS_KEEP_POSITION = (
    "Marchers never send their position; the map lists every public place to choose from."
)


@router.post("/events/{slug}/nearest", response={200: dict, **REFUSALS})
def nearest_help(request, slug: str, payload: schemas.NearestIn):
    """The nearest medic, legal support, exit or water to a position, with distance and bearing.

    POST so the position never appears in a URL; it is not stored, journaled or logged.
    """
    p = caller(request, slug)
    if p.role == Role.MARCHER:
        raise errors.ActionError(errors.FORBIDDEN, MSG_MARCHERS_KEEP_POSITION)
    if payload.position:
        try:
            position = geo.parse_position(payload.position)
        except ValueError:
            raise errors.ActionError.field("position", geo.MSG_BAD_POSITION) from None
    elif payload.lat is not None and payload.lng is not None:
        position = geo.LatLng(payload.lat, payload.lng)
    else:
        raise errors.ActionError.field("position", MSG_NEED_POSITION)
    places = nearest.place_nearest(
        event_id=p.event_id, position=position, kind=payload.kind, limit=payload.limit
    )
    return {"kind": payload.kind, "places": places}


@router.get("/events/{slug}/route-acks/status", response={200: list[dict], **REFUSALS})
def route_ack_status(request, slug: str):
    """Organizers: for each active route, who acknowledged its newest version and who has not."""
    p = caller(request, slug)
    visibility.require_read(p, "route_acks")
    return acks.route_ack_status(event_id=p.event_id)


@router.get("/events/{slug}/alarms", response={200: list[dict], **REFUSALS})
def alarms_open(request, slug: str):
    """The open alarms the caller is told of, oldest first (docs/safety.md, "Alarms")."""
    p = caller(request, slug)
    visibility.require_read(p, "alarms")
    return alarms.alarms_open_visible(participant=p)


@router.get("/events/{slug}/presence", response={200: list[dict], **REFUSALS})
def presence(request, slug: str):
    """Organizers: each field participant's phone, whether connected now and when last heard."""
    p = caller(request, slug)
    visibility.require_read(p, "watch")
    found = selectors.presence_list(event_id=p.event_id)
    return [{"participant": pid} | seen for pid, seen in found.items()]


@router.get("/events/{slug}/safety", response={200: dict, **REFUSALS})
def safety_board(request, slug: str):
    """What is wrong right now: active SOS and danger zones for the field teams; organizers also
    see who is overdue, who is off route and who is inside a danger zone."""
    p = caller(request, slug)
    visibility.require_read(p, "safety_board")
    board = {
        "sos": [incident_payload(i) for i in sos_rules.sos_active_visible(participant=p)],
        "zones": [zones.zone_payload(z) for z in zones_active(event_id=p.event_id)],
    }
    if visibility.may_read(p, "watch"):
        board["overdue"] = [
            {
                "participant": lapse.participant_id,
                "callsign": lapse.participant.callsign,
                "group": lapse.participant.group_id,
                "silent_since": lapse.silent_since,
                "raised_at": lapse.raised_at,
            }
            for lapse in OverdueLapse.objects.filter(
                event_id=p.event_id, cleared_at__isnull=True
            ).select_related("participant")
        ]
        board["off_route"] = [
            {
                "participant": off.participant_id,
                "callsign": off.participant.callsign,
                "group": off.participant.group_id,
                "distance_m": round(off.distance_m, 1),
                "since": off.since,
            }
            for off in OffRoute.objects.filter(event_id=p.event_id).select_related("participant")
        ]
        board["in_zone"] = selectors.in_zone_list(event_id=p.event_id)
    return board
