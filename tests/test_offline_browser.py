"""The pages with no network (docs/pages.md, "Offline and notifications"), in Chromium with the
event's service worker: each role's page reopens from the phone's copy with its last state and
map while the server is stopped, actions queued then arrive once when it is back (the page open,
or closed and sent by the service worker's Background Sync), Web Push notifications show only the
server's generic text, and a revocation erases everything the phone kept.

The server is stopped and started again on the same port and database (the kit's `Proc`).
"""

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fieldops.services import webpush
from tests.browser import *  # noqa: F403
from tests.browser import (
    _unlimited_invites,
    field_fixture,
    join_with,
    run_in_server,
    serving,
    wait_live,
)

from .tilearchive import write_archive

pytestmark = pytest.mark.browser

BACK_TIMEOUT_MS = 60_000  # reconnecting backs off up to 30 s between tries
VAPID_KEY = webpush.vapid_key_generate()
ALERT = "Water at the fountain"


@pytest.fixture(scope="module")
def offline_server(tmp_path_factory):
    archive = tmp_path_factory.mktemp("maps") / "demo.pmtiles"
    write_archive(archive, zooms=(13, 14, 15, 16))
    env = {"MAP_TILES_ARCHIVE": str(archive), "VAPID_PRIVATE_KEY": VAPID_KEY}
    with serving(prepare=_unlimited_invites, env=env) as server:
        yield server


field = field_fixture("offline_server")


def journal_count(slug: str, client_ids: list[str]) -> dict:
    """How many journal entries each action id wrote (run in the server's environment)."""
    from fieldops.models import JournalEntry

    return {
        cid: JournalEntry.objects.filter(event__slug=slug, client_id=cid).count()
        for cid in client_ids
    }


def journal_count_in(server, client_ids: list[str]) -> dict:
    return run_in_server(server.running.env, f"{__name__}.journal_count", server.event, client_ids)


def push_state_in(server, callsign: str) -> dict:
    return run_in_server(server.running.env, f"{__name__}.push_state", server.event, callsign)


def worker_session(context, page, server):
    """A DevTools session on `page` and the id of the event's service worker registration."""
    cdp = context.new_cdp_session(page)
    scope = f"{server.base_url}/e/{server.event}/"
    found = []

    def updated(event):
        found.extend(r["registrationId"] for r in event["registrations"]
                     if r["scopeURL"] == scope and not r["isDeleted"])  # fmt: skip

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    for _ in range(40):  # reported at once, as events
        if found:
            return cdp, found[-1]
        page.wait_for_timeout(125)
    raise AssertionError("no service worker registration for the event")


def push_state(slug: str, callsign: str) -> dict:
    from fieldops.models import Event
    from marshals.models import PushSubscription

    return {
        "subscriptions": PushSubscription.objects.filter(
            participant__event__slug=slug, participant__callsign=callsign
        ).count(),
        "enabled": Event.objects.get(slug=slug).push_enabled,
    }


def until(page, script: str, arg=None, timeout_ms: int = 15_000) -> None:
    """Wait until the async `script` (which wait_for_function would not await) is true."""
    for _ in range(timeout_ms // 250):
        if page.evaluate(script, arg):
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"never true: {script}")


def kept(page, server, *, tiles: bool = False) -> None:
    """Wait until the service worker keeps the page, its files (and the area's tiles)."""
    until(
        page,
        """async ([slug, tiles]) => {
          const names = await caches.keys(), p = "fieldops:" + slug + ":";
          if (!names.includes(p + "page") || !names.includes(p + "files")) return false;
          if (!(await (await caches.open(p + "page")).match("/e/" + slug + "/", {ignoreVary: true}))) return false;
          if (!(await (await caches.open(p + "files")).keys()).length) return false;
          if (!tiles) return true;
          const t = names.find((n) => n.startsWith(p + "tiles:"));
          return !!t && (await (await caches.open(t)).keys()).length > 10;
        }""",
        [server.event, tiles],
    )


def recent_has(page, text: str) -> None:
    """Wait until the page keeps on the phone an entry with `text` (sealed: opened here with the
    page's own key)."""
    until(
        page,
        """async (text) => {
          const cfg = Fieldops.config(), v = self.FieldopsVault, name = v.base(cfg.event, cfg.participant);
          const r = await v.get("recent", name);
          return !!r && JSON.stringify(await v.unseal(await FO.client.store.key, name, r)).includes(text);
        }""",
        text,
    )


def reopen_offline(context, server):
    page = context.new_page()
    page.goto(f"/e/{server.event}/")
    page.wait_for_selector("#fo-state[data-state=offline][data-cached-at]")
    return page


def send(page, verb: str, data: dict) -> str:
    return page.evaluate("([verb, data]) => FO.client.send(verb, data)", [verb, data])


