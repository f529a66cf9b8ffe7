"""Drawing and editing a route on the command page as an organizer does on a phone: real Chromium
at 360x740 with touch, driven by taps and touch drags, never by the mouse."""

import json

import pytest

from tests.browser import *  # noqa: F403
from tests.browser import wait_live

pytestmark = pytest.mark.browser

TOUCH = {"has_touch": True, "is_mobile": True}
# Where on the map the tests tap, as fractions of its box: clear of the zoom buttons at the top left
# and of the editor's buttons along the bottom.
TAPS = [(0.2, 0.3), (0.4, 0.55), (0.55, 0.3), (0.7, 0.58), (0.85, 0.35)]
EDITOR_CONTROLS = [
    "#route-start",
    "#route-edit",
    "#route-undo",
    "#route-remove",
    "#route-cancel",
    "#route-finish",
    "#route-publish",
]


def open_command(field, organizer_state):
    """The command page on a touch phone; returns it and the frames its sockets send."""
    ctx = field.context(storage_state=organizer_state, **TOUCH)
    page = ctx.new_page()
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto(f"/e/{field.server.event}/")
    wait_live(page)
    page.locator("#route-panel summary").tap()
    return page, sent


def publishes(sent) -> list:
    frames = [json.loads(f) for f in sent if isinstance(f, str) and f.startswith("{")]
    return [f for f in frames if f.get("type") == "route.publish"]


def map_point(page, fx, fy):
    box = page.locator("#map").bounding_box()
    # Whole pixels: a touch lands on one.
    return round(box["x"] + box["width"] * fx), round(box["y"] + box["height"] * fy)


def latlng_at(page, x, y):
    """The [lng, lat] a tap at viewport (x, y) lands on."""
    return page.evaluate(
        """([x, y]) => { const m = window.FO.map.map, r = m.getContainer().getBoundingClientRect();
                         const ll = m.containerPointToLatLng([x - r.left, y - r.top]);
                         return [ll.lng, ll.lat]; }""",
        [x, y],
    )


def tap_map(page, fx, fy, expect_points):
    x, y = map_point(page, fx, fy)
    where = latlng_at(page, x, y)
    page.touchscreen.tap(x, y)
    wait_points(page, expect_points)
    return where


def wait_points(page, n):
    page.wait_for_function(
        "(n) => window.FO.drawn.points().length === n"
        " && document.querySelectorAll('#map .fo-vertex').length === n",
        arg=n,
    )


def draft(page) -> list:
    """The draft line as drawn on the map, [lng, lat] in order."""
    return page.evaluate(
        """() => { const l = window.FO.drawn.layer.getLayers().find((x) => x instanceof L.Polyline);
                   return l ? l.getLatLngs().map((ll) => [ll.lng, ll.lat]) : null; }"""
    )


def live_route(page, key):
    """A published route as the map draws it and as the server sent it."""
    return page.evaluate(
        """(key) => { const r = window.FO.map.routes[key];
                      return r && {drawn: r.getLatLngs().map((ll) => [ll.lng, ll.lat]),
                                   sent: r.fieldops.geometry.coordinates,
                                   version: r.fieldops.version}; }""",
        key,
    )


def touch_drag(page, start, end, steps=10):
    """A finger pressed at `start`, moved to `end` and lifted: raw touch events, as a phone sends."""
    cdp = page.context.new_cdp_session(page)
    try:
        (x0, y0), (x1, y1) = start, end
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]}
        )
        for i in range(1, steps + 1):
            point = {"x": x0 + (x1 - x0) * i / steps, "y": y0 + (y1 - y0) * i / steps}
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


ON_ROUTE, ON_PLACE = "route", "place"


