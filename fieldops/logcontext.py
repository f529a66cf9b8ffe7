"""What a log line says about where it came from: the HTTP request or the socket, the event, the
verb (docs/deployment.md, "Log format").

Context variables, so the context follows a request or a socket through its awaits and into the
threads its database work runs on (asgiref's sync_to_async runs them in a copy of the caller's
context). `ContextFilter` puts them on every record a handler prints. None of them is personal: the
ids are random and live as long as their request or socket, the event is its public slug, the verb
one of a fixed list.
"""

import logging
import secrets
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
socket_id: ContextVar[str | None] = ContextVar("socket_id", default=None)
event: ContextVar[str | None] = ContextVar("event", default=None)
verb: ContextVar[str | None] = ContextVar("verb", default=None)

FIELDS = {"request_id": request_id, "socket_id": socket_id, "event": event, "verb": verb}


def new_id() -> str:
    """A random id for one request or socket: 16 hex digits, generated here, never taken from
    the client."""
    return secrets.token_hex(8)


class ContextFilter(logging.Filter):
    """Adds the current request or socket id, event and verb to each record (what a record was
    given as `extra` stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in FIELDS.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True
