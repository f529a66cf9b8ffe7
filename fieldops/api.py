"""REST under /api/: the same actions as the socket, through the same services (django-ninja).

OpenAPI schema at /api/openapi.json, browsable docs at /api/docs.
"""

import re
import uuid

import orjson
from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from ninja import Header, Path, Query, Router, Status
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer

from fieldops import errors, schemas, selectors, throttle, visibility
from fieldops.actions import ACTIONS, REST_PATHS, action_allowed, action_perform
from fieldops.api_errors import FieldopsAPI
from fieldops.audit import MAX_ID, audit_list, audit_read
from fieldops.export_rows import export_open
from fieldops.exports import export_response
from fieldops.models import ArrestRecord, AuditEntry, Event
from fieldops.services import push
from fieldops.services.arrests import arrest_follow_up, arrest_summary
from marshals import services as marshal_services
from marshals.models import Participant, Role
from marshals.payloads import participant_payload
from marshals.sessions import SESSION_KEY, session_participant
from marshals.tokens import token_authenticate

MSG_CSRF = "The CSRF token is missing or wrong: reload the page and try again."
MSG_NOT_JOINED = "You have not joined this event."
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,60}")


class BearerAuth(HttpBearer):
    def authenticate(self, request, token):
        found = token_authenticate(token)
        if not found:
            return None
        request.fieldops_token_id = found[1]  # rate limits count per token
        return found[0]


class SessionAuth(APIKeyCookie):
    """A browser that opened a join link; CSRF-checked like any cookie-authenticated write."""

    param_name = "sessionid"

    def _get_key(self, request):
        # A request with a bearer token comes from a device, and one without a session cookie has
        # nothing to check: either is a plain 401, not a CSRF refusal.
        if "authorization" in request.headers or self.param_name not in request.COOKIES:
            return None
        try:
            return super()._get_key(request)
        except HttpError:
            raise errors.ActionError(errors.FORBIDDEN, MSG_CSRF) from None

    def authenticate(self, request, key):
        return (key and request.session.get(SESSION_KEY)) or None


api = FieldopsAPI(
    title="Fieldops API",
    version="1",
    description="Field safety for demonstrations. The same actions as the WebSocket protocol.",
    urls_namespace="api",
)
auth = [BearerAuth(), SessionAuth()]
router = Router(auth=auth, tags=["events"])


def caller(request: HttpRequest, slug: str) -> Participant:
    """The participant making this request at this event, or a 403; a 429 past its rate."""
    if not SLUG.fullmatch(slug):  # no event has this slug, and it never reaches the database
        participant = None
    elif isinstance(request.auth, Participant):
        participant = request.auth if request.auth.event.slug == slug else None
    else:
        participant = session_participant(request.session, event_slug=slug)
    if participant is None:
        raise errors.ActionError(errors.FORBIDDEN, MSG_NOT_JOINED)
    throttle.credential_throttle(request, participant=participant)
    return participant


def require_role(participant: Participant, *roles: str) -> None:
    if participant.role not in roles:
        raise errors.ActionError(errors.FORBIDDEN, errors.MSG_FORBIDDEN_VERB)


def entry_reply(entry) -> dict:
    return {"seq": entry.seq, "entry": orjson.loads(entry.frame)}


class EntryOut(schemas.Schema):
    seq: int
    entry: dict


class FieldErrorOut(schemas.Schema):
    field: str
    message: str


class ErrorOut(schemas.Schema):
    """Every refusal, whatever its status: `code` says what to do, `fields` name the culprits."""

    code: str
    message: str
    fields: list[FieldErrorOut]


REFUSALS = {status: ErrorOut for status in (400, 401, 403, 404, 413, 429, 500, 503)}


# The zone routes were first written with the safety routes: the OpenAPI document keeps the tag,
# names and words that clients generated from it know them by.
_SAFETY_ACTIONS = {
    "zone.activate": "`zone.activate` (organizers): switch on a danger zone by `place`, or draw"
    " one (`geometry`).",
    "zone.deactivate": "`zone.deactivate` (organizers): switch a danger zone off.",
}