def spot(page, what):
    """A viewport point in the part of the map the tests tap, away from the editor's handles: on
    the published route of the whole event, on a place's marker, or on neither."""
    return page.evaluate(
        """(what) => {
          const m = window.FO.map.map, r = m.getContainer().getBoundingClientRect();
          let candidates = Object.values(window.FO.map.places).filter((p) => p.getLatLng && m.hasLayer(p))
            .map((p) => p.getLatLng());
          if (what === "empty") {
            candidates = [];
            for (let fy = 0.3; fy < 0.6; fy += 0.05)
              for (let fx = 0.2; fx < 0.7; fx += 0.05)
                candidates.push(m.containerPointToLatLng([r.width * fx, r.height * fy]));
          }
          if (what === "route") {
            candidates = window.FO.map.routes.event.getLatLngs().flatMap((ll, i, all) => i
              ? [0.25, 0.5, 0.75].map((t) => L.latLng(all[i - 1].lat + (ll.lat - all[i - 1].lat) * t,
                                                      all[i - 1].lng + (ll.lng - all[i - 1].lng) * t))
              : []);
          }
          for (const ll of candidates) {
            // A place is brought to the middle of the map, where the tests tap.
            if (what === "place") m.panTo(ll, {animate: false});
            const handles = [...document.querySelectorAll("#map .fo-vertex")]
              .map((h) => h.getBoundingClientRect());
            const p = m.latLngToContainerPoint(ll);
            const x = Math.round(p.x + r.left), y = Math.round(p.y + r.top);
            const inside = p.x > r.width * 0.15 && p.x < r.width * 0.85
              && p.y > r.height * 0.25 && p.y < r.height * 0.6;
            // Room for a second tap 60 px to the right of the first.
            const clear = handles.every((h) => Math.abs(h.x + h.width / 2 - x - 30) > 90
              || Math.abs(h.y + h.height / 2 - y) > 50);
            if (inside && clear) return [x, y];
          }
          throw new Error("nothing to tap in view");
        }""",
        what,
    )


def center(box):
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def close(a, b):
    return [[pytest.approx(x, abs=1e-5), pytest.approx(y, abs=1e-5)] for x, y in a] == b


def test_route_drawn_on_the_command_page_is_redrawn_on_an_open_marcher_page(field, organizer_state):
    _, marcher = field.join("marcher", **TOUCH)
    command, _ = open_command(field, organizer_state)
    command.locator("#route-start").tap()
    assert command.inner_text("#route-status") == "Tap the map to add the first point."
    tapped = []
    for i, (fx, fy) in enumerate(TAPS):
        tapped.append(tap_map(command, fx, fy, i + 1))
        # The line grows under the finger, one point per tap, and the editor says so.
        assert close(draft(command), tapped)
    assert command.inner_text("#route-status") == "Tap the map to add a point: 5 points"
    command.locator("#route-undo").tap()
    wait_points(command, 4)
    tapped.pop()
    tapped.append(tap_map(command, 0.8, 0.5, 5))
    command.locator("#route-finish").tap()
    command.wait_for_selector("#map .fo-vertex", state="detached")
    assert command.inner_text("#route-summary") == "Not published yet: 5 points."
    command.fill("#route-note", "Detour by the park")
    command.locator("#route-publish").tap()
    marcher.wait_for_function(
        """() => { const r = window.FO.map.routes.event;
                   return r && r.fieldops.note === 'Detour by the park'; }"""
    )
    shown = marcher.evaluate("() => window.FO.map.routes.event.fieldops.geometry.coordinates")
    assert close(tapped, shown)
    command.wait_for_function("() => window.FO.map.routes.event.fieldops.note !== 'Planned route'")
    assert close(tapped, live_route(command, "event")["drawn"])
    assert draft(command) is None
    # An alert to everyone reaches the marcher too.
    command.locator("#alert-panel summary").tap()
    command.fill("#alert-text", "Keep left at the fountain")
    command.select_option("#alert-audience", "public")
    command.locator("#alert-send").tap()
    marcher.wait_for_selector("#alerts .fo-alert:has-text('Keep left at the fountain')")


def test_cancelling_an_edit_restores_exactly_the_published_route_and_sends_nothing(
    field, organizer_state
):
    command, sent = open_command(field, organizer_state)
    # A route for one group first, drawn and published like any other.
    command.select_option("#route-group", label="North block")
    group = command.eval_on_selector("#route-group", "(s) => s.value")
    command.locator("#route-start").tap()
    for i, (fx, fy) in enumerate(TAPS[:3]):
        tap_map(command, fx, fy, i + 1)
    command.locator("#route-publish").tap()
    command.wait_for_function("(g) => !!window.FO.map.routes[g]", arg=group)
    published = live_route(command, group)
    event_route = live_route(command, "event")
    paths = command.locator("#map .leaflet-overlay-pane path").count()
    sent_before = len(publishes(sent))

    # Editing starts from a copy of the chosen scope's route: the whole event's...
    command.select_option("#route-group", "")
    command.locator("#route-edit").tap()
    wait_points(command, len(event_route["sent"]))
    command.locator("#route-cancel").tap()
    # ...or the group's.
    command.select_option("#route-group", group)
    command.locator("#route-edit").tap()
    wait_points(command, 3)
    assert close(draft(command), published["sent"])

    # Move the second point with a finger.
    handle = center(command.locator("#map .fo-vertex").nth(1).bounding_box())
    touch_drag(command, handle, (handle[0] + 40, handle[1] + 30))
    command.wait_for_function(
        "(p) => { const q = window.FO.drawn.points()[1]; return q[0] !== p[1] || q[1] !== p[0]; }",
        arg=published["sent"][1],
    )
    assert live_route(command, group) == published
    # Add a point, then choose the first point and remove it.
    tap_map(command, 0.85, 0.35, 4)
    command.locator("#map .fo-vertex").nth(0).tap()
    command.wait_for_selector("#map .fo-vertex-selected:has-text('1')")
    command.locator("#route-remove").tap()
    wait_points(command, 3)
    assert live_route(command, group) == published

    command.locator("#route-cancel").tap()
    command.wait_for_selector("#map .fo-vertex", state="detached")
    assert command.locator("#route-tools").is_hidden()
    assert live_route(command, group) == published
    assert live_route(command, "event") == event_route
    assert command.evaluate("() => window.FO.drawn.layer.getLayers().length") == 0
    assert command.locator("#map .leaflet-overlay-pane path").count() == paths
    command.wait_for_timeout(500)  # let anything wrongly sent leave before counting
    assert len(publishes(sent)) == sent_before


