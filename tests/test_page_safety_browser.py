"""Markup in every free-text field, on every role's page, in a real browser: it is shown as text in
feeds, alerts, lists, map tooltips and icons, and nothing of it runs. The Content-Security-Policy
is present, fits the pages (no violation while they work) and stops inline script by itself.

The server is this module's own (the markup would show in other modules' pictures), seeded with
the demo and then, through the services, with markup wherever a participant or organizer can type.
"""

import dataclasses
import json
import urllib.request

import pytest

from tests.browser import (
    chromium,  # noqa: F401 - the session's browser
    field_fixture,
    serving_planted,
    wait_live,
)

pytestmark = pytest.mark.browser

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=1</script>"
# Collects Content-Security-Policy violations from before the page's first script runs.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""
# Opens every tooltip the map holds and reads it, and every icon, as a tap on each would.
MAP_TEXTS = """() => {
  const m = window.FO.map, out = [];
  // Markers inside a cluster have no tooltip until they are drawn on their own.
  if (m.declutter) m.declutter(false);
  for (const layers of [m.routes, m.places, m.positions, m.incidents, m.arrests]) {
    for (const key of Object.keys(layers)) {
      const layer = layers[key];
      if (layer.getTooltip && layer.getTooltip()) {
        layer.openTooltip();
        const tip = layer.getTooltip().getElement();
        out.push({text: tip.textContent, tags: tip.querySelectorAll("*:not(span)").length});
        layer.closeTooltip();
      }
      const icon = layer.getElement && layer.getElement();
      if (icon && icon.tagName === "DIV") {
        out.push({text: icon.textContent, tags: icon.querySelectorAll("*:not(span,small)").length});
      }
    }
  }
  return out;
}"""
FREE_POINT_ON_GROUP_ROUTE = """() => {
  const m = window.FO.map, box = document.getElementById("map").getBoundingClientRect();
  const line = Object.values(m.routes).find((r) => r.fieldops.group != null);
  const ll = line.getLatLngs();
  for (let i = 1; i < ll.length; i++) {
    for (const f of [0.5, 0.25, 0.75]) {
      const at = [ll[i - 1].lat + (ll[i].lat - ll[i - 1].lat) * f,
                  ll[i - 1].lng + (ll[i].lng - ll[i - 1].lng) * f];
      const p = m.map.latLngToContainerPoint(at), x = box.left + p.x, y = box.top + p.y;
      if (document.elementFromPoint(x, y) === line.getElement()) return [x, y];
    }
  }
  return null;
}"""
INJECTED = "img[src='x'], b, script:not([src]):not([type='application/json'])"


def hostile(tag: str) -> str:
    """A free text with markup that would run if it were ever parsed as HTML."""
    return f"[{tag}] {IMG}{SCRIPT}"


def hostile_callsign(tag: str) -> str:
    """The same, within a callsign's 40 characters."""
    return f"<b>{tag}</b><img src=x onerror=__pwned=1>"


