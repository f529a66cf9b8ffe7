"""The field pages in a real browser against a real daphne: live updates, offline, privacy, and
the page chrome on a touch phone (connection bar, toasts, action bar, icon, translated roles).
The pictures in docs/screenshots/ come from `python -m tests.screenshots`, never from a test run.

One module on purpose: the session's server and browser fixtures are defined once per module.
"""

import re
from urllib.parse import urlsplit

import pytest

from tests.browser import *  # noqa: F403
from tests.browser import PHONE, TOUCH, wait_live

pytestmark = pytest.mark.browser

MADRID = {"latitude": 40.4169, "longitude": -3.7035}


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
    # The outbox is kept on the phone (IndexedDB) meanwhile.
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


@pytest.mark.parametrize("role", ["command", "marshal", "medic", "legal", "marcher"])
def test_each_page_renders_live_at_phone_width(field, organizer_state, role, tmp_path):
    if role == "command":
        _, page = field.open_as(organizer_state, **TOUCH)
    else:
        _, page = field.join(
            role,
            "" if role == "marcher" else f"{role.title()}-1",
            permissions=["geolocation"],
            geolocation={"latitude": 40.4172, "longitude": -3.7040},
            **TOUCH,
        )
    page.wait_for_timeout(500)  # let the map settle before the picture
    # Nothing wider than the phone: no sideways scrolling at 360 px.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    shot = tmp_path / f"{role}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 5000


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


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_connection_bar_and_toasts_stay_at_the_top_while_the_page_scrolls(field):
    _, page = field.join("marshal", "Swift", **TOUCH)
    # Scrolled so the map lies under the top of the screen: the bar is still there, and on top of it.
    page.evaluate("() => window.scrollTo(0, document.querySelector('#map').offsetTop + 80)")
    bar = box(page, "#fo-state")
    assert bar["y"] == pytest.approx(0, abs=1)
    on_top = page.evaluate(
        "([x, y]) => !!document.elementFromPoint(x, y).closest('#fo-state')",
        [bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2],
    )
    assert on_top, "the map covers the connection bar"
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert box(page, "#fo-state")["y"] == pytest.approx(0, abs=1)
    # A toast shows just under the bar, in the top half: the bottom is the action bar's.
    page.evaluate("() => window.Fieldops.toast('Refused: probe', 'danger')")
    toast = box(page, ".fo-toast")
    bar = box(page, "#fo-state")
    assert toast["y"] >= bar["y"] + bar["height"] - 1
    assert toast["y"] + toast["height"] <= PHONE["height"] / 2


def test_action_bar_is_fixed_at_the_bottom_and_nothing_hides_under_it(field):
    _, page = field.join("marcher", **TOUCH)
    # The pages put their primary action in a .fo-actionbar; one is added here if a page has none,
    # so this proves the shared layout whatever each page holds.
    page.evaluate(
        """() => {
          if (!document.querySelector('.fo-actionbar')) {
            const bar = document.createElement('div');
            bar.className = 'fo-actionbar';
            ['One', 'Two'].forEach((t) => {
              const b = document.createElement('button'); b.type = 'button'; b.textContent = t;
              bar.appendChild(b);
            });
            document.querySelector('main').appendChild(bar);
          }
          document.body.classList.add('fo-has-actionbar');
          window.scrollTo(0, document.documentElement.scrollHeight);
        }"""
    )
    bar = box(page, ".fo-actionbar")
    assert bar["x"] == pytest.approx(0, abs=1)
    assert bar["width"] == pytest.approx(PHONE["width"], abs=1)
    assert bar["y"] + bar["height"] == pytest.approx(PHONE["height"], abs=1)
    assert 44 <= bar["height"] <= 100
    buttons = page.locator(".fo-actionbar > *")
    tops = {round(buttons.nth(i).bounding_box()["y"]) for i in range(buttons.count())}
    assert len(tops) == 1, "the action bar's controls are not in one row"
    for i in range(buttons.count()):
        assert buttons.nth(i).bounding_box()["height"] >= 44
    # Scrolled to the end, the last of the page's content is above the bar, not under it.
    last = page.evaluate(
        """() => { const items = [...document.querySelectorAll('main *')].filter(
                     (e) => !e.closest('.fo-actionbar') && e.getClientRects().length);
                   const r = items[items.length - 1].getBoundingClientRect();
                   return r.bottom; }"""
    )
    assert last <= bar["y"] + 1
    # Toasts never cover it.
    page.evaluate("() => window.Fieldops.toast('Saved on this phone', 'warning')")
    assert box(page, ".fo-toast")["y"] + box(page, ".fo-toast")["height"] <= bar["y"]


