from .events import Event, MarchGroup, Place, Route
from .field import Alert, ArrestRecord, Incident, IncidentChange
from .journal import JournalEntry
from .safety import (
    ActiveSos,
    OffRoute,
    OverdueLapse,
    RouteAckReminder,
    SosRecipient,
    ZoneActivation,
    ZonePresence,
)

__all__ = [
    "ActiveSos",
    "OffRoute",
    "OverdueLapse",
    "RouteAckReminder",
    "SosRecipient",
    "ZoneActivation",
    "ZonePresence",
    "Alert",
    "ArrestRecord",
    "Event",
    "Incident",
    "IncidentChange",
    "JournalEntry",
    "MarchGroup",
    "Place",
    "Route",
]
