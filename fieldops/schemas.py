"""Typed payloads, one definition for the WebSocket frames and the REST bodies alike."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints, field_validator

Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def Text(limit: int):  # noqa: N802 - reads like a type in the schemas below
    return Annotated[str, StringConstraints(max_length=limit, strip_whitespace=True)]


# Timestamps and ids arrive as JSON strings, so they alone are parsed leniently.
Timestamp = Annotated[datetime, Field(strict=False)]
FrameId = Annotated[uuid.UUID, Field(strict=False)]


class Strict(Schema):
    # strict: a coordinate of `true` or "40.4" is a client bug to report, not to coerce.
    model_config = ConfigDict(extra="forbid", strict=True)


class Position(Strict):
    lat: Latitude
    lng: Longitude


class CheckInIn(Position):
    status: Literal["ok", "need_help", "blocked"] = "ok"
    accuracy_m: Annotated[float, Field(ge=0, le=100_000)] | None = None
    note: Text(280) = ""
    device_time: Timestamp | None = None


class IncidentReportIn(Position):
    kind: Literal["medical", "police", "crowd", "hostile", "hazard", "lost", "other"]
    severity: Literal["low", "medium", "high", "critical"]
    description: Text(1000) = ""


class IncidentUpdateIn(Strict):
    incident: Annotated[int, Field(gt=0)]
    status: Literal["acknowledged", "resolved", "dismissed"]
    note: Text(500) = ""


class SosIn(Position):
    note: Text(280) = ""


class ArrestLogIn(Position):
    occurred_at: Timestamp | None = None
    people_count: Annotated[int, Field(ge=1, le=500)] = 1
    agency: Text(120) = ""
    dispersal_order: Literal["unknown", "none", "audible", "inaudible"] = "unknown"
    force_used: bool = False
    medical_needs: bool = False
    arrestee_description: Text(2000) = ""
    officers: Text(2000) = ""
    dispersal_details: Text(2000) = ""
    force_details: Text(2000) = ""
    stated_reason: Text(1000) = ""
    vehicle: Text(500) = ""
    taken_to: Text(500) = ""
    welfare_notes: Text(2000) = ""
    witnesses: Text(2000) = ""
    notes: Text(2000) = ""


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
    group: Annotated[int, Field(gt=0)] | None = None
    note: Text(280) = ""


class RouteAckIn(Strict):
    route: Annotated[int, Field(gt=0)]


AlertAudience = Annotated[
    str, StringConstraints(pattern=r"^(public|organizer|marshal|legal|medic|group:\d{1,12})$")
]


class AlertSendIn(Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
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
    place: Annotated[int, Field(gt=0)] | None = None
    name: Text(120) = ""
    geometry: Polygon | None = None
    # Unset: an existing zone keeps its setting, a new one is public.
    public: bool | None = None


class ZoneDeactivateIn(Strict):
    place: Annotated[int, Field(gt=0)]


class NearestIn(Strict):
    """A position as numbers (lat, lng) or as text ("40°25′08″N 3°41′31″W"), and what to find."""

    kind: Literal["medic", "legal", "exit", "water"]
    lat: Latitude | None = None
    lng: Longitude | None = None
    position: Text(80) | None = None
    limit: Annotated[int, Field(ge=1, le=10)] = 3


class ResumeIn(Strict):
    since: Annotated[int, Field(ge=0)]


class PingIn(Strict):
    pass


class ClientFrame(Strict):
    type: Literal[
        "checkin",
        "incident.report",
        "incident.update",
        "arrest.log",
        "sos",
        "route.publish",
        "route.ack",
        "alert.send",
        "zone.activate",
        "zone.deactivate",
        "resume",
        "ping",
    ]
    id: FrameId
    data: dict = {}


class JoinIn(Strict):
    code: Annotated[str, StringConstraints(min_length=8, max_length=100, strip_whitespace=True)]
    device: Text(100) = ""
    callsign: Text(40) = ""


class InviteCreateIn(Strict):
    role: Literal["organizer", "marshal", "legal", "medic", "marcher"]
    group: Annotated[int, Field(gt=0)] | None = None
    label: Text(100) = ""
    expires_in_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 24
    max_uses: Annotated[int, Field(ge=1, le=100_000)] | None = None


class RevokeIn(Strict):
    participant: Annotated[int, Field(gt=0)]


def error_fields(exc) -> list[dict]:
    """pydantic's errors as `[{"field": "data.lat", "message": ...}]`, naming each field."""
    fields = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "frame"
        fields.append({"field": location, "message": error["msg"]})
    return fields
