"""Delivering journal entries to a worker's sockets cheaply (docs/performance.md).

- `Hub` / `Delivery`: one channel-layer subscription per audience group per worker, instead of a
  channel and a wake-up per socket;
- `gc_tune`: garbage-collector settings for a process holding many sockets.

Each delivery allocates a handful of short-lived objects; with the default thresholds (700, 10, 10)
the collector runs every few hundred deliveries and its older generations walk every live object,
and a worker holding thousands of sockets holds millions of them. Freezing what exists once the
worker has started (modules, settings, URL patterns) and collecting the young generation less often
keeps the cost per delivery flat as sockets are added (docs/performance.md).
"""

import asyncio
import gc
import logging
import time
import weakref

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 50_000
RENEW_SECONDS = 600.0


def gc_tune() -> None:
    """Move everything alive now out of the collector's sight and raise the young threshold."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


class Hub:
    """One channel-layer subscription per audience group for this worker, fed to its local sockets.

    Stock Channels gives every socket its own channel: a group message is copied into each member's
    queue, and each consumer wakes up (`asyncio.wait` on its queue and its socket), dispatches and
    sends. Here a worker subscribes once per group on one channel of its own and writes each entry's
    text to the sockets that joined the group, in the order the layer delivers them, one after the
    other on the event loop. A socket that is busy (connecting, answering a frame, replaying) holds
    entries and sends them when it is done, as its own channel would have (see `Delivery`).
    """

    def __init__(self, layer) -> None:
        self.layer = layer
        self.members: dict[str, set] = {}
        self.renewed: dict[str, float] = {}  # group: when the layer last heard of it
        self.channel: str | None = None
        self.lock = asyncio.Lock()
        self.task: asyncio.Task | None = None

    async def join(self, group: str, sink) -> None:
        """Once this returns, every entry published to `group` reaches `sink.deliver`."""
        async with self.lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel(prefix="hub")
                self.task = asyncio.get_running_loop().create_task(self._pump())
            # The layer hears of a group when it is new to this worker, and again now and then:
            # the in-memory layer forgets members after its group_expiry. Asking it at every
            # join queued each connect behind the Redis layer's publishes (one lock per shard).
            now = time.monotonic()
            if now - self.renewed.get(group, -RENEW_SECONDS) >= RENEW_SECONDS:
                await self.layer.group_add(group, self.channel)
                self.renewed[group] = now
            self.members.setdefault(group, set()).add(sink)

    async def leave(self, group: str, sink) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None:
                return
            members.discard(sink)
            if not members:
                del self.members[group]
                self.renewed.pop(group, None)
                await self.layer.group_discard(group, self.channel)

    async def _pump(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A lost Redis connection must not end delivery for the whole worker: the layer
                # reconnects, and clients repair what was missed by resuming from the journal.
                log.exception("receiving from the channel layer failed; retrying")
                await asyncio.sleep(0.5)
                continue
            for sink in tuple(self.members.get(message.get("group"), ())):
                try:
                    await sink.deliver(message)
                except Exception:
                    # One broken socket must not stop delivery to the others; its own
                    # disconnect removes it from the hub.
                    log.exception("delivery to one socket failed")


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub_for(layer) -> Hub:
    """The hub of the running event loop (a worker has one loop; each test has its own)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = Hub(layer)
    return hub


class Delivery:
    """A socket's side of the hub: hold entries while the socket is busy, then send them in order."""

    def __init__(self, send) -> None:
        self.send = send  # async callable taking the journal message
        self.busy = 0
        self.held: list[dict] = []
        self.closed = False

    def close(self) -> None:
        """The socket is gone: drop what is held and ignore what still arrives."""
        self.closed = True
        self.held = []

    async def deliver(self, message: dict) -> None:
        if self.closed:
            return
        if self.busy:
            self.held.append(message)
        else:
            await self.send(message)

    async def flush(self) -> None:
        """Send what was held, including what arrives meanwhile; then deliver directly again."""
        while self.held and not self.closed:
            await self.send(self.held.pop(0))