def test_final_notice_is_full_width_at_the_top_while_the_page_scrolls(field):
    _, page = field.join("marcher", **TOUCH)
    # Where the client puts it after a revocation: right under the connection bar.
    page.evaluate(
        """() => { const n = document.createElement('div');
                   n.id = 'fo-final'; n.className = 'fo-final'; n.setAttribute('role', 'alert');
                   n.textContent = 'Your access to this event was revoked.';
                   const bar = document.getElementById('fo-state');
                   bar.parentNode.insertBefore(n, bar.nextSibling);
                   window.scrollTo(0, document.documentElement.scrollHeight); }"""
    )
    bar = box(page, "#fo-state")
    notice = box(page, "#fo-final")
    assert bar["y"] == pytest.approx(0, abs=1)
    assert notice["y"] == pytest.approx(bar["y"] + bar["height"], abs=1)
    assert notice["width"] == pytest.approx(PHONE["width"], abs=1)
    colours = page.evaluate(
        "() => { const s = getComputedStyle(document.getElementById('fo-final'));"
        " return [s.color, s.backgroundColor]; }"
    )
    assert colours == ["rgb(255, 255, 255)", "rgb(0, 0, 0)"]
    # A toast raised afterwards shows under the notice, not over it.
    page.evaluate("() => window.Fieldops.toast('probe', 'warning')")
    assert box(page, ".fo-toast")["y"] >= notice["y"] + notice["height"] - 1


@pytest.mark.parametrize("name", ["command", "marshal", "medic", "legal", "marcher", "join"])
def test_every_page_has_an_icon_and_no_request_fails(field, organizer_state, name):
    failed = []
    context = field.context(
        **TOUCH, **({"storage_state": organizer_state} if name == "command" else {})
    )
    context.on(
        "response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    page = context.new_page()
    if name == "command":
        page.goto(f"/e/{field.server.event}/")
    else:
        page.goto(f"/join/{field.server.invites['marcher' if name == 'join' else name]}/")
        if name != "join":
            if name != "marcher":
                page.fill("input[name=callsign]", f"{name.title()}-icon")
            page.locator("#join").tap()
    if name != "join":
        wait_live(page)
    icons = page.evaluate(
        "() => [...document.querySelectorAll('link[rel~=icon]')].map((l) => l.href)"
    )
    assert icons, "no icon linked"
    # Headless Chromium asks for no icon on its own: fetch what a phone's browser would.
    for url in [*icons, f"{field.server.base_url}/favicon.ico"]:
        reply = page.request.get(url)
        assert reply.status == 200, url
        assert reply.headers["content-type"].startswith("image/"), url
    assert not failed, failed


def test_role_names_are_translated_in_the_header_and_on_the_join_page(field):
    context = field.context(locale="es-ES", **TOUCH)
    page = context.new_page()
    page.goto(f"/join/{field.server.invites['legal']}/")
    assert "Observador/a legal" in page.inner_text("main")
    page.fill("input[name=callsign]", "Lechuza")
    page.locator("#join").tap()
    wait_live(page)
    assert page.inner_text(".fo-top .who") == "Lechuza · Observador/a legal"


def test_api_docs_render_the_operations_without_leaving_the_server(field):
    context = field.context(**TOUCH)
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.goto("/api/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() > 5
    server = urlsplit(field.server.base_url).netloc
    hosts = {urlsplit(url).netloc for url in requested if not url.startswith(("data:", "blob:"))}
    assert hosts == {server}, requested
