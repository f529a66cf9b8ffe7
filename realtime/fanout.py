"""Publishing journal entries and control messages to channel-layer groups.

A journal entry is serialized once, at write time; what travels is that text, so every worker writes
the same bytes to each of its local sockets without touching the ORM.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import groups

ENTRY_MESSAGE = "journal.entry"
REVOKE_MESSAGE = "session.revoke"

# Tests register callables here to capture what leaves after commit.
listeners: list = []


def publish_entry(*, event_id: int, seq: int, audience: list[str], frame: str) -> None:
    """Send one journal entry to the group of every tag in its audience (one PUBLISH each)."""
    message = {"type": ENTRY_MESSAGE, "seq": seq, "frame": frame}
    for listener in listeners:
        listener(event_id=event_id, seq=seq, audience=audience, frame=frame)
    layer = get_channel_layer()
    send = async_to_sync(layer.group_send)
    for tag in audience:
        # The group rides along: a worker's hub reads all its groups from one channel.
        name = groups.event_group(event_id, tag)
        send(name, {**message, "group": name})


def publish_revocation(*, participant_id: int | None = None, token_id: int | None = None) -> None:
    """Tell every worker to close the sockets of a revoked participant or device at once."""
    layer = get_channel_layer()
    send = async_to_sync(layer.group_send)
    if participant_id is not None:
        send(groups.participant_group(participant_id), {"type": REVOKE_MESSAGE})
    if token_id is not None:
        send(groups.token_group(token_id), {"type": REVOKE_MESSAGE})
