"""Web Push: a push service on 127.0.0.1 receives what the server sends, and each browser decrypts
its messages with its own keys (http_ece, aes128gcm), as a real browser would. Who gets what
follows the journal's audiences; the lock screen learns only a level; expired subscriptions go; a
push service that hangs delays no acknowledgement and no other push service; each entry is pushed
once; subscriptions are personal data, erased with the event."""

import base64
import http.server
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import http_ece
import orjson
import pytest
from channels.db import database_sync_to_async
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command
from django.utils import timezone
from py_vapid import Vapid02

from fieldops.actions import action_perform
from fieldops.logfilters import redact
from fieldops.models import Event, JournalEntry, PushCursor
from fieldops.services import journal, push, webpush
from fieldops.services.alerts import alert_send
from fieldops.services.arrests import arrest_log
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_report, sos_raise
from fieldops.services.retention import event_purge, personal_data_inventory
from fieldops.services.routes import route_publish
from fieldops.services.safety.overdue import overdue_sweep
from fieldops.services.safety.zones import zone_activate
from fieldops.watch import PushLoop
from marshals.models import Participant, PushSubscription
from marshals.services import participant_revoke

from .conftest import CAST_NAMES, api_client, connect_as
from .factories import ParticipantFactory

KEY = webpush.vapid_key_generate()
WAIT = 30  # seconds: a bound for what should take milliseconds, never a measure of speed
HERE = {"lat": 40.4193, "lng": -3.6932}
NEAR = {"lat": 40.4196, "lng": -3.6935}
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-3.694, 40.419], [-3.692, 40.419], [-3.692, 40.420], [-3.694, 40.419]]],
}
INSIDE = {"lat": 40.4192, "lng": -3.6935}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def until(condition, *, timeout: float = WAIT, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"{what}: not within {timeout} s")


# --- A push service and browsers ------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


