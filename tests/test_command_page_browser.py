"""The command page as an organizer uses it on a phone (360x740, touch) and on a laptop: standing
triage panels, one row per person, state rebuilt after a reload, and a map that stays readable with
50 people and 20 places.

The server is this module's own, seeded through the services before it starts with a crowd: 50
marshals along the demo route, a medic, someone overdue, off route, inside the danger zone, an open
and a resolved SOS, an incident, a revoked marshal, and 20 places.
"""

import json
import urllib.request
from datetime import timedelta

import pytest

from tests.browser import (
    chromium,  # noqa: F401 - the session's browser
    field_fixture,
    join_with,
    serving_planted,
    wait_live,
)

pytestmark = pytest.mark.browser

TOUCH = {"has_touch": True, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
CROWD = 50
EXTRA_PLACES = [  # with the demo's nine, twenty places, some of them close together
    ("water", "Fuente de Neptuno", [-3.6940, 40.4152]),
    ("info", "Info Cibeles", [-3.6920, 40.4198]),
    ("toilets", "Toilets Recoletos", [-3.6918, 40.4228]),
    ("exit", "Calle del Prado", [-3.6950, 40.4140]),
    ("medic", "Ambulance Colón", [-3.6900, 40.4250]),
    ("legal", "Legal desk Prado", [-3.6925, 40.4125]),
    ("water", "Fuente de Apolo", [-3.6936, 40.4170]),
    ("assembly", "Plaza de la Lealtad", [-3.6928, 40.4160]),
    ("info", "Info Atocha", [-3.6918, 40.4082]),
    ("exit", "Calle de Huertas", [-3.6945, 40.4130]),
    ("toilets", "Toilets Atocha", [-3.6912, 40.4090]),
]


def seed(slug: str) -> dict:
    """The crowd, through the services; runs in the server's environment before it starts."""
    from django.utils import timezone

    from fieldops.demo import ROUTE
    from fieldops.models import Event, Incident, MarchGroup, Place
    from fieldops.services.checkins import checkin_create
    from fieldops.services.incidents import incident_report, incident_update, sos_raise
    from fieldops.services.safety.acks import route_ack
    from fieldops.services.safety.overdue import overdue_raise, silent_since
    from marshals.services import invite_create, invite_redeem, participant_revoke

    event = Event.objects.get(slug=slug)
    north, south = MarchGroup.objects.filter(event=event).order_by("pk")
    for kind, name, point in EXTRA_PLACES:
        Place.objects.create(
            event=event, kind=kind, name=name, geometry={"type": "Point", "coordinates": point}
        )

    def join(role: str, callsign: str, group=None, token: bool = False):
        code = invite_create(event=event, role=role, group=group and group.pk, max_uses=1).code
        return invite_redeem(code=code, callsign=callsign, with_token=token)

    boss = join("organizer", "Boss").participant
    marshals = []
    for n in range(CROWD):
        # Along the route, a few metres apart: a crowd a phone cannot label one by one.
        a, b = ROUTE[n % (len(ROUTE) - 1)], ROUTE[n % (len(ROUTE) - 1) + 1]
        f = (n // (len(ROUTE) - 1)) / (CROWD / (len(ROUTE) - 1))
        lng, lat = a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f
        m = join("marshal", f"M{n + 1:02d}", north if n % 2 else south).participant
        checkin_create(participant=m, lat=lat, lng=lng, status="need_help" if n == 2 else "ok")
        marshals.append(m)
    route = event.routes.latest("version")
    for m in marshals[:45]:
        route_ack(participant=m, route=route.pk)
    medic = join("medic", "Medic1").participant
    checkin_create(participant=medic, lat=40.4200, lng=-3.6917)
    strayer = join("marshal", "Strayer", north).participant
    checkin_create(participant=strayer, lat=40.4300, lng=-3.7200)
    zoned = join("marshal", "Zoned", south).participant
    checkin_create(participant=zoned, lat=40.4098, lng=-3.6925)
    quiet = join("marshal", "Quiet", north, token=True)
    checkin_create(participant=quiet.participant, lat=40.4150, lng=-3.6941)
    overdue_raise(
        participant=quiet.participant,
        since=silent_since(participant=quiet.participant, event=event),
        now=timezone.now() + timedelta(hours=1),
    )
    gone = join("marshal", "Gone", north).participant
    checkin_create(participant=gone, lat=40.4190, lng=-3.6932)
    participant_revoke(participant=boss, target=gone.pk)
    hurt = join("marshal", "Hurt", south).participant
    checkin_create(participant=hurt, lat=40.4128, lng=-3.6930)
    sos_raise(participant=hurt, lat=40.4128, lng=-3.6930, note="twisted ankle")
    resolved = Incident.objects.get(reporter=hurt, kind="sos")
    incident_update(participant=boss, incident=resolved.pk, status="resolved")
    helper = join("marshal", "Help", north, token=True)
    sos_raise(participant=helper.participant, lat=40.4215, lng=-3.6924, note="pushed over")
    kite = join("marshal", "Kite", south).participant
    incident_report(
        participant=kite, lat=40.4150, lng=-3.6938, kind="crowd", severity="high",
        description="Crush risk at the fountain",
    )  # fmt: skip
    return {
        "organizer": invite_create(event=event, role="organizer", max_uses=20).code,
        "quiet_token": quiet.token,
        "help_token": helper.token,
        "marshals": CROWD + 6,  # the crowd, Strayer, Zoned, Quiet, Hurt, Help, Kite; not Gone
        "unconfirmed": CROWD - 45 + 6,
    }


@pytest.fixture(scope="module")
def crowd_server():
    with serving_planted("tests.test_command_page_browser.seed") as served:
        yield served


field = field_fixture("crowd_server")


def command_page(field, crowd_server, **options):
    server, seeded = crowd_server
    ctx = field.context(**options)
    page = ctx.new_page()
    join_with(page, server, seeded["organizer"], "Control")
    return page


def post(server, token: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{server.base_url}/api/events/{server.event}/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())


def chip_count(page, panel: str) -> int:
    return int(page.get_attribute(f"#triage [data-panel={panel}]", "data-count"))


def visible_boxes(page, selector: str) -> list[dict]:
    """Bounding boxes of the elements inside the map's visible area."""
    return page.evaluate(
        """(sel) => { const map = document.getElementById("map").getBoundingClientRect();
          return [...document.querySelectorAll(sel)].map((e) => e.getBoundingClientRect())
            .filter((r) => r.width && r.right > map.left && r.left < map.right
                           && r.bottom > map.top && r.top < map.bottom)
            .map((r) => ({x: r.left, y: r.top, w: r.width, h: r.height})); }""",
        selector,
    )


def overlapping(boxes: list[dict]) -> list[tuple]:
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]:
                if a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]:
                    pairs.append((a, b))
    return pairs


