"""Errors a service or an entry point raises; both transports turn them into the same reply."""

from django.db import DataError, InterfaceError, OperationalError

INVALID = "invalid"
FORBIDDEN = "forbidden"
RATE_LIMITED = "rate_limited"
TOO_LARGE = "too_large"
UNAVAILABLE = "unavailable"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
# An unexpected failure that resending will not cure: clients show it as failed and stop resending.
INTERNAL = "internal"
UNAUTHENTICATED = "unauthenticated"

MSG_FORBIDDEN_VERB = "Your role may not do this."
MSG_NO_SUCH_INCIDENT = "No such incident at this event."
MSG_NO_SUCH_ROUTE = "No such route at this event."
MSG_NO_SUCH_GROUP = "No such march group at this event."
MSG_NO_SUCH_PARTICIPANT = "No such participant at this event."
MSG_ONLY_ORGANIZERS_UPDATE = "Only organizers update incidents; a sender may resolve their own SOS."
MSG_INCIDENT_CLOSED = "This incident is already closed."
MSG_BAD_TRANSITION = "An incident cannot move from {old} to {new}."
MSG_INVITE_UNUSABLE = "This invite code is unknown, expired, used up or revoked."
MSG_OUT_OF_RANGE = "A value is outside what the server can store."
MSG_UNAVAILABLE = "Not saved: the database is unavailable right now."
MSG_INTERNAL = "The server failed to carry this out; it was not saved. Tell an organizer."

# What a database that is down or restarting raises: worth trying again, and not a fault of the
# server's own, so it is told in a line, never a traceback per try.
DATABASE_DOWN = (OperationalError, InterfaceError)


class ActionError(Exception):
    def __init__(self, code: str, message: str, fields: list[dict] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or []

    @classmethod
    def field(cls, name: str, message: str, code: str = INVALID) -> "ActionError":
        return cls(code, message, [{"field": name, "message": message}])


def error_for(exc: Exception, *, field: str) -> ActionError:
    """The reply to an exception an action raised: an ActionError as it is; a value the database
    cannot hold is the input's fault (`invalid`, naming `field`, the payload as a whole); a
    database that cannot be reached is `unavailable` (worth resending); anything else is
    `internal`, which resending would only repeat."""
    if isinstance(exc, ActionError):
        return exc
    if isinstance(exc, DataError | OverflowError):
        return ActionError.field(field, MSG_OUT_OF_RANGE)
    if isinstance(exc, DATABASE_DOWN):
        return ActionError(UNAVAILABLE, MSG_UNAVAILABLE)
    return ActionError(INTERNAL, MSG_INTERNAL)
