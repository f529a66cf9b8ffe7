"""The hubs of this process, reachable from any thread: how an entry committed here reaches this
worker's sockets without a round trip through Redis (and while Redis is down)."""

import asyncio
import threading

ENTRY = "journal.entry"
# Several consecutive entries of one event, committed together (a batch of check-ins): one message,
# so each worker reads, decodes and queues it once (`entries`: [seq, audience, frame] each).
ENTRIES = "journal.entries"
REVOKE = "session.revoke"

_lock = threading.Lock()
_hubs: dict = {}  # event loop: its hub


def hub_for(layer, factory):
    """The hub of the running event loop for `layer`, made by `factory(layer)` if there is none."""
    loop = asyncio.get_running_loop()
    with _lock:
        hub = _hubs.get(loop)
        if hub is None or hub.layer is not layer:
            for old in [other for other in _hubs if other.is_closed()]:
                del _hubs[old]
            hub = _hubs[loop] = factory(layer)
    return hub


def hub_of(loop):
    """The hub of this event loop, if it has one (to read its state, on that loop)."""
    with _lock:
        return _hubs.get(loop)


def hubs_take(messages: list[dict]) -> None:
    """Hand messages to every hub of this process, from any thread, in the order given."""
    with _lock:
        hubs = list(_hubs.items())
    for loop, hub in hubs:
        if not hub.feeds:
            continue
        try:
            loop.call_soon_threadsafe(hub.take, messages)
        except RuntimeError:  # that loop has closed
            pass
