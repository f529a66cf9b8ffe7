"""Plain endpoints outside the pages and the API: liveness and readiness for load balancers, and
the icon browsers ask for at /favicon.ico whatever the page links."""

from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static

from realtime.redis_publish import publisher_for


def health(request: HttpRequest) -> HttpResponse:
    """Liveness: answers while the worker serves, whatever its database and broker do."""
    return HttpResponse("ok", content_type="text/plain")


def favicon(request: HttpRequest) -> HttpResponse:
    """The site icon at the address browsers try on their own (the API docs and the admin link none).

    A temporary redirect: the static file's hashed name changes with each release.
    """
    return HttpResponseRedirect(static("fieldops/favicon.ico"))


def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database and the channel layer answer, else 503 naming what is down.

    A worker with Redis down still accepts and delivers (from the journal, docs/deployment.md), so
    a balancer may keep sending it traffic; this says what an operator must fix.
    """
    checks = {"database": _database_ok(), "channel_layer": _channel_layer_ok()}
    down = [name for name, ok in checks.items() if ok is False]
    body = {
        "status": "ready" if not down else "unavailable",
        "down": down,
        "checks": {name: _word(ok) for name, ok in checks.items()},
    }
    return JsonResponse(body, status=503 if down else 200)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:
        return False


def _channel_layer_ok() -> bool | None:
    """True/False for a broker that can be asked; None for the in-process layer (nothing to ask)."""
    publisher = publisher_for(get_channel_layer())
    return None if publisher is None else publisher.ping()


def _word(ok: bool | None) -> str:
    return {True: "ok", False: "down", None: "in-process"}[ok]
