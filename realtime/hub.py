"""A worker's hub: every journal entry of an event reaches the worker's sockets once, in seq order,
whatever Redis does; what Redis loses is read back from the journal (docs/protocol.md, "Delivery").

- Each entry is published once, to its event's stream (`streams.event_stream`), with its seq and
  audience (realtime/fanout.py). A worker subscribes once per event it serves and picks the local
  sockets by audience tag, so an entry costs one PUBLISH whatever the number of sockets, and the
  hub sees every seq of the event: a missing one is a gap it can notice.
- Entries written in this process also arrive straight from the committing thread, so they reach
  local sockets even while Redis is down; their copy from Redis is then a duplicate, and dropped.
- A `Feed` (one event on this worker) delivers seq n+1 after n. A later entry waits in `ahead` while
  a predecessor is missing, for at most GAP_WAIT (two workers' publishes may cross in Redis); then
  the hub reads the missing entries from the journal and delivers them, in order, before it.
- Every REPAIR_INTERVAL the hub reads the latest seq of each of its events (one statement): an event
  that is still short of what the previous look saw is repaired from the journal. That covers what
  no later entry reveals: the last entries before a quiet spell, a worker killed between COMMIT and
  publish, and a Redis outage, during which this is how entries reach sockets (and the looks come
  four times as often while they keep finding something).

One task (`_dispatch`) delivers everything, so deliveries to a socket never interleave; it never
waits on a socket (realtime/delivery.py), and it never touches the database: reads run in tasks
of their own and hand their rows back through the inbox.
"""

import asyncio
import contextvars
import logging
import time
from typing import NamedTuple

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from marshals.access import scopes_lapsed
from marshals.tokens import credentials_revoked

from . import counters, frames, local, streams
from .replay import journal_range, latest_seq, latest_seqs
from .transport import wire_frame

log = logging.getLogger(__name__)

ENTRY, ENTRIES, REVOKE = local.ENTRY, local.ENTRIES, local.REVOKE
_RELEASE = "hub.release"  # a feed's baseline is known, or a gap timer fired: deliver what can go
_REPAIRED = "hub.repaired"  # rows read from the journal

GAP_WAIT = 0.25  # seconds a later entry waits for a missing one before the journal is read
AHEAD_MAX = 2000  # entries waiting behind a gap before the journal is read at once
REPAIR_BATCH = 500
# Sockets an entry reaches before the worker's other work may run (a few ms of fan-out): one entry
# to 10,000 sockets on a worker takes a fifth of a second, and an SOS's ack must not wait for it.
YIELD_EVERY = 100
DEGRADED_SECONDS = 10.0  # how long a look that had to repair keeps the looks frequent
LAYER_WAIT = 5.0  # seconds a subscription may take before Redis counts as down


class Entry(NamedTuple):
    seq: int
    audience: tuple[str, ...]
    frame: str
    wire: bytes = b""  # the frame as a whole WebSocket frame, built once for every socket


def entry_of(seq: int, audience, frame: str) -> Entry:
    return Entry(seq, tuple(audience), frame, wire_frame(frame.encode()))


class Feed:
    """One event as this worker delivers it."""

    def __init__(self, event_id: int) -> None:
        self.event_id = event_id
        self.delivered: int | None = (
            None  # highest seq handed to local sockets; None: not yet known
        )
        self.ahead: dict[int, Entry] = {}
        self.by_tag: dict[str, set] = {}
        self.by_participant: dict[int, set] = {}
        self.by_token: dict[int, set] = {}
        # (participant id, role, group id) a socket was opened with: a change closes it (4409).
        self.by_scope: dict[tuple, set] = {}
        self.sockets = 0
        self.empty_since: float | None = None
        self.ready = asyncio.Event()
        self.subscribed = False
        self.repairing = False
        self.gap_timer: asyncio.TimerHandle | None = None
        self.seen_latest = 0  # the event's latest seq at the previous look

    def add(self, sink, tags, participant_id, token_id, scope=None) -> None:
        for tag in tags:
            self.by_tag.setdefault(tag, set()).add(sink)
        self.by_participant.setdefault(participant_id, set()).add(sink)
        if token_id is not None:
            self.by_token.setdefault(token_id, set()).add(sink)
        if scope is not None:
            self.by_scope.setdefault((participant_id, *scope), set()).add(sink)
        self.sockets += 1
        self.empty_since = None

    def remove(self, sink, tags, participant_id, token_id, scope=None) -> None:
        scope_key = (participant_id, *scope) if scope is not None else None
        for index, key in [*((self.by_tag, t) for t in tags), (self.by_participant, participant_id),
                           (self.by_token, token_id), (self.by_scope, scope_key)]:  # fmt: skip
            members = index.get(key)
            if members is not None:
                members.discard(sink)
                if not members:
                    del index[key]
        self.sockets -= 1
        if not self.sockets:
            self.empty_since = time.monotonic()

    def revoke(self, participant_ids, token_ids, rescoped=(), scopes=()) -> None:
        """Close the sockets of revoked participants and tokens (4403), and those of `rescoped`
        participants, or of these exact `scopes`, with 4409: they reconnect as what they are now."""
        for index, keys in ((self.by_participant, participant_ids), (self.by_token, token_ids)):
            for key in keys:
                for sink in tuple(index.get(key, ())):
                    sink.revoke()
        for index, keys in ((self.by_participant, rescoped), (self.by_scope, scopes)):
            for key in keys:
                for sink in tuple(index.get(key, ())):
                    sink.revoke(frames.CLOSE_RESCOPED)


