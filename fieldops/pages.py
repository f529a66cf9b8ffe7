"""The field pages: one server-rendered page per role, kept live by static/fieldops/fieldops.js.

Each page is rendered with a snapshot of what its role may see (the same GeoJSON the REST map
endpoint returns) and the journal seq it was taken at; the socket then resumes from there.
"""

import pydantic
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from fieldops import errors, selectors
from fieldops.models import ArrestRecord, Event, Incident, Place
from fieldops.schemas import InviteCreateIn, error_fields
from fieldops.services.arrests import arrest_summary
from fieldops.services.routes import route_active
from marshals import services as marshal_services
from marshals.models import Participant, Role, RouteAck
from marshals.sessions import session_participant

TEMPLATES = {
    "organizer": "pages/command.html",
    "marshal": "pages/marshal.html",
    "medic": "pages/marshal.html",
    "legal": "pages/legal.html",
    "marcher": "pages/marcher.html",
}
FEED_BACKLOG = 100  # entries a first visit replays so the feed is not empty
# An invite made on the command page lets one person join on one device, unless the organizer
# asks for more: a seized phone whose participant was revoked cannot join again with its code.
# A marchers' link is passed around, so it allows many joins, but not without end.
INVITE_DEFAULT_USES = 2000
INVITE_MAX_USES = 100_000  # the same bound as over REST (schemas.InviteCreateIn)
MSG_INVITE_USES = f"A number of uses from 1 to {INVITE_MAX_USES}, or empty for the default."

# The models' choice labels, shown through {% trans label %}: listed so makemessages finds them.
CHOICE_LABELS = (
    gettext_noop("Medical"),
    gettext_noop("Police action"),
    gettext_noop("Crowd pressure"),
    gettext_noop("Hostile group"),
    gettext_noop("Hazard"),
    gettext_noop("Lost person"),
    gettext_noop("Other"),
    gettext_noop("SOS"),
    gettext_noop("Medic"),
    gettext_noop("Legal support"),
    gettext_noop("Water"),
    gettext_noop("Toilets"),
    gettext_noop("Exit"),
    gettext_noop("Assembly point"),
    gettext_noop("Information"),
    gettext_noop("Danger zone"),
    gettext_noop("Organizer"),
    gettext_noop("Marshal"),
    gettext_noop("Legal observer"),
    gettext_noop("Marcher"),
    gettext_noop("Unknown"),
    gettext_noop("None given"),
    gettext_noop("Given, audible"),
    gettext_noop("Given, not audible"),
)


def client_strings() -> dict[str, str]:
    """Texts the page scripts show, translated here so the scripts need no catalogue."""
    return {
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "reconnecting": _("Reconnecting…"),
        "offline": _("Offline"),
        "waiting": _("%(n)s waiting to send"),
        "sent": _("Sent"),
        "queued": _("Saved on this phone; it will be sent when the connection is back."),
        "refused": _("Refused"),
        "revoked": _("Your access to this event was revoked."),
        "not_joined": _("This browser has not joined the event. Open your invite link again."),
        "ago_now": _("just now"),
        "ago_min": _("%(n)s min ago"),
        "ago_h": _("%(n)s h ago"),
        "no_position": _("No position yet. Allow location, or tap the map where you are."),
        "position_tap": _("Position set from the map."),
        "position_gps": _("Position from GPS (±%(m)s m)."),
        "understood": _("Understood"),
        "acked": _("Acknowledged"),
        "route_changed": _("The route has changed."),
        "acknowledge": _("Acknowledge"),
        "resolve": _("Resolve"),
        "dismiss": _("Dismiss"),
        "revoke": _("Revoke"),
        "revoke_confirm": _("Revoke this participant? Their devices are disconnected at once."),
        "devices": _("Devices"),
        "no_devices": _("No devices: joined in a browser, or not yet."),
        "last_used": _("last used %(t)s"),
        "never_used": _("never used"),
        "device_revoke_confirm": _("Revoke this device? Only it is disconnected."),
        "draw_first": _("Draw a line on the map first."),
        "nearest_none": _("None known."),
        "away": _("%(d)s m away, %(dir)s"),
        "arrests": _("Arrests"),
        "people": _("people"),
        "sos": _("SOS"),
        "all": _("All"),
        "open_incidents": _("Open incidents"),
        "marshals": _("Marshals"),
        "overdue": _("no check-in for %(n)s min"),
        "back": _("checked in again"),
        "off_route": _("%(d)s m off the route"),
        "on_route": _("back on the route"),
        "zone_on": _("Danger zone on"),
        "zone_off": _("Danger zone off"),
        # --- command page strings ---
        # --- route editor strings ---
        # --- marshal, medic, legal and marcher page strings ---
    }


