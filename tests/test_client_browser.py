"""The page client (client.js and page.js) on a phone: labels and plurals instead of raw values, history told
apart from news, a feed that survives a reload, an outbox that is never in clear on the phone, and
a page that keeps nothing and sends nothing once its participant is revoked.

Real Chromium at 360x740 with touch, against the session's daphne.
"""

import json
import re
import uuid

import pytest

from tests.browser import *  # noqa: F403
from tests.browser import join_with, wait_live

pytestmark = pytest.mark.browser

MADRID = {"latitude": 40.4169, "longitude": -3.7035}
TOUCH = {"has_touch": True, "is_mobile": True}
SOCKET = re.compile(r".*/ws/events/.*")


def touch_join(field, role: str, callsign: str = "", **kwargs):
    return field.join(role, callsign, **TOUCH, **kwargs)


def alert(organizer, text: str, audience: str = "public") -> None:
    organizer.evaluate(
        "([text, audience]) => FO.client.send('alert.send', {text, audience, level: 'info'})",
        [text, audience],
    )


def event_keys(page) -> list[str]:
    """localStorage keys and IndexedDB records this site keeps for the page's event."""
    return page.evaluate(
        """async () => { const prefix = 'fieldops:' + Fieldops.config().event + ':';
          const kept = await Promise.all(['outbox', 'recent'].map((s) => self.FieldopsVault.all(s, prefix)));
          return Object.keys(localStorage).filter((k) => k.startsWith(prefix))
            .concat(kept.flat().map((r) => r.name)); }"""
    )


def test_feed_lines_show_translated_labels_never_raw_values(field):
    _, page = touch_join(field, "marshal", "Alcotán", locale="es-ES")
    lines = page.evaluate(
        """() => {
          const s = Fieldops.config().strings, group = () => 'Bloque norte';
          const entries = [
            {type: 'checkin', data: {callsign: 'Alcotán', status: 'need_help'}},
            {type: 'incident.reported', data: {kind: 'crowd', severity: 'high', reporter: 'Alcotán'}},
            {type: 'incident.updated', data: {incident: 4, kind: 'medical', status: 'resolved', by: 'Control'}},
            {type: 'sos.raised', data: {kind: 'sos', severity: 'critical', reporter: 'Alcotán'}},
            {type: 'sos.nearby', data: {sender: 'Alcotán', distance_m: 120.4, direction: 'NW'}},
            {type: 'arrest.logged', data: {people_count: 1, agency: 'UIP'}},
            {type: 'participant.joined', data: {callsign: 'Alcotán', role: 'marshal'}},
            {type: 'participant.revoked', data: {callsign: 'Alcotán', role: 'medic'}},
            {type: 'marshal.overdue', data: {callsign: 'Alcotán', silent_minutes: 1}},
            {type: 'route.ack_reminder', data: {callsign: 'Alcotán', version: 2}},
            {type: 'marshal.in_zone', data: {callsign: 'Alcotán', name: 'Sol', text: 'You are inside'}},
          ];
          return {
            lines: entries.map((e) => Fieldops.describe(e, s, group)),
            entry: Fieldops.label('entry', 'incident.reported'),
            role: Fieldops.label('role', 'marshal'),
            crowd: Fieldops.label('kind', 'crowd'),
            high: Fieldops.label('severity', 'high'),
            unknown: Fieldops.label('kind', 'not-a-kind'),
          };
        }"""
    )
    text = " | ".join(lines["lines"])
    # Spanish labels from the server's catalogue (whatever their wording), inside the lines.
    assert lines["crowd"] not in ("crowd", "Crowd pressure")
    assert lines["high"] not in ("high", "High")
    assert lines["role"] not in ("marshal", "Marshal")
    assert lines["crowd"] in lines["lines"][1] and lines["high"] in lines["lines"][1]
    assert lines["role"] in lines["lines"][6]
    for raw in ("need_help", "crowd", "high", "resolved", "medical", "marshal", "medic"):
        assert not re.search(rf"\b{raw}\b", text), (raw, text)
    for junk in ("undefined", "NaN", "null", "{", "You are inside"):
        assert junk not in text, (junk, text)
    assert lines["entry"] != "incident.reported"
    assert lines["unknown"] == "not-a-kind"


