from .audit import AuditEntry as AuditEntry
from .events import Event, MarchGroup, Place, Route
from .field import Alert, ArrestRecord, Incident, IncidentChange
from .journal import JournalEntry, PushCursor
from .retention import EventKey, EventTally
from .safety import (
    ActiveSos,
    Alarm,
    OffRoute,
    OverdueLapse,
    Presence,
    RouteAckReminder,
    SosRecipient,
    ZoneActivation,
    ZonePresence,
)

__all__ = [
    "ActiveSos",
    "Alarm",
    "OffRoute",
    "OverdueLapse",
    "Presence",
    "RouteAckReminder",
    "SosRecipient",
    "ZoneActivation",
    "ZonePresence",
    "Alert",
    "ArrestRecord",
    "Event",
    "EventKey",
    "EventTally",
    "Incident",
    "IncidentChange",
    "JournalEntry",
    "MarchGroup",
    "Place",
    "PushCursor",
    "Route",
]
