"""Publishing journal entries and control messages to channel-layer groups.

A journal entry is serialized once, at write time; what travels is that text, so every worker writes
the same bytes to each of its local sockets without touching the ORM.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import groups
from .redis_publish import redis_publisher

ENTRY_MESSAGE = "journal.entry"
REVOKE_MESSAGE = "session.revoke"

# Tests register callables here to capture what leaves after commit.
listeners: list = []


def publish_entries(entries: list[tuple[int, int, list[str], str]]) -> None:
    """Send journal entries, each as (event_id, seq, audience, frame), to the group of every tag in
    its audience, in order. This runs while the event's write lock is held: its time is every other
    writer's wait, so the Redis layer is written to straight from this thread (redis_publish.py).
    """
    sends = []
    for event_id, seq, audience, frame in entries:
        for listener in listeners:
            listener(event_id=event_id, seq=seq, audience=audience, frame=frame)
        message = {"type": ENTRY_MESSAGE, "seq": seq, "frame": frame}
        for tag in audience:
            # The group rides along: a worker's hub reads all its groups from one channel.
            name = groups.event_group(event_id, tag)
            sends.append((name, {**message, "group": name}))
    _send(sends)


def publish_revocation(*, participant_id: int | None = None, token_id: int | None = None) -> None:
    """Tell every worker to close the sockets of a revoked participant or device at once."""
    names = []
    if participant_id is not None:
        names.append(groups.participant_group(participant_id))
    if token_id is not None:
        names.append(groups.token_group(token_id))
    _send([(name, {"type": REVOKE_MESSAGE, "group": name}) for name in names])


def _send(sends: list[tuple[str, dict]]) -> None:
    """Send each (group, message) in order: straight to Redis from this thread when the layer is
    channels_redis' pub/sub layer, else through the layer."""
    layer = get_channel_layer()
    publisher = redis_publisher(layer)
    if publisher is not None:
        publisher.publish(sends)
    else:
        async_to_sync(_send_all)(layer, sends)


async def _send_all(layer, sends) -> None:
    for name, message in sends:
        await layer.group_send(name, message)
