"""The field pages in a real browser against a real daphne: live updates, offline, privacy,
and a screenshot of each page at phone size (docs/screenshots/, shown in the README).

One module on purpose: the session's server and browser fixtures are defined once per module.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser import *  # noqa: F403
from tests.browser import wait_live

pytestmark = pytest.mark.browser

MADRID = {"latitude": 40.4169, "longitude": -3.7035}
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def marker_position(page, participant: int):
    return page.evaluate(
        """(id) => { const m = window.FO.map.positions[String(id)];
                     if (!m) return null; const ll = m.getLatLng(); return [ll.lat, ll.lng]; }""",
        participant,
    )


def participant_id(page) -> int:
    return page.evaluate("() => window.Fieldops.config().participant")


def test_marshal_checkin_appears_on_the_command_map_at_its_position(field, organizer_state):
    _, command = field.open_as(organizer_state)
    _, marshal = field.join("marshal", "Kestrel", permissions=["geolocation"], geolocation=MADRID)
    marshal.wait_for_selector("#position:has-text('GPS')")
    me = participant_id(marshal)
    marshal.click("label:has-text('Need help')")
    marshal.click("#checkin")
    # Within 2 s of the tap, the command map shows the marker at the marshal's position.
    command.wait_for_function("(id) => !!window.FO.map.positions[String(id)]", arg=me, timeout=2000)
    lat, lng = marker_position(command, me)
    assert lat == pytest.approx(MADRID["latitude"], abs=1e-6)
    assert lng == pytest.approx(MADRID["longitude"], abs=1e-6)
    status = command.evaluate("(id) => window.FO.map.positions[String(id)].fieldops.status", me)
    assert status == "need_help"
    assert command.locator("#feed li[data-kind=checkin]", has_text="Kestrel").count() == 1


def test_route_drawn_on_the_command_page_is_redrawn_on_an_open_marcher_page(field, organizer_state):
    _, marcher = field.join("marcher")
    _, command = field.open_as(organizer_state, viewport={"width": 1280, "height": 900})
    before = marcher.evaluate("() => Object.keys(window.FO.map.routes).length")
    command.click("#route-panel summary")
    command.click(".leaflet-draw-draw-polyline")
    box = command.locator("#map").bounding_box()
    points = [(0.3, 0.3), (0.5, 0.6), (0.7, 0.4)]
    for fx, fy in points:
        command.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        command.wait_for_timeout(150)  # Leaflet.draw ignores clicks closer than its tolerance
    command.click(".leaflet-draw-actions a:has-text('Finish')")
    drawn = command.evaluate(
        "() => window.FO.drawn.getLayers()[0].getLatLngs().map(ll => [ll.lng, ll.lat])"
    )
    assert len(drawn) == 3
    command.fill("#route-note", "Detour by the park")
    command.click("#route-publish")
    marcher.wait_for_function(
        """() => { const r = window.FO.map.routes.event;
                   return r && r.fieldops.note === 'Detour by the park'; }"""
    )
    shown = marcher.evaluate("() => window.FO.map.routes.event.fieldops.geometry.coordinates")
    assert shown == [[pytest.approx(x, abs=1e-5), pytest.approx(y, abs=1e-5)] for x, y in drawn]
    assert marcher.evaluate("() => Object.keys(window.FO.map.routes).length") >= max(before, 1)
    # An alert to everyone reaches the marcher too.
    command.click("#alert-panel summary")
    command.fill("#alert-text", "Keep left at the fountain")
    command.select_option("#alert-audience", "public")
    command.click("#alert-send")
    marcher.wait_for_selector("#alerts .fo-alert:has-text('Keep left at the fountain')")


def test_incident_reported_offline_reaches_the_command_page_exactly_once(field, organizer_state):
    _, command = field.open_as(organizer_state)
    context, marshal = field.join(
        "marshal", "Heron", permissions=["geolocation"], geolocation=MADRID
    )
    marshal.wait_for_selector("#position:has-text('GPS')")
    context.set_offline(True)
    marshal.wait_for_selector("#fo-state[data-state=offline]")
    marshal.click("#report summary")
    marshal.select_option("#incident-kind", "crowd")
    marshal.select_option("#incident-severity", "high")
    marshal.fill("#incident-description", "Crush risk at the bridge")
    marshal.click("#report-send")
    marshal.wait_for_selector("#fo-state[data-pending='1']")
    assert "1" in marshal.inner_text("#fo-state")
    # Reload while offline is not possible; the outbox survives in localStorage instead.
    outbox = marshal.evaluate("() => window.FO.client.outbox.length")
    assert outbox == 1
    context.set_offline(False)
    wait_live(marshal)
    # The reconnect asked for its resume in the connect request.
    assert marshal.evaluate("() => window.FO.client.urlSince") is not None
    marshal.wait_for_selector("#fo-state[data-pending='0']")
    command.wait_for_selector("#incidents li:has-text('Crush risk at the bridge')")
    # Let any duplicate that was on its way arrive before counting.
    command.wait_for_timeout(1000)
    feed = command.locator("#feed li[data-kind='incident.reported']", has_text="Crush risk")
    assert feed.count() == 1
    assert command.locator("#incidents li", has_text="Crush risk at the bridge").count() == 1
    # The organizer moves it along: acknowledged, then resolved (and off the open list).
    item = "#incidents li:has-text('Crush risk at the bridge')"
    command.click(f"{item} button[data-action=acknowledged]")
    command.wait_for_selector(f"{item}[data-status=acknowledged]")
    command.click(f"{item} button[data-action=resolved]")
    command.wait_for_selector(item, state="detached")


def test_marcher_page_requests_nothing_but_the_server(field, fieldops_server):
    context = field.context()
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.goto(f"/join/{fieldops_server.invites['marcher']}/")
    page.click("#join")
    page.wait_for_url(f"**/e/{fieldops_server.event}/")
    wait_live(page)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + box["height"] - 12)  # position set by a tap
    page.wait_for_selector("#nearest li[data-kind=medic] span:has-text('m away')")
    server = urlsplit(fieldops_server.base_url).netloc
    hosts = {urlsplit(url).netloc for url in requested if not url.startswith(("data:", "blob:"))}
    assert hosts == {server}, requested
    # The map drew no tile layer: nothing of the page asked for a tile.
    assert not [url for url in requested if re.search(r"/\d+/\d+/\d+\.png", url)]


@pytest.mark.parametrize("role", ["command", "marshal", "legal", "marcher"])
def test_each_page_renders_live_at_phone_width(field, organizer_state, role):
    if role == "command":
        _, page = field.open_as(organizer_state)
    else:
        _, page = field.join(
            role,
            "" if role == "marcher" else f"{role.title()}-1",
            permissions=["geolocation"],
            geolocation={"latitude": 40.4172, "longitude": -3.7040},
        )
    page.wait_for_timeout(500)  # let the map settle before the picture
    # Nothing wider than the phone: no sideways scrolling at 360 px.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{role}.png"))
    assert (SHOTS / f"{role}.png").stat().st_size > 5000


def test_pages_follow_the_browser_language_and_can_switch_it(field):
    _, page = field.join("marcher", locale="es-ES")
    assert page.inner_text("#fo-state").startswith("En directo")
    assert page.locator("h2", has_text="Ayuda más cercana").count() == 1
    page.click(".fo-lang button[value=en]")
    page.wait_for_selector("h2:has-text('Nearest help')")
    wait_live(page)
    assert page.inner_text("#fo-state").startswith("Live")


def test_organizer_creates_an_invite_with_a_qr_code_and_revokes_a_marshal(field, organizer_state):
    _, marshal = field.join("marshal", "Plover")
    _, command = field.open_as(organizer_state)
    command.click("#people-panel summary")
    command.select_option("#invite-role", "marshal")
    command.click("#invite-create")
    url = command.inner_text("#invite-url")
    assert re.match(r"^http://127\.0\.0\.1:\d+/join/[\w-]{8,}/$", url)
    assert command.locator(".fo-qr svg").count() == 1
    command.go_back()
    wait_live(command)
    command.click("#people-panel summary")
    command.click("#people-load")
    command.once("dialog", lambda dialog: dialog.accept())
    command.click("#people li:has-text('Plover') button:has-text('Revoke')")
    # The marshal's socket is closed at once and the page says why.
    marshal.wait_for_selector("#fo-state[data-state=stopped]:has-text('revoked')")
    command.wait_for_selector("#feed li[data-kind='participant.revoked']:has-text('Plover')")


def test_arrest_logged_by_a_legal_observer_is_counted_on_the_command_page(field, organizer_state):
    _, command = field.open_as(organizer_state)
    _, legal = field.join("legal", "Owl", permissions=["geolocation"], geolocation=MADRID)
    legal.wait_for_selector("#position:has-text('GPS')")
    legal.fill("#people_count", "3")
    legal.click("#arrest-send")
    legal.wait_for_selector("#arrests li:has-text('3 people')")
    command.wait_for_selector("#feed li[data-kind='arrest.logged']:has-text('3 people')")
    assert command.inner_text("#count-arrests") == "Arrests: 1 (3 people)"


def test_marshal_confirms_the_route_and_the_command_page_sees_it(field, organizer_state):
    _, command = field.open_as(organizer_state)
    _, marshal = field.join("marshal", "Wren")
    button = marshal.locator("#alerts button:has-text('Understood')").first
    route = int(button.get_attribute("data-route"))
    button.click()
    marshal.wait_for_selector(f"#route-ack-{route}", state="detached")
    command.wait_for_selector("#feed li[data-kind='route.acked']:has-text('Wren')")


def test_a_replayed_entry_older_than_a_live_one_is_shown_not_dropped(field):
    # A `resume` frame's replay may bring entries older than live ones already shown
    # (docs/protocol.md): the page keeps each seq once, whatever the order, and resumes after both.
    _, page = field.join("marcher")
    result = page.evaluate(
        """() => {
          const shown = [];
          const c = new window.Fieldops.Client(
            {event: "probe", participant: 0, seq: 10, backlog: 5, socket: "/none/", strings: {}},
            {entry: (f) => shown.push(f.seq)});
          // As connect() leaves it, asking for ?since=20 of a journal that went back to 10:
          // the page must resume by frame, and live entries may come before replayed ones.
          c.urlSince = 20; c.replaying = true; c.resumeId = null;
          c.receive({type: "hello", data: {seq: 10}});
          const entry = (seq) => c.receive({type: "x", seq: seq, at: "", data: {}});
          entry(11); entry(9); entry(10); entry(11);
          c.receive({type: "replay.done", id: c.resumeId, seq: 11, count: 2});
          entry(11); entry(12);
          return {shown: shown, last: c.lastSeq};
        }"""
    )
    assert result == {"shown": [11, 9, 10, 12], "last": 12}
