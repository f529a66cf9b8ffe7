"""The sockets' door: the origin check and the one address, then the event consumer.

Channels' OriginValidator and URLRouter would do the same, but each stays on the socket's call stack
for as long as it is open, the router with a copy of the scope of its own: at 20,000 idle sockets
that was 40 MB for nothing (docs/performance.md, "Memory"). Here the checks are done and left
behind: the door is a plain function that returns the consumer's coroutine for its caller to
await, and the consumer gets the server's scope with `url_route` added, as the router set it.
"""

import re
from urllib.parse import urlparse

from channels.security.websocket import WebsocketDenier

from .consumer import EventConsumer

# The path `/ws/events/<slug:slug>/` (Django's slug converter).
SOCKET_PATH = re.compile(r"/ws/events/(?P<slug>[-a-zA-Z0-9_]+)/")


def origin_of(scope):
    """The socket's Origin header, parsed; None when it sent none. ValueError if it cannot be
    parsed (a bracketed host left open, say)."""
    parsed = None
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            parsed = urlparse(value.decode("latin1"))
    return parsed


class SocketDoor:
    """Called as an ASGI app for WebSockets, it returns the coroutine to await (not itself one,
    so that it leaves no frame behind): a socket from a refused origin, or at any other address,
    is refused (closed before it opens, as Channels' denier does); any other is the consumer's."""

    def __init__(self, origin_allowed):
        self.origin_allowed = origin_allowed  # (parsed origin or None) -> bool

    def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("The socket door takes WebSocket connections only.")
        match = SOCKET_PATH.fullmatch(scope["path"])
        try:
            allowed = match is not None and self.origin_allowed(origin_of(scope))
        except ValueError:
            allowed = False
        if not allowed:
            return WebsocketDenier()(scope, receive, send)
        # The server made this scope for this socket alone, and nothing reads it but the consumer.
        scope["url_route"] = {"args": (), "kwargs": {"slug": match["slug"]}}
        return EventConsumer()(scope, receive, send)
