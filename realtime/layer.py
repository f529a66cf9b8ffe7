"""The Redis channel layer: channels_redis' pub/sub layer, with a receiving task that sleeps.

channels_redis 4.3 (pinned in requirements.txt) reads its subscriptions by asking Redis for a
message with a 0.1 s timeout, in a loop: ten wake-ups a second per worker while nothing arrives,
each a trip through redis-py's reader and the event loop. Without them a worker at rest spent
about a quarter less CPU on the bench machine, CPU that every fan-out figure counts
(docs/performance.md, "Where the time goes"). `PubSubLayer` is the same layer whose receiving
task waits on the socket until a message comes: subscribing and unsubscribing meanwhile only write
to the connection, and their confirmations arrive through the same read.

What Redis sends is handled as channels_redis handles it (`_receive_message`), and a connection that
fails is reported and retried as there: redis-py reconnects and subscribes again on the next read,
and what was published meanwhile is repaired from the journal (realtime/hub.py).
"""

import asyncio
import logging

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close

# channels_redis' own logger: its records go through the same filters (fieldops/logfilters.py).
logger = logging.getLogger("channels_redis.pubsub")

RETRY_SECONDS = 1.0  # after a failed read, as channels_redis waits
IDLE_SECONDS = 0.1  # nothing subscribed yet: look again this often, as channels_redis does


class _Shard(RedisSingleShardConnection):
    async def _do_receiving(self):
        while True:
            try:
                pubsub = self._pubsub
                if pubsub is not None and pubsub.subscribed:
                    # timeout=None: wait on the socket for as long as nothing is published.
                    self._receive_message(
                        await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    )
                else:
                    await asyncio.sleep(IDLE_SECONDS)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except BaseException:
                logger.exception("Unexpected exception in receive task")
                await asyncio.sleep(RETRY_SECONDS)


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shards = [_Shard(shard.host, self) for shard in self._shards]


class PubSubLayer(RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer`, receiving without polling."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
            return layer