class PushService:
    """A push service on 127.0.0.1. It answers by the endpoint's first path segment: `ok` 201,
    `gone` 410, `missing` 404, `hang` only once released (at most WAIT seconds later)."""

    def __init__(self):
        self.received: list[Received] = []
        self.release = threading.Event()
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                behaviour = self.path.split("/")[1]
                if behaviour == "hang":
                    service.release.wait(WAIT)
                service.received.append(Received(self.path, dict(self.headers), body))
                status = {"gone": 410, "missing": 404}.get(behaviour, 201)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    def endpoint(self, behaviour: str = "ok") -> str:
        return f"{self.origin}/{behaviour}/{uuid.uuid4().hex}"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Browser:
    """A browser's push subscription: its own P-256 key pair and authentication secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: uuid.uuid4().bytes)

    @property
    def path(self) -> str:
        return self.endpoint.split("://", 1)[1].split("/", 1)[1]

    def subscription(self) -> dict:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64(public), "auth": b64(self.auth)},
        }

    def read(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@pytest.fixture
def service():
    running = PushService()
    yield running
    running.close()


@pytest.fixture
def push_on(settings, service):
    """Push set up, with the local push service allowed; each test starts and ends with no
    message under way and no outcome waiting (a later test's rows reuse ids)."""
    settings.VAPID_PRIVATE_KEY = KEY
    settings.PUSH_SERVICE_HOSTS = [service.origin]
    settings.PUSH_TIMEOUT_SECONDS = WAIT
    settings.PUSH_THREADS_PER_SERVICE = 2
    sender = push.push_sender()
    sender.take_outcomes()
    journal.push_wake.clear()
    yield sender
    service.release.set()
    until(sender.idle, what="the sending threads to finish")
    sender.take_outcomes()


def subscribe(participant, service: PushService, behaviour: str = "ok", **kwargs) -> Browser:
    browser = Browser(service.endpoint(behaviour))
    sub = browser.subscription()
    push.push_subscribe(
        participant=participant,
        endpoint=sub["endpoint"],
        p256dh=sub["keys"]["p256dh"],
        auth=sub["keys"]["auth"],
        **kwargs,
    )
    return browser


def subscribe_cast(cast, service) -> dict[str, Browser]:
    return {name: subscribe(getattr(cast, name), service) for name in CAST_NAMES}


def delivered(sender, service, browsers: dict[str, Browser]) -> dict[str, list[dict]]:
    """Once every queued message has been sent: what each browser received, decrypted."""
    until(sender.idle, what="the queued pushes to be sent")
    by_path = {browser.path: (name, browser) for name, browser in browsers.items()}
    got: dict[str, list[dict]] = {}
    for request in service.received:
        name, browser = by_path[request.path.lstrip("/")]
        got.setdefault(name, []).append(browser.read(request.body))
    service.received.clear()
    return got


def sweep_and_read(sender, service, browsers) -> dict[str, list[dict]]:
    push.push_sweep()
    return delivered(sender, service, browsers)


# --- Who gets what ----------------------------------------------------------------------------------


def test_an_sos_is_pushed_to_organizers_medics_and_marshals_near_it_never_to_its_sender(
    cast, service, push_on
):
    browsers = subscribe_cast(cast, service)
    checkin_create(participant=cast.marshal_b, **NEAR)
    assert sweep_and_read(push_on, service, browsers) == {}  # a check-in is not pushed

    sos_raise(participant=cast.marshal_a, note="fainted", **HERE)
    got = sweep_and_read(push_on, service, browsers)

    assert set(got) == {"organizer", "medic", "marshal_b"}
    assert [m["kind"] for m in got["medic"]] == ["sos.raised"]
    assert [m["kind"] for m in got["marshal_b"]] == ["sos.nearby"]
    # The organizer receives both entries, taken at once: one notification of that level.
    assert [m["level"] for m in got["organizer"]] == ["danger"]


def test_overdue_is_pushed_to_the_silent_marshal_and_their_groups_marshals(cast, service, push_on):
    colleague = ParticipantFactory(event=cast.event, role="marshal", group=cast.group_a)
    browsers = subscribe_cast(cast, service) | {"colleague": subscribe(colleague, service)}
    later = timezone.now() + timedelta(minutes=30)
    # Everyone but marshal A showed a sign of life a minute before the sweep.
    Participant.objects.exclude(pk=cast.marshal_a.pk).update(
        created_at=later - timedelta(minutes=1)
    )

    written = overdue_sweep(now=later, event_id=cast.event.pk)
    got = sweep_and_read(push_on, service, browsers)

    assert [(e.kind, e.data.participant) for e in written] == [
        ("marshal.overdue", cast.marshal_a.pk)
    ]
    assert set(got) == {"organizer", "marshal_a", "colleague"}
    assert {m["kind"] for messages in got.values() for m in messages} == {"marshal.overdue"}
    assert got["marshal_a"][0]["level"] == "warning"


def test_a_route_change_is_pushed_to_everyone_but_its_publisher(cast, service, push_on):
    other_organizer = ParticipantFactory(event=cast.event, role="organizer")
    browsers = subscribe_cast(cast, service) | {"other": subscribe(other_organizer, service)}

    entry = route_publish(
        participant=cast.organizer,
        geometry={"type": "LineString", "coordinates": [[-3.69, 40.42], [-3.692, 40.41]]},
    )
    got = sweep_and_read(push_on, service, browsers)

    assert set(got) == set(browsers) - {"organizer"}
    for messages in got.values():
        assert [(m["kind"], m["seq"]) for m in messages] == [("route.published", entry.seq)]


def test_a_group_alert_is_pushed_to_that_group_only_at_its_level(cast, service, push_on):
    other_organizer = ParticipantFactory(event=cast.event, role="organizer")
    browsers = subscribe_cast(cast, service) | {"other": subscribe(other_organizer, service)}

    alert_send(
        participant=cast.organizer,
        text="North block: hold",
        audience=f"group:{cast.group_a.pk}",
        level="warning",
    )
    got = sweep_and_read(push_on, service, browsers)

    assert set(got) == {"other", "marshal_a", "marcher"}
    assert {m["level"] for messages in got.values() for m in messages} == {"warning"}


def test_a_public_zone_reaches_marchers_and_a_private_one_only_the_field_teams(
    cast, service, push_on
):
    browsers = subscribe_cast(cast, service)

    zone_activate(participant=cast.organizer, name="Kettle", geometry=SQUARE, public=False)
    private = sweep_and_read(push_on, service, browsers)
    zone_activate(participant=cast.organizer, name="Charge", geometry=SQUARE, public=True)
    public = sweep_and_read(push_on, service, browsers)

    assert set(private) == {"marshal_a", "marshal_b", "legal", "medic"}
    assert set(public) == set(CAST_NAMES) - {"organizer"}
    assert {m["level"] for m in public["marcher"]} == {"danger"}


def test_entering_a_danger_zone_is_pushed_to_the_marshal_inside_and_organizers(
    cast, service, push_on
):
    browsers = subscribe_cast(cast, service)
    zone_activate(participant=cast.organizer, name="Kettle", geometry=SQUARE, public=False)
    sweep_and_read(push_on, service, browsers)

    checkin_create(participant=cast.marshal_b, **INSIDE)
    got = sweep_and_read(push_on, service, browsers)

    assert set(got) == {"marshal_b", "organizer"}
    assert [m["kind"] for m in got["marshal_b"]] == ["marshal.in_zone"]


def test_check_ins_incidents_arrests_and_journal_bookkeeping_are_never_pushed(
    cast, service, push_on
):
    browsers = subscribe_cast(cast, service)

    checkin_create(participant=cast.marshal_a, **HERE)
    incident_report(participant=cast.marshal_a, kind="crowd", severity="high", **HERE)
    arrest_log(participant=cast.legal, people_count=2, agency="riot unit", **HERE)
    participant_revoke(participant=cast.organizer, target=cast.marcher.pk)

    assert sweep_and_read(push_on, service, browsers) == {}
    assert (
        PushCursor.objects.get(event=cast.event).seq == Event.objects.get(pk=cast.event.pk).last_seq
    )


def test_history_is_never_pushed_a_first_subscription_starts_at_the_latest_entry(
    cast, service, push_on
):
    alert_send(participant=cast.organizer, text="before anyone subscribed", level="danger")

    browsers = subscribe_cast(cast, service)

    assert sweep_and_read(push_on, service, browsers) == {}
    alert_send(participant=cast.organizer, text="after", level="danger")
    assert len(sweep_and_read(push_on, service, browsers)) == len(CAST_NAMES) - 1


# --- What a lock screen learns, and what goes over the wire -------------------------------------------


def test_the_lock_screen_text_says_only_the_level_in_the_subscribers_language(
    cast, service, push_on
):
    english = subscribe(cast.medic, service, language="en")
    spanish = subscribe(cast.organizer, service, language="es")

    sos_raise(participant=cast.marshal_a, note="Ana fainted by the fountain", **HERE)
    got = sweep_and_read(push_on, service, {"en": english, "es": spanish})

    message = got["en"][0]
    assert (message["title"], message["body"]) == (
        "Fieldops",
        "Urgent alert. Open Fieldops for details.",
    )
    assert got["es"][0]["body"] == "Alerta urgente. Abre Fieldops para ver los detalles."
    assert message["url"].endswith(f"/e/{cast.event.slug}/")
    assert message["tag"] == f"fieldops-{cast.event.slug}-danger"
    assert {message["event"], message["kind"], message["level"]} == {
        cast.event.slug,
        "sos.raised",
        "danger",
    }
    shown = json.dumps([m["title"] + m["body"] for ms in got.values() for m in ms])
    for secret in ("Ana", "fountain", "m-a", "40.41", "-3.69", cast.event.name):
        assert secret not in shown


def test_a_push_is_encrypted_for_its_browser_and_signed_with_the_servers_vapid_key(
    cast, service, push_on
):
    browser = subscribe(cast.medic, service)

    sos_raise(participant=cast.marshal_a, note="fainted", **HERE)
    push.push_sweep()
    until(push_on.idle)

    (request,) = service.received
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["urgency"] == "high" and int(headers["ttl"]) == push.TTL_SECONDS
    assert cast.event.slug not in headers["topic"] and len(headers["topic"]) <= 32
    assert headers["authorization"].startswith("vapid t=")
    assert f"k={push.push_public_key()}" in headers["authorization"]
    assert Vapid02.verify(headers["authorization"])
    assert b"sos.raised" not in request.body and b"Fieldops" not in request.body
    assert browser.read(request.body)["kind"] == "sos.raised"
    with pytest.raises(Exception):  # noqa: B017 - any failure: another browser cannot read it
        Browser(browser.endpoint).read(request.body)


# --- Organizers' switch ------------------------------------------------------------------------------


def test_nothing_is_pushed_while_organizers_have_push_off_not_even_later(cast, service, push_on):
    browsers = subscribe_cast(cast, service)

    off = action_perform(
        participant=cast.organizer, verb="event.push", data={"enabled": False}, client_id=None
    )
    alert_send(participant=cast.organizer, text="while off", level="danger")
    assert sweep_and_read(push_on, service, browsers) == {}
    action_perform(
        participant=cast.organizer, verb="event.push", data={"enabled": True}, client_id=None
    )
    assert sweep_and_read(push_on, service, browsers) == {}
    later = alert_send(participant=cast.organizer, text="on again", level="danger")

    got = sweep_and_read(push_on, service, browsers)
    assert {m["seq"] for ms in got.values() for m in ms} == {later.seq}
    assert (off.kind, orjson.loads(off.frame)["data"]) == ("event.push_changed", {"enabled": False})
    assert off.audience_tags == ["organizers"]


def test_only_organizers_switch_push_over_rest(cast, tokens):
    url = f"/api/events/{cast.event.slug}/push"
    refused = api_client(tokens["marshal_a"]).post(url, {"enabled": False}, "application/json")
    done = api_client(tokens["organizer"]).post(url, {"enabled": False}, "application/json")

    assert refused.status_code == 403
    assert done.status_code == 200 and done.json()["entry"]["type"] == "event.push_changed"
    assert Event.objects.get(pk=cast.event.pk).push_enabled is False


# --- Expired subscriptions, revocation, retention ----------------------------------------------------


@pytest.mark.parametrize("behaviour", ["gone", "missing"])
def test_a_subscription_its_push_service_no_longer_knows_is_removed(
    cast, service, push_on, behaviour
):
    subscribe(cast.medic, service, behaviour)
    kept = subscribe(cast.organizer, service)

    sos_raise(participant=cast.marshal_a, **HERE)
    push.push_sweep()
    until(push_on.idle)
    result = push.push_sweep()

    assert result.removed == 1
    assert list(PushSubscription.objects.values_list("participant_id", flat=True)) == [
        cast.organizer.pk
    ]
    assert PushSubscription.objects.get().last_ok_at is not None
    assert kept.path in {r.path.lstrip("/") for r in service.received}


def test_revoking_a_participant_deletes_their_subscriptions(cast, service, push_on):
    subscribe(cast.marshal_a, service)
    subscribe(cast.marshal_a, service)
    subscribe(cast.medic, service)

    participant_revoke(participant=cast.organizer, target=cast.marshal_a.pk)

    assert set(PushSubscription.objects.values_list("participant_id", flat=True)) == {cast.medic.pk}


def test_the_retention_purge_erases_subscriptions_and_the_report_counts_them(
    cast, service, push_on
):
    subscribe(cast.marshal_a, service)
    subscribe(cast.marcher, service)
    kind = "Web Push subscriptions (endpoint, keys)"
    held = {h.kind: h.count for h in personal_data_inventory(event=cast.event)}
    assert held[kind] == 2

    done = event_purge(event=cast.event)

    assert done.deleted["push_subscriptions"] == 2
    assert not PushSubscription.objects.exists()
    held = {h.kind: h.count for h in personal_data_inventory(event=cast.event)}
    assert held[kind] == 0


def test_endpoints_and_keys_are_sealed_with_the_events_key(cast, service, push_on):
    from django.db import connection

    browser = subscribe(cast.medic, service)

    with connection.cursor() as cursor:
        cursor.execute("SELECT endpoint, p256dh, auth FROM marshals_pushsubscription")
        stored = cursor.fetchone()
    sub = browser.subscription()
    for value, raw in zip(stored, [sub["endpoint"], *sub["keys"].values()], strict=True):
        assert value.startswith("v2:") and raw not in value


def test_a_browser_belongs_to_whoever_subscribed_with_it_last(cast, service, push_on):
    browser = subscribe(cast.marshal_a, service)
    sub = browser.subscription()

    push.push_subscribe(
        participant=cast.marcher,
        endpoint=sub["endpoint"],
        p256dh=sub["keys"]["p256dh"],
        auth=sub["keys"]["auth"],
    )

    assert list(PushSubscription.objects.values_list("participant_id", flat=True)) == [
        cast.marcher.pk
    ]


# --- Never in anyone's way ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_hanging_push_service_delays_no_ack_and_no_other_push_service(
    cast, settings, service, push_on
):
    other = PushService()
    try:
        settings.PUSH_SERVICE_HOSTS = [service.origin, other.origin]
        settings.PUSH_THREADS_PER_SERVICE = 1  # one thread per service, and it hangs
        hung = await database_sync_to_async(subscribe)(cast.medic, service, "hang")
        answered = await database_sync_to_async(subscribe)(cast.organizer, other)
        client, _ = await connect_as(cast.marshal_a)

        await client.send_json_to({"type": "sos", "id": str(uuid.uuid4()), "data": HERE})
        assert (await client.receive_json_from(timeout=WAIT))["type"] == "ack"
        await database_sync_to_async(push.push_sweep)()
        await database_sync_to_async(until)(lambda: other.received, what="the other service")
        # The first push service still holds its request: the socket is answered all the same.
        frame_id = str(uuid.uuid4())
        await client.send_json_to(
            {"type": "checkin", "id": frame_id, "data": HERE | {"status": "ok"}}
        )
        frames = []
        while not any(f.get("id") == frame_id for f in frames):
            frames.append(await client.receive_json_from(timeout=WAIT))

        assert service.received == [] and not service.release.is_set()
        assert answered.read(other.received[0].body)["kind"] == "sos.raised"
        await client.disconnect()
        service.release.set()
        await database_sync_to_async(until)(lambda: service.received, what="the hung request")
        assert hung.read(service.received[0].body)["kind"] == "sos.raised"
    finally:
        other.close()


