"""What lets an event's page open with no network (docs/pages.md, "Offline and notifications"):
its web app manifest and its service worker, both under the event's address so that the service
worker's scope is exactly the event's page (`/e/<slug>/`).

The service worker is one script made of two static files: `vault.js` (the phone's sealed
IndexedDB stores, which the pages import too) and `sw.js` (caches, Background Sync, Web Push).
"""

from datetime import timedelta

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from fieldops.actions import REST_PATHS
from fieldops.models import Event
from marshals.sessions import session_participant

SCRIPTS = ("fieldops/vault.js", "fieldops/sw.js")
# How long a phone keeps an event's page, its last entries and its tiles after the event's end
# (or, for an event whose end has passed, after the page was last opened).
KEEP_AFTER_END = timedelta(hours=6)


def offline_config(event: Event) -> dict:
    """The `offline` entry of a page's config: where its service worker is, what the worker may
    send for it (the REST routes of the actions), and until when the phone keeps its copy."""
    home = reverse("event-home", args=[event.slug])
    now = timezone.now()
    return {
        "worker": reverse("service-worker", args=[event.slug]),
        "scope": home,
        "paths": REST_PATHS,
        "rendered_at": now.isoformat(),
        "keep_until": (max(event.ends_at, now) + KEEP_AFTER_END).isoformat(),
    }


def service_worker(request: HttpRequest, slug: str) -> HttpResponse:
    """The event's service worker. Public: the same script for everyone, naming nobody. Never
    cached by HTTP, so that the browser's update check always sees the current one."""
    parts = []
    for name in SCRIPTS:
        path = finders.find(name)
        if path is None:
            raise Http404("No service worker.")
        with open(path, encoding="utf-8") as file:
            parts.append(file.read())
    response = HttpResponse("\n".join(parts), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


def manifest(request: HttpRequest, slug: str) -> JsonResponse:
    """The event's web app manifest, for whoever joined it (its name is the event's): installed
    on a home screen, the app opens the event's page."""
    participant = session_participant(request.session, event_slug=slug)
    if participant is None:
        raise Http404("Not joined.")
    home = reverse("event-home", args=[slug])
    response = JsonResponse(
        {
            "name": participant.event.name,
            "short_name": "Fieldops",
            "start_url": home,
            "scope": home,
            "id": home,
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#003da5",
            "icons": [
                {"src": static("fieldops/favicon.svg"), "sizes": "any", "type": "image/svg+xml"},
                {
                    "src": static("fieldops/apple-touch-icon.png"),
                    "sizes": "180x180",
                    "type": "image/png",
                },
            ],
        },
        content_type="application/manifest+json",
    )
    response["Cache-Control"] = "private, no-cache"
    return response