def test_each_roles_page_reopens_offline_with_its_state_and_queued_actions_arrive_once(
    field, offline_server
):
    server = offline_server
    roles = {"organizer": "Control", "marshal": "Kite", "legal": "Heron", "marcher": ""}
    joined = {role: field.join(role, callsign) for role, callsign in roles.items()}
    for role, (_, page) in joined.items():
        kept(page, server, tiles=role == "marshal")
    organizer = joined["organizer"][1]
    organizer.locator("#alert-panel summary").click()
    organizer.fill("#alert-text", ALERT)
    organizer.click("#alert-send")
    for _, page in joined.values():
        recent_has(page, ALERT)

    server.running.workers[0].stop()
    reopened = {role: reopen_offline(ctx, server) for role, (ctx, _) in joined.items()}
    for role, page in reopened.items():
        bar = page.locator("#fo-state")
        assert bar.inner_text().startswith("Offline — data from"), role
        assert page.evaluate("() => Object.keys(FO.state().routes).length") > 0, role
        page.wait_for_function(f"() => JSON.stringify(FO.state().entries).includes({ALERT!r})")
    marshal = reopened["marshal"]
    assert ALERT in marshal.locator("#feed").inner_text()
    marshal.wait_for_function("() => document.querySelectorAll('img.leaflet-tile-loaded').length")

    ids = [
        send(marshal, "checkin", {"lat": 40.4169, "lng": -3.7035, "status": "ok"}),
        send(reopened["legal"], "incident.report", {
            "lat": 40.4169, "lng": -3.7035, "kind": "other", "severity": "low",
            "description": "queued offline",
        }),
    ]  # fmt: skip
    assert marshal.locator("#fo-state").get_attribute("data-pending") == "1"

    server.running.workers[0].start()
    for page in (marshal, reopened["legal"]):
        page.wait_for_selector("#fo-state[data-state=live]", timeout=BACK_TIMEOUT_MS)
        page.wait_for_function("() => FO.client.pending() === 0")
    reopened["organizer"].wait_for_selector("#fo-state[data-state=live]", timeout=BACK_TIMEOUT_MS)
    reopened["organizer"].locator("#feed", has_text="queued offline").wait_for()
    assert journal_count_in(server, ids) == {i: 1 for i in ids}


def test_an_action_queued_offline_is_sent_by_the_service_worker_once_the_page_is_closed(
    field, offline_server
):
    server = offline_server
    context, first = field.join("marshal", "Swift")
    kept(first, server)
    first.close()
    server.running.workers[0].stop()
    page = reopen_offline(context, server)
    action = send(page, "checkin", {"lat": 40.417, "lng": -3.7036, "status": "ok"})
    until(
        page,
        """async (id) => (await self.FieldopsVault.all("outbox", "fieldops:")).some((r) => r.name.endsWith(id))""",
        action,
    )
    page.close()
    server.running.workers[0].start()

    blank = context.new_page()
    cdp, registration = worker_session(context, blank, server)
    cdp.send("ServiceWorker.dispatchSyncEvent", {
        "origin": server.base_url, "registrationId": registration,
        "tag": f"outbox:{server.event}", "lastChance": False,
    })  # fmt: skip
    for _ in range(40):
        if journal_count_in(server, [action]) == {action: 1}:
            break
        blank.wait_for_timeout(250)
    assert journal_count_in(server, [action]) == {action: 1}
    # The page opened again has nothing left to send, and nothing was written twice.
    page = context.new_page()
    page.goto(f"/e/{server.event}/")
    wait_live(page)
    assert page.evaluate("() => FO.client.pending()") == 0
    assert journal_count_in(server, [action]) == {action: 1}


