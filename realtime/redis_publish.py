"""The publisher thread: journal entries leave for Redis without anyone waiting for Redis.

Entries are queued on commit (fanout.py) and a thread of their own PUBLISHes them, in the order they
were queued, which within one process is seq order. A writer never waits for the broker, so the
event's write lock is never held through a Redis timeout or redis-py's retries, and an action is
acknowledged as soon as it is committed. When Redis does not answer, the queued messages are
counted as failed and dropped, and publishing is tried again a second later: every worker's hub
repairs the missing entries from the journal (realtime/hub.py). Entries from two workers may reach
Redis out of order; hubs put them back in order.

For channels_redis' RedisPubSubChannelLayer this module PUBLISHes the very bytes the layer would, to
the very Redis channels it would, with a blocking client. It follows channels_redis 4.3 (pinned in
requirements.txt): the group channel name, the shard choice and the serializer are the layer's; the
multi-worker tests prove a worker's hub still hears every entry. Other layers that cross processes
are sent to through the layer's own group_send, from the same thread; the in-memory layer needs no
publisher at all (one process: its hubs get every entry straight from fanout.py).
"""

import logging
import threading
import time
import weakref
from collections import deque

import redis
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import counters

log = logging.getLogger(__name__)

MAX_QUEUED = 20_000  # messages waiting for Redis; beyond, the oldest are dropped (and repaired)
RETRY_SECONDS = 1.0  # after a failure, messages are dropped at once for this long
SOCKET_TIMEOUT = 2.0


class Publisher:
    """A queue and the thread that empties it through `write`."""

    def __init__(self) -> None:
        self.queue: deque = deque()
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.down_until = 0.0
        self.down = False

    def publish(self, sends: list[tuple[str, dict]]) -> None:
        """Queue (group, message) pairs; returns at once."""
        with self.cond:
            self.queue.extend(sends)
            overflow = len(self.queue) - MAX_QUEUED
            for _ in range(max(0, overflow)):
                self.queue.popleft()
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="fieldops-publish", daemon=True
                )
                self.thread.start()
            self.cond.notify()
        if overflow > 0:
            counters.add("publishes_failed", overflow)

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue:
                    self.cond.wait()
                sends = list(self.queue)
                self.queue.clear()
            if time.monotonic() < self.down_until:
                counters.add("publishes_failed", len(sends))
                continue
            try:
                self.write(sends)
            except Exception as exc:
                counters.add("publishes_failed", len(sends))
                self.down_until = time.monotonic() + RETRY_SECONDS
                if not self.down:
                    self.down = True
                    log.warning(
                        "publishing to the channel layer failed (%s); workers deliver from the "
                        "journal until it works again",
                        type(exc).__name__,
                    )
                continue
            if self.down:
                self.down = False
                log.warning("publishing to the channel layer works again")

    def write(self, sends: list[tuple[str, dict]]) -> None:
        raise NotImplementedError

    def ping(self) -> bool | None:
        """Whether the broker answers now; None when this publisher cannot tell."""
        return None


class RedisPublisher(Publisher):
    def __init__(self, layer: RedisPubSubChannelLayer) -> None:
        super().__init__()
        self.layer = layer
        self.prefix = layer._kwargs.get("prefix", "asgi")
        self.clients = [
            redis.Redis.from_url(
                host["address"],
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
                retry=Retry(NoBackoff(), 0),  # the journal repairs; retrying only holds the queue
            )
            for host in _hosts(layer)
        ]

    def write(self, sends: list[tuple[str, dict]]) -> None:
        if len(self.clients) == 1:  # one connection keeps the order: one round trip for all
            pipe = self.clients[0].pipeline(transaction=False)
            for group, message in sends:
                pipe.publish(self._channel(group), self.layer.serialize(message))
            pipe.execute()
            return
        for group, message in sends:
            channel = self._channel(group)
            client = self.clients[_consistent_hash(channel, len(self.clients))]
            client.publish(channel, self.layer.serialize(message))

    def ping(self) -> bool:
        try:
            return all(client.ping() for client in self.clients)
        except (redis.RedisError, OSError):
            return False

    def _channel(self, group: str) -> str:
        return f"{self.prefix}__group__{group}"


class LayerPublisher(Publisher):
    def __init__(self, layer) -> None:
        super().__init__()
        self.layer = layer

    def write(self, sends: list[tuple[str, dict]]) -> None:
        async_to_sync(_send_all)(self.layer, sends)


async def _send_all(layer, sends) -> None:
    for name, message in sends:
        await layer.group_send(name, message)


def _hosts(layer) -> list[dict]:
    return decode_hosts(layer._kwargs.get("hosts"))


_publishers: "weakref.WeakKeyDictionary[object, Publisher]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def publisher_for(layer) -> Publisher | None:
    """The publisher for this layer; None for the in-memory layer, which stays in one process."""
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return None
    with _lock:
        publisher = _publishers.get(layer)
        if publisher is None:
            redis_urls = isinstance(layer, RedisPubSubChannelLayer) and all(
                set(host) == {"address"} for host in _hosts(layer)
            )
            publisher = RedisPublisher(layer) if redis_urls else LayerPublisher(layer)
            _publishers[layer] = publisher
    return publisher