def test_texts_with_a_count_use_their_plural_form(field):
    context, page = touch_join(field, "marshal", "Milano", permissions=["geolocation"])
    context.set_geolocation(MADRID)
    forms = page.evaluate(
        """() => {
          const s = Fieldops.config().strings, hour = 3600 * 1000;
          return [Fieldops.plural(s.people_n, 1), Fieldops.plural(s.people_n, 3),
                  Fieldops.ago(new Date(Date.now() - hour).toISOString(), s),
                  Fieldops.ago(new Date(Date.now() - 2 * hour).toISOString(), s)];
        }"""
    )
    assert forms == ["1 person", "3 people", "1 hour ago", "2 hours ago"]
    context.set_offline(True)
    page.wait_for_selector("#fo-state[data-state=offline]")
    page.evaluate("() => FO.client.send('checkin', {lat: 40.4169, lng: -3.7035, status: 'ok'})")
    page.wait_for_selector("#fo-state[data-pending='1']")
    assert page.inner_text("#fo-state").endswith("1 waiting to send")
    context.set_offline(False)
    page.wait_for_selector("#fo-state[data-pending='0']")


PROBE = """() => {
  // A second client of the same page and participant, recording what its handler is given.
  window.probed = [];
  window.probe = new Fieldops.Client(Fieldops.config(), {
    entry: (e) => window.probed.push({seq: e.seq, replayed: e.replayed, text: (e.data || {}).text}),
  });
  window.probe.start();
}"""


def probed(page, text: str) -> list[bool]:
    return page.evaluate(
        "(text) => window.probed.filter((e) => e.text === text).map((e) => e.replayed)", text
    )


def test_history_is_marked_replayed_and_news_is_not_also_after_an_outage(field, organizer_state):
    _, command = field.open_as(organizer_state, **TOUCH)
    past = f"Before you came {uuid.uuid4().hex[:6]}"
    alert(command, past)
    command.wait_for_selector("#fo-state[data-pending='0']")
    context, page = touch_join(field, "marshal", "Cernícalo")
    page.evaluate(PROBE)
    page.wait_for_function("() => window.probe.live")
    assert probed(page, past) == [True]

    news = f"While you are here {uuid.uuid4().hex[:6]}"
    alert(command, news)
    page.wait_for_function("(t) => window.probed.some((e) => e.text === t)", arg=news)
    assert probed(page, news) == [False]

    # Missed while the phone was offline: replayed on reconnect, yet news to whoever holds it.
    context.set_offline(True)
    page.wait_for_function("() => !window.probe.live")
    missed = f"While you were away {uuid.uuid4().hex[:6]}"
    alert(command, missed)
    command.wait_for_selector("#fo-state[data-pending='0']")
    context.set_offline(False)
    page.wait_for_function("(t) => window.probed.some((e) => e.text === t)", arg=missed)
    assert probed(page, missed) == [False]
    assert probed(page, past) == [True]  # and nothing shown twice


def test_a_reload_rebuilds_the_feed_and_keeps_no_seq_on_the_phone(field, organizer_state):
    _, command = field.open_as(organizer_state, **TOUCH)
    _, page = touch_join(field, "marcher")
    text = f"Water at the fountain {uuid.uuid4().hex[:6]}"
    alert(command, text)
    page.locator("#feed li", has_text=text).wait_for()

    page.reload()
    wait_live(page)
    assert page.locator("#feed li", has_text=text).count() == 1
    assert not [k for k in event_keys(page) if k.endswith(":seq")]


def swallow_checkins(context) -> list[str]:
    """Pass the page's socket through, but keep its check-ins from the server: they stay unsent."""
    kept: list[str] = []

    def on_socket(ws):
        server = ws.connect_to_server()

        def from_page(message):
            if json.loads(message).get("type") == "checkin":
                kept.append(message)
                return
            server.send(message)

        ws.on_message(from_page)

    context.route_web_socket(SOCKET, on_socket)
    return kept


def test_a_revoked_page_erases_its_data_sends_nothing_and_stays_final(field, organizer_state):
    _, command = field.open_as(organizer_state, **TOUCH)
    context = field.context(permissions=["geolocation"], geolocation=MADRID, **TOUCH)
    kept = swallow_checkins(context)
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    join_with(page, field.server, field.server.invites["marshal"], "Gavilán", tap=True)
    page.wait_for_function("() => FO.position && FO.position.current")
    page.locator("#checkin").tap()
    page.wait_for_selector("#fo-state[data-pending='1']")
    for _ in range(40):  # written a moment after
        if event_keys(page):
            break
        page.wait_for_timeout(125)
    assert kept and event_keys(page)  # the unsent check-in is kept on the phone

    me = page.evaluate("() => Fieldops.config().participant")
    status = command.evaluate(
        """(id) => fetch(Fieldops.config().api + '/revocations', {
             method: 'POST', credentials: 'same-origin',
             headers: {'Content-Type': 'application/json', 'X-CSRFToken': Fieldops.csrfToken(),
                       'Idempotency-Key': Fieldops.uuid4()},
             body: JSON.stringify({participant: id, revoke_invite: false})}).then((r) => r.status)""",
        me,
    )
    assert status == 200

    final = page.locator("#fo-final")
    final.wait_for()
    assert "revoked" in final.inner_text()
    assert page.get_attribute("#fo-state", "data-state") == "stopped"
    page.evaluate("() => FO.client.erased")
    assert event_keys(page) == []
    assert page.evaluate("() => FO.client.pending()") == 0
    assert page.locator("#checkin").is_disabled()
    page.locator("#checkin").tap(force=True)
    assert page.evaluate("() => FO.client.send('checkin', {lat: 40.4, lng: -3.7})") is None
    assert page.evaluate("() => FO.client.pending()") == 0
    assert event_keys(page) == []
    assert page.locator(".fo-lang button").first.is_enabled()  # the language switch still works

    opened = len(sockets)
    context.set_offline(True)
    page.wait_for_timeout(500)  # let the offline event run; nothing is expected to change
    context.set_offline(False)
    page.wait_for_timeout(2000)  # any reconnect would have started by now
    assert page.get_attribute("#fo-state", "data-state") == "stopped"
    assert "revoked" in page.inner_text("#fo-state")
    assert final.is_visible()
    assert len(sockets) == opened
    assert event_keys(page) == []


