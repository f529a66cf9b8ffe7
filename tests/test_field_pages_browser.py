"""The marshal, medic, legal observer and marcher pages on a phone: Chromium at 360x740 with touch,
against a real daphne. The primary actions stay under the thumb, SOS needs a hold and can be
cancelled by its sender, state comes back after a reload, route acknowledgements ask only for the
active version, and the legal observer's arrest is logged at the time and place it happened.

The module has its own server: it raises SOS and publishes routes that other modules must not see.
"""

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser import (
    chromium,  # noqa: F401 - the session's browser
    own_server_fixtures,
    wait_live,
)

pytestmark = pytest.mark.browser

MADRID = {"latitude": 40.4169, "longitude": -3.7035}
PHONE_TOUCH = {"has_touch": True, "is_mobile": True}
LIVENESS_S = 15  # generous bound for things that happen live, not a timing assertion


own_server, field, organizer_state = own_server_fixtures()


def join_phone(field, role, callsign, where=MADRID):
    """A phone with touch and a GPS fix, joined as `role` and live."""
    ctx, page = field.join(
        role, callsign, permissions=["geolocation"], geolocation=where, **PHONE_TOUCH
    )
    page.wait_for_selector("#position:has-text('GPS')")
    return ctx, page


def reload(page):
    page.reload()
    wait_live(page)


def eventually(probe, what: str):
    """Poll `probe` until it returns something true; its value."""
    deadline = time.monotonic() + LIVENESS_S
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what}")


def safety_board(page, slug):
    reply = page.request.get(f"/api/events/{slug}/safety")
    assert reply.ok, reply.text()
    return reply.json()


def hold(page, selector, until):
    """A finger held on `selector` (real touch events) until `until` shows, then lifted."""
    box = page.locator(selector).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    try:
        page.wait_for_selector(until)
    finally:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        cdp.detach()


