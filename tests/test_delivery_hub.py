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