def test_after_a_reload_the_state_is_rebuilt_without_the_revoked_or_old_alarms(field, crowd_server):
    page = command_page(field, crowd_server, **TOUCH)
    page.wait_for_selector("#feed li")
    assert page.locator(".fo-toast-danger").count() == 0  # a fresh join: history is not news
    page.reload()
    wait_live(page)
    page.wait_for_selector("#feed li")

    # The feed is rebuilt from the journal, and open incidents keep their reporter.
    assert page.locator("#feed li").count() > 10
    assert "Kite" in page.inner_text("#incidents li:has-text('Crush risk at the fountain')")
    # The revoked marshal is not on the map, not listed and not counted.
    callsigns = page.evaluate(
        "() => Object.values(window.FO.map.positions).map((m) => m.fieldops.callsign)"
    )
    assert "Gone" not in callsigns and "M01" in callsigns
    assert page.locator("#people-rows li", has_text="Gone").count() == 0
    assert page.inner_text("#count-marshals") == f"Marshals: {crowd_server[1]['marshals']}"
    assert page.inner_text("#count-medics") == "Medics: 1"
    # The open SOS is standing; neither it nor the resolved one raised a toast from history.
    assert chip_count(page, "sos") == 1
    assert page.evaluate("() => Object.values(window.FO.map.incidents).length") == 2
    assert page.locator(".fo-toast-danger").count() == 0


def test_triage_panels_come_from_the_server_and_follow_the_journal(field, crowd_server):
    server, seeded = crowd_server
    page = command_page(field, crowd_server, **TOUCH)

    assert chip_count(page, "overdue") == 1
    assert chip_count(page, "off_route") >= 1
    assert chip_count(page, "in_zone") >= 1  # Zoned, and whoever of the crowd is at the works
    assert chip_count(page, "incidents") == 1
    assert chip_count(page, "routes") == seeded["unconfirmed"]
    page.locator("#triage [data-panel=in_zone]").tap()
    assert "Zoned" in page.inner_text("#triage-list")
    page.locator("#triage [data-panel=off_route]").tap()
    assert "Strayer" in page.inner_text("#triage-list")

    # A check-in clears the overdue flag; a new SOS position moves its marker; a live SOS toasts.
    post(server, seeded["quiet_token"], "checkins", {"lat": 40.4150, "lng": -3.6941})
    page.wait_for_function(
        "() => document.querySelector('[data-panel=overdue]').dataset.count === '0'"
    )
    sos = page.evaluate(
        "() => Object.values(window.FO.map.incidents).find((l) => l.fieldops.kind === 'sos')"
        ".fieldops.incident"
    )
    post(server, seeded["help_token"], "sos", {"lat": 40.4180, "lng": -3.6935, "note": "moving"})
    page.wait_for_function(
        "(id) => window.FO.map.incidents[String(id)].getLatLng().lat === 40.418", arg=sos
    )
    assert page.locator(".fo-toast-danger").count() == 0  # an update, not a new SOS
    post(server, seeded["quiet_token"], "sos", {"lat": 40.4150, "lng": -3.6941, "note": "dizzy"})
    page.locator(".fo-toast-danger", has_text="Quiet").wait_for()
    page.wait_for_function("() => document.querySelector('[data-panel=sos]').dataset.count === '2'")