def test_two_sweeps_at_once_send_each_entry_once(cast, service, push_on, monkeypatch):
    browsers = subscribe_cast(cast, service)
    alert_send(participant=cast.organizer, text="once", level="danger")
    claim = push._claim
    inner = []

    def racing_claim(**kwargs):
        # Another sweep (another worker) runs between this one's read and its claim.
        if not inner:
            inner.append(None)
            inner[0] = push.push_sweep()
        return claim(**kwargs)

    monkeypatch.setattr(push, "_claim", racing_claim)
    outer = push.push_sweep()
    got = delivered(push_on, service, browsers)

    assert (inner[0].queued, outer.queued) == (len(CAST_NAMES) - 1, 0)
    assert all(len(messages) == 1 for messages in got.values())


@pytest.mark.django_db(transaction=True)
def test_the_push_loop_sends_as_soon_as_an_entry_commits(cast, service, push_on):
    browsers = subscribe_cast(cast, service)
    loop = PushLoop(poll=3600).start()  # unwoken, it would look again in an hour
    try:
        alert_send(participant=cast.organizer, text="now", level="danger")
        until(lambda: len(service.received) == len(CAST_NAMES) - 1, what="the pushes")
    finally:
        loop.stop()
    assert not loop.thread.is_alive()
    got = delivered(push_on, service, browsers)
    assert set(got) == set(CAST_NAMES) - {"organizer"}


