"""GET /metrics: this worker's metrics for Prometheus, behind a bearer token (docs/deployment.md,
"Metrics").

Answered in front of Django, on the worker's event loop: the hubs' state it reports lives on that
loop, a scrape never waits behind the worker's database thread, and Prometheus can ask each worker
on its own 127.0.0.1 port over plain HTTP (Django's HTTPS redirect and host check are for the
public site, behind the proxy). Without METRICS_TOKEN the path is Django's like any other (404).

The database and Redis are probed at scrape time, each from a thread of its own and for at most
PROBE_SECONDS: a probe still hanging from an earlier scrape counts as down without another one.
"""

import asyncio
import hmac
import threading
import time
from concurrent.futures import Future

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from prometheus_client.metrics_core import GaugeMetricFamily

from realtime import metrics
from realtime.redis_publish import publisher_for

PATH = "/metrics"
PROBE_SECONDS = 1.0


class Probe:
    """Runs `check` (True: it answers) in a thread of its own, one at a time: scrapes that come
    while it runs share its answer, and one that comes after it should have answered finds it down.
    A daemon thread: one that hangs on an unreachable host must not hold up the worker's exit."""

    def __init__(self, name: str) -> None:
        self.name = f"fieldops-probe-{name}"
        self.running: Future | None = None
        self.started = 0.0

    async def __call__(self, check) -> bool:
        now = time.monotonic()
        if self.running is None or self.running.done():
            self.running, self.started = Future(), now
            threading.Thread(
                target=_settle, args=(self.running, check), name=self.name, daemon=True
            ).start()
        remaining = self.started + PROBE_SECONDS - now
        if remaining <= 0:
            return False  # an earlier probe still hangs
        try:
            answer = asyncio.shield(asyncio.wrap_future(self.running))
            return bool(await asyncio.wait_for(answer, remaining))
        except Exception:
            return False


def _settle(future: Future, check) -> None:
    try:
        future.set_result(check())
    except Exception as exc:
        future.set_exception(exc)


_database_probe = Probe("database")
_redis_probe = Probe("redis")


def database_answers() -> bool:
    """One `SELECT 1` on a connection of the probe's own, closed again (a scrape every 15 s needs
    no connection kept open)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False
    finally:
        connection.close()


async def health() -> GaugeMetricFamily:
    """`fieldops_up{target}`: 1 when the database (and Redis, when workers share one) answered."""
    family = GaugeMetricFamily(
        "fieldops_up",
        f"1 when the target answered a probe within {PROBE_SECONDS:g} s at this scrape, else 0.",
        labels=["target"],
    )
    family.add_metric(["database"], float(await _database_probe(database_answers)))
    publisher = publisher_for(get_channel_layer())
    if publisher is not None:
        family.add_metric(["redis"], float(await _redis_probe(publisher.ping)))
    return family


def authorized(scope) -> bool:
    """Whether the request carries `Authorization: Bearer <METRICS_TOKEN>` (compared in constant
    time)."""
    expected = f"Bearer {settings.METRICS_TOKEN}".encode()
    sent = dict(scope.get("headers") or ()).get(b"authorization", b"")
    return hmac.compare_digest(sent, expected)


def worker_name(scope) -> str | None:
    """The port this worker listens on, as the ASGI server says (not the client's Host header)."""
    server = scope.get("server")
    if server and server[1] is not None:
        return str(server[1])
    return None


class MetricsEndpoint:
    """ASGI wrapper: GET /metrics here, everything else to `app`."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != PATH or not settings.METRICS_TOKEN:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _reply(send, 405, b"GET only\n", [(b"allow", b"GET, HEAD")])
        elif not authorized(scope):
            await _reply(send, 401, b"A bearer token is required.\n",
                         [(b"www-authenticate", b'Bearer realm="metrics"')])  # fmt: skip
        else:
            body = metrics.exposition(worker=worker_name(scope), extra=[_Once(await health())])
            if scope["method"] == "HEAD":
                body = b""
            await _reply(send, 200, body, content_type=metrics.CONTENT_TYPE.encode())


class _Once:
    def __init__(self, family) -> None:
        self.family = family

    def collect(self):
        yield self.family


async def _reply(send, status: int, body: bytes, headers=(), content_type=b"text/plain"):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
