"""The Redis channel layer the workers run (realtime/layer.py): channels_redis' pub/sub layer whose
receiving task waits on the socket rather than waking ten times a second, and still hears every
group message, across subscriptions made while it waits and across a Redis restart."""

import asyncio

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer

from fieldops.kit.processes import redis_proc
from realtime.layer import PubSubLayer

pytestmark = pytest.mark.multiworker


@pytest.fixture
def redis(tmp_path):
    """A private redis-server, started; the test may kill and start it again."""
    proc = redis_proc(tmp_path)
    proc.start()
    yield proc
    proc.stop()


def url_of(redis) -> str:
    return f"redis://127.0.0.1:{redis.port}/0"


@pytest.fixture
async def layer(redis):
    layer = PubSubLayer(hosts=[url_of(redis)])
    yield layer
    await layer.flush()


async def receive(layer, channel, timeout=5):
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def member_of(layer, *groups) -> str:
    """A new channel of `layer`, added to `groups`."""
    channel = await layer.new_channel(prefix="test")
    for group in groups:
        await layer.group_add(group, channel)
    return channel


def reads_counted(layer) -> list[int]:
    """Count the reads the layer's receiving task makes from Redis (each poll is one)."""
    pubsub = layer._get_layer()._shards[0]._pubsub
    count = [0]
    real = pubsub.parse_response

    async def counted(*args, **kwargs):
        count[0] += 1
        return await real(*args, **kwargs)

    pubsub.parse_response = counted
    return count


async def quiet_reads(layer) -> int:
    """The reads `layer` makes from Redis in a second when nothing is published."""
    try:
        channel = await member_of(layer, "g")
        await layer.group_send("g", {"type": "warm"})
        assert (await receive(layer, channel))["type"] == "warm"
        count = reads_counted(layer)
        await asyncio.sleep(1.0)
        return count[0]
    finally:
        await layer.flush()


async def test_the_layer_does_not_poll_redis_while_nothing_is_published(redis):
    assert await quiet_reads(RedisPubSubChannelLayer(hosts=[url_of(redis)])) >= 5  # its own: 10/s
    assert await quiet_reads(PubSubLayer(hosts=[url_of(redis)])) <= 1


async def test_groups_joined_and_left_while_it_waits_take_effect(layer):
    channel = await member_of(layer, "first")
    await asyncio.sleep(0.2)  # the receiving task is now waiting on the socket
    await layer.group_add("second", channel)
    await layer.group_send("second", {"type": "two"})
    assert (await receive(layer, channel))["type"] == "two"
    await layer.group_discard("second", channel)
    await layer.group_send("second", {"type": "gone"})
    await layer.group_send("first", {"type": "one"})
    assert (await receive(layer, channel))["type"] == "one"


async def test_it_hears_the_group_again_after_redis_restarts(redis, layer):
    channel = await member_of(layer, "g")
    await layer.group_send("g", {"type": "before"})
    assert (await receive(layer, channel))["type"] == "before"
    redis.kill()
    await asyncio.sleep(0.3)
    redis.start()

    async def heard():
        while True:
            try:
                await layer.group_send("g", {"type": "after"})
            except Exception:  # noqa: BLE001, S110 - the publishing side reconnects too
                pass
            try:
                return await asyncio.wait_for(layer.receive(channel), 0.5)
            except TimeoutError:
                continue

    assert (await asyncio.wait_for(heard(), 15))["type"] == "after"


def test_workers_with_redis_run_this_layer():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0",
           "DJANGO_SETTINGS_MODULE": "fieldops.settings.local"}  # fmt: skip
    env.pop("DATABASE_URL", None)
    code = "import django; django.setup(); from django.conf import settings as s; " \
        "print(s.CHANNEL_LAYERS['default']['BACKEND'])"  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=Path(__file__).resolve().parent.parent,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "realtime.layer.PubSubLayer"
