"""Sending Web Push messages: encrypted for the browser (RFC 8291, `aes128gcm`) by pywebpush,
signed with the server's VAPID key (RFC 8292) by py-vapid, posted to the push service (RFC 8030)
with requests. It knows nothing of Fieldops: fieldops/services/push.py decides what goes to whom.

Nothing here waits for a push service on anyone's behalf. Each push service (an entry of
PUSH_SERVICE_HOSTS) has its own bounded queue and its own few threads, so a service that is slow
or down holds up only its own messages, never another service's, and never the caller: `send`
queues and returns at once. Every request has a timeout (to connect and to each read), follows no
redirect and uses no proxy or netrc from the environment. What became of each message comes back
as an `Outcome` through `take_outcomes`, read by the caller's next sweep: the sending threads never
touch the database.

Endpoints and keys are personal data and capability URLs: nothing here logs them. A failure is
logged by its push service's name (the allow-list entry), its HTTP status or exception type.
"""

import base64
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher

log = logging.getLogger(__name__)

MAX_QUEUED_PER_SERVICE = 5000  # beyond it a message is dropped (and counted), never waited for
VAPID_TOKEN_SECONDS = 12 * 3600  # a signature's life (RFC 8292 allows 24 h)
VAPID_RESIGN_SECONDS = 3600  # signed anew this often, well before it expires
GONE = frozenset({404, 410})  # the subscription no longer exists: delete it
COUNTER_NAMES = ("sent", "gone", "failed", "dropped")
LOG_EVERY_SECONDS = 60.0


# --- Keys ------------------------------------------------------------------------------------------


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def vapid_key_generate() -> str:
    """A new VAPID private key: a P-256 private number, 32 bytes, base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def _vapid(private_key: str) -> Vapid02:
    vapid = Vapid02.from_string(private_key.strip())
    vapid.conf = {"no-strict": True}  # the subject is checked by the system check, not here
    return vapid


def vapid_public_key(private_key: str) -> str:
    """The public half of a VAPID private key, as browsers take it for `applicationServerKey`
    (the uncompressed P-256 point, base64url). ValueError if the private key is not one."""
    try:
        public = _vapid(private_key).public_key
    except Exception as exc:  # py-vapid raises whatever its decoders raise
        raise ValueError("not a VAPID private key (P-256, base64url)") from exc
    raw = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(raw)


# --- Which push service ----------------------------------------------------------------------------


def service_of(endpoint: str, allowed: list[str]) -> str | None:
    """The entry of the allow-list this endpoint belongs to, or None: a host name (https, default
    port; "*.example.org" matches its subdomains) or a whole origin ("http://127.0.0.1:8123")."""
    try:
        url = urlsplit(endpoint)
        host, port = (url.hostname or "").lower(), url.port
    except ValueError:
        return None
    if url.username is not None or url.password is not None or not host:
        return None
    for entry in allowed:
        entry = entry.strip().lower()
        if "://" in entry:
            origin = urlsplit(entry)
            try:
                same_port = (origin.port or _default_port(origin.scheme)) == (
                    port or _default_port(url.scheme)
                )
            except ValueError:
                continue
            if url.scheme == origin.scheme and host == origin.hostname and same_port:
                return entry
            continue
        if url.scheme != "https" or port not in (None, 443):
            continue
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return entry
        elif host == entry:
            return entry
    return None


def _default_port(scheme: str) -> int | None:
    return {"https": 443, "http": 80}.get(scheme)


# --- Sending ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One push: `ref` is the caller's (its subscription's id), returned in the outcome."""

    ref: int
    endpoint: str
    p256dh: str
    auth: str
    payload: bytes
    ttl: int
    urgency: str = "normal"  # RFC 8030: very-low, low, normal, high
    topic: str | None = None  # a later message with the same topic replaces one not yet delivered


@dataclass(frozen=True)
class Outcome:
    ref: int
    ok: bool
    gone: bool  # 404 or 410: the subscription no longer exists
    status: int | None  # the HTTP status, None if no answer came