class Hub:
    def __init__(self, layer) -> None:
        self.layer = layer
        self.crosses_processes = not isinstance(layer, InMemoryChannelLayer)
        self.feeds: dict[int, Feed] = {}
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.channel: str | None = None
        self.tasks: list[asyncio.Task] = []
        self.lock = asyncio.Lock()  # the layer's subscriptions
        self.credentials: dict[tuple, int] = {}
        self.degraded_until = 0.0

    # --- sockets --------------------------------------------------------------------------------

    async def join(
        self, sink, *, event_id: int, tags, participant_id: int, token_id, scope=None
    ) -> bool:
        """Register a socket. Once this returns, every entry of the event after its latest seq as of
        now reaches `sink.deliver`, in seq order. False: its credential has too many sockets here."""
        key = (participant_id, token_id)
        if self.credentials.get(key, 0) >= settings.FIELDOPS["MAX_SOCKETS_PER_CREDENTIAL"]:
            counters.add("sockets_refused")
            return False
        feed = await self._feed(event_id)
        feed.add(sink, tags, participant_id, token_id, scope)
        self.credentials[key] = self.credentials.get(key, 0) + 1
        return True

    async def leave(
        self, sink, *, event_id: int, tags, participant_id: int, token_id, scope=None
    ) -> None:
        feed = self.feeds.get(event_id)
        if feed is None or feed.delivered is None:
            return
        feed.remove(sink, tags, participant_id, token_id, scope)
        key = (participant_id, token_id)
        left = self.credentials.get(key, 0) - 1
        if left > 0:
            self.credentials[key] = left
        else:
            self.credentials.pop(key, None)
        if not feed.sockets and settings.FIELDOPS["FEED_LINGER_SECONDS"] <= 0:
            await self._close(feed)

    async def _feed(self, event_id: int) -> Feed:
        feed = self.feeds.get(event_id)
        if feed is not None:
            await feed.ready.wait()
            if feed.delivered is None:
                raise RuntimeError(f"event {event_id}: its journal could not be read")
            return feed
        if not self.tasks:
            loop = asyncio.get_running_loop()
            # A context of their own: the hub serves every socket, so its log lines name none.
            self.tasks = [
                loop.create_task(self._dispatch(), context=contextvars.Context()),
                loop.create_task(self._watch(), context=contextvars.Context()),
            ]
        feed = self.feeds[event_id] = Feed(event_id)
        try:
            await self._subscribe(feed)
            # Read after subscribing: whatever commits later arrives through the stream (or is
            # repaired); what arrived meanwhile waits in `ahead`.
            feed.delivered = feed.seen_latest = await database_sync_to_async(latest_seq)(
                event_id=event_id
            )
        finally:
            feed.ready.set()
            if feed.delivered is None:
                del self.feeds[event_id]
        self.inbox.put_nowait({"type": _RELEASE, "event": event_id})
        return feed

    async def _subscribe(self, feed: Feed) -> None:
        """Subscribe to the event's stream; a Redis that is down is retried by `_watch`, and the
        event is delivered from the journal meanwhile."""
        if not self.crosses_processes:
            feed.subscribed = True
            return
        try:
            async with self.lock:
                if self.channel is None:
                    channel = await asyncio.wait_for(
                        self.layer.new_channel(prefix="hub"), LAYER_WAIT
                    )
                    reader = asyncio.get_running_loop().create_task(
                        self._read(channel), context=contextvars.Context()
                    )
                    self.tasks.append(reader)
                    self.channel = channel
                group = streams.event_stream(feed.event_id)
                await asyncio.wait_for(self.layer.group_add(group, self.channel), LAYER_WAIT)
            feed.subscribed = True
        except Exception as exc:
            log.warning(
                "event %s: subscribing failed (%s); delivering it from the journal until it works",
                feed.event_id,
                type(exc).__name__,
            )

    async def _close(self, feed: Feed) -> None:
        if self.feeds.get(feed.event_id) is not feed:
            return
        del self.feeds[feed.event_id]
        if feed.gap_timer is not None:
            feed.gap_timer.cancel()
        if feed.subscribed and self.crosses_processes and self.channel is not None:
            try:
                async with self.lock:
                    await self.layer.group_discard(
                        streams.event_stream(feed.event_id), self.channel
                    )
            except Exception:
                log.warning("event %s: unsubscribing failed", feed.event_id, exc_info=True)

    def pending(self) -> dict[int, tuple[int, int]]:
        """Per event served here: (the latest seq this worker knows of, the lowest seq not yet
        written to every one of its sockets here; latest + 1 when nothing waits). For the metrics,
        on the hub's loop: one look at each socket's backlog."""
        out = {}
        for event_id, feed in self.feeds.items():
            if feed.delivered is None:
                continue
            latest = max(feed.delivered, feed.seen_latest, max(feed.ahead, default=0))
            lowest = feed.delivered + 1
            for sinks in feed.by_participant.values():
                for sink in sinks:
                    backlog = getattr(sink, "backlog", None)
                    if backlog:
                        lowest = min(lowest, backlog[0].seq)
            out[event_id] = (latest, lowest)
        return out

    # --- what arrives ---------------------------------------------------------------------------

    def take(self, messages: list[dict]) -> None:
        """Messages from a thread of this process (fanout.py), on the hub's loop."""
        for message in messages:
            if message.get("event") in self.feeds:
                self.inbox.put_nowait(message)

    async def _read(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The layer reconnects by itself; what was missed meanwhile is repaired.
                log.warning("receiving from the channel layer failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if message.get("event") in self.feeds:
                self.inbox.put_nowait(message)

    async def _dispatch(self) -> None:
        while True:
            message = await self.inbox.get()
            try:
                await self._handle(message)
            except Exception:
                log.exception("delivering a %s failed", message.get("type"))

    async def _handle(self, message: dict) -> None:
        feed = self.feeds.get(message.get("event"))
        kind = message.get("type")
        if kind == _REPAIRED:
            try:
                if feed is not None:
                    await self._repaired(feed, message["rows"], final=message["final"])
            finally:
                message["done"].set_result(None)
        elif feed is None:
            return
        elif kind == ENTRY:
            await self._accept(
                feed, entry_of(message["seq"], message["audience"], message["frame"])
            )
        elif kind == ENTRIES:
            for seq, audience, frame in message["entries"]:
                await self._accept(feed, entry_of(seq, audience, frame))
        elif kind == REVOKE:
            feed.revoke(
                message.get("participants", ()),
                message.get("tokens", ()),
                message.get("rescoped", ()),
            )
        elif kind == _RELEASE:
            await self._advance(feed)

    # --- in order, with gaps repaired -------------------------------------------------------------

    async def _accept(self, feed: Feed, entry: Entry) -> None:
        delivered = feed.delivered
        if delivered is not None and entry.seq == delivered + 1:
            await self._deliver(feed, entry)
            if feed.ahead:
                await self._advance(feed)
        elif delivered is None or entry.seq > delivered:
            feed.ahead[entry.seq] = entry
            if delivered is not None:
                self._gap_noticed(feed)

    async def _advance(self, feed: Feed) -> None:
        """Deliver what waits in `ahead` and follows on; note a gap if something still waits."""
        if feed.delivered is None:
            return
        for seq in [s for s in feed.ahead if s <= feed.delivered]:
            del feed.ahead[seq]
        while feed.delivered + 1 in feed.ahead:
            await self._deliver(feed, feed.ahead.pop(feed.delivered + 1))
        if feed.ahead:
            self._gap_noticed(feed)

    async def _deliver(self, feed: Feed, entry: Entry) -> None:
        feed.delivered = entry.seq
        by_tag = feed.by_tag
        served = 0
        for tag in entry.audience:
            sinks = by_tag.get(tag)
            if sinks:
                for sink in tuple(sinks):
                    served += 1
                    if served % YIELD_EVERY == 0:
                        # The rest of the worker goes on between sockets: acks, pongs, frames.
                        await asyncio.sleep(0)
                    try:
                        if not sink.offer(entry):
                            await sink.deliver(entry)
                    except Exception:
                        # One broken socket must not stop delivery to the others; its own
                        # disconnect removes it from the hub.
                        log.exception("delivery to one socket failed")

    def _gap_noticed(self, feed: Feed) -> None:
        if feed.repairing:
            return
        if len(feed.ahead) >= AHEAD_MAX:
            self._repair(feed, upto=max(feed.ahead), reason="gap")
        elif feed.gap_timer is None:
            loop = asyncio.get_running_loop()
            feed.gap_timer = loop.call_later(GAP_WAIT, self._gap_due, feed)

    def _gap_due(self, feed: Feed) -> None:
        feed.gap_timer = None
        if feed.ahead and feed.delivered is not None and min(feed.ahead) > feed.delivered + 1:
            self._repair(feed, upto=max(feed.ahead), reason="gap")

    def _repair(self, feed: Feed, *, upto: int, reason: str) -> None:
        if feed.repairing or self.feeds.get(feed.event_id) is not feed:
            return
        feed.repairing = True
        if feed.gap_timer is not None:
            feed.gap_timer.cancel()
            feed.gap_timer = None
        counters.add("gaps_repaired")
        log.info("event %s: reading seq %s-%s from the journal (%s)",
                 feed.event_id, feed.delivered + 1, upto, reason)  # fmt: skip
        asyncio.get_running_loop().create_task(self._fetch(feed, upto))

    async def _fetch(self, feed: Feed, upto: int) -> None:
        """Read the journal after what was delivered, up to `upto`, in batches that the dispatcher
        delivers one at a time (so a long repair holds one batch in memory)."""
        since, final = feed.delivered, False
        loop = asyncio.get_running_loop()
        try:
            while not final:
                rows = await database_sync_to_async(journal_range)(
                    event_id=feed.event_id, since=since, upto=upto, limit=REPAIR_BATCH
                )
                final = len(rows) < REPAIR_BATCH
                done = loop.create_future()
                self.inbox.put_nowait(
                    {"type": _REPAIRED, "event": feed.event_id, "rows": rows, "final": final,
                     "done": done}
                )  # fmt: skip
                await done
                if rows:
                    since = rows[-1][0]
        except Exception as exc:
            log.warning("event %s: reading the journal failed (%s)", feed.event_id,
                        type(exc).__name__)  # fmt: skip
            if not final:
                feed.repairing = False
        if feed.sockets and (feed.by_participant or feed.by_token):
            # A revocation sent while entries were being lost may have been lost with them.
            await self._recheck(feed)

    async def _repaired(self, feed: Feed, rows, *, final: bool) -> None:
        count = 0
        for seq, audience, frame in rows:
            if seq > feed.delivered:
                feed.ahead.pop(seq, None)
                await self._deliver(feed, entry_of(seq, audience, frame))
                count += 1
        if count:
            counters.add("entries_from_database", count)
        if final:
            feed.repairing = False
            await self._advance(feed)

    async def _recheck(self, feed: Feed) -> None:
        try:
            (participants, tokens), (gone, changed) = await database_sync_to_async(_lapsed)(
                list(feed.by_participant), list(feed.by_token), set(feed.by_scope)
            )
        except Exception:
            log.warning("event %s: checking credentials failed", feed.event_id, exc_info=True)
            return
        if participants or tokens or gone or changed:
            feed.revoke(participants | gone, tokens, scopes=changed)

    # --- the periodic look ------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            interval = settings.FIELDOPS["REPAIR_INTERVAL_SECONDS"]
            # While looks keep finding entries Redis did not bring (it is down, most likely),
            # look four times as often: that is how entries reach this worker's sockets then.
            if time.monotonic() < self.degraded_until:
                interval /= 4
            await asyncio.sleep(interval)
            try:
                await self._look()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("looking at the journal failed (%s)", type(exc).__name__)
            counters.log_if_changed()

    async def _look(self) -> None:
        linger = settings.FIELDOPS["FEED_LINGER_SECONDS"]
        now = time.monotonic()
        for feed in list(self.feeds.values()):
            if feed.delivered is None:
                continue
            if (
                not feed.sockets
                and feed.empty_since is not None
                and now - feed.empty_since >= linger
            ):
                await self._close(feed)
            elif not feed.subscribed:
                await self._subscribe(feed)
        feeds = [f for f in self.feeds.values() if f.delivered is not None]
        if not feeds:
            return
        latest = await database_sync_to_async(latest_seqs)(event_ids=[f.event_id for f in feeds])
        for feed in feeds:
            seq = latest.get(feed.event_id)
            if seq is None or self.feeds.get(feed.event_id) is not feed:
                continue
            if seq < feed.delivered:
                # The journal went back (the event was recreated): follow it.
                log.warning("event %s: the journal is at %s, behind %s", feed.event_id, seq,
                            feed.delivered)  # fmt: skip
                feed.delivered, feed.ahead = seq, {}
            elif feed.delivered < feed.seen_latest:
                self._repair(feed, upto=seq, reason="behind the journal")
                self.degraded_until = time.monotonic() + DEGRADED_SECONDS
            feed.seen_latest = seq


def _lapsed(participant_ids, token_ids, scopes):
    """Revoked credentials, and scopes whose role or group changed: one trip to the database."""
    return (
        credentials_revoked(participant_ids=participant_ids, token_ids=token_ids),
        scopes_lapsed(scopes),
    )


def hub_for(layer) -> Hub:
    """The hub of the running event loop (a worker has one loop; each test has its own)."""
    return local.hub_for(layer, Hub)