def test_tapping_a_panel_item_centres_the_map_on_it_and_opens_its_tooltip(field, crowd_server):
    page = command_page(field, crowd_server, **TOUCH)
    page.locator("#triage [data-panel=sos]").tap()
    page.locator("#triage-list li", has_text="Help").tap()
    tooltip = page.locator(".leaflet-tooltip", has_text="Help")
    tooltip.wait_for()
    # Every value in it is a label, not a raw enum value.
    assert tooltip.inner_text().startswith("SOS · Reported · Help")

    page.fill("#people-search", "M07")
    rows = page.locator("#people-rows li")
    assert rows.count() == 1
    rows.first.tap()
    page.locator(".leaflet-tooltip", has_text="M07").wait_for()
    centre = page.evaluate(
        """() => { const m = window.FO.map, c = m.map.getCenter();
          const p = Object.values(m.positions).find((x) => x.fieldops.callsign === "M07");
          return m.map.latLngToContainerPoint(c).distanceTo(
            m.map.latLngToContainerPoint(p.getLatLng())); }"""
    )
    assert centre < 5


def test_check_ins_are_one_row_per_person_not_a_flood_in_the_feed(field, crowd_server):
    page = command_page(field, crowd_server, **TOUCH)
    page.wait_for_selector("#feed li")

    rows = page.locator("#people-rows li")
    assert rows.count() == crowd_server[1]["marshals"] + 1  # and the medic
    m03 = page.inner_text("#people-rows li:has-text('M03')")
    assert "Need help" in m03 and "ago" in m03 or "just now" in m03
    # Only the check-in that asked for help is in the feed; the all-is-well ones are not.
    assert page.locator("#feed li[data-kind=checkin]").count() <= 1
    assert page.locator("#feed li[data-kind=checkin]", has_text="M01").count() == 0


def test_fifty_people_and_twenty_places_stay_readable_on_a_phone(field, crowd_server):
    page = command_page(field, crowd_server, **TOUCH)
    page.wait_for_function("() => !window.FO.map.map._animatingZoom")

    places = page.evaluate("() => Object.keys(window.FO.map.places).length")
    assert places == 20
    markers = visible_boxes(page, ".leaflet-marker-icon")
    assert 0 < len(markers) <= 30, len(markers)
    # People close together are one numbered bubble; no two labels cover each other.
    clusters = page.evaluate(
        "() => [...document.querySelectorAll('.fo-cluster')].map((e) => +e.textContent)"
    )
    labels = visible_boxes(page, ".fo-pos")
    assert clusters and sum(clusters) + len(labels) >= CROWD
    assert overlapping(labels) == []
    assert overlapping(visible_boxes(page, ".fo-place > span")) == []
    # Clustering can be switched off, e.g. to read every marker's own tooltip, and on again.
    shown = page.evaluate(
        """() => { window.FO.map.declutter(false);
                   const n = document.querySelectorAll('.fo-pos').length;
                   window.FO.map.declutter(true); return n; }"""
    )
    assert shown == page.evaluate("() => Object.keys(window.FO.map.positions).length")
    assert page.locator(".fo-cluster").count() == len(clusters)


def test_every_control_on_the_command_page_is_a_44px_target(field, crowd_server):
    for options in (TOUCH, DESKTOP):
        page = command_page(field, crowd_server, **options)
        page.locator("#triage [data-panel=incidents]").click()
        page.evaluate("() => document.querySelectorAll('details').forEach((d) => d.open = true)")
        small = page.evaluate(
            """() => [...document.querySelectorAll(
                 '.fo-panel button, .fo-panel input, .fo-panel select, .fo-panel summary,'
                 + ' .fo-panel li.fo-tap, .leaflet-control a')]
               .filter((e) => e.getClientRects().length && !e.closest('[hidden]'))
               .map((e) => [e.id || e.className || e.tagName, e.getBoundingClientRect()])
               .filter(([, r]) => r.width < 44 || r.height < 44)
               .map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`)"""
        )
        assert small == [], options
        assert page.locator("#incidents li button").count() >= 2