# --- The REST door ----------------------------------------------------------------------------------


def test_a_browser_subscribes_and_unsubscribes_over_rest(cast, tokens, service, push_on):
    browser = Browser(service.endpoint())
    url = f"/api/events/{cast.event.slug}/push-subscriptions"
    client = api_client(tokens["marcher"])

    done = client.post(url, browser.subscription(), "application/json", HTTP_ACCEPT_LANGUAGE="es")
    again = client.post(url, browser.subscription(), "application/json", HTTP_ACCEPT_LANGUAGE="es")
    stored = PushSubscription.objects.get()
    details = client.get(f"/api/events/{cast.event.slug}").json()
    gone = client.delete(url, {"endpoint": browser.endpoint}, "application/json")

    assert (done.status_code, done.json()) == (201, {"subscribed": True, "push_enabled": True})
    assert again.status_code == 201
    assert (stored.participant_id, stored.language) == (cast.marcher.pk, "es")
    assert details["push"] == {"enabled": True, "key": push.push_public_key()}
    assert gone.json() == {"removed": 1} and not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/abc",  # not https
        "https://fcm.googleapis.com.evil.example/fcm/send/abc",
        "https://169.254.169.254/latest/meta-data",
        "https://127.0.0.1:6379/",
        "https://user@fcm.googleapis.com/fcm/send/abc",
        "https://fcm.googleapis.com:8443/fcm/send/abc",
        "https://push.apple.com/abc",  # "*.push.apple.com" is its subdomains
        "file:///etc/passwd",
    ],
)
def test_an_endpoint_that_is_no_known_push_service_is_refused_naming_the_field(
    cast, tokens, settings, endpoint
):
    settings.VAPID_PRIVATE_KEY = KEY
    body = Browser(endpoint).subscription()

    response = api_client(tokens["marshal_a"]).post(
        f"/api/events/{cast.event.slug}/push-subscriptions", body, "application/json"
    )

    assert response.status_code == 400
    assert [f["field"] for f in response.json()["fields"]] == ["endpoint"]
    assert not PushSubscription.objects.exists()


