"""The field pages: one server-rendered page per role, kept live by the page scripts in
static/fieldops/ (docs/pages.md).

Each page is rendered with a snapshot of what its role may see (the same GeoJSON the REST map
endpoint returns) and the journal seq it was taken at; the socket then resumes from there.
"""

import base64

import pydantic
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from fieldops import errors, selectors, visibility
from fieldops.debrief import purge_time
from fieldops.models import ArrestRecord, Event, Incident, JournalEntry, Place
from fieldops.offline import offline_config
from fieldops.page_strings import client_kinds, client_labels, client_strings
from fieldops.schemas import InviteCreateIn, error_fields
from fieldops.services.arrests import arrest_summary
from fieldops.services.incidents import incident_payload
from fieldops.services.push import push_public_key
from fieldops.services.routes import route_for, route_is_change
from fieldops.services.safety import alarms
from fieldops.services.safety import sos as sos_rules
from fieldops.tiles import tiles_config
from marshals import services as marshal_services
from marshals.models import Participant, Role, RouteAck
from marshals.sessions import session_participant

TEMPLATES = {
    Role.ORGANIZER: "pages/command.html",
    Role.MARSHAL: "pages/marshal.html",
    Role.MEDIC: "pages/marshal.html",
    Role.LEGAL: "pages/legal.html",
    Role.MARCHER: "pages/marcher.html",
}
FEED_BACKLOG = 100  # visible entries every page load replays, so the feed is rebuilt
FEED_SCAN = 20_000  # journal entries looked through for them, at most
# An invite made on the command page lets one person join on one device, unless the organizer
# asks for more: a seized phone whose participant was revoked cannot join again with its code.
# A marchers' link is passed around, so it allows many joins, but not without end.
INVITE_DEFAULT_USES = 2000
INVITE_MAX_USES = 100_000  # the same bound as over REST (schemas.InviteCreateIn)
# The command page's export choices (fieldops/export_rows.py DATASETS), as organizers read them.
EXPORT_LABELS = [
    ("incidents", _("Incidents and SOS")),
    ("arrests", _("Arrests")),
    ("checkins", _("Check-ins per person")),
    ("alerts", _("Alerts")),
    ("routes", _("Routes (every version)")),
    ("places", _("Places and zones")),
]
MSG_INVITE_USES = f"A number of uses from 1 to {INVITE_MAX_USES}, or empty for the default."


