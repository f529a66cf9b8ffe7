"""Publishing journal entries and revocations after commit, without waiting for anything.

`publish_entries` runs on commit, in the committing thread, while the event's write lock is held. It
hands the entries to this process's hubs (a thread-safe call into their event loops) and queues them
for the publisher thread, which PUBLISHes each once, to its event's stream, for the other workers
(realtime/redis_publish.py). Nothing here waits for Redis or raises: what Redis does not take, every
hub repairs from the journal (realtime/hub.py), so an `ack` means committed whatever the broker does.
Each entry travels as the text it was serialized to at write time: every worker writes the same
bytes to each of its sockets without touching the ORM.
"""

import logging

from channels.layers import get_channel_layer

from . import counters, streams
from .local import ENTRIES, ENTRY, REVOKE, hubs_take
from .redis_publish import publisher_for

log = logging.getLogger(__name__)

# Tests register callables here to capture what leaves after commit.
listeners: list = []


def publish_entries(entries: list[tuple[int, int, list[str], str]]) -> None:
    """Send journal entries, each as (event_id, seq, audience tags, frame), in order: one message
    per run of consecutive entries of one event."""
    messages: list[dict] = []
    for event_id, seq, audience, frame in entries:
        for listener in listeners:
            listener(event_id=event_id, seq=seq, audience=audience, frame=frame)
        last = messages[-1] if messages else None
        if last is not None and last["event"] == event_id:
            if last["type"] == ENTRY:  # a second one of the event: the run becomes one message
                last["type"] = ENTRIES
                last["entries"] = [[last.pop("seq"), last.pop("audience"), last.pop("frame")]]
            last["entries"].append([seq, list(audience), frame])
            continue
        messages.append(
            {
                "type": ENTRY,
                "event": event_id,
                "seq": seq,
                "audience": list(audience),
                "frame": frame,
            }
        )
    _send(messages)


def publish_revocation(
    *, event_id: int, participants: list[int] = (), tokens: list[int] = (), rescoped: list[int] = ()
) -> None:
    """Tell every worker to close, at once, the sockets of revoked participants and device tokens
    (4403), and those of participants whose role or group changed (4409: reconnect)."""
    message = {
        "type": REVOKE,
        "event": event_id,
        "participants": list(participants),
        "tokens": list(tokens),
        "rescoped": list(rescoped),
    }
    _send([message])


def _send(messages: list[dict]) -> None:
    try:
        hubs_take(messages)
        publisher = publisher_for(get_channel_layer())
        if publisher is not None:
            publisher.publish([(streams.event_stream(m["event"]), m) for m in messages])
    except Exception:
        # Never raise into a commit hook: the caller's action is committed, and the journal
        # repairs what did not leave.
        log.exception("publishing %d messages failed", len(messages))
        counters.add("publishes_failed", len(messages))