def test_the_default_push_services_are_accepted(cast, tokens, settings):
    settings.VAPID_PRIVATE_KEY = KEY
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGh3",
        "https://api.push.apple.com/3/device/abc",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
    ):
        response = api_client(tokens["marshal_a"]).post(
            f"/api/events/{cast.event.slug}/push-subscriptions",
            Browser(endpoint).subscription(),
            "application/json",
        )
        assert response.status_code == 201, (endpoint, response.json())


def _with(body: dict, path: str, value) -> dict:
    changed = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target = changed
    for name in parents:
        target = target[name]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("endpoint", KeyError, "endpoint"),
        ("endpoint", "not a url", "endpoint"),
        ("endpoint", 42, "endpoint"),
        ("keys", KeyError, "keys"),
        ("keys.p256dh", KeyError, "keys.p256dh"),
        ("keys.p256dh", "BAAA", "keys.p256dh"),
        ("keys.p256dh", b64(b"\x04" + b"\x01" * 64), "keys.p256dh"),  # not on the curve
        ("keys.auth", b64(b"short"), "keys.auth"),
        ("keys.auth", "!!!", "keys.auth"),
        ("keys.extra", "x", "keys.extra"),
        ("expirationTime", "tomorrow", "expirationTime"),
    ],
)
def test_a_subscription_that_is_no_browsers_is_refused_naming_the_field(
    cast, tokens, settings, service, path, value, field
):
    settings.VAPID_PRIVATE_KEY = KEY
    settings.PUSH_SERVICE_HOSTS = [service.origin]
    body = _with(Browser(service.endpoint()).subscription(), path, value)

    response = api_client(tokens["medic"]).post(
        f"/api/events/{cast.event.slug}/push-subscriptions", body, "application/json"
    )

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid"
    assert [f["field"] for f in response.json()["fields"]] == [field]
    assert not PushSubscription.objects.exists()