def fake_push_service(context) -> None:
    """Headless Chromium has no push service to subscribe at, offline: the page's PushManager
    answers with a subscription of our own (a real P-256 key pair and auth secret, so that the
    server accepts it), and counts what the page asks of it. The service worker's is untouched."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    fake = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/fieldops-test",
        "p256dh": b64(point),
        "auth": b64(b"0123456789abcdef"),
    }
    context.add_init_script(
        """(() => {
      const fake = FAKE;
      let current = null;
      window.__push = { subscribed: [], unsubscribed: 0 };
      PushManager.prototype.getSubscription = () => Promise.resolve(current);
      PushManager.prototype.subscribe = (options) => {
        const key = new Uint8Array(options.applicationServerKey);
        window.__push.subscribed.push({ userVisibleOnly: options.userVisibleOnly, key: Array.from(key) });
        current = {
          endpoint: fake.endpoint, options: { applicationServerKey: key.buffer },
          toJSON: () => ({ endpoint: fake.endpoint, expirationTime: null, keys: { p256dh: fake.p256dh, auth: fake.auth } }),
          unsubscribe: () => { current = null; window.__push.unsubscribed += 1; return Promise.resolve(true); },
        };
        return Promise.resolve(current);
      };
    })();""".replace("FAKE", json.dumps(fake))
    )


def opted_in(field, server, callsign: str):
    """A marshal who turned notifications on; their context and page."""
    context = field.context()
    context.grant_permissions(["notifications"], origin=server.base_url)
    fake_push_service(context)
    page = context.new_page()
    join_with(page, server, server.invites["marshal"], callsign)
    button = page.locator("#push-optin")
    button.wait_for()
    assert button.inner_text() == "Turn on notifications"
    button.click()
    page.locator(".fo-toast", has_text="Notifications are on for this phone.").wait_for()
    assert button.inner_text() == "Turn off notifications"
    return context, page


def test_a_participant_opts_in_and_a_push_shows_only_the_generic_text(field, offline_server):
    server = offline_server
    context, page = opted_in(field, server, "Lark")
    asked = page.evaluate("() => window.__push.subscribed")
    server_key = webpush.vapid_public_key(VAPID_KEY)
    assert asked == [
        {"userVisibleOnly": True, "key": list(base64.urlsafe_b64decode(server_key + "=="))}
    ]
    assert push_state_in(server, "Lark")["subscriptions"] == 1

    cdp, registration = worker_session(context, page, server)
    body = "Urgent alert. Open Fieldops for details."
    tag = f"fieldops-{server.event}-danger"
    payload = {
        "event": server.event, "seq": 57, "kind": "sos.nearby", "level": "danger",
        "url": f"{server.base_url}/e/{server.event}/", "title": "Fieldops", "body": body,
        "tag": tag, "lang": "en",
    }  # fmt: skip
    shown = "() => navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((ns) => ns.map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data})))"
    # On a loaded machine the DevTools protocol may hand the message to a worker still starting,
    # which drops it: deliver again (one tag, so a second delivery replaces the first).
    for attempt in range(3):
        cdp.send("ServiceWorker.deliverPushMessage", {
            "origin": server.base_url, "registrationId": registration, "data": json.dumps(payload),
        })  # fmt: skip
        try:
            until(page, shown.replace("ns.map", "ns.length && ns.map"), timeout_ms=5_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    assert page.evaluate(shown) == [
        {"title": "Fieldops", "body": body, "tag": tag, "data": {"url": payload["url"], "seq": 57}}
    ]

    page.locator("#push-optin").click()
    page.locator(".fo-toast", has_text="Notifications are off for this phone.").wait_for()
    assert page.evaluate("() => window.__push.unsubscribed") == 1
    assert push_state_in(server, "Lark")["subscriptions"] == 0


def test_organizers_switch_push_off_for_the_event_and_see_it_in_their_feed(field, offline_server):
    _, page = field.join("organizer", "Control")
    switch = page.locator("#event-push")
    page.locator("#alert-panel summary").click()
    assert switch.inner_text() == "Notifications for this event: on. Switch off"
    switch.click()
    page.locator("#feed", has_text="Push notifications switched").wait_for()
    assert switch.inner_text() == "Notifications for this event: off. Switch on"
    assert push_state_in(offline_server, "Control")["enabled"] is False
    switch.click()
    page.locator("#event-push", has_text="on. Switch off").wait_for()
    assert push_state_in(offline_server, "Control")["enabled"] is True


def test_a_revoked_participants_phone_keeps_nothing_of_the_event(field, offline_server):
    server = offline_server
    _, page = opted_in(field, server, "Finch")
    kept(page, server)
    _, organizer = field.join("organizer", "Control")
    organizer.locator("#alert-panel summary").click()
    organizer.fill("#alert-text", ALERT)
    organizer.click("#alert-send")
    recent_has(page, ALERT)
    me = page.evaluate("() => Fieldops.config().participant")
    organizer.evaluate(
        """(me) => fetch(Fieldops.config().api + "/revocations", {method: "POST", credentials: "same-origin",
             headers: {"Content-Type": "application/json", "X-CSRFToken": Fieldops.csrfToken()},
             body: JSON.stringify({participant: me})}).then((r) => r.status)""",
        me,
    )
    page.wait_for_selector("#fo-final")
    page.evaluate("() => FO.client.erased")
    left = page.evaluate(
        """async (slug) => ({
          caches: (await caches.keys()).filter((n) => n.startsWith("fieldops:" + slug + ":")),
          records: (await Promise.all(["keys", "outbox", "recent"].map((s) => self.FieldopsVault.all(s, "fieldops:" + slug + ":")))).flat().length,
          worker: !!(await navigator.serviceWorker.getRegistration("/e/" + slug + "/")),
          unsubscribed: window.__push.unsubscribed,
        })""",
        server.event,
    )
    assert left == {"caches": [], "records": 0, "worker": False, "unsubscribed": 1}
    assert push_state_in(server, "Finch")["subscriptions"] == 0