def plant(slug: str, codes: dict) -> dict:
    """Markup in every free text of the demo event, through the services (or the models, for what
    only the admin edits). Runs inside the server's environment, before it starts."""
    from fieldops.demo import ROUTE
    from fieldops.models import Event, Incident, MarchGroup, Place
    from fieldops.services.alerts import alert_send
    from fieldops.services.arrests import arrest_log
    from fieldops.services.checkins import checkin_create
    from fieldops.services.incidents import incident_report, incident_update, sos_raise
    from fieldops.services.routes import route_publish
    from fieldops.services.safety.zones import zone_activate
    from marshals.services import invite_create, invite_redeem

    event = Event.objects.get(slug=slug)
    Event.objects.filter(pk=event.pk).update(name=hostile("event"))
    north = MarchGroup.objects.get(event=event, name="North block")
    MarchGroup.objects.filter(pk=north.pk).update(name=hostile("group"))
    Place.objects.filter(event=event, kind="medic").update(name=hostile("place"))

    def join(role: str, tag: str, **kwargs):
        code = codes[role]
        return invite_redeem(code=code, callsign=hostile_callsign(tag), **kwargs)

    organizer = join("organizer", "O1", with_token=True)
    marshal = join("marshal", "M1", with_token=False).participant
    legal = join("legal", "L1", with_token=False).participant
    medic = join("medic", "D1", with_token=False).participant
    boss = organizer.participant

    west = [[lng - 0.004, lat] for lng, lat in ROUTE]
    line = {"type": "LineString", "coordinates": ROUTE}
    route_publish(participant=boss, geometry=line, note=hostile("route"))
    route_publish(
        participant=boss,
        geometry={"type": "LineString", "coordinates": west},
        group=north.pk,
        note=hostile("group-route"),
    )
    alert_send(participant=boss, text=hostile("alert"), audience="public", level="warning")
    checkin_create(
        participant=marshal, lat=40.4180, lng=-3.6870, status="need_help", note=hostile("checkin")
    )
    checkin_create(participant=medic, lat=40.4160, lng=-3.6870, note=hostile("medic-checkin"))
    incident_report(
        participant=marshal,
        lat=40.4140,
        lng=-3.6870,
        kind="crowd",
        severity="high",
        description=hostile("incident"),
    )
    incident = Incident.objects.filter(event=event, kind="crowd").latest("pk")
    incident_update(
        participant=boss, incident=incident.pk, status="acknowledged", note=hostile("update")
    )
    sos_raise(participant=marshal, lat=40.4120, lng=-3.6870, note=hostile("sos"))
    arrest_log(
        participant=legal,
        lat=40.4100,
        lng=-3.6870,
        agency=hostile("agency"),
        arrestee_description=hostile("arrestee"),
        notes=hostile("notes"),
    )
    square = [[-3.686, 40.409], [-3.685, 40.409], [-3.685, 40.410], [-3.686, 40.410]]
    zone_activate(
        participant=boss,
        name=hostile("zone"),
        geometry={"type": "Polygon", "coordinates": [square + [square[0]]]},
        public=True,
    )
    labelled = invite_create(event=event, role="marshal", group=north.pk, label=hostile("label"))
    return {"invite": labelled.code, "token": organizer.token}


def invite_codes(seeded: dict) -> tuple:
    return ({role: invite["code"] for role, invite in seeded["invites"].items()},)


@pytest.fixture(scope="module")
def planted_server():
    with serving_planted(
        "tests.test_page_safety_browser.plant", invite_codes, timeout=120
    ) as served:
        yield served


field = field_fixture("planted_server")


@dataclasses.dataclass
class Seen:
    """What a page's browser received: each document's headers, and what the console said."""

    documents: list = dataclasses.field(default_factory=list)
    console: list = dataclasses.field(default_factory=list)


def open_page(field, path: str, callsign: str | None = None, **context_options):
    """A new browser on `path` (a join link is followed through); returns the page and what it
    has seen."""
    context = field.context(**context_options)
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    seen = Seen()
    page.on("console", lambda message: seen.console.append(message.text))
    page.on(
        "response",
        lambda r: (
            seen.documents.append(r.all_headers())
            if r.request.resource_type == "document"
            else None
        ),
    )
    page.goto(path)
    if callsign is not None:
        if callsign:
            page.fill("input[name=callsign]", callsign)
        page.click("#join")
        page.wait_for_url(f"**/e/{field.server.event}/")
        wait_live(page)
    return page, seen


def assert_nothing_ran(page, seen: Seen) -> None:
    """Nothing planted ran or became an element, and the headers held without getting in the way."""
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.locator(INJECTED).count() == 0
    assert page.evaluate("() => window.__violations") == []
    assert seen.documents, "no document loaded"
    for headers in seen.documents:
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "geolocation=(self)" in headers["permissions-policy"]
    assert not [text for text in seen.console if "Policy" in text], seen.console


# What each role's page shows of the planted text, at least (its audience decides the rest).
EVERYONE = ["event", "route", "group-route", "group", "alert", "zone"]
SHOWN = {
    "organizer": EVERYONE + ["checkin", "medic-checkin", "incident", "update", "sos", "agency"],
    "marshal": EVERYONE + ["checkin", "incident", "update", "place"],
    "medic": EVERYONE + ["incident", "sos", "place"],
    "legal": EVERYONE + ["incident", "agency"],
    "marcher": EVERYONE + ["place"],
}
CALLSIGNS = {"organizer": ["M1", "L1", "D1"], "marshal": ["M1"], "legal": ["L1"]}


