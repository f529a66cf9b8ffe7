"""Every client action, the role allowed to do it, its payload schema and its service.

Both the WebSocket consumer and the REST API go through `action_perform`, so a verb is validated,
authorized and carried out the same way whichever door it came in by.
"""

import contextvars
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pydantic
from django.db import IntegrityError

from fieldops import errors, logcontext, schemas
from fieldops.crypto import data_key_held
from fieldops.services import alerts, arrests, checkins, events, incidents, push, routes
from fieldops.services.journal import journal_actions_done, journal_batch, journal_find_action
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
    # Reads ahead, once for a batch of these actions, what each would ask for alone.
    prepare: Callable | None = None
    # Makes, for an action of a batch and before the event's lock is taken, what needs no lock
    # (its rows, sealed): the service takes it as `row`.
    ahead: Callable | None = None


ACTIONS: dict[str, Action] = {
    "checkin": Action(
        schemas.CheckInIn,
        frozenset({ORGANIZER, Role.MARSHAL, Role.MEDIC}),
        checkins.checkin_create,
        prepare=checkins.checkins_prepare,
        ahead=checkins.checkin_row,
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


# Actions a worker may carry out several at a time in one transaction (actions_perform_batch): they
# change no route or place, so the map a batch reads once holds for all of it.
BATCHED = frozenset({"checkin"})


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
    return _perform(
        participant=participant, verb=verb, data=data, client_id=client_id, prefix=prefix
    )


def _perform(*, participant, verb: str, data: dict, client_id, prefix="data", payload=None):
    """`action_perform`; with `payload`, the data as `_admit` already validated it."""
    started = time.perf_counter()
    context = logcontext.verb.set(verb if verb in ACTIONS else "other")
    outcome, seq = errors.INTERNAL, None
    try:
        if payload is None:
            payload = _admit(participant=participant, verb=verb, data=data, prefix=prefix)
        entry, outcome = _carry_out(
            participant=participant, verb=verb, payload=payload, client_id=client_id, prefix=prefix
        )
        seq = entry.seq
        return entry
    except Exception as exc:
        outcome = errors.error_for(exc, field="data").code
        raise
    finally:
        _record(verb=verb, outcome=outcome, started=started, seq=seq)
        logcontext.verb.reset(context)


@dataclass(frozen=True)
class Request:
    """One action of a batch (`actions_perform_batch`), as `action_perform` takes it."""

    participant: object
    verb: str
    data: dict
    client_id: uuid.UUID | None
    # The context of the socket that sent it: its log lines carry that socket's ids.
    context: contextvars.Context | None = None


def actions_perform_batch(requests: list[Request]) -> list:
    """Carry out actions of one event together: one event lock, one transaction, one commit and
    one publish for all of them. Each is answered (its entry, or the exception `action_perform`
    would raise), logged and counted as if it came alone.

    A check-in's lock, commit and publish cost more than its own rows (docs/performance.md): a
    worker sends the check-ins that queued while its database thread was busy as one batch. One
    refused before it writes (not allowed, not valid) is answered alone. If one fails while
    writing, the whole batch rolls back and each is carried out alone: nothing is written twice,
    and a bad action costs the others only time.
    """
    results: list = [None] * len(requests)
    admitted = []
    for i, request in enumerate(requests):
        try:
            payload = _admit(participant=request.participant, verb=request.verb, data=request.data)
        except Exception as exc:
            outcome = errors.error_for(exc, field="data").code
            _in(request, _record, verb=request.verb, outcome=outcome, started=time.perf_counter())
            results[i] = exc
        else:
            admitted.append((i, request, payload))
    if len(admitted) == 1:
        i, request, payload = admitted[0]
        results[i] = _alone(request, payload)
    elif admitted:
        started = time.perf_counter()
        event_id = admitted[0][1].participant.event_id
        try:
            # What needs no lock is done before it: other workers wait for it less.
            fresh = _fresh([request for _, request, _ in admitted])
            with data_key_held(event_id=event_id):
                made_ahead = [
                    _ahead(request, payload) if is_fresh else None
                    for (_, request, payload), is_fresh in zip(admitted, fresh, strict=True)
                ]
                with journal_batch(event_id=event_id) as journal:
                    _prepare(journal, [request for _, request, _ in admitted])
                    done = [
                        _carry_out(
                            participant=request.participant,
                            verb=request.verb,
                            payload=payload,
                            client_id=request.client_id,
                            batched=True,
                            resend=not is_fresh,
                            made=made,
                        )
                        for (_, request, payload), is_fresh, made in zip(
                            admitted, fresh, made_ahead, strict=True
                        )
                    ]
        except Exception as exc:
            # A failure that each action, carried out alone, answers for itself; said once here
            # (the kind of error only: an action's data may be personal).
            log.warning("a batch of %d actions failed (%s): each goes alone", len(admitted),
                        type(exc).__name__)  # fmt: skip
            metrics.BATCHES.labels("alone").inc()
            for i, request, payload in admitted:
                results[i] = _alone(request, payload)
        else:
            metrics.BATCHES.labels("together").inc()
            for (i, request, _), (entry, outcome) in zip(admitted, done, strict=True):
                _in(
                    request,
                    _record,
                    verb=request.verb,
                    outcome=outcome,
                    started=started,
                    seq=entry.seq,
                )
                results[i] = entry
    return results


def _prepare(journal, requests: list[Request]) -> None:
    for verb in {r.verb for r in requests}:
        prepare = ACTIONS[verb].prepare
        if prepare is not None:
            prepare(
                journal=journal, participants=[r.participant for r in requests if r.verb == verb]
            )


def _ahead(request: Request, payload: pydantic.BaseModel) -> dict | None:
    """The service's arguments, with what the action's `ahead` made for it (`row`), if it has one."""
    ahead = ACTIONS[request.verb].ahead
    if ahead is None:
        return None
    fields = payload.model_dump()
    return {**fields, "row": ahead(participant=request.participant, **fields)}


def _fresh(requests: list[Request]) -> list[bool]:
    """For each request, whether it is surely no resend: no earlier frame and no earlier request of
    the batch carried its id (one statement for the batch; only the others are looked up)."""
    ids = [(r.participant.pk, r.client_id) for r in requests]
    done = journal_actions_done(actions=[i for i in ids if i[1] is not None])
    fresh, seen = [], set()
    for actor_and_id in ids:
        fresh.append(
            actor_and_id[1] is None or (actor_and_id not in done and actor_and_id not in seen)
        )
        seen.add(actor_and_id)
    return fresh


def _alone(request: Request, payload: pydantic.BaseModel):
    try:
        return _in(
            request,
            _perform,
            participant=request.participant,
            verb=request.verb,
            data=request.data,
            client_id=request.client_id,
            payload=payload,
        )
    except Exception as exc:
        return exc


def _in(request: Request, function, **kwargs):
    """`function(**kwargs)` in the context of the socket that sent `request`."""
    if request.context is None:
        return function(**kwargs)
    return request.context.run(partial(function, **kwargs))


def _record(*, verb: str, outcome: str, started: float, seq: int | None = None) -> None:
    name = verb if verb in ACTIONS else "other"
    ms = round((time.perf_counter() - started) * 1000, 1)
    metrics.ACTIONS.labels(name, outcome).inc()
    context = logcontext.verb.set(name)
    try:
        log.info("%s %s in %.1f ms", name, outcome, ms,
                 extra={"outcome": outcome, "duration_ms": ms, "seq": seq})  # fmt: skip
    finally:
        logcontext.verb.reset(context)


def _admit(*, participant, verb: str, data: dict, prefix: str = "data") -> pydantic.BaseModel:
    """The action's payload, once the participant may do it and it is valid."""
    if not action_allowed(role=participant.role, verb=verb):
        raise errors.ActionError(errors.FORBIDDEN, errors.MSG_FORBIDDEN_VERB)
    return action_parse(verb=verb, data=data, prefix=prefix)


def _carry_out(
    *,
    participant,
    verb: str,
    payload: pydantic.BaseModel,
    client_id: uuid.UUID | None,
    prefix: str = "data",
    batched: bool = False,
    resend: bool = True,
    made: dict | None = None,
):
    """(the entry, "ok") for an action carried out, (the entry, "repeat") for a resend. With
    `resend` False the caller knows it is none, and the journal is not asked. `made`: the
    service's arguments as `_ahead` made them."""
    if client_id is not None and resend:
        earlier = journal_find_action(actor=participant, client_id=client_id)
        if earlier is not None:
            return earlier, "repeat"
    kwargs = payload.model_dump() if made is None else made
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
        # Two copies of one frame raced; the loser's transaction rolled back. Answer as the
        # winner. In a batch nothing rolled back yet: the batch does, and each goes alone.
        earlier = (
            not batched
            and client_id
            and journal_find_action(actor=participant, client_id=client_id)
        )
        if not earlier:
            raise
        return earlier, "repeat"


def _reprefix(field: dict, prefix: str) -> dict:
    name = field["field"].removeprefix("data.")
    return {**field, "field": f"{prefix}.{name}" if prefix else name}
