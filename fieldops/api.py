"""REST under /api/: the same actions as the socket, through the same services (django-ninja).

OpenAPI schema at /api/openapi.json, browsable docs at /api/docs.
"""

import uuid

import orjson
from django.conf import settings
from django.http import HttpRequest
from ninja import Header, NinjaAPI, Router
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from fieldops import errors, schemas, selectors
from fieldops.actions import ACTIONS, action_allowed, action_perform
from fieldops.models import ArrestRecord, Event
from fieldops.services.arrests import arrest_summary
from marshals import services as marshal_services
from marshals.models import Participant
from marshals.sessions import SESSION_KEY, session_participant
from marshals.tokens import token_authenticate

STATUS = {
    errors.INVALID: 400,
    errors.FORBIDDEN: 403,
    errors.NOT_FOUND: 404,
    errors.RATE_LIMITED: 429,
    errors.TOO_LARGE: 413,
    errors.UNAVAILABLE: 503,
}


class BearerAuth(HttpBearer):
    def authenticate(self, request, token):
        found = token_authenticate(token)
        return found[0] if found else None


class SessionAuth(APIKeyCookie):
    """A browser that opened a join link; CSRF-checked like any cookie-authenticated write."""

    param_name = "sessionid"

    def authenticate(self, request, key):
        return request.session.get(SESSION_KEY) or None


api = NinjaAPI(
    title="Fieldops API",
    version="1",
    description="Field safety for demonstrations. The same actions as the WebSocket protocol.",
    urls_namespace="api",
)
auth = [BearerAuth(), SessionAuth()]
router = Router(auth=auth, tags=["events"])


@api.exception_handler(errors.ActionError)
def on_action_error(request, exc: errors.ActionError):
    body = {"code": exc.code, "message": exc.message, "fields": exc.fields}
    return api.create_response(request, body, status=STATUS.get(exc.code, 400))


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    if exc.status_code != 400:
        return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)
    # An unreadable body: the same shape as every other refusal, one error format for clients.
    fields = [{"field": "body", "message": "The body is not valid JSON."}]
    body = {"code": errors.INVALID, "message": "The body is not valid JSON.", "fields": fields}
    return api.create_response(request, body, status=400)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc: NinjaValidationError):
    fields = []
    for error in exc.errors:
        location = [str(p) for p in error.get("loc", []) if p not in ("body", "payload")]
        fields.append({"field": ".".join(location) or "body", "message": error.get("msg", "")})
    body = {"code": errors.INVALID, "message": "Some fields are not valid.", "fields": fields}
    return api.create_response(request, body, status=400)


def caller(request: HttpRequest, slug: str) -> Participant:
    """The participant making this request at this event, or a 403."""
    if isinstance(request.auth, Participant):
        participant = request.auth if request.auth.event.slug == slug else None
    else:
        participant = session_participant(request.session, event_slug=slug)
    if participant is None:
        raise errors.ActionError(errors.FORBIDDEN, "You have not joined this event.")
    return participant


def require_role(participant: Participant, *roles: str) -> None:
    if participant.role not in roles:
        raise errors.ActionError(errors.FORBIDDEN, errors.MSG_FORBIDDEN_VERB)


def entry_reply(entry) -> dict:
    return {"seq": entry.seq, "entry": orjson.loads(entry.frame)}


class EntryOut(schemas.Schema):
    seq: int
    entry: dict


class ErrorOut(schemas.Schema):
    code: str
    message: str
    fields: list[dict]


def _action_endpoint(path: str, verb: str):
    schema = ACTIONS[verb].schema

    def endpoint(
        request,
        slug: str,
        payload: schema,
        idempotency_key: uuid.UUID | None = Header(None, alias="Idempotency-Key"),
    ):
        participant = caller(request, slug)
        data = payload.model_dump(mode="json")
        entry = action_perform(
            participant=participant, verb=verb, data=data, client_id=idempotency_key, prefix=""
        )
        return entry_reply(entry)

    endpoint.__name__ = "action_" + verb.replace(".", "_")
    endpoint.__doc__ = (
        f"`{verb}`: the same as the WebSocket frame of that type. {ACTIONS[verb].service.__doc__}"
    )
    router.post(path, response={200: EntryOut, 400: ErrorOut, 403: ErrorOut})(endpoint)


for _path, _verb in [
    ("/events/{slug}/checkins", "checkin"),
    ("/events/{slug}/incidents", "incident.report"),
    ("/events/{slug}/incident-updates", "incident.update"),
    ("/events/{slug}/arrests", "arrest.log"),
    ("/events/{slug}/sos", "sos"),
    ("/events/{slug}/routes", "route.publish"),
    ("/events/{slug}/route-acks", "route.ack"),
    ("/events/{slug}/alerts", "alert.send"),
]:
    _action_endpoint(_path, _verb)


