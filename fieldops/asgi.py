"""ASGI entry point: HTTP through Django, WebSockets through the event consumer.

Browsers are held to the allowed hosts by Origin (a foreign page cannot drive a user's socket);
devices that send no Origin header are authenticated by their bearer token alone.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fieldops.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from marshals.watch import EmbeddedWatch  # noqa: E402
from realtime.delivery import gc_tune  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402


class AllowedOriginValidator(OriginValidator):
    """Rejects a foreign Origin; lets through clients that send none (native apps, scripts)."""

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


def _origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    return ["*"] if settings.DEBUG and not hosts else hosts


# EmbeddedWatch runs the overdue / route-ack sweeps in this worker (docs/safety.md).
application = EmbeddedWatch(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            # No session middleware: sockets read the session cookie themselves, once
            # (realtime/auth.py), rather than keep channels' wrapper for their whole life.
            "websocket": AllowedOriginValidator(URLRouter(websocket_urlpatterns), _origins()),
        }
    )
)
# Everything imported so far lives as long as the worker (docs/performance.md).
gc_tune()