def test_without_a_vapid_key_nothing_subscribes_and_nothing_is_pushed(
    cast, tokens, settings, service
):
    settings.VAPID_PRIVATE_KEY = ""
    settings.PUSH_SERVICE_HOSTS = [service.origin]

    response = api_client(tokens["medic"]).post(
        f"/api/events/{cast.event.slug}/push-subscriptions",
        Browser(service.endpoint()).subscription(),
        "application/json",
    )

    assert response.status_code == 400
    assert response.json()["fields"][0]["field"] == "endpoint"
    assert push.push_public_key() is None and push.push_sender() is None
    assert push.push_deploy_check()[0].id == "fieldops.W110"


# --- Keys and logs ----------------------------------------------------------------------------------


def test_the_vapid_key_command_prints_a_key_whose_public_half_the_pages_use(settings, capsys):
    call_command("vapid_key")
    made = capsys.readouterr().out.strip()
    settings.VAPID_PRIVATE_KEY = made

    public = base64.urlsafe_b64decode(push.push_public_key() + "==")
    assert len(public) == 65 and public[0] == 4
    assert push.push_key_check() == []
    settings.VAPID_PRIVATE_KEY = "not-a-key"
    assert [m.id for m in push.push_key_check()] == ["fieldops.E110"]


def test_logs_never_hold_a_push_endpoint():
    line = "POST https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bHun failed"
    assert "dQw4w9WgXcQ" not in redact(line)
    assert "fcm.googleapis.com" in redact(line)


def test_a_failed_push_is_logged_by_its_service_without_the_endpoint(
    cast, service, push_on, settings, caplog
):
    settings.PUSH_TIMEOUT_SECONDS = 0.2
    sender = push.push_sender()
    subscribe(cast.medic, service, "hang")

    sos_raise(participant=cast.marshal_a, **HERE)
    push.push_sweep()
    until(sender.idle)
    service.release.set()

    failures = [r.getMessage() for r in caplog.records if "push to" in r.getMessage()]
    assert failures == [f"push to {service.origin} failed (ReadTimeout)"]
    assert PushSubscription.objects.exists()  # a timeout is not a gone subscription
    assert JournalEntry.objects.filter(kind="sos.raised").exists()


def test_check_deploy_says_push_is_off_without_a_vapid_key():
    from .test_deploy_check import run_manage

    done = run_manage("check", "--deploy", "--fail-level", "WARNING", VAPID_PRIVATE_KEY="")

    assert done.returncode != 0
    assert "fieldops.W110" in done.stderr and "VAPID_PRIVATE_KEY" in done.stderr