def in_viewport(page, selector) -> bool:
    return page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                      return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight
                             && r.right <= innerWidth && r.height >= 44 && r.width >= 44; }""",
        selector,
    )


def on_top(page, selector) -> bool:
    """Nothing (a toast, the map) covers the middle of the control."""
    return page.evaluate(
        """(sel) => { const b = document.querySelector(sel), r = b.getBoundingClientRect();
                      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                      return b === hit || b.contains(hit); }""",
        selector,
    )


# --- 1. one hand ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "actions"),
    [("marshal", ["#checkin", "#sos"]), ("medic", ["#checkin", "#sos"]),
     ("legal", ["#arrest-send", "#sos"])],
)  # fmt: skip
def test_the_primary_actions_are_in_reach_at_the_top_and_bottom_and_not_under_a_toast(
    field, role, actions
):
    _, page = join_phone(field, role, f"Thumb-{role}")
    for selector in actions:
        assert in_viewport(page, selector), (selector, "at scroll 0")
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert page.evaluate("() => window.scrollY") > 0, "the page is taller than the screen"
    for selector in actions:
        assert in_viewport(page, selector), (selector, "scrolled to the bottom")
    page.evaluate("() => window.Fieldops.toast('A long message that needs two lines', 'danger')")
    page.locator(".fo-toast-danger").first.wait_for()
    for selector in actions:
        assert on_top(page, selector), (selector, "covered")


# --- 2. SOS --------------------------------------------------------------------------------------


def test_sos_is_sent_by_a_hold_follows_the_sender_and_the_sender_cancels_it(
    field, organizer_state, own_server
):
    slug = own_server.event
    _, command = field.open_as(organizer_state)
    ctx, marshal = join_phone(field, "marshal", "Lark")

    marshal.locator("#sos").tap()
    marshal.locator(".fo-toast", has_text="Hold the SOS button").wait_for()
    assert marshal.evaluate("() => window.FO.client.pending()") == 0
    assert safety_board(command, slug)["sos"] == []

    hold(marshal, "#sos", until="#sos[data-state=active]")
    marshal.locator("#sos-state", has_text="Your SOS is active").wait_for()
    [sos] = eventually(lambda: safety_board(command, slug)["sos"], "the SOS reaches the server")
    assert sos["reporter"] == "Lark"
    assert sos["lat"] == pytest.approx(MADRID["latitude"])
    command.wait_for_function("(id) => !!window.FO.map.incidents[String(id)]", arg=sos["incident"])

    # The sender moves about 220 m north: the same SOS follows.
    ctx.set_geolocation({"latitude": MADRID["latitude"] + 0.002, "longitude": MADRID["longitude"]})
    moved = eventually(
        lambda: [s for s in safety_board(command, slug)["sos"] if s["lat"] > MADRID["latitude"]],
        "the SOS follows the sender",
    )
    assert [s["incident"] for s in moved] == [sos["incident"]]

    reload(marshal)
    marshal.wait_for_selector("#sos[data-state=active]")
    assert marshal.locator("#sos-state").is_visible()

    marshal.locator("#sos").tap()
    marshal.locator("#sos-cancel-yes").tap()
    marshal.wait_for_selector("#sos[data-state=idle]")
    command.wait_for_function("(id) => !window.FO.map.incidents[String(id)]", arg=sos["incident"])
    assert safety_board(command, slug)["sos"] == []
    marshal.locator(".fo-toast", has_text="Your SOS has ended").wait_for()
    reload(marshal)
    assert marshal.get_attribute("#sos", "data-state") == "idle"


def test_a_medic_who_never_checked_in_gets_an_sos_alert_with_its_distance_also_after_reload(
    field,
):
    _, medic = join_phone(field, "medic", "Patch")
    north = {"latitude": MADRID["latitude"] + 0.001, "longitude": MADRID["longitude"]}
    _, marshal = join_phone(field, "marshal", "Finch", where=north)

    hold(marshal, "#sos", until="#sos[data-state=active]")
    alert = medic.locator(".fo-sos-alert", has_text="Finch")
    alert.wait_for()
    assert "111 m away" in alert.inner_text()  # 0.001° of latitude, measured from the medic
    medic.locator(".fo-toast-danger", has_text="Finch").wait_for()

    reload(medic)
    alert.wait_for()
    assert medic.locator(".fo-sos-alert").count() == 1
    assert medic.locator(".fo-toast-danger").count() == 0  # history raises no new alarm

    marshal.locator("#sos").tap()
    marshal.locator("#sos-cancel-yes").tap()
    alert.wait_for(state="detached")
    reload(medic)
    assert medic.locator(".fo-sos-alert").count() == 0


# --- 4. state after a reload --------------------------------------------------------------------


def test_alerts_and_feeds_come_back_after_a_reload_without_new_toasts(field, organizer_state):
    _, command = field.open_as(organizer_state)
    _, marshal = join_phone(field, "marshal", "Swift")
    _, marcher = field.join("marcher", **PHONE_TOUCH)
    _, legal = join_phone(field, "legal", "Heron")

    command.evaluate(
        """() => window.FO.client.send("alert.send",
                   {text: "Water at the fountain", audience: "public", level: "warning"})"""
    )
    marshal.locator("#checkin").tap()
    marshal.locator("#last-checkin", has_text="Sent").wait_for()
    marshal.evaluate(
        """() => window.FO.client.send("incident.report", {lat: 40.4169, lng: -3.7035,
                   kind: "hazard", severity: "medium", description: "Broken glass"})"""
    )
    for page in (marshal, marcher):
        page.locator("#alerts .fo-alert", has_text="Water at the fountain").wait_for()
    legal.locator("#feed li", has_text="Broken glass").wait_for()
    marshal.locator("#feed li", has_text="Broken glass").wait_for()

    for page in (marshal, marcher, legal):
        reload(page)
    for page in (marshal, marcher):
        page.locator("#alerts .fo-alert", has_text="Water at the fountain").wait_for()
        assert page.locator("#alerts .fo-alert", has_text="Water at the fountain").count() == 1
        assert page.locator("#feed li", has_text="Water at the fountain").count() == 1
    legal.locator("#feed li", has_text="Broken glass").wait_for()
    marshal.locator("#feed li", has_text="Broken glass").wait_for()
    for page in (marshal, marcher, legal):
        assert page.locator(".fo-toast").count() == 0


# --- 5. route acknowledgements ------------------------------------------------------------------


def publish(command, note, shift):
    command.evaluate(
        """([note, shift]) => window.FO.client.send("route.publish", {note: note, geometry: {
             type: "LineString", coordinates: [[-3.70 + shift, 40.42], [-3.69 + shift, 40.41]]}})""",
        [note, shift],
    )


def route_requests(page):
    return page.locator("#alerts [id^=route-ack-]")


def test_route_acknowledgements_ask_for_the_plan_then_only_for_the_newest_change(
    field, organizer_state
):
    _, marshal = join_phone(field, "marshal", "Robin")
    [first] = route_requests(marshal).all()
    assert "The route to follow" in first.inner_text()
    assert "changed" not in first.inner_text()

    _, command = field.open_as(organizer_state)
    publish(command, "Avoid the square", 0.001)
    marshal.locator("#alerts", has_text="The route has changed. v").wait_for()
    route_requests(marshal).filter(has_text="Avoid the square").wait_for()
    assert route_requests(marshal).count() == 1  # the superseded request is gone

    reload(marshal)  # replayed route.published entries bring back no stale request
    route_requests(marshal).filter(has_text="Avoid the square").wait_for()
    assert route_requests(marshal).count() == 1

    route_requests(marshal).locator("button").tap()
    route_requests(marshal).first.wait_for(state="detached")
    reload(marshal)
    assert route_requests(marshal).count() == 0

    # A marshal who joins after a change is told the route they follow changed, once.
    _, late = join_phone(field, "marshal", "Starling")
    assert route_requests(late).count() == 1
    assert "The route has changed" in route_requests(late).inner_text()


# --- 6. legal observer --------------------------------------------------------------------------


def test_an_arrest_is_logged_at_the_time_of_logging_where_the_map_was_tapped_and_read_back(
    field, own_server
):
    opened_at = datetime.now(UTC) - timedelta(minutes=30)
    ctx = field.context(permissions=["geolocation"], geolocation=MADRID, **PHONE_TOUCH)
    page = ctx.new_page()
    page.clock.install(time=opened_at)
    page.goto(f"/join/{own_server.invites['legal']}/")
    page.fill("input[name=callsign]", "Owl")
    page.click("#join")
    page.wait_for_url(f"**/e/{own_server.event}/")
    wait_live(page)
    page.locator("#arrest-place", has_text="your GPS position").wait_for()

    page.clock.fast_forward("25:00")  # the observer kept the page open for 25 minutes
    box = page.locator("#map").bounding_box()
    x, y = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.7
    page.touchscreen.tap(x, y)
    page.locator("#arrest-place", has_text="where you tapped").wait_for()
    tapped = page.evaluate(
        """([x, y]) => { const m = window.FO.map.map, r = m.getContainer().getBoundingClientRect();
                         const ll = m.containerPointToLatLng([x - r.left, y - r.top]);
                         return [ll.lat, ll.lng]; }""",
        [x, y],
    )
    assert page.evaluate("() => window.FO.position.current.lat") == MADRID["latitude"]

    page.locator("details summary", has_text="More details").tap()
    page.fill("#arrestee_description", "Green jacket, about 30")
    page.fill("#people_count", "2")
    page.locator("#arrest-send").tap()
    item = page.locator("#arrests li", has_text="2 people")
    item.wait_for()
    page.locator("#arrest-place", has_text="your GPS position").wait_for()

    arrest = int(item.get_attribute("data-arrest"))
    record = page.request.get(f"/api/events/{own_server.event}/arrests/{arrest}").json()
    # Where the finger was (within a few metres: the map may still settle), not the GPS fix.
    assert record["lat"] == pytest.approx(tapped[0], abs=3e-4)
    assert record["lng"] == pytest.approx(tapped[1], abs=3e-4)
    assert abs(record["lat"] - MADRID["latitude"]) > 3e-3
    logged_at = datetime.fromisoformat(record["occurred_at"])
    assert logged_at - opened_at > timedelta(minutes=24), "the time the page was opened"

    item.locator("button").tap()
    detail = page.locator("#arrest-detail")
    detail.locator("dd", has_text="Green jacket, about 30").wait_for()
    assert "Arrestee description" in detail.inner_text()
    page.locator("#arrest-detail-close").tap()
    detail.wait_for(state="hidden")


# --- 7. touch targets ---------------------------------------------------------------------------

SMALL_CONTROLS = """() => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  const small = [];
  const controls = document.querySelectorAll(
    "button, a[href], input, select, textarea, summary, .leaflet-control a");
  for (const c of controls) {
    // A visually hidden radio or a checkbox is tapped through its label.
    const target = c.matches("input[type=radio], input[type=checkbox]") ? c.closest("label") : c;
    const r = target.getBoundingClientRect();
    if (!r.width && !r.height) continue;  // not shown
    if (r.width < 44 || r.height < 44) {
      small.push((c.id || c.className || c.tagName) + " " + Math.round(r.width) + "x" + Math.round(r.height));
    }
  }
  return small;
}"""


@pytest.mark.parametrize("role", ["marshal", "medic", "legal", "marcher"])
def test_every_control_on_a_field_page_is_at_least_44_px(field, role):
    if role == "marcher":
        _, page = field.join("marcher", **PHONE_TOUCH)
    else:
        _, page = join_phone(field, role, f"Big-{role}")
    assert page.evaluate(SMALL_CONTROLS) == []
