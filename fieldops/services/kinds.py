"""The journal's vocabulary: every kind of entry, the payload model its `data` must fit, and who
may receive it. The mirror of the action table (fieldops/actions.py): that one says what clients may
ask, this one what the server may tell.

`JournalWriter.append` refuses a kind that is not here, a payload its model does not accept and an
audience tag the kind may not reach. The kinds table of docs/protocol.md is written from this
registry (`python manage.py journal_kinds --write`) and a test keeps the two equal.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

import pydantic
from pydantic import ConfigDict, Field, PlainSerializer

# Times go on the wire as Python's isoformat() always wrote them ("+00:00", not pydantic's "Z").
Time = Annotated[
    datetime, Field(strict=False), PlainSerializer(datetime.isoformat, return_type=str)
]
Level = Literal["info", "warning", "danger"]


class Payload(pydantic.BaseModel):
    # strict and closed: a payload that does not fit is a bug in the service that built it.
    model_config = ConfigDict(extra="forbid", strict=True, serialize_by_alias=True)


class Who(Payload):
    participant: int
    callsign: str
    role: str
    group: int | None


class Checkin(Payload):
    checkin: int
    participant: int
    callsign: str
    role: str
    group: int | None
    lat: float
    lng: float
    accuracy_m: float | None
    status: str
    note: str
    device_time: Time | None


class IncidentData(Payload):
    incident: int
    kind: str
    severity: str
    status: str
    lat: float
    lng: float
    description: str
    reporter: str | None
    group: int | None


class IncidentUpdated(IncidentData):
    note: str
    by: str


class SeenAt(Payload):
    lat: float
    lng: float
    at: Time


class SosNearby(Payload):
    incident: int
    status: str
    sender: str
    group: int | None
    lat: float
    lng: float
    note: str
    distance_m: float
    bearing_deg: float
    direction: str
    within_radius: bool
    radius_m: int | float
    # Why this person is told: within the radius, a medic, one of the nearest marshals when
    # nobody is within it, or told of this SOS before.
    reason: Literal["within_radius", "medic", "nearest", "told_before"]
    accuracy_m: float | None
    stale: bool  # their last position is older than SOS_STALE_SECONDS
    from_: SeenAt = Field(alias="from")


class ArrestLogged(Payload):
    arrest: int
    occurred_at: Time
    lat: float
    lng: float
    people_count: int
    agency: str
    dispersal_order: str
    force_used: bool
    medical_needs: bool
    observer: str | None


class ArrestUpdated(Payload):
    arrest: int
    released: bool
    released_at: Time | None
    welfare_met: bool
    contact_made: bool
    lawyer_assigned: bool
    changed: list[str]  # the names of the fields this update changed, never their values
    by: str | None


class RouteData(Payload):
    route: int
    version: int
    group: int | None


class RoutePublished(RouteData):
    geometry: dict
    note: str


class RouteAcked(RouteData):
    participant: int
    callsign: str


class RouteAckReminder(RouteAcked):
    published_at: Time
    changed: bool
    text: str


class AlertSent(Payload):
    alert: int
    audience: str
    level: Level
    text: str
    expires_at: Time | None


class ParticipantRevoked(Who):
    invite_revoked: bool


class Was(Payload):
    role: str
    group: int | None


class ParticipantChanged(Who):
    was: Was


class DeviceRevoked(Who):
    device: int
    label: str


class InviteRevoked(Payload):
    invite: int
    role: str
    group: int | None
    label: str


class Position(Payload):
    lat: float
    lng: float


class Phone(Payload):
    # A socket of theirs is open on a live worker: the phone is alive, its owner is not answering.
    connected: bool
    last_heard: Time | None  # any frame from them, not only a check-in; None: never connected


class Overdue(Who):
    silent_since: Time
    silent_minutes: float
    interval_minutes: int
    last_position: Position | None
    phone: Phone


class Back(Who):
    silent_since: Time
    back_at: Time
    lat: float
    lng: float


class OffRoute(Payload):
    participant: int
    callsign: str
    group: int | None
    route: int
    version: int
    distance_m: float
    limit_m: int | float
    lat: float
    lng: float


class InZone(Who):
    place: int
    name: str
    lat: float
    lng: float
    level: Level
    text: str


class Zone(Payload):
    place: int
    name: str
    geometry: dict
    public: bool
    active: bool
    level: Level
    text: str


class EventPush(Payload):
    enabled: bool


class EventEnded(Payload):
    ended_at: Time
    level: Level
    text: str


AlarmSubject = Literal["sos", "overdue", "off_route", "in_zone", "incident"]


class AlarmData(Payload):
    alarm: int
    subject: AlarmSubject
    # Whom it is about (the SOS's sender, the silent or strayed person), if anyone.
    participant: int | None
    callsign: str | None
    group: int | None
    incident: int | None
    lat: float | None
    lng: float | None
    opened_at: Time
    step: int
    claimed_by: str | None
    level: Level
    text: str


class AlarmEscalated(AlarmData):
    # What this step did: told the same people again, the nearest marshals and medics whatever
    # the distance, or every marshal and medic.
    widened: Literal["repeat", "nearest", "all"]


class AlarmResolved(AlarmData):
    # "resolved" by a person (`by`), or "cleared" because its cause ended (the marshal checked in,
    # came back on route, left the zone; the SOS or incident was closed).
    outcome: Literal["resolved", "cleared"]
    by: str | None
    note: str


@dataclass(frozen=True)
class Kind:
    name: str
    payload: type[Payload]
    # Audience tags it may carry: a tag itself ("legal") or a family of tags ("participant.*").
    # Organizers are in every audience and need not be listed.
    reaches: frozenset[str]
    # Who receives it and anything its data does not say, for the protocol's table.
    receivers: str
    data_note: str = ""
    # Whether it is also sent by Web Push to those of its audience whose page is closed, and at
    # what level: a Level, or PUSH_LEVEL_FROM_DATA for the level its data carries; None: never.
    push: str | None = None

    def allows(self, tag: str) -> bool:
        family = tag.split(".", 1)[0] + ".*" if "." in tag else tag
        return tag == "organizers" or tag in self.reaches or family in self.reaches


KINDS: dict[str, Kind] = {}


def _kind(
    name: str,
    payload: type[Payload],
    reaches: set[str],
    receivers: str,
    note="",
    *,
    push: str | None = None,
) -> str:
    KINDS[name] = Kind(name, payload, frozenset(reaches), receivers, note, push)
    return name


PUSH_LEVEL_FROM_DATA = "data"


FIELD_TEAMS = {"marshals", "legal", "medics"}
SOS_PEOPLE = {"medics", "participant.*"}

CHECKIN = _kind(
    "checkin",
    Checkin,
    {"marshals.*", "medics"},
    "organizers; a marshal's: the marshals of the same group; a medic's: medics",
)
INCIDENT_REPORTED = _kind(
    "incident.reported", IncidentData, FIELD_TEAMS, "organizers, marshals, legal observers, medics"
)
INCIDENT_UPDATED = _kind(
    "incident.updated",
    IncidentUpdated,
    FIELD_TEAMS | SOS_PEOPLE,
    "as the incident was reported; an SOS's: as `sos.raised`, and everyone who got its "
    "`sos.nearby`",
)
SOS_RAISED = _kind(
    "sos.raised",
    IncidentData,
    SOS_PEOPLE,
    "organizers, medics and the sender; marshals near it get their own `sos.nearby` instead",
    "as an incident, `kind` = `sos`",
    push="danger",
)
SOS_UPDATED = _kind(
    "sos.updated",
    IncidentData,
    SOS_PEOPLE,
    "as `sos.raised`",
    "as `sos.raised`: the same SOS, sent again by its sender while active",
)
SOS_NEARBY = _kind(
    "sos.nearby",
    SosNearby,
    {"participant.*"},
    "personally: each marshal who may be within `SOS_RADIUS_METERS` of it (or, if none may, the "
    "`SOS_NEAREST_MARSHALS` nearest), each medic with a known position, and anyone told of this "
    "SOS before; organizers",
    "distance and bearing from the recipient's own last position (`from`); `reason` says why "
    "they are told; `stale` flags a position older than `SOS_STALE_SECONDS`",
    push="danger",
)
ARREST_LOGGED = _kind(
    "arrest.logged",
    ArrestLogged,
    {"legal"},
    "organizers, legal observers",
    "never descriptions, names or destinations (those are read with "
    "`GET /api/events/<slug>/arrests/<id>`, organizers and legal observers only)",
)
ARREST_UPDATED = _kind(
    "arrest.updated",
    ArrestUpdated,
    {"legal"},
    "organizers, legal observers",
    "jail support: whether the person is released and since when, whether welfare needs were "
    "met, contact made and a lawyer assigned, and the names of the fields changed; never their "
    "values (read with `GET /api/events/<slug>/arrests/<id>`)",
)
ROUTE_PUBLISHED = _kind("route.published", RoutePublished, {"public"}, "everyone", push="warning")
ROUTE_ACKED = _kind("route.acked", RouteAcked, set(), "organizers")
ROUTE_ACK_REMINDER = _kind(
    "route.ack_reminder",
    RouteAckReminder,
    {"participant.*"},
    "the marshal who has not acknowledged the route, personally; organizers",
    "`changed` is false for the march's first route (the plan)",
)
ALERT_SENT = _kind(
    "alert.sent",
    AlertSent,
    {"public", "group.*"} | FIELD_TEAMS,
    "the chosen audience, and organizers",
    push=PUSH_LEVEL_FROM_DATA,
)
PARTICIPANT_JOINED = _kind(
    "participant.joined", Who, set(), "organizers (marchers are many and join without an entry)"
)
PARTICIPANT_REVOKED = _kind("participant.revoked", ParticipantRevoked, set(), "organizers")
PARTICIPANT_CHANGED = _kind(
    "participant.changed",
    ParticipantChanged,
    set(),
    "organizers",
    "the new `role` and `group`; `was`: before",
)
DEVICE_REVOKED = _kind("device.revoked", DeviceRevoked, set(), "organizers")
INVITE_REVOKED = _kind("invite.revoked", InviteRevoked, set(), "organizers")
MARSHAL_OVERDUE = _kind(
    "marshal.overdue",
    Overdue,
    {"marshals.*", "medics", "participant.*"},
    "organizers, the silent participant, and the marshals of their group (for a medic: medics)",
    "`phone`: whether a socket of theirs is open now (`connected`) and when any frame of theirs "
    "was last heard (`last_heard`, as of the workers' last PRESENCE_FLUSH_SECONDS batch)",
    push="warning",
)
MARSHAL_BACK = _kind("marshal.back", Back, KINDS[MARSHAL_OVERDUE].reaches, "as `marshal.overdue`")
MARSHAL_OFF_ROUTE = _kind(
    "marshal.off_route", OffRoute, {"participant.*"}, "organizers, and the marshal who strayed"
)
MARSHAL_ON_ROUTE = _kind("marshal.on_route", OffRoute, {"participant.*"}, "as `marshal.off_route`")
MARSHAL_IN_ZONE = _kind(
    "marshal.in_zone",
    InZone,
    {"participant.*"},
    "the participant inside the zone; organizers",
    push=PUSH_LEVEL_FROM_DATA,
)
ZONE_ACTIVATED = _kind(
    "zone.activated",
    Zone,
    {"public"} | FIELD_TEAMS,
    "a public zone: everyone; another: marshals, legal observers, medics and organizers",
    '`level` = `"danger"`, `text` = `"Avoid: <zone name>"`',
    push=PUSH_LEVEL_FROM_DATA,
)
ZONE_DEACTIVATED = _kind(
    "zone.deactivated",
    Zone,
    {"public"} | FIELD_TEAMS,
    "as `zone.activated`",
    '`level` = `"info"`, `text` = `"No longer a danger zone: <zone name>"`',
)

EVENT_PUSH_CHANGED = _kind(
    "event.push_changed",
    EventPush,
    set(),
    "organizers",
    "`enabled`: whether the event sends Web Push notifications from now on",
)
EVENT_ENDED = _kind(
    "event.ended",
    EventEnded,
    {"public"},
    "everyone",
    '`ended_at`; `level` = `"info"`, `text` = `"The event has ended."`: the watch stops',
)

ALARM_PEOPLE = {"participant.*", "marshals.*", "marshals", "medics", "legal"}
ALARM_OPENED = _kind(
    "alarm.opened",
    AlarmData,
    ALARM_PEOPLE,
    "as the entry that raised it (an SOS: everyone told of it; overdue, off route, in a zone: the "
    "person, the marshals of their group or, for a medic, medics; an incident: as reported)",
    "an SOS, overdue, off route, in a danger zone, or a high or critical incident now needs "
    "someone to claim it (`alarm.claim`)",
)
ALARM_CLAIMED = _kind(
    "alarm.claimed", AlarmData, ALARM_PEOPLE, "as the alarm", "`claimed_by`: who is on it"
)
ALARM_ESCALATED = _kind(
    "alarm.escalated",
    AlarmEscalated,
    ALARM_PEOPLE,
    "the alarm's audience, widened at each step (`widened`)",
    "unclaimed after the event's `alarm_escalate_minutes`: repeated, then widened to the nearest "
    "marshals and medics, then to every marshal and medic",
    push="danger",
)
ALARM_RESOLVED = _kind(
    "alarm.resolved",
    AlarmResolved,
    ALARM_PEOPLE,
    "as the alarm",
    "`outcome`: `resolved` by a person (`by`), or `cleared` because its cause ended",
)

# The kinds that are sent by Web Push too (docs/privacy.md).
PUSHED = frozenset(name for name, kind in KINDS.items() if kind.push)


def kind_push_level(*, kind: str, data: dict) -> str | None:
    """The level an entry of this kind is pushed at (its data as the wire carries it), or None
    if the kind is not pushed."""
    push = kind_get(kind=kind).push
    if push == PUSH_LEVEL_FROM_DATA:
        level = data.get("level")
        return level if level in ("info", "warning", "danger") else "info"
    return push


def kind_payload(*, kind: str, data) -> Payload:
    """The entry's data as its kind's model; raises LookupError for an unknown kind and
    pydantic.ValidationError for data that does not fit."""
    model = kind_get(kind=kind).payload
    if isinstance(data, model):
        return data
    if isinstance(data, Payload):
        raise TypeError(f"{kind} takes {model.__name__}, not {type(data).__name__}")
    return model.model_validate(data)


def kind_get(*, kind: str) -> Kind:
    """The registered kind of this name; LookupError if there is none."""
    try:
        return KINDS[kind]
    except KeyError:
        raise LookupError(
            f"No journal kind {kind!r}: add it to fieldops/services/kinds.py"
        ) from None
