"""Join links: a browser opens /join/<code>/, confirms, and gets a session for the event."""

import pydantic
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from fieldops import errors
from fieldops.schemas import JoinIn, error_fields
from fieldops.throttle import Throttled, join_throttle

from . import services
from .models import Invite
from .sessions import session_remember
from .tokens import digest


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, code: str) -> HttpResponse:
    # Opening a link tells whether its code is good, so both methods count against the address's
    # join budget, as POST /api/join does: codes cannot be guessed at speed through the page either.
    try:
        join_throttle(request)
    except Throttled as exc:
        response = render(request, "join.html", {"error": exc.message}, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    # GET only shows the invite: link previews and scanners must not use up an invite.
    invite = Invite.objects.select_related("event", "group").filter(code_hash=digest(code)).first()
    if invite is None or not invite.usable():
        return render(request, "join.html", {"error": errors.MSG_INVITE_UNUSABLE}, status=404)
    if request.method == "GET":
        return render(request, "join.html", {"invite": invite})
    try:
        # The same rules as POST /api/join: a control character in a callsign is refused by name.
        callsign = JoinIn.model_validate(
            {"code": code, "callsign": request.POST.get("callsign", "")[:40]}
        ).callsign
    except pydantic.ValidationError as exc:
        message = "; ".join(f"{f['field']}: {f['message']}" for f in error_fields(exc))
        return render(request, "join.html", {"invite": invite, "error": message}, status=400)
    try:
        joined = services.invite_redeem(code=code, callsign=callsign, with_token=False)
    except errors.ActionError as exc:
        return render(request, "join.html", {"error": exc.message}, status=400)
    request.session.cycle_key()
    session_remember(
        request.session, event_slug=invite.event.slug, participant_id=joined.participant.pk
    )
    return redirect("event-home", slug=invite.event.slug)