ARRESTEE = "Tall woman, green raincoat, silver bicycle helmet"


def stored_values(page) -> list[str]:
    """Everything the site keeps in localStorage and IndexedDB, bytes read as text."""
    return page.evaluate(
        """async () => {
          const text = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v)
            ? new TextDecoder("latin1").decode(v) : typeof v === "object" && v !== null
            ? Object.values(v).map(text).join(" ") : String(v);
          const records = await Promise.all(["keys", "outbox", "recent"].map((s) => self.FieldopsVault.all(s, "")));
          return Object.keys(localStorage).map((k) => localStorage.getItem(k)).concat(records.flat().map(text));
        }"""
    )


def kept_outbox(page) -> list[dict]:
    """The page's unsent actions as kept in IndexedDB: one sealed record each."""
    return page.evaluate(
        """async () => (await self.FieldopsVault.all("outbox", FO.client.store.base + ":"))
             .map((r) => ({name: r.name, iv: r.iv.byteLength, data: r.data.byteLength}))"""
    )


def assert_not_in_clear(page) -> None:
    values = " ".join(stored_values(page)).lower()
    for word in re.findall(r"[a-z]{4,}", ARRESTEE.lower()):
        assert word not in values, word


def test_an_arrest_logged_offline_is_sealed_on_the_phone_and_delivered_once(field, fieldops_server):
    context = field.context(permissions=["geolocation"], geolocation=MADRID, **TOUCH)
    blocked = {"on": False}

    def on_socket(ws):
        if blocked["on"]:
            ws.close()
        else:
            ws.connect_to_server()

    context.route_web_socket(SOCKET, on_socket)
    page = context.new_page()
    join_with(page, fieldops_server, fieldops_server.invites["legal"], "Lince", tap=True)
    page.wait_for_function("() => FO.position && FO.position.current")
    agency = f"Unit {uuid.uuid4().hex[:8]}"

    context.set_offline(True)
    page.wait_for_selector("#fo-state[data-state=offline]")
    page.evaluate(
        "() => document.querySelectorAll('#arrest-form details').forEach((d) => d.open = true)"
    )
    page.fill("#arrest-form [name=arrestee_description]", ARRESTEE)
    page.fill("#arrest-form [name=agency]", agency)
    page.locator("#arrest-send").tap()
    page.wait_for_selector("#fo-state[data-pending='1']")
    for _ in range(40):
        if kept_outbox(page):
            break
        page.wait_for_timeout(125)
    [sealed] = kept_outbox(page)
    assert sealed["iv"] == 12 and sealed["data"] > len(ARRESTEE)
    assert_not_in_clear(page)

    # Back online but the socket still fails: the page is reloaded with the arrest unsent.
    blocked["on"] = True
    context.set_offline(False)
    page.reload()
    page.wait_for_selector("#fo-state[data-pending='1']")
    since = page.evaluate("() => Fieldops.config().seq")
    assert_not_in_clear(page)

    blocked["on"] = False
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    wait_live(page)
    page.wait_for_selector("#fo-state[data-pending='0']")
    page.wait_for_timeout(1000)  # let any duplicate on its way land before counting
    assert kept_outbox(page) == []
    entries = page.evaluate(
        "(since) => fetch(Fieldops.config().api + '/journal?since=' + since)"
        ".then((r) => r.json()).then((b) => b.entries)",
        since,
    )
    logged = [e for e in entries if e["type"] == "arrest.logged" and e["data"]["agency"] == agency]
    assert len(logged) == 1