@api.post("/join", auth=None, tags=["joining"], response={200: dict, 400: ErrorOut})
def join(request, payload: schemas.JoinIn):
    """Redeem an invite code for a device: returns a bearer token, shown only this once."""
    joined = marshal_services.invite_redeem(
        code=payload.code, callsign=payload.callsign, device=payload.device, with_token=True
    )
    p = joined.participant
    return {
        "token": joined.token,
        "participant": p.pk,
        "callsign": p.callsign,
        "role": p.role,
        "group": p.group_id,
        "event": p.event.slug,
        "websocket": f"/ws/events/{p.event.slug}/",
    }


@router.get("/events/{slug}")
def event_detail(request, slug: str):
    """Who you are at this event, its groups and the journal's latest seq."""
    p = caller(request, slug)
    event = Event.objects.get(pk=p.event_id)
    return {
        "event": event.slug,
        "name": event.name,
        "time_zone": event.time_zone,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "checkin_interval_minutes": event.checkin_interval_minutes,
        "seq": event.last_seq,
        "groups": [{"group": g.pk, "name": g.name, "color": g.color} for g in event.groups.all()],
        "me": {"participant": p.pk, "callsign": p.callsign, "role": p.role, "group": p.group_id},
        "may": sorted(verb for verb in ACTIONS if action_allowed(role=p.role, verb=verb)),
    }


@router.get("/events/{slug}/journal")
def journal(request, slug: str, since: int = 0, limit: int = 500):
    """Journal entries after `since` that you may see, oldest first (at most `limit`)."""
    if since < 0:
        raise errors.ActionError.field("since", "since must be 0 or more.")
    limit = max(1, min(limit, settings.FIELDOPS["REPLAY_BATCH"]))
    p = caller(request, slug)
    frames = selectors.journal_visible(participant=p, since=since, limit=limit)
    return {"entries": [orjson.loads(f) for f in frames]}


@router.get("/events/{slug}/map")
def event_map(request, slug: str):
    """The event as a GeoJSON FeatureCollection, filtered by your role."""
    return selectors.event_feature_collection(participant=caller(request, slug))


@router.get("/events/{slug}/arrests/{arrest_id}")
def arrest_detail(request, slug: str, arrest_id: int):
    """A full arrest record, decrypted: organizers and legal observers only."""
    p = caller(request, slug)
    require_role(p, "organizer", "legal")
    record = ArrestRecord.objects.filter(pk=arrest_id, event_id=p.event_id).first()
    if record is None:
        raise errors.ActionError(errors.NOT_FOUND, "No such arrest record at this event.")
    personal = {name: getattr(record, name) for name in ArrestRecord.PERSONAL_FIELDS}
    return arrest_summary(record) | personal | {"purged": record.purged_at is not None}


@router.post("/events/{slug}/invites", response={200: dict, 400: ErrorOut, 403: ErrorOut})
def invite_create(request, slug: str, payload: schemas.InviteCreateIn):
    """Create an invite (organizers): the code and link are shown only in this reply."""
    p = caller(request, slug)
    require_role(p, "organizer")
    issued = marshal_services.invite_create(event=p.event, created_by=p, **payload.model_dump())
    return {
        "invite": issued.invite.pk,
        "role": issued.invite.role,
        "group": issued.invite.group_id,
        "code": issued.code,
        "url": f"{settings.PUBLIC_URL}/join/{issued.code}/",
        "expires_at": issued.invite.expires_at,
    }


@router.post("/events/{slug}/revocations", response={200: EntryOut, 400: ErrorOut, 403: ErrorOut})
def participant_revoke(
    request,
    slug: str,
    payload: schemas.RevokeIn,
    idempotency_key: uuid.UUID | None = Header(None, alias="Idempotency-Key"),
):
    """Revoke a participant (organizers): tokens die and open sockets close at once."""
    p = caller(request, slug)
    require_role(p, "organizer")
    entry = marshal_services.participant_revoke(
        participant=p, target=payload.participant, client_id=idempotency_key
    )
    return entry_reply(entry)


@router.get("/events/{slug}/participants")
def participant_list(request, slug: str):
    """Everyone who joined (organizers)."""
    p = caller(request, slug)
    require_role(p, "organizer")
    return [
        {
            "participant": x.pk,
            "callsign": x.callsign,
            "role": x.role,
            "group": x.group_id,
            "revoked": x.revoked_at is not None,
        }
        for x in Participant.objects.filter(event_id=p.event_id).exclude(role="marcher")
    ]


api.add_router("", router)
api.add_router("", "fieldops.api_safety.router")  # zones, nearest help, route acks
