"""Publishing journal entries and control messages to channel-layer groups.

A journal entry is serialized once, at write time; what travels is that text, so every worker writes
the same bytes to each of its local sockets without touching the ORM.
"""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import groups

ENTRY_MESSAGE = "journal.entry"
REVOKE_MESSAGE = "session.revoke"

# Tests register callables here to capture what leaves after commit.
listeners: list = []


def publish_entries(entries: list[tuple[int, int, list[str], str]]) -> None:
    """Send journal entries, each as (event_id, seq, audience, frame), to the group of every tag in
    its audience, in order.

    One hop to the event loop for the whole commit, and one entry's PUBLISHes go out together: this
    runs while the event's write lock is held, so its time is every other writer's wait.
    """
    for event_id, seq, audience, frame in entries:
        for listener in listeners:
            listener(event_id=event_id, seq=seq, audience=audience, frame=frame)
    async_to_sync(_send_entries)(get_channel_layer(), entries)


async def _send_entries(layer, entries) -> None:
    for event_id, seq, audience, frame in entries:
        message = {"type": ENTRY_MESSAGE, "seq": seq, "frame": frame}
        # The group rides along: a worker's hub reads all its groups from one channel.
        names = [groups.event_group(event_id, tag) for tag in audience]
        # Entries stay in seq order (the next one waits); one entry's groups need no order.
        await asyncio.gather(
            *(layer.group_send(name, {**message, "group": name}) for name in names)
        )


def publish_revocation(*, participant_id: int | None = None, token_id: int | None = None) -> None:
    """Tell every worker to close the sockets of a revoked participant or device at once."""
    layer = get_channel_layer()
    send = async_to_sync(layer.group_send)
    if participant_id is not None:
        send(groups.participant_group(participant_id), {"type": REVOKE_MESSAGE})
    if token_id is not None:
        send(groups.token_group(token_id), {"type": REVOKE_MESSAGE})