class Sender:
    """Queues messages per push service and sends them from that service's own threads."""

    def __init__(
        self,
        *,
        private_key: str,
        subject: str,
        timeout: float,
        threads: int,
        on_outcome=None,
        max_queued: int = MAX_QUEUED_PER_SERVICE,
    ):
        self.vapid = _vapid(private_key)
        self.subject = subject
        self.timeout = timeout
        self.threads = max(1, threads)
        self.max_queued = max_queued
        self.on_outcome = on_outcome  # called in a sending thread after each outcome
        self.outcomes: deque[Outcome] = deque()
        self._queues: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()
        self._signed: dict[str, tuple[str, float]] = {}
        self._local = threading.local()
        self._stopped = threading.Event()

    def send(self, message: Message, *, service: str) -> bool:
        """Queue a message for its push service's threads; False (and counted as dropped) if that
        service's queue is full. Never blocks."""
        try:
            self._queue(service).put_nowait(message)
        except queue.Full:
            counter_add("dropped")
            return False
        return True

    def take_outcomes(self) -> list[Outcome]:
        """What became of the messages sent since the last call."""
        taken = []
        while True:
            try:
                taken.append(self.outcomes.popleft())
            except IndexError:
                return taken

    def stop(self) -> None:
        """Let the threads end once their current request is over; queued messages are dropped."""
        self._stopped.set()
        with self._lock:
            for q in self._queues.values():
                for _ in range(self.threads):
                    try:
                        q.put_nowait(None)  # wakes a waiting thread, which then ends
                    except queue.Full:
                        break

    def idle(self) -> bool:
        """Whether nothing is queued or being sent (or the sender was stopped)."""
        with self._lock:
            queues = list(self._queues.values())
        return self._stopped.is_set() or all(q.unfinished_tasks == 0 for q in queues)

    def _queue(self, service: str) -> queue.Queue:
        with self._lock:
            found = self._queues.get(service)
            if found is None:
                found = self._queues[service] = queue.Queue(self.max_queued)
                for number in range(self.threads):
                    threading.Thread(
                        target=self._work,
                        args=(service, found),
                        name=f"fieldops-push-{number}",
                        daemon=True,
                    ).start()
            return found

    def _work(self, service: str, messages: queue.Queue) -> None:
        while not self._stopped.is_set():
            message = messages.get()
            try:
                if message is None:
                    return
                outcome = self._post(service, message)
                self.outcomes.append(outcome)
                if self.on_outcome is not None:
                    self.on_outcome(outcome)
            except Exception:
                log.exception("push to %s: the sending thread failed", service)
            finally:
                messages.task_done()

    def _post(self, service: str, message: Message) -> Outcome:
        try:
            keys = {"p256dh": message.p256dh, "auth": message.auth}
            pusher = WebPusher({"endpoint": message.endpoint, "keys": keys})
            body = pusher.encode(message.payload, "aes128gcm")["body"]
            headers = {
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": str(message.ttl),
                "Urgency": message.urgency,
                "Authorization": self._authorization(message.endpoint),
            }
            if message.topic:
                headers["Topic"] = message.topic
            response = self._session().post(
                message.endpoint,
                data=body,
                headers=headers,
                timeout=(self.timeout, self.timeout),
                allow_redirects=False,
            )
            status = response.status_code
            response.close()
        except Exception as exc:  # a timeout, a refused connection, a bad key: never the endpoint
            counter_add("failed")
            log.warning("push to %s failed (%s)", service, type(exc).__name__)
            return Outcome(message.ref, ok=False, gone=False, status=None)
        if 200 <= status < 300:
            counter_add("sent")
            return Outcome(message.ref, ok=True, gone=False, status=status)
        if status in GONE:
            counter_add("gone")
            return Outcome(message.ref, ok=False, gone=True, status=status)
        counter_add("failed")
        log.warning("push to %s failed (HTTP %d)", service, status)
        return Outcome(message.ref, ok=False, gone=False, status=status)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # no proxy, no netrc credentials: straight to the service
        return session

    def _authorization(self, endpoint: str) -> str:
        """The VAPID header for the endpoint's origin, signed at most once an hour per origin."""
        url = urlsplit(endpoint)
        audience = f"{url.scheme}://{url.netloc}"
        now = time.time()
        with self._lock:
            signed = self._signed.get(audience)
            if signed is not None and now - signed[1] < VAPID_RESIGN_SECONDS:
                return signed[0]
        claims = {"aud": audience, "sub": self.subject, "exp": int(now) + VAPID_TOKEN_SECONDS}
        header = self.vapid.sign(claims)["Authorization"]
        with self._lock:
            self._signed[audience] = (header, now)
        return header


# --- Counters --------------------------------------------------------------------------------------

_counter_lock = threading.Lock()
_counters = dict.fromkeys(COUNTER_NAMES, 0)
_logged = dict(_counters)
_logged_at = 0.0


def counter_add(name: str, amount: int = 1) -> None:
    with _counter_lock:
        _counters[name] += amount


def counters() -> dict[str, int]:
    with _counter_lock:
        return dict(_counters)


def counters_log_if_changed(*, now: float | None = None) -> None:
    """One line with every push counter, at most once a minute, and only when one moved."""
    global _logged, _logged_at
    now = time.monotonic() if now is None else now
    values = counters()
    if values == _logged or now - _logged_at < LOG_EVERY_SECONDS:
        return
    _logged, _logged_at = values, now
    log.info("push counters: %s", " ".join(f"{k}={v}" for k, v in values.items()))
