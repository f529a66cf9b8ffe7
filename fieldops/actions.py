"""Every client action, the role allowed to do it, its payload schema and its service.

Both the WebSocket consumer and the REST API go through `action_perform`, so a verb is validated,
authorized and carried out the same way whichever door it came in by.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pydantic
from django.db import IntegrityError

from fieldops import errors, logcontext, schemas
from fieldops.services import alerts, arrests, checkins, events, incidents, push, routes
from fieldops.services.journal import journal_find_action
from fieldops.services.safety import acks, alarms, zones
from marshals.models import Role
from realtime import metrics

log = logging.getLogger(__name__)

ORGANIZER = Role.ORGANIZER
FIELD_ROLES = frozenset({Role.MARSHAL, Role.LEGAL, Role.MEDIC})


@dataclass(frozen=True)
class Action:
    schema: type[pydantic.BaseModel]
    roles: frozenset[str]
    service: Callable


ACTIONS: dict[str, Action] = {
    "checkin": Action(
        schemas.CheckInIn,
        frozenset({ORGANIZER, Role.MARSHAL, Role.MEDIC}),
        checkins.checkin_create,
    ),
    "incident.report": Action(
        schemas.IncidentReportIn, FIELD_ROLES | {ORGANIZER}, incidents.incident_report
    ),
    # Non-organizers may only resolve their own SOS; the service checks the object.
    "incident.update": Action(
        schemas.IncidentUpdateIn, FIELD_ROLES | {ORGANIZER}, incidents.incident_update
    ),
    "arrest.log": Action(
        schemas.ArrestLogIn, frozenset({ORGANIZER, Role.LEGAL}), arrests.arrest_log
    ),
    # Jail support: the follow-up of a record, by those who may read it.
    "arrest.update": Action(
        schemas.ArrestUpdateIn, frozenset({ORGANIZER, Role.LEGAL}), arrests.arrest_update
    ),
    "sos": Action(schemas.SosIn, FIELD_ROLES | {ORGANIZER}, incidents.sos_raise),
    "route.publish": Action(schemas.RoutePublishIn, frozenset({ORGANIZER}), routes.route_publish),
    "route.ack": Action(schemas.RouteAckIn, frozenset({ORGANIZER, Role.MARSHAL}), acks.route_ack),
    "alert.send": Action(schemas.AlertSendIn, frozenset({ORGANIZER}), alerts.alert_send),
    "zone.activate": Action(schemas.ZoneActivateIn, frozenset({ORGANIZER}), zones.zone_activate),
    "zone.deactivate": Action(
        schemas.ZoneDeactivateIn, frozenset({ORGANIZER}), zones.zone_deactivate
    ),
    "event.push": Action(schemas.EventPushIn, frozenset({ORGANIZER}), push.event_push_set),
    "event.end": Action(schemas.EventEndIn, frozenset({ORGANIZER}), events.event_end),
    # Whom each alarm may be claimed by is the service's to say: those it reaches, not its subject.
    "alarm.claim": Action(schemas.AlarmClaimIn, alarms.CLAIMANTS, alarms.alarm_claim),
    "alarm.resolve": Action(schemas.AlarmResolveIn, alarms.CLAIMANTS, alarms.alarm_resolve),
}


# Each action's REST address under /api/events/<slug>/ (POST): the one verb→path map, read by the
# REST door (fieldops/api.py) and by clients that drive a running server.
REST_PATHS: dict[str, str] = {
    "checkin": "checkins",
    "incident.report": "incidents",
    "incident.update": "incident-updates",
    "arrest.log": "arrests",
    "arrest.update": "arrest-updates",
    "sos": "sos",
    "route.publish": "routes",
    "route.ack": "route-acks",
    "alert.send": "alerts",
    "zone.activate": "zones/activate",
    "zone.deactivate": "zones/deactivate",
    "event.push": "push",
    "event.end": "end",
    "alarm.claim": "alarms/claim",
    "alarm.resolve": "alarms/resolve",
}


def action_allowed(*, role: str, verb: str) -> bool:
    action = ACTIONS.get(verb)
    return action is not None and role in action.roles


def action_parse(*, verb: str, data: dict, prefix: str = "data") -> pydantic.BaseModel:
    """Validate a payload, raising ActionError that names each offending field."""
    try:
        return ACTIONS[verb].schema.model_validate(data)
    except pydantic.ValidationError as exc:
        fields = [
            {"field": f"{prefix}.{f['field']}" if prefix else f["field"], "message": f["message"]}
            for f in schemas.error_fields(exc)
        ]
        raise errors.ActionError(errors.INVALID, "Some fields are not valid.", fields) from exc


def action_perform(
    *, participant, verb: str, data: dict, client_id: uuid.UUID | None, prefix="data"
):
    """Authorize, validate and carry out one action; returns its journal entry.

    A repeated client_id returns the entry the first attempt made and writes nothing. Each action
    is logged in one line (its verb, outcome and duration: never its data or who sent it) and
    counted by verb and outcome (docs/deployment.md, "Log format" and "Metrics").
    """
    name = verb if verb in ACTIONS else "other"
    started = time.perf_counter()
    context = logcontext.verb.set(name)
    outcome, seq = errors.INTERNAL, None
    try:
        entry, outcome = _perform(
            participant=participant, verb=verb, data=data, client_id=client_id, prefix=prefix
        )
        seq = entry.seq
        return entry
    except Exception as exc:
        outcome = errors.error_for(exc, field="data").code
        raise
    finally:
        ms = round((time.perf_counter() - started) * 1000, 1)
        metrics.ACTIONS.labels(name, outcome).inc()
        log.info("%s %s in %.1f ms", name, outcome, ms,
                 extra={"outcome": outcome, "duration_ms": ms, "seq": seq})  # fmt: skip
        logcontext.verb.reset(context)


def _perform(*, participant, verb: str, data: dict, client_id: uuid.UUID | None, prefix: str):
    """(the entry, "ok") for an action carried out, (the entry, "repeat") for a resend."""
    if not action_allowed(role=participant.role, verb=verb):
        raise errors.ActionError(errors.FORBIDDEN, errors.MSG_FORBIDDEN_VERB)
    payload = action_parse(verb=verb, data=data, prefix=prefix)
    if client_id is not None:
        earlier = journal_find_action(actor=participant, client_id=client_id)
        if earlier is not None:
            return earlier, "repeat"
    kwargs = payload.model_dump()
    if verb == "route.publish":
        kwargs["geometry"] = payload.geometry.model_dump()
    try:
        return ACTIONS[verb].service(participant=participant, client_id=client_id, **kwargs), "ok"
    except errors.ActionError as exc:
        # Services name fields as in a socket frame ("data.route"); REST bodies have no "data".
        if prefix != "data":
            exc.fields = [_reprefix(f, prefix) for f in exc.fields]
        raise
    except IntegrityError:
        # Two copies of one frame raced; the loser's transaction rolled back. Answer as the winner.
        earlier = client_id and journal_find_action(actor=participant, client_id=client_id)
        if earlier is None:
            raise
        return earlier, "repeat"


def _reprefix(field: dict, prefix: str) -> dict:
    name = field["field"].removeprefix("data.")
    return {**field, "field": f"{prefix}.{name}" if prefix else name}