def test_editor_targets_fit_a_finger_and_a_tap_on_the_map_only_adds_a_point(field, organizer_state):
    command, _ = open_command(field, organizer_state)
    command.locator("#route-start").tap()
    tap_map(command, *TAPS[0], 1)
    tap_map(command, *TAPS[1], 2)
    assert command.inner_text("#route-status") == "Tap the map to add a point: 2 points"
    for selector in [*EDITOR_CONTROLS, "#map .fo-vertex >> nth=0", "#map .fo-vertex >> nth=1"]:
        box = command.locator(selector).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, selector
    zoom = command.evaluate("() => window.FO.map.map.getZoom()")
    tooltips = command.locator(".leaflet-tooltip").all_inner_texts()

    # A tap on the published route adds a point there and opens nothing; a tap on a place too.
    command.touchscreen.tap(*spot(command, ON_ROUTE))
    wait_points(command, 3)
    command.touchscreen.tap(*spot(command, ON_PLACE))
    wait_points(command, 4)
    # Two quick taps are two points, not a zoom.
    x, y = spot(command, "empty")
    command.touchscreen.tap(x, y)
    # Far enough from the first point's handle that the browser does not snap the tap onto it.
    command.touchscreen.tap(x + 60, y)
    wait_points(command, 6)
    # Nothing opened: a tooltip the pointer had opened before may close (browsers differ), no
    # new one appears.
    assert set(command.locator(".leaflet-tooltip").all_inner_texts()) <= set(tooltips)
    assert command.evaluate("() => window.FO.map.map.getZoom()") == zoom
    command.locator("#route-cancel").tap()
    command.wait_for_selector("#map .fo-vertex", state="detached")


def test_a_route_with_fewer_than_two_points_or_bad_coordinates_is_refused_by_name(
    field, organizer_state
):
    command, sent = open_command(field, organizer_state)
    command.locator("#route-publish").tap()
    expected = "A route needs at least 2 points: draw a new route or edit the current one first."
    command.wait_for_selector(f"#route-summary:has-text('{expected}')")

    command.locator("#route-start").tap()
    tap_map(command, *TAPS[0], 1)
    command.locator("#route-finish").tap()
    command.locator("#route-publish").tap()
    expected = "A route needs at least 2 points: add 1 more point on the map."
    command.wait_for_selector(f"#route-summary:has-text('{expected}')")
    command.wait_for_selector(f"#fo-toasts :text('{expected}')")
    # Back on the map, where the missing point is added.
    assert command.inner_text("#route-status") == expected
    assert command.locator("#route-tools").is_visible()

    command.evaluate("() => window.FO.drawn.edit([[40.42, -3.69], [95, 200]])")
    command.locator("#route-publish").tap()
    expected = "Point 2 is not a valid place on the map: move it or remove it."
    command.wait_for_selector(f"#route-summary:has-text('{expected}')")
    command.evaluate("() => window.FO.drawn.edit([['x', -3.69], [40.43, -3.7]])")
    command.locator("#route-publish").tap()
    expected = "Point 1 is not a valid place on the map: move it or remove it."
    command.wait_for_selector(f"#route-summary:has-text('{expected}')")
    command.wait_for_timeout(500)  # let anything wrongly sent leave before counting
    assert publishes(sent) == []
    command.locator("#route-cancel").tap()
