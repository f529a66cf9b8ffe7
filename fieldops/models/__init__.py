from .events import Event, MarchGroup, Place, Route
from .field import Alert, ArrestRecord, Incident, IncidentChange
from .journal import JournalEntry

__all__ = [
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
