"""Errors a service or an entry point raises; both transports turn them into the same reply."""

INVALID = "invalid"
FORBIDDEN = "forbidden"
RATE_LIMITED = "rate_limited"
TOO_LARGE = "too_large"
UNAVAILABLE = "unavailable"
NOT_FOUND = "not_found"

MSG_FORBIDDEN_VERB = "Your role may not do this."
MSG_NO_SUCH_INCIDENT = "No such incident at this event."
MSG_NO_SUCH_ROUTE = "No such route at this event."
MSG_NO_SUCH_GROUP = "No such march group at this event."
MSG_NO_SUCH_PARTICIPANT = "No such participant at this event."
MSG_ONLY_ORGANIZERS_UPDATE = "Only organizers update incidents; a sender may resolve their own SOS."
MSG_INCIDENT_CLOSED = "This incident is already closed."
MSG_BAD_TRANSITION = "An incident cannot move from {old} to {new}."
MSG_INVITE_UNUSABLE = "This invite code is unknown, expired, used up or revoked."


class ActionError(Exception):
    def __init__(self, code: str, message: str, fields: list[dict] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or []

    @classmethod
    def field(cls, name: str, message: str, code: str = INVALID) -> "ActionError":
        return cls(code, message, [{"field": name, "message": message}])