@pytest.mark.parametrize("role", list(SHOWN))
def test_markup_in_free_text_shows_as_text_and_never_runs(field, planted_server, role):
    server, _ = planted_server
    callsign = "" if role == "marcher" else f"{role.title()} 2"
    page, seen = open_page(field, f"/join/{server.invites[role]}/", callsign)
    if role == "organizer":  # the people list too
        page.click("#people-panel summary")
        page.click("#people-load")
        page.locator("#people li", has_text="M1").wait_for()
    map_texts = page.evaluate(MAP_TEXTS)
    assert map_texts
    assert all(shown["tags"] == 0 for shown in map_texts), map_texts
    text = page.inner_text("body") + "\n".join(shown["text"] for shown in map_texts)
    for tag in SHOWN[role]:
        assert hostile(tag) in text, tag
    for tag in CALLSIGNS.get(role, []):
        assert hostile_callsign(tag) in text, tag
    assert_nothing_ran(page, seen)


def test_a_marcher_tapping_a_group_route_sees_its_note_as_text(field, planted_server):
    server, _ = planted_server
    phone = {"has_touch": True, "is_mobile": True}
    page, seen = open_page(field, f"/join/{server.invites['marcher']}/", "", **phone)
    page.wait_for_function("() => !window.FO.map.map._animatingZoom")
    # A point of the group route that no marker covers, where a finger would land on the line.
    x, y = page.evaluate(FREE_POINT_ON_GROUP_ROUTE)
    page.touchscreen.tap(x, y)
    tooltip = page.locator(".leaflet-tooltip", has_text="[group-route]")
    tooltip.wait_for()
    assert tooltip.text_content() == f"{hostile('group')} v1 · {hostile('group-route')}"
    assert tooltip.locator("img, script").count() == 0
    assert_nothing_ran(page, seen)


def test_markup_arriving_live_is_shown_as_text(field, planted_server):
    server, planted = planted_server
    marcher, seen = open_page(field, f"/join/{server.invites['marcher']}/", "")
    api = f"{server.base_url}/api/events/{server.event}"
    for path, body in [
        ("alerts", {"text": hostile("live-alert"), "audience": "public"}),
        ("routes", {"geometry": {"type": "LineString", "coordinates": [[-3.69, 40.41],
                    [-3.70, 40.42]]}, "note": hostile("live-route")}),
    ]:  # fmt: skip
        request = urllib.request.Request(
            f"{api}/{path}",
            data=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {planted['token']}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert reply.status == 200
    marcher.locator("#alerts .fo-alert", has_text="[live-alert]").wait_for()
    marcher.wait_for_function(
        "(note) => window.FO.map.routes.event.fieldops.note === note", arg=hostile("live-route")
    )
    assert hostile("live-alert") in marcher.inner_text("#alerts")
    assert hostile("live-route") in marcher.inner_text("#feed")
    texts = [shown["text"] for shown in marcher.evaluate(MAP_TEXTS)]
    assert f" v3 · {hostile('live-route')}" in "\n".join(texts)
    assert_nothing_ran(marcher, seen)


def test_join_and_invite_pages_show_markup_as_text(field, planted_server):
    server, planted = planted_server
    join, seen = open_page(field, f"/join/{planted['invite']}/")
    assert hostile("event") in join.inner_text("main h1")
    assert hostile("group") in join.inner_text("main")
    assert_nothing_ran(join, seen)
    command, seen = open_page(field, f"/join/{server.invites['organizer']}/", "Control 2")
    command.click("#people-panel summary")
    command.fill("#invite-label", hostile("form-label"))
    command.select_option("#invite-role", "marshal")
    command.click("#invite-create")
    command.locator("#invite-url").wait_for()
    assert command.locator(".fo-qr svg").count() == 1
    assert_nothing_ran(command, seen)


def test_the_policy_alone_stops_inline_script_that_reached_the_page(field, planted_server):
    server, _ = planted_server
    page, seen = open_page(field, f"/join/{server.invites['marcher']}/", "")
    # As if a string had slipped into HTML somewhere: the policy refuses to run its handler.
    page.evaluate(
        """(markup) => { const box = document.createElement("div");
                         box.innerHTML = markup; document.body.appendChild(box); }""",
        IMG,
    )
    page.wait_for_function("() => window.__violations.length > 0")
    assert page.evaluate("() => window.__violations")[0].startswith("script-src")
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
