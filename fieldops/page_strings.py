"""What the page scripts show, translated on the server: the client strings (`cfg.strings`), the
labels of enum values (`cfg.labels`, read by `label()` in static/fieldops/util.js) and the table of
journal kinds with their label and level (`cfg.kinds`), so the scripts need no message catalogue or
kind list of their own and makemessages finds every string here."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext, pgettext

from fieldops.models import Alert, ArrestRecord, Incident, Place
from fieldops.services import kinds
from marshals.models import CheckIn, Role

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


def _plural(forms) -> dict[str, str]:
    """A count's text as {one, other} for Fieldops.plural; `forms(n)` calls ngettext with literal
    texts, so makemessages finds them. English and Spanish have these two forms only."""
    return {"one": forms(1), "other": forms(2)}


def client_strings() -> dict:
    """Texts the page scripts show, translated here so the scripts need no catalogue. A text with
    a count is {one, other} (Fieldops.plural); `%(name)s` placeholders are filled by the scripts."""
    return {
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "reconnecting": _("Reconnecting…"),
        "offline": _("Offline"),
        "waiting": _plural(lambda n: ngettext("%(n)s waiting to send", "%(n)s waiting to send", n)),
        "sent": _("Sent"),
        "queued": _("Saved on this phone; it will be sent when the connection is back."),
        "refused": _("Refused"),
        "revoked": _("Your access to this event was revoked."),
        "not_joined": _("This browser has not joined the event. Open your invite link again."),
        "wiped": _("What this page kept on this phone for the event has been erased."),
        # Opened from the phone's copy (the service worker), with no server to reach.
        "offline_since": _("Offline — data from %(t)s"),
        "push_on": _("Turn on notifications"),
        "push_off": _("Turn off notifications"),
        "push_done_on": _("Notifications are on for this phone."),
        "push_done_off": _("Notifications are off for this phone."),
        "push_blocked": _("Notifications are blocked for this site in the browser's settings."),
        "push_event_off": _("Organizers have switched notifications off for this event."),
        "event_push_on": _("Notifications for this event: on. Switch off"),
        "event_push_off": _("Notifications for this event: off. Switch on"),
        "ago_now": _("just now"),
        "ago_min": _plural(lambda n: ngettext("%(n)s min ago", "%(n)s min ago", n)),
        "ago_h": _plural(lambda n: ngettext("%(n)s hour ago", "%(n)s hours ago", n)),
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
        "nearest_none": _("None known."),
        "away": _("%(d)s m away, %(dir)s"),
        "arrests": _("Arrests"),
        "people_n": _plural(lambda n: ngettext("%(n)s person", "%(n)s people", n)),
        "sos": _("SOS"),
        "all": _("All"),
        "open_incidents": _("Open incidents"),
        "marshals": _("Marshals"),
        "overdue": _plural(
            lambda n: ngettext("no check-in for %(n)s min", "no check-in for %(n)s min", n)
        ),
        "back": _("checked in again"),
        "off_route": _("%(d)s m off the route"),
        "on_route": _("back on the route"),
        "zone_on": _("Danger zone on"),
        "zone_off": _("Danger zone off"),
        # Journal entries as feed lines (Fieldops.describe): %(who)s is a callsign, the other
        # placeholders are labels (Fieldops.label) or numbers.
        "line_checkin": _("%(who)s: %(status)s"),
        "line_incident": _("%(kind)s (%(severity)s)"),
        "line_incident_updated": _("#%(id)s %(kind)s: %(status)s"),
        "line_sos": _("SOS from %(who)s"),
        "line_sos_updated": _("SOS from %(who)s: new position"),
        "line_sos_nearby": _("SOS from %(who)s, %(away)s"),
        "line_arrest": _plural(
            lambda n: ngettext("%(n)s person arrested", "%(n)s people arrested", n)
        ),
        "line_route": _("Route version %(version)s"),
        "line_route_acked": _("%(who)s read route version %(version)s"),
        "line_route_reminder": _("%(who)s has not yet confirmed route version %(version)s"),
        "line_joined": _("%(who)s joined as %(role)s"),
        "line_revoked": _("%(who)s (%(role)s): access revoked"),
        "line_changed": _("%(who)s is now %(role)s"),
        "line_device_revoked": _("%(who)s: a device was revoked"),
        "line_invite_revoked": _("An invite for %(role)s was revoked"),
        "line_in_zone": _("%(who)s is in a danger zone: %(name)s"),
        "line_by": _("by %(who)s"),
        # --- command page strings ---
        "medics": _("Medics"),
        "in_zone": _("in a danger zone"),
        "flag_overdue": _("overdue"),
        "flag_off_route": _("off route"),
        "route_unconfirmed": _("has not confirmed route version %(v)s"),
        "last_seen": _("last seen %(t)s"),
        "no_checkin": _("no check-in yet"),
        "nobody": _("Nobody right now."),
        # --- route editor strings ---
        "route_first": _("Tap the map to add the first point."),
        "route_points": _plural(
            lambda n: ngettext(
                "Tap the map to add a point: %(n)s point",
                "Tap the map to add a point: %(n)s points",
                n,
            )
        ),
        "route_after": _("The next point goes after point %(k)s."),
        "route_point": _("Point %(k)s"),
        "route_draft": _plural(
            lambda n: ngettext(
                "Not published yet: %(n)s point.", "Not published yet: %(n)s points.", n
            )
        ),
        "route_too_few": _plural(
            lambda n: ngettext(
                "A route needs at least 2 points: add %(n)s more point on the map.",
                "A route needs at least 2 points: add %(n)s more points on the map.",
                n,
            )
        ),
        "route_none": _(
            "A route needs at least 2 points: draw a new route or edit the current one first."
        ),
        "route_bad_point": _("Point %(k)s is not a valid place on the map: move it or remove it."),
        "route_too_many": _plural(
            lambda n: ngettext(
                "A route has at most %(n)s point.", "A route has at most %(n)s points.", n
            )
        ),
        "route_no_current": _("No route is published for %(scope)s yet: draw a new one."),
        "route_not_sent": _("The route was not sent."),
        # --- marshal, medic, legal and marcher page strings ---
        "sos_hold_hint": _("Hold the SOS button until the bar is full to send it."),
        "sos_sending": _("SOS saved on this phone: it is sent as soon as the connection is back."),
        "sos_active": _("Your SOS is active: organizers and medics see where you are."),
        "sos_cancel": _("Cancel my SOS"),
        "sos_cancel_ask": _("Are you safe now? Cancelling tells everyone your SOS is over."),
        "sos_cancel_yes": _("Yes, cancel my SOS"),
        "sos_keep": _("No, keep it"),
        "sos_cancel_note": _("cancelled by sender"),
        "sos_ended": _("Your SOS has ended."),
        "sos_from": _("SOS · %(who)s"),
        "sos_closed": _("SOS over · %(who)s"),
        "distance_unknown": _("Check in or allow location to see how far it is."),
        "show_on_map": _("Show on map"),
        "route_plan": _("The route to follow."),
        "route_read": _("Please confirm you have read it."),
        "arrest_at_gps": _("Arrest place: your GPS position (±%(m)s m). Tap the map to change it."),
        "arrest_at_tap": _("Arrest place: where you tapped on the map."),
        "arrest_at_none": _("Arrest place: tap the map where it happened, or allow location."),
        "arrest_record": _("Arrest record"),
        "line_arrest_updated": _("Arrest #%(id)s followed up"),
        "line_arrest_released": _("Arrest #%(id)s: released"),
        "close": _("Close"),
        "loading": _("Loading…"),
        "force_used": _("force used"),
        "medical_needs": _("medical needs"),
        "purged": _("The personal details of this record have been erased."),
        "alarm_claim": _("I'm on it"),
        "alarm_resolve": _("Dealt with"),
        "alarm_claimed": _("%(who)s is on it"),
        "alarm_nobody": _("Nobody is on it yet"),
        "alarm_escalated": _("Still nobody on it: told to more people (step %(n)s of 3)"),
        "alarm_sos": _("SOS · %(who)s"),
        "alarm_overdue": _("%(who)s has not checked in"),
        "alarm_off_route": _("%(who)s is off the route"),
        "alarm_in_zone": _("%(who)s is inside a danger zone"),
        "alarm_incident": _("Incident #%(n)s needs someone"),
        "phone_connected": _("phone connected, heard %(t)s"),
        "phone_gone": _("phone not connected, last heard %(t)s"),
        "phone_never": _("phone never connected"),
    }


# The choice labels that no template or CHOICE_LABELS lists: for makemessages.
LABEL_MSGIDS = (
    gettext_noop("Low"),
    gettext_noop("Medium"),
    gettext_noop("High"),
    gettext_noop("Critical"),
    gettext_noop("Reported"),
    gettext_noop("Acknowledged"),
    gettext_noop("Resolved"),
    gettext_noop("Dismissed"),
    gettext_noop("OK"),
    gettext_noop("Need help"),
    gettext_noop("Blocked"),
    gettext_noop("Info"),
    gettext_noop("Warning"),
    gettext_noop("Danger"),
)

# What each kind of journal entry is called where a page names it (feed meta lines, filters), and
# how loud it is in a feed or a toast: "info", "warning" or "danger" (the CSS classes `level-*`).
# This is the level of the kind itself; what an entry's data says can only raise it, and the
# pages apply that part (`levelOf` in static/fieldops/feed.js): an alert's or zone's own `level`,
# a high or critical severity (danger), an SOS incident (danger), a check-in that is not "ok"
# (warning).
KIND_TABLE = {
    "checkin": (gettext_noop("Check-in"), "info"),
    "incident.reported": (gettext_noop("Incident reported"), "info"),
    "incident.updated": (gettext_noop("Incident updated"), "info"),
    "sos.raised": (gettext_noop("SOS raised"), "danger"),
    "sos.updated": (gettext_noop("SOS updated"), "danger"),
    "sos.nearby": (gettext_noop("SOS nearby"), "danger"),
    "arrest.logged": (gettext_noop("Arrest logged"), "info"),
    "arrest.updated": (gettext_noop("Arrest followed up"), "info"),
    "route.published": (gettext_noop("Route published"), "info"),
    "route.acked": (gettext_noop("Route confirmed"), "info"),
    "route.ack_reminder": (gettext_noop("Route not yet confirmed"), "info"),
    "alert.sent": (gettext_noop("Alert"), "info"),
    "participant.joined": (gettext_noop("Joined"), "info"),
    "participant.revoked": (gettext_noop("Access revoked"), "warning"),
    "participant.changed": (gettext_noop("Role or group changed"), "info"),
    "device.revoked": (gettext_noop("Device revoked"), "warning"),
    "invite.revoked": (gettext_noop("Invite revoked"), "warning"),
    "marshal.overdue": (gettext_noop("Overdue"), "warning"),
    "marshal.back": (gettext_noop("Checked in again"), "info"),
    "marshal.off_route": (gettext_noop("Off route"), "warning"),
    "marshal.on_route": (gettext_noop("Back on route"), "info"),
    "marshal.in_zone": (gettext_noop("In a danger zone"), "danger"),
    "zone.activated": (gettext_noop("Danger zone on"), "danger"),
    "zone.deactivated": (gettext_noop("Danger zone off"), "info"),
    "event.push_changed": (gettext_noop("Push notifications switched"), "info"),
    "event.ended": (gettext_noop("Event ended"), "info"),
    "alarm.opened": (gettext_noop("Needs someone"), "danger"),
    "alarm.claimed": (gettext_noop("Someone is on it"), "info"),
    "alarm.escalated": (gettext_noop("Still nobody on it"), "danger"),
    "alarm.resolved": (gettext_noop("Dealt with"), "info"),
}


def client_kinds() -> dict[str, dict[str, str]]:
    """Every journal kind (services/kinds.py's KINDS) with its translated label and its level, for
    the pages' feeds, filters and toasts. A kind missing from KIND_TABLE is shown by its name at
    the "info" level rather than breaking every page; tests/test_page_config.py names it."""
    table = {name: KIND_TABLE.get(name, (name, "info")) for name in kinds.KINDS}
    return {name: {"label": _(text), "level": level} for name, (text, level) in table.items()}


def client_labels() -> dict[str, dict[str, str]]:
    """Translated labels of the values the journal and the snapshot carry, by group, for `label()`
    in static/fieldops/util.js: the pages never show a raw value such as `need_help`. Journal kinds
    are named by client_kinds()."""

    def choices(enum) -> dict[str, str]:
        return {value: _(label) for value, label in enum.choices}

    return {
        "role": choices(Role),
        "kind": choices(Incident.Kind),
        "severity": choices(Incident.Severity),
        "status": choices(Incident.Status),
        "checkin": choices(CheckIn.Status),
        "place": choices(Place.Kind),
        "level": choices(Alert.Level),
        "dispersal": choices(ArrestRecord.DispersalOrder),
        "direction": {
            "N": pgettext("compass direction", "N"),
            "NE": pgettext("compass direction", "NE"),
            "E": pgettext("compass direction", "E"),
            "SE": pgettext("compass direction", "SE"),
            "S": pgettext("compass direction", "S"),
            "SW": pgettext("compass direction", "SW"),
            "W": pgettext("compass direction", "W"),
            "NW": pgettext("compass direction", "NW"),
        },
    }
