"""Pages for a joined browser."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from marshals.sessions import session_participant


def event_home(request: HttpRequest, slug: str) -> HttpResponse:
    participant = session_participant(request.session, event_slug=slug)
    if participant is None:
        return render(request, "not_joined.html", status=403)
    return render(
        request, "event_home.html", {"participant": participant, "event": participant.event}
    )


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
