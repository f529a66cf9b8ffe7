"""Channel-layer group names: the transport's own groups, not march groups or audiences.

One group per event carries every journal entry and revocation of that event; each worker serving
the event subscribes once and picks its sockets by audience tag (realtime/hub.py). Names follow
channels' rule ^[a-zA-Z0-9\\-_.]+$ and stay under 100 characters.
"""


def event_stream(event_id: int) -> str:
    """The channel-layer group that carries every journal entry and revocation of one event."""
    return f"ev{event_id}"
