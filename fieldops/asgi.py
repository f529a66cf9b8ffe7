"""ASGI entry point: HTTP through Django, WebSockets through the event consumer.

Browsers are held to the public origin (a page anywhere else cannot drive a user's socket); devices
that send no Origin header are authenticated by their bearer token alone.

`make run` relies on the local-settings default below; deploy/worker refuses to start without
DJANGO_SETTINGS_MODULE, so a deployment never falls back to it.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fieldops.settings.local")
django_asgi_app = get_asgi_application()

from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from fieldops.scrape import MetricsEndpoint  # noqa: E402
from fieldops.watch import EmbeddedWatch  # noqa: E402
from realtime.delivery import gc_tune  # noqa: E402
from realtime.routing import SocketDoor  # noqa: E402

# Channels' matching of an origin against a pattern (scheme, host or .domain, port).
_MATCHER = OriginValidator(None, allowed_origins=[])


def origin_allowed(parsed_origin) -> bool:
    """Lets a browser socket in only from PUBLIC_URL or CSRF_TRUSTED_ORIGINS, compared as scheme,
    host and port: another port or plain http on the public host is another site. Clients that
    send no Origin (native apps, scripts) pass; their token authenticates them."""
    if parsed_origin is None:
        return True
    try:
        return any(_MATCHER.match_allowed_origin(parsed_origin, o) for o in public_origins())
    except ValueError:  # a port that is no number
        return False


def public_origins() -> list[str]:
    """The origins browser pages are served from, read per handshake so tests may change them.
    Only entries with a scheme count (a bare host would match any port and scheme); Django's
    `https://*.example.org` becomes channels' `https://.example.org`."""
    configured = [settings.PUBLIC_URL, *settings.CSRF_TRUSTED_ORIGINS]
    return [o.replace("://*.", "://.", 1) for o in configured if "://" in o]


# EmbeddedWatch runs the overdue / route-ack sweeps in this worker (docs/safety.md), and routes:
# GET /metrics with METRICS_TOKEN is answered before Django (fieldops/scrape.py), every other
# request goes to Django, every socket through the socket door. No session middleware: sockets read
# the session cookie themselves, once (realtime/auth.py), rather than keep channels' wrapper for
# their whole life.
application = EmbeddedWatch(MetricsEndpoint(django_asgi_app), sockets=SocketDoor(origin_allowed))
# Everything imported so far lives as long as the worker (docs/performance.md).
gc_tune()