def _action_route(verb: str) -> None:
    """POST /events/{slug}/<REST_PATHS[verb]>: the action `verb`, its body the frame's `data`."""
    schema = ACTIONS[verb].schema

    def endpoint(
        request,
        slug: str,
        payload: schema,
        idempotency_key: uuid.UUID | None = Header(None, alias="Idempotency-Key"),
    ):
        participant = caller(request, slug)
        data = payload.model_dump(mode="json", exclude_none=True)
        entry = action_perform(
            participant=participant, verb=verb, data=data, client_id=idempotency_key, prefix=""
        )
        return entry_reply(entry)

    name = verb.replace(".", "_")
    endpoint.__name__ = "action_" + name
    endpoint.__doc__ = (
        f"`{verb}`: the same as the WebSocket frame of that type. {ACTIONS[verb].service.__doc__}"
    )
    named = {}
    if verb in _SAFETY_ACTIONS:
        named = {
            "tags": ["safety"],
            "operation_id": f"fieldops_api_safety_{name}",
            "summary": name.replace("_", " ").title(),
            "description": _SAFETY_ACTIONS[verb],
        }
    path = f"/events/{{slug}}/{REST_PATHS[verb]}"
    router.post(path, response={200: EntryOut, **REFUSALS}, **named)(endpoint)


for _verb in ACTIONS:
    _action_route(_verb)


@api.post("/join", auth=None, tags=["joining"], response={200: dict, **REFUSALS})
def join(request, payload: schemas.JoinIn):
    """Redeem an invite code for a device: returns a bearer token, shown only this once."""
    throttle.join_throttle(request)
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


@router.get("/events/{slug}", response={200: dict, **REFUSALS})
def event_detail(request, slug: str):
    """Who you are at this event, its groups, the journal's latest seq and Web Push."""
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
        # Web Push: whether the event sends it, and the key a browser subscribes with (null when
        # the server is not set up for it).
        "push": {"enabled": event.push_enabled, "key": push.push_public_key()},
    }


@router.get("/events/{slug}/journal", response={200: dict, **REFUSALS})
def journal(
    request,
    slug: str,
    since: int = Query(0, ge=0, le=schemas.MAX_ID),
    limit: int = Query(500, ge=1, le=schemas.MAX_ID),
):
    """Journal entries after `since` that you may see, oldest first (at most `limit`, and at
    most one replay batch)."""
    limit = min(limit, settings.FIELDOPS["REPLAY_BATCH"])
    p = caller(request, slug)
    frames = selectors.journal_visible(participant=p, since=since, limit=limit)
    return {"entries": [orjson.loads(f) for f in frames]}


@router.get("/events/{slug}/map", response={200: dict, **REFUSALS})
def event_geojson(request, slug: str):
    """The event as a GeoJSON FeatureCollection, filtered by your role."""
    return selectors.event_feature_collection(participant=caller(request, slug))


@router.get("/events/{slug}/arrests/{arrest_id}", response={200: dict, **REFUSALS})
def arrest_detail(request, slug: str, arrest_id: int = Path(..., gt=0, le=schemas.MAX_ID)):
    """A full arrest record, decrypted: organizers and legal observers only."""
    p = caller(request, slug)
    visibility.require_read(p, "arrests")
    record = ArrestRecord.objects.filter(pk=arrest_id, event_id=p.event_id).first()
    if record is None:
        raise errors.ActionError(errors.NOT_FOUND, "No such arrest record at this event.")
    audit_read(record=record, via=AuditEntry.Via.API, participant=p)
    personal = {name: getattr(record, name) for name in ArrestRecord.PERSONAL_FIELDS}
    follow_up = arrest_follow_up(record) | {"contact_consent": record.contact_consent}
    return arrest_summary(record) | personal | follow_up | {"purged": record.purged_at is not None}


@router.get("/events/{slug}/exports/{dataset}", response={200: None, **REFUSALS})
def export(
    request,
    slug: str,
    dataset: str,
    format: str = Query("csv", pattern="^(csv|geojson|kml)$"),  # noqa: A002 - the query's name
    since: schemas.Timestamp | None = Query(None),
    until: schemas.Timestamp | None = Query(None),
    personal: bool = Query(False),
):
    """One dataset of the event (`incidents`, `arrests`, `checkins`, `alerts`, `routes`,
    `places`) as a streamed CSV, GeoJSON or KML file, as your role may see it; `since` and
    `until` narrow it to a time range. Arrests carry personal data only with `personal=true`,
    for organizers and legal observers, each record's reading audited. After the event's purge,
    what remains: counts per hour and kind. The `Fieldops-Purge-At` header says when the data
    is (or was) erased."""
    p = caller(request, slug)
    rows = export_open(participant=p, dataset=dataset, since=since, until=until, personal=personal)
    return export_response(request, rows, format)


