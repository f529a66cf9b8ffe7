"""Join links: a browser opens /join/<code>/, confirms, and gets a session for the event."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from fieldops import errors

from . import services
from .models import Invite
from .sessions import session_remember
from .tokens import digest


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, code: str) -> HttpResponse:
    # GET only shows the invite: link previews and scanners must not use up an invite.
    invite = Invite.objects.select_related("event", "group").filter(code_hash=digest(code)).first()
    if invite is None or not invite.usable():
        return render(request, "join.html", {"error": errors.MSG_INVITE_UNUSABLE}, status=404)
    if request.method == "GET":
        return render(request, "join.html", {"invite": invite})
    callsign = request.POST.get("callsign", "").strip()[:40]
    try:
        joined = services.invite_redeem(code=code, callsign=callsign, with_token=False)
    except errors.ActionError as exc:
        return render(request, "join.html", {"error": exc.message}, status=400)
    request.session.cycle_key()
    session_remember(
        request.session, event_slug=invite.event.slug, participant_id=joined.participant.pk
    )
    return redirect("event-home", slug=invite.event.slug)
