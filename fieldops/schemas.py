"""Typed payloads, one definition for the WebSocket frames and the REST bodies alike."""

import base64
import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from ninja import Schema  # noqa: F401 - the outbound models' base (fieldops/api.py)
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from marshals.roles import Role

Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]

# Row ids and journal seqs are 64-bit signed integers in both databases: a larger number is
# refused here rather than overflowing in the driver (a 500 on REST, a closed socket).
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(gt=0, le=MAX_ID)]
Seq = Annotated[int, Field(ge=0, le=MAX_ID)]

# C0 and C1 control characters and lone surrogates: PostgreSQL cannot store NUL in text, and the
# others only garble a log or a screen. Multi-line free text keeps tab and line breaks.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MSG_CONTROL_CHARACTERS = "Control characters (such as NUL) are not allowed here."
MSG_LINE_CONTROLS = "Control characters (NUL, tab, line breaks...) are not allowed here."


def _refuse(pattern: re.Pattern, message: str):
    def check(value: str) -> str:
        if pattern.search(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


PLAIN = _refuse(_LINE_CONTROLS, MSG_LINE_CONTROLS)
MULTILINE = _refuse(_CONTROLS, MSG_CONTROL_CHARACTERS)


def Text(limit: int, *, multiline: bool = False, min_length: int = 0):  # noqa: N802 - a type
    """A string of at most `limit` characters, trimmed; one line unless `multiline`."""
    constraints = StringConstraints(min_length=min_length, max_length=limit, strip_whitespace=True)
    return Annotated[str, constraints, MULTILINE if multiline else PLAIN]


# Within these bounds every time converts to UTC and back in both databases and in Python
# (9999-12-31T23:59:59-23:59 does not); the service has nothing to do with other years.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MSG_TIME_RANGE = "A time from 2000-01-01 to 2099-12-31 (UTC)."


def _in_range(value: datetime) -> datetime:
    """The time in UTC; one without an offset is read as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(MSG_TIME_RANGE) from None
    if not EARLIEST <= value < LATEST:
        raise ValueError(MSG_TIME_RANGE)
    return value


# Timestamps and ids arrive as JSON strings, so they alone are parsed leniently.
Timestamp = Annotated[datetime, Field(strict=False), AfterValidator(_in_range)]
FrameId = Annotated[uuid.UUID, Field(strict=False)]


class Strict(BaseModel):
    # strict: a coordinate of `true` or "40.4" is a client bug to report, not to coerce. A plain
    # pydantic model, not ninja's Schema: these are inbound only, and Schema's wrapping validator
    # (which reads attributes off ORM objects) cost every frame a tenth of its validation.
    model_config = ConfigDict(extra="forbid", strict=True)


class Position(Strict):
    lat: Latitude
    lng: Longitude


class CheckInIn(Position):
    status: Literal["ok", "need_help", "blocked"] = "ok"
    accuracy_m: Annotated[float, Field(ge=0, le=100_000)] | None = None
    note: Text(280, multiline=True) = ""
    device_time: Timestamp | None = None


class IncidentReportIn(Position):
    kind: Literal["medical", "police", "crowd", "hostile", "hazard", "lost", "other"]
    severity: Literal["low", "medium", "high", "critical"]
    description: Text(1000, multiline=True) = ""


class IncidentUpdateIn(Strict):
    incident: Id
    status: Literal["acknowledged", "resolved", "dismissed"]
    note: Text(500, multiline=True) = ""


class SosIn(Position):
    note: Text(280, multiline=True) = ""


class ArrestLogIn(Position):
    occurred_at: Timestamp | None = None
    people_count: Annotated[int, Field(ge=1, le=500)] = 1
    agency: Text(120) = ""
    dispersal_order: Literal["unknown", "none", "audible", "inaudible"] = "unknown"
    force_used: bool = False
    medical_needs: bool = False
    arrestee_description: Text(2000, multiline=True) = ""
    officers: Text(2000, multiline=True) = ""
    dispersal_details: Text(2000, multiline=True) = ""
    force_details: Text(2000, multiline=True) = ""
    stated_reason: Text(1000, multiline=True) = ""
    vehicle: Text(500) = ""
    taken_to: Text(500) = ""
    welfare_notes: Text(2000, multiline=True) = ""
    witnesses: Text(2000, multiline=True) = ""
    notes: Text(2000, multiline=True) = ""


def _date_in_range(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(MSG_TIME_RANGE)
    return value


Day = Annotated[date, Field(strict=False), AfterValidator(_date_in_range)]


class ArrestUpdateIn(Strict):
    """Jail support: what is known since the arrest. A field left out (or null) stays as it
    was; an empty text clears it."""

    arrest: Id
    station: Text(500) | None = None
    charges: Text(2000, multiline=True) | None = None
    bail: Text(500) | None = None
    court_date: Day | None = None
    lawyer: Text(500) | None = None
    follow_up_notes: Text(2000, multiline=True) | None = None
    welfare_met: bool | None = None
    contact_made: bool | None = None
    contact_consent: bool | None = None
    released_at: Timestamp | None = None


Coordinate = Annotated[list[float], Field(min_length=2, max_length=2)]


class LineString(Strict):
    type: Literal["LineString"]
    coordinates: Annotated[list[Coordinate], Field(min_length=2, max_length=1000)]

    @field_validator("coordinates")
    @classmethod
    def _in_range(cls, coordinates: list[list[float]]) -> list[list[float]]:
        for lng, lat in coordinates:
            if not (-180 <= lng <= 180 and -90 <= lat <= 90):
                raise ValueError("each coordinate is [longitude, latitude] within range")
        return coordinates


class RoutePublishIn(Strict):
    geometry: LineString
    group: Id | None = None
    note: Text(280, multiline=True) = ""


class RouteAckIn(Strict):
    route: Id


AlertAudience = Annotated[
    str, StringConstraints(pattern=r"^(public|organizer|marshal|legal|medic|group:[0-9]{1,12})$")
]


class AlertSendIn(Strict):
    text: Text(500, multiline=True, min_length=1)
    audience: AlertAudience = "public"
    level: Literal["info", "warning", "danger"] = "info"
    expires_in_minutes: Annotated[int, Field(ge=1, le=24 * 60)] | None = None


class Polygon(Strict):
    """A GeoJSON Polygon: an outer ring and any holes, each closed, [longitude, latitude]."""

    type: Literal["Polygon"]
    coordinates: Annotated[
        list[Annotated[list[Coordinate], Field(min_length=4, max_length=1000)]],
        Field(min_length=1, max_length=50),
    ]

    @field_validator("coordinates")
    @classmethod
    def _closed_rings_in_range(cls, rings: list[list[list[float]]]) -> list[list[list[float]]]:
        for ring in rings:
            if ring[0] != ring[-1]:
                raise ValueError("each ring ends where it starts")
            for lng, lat in ring:
                if not (-180 <= lng <= 180 and -90 <= lat <= 90):
                    raise ValueError("each coordinate is [longitude, latitude] within range")
        return rings


class ZoneActivateIn(Strict):
    place: Id | None = None
    name: Text(120) = ""
    geometry: Polygon | None = None
    # Unset: an existing zone keeps its setting, a new one is public.
    public: bool | None = None


class ZoneDeactivateIn(Strict):
    place: Id


class AlarmClaimIn(Strict):
    """Organizers, marshals and medics the alarm reaches: "I'm on it"."""

    alarm: Id


class AlarmResolveIn(Strict):
    """Organizers, or whoever claimed the alarm: it is dealt with."""

    alarm: Id
    note: Text(500, multiline=True) = ""


class EventEndIn(Strict):
    """Organizers: the event is over; the watch stops raising overdue alerts and reminders."""


class EventPushIn(Strict):
    """Organizers: whether the event sends Web Push notifications from now on."""

    enabled: bool


class NearestIn(Strict):
    """A position as numbers (lat, lng) or as text ("40°25′08″N 3°41′31″W"), and what to find."""

    kind: Literal["medic", "legal", "exit", "water"]
    lat: Latitude | None = None
    lng: Longitude | None = None
    position: Text(80) | None = None
    limit: Annotated[int, Field(ge=1, le=10)] = 3


class ResumeIn(Strict):
    since: Seq


class PingIn(Strict):
    pass


class ClientFrame(Strict):
    type: Literal[
        "checkin",
        "incident.report",
        "incident.update",
        "arrest.log",
        "arrest.update",
        "sos",
        "route.publish",
        "route.ack",
        "alert.send",
        "zone.activate",
        "zone.deactivate",
        "event.push",
        "event.end",
        "alarm.claim",
        "alarm.resolve",
        "resume",
        "ping",
    ]
    id: FrameId
    data: dict = {}


class JoinIn(Strict):
    code: Text(100, min_length=8)
    device: Text(100) = ""
    callsign: Text(40) = ""


class InviteCreateIn(Strict):
    role: Literal[tuple(Role.values)]
    group: Id | None = None
    label: Text(100) = ""
    expires_in_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 24
    max_uses: Annotated[int, Field(ge=1, le=100_000)] | None = None


class RevokeIn(Strict):
    participant: Id
    # Also revoke the invite they joined with: nobody joins with its code again.
    revoke_invite: bool = False


class DeviceRevokeIn(Strict):
    device: Id


# --- Web Push subscriptions (the JSON of the browser's PushSubscription) ---------------------------

MSG_PUSH_ENDPOINT = (
    "A push subscription's endpoint: an https:// address of at most 2,000 characters."
)
MSG_PUSH_P256DH = "The browser's public key: an uncompressed P-256 point (65 bytes), base64url."
MSG_PUSH_AUTH = "The browser's authentication secret: 16 bytes, base64url."


def _b64url(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", text):
        raise ValueError
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


def _endpoint(value: str) -> str:
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        raise ValueError(MSG_PUSH_ENDPOINT) from None
    if url.scheme not in ("https", "http") or not url.hostname or re.search(r"\s", value):
        raise ValueError(MSG_PUSH_ENDPOINT)
    return value


def _p256dh(value: str) -> str:
    try:
        raw = _b64url(value)
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)  # on the curve
    except ValueError:
        raise ValueError(MSG_PUSH_P256DH) from None
    return value


def _auth(value: str) -> str:
    try:
        if len(_b64url(value)) != 16:
            raise ValueError
    except ValueError:
        raise ValueError(MSG_PUSH_AUTH) from None
    return value


class PushKeysIn(Strict):
    p256dh: Annotated[str, StringConstraints(max_length=100), AfterValidator(_p256dh)]
    auth: Annotated[str, StringConstraints(max_length=40), AfterValidator(_auth)]


class PushSubscriptionIn(Strict):
    """A browser's PushSubscription as its toJSON() gives it."""

    endpoint: Annotated[
        str, StringConstraints(min_length=1, max_length=2000), PLAIN, AfterValidator(_endpoint)
    ]
    keys: PushKeysIn
    # When the browser will end the subscription by itself; not used.
    expiration_time: Annotated[float, Field(ge=0)] | None = Field(None, alias="expirationTime")


class PushUnsubscribeIn(Strict):
    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=2000), PLAIN]


def error_fields(exc) -> list[dict]:
    """pydantic's errors as `[{"field": "data.lat", "message": ...}]`, naming each field."""
    fields = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "frame"
        message = error["msg"].removeprefix("Value error, ")  # pydantic's wording for ours
        fields.append({"field": location, "message": message})
    return fields