@router.get("/events/{slug}/audit", response={200: dict, **REFUSALS})
def audit(
    request,
    slug: str,
    before: int | None = Query(None, ge=1, le=MAX_ID),
    limit: int = Query(100, ge=1, le=500),
):
    """Who read personal data or changed records in the admin, newest first (organizers).

    Ids and field names only; page back with `before` set to the last entry's id."""
    p = caller(request, slug)
    visibility.require_read(p, "audit")
    return {"entries": audit_list(event_id=p.event_id, before=before, limit=limit)}


@router.post("/events/{slug}/invites", response={200: dict, **REFUSALS})
def invite_create(request, slug: str, payload: schemas.InviteCreateIn):
    """Create an invite (organizers): the code and link are shown only in this reply."""
    p = caller(request, slug)
    require_role(p, Role.ORGANIZER)
    issued = marshal_services.invite_create(event=p.event, created_by=p, **payload.model_dump())
    return {
        "invite": issued.invite.pk,
        "role": issued.invite.role,
        "group": issued.invite.group_id,
        "code": issued.code,
        "url": f"{settings.PUBLIC_URL}/join/{issued.code}/",
        "expires_at": issued.invite.expires_at,
    }


@router.post("/events/{slug}/revocations", response={200: EntryOut, **REFUSALS})
def participant_revoke(
    request,
    slug: str,
    payload: schemas.RevokeIn,
    idempotency_key: uuid.UUID | None = Header(None, alias="Idempotency-Key"),
):
    """Revoke a participant (organizers): tokens die and open sockets close at once; with
    `revoke_invite`, the invite they joined with stops working too."""
    p = caller(request, slug)
    require_role(p, Role.ORGANIZER)
    entry = marshal_services.participant_revoke(
        participant=p,
        target=payload.participant,
        revoke_invite=payload.revoke_invite,
        client_id=idempotency_key,
    )
    return entry_reply(entry)


@router.get("/events/{slug}/participants/{participant_id}/devices",
            response={200: list[dict], **REFUSALS})  # fmt: skip
def device_list(request, slug: str, participant_id: int = Path(..., gt=0, le=schemas.MAX_ID)):
    """A participant's devices, with label and last use (organizers); never their tokens."""
    p = caller(request, slug)
    visibility.require_read(p, "devices")
    return marshal_services.device_list(participant_id=participant_id, event_id=p.event_id)


@router.post("/events/{slug}/device-revocations", response={200: EntryOut, **REFUSALS})
def device_revoke(
    request,
    slug: str,
    payload: schemas.DeviceRevokeIn,
    idempotency_key: uuid.UUID | None = Header(None, alias="Idempotency-Key"),
):
    """Revoke one device (organizers): its sockets close at once; the participant's other
    devices stay connected."""
    p = caller(request, slug)
    require_role(p, Role.ORGANIZER)
    entry = marshal_services.token_revoke(
        participant=p, device=payload.device, client_id=idempotency_key
    )
    return entry_reply(entry)


@router.post("/events/{slug}/push-subscriptions", response={201: dict, **REFUSALS})
def push_subscribe(request, slug: str, payload: schemas.PushSubscriptionIn):
    """Send Web Push notifications to this browser (anyone who joined). The body is the JSON of
    the browser's PushSubscription; its endpoint must be a known push service's. Notifications
    come in the language of this request and say only their level (docs/privacy.md)."""
    p = caller(request, slug)
    push.push_subscribe(
        participant=p,
        endpoint=payload.endpoint,
        p256dh=payload.keys.p256dh,
        auth=payload.keys.auth,
        language=translation.get_language() or "",
    )
    enabled = Event.objects.filter(pk=p.event_id).values_list("push_enabled", flat=True).get()
    return Status(201, {"subscribed": True, "push_enabled": enabled})


@router.delete("/events/{slug}/push-subscriptions", response={200: dict, **REFUSALS})
def push_unsubscribe(request, slug: str, payload: schemas.PushUnsubscribeIn):
    """Stop sending Web Push notifications to this browser: the body names its `endpoint`."""
    p = caller(request, slug)
    return {"removed": push.push_unsubscribe(participant=p, endpoint=payload.endpoint)}


@router.get("/events/{slug}/participants", response={200: list[dict], **REFUSALS})
def participant_list(request, slug: str):
    """Everyone who joined (organizers)."""
    p = caller(request, slug)
    visibility.require_read(p, "participants")
    return [
        {**participant_payload(x), "revoked": x.revoked_at is not None}
        for x in Participant.objects.filter(event_id=p.event_id).exclude(role=Role.MARCHER)
    ]


api.add_router("", router)
api.add_router("", "fieldops.api_safety.router")  # zones, nearest help, route acks
