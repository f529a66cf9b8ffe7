"""The worker's hub keeps delivering when the channel layer fails a receive."""

import asyncio

from channels.layers import InMemoryChannelLayer

from realtime.delivery import Hub


class FlakyLayer(InMemoryChannelLayer):
    """Fails the first receive, as a dropped Redis connection would."""

    failed = False

    async def receive(self, channel):
        if not self.failed:
            self.failed = True
            raise ConnectionError("connection lost")
        return await super().receive(channel)


class Sink:
    def __init__(self):
        self.got = []

    async def deliver(self, message):
        self.got.append(message["seq"])


async def test_hub_delivers_after_a_failed_receive():
    layer = FlakyLayer()
    hub = Hub(layer)
    sink = Sink()
    await hub.join("ev1.public", sink)
    await layer.group_send("ev1.public", {"type": "journal.entry", "group": "ev1.public", "seq": 7})
    for _ in range(100):
        if sink.got:
            break
        await asyncio.sleep(0.05)
    hub.task.cancel()
    assert layer.failed and sink.got == [7]


async def test_entries_published_from_a_thread_reach_a_hub_on_the_redis_layer(tmp_path):
    # Journal entries are PUBLISHed with a blocking client from the database thread, beside
    # channels_redis; a worker's hub, subscribed through the layer, must hear each one, in order.
    from asgiref.sync import sync_to_async
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from realtime.redis_publish import redis_publisher

    from .servers import redis_server

    with redis_server(tmp_path) as url:
        layer = RedisPubSubChannelLayer(hosts=[url])
        publisher = redis_publisher(layer)
        assert publisher is not None
        hub = Hub(layer)
        sink = Sink()
        await hub.join("ev1.public", sink)
        sends = [
            ("ev1.public", {"type": "journal.entry", "group": "ev1.public", "seq": seq})
            for seq in range(1, 51)
        ]
        await sync_to_async(publisher.publish, thread_sensitive=False)(sends)
        for _ in range(100):
            if len(sink.got) == 50:
                break
            await asyncio.sleep(0.05)
        hub.task.cancel()
        await layer.flush()
    assert sink.got == list(range(1, 51))


def test_other_layers_are_published_to_through_the_layer():
    from realtime.redis_publish import redis_publisher

    assert redis_publisher(InMemoryChannelLayer()) is None
