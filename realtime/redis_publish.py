"""Publishing journal entries from the database thread straight to Redis.

An entry is published while its event's write lock is held, so that entries leave in seq order.
Through the channel layer, that publish is a hop from the database thread to the worker's event
loop, which may be busy writing an alert to thousands of sockets: every writer of the event, in every
worker, waited for that loop (docs/performance.md). For channels_redis' RedisPubSubChannelLayer this
module PUBLISHes the very bytes the layer would, to the very Redis channels it would, with a
blocking client instead. It follows channels_redis 4.3 (pinned in requirements.txt): the group
channel name, the shard choice and the serializer are the layer's; the multi-worker tests prove a
worker's hub still hears every entry.
"""

import weakref

import redis
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts


class RedisPublisher:
    def __init__(self, layer: RedisPubSubChannelLayer) -> None:
        self.layer = layer
        self.prefix = layer._kwargs.get("prefix", "asgi")
        self.clients = [redis.Redis.from_url(host["address"]) for host in _hosts(layer)]

    def publish(self, sends: list[tuple[str, dict]]) -> None:
        """PUBLISH each (group, message) in order; returns once Redis has passed them all on."""
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

    def _channel(self, group: str) -> str:
        return f"{self.prefix}__group__{group}"


def _hosts(layer) -> list[dict]:
    return decode_hosts(layer._kwargs.get("hosts"))


_publishers: "weakref.WeakKeyDictionary[object, RedisPublisher]" = weakref.WeakKeyDictionary()


def redis_publisher(layer) -> RedisPublisher | None:
    """A blocking publisher for this layer, or None when the layer is not one it can stand in for
    (another layer, or Redis hosts given other than as URLs, such as Sentinel)."""
    if not isinstance(layer, RedisPubSubChannelLayer):
        return None
    if not all(set(host) == {"address"} for host in _hosts(layer)):
        return None
    publisher = _publishers.get(layer)
    if publisher is None:
        publisher = _publishers[layer] = RedisPublisher(layer)
    return publisher