def outbox_key(participant: Participant) -> str:
    """The key (AES-256, base64url) a page seals what it keeps on the phone with: its unsent
    actions and its last entries (IndexedDB, static/fieldops/vault.js). Derived on the server and
    sent in the page, which HTTP caches never keep (fieldops/headers.py); the page's offline copy
    and the key it imports are erased with the rest on revocation (docs/pages.md)."""
    digest = salted_hmac(
        "fieldops.pages.outbox_key", str(participant.pk), algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def feed_since(participant: Participant, seq: int) -> int:
    """The seq after which the last FEED_BACKLOG entries this participant may see begin: every
    page load replays them, so a reload rebuilds the feed. Looks back at most FEED_SCAN entries."""
    visible = Q()
    for tag in visibility.participant_tags(participant):
        visible |= Q(audience__contains=f" {tag} ")
    seqs = list(
        JournalEntry.objects.filter(
            visible, event_id=participant.event_id, seq__lte=seq, seq__gt=seq - FEED_SCAN
        )
        .order_by("-seq")
        .values_list("seq", flat=True)[:FEED_BACKLOG]
    )
    if len(seqs) == FEED_BACKLOG:
        return seqs[-1] - 1
    return max(0, seq - FEED_SCAN)


def _page_context(request: HttpRequest, participant: Participant) -> dict:
    event = participant.event
    seq = Event.objects.values_list("last_seq", flat=True).get(pk=event.pk)
    snapshot = selectors.event_feature_collection(participant=participant)
    groups = [{"group": g.pk, "name": g.name, "color": g.color} for g in event.groups.all()]
    tiles = tiles_config()
    return {
        "participant": participant,
        "event": event,
        "groups": groups,
        "map_tiles": tiles,
        "page_config": {
            "event": event.slug,
            "role": participant.role,
            "participant": participant.pk,
            "callsign": participant.callsign,
            "group": participant.group_id,
            "groups": groups,
            "seq": seq,
            "backlog": FEED_BACKLOG,
            "since": feed_since(participant, seq),
            "socket": f"/ws/events/{event.slug}/",
            "api": f"/api/events/{event.slug}",
            "center": list(settings.LEAFLET_CONFIG["DEFAULT_CENTER"]),
            "tiles": tiles,
            "checkin_interval_minutes": event.checkin_interval_minutes,
            "strings": client_strings(),
            "labels": client_labels(),
            "kinds": client_kinds(),
            "outbox_key": outbox_key(participant),
            "route": _route_followed(participant),
            "offline": offline_config(event),
            # Web Push: the key to subscribe with (None: the server sends none, offer nothing)
            # and whether organizers have it on for the event.
            "push": {"key": push_public_key(), "enabled": event.push_enabled},
        },
        "snapshot": snapshot,
    }


def _arrests(participant: Participant) -> list[dict]:
    records = ArrestRecord.objects.filter(event_id=participant.event_id).select_related("observer")
    return [arrest_summary(r) for r in records.order_by("-occurred_at")[:200]]


def _route_followed(participant: Participant) -> dict | None:
    """The route this participant follows (routes.route_for): the page shows and asks about this
    one rather than working it out again."""
    route = route_for(participant=participant)
    if route is None:
        return None
    return {"route": route.pk, "version": route.version, "group": route.group_id}


def _routes_to_acknowledge(participant: Participant) -> list[dict]:
    """The active route this marshal follows, unless they have acknowledged it; `changed` says
    whether it replaced a route (the first one is the plan)."""
    route = route_for(participant=participant)
    if route is None or RouteAck.objects.filter(participant=participant, route=route).exists():
        return []
    return [
        {
            "route": route.pk,
            "version": route.version,
            "group": route.group_id,
            "note": route.note,
            "changed": route_is_change(route=route),
        }
    ]


def _active_sos(participant: Participant) -> dict:
    """The SOS this page shows as active: the participant's own, and those they may see."""
    visible = sos_rules.sos_active_visible(participant=participant)
    own = [i for i in visible if i.reporter_id == participant.pk]
    return {
        "my_sos": incident_payload(own[0]) if own else None,
        "active_sos": [incident_payload(i) for i in visible if i.reporter_id != participant.pk],
    }


def event_home(request: HttpRequest, slug: str) -> HttpResponse:
    """The page for whoever this browser joined the event as."""
    participant = session_participant(request.session, event_slug=slug)
    if participant is None:
        return render(request, "not_joined.html", status=403)
    context = _page_context(request, participant)
    if visibility.may_read(participant, "arrests"):
        context["page_config"]["arrests"] = _arrests(participant)
    if visibility.may_read(participant, "route_requests"):
        context["page_config"]["unacked_routes"] = _routes_to_acknowledge(participant)
    if visibility.may_read(participant, "active_sos"):
        context["page_config"].update(_active_sos(participant))
    if visibility.may_read(participant, "alarms"):
        context["page_config"]["alarms"] = alarms.alarms_open_visible(participant=participant)
    if visibility.may_read(participant, "watch"):
        context["incident_kinds"] = Incident.Kind.choices
        context["roles"] = Role.choices
        context["invite_default_uses"] = INVITE_DEFAULT_USES
        context["page_config"]["triage"] = selectors.triage_state(event_id=participant.event_id)
        context["purge_at"] = purge_time(participant.event)
        context["export_datasets"] = EXPORT_LABELS
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
        return INVITE_DEFAULT_USES if role == Role.MARCHER else 1
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
    if participant.role != Role.ORGANIZER:
        return render(request, "not_joined.html", status=403)
    role = request.POST.get("role", Role.MARCHER)
    role = role if role in Role.values else Role.MARCHER
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