def _page_context(request: HttpRequest, participant: Participant) -> dict:
    event = participant.event
    seq = Event.objects.values_list("last_seq", flat=True).get(pk=event.pk)
    snapshot = selectors.event_feature_collection(participant=participant)
    groups = [{"group": g.pk, "name": g.name, "color": g.color} for g in event.groups.all()]
    return {
        "participant": participant,
        "event": event,
        "groups": groups,
        "map_tiles": {
            "url": settings.MAP_TILES_URL,
            "attribution": settings.MAP_TILES_ATTRIBUTION,
        },
        "page_config": {
            "event": event.slug,
            "role": participant.role,
            "participant": participant.pk,
            "callsign": participant.callsign,
            "group": participant.group_id,
            "groups": groups,
            "seq": seq,
            "backlog": FEED_BACKLOG,
            "socket": f"/ws/events/{event.slug}/",
            "api": f"/api/events/{event.slug}",
            "center": list(settings.LEAFLET_CONFIG["DEFAULT_CENTER"]),
            "tiles": {
                "url": settings.MAP_TILES_URL,
                "attribution": settings.MAP_TILES_ATTRIBUTION,
            },
            "checkin_interval_minutes": event.checkin_interval_minutes,
            "strings": client_strings(),
        },
        "snapshot": snapshot,
    }


def _arrests(participant: Participant) -> list[dict]:
    records = ArrestRecord.objects.filter(event_id=participant.event_id).select_related("observer")
    return [arrest_summary(r) for r in records.order_by("-occurred_at")[:200]]


def _routes_to_acknowledge(participant: Participant) -> list[dict]:
    """Active routes for this marshal (the event's and their group's) not yet acknowledged."""
    mine = [
        r
        for r in route_active(event_id=participant.event_id)
        if r.group_id in (None, participant.group_id)
    ]
    acked = set(
        RouteAck.objects.filter(participant=participant, route__in=mine).values_list(
            "route_id", flat=True
        )
    )
    return [
        {"route": r.pk, "version": r.version, "group": r.group_id, "note": r.note}
        for r in mine
        if r.pk not in acked
    ]


def event_home(request: HttpRequest, slug: str) -> HttpResponse:
    """The page for whoever this browser joined the event as."""
    participant = session_participant(request.session, event_slug=slug)
    if participant is None:
        return render(request, "not_joined.html", status=403)
    context = _page_context(request, participant)
    if participant.role in ("organizer", "legal"):
        context["page_config"]["arrests"] = _arrests(participant)
    if participant.role == "marshal":
        context["page_config"]["unacked_routes"] = _routes_to_acknowledge(participant)
    if participant.role == "organizer":
        context["incident_kinds"] = Incident.Kind.choices
        context["roles"] = Role.choices
        context["invite_default_uses"] = INVITE_DEFAULT_USES
    else:
        context["incident_kinds"] = [
            (k, label) for k, label in Incident.Kind.choices if k != Incident.Kind.SOS
        ]
    context["place_kinds"] = dict(Place.Kind.choices)
    context["dispersal_orders"] = ArrestRecord.DispersalOrder.choices
    return render(request, TEMPLATES[participant.role], context)


def qr_svg(text: str) -> SafeString:
    """A QR code as inline SVG, drawn on the server so no third party sees the link."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    # Safe to insert unescaped: the SVG is one path of the code's modules, with no text of the link.
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308


def invite_uses(*, role: str, text: str) -> int:
    """The joins a command-page invite allows: what the organizer typed, else one for a person's
    role and INVITE_DEFAULT_USES for a marchers' link."""
    text = text.strip()
    if not text:
        return INVITE_DEFAULT_USES if role == "marcher" else 1
    if not (text.isascii() and text.isdigit() and len(text) <= 6):
        raise errors.ActionError.field("max_uses", MSG_INVITE_USES)
    if not 1 <= int(text) <= INVITE_MAX_USES:
        raise errors.ActionError.field("max_uses", MSG_INVITE_USES)
    return int(text)


@require_POST
def invite_new(request: HttpRequest, slug: str) -> HttpResponse:
    """Organizers: make an invite link and show it once, with its QR code."""
    participant = session_participant(request.session, event_slug=slug)
    if participant is None:
        return render(request, "not_joined.html", status=403)
    if participant.role != "organizer":
        return render(request, "not_joined.html", status=403)
    role = request.POST.get("role", "marcher")
    role = role if role in dict(Role.choices) else "marcher"
    try:
        # The same rules as POST /api/events/<slug>/invites: a group that is not a whole number,
        # or a label with control characters, is refused by name rather than failing.
        form = InviteCreateIn.model_validate(
            {"role": role, "group": request.POST.get("group") or None,
             "label": request.POST.get("label", "")[:100]},
            strict=False,
        )  # fmt: skip
        issued = marshal_services.invite_create(
            event=participant.event,
            created_by=participant,
            role=role,
            group=form.group,
            label=form.label,
            expires_in_hours=24,
            max_uses=invite_uses(role=role, text=request.POST.get("max_uses", "")),
        )
    except pydantic.ValidationError as exc:
        message = "; ".join(f"{f['field']}: {f['message']}" for f in error_fields(exc))
        return render(request, "pages/invite.html", {"error": message, "slug": slug}, status=400)
    except errors.ActionError as exc:
        return render(
            request, "pages/invite.html", {"error": exc.message, "slug": slug}, status=400
        )
    url = f"{settings.PUBLIC_URL}{reverse('join', kwargs={'code': issued.code})}"
    return render(
        request,
        "pages/invite.html",
        {"slug": slug, "url": url, "qr": qr_svg(url), "invite": issued.invite},
    )
