"""The event socket: validate frames, authorize verbs, hand actions to services, relay the journal.

Delivery rule: on connect the socket registers with its worker's hub (realtime/hub.py), then reads
the event's latest seq (`covered`). The hub brings every later entry the socket may see, once and in
seq order; entries up to `covered` are dropped because a resume replays them from the database. A
socket handles one message at a time, so entries that arrive during a replay wait
(realtime/delivery.py) until `replay.done` has gone out.
"""

import asyncio
import contextvars
import logging
import time
import uuid
from time import perf_counter
from urllib.parse import parse_qs

import orjson
import pydantic
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from fieldops import errors, logcontext, visibility
from fieldops.actions import BATCHED, Request, action_allowed, action_perform, actions_perform_batch
from fieldops.schemas import ClientFrame, PingIn, ResumeIn, error_fields
from marshals.roles import Role
from marshals.tokens import credential_scope, credential_scopes

from . import frames, metrics
from .auth import scope_participant
from .delivery import Delivery
from .gather import gather_for
from .hub import hub_for
from .presence import BOOK
from .replay import latest_seq, replay_batch
from .transport import transport_of, wire_frame

log = logging.getLogger(__name__)

REVOKED = object()  # what a database trip returns when the socket's credential no longer holds


def since_in_url(scope) -> tuple[int | None, list[dict] | None]:
    """`?since=<seq>` from the connect request: (seq, None), (None, None) when absent, or
    (None, fields) naming what is wrong with it."""
    query = scope.get("query_string", b"").decode("latin-1")
    values = parse_qs(query, keep_blank_values=True).get("since")
    if not values:
        return None, None
    text = values[-1]
    # isascii: str.isdigit() also holds for "²" and "٣", which int() refuses or misreads.
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None, [{"field": "since", "message": "A whole number of 0 or more."}]
    return int(text), None


class EventConsumer(AsyncWebsocketConsumer):
    participant = None
    joined = False  # registered with the worker's hub
    counted_as: str | None = None  # the role under which the open-sockets gauge counts it
    # The participant counted in this worker's presence book (realtime/presence.py), if any.
    present: int | None = None
    received_at = 0.0  # when the frame being handled arrived (the ack latency's start)
    delivery: Delivery | None = None
    close_code = frames.CLOSE_REVOKED  # why the credential no longer holds, once it does not
    CLOSE_GRACE_SECONDS = 2.0  # a socket closed for not reading gets this long to take the close

    async def connect(self):
        await self.accept()
        try:
            await self.admit()
        except errors.DATABASE_DOWN:
            # The database is down or restarting: the phone tries again with backoff, and an
            # outage while thousands reconnect logs a line each, not a traceback each.
            log.warning("a socket could not open: database unavailable")
            self.participant = None
            await self.close_now(frames.CLOSE_UNAVAILABLE)

    async def admit(self):
        """Who the socket is, its place in the hub, `hello`, and its replay when it asked for one."""
        slug = self.scope["url_route"]["kwargs"]["slug"]
        self.participant, token_id = await database_sync_to_async(scope_participant)(
            self.scope, event_slug=slug
        )
        self.token_id = token_id
        if self.participant is None:
            await self.close(code=frames.CLOSE_UNAUTHENTICATED)
            return
        p = self.participant
        self.tags = visibility.participant_tags(p)
        # What the socket may do and see was fixed now: a later change of role or group closes it
        # (4409) and the client reconnects as what it is then (docs/protocol.md).
        self.access = (p.role, p.group_id)
        # How the hub knows the socket, kept for `leave` (the participant may be gone by then): a
        # tuple, as every open socket holds one.
        self.hub_key = (p.event_id, p.pk)
        self.joined = await hub_for(self.channel_layer).join(self.delivery, **self.hub_args())
        if not self.joined:
            self.participant = None
            await self.close(code=frames.CLOSE_TOO_MANY)
            return
        self.counted_as = p.role
        metrics.OPEN_SOCKETS.labels(p.role).inc()
        # Marchers are many and never watched: only the field's phones are kept in presence.
        if p.role != Role.MARCHER:
            self.present = p.pk
            BOOK.opened(p.pk)
        self.budget = float(settings.FIELDOPS["RATE_LIMIT_PER_MINUTE"])
        self.budget_at = time.monotonic()
        # `?since=` asks for the resume in the connect request: the seq for `hello` and the replay
        # come in one database trip, and the client saves a round trip (docs/protocol.md).
        since, since_error = since_in_url(self.scope)
        if since is None:
            read = None
            upto = await database_sync_to_async(latest_seq)(event_id=p.event_id)
        else:
            read = await database_sync_to_async(self.resume_read)(since)
            if read is REVOKED:
                await self.close_revoked()
                return
            upto = read[0]
        self.delivery.covered = upto  # an entry reaching the socket twice goes once (Delivery)
        self.forget_handshake()
        await self.send(text_data=frames.hello(participant=p, event_slug=slug, seq=upto))
        if since_error:
            await self.reply_error(None, errors.INVALID, "The resume is not valid.", since_error)
        if read is not None:
            await self.replay(None, read)

    async def disconnect(self, code):
        if self.delivery is not None:
            self.delivery.close()
        if self.counted_as is not None:
            metrics.OPEN_SOCKETS.labels(self.counted_as).dec()
            self.counted_as = None
        if self.present is not None:
            BOOK.closed(self.present)
            self.present = None
        if self.joined:
            self.joined = False
            await hub_for(self.channel_layer).leave(self.delivery, **self.hub_args())

    # --- from the worker's hub --------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        # Unlike stock Channels, a socket has no channel of its own: everything the channel
        # layer brings it comes through the worker's hub (realtime/hub.py). A channel per socket
        # cost a Redis SUBSCRIBE when it opened and an UNSUBSCRIBE when it closed, a queue, and a
        # task racing the socket for every message (docs/performance.md).
        self.scope = scope
        # This task is the socket's: its log lines carry its id and its event's slug.
        logcontext.socket_id.set(logcontext.new_id())
        logcontext.request_id.set(None)
        logcontext.event.set(scope.get("url_route", {}).get("kwargs", {}).get("slug"))
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.server_send = send
        self.base_send = self.send_or_drop
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # However the socket's task ends (a fault of the server's own, which the server logs,
            # or a cancel), the hub, the open-sockets gauge and the presence book let go of it,
            # or the phone would count against its credential and show as connected for good.
            await self.disconnect(None)

    async def dispatch(self, message):
        # Entries wait while this socket handles anything from its client (connecting, a frame,
        # a replay), as they would have waited in a channel of its own.
        if self.delivery is None:
            fieldops = settings.FIELDOPS
            self.delivery = Delivery(
                self.journal_entry,
                transport=transport_of(self.server_send),
                on_behind=self.close_behind,
                on_revoke=self.close_revoked,
                limits=(
                    fieldops["SOCKET_BACKLOG_ENTRIES"],
                    fieldops["SOCKET_BACKLOG_BYTES"],
                    fieldops["SOCKET_STALL_SECONDS"],
                ),
            )
        self.delivery.busy += 1
        try:
            # Stock dispatch first awaits aclose_old_connections(), a trip to the shared database
            # thread, for every message. Every database call here goes through
            # database_sync_to_async, which closes old connections itself, on the same thread: the
            # extra trip only queued each connect and frame behind all the worker's database work.
            handler = getattr(self, get_handler_name(message), None)
            if handler is None:
                raise ValueError(f"No handler for message type {message['type']}")
            await handler(message)
        finally:
            self.delivery.busy -= 1
            if not self.delivery.busy:
                await self.delivery.flush()

    async def send_or_drop(self, message):
        """The server's `send`, for a phone that may be gone: uvicorn's raises ClientDisconnected
        (an OSError) once the connection is lost, and its `websocket.disconnect` is still to
        come. Raised, it ended the socket's task before that disconnect, so the hub kept the
        socket and its credential's count: a phone that went at its ack or its hello a few times
        was refused as too many sockets. Nothing more goes out; the disconnect cleans up."""
        try:
            await self.server_send(message)
        except OSError:
            if self.delivery is not None:
                self.delivery.close()

    async def journal_entry(self, entry):
        """One journal entry through the server's ASGI send: the way when the server does not take
        a prepared frame now (its buffer, a closing socket, daphne). Delivery decides."""
        await self.base_send({"type": "websocket.send", "text": entry.frame})

    # --- from the client --------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.participant is None:
            return
        self.received_at = perf_counter()
        if self.present is not None:
            BOOK.heard(self.present)  # any frame is a sign of life, even a ping
        if text_data is None:
            await self.reply_error(None, errors.INVALID, "Send JSON text frames, not binary.")
            return
        if len(text_data.encode()) > settings.FIELDOPS["MAX_FRAME_BYTES"]:
            limit = settings.FIELDOPS["MAX_FRAME_BYTES"]
            await self.reply_error(None, errors.TOO_LARGE, f"Frames are limited to {limit} bytes.")
            return
        if not self.spend():
            await self.reply_error(None, errors.RATE_LIMITED, "Too many frames; slow down.")
            return
        try:
            raw = orjson.loads(text_data)
        except orjson.JSONDecodeError:
            await self.reply_error(None, errors.INVALID, "The frame is not valid JSON.")
            return
        try:
            frame = ClientFrame.model_validate(raw)
        except pydantic.ValidationError as exc:
            frame_id = raw.get("id") if isinstance(raw, dict) else None
            await self.reply_error(
                frame_id if isinstance(frame_id, str) else None,
                errors.INVALID,
                "The frame is not valid.",
                error_fields(exc),
            )
            return
        try:
            await self.handle(frame)
        except Exception as exc:
            # Whatever a frame does wrong, the socket stays up: an uncaught exception here would
            # close it with 1011 and the phone would reconnect and send the same frame again.
            await self.reply_failure(frame, exc)

    async def handle(self, frame: ClientFrame):
        if frame.type == "ping":
            await self.ping(frame)
        elif frame.type == "resume":
            await self.resume(frame)
        elif not action_allowed(role=self.participant.role, verb=frame.type):
            await self.reply_error(frame.id, errors.FORBIDDEN, errors.MSG_FORBIDDEN_VERB)
        else:
            await self.act(frame)

    async def act(self, frame: ClientFrame):
        try:
            if frame.type in BATCHED:
                item = (self, frame, contextvars.copy_context())
                linger = settings.FIELDOPS["CHECKIN_GATHER_MS"] / 1000
                entry = await gather_for(act_together, linger=linger).submit(item)
            else:
                entry = await database_sync_to_async(self.act_sync)(frame)
        except Exception as exc:
            await self.reply_failure(frame, exc)
            return
        if entry is REVOKED:
            await self.close_revoked()
            return
        await self.send_text(frames.ack(frame_id=frame.id, seq=entry.seq))
        metrics.ACK_SECONDS.observe(perf_counter() - self.received_at)

    def act_sync(self, frame: ClientFrame):
        # One trip to the database thread per action: every trip queues behind all the worker's
        # other database work, so the credential check rides with the action it guards.
        if not self.credential_active():
            return REVOKED
        return action_perform(
            participant=self.participant, verb=frame.type, data=frame.data, client_id=frame.id
        )

    async def ping(self, frame: ClientFrame):
        try:
            PingIn.model_validate(frame.data)  # unknown keys are refused here as everywhere
        except pydantic.ValidationError as exc:
            fields = [{**f, "field": f"data.{f['field']}"} for f in error_fields(exc)]
            await self.reply_error(frame.id, errors.INVALID, "The ping is not valid.", fields)
            return
        await self.send_text(frames.pong(frame_id=frame.id))

    async def resume(self, frame: ClientFrame):
        try:
            since = ResumeIn.model_validate(frame.data).since
        except pydantic.ValidationError as exc:
            fields = [{**f, "field": f"data.{f['field']}"} for f in error_fields(exc)]
            await self.reply_error(frame.id, errors.INVALID, "The resume is not valid.", fields)
            return
        read = await database_sync_to_async(self.resume_read)(since)
        if read is REVOKED:
            await self.close_revoked()
            return
        await self.replay(frame.id, read)

    async def replay(self, frame_id, read):
        """Send what resume_read found, then the rest in batches, then `replay.done`.

        The replay goes at the pace the socket takes it: a frame is handed to the server only
        while the socket's buffer there is low, and the next batch is read only when this one has
        gone, so a phone asking for the whole journal holds one batch in the worker's memory.
        """
        upto, (batch, more) = read
        self.delivery.covered = max(self.delivery.covered, upto)
        count = 0
        while True:
            for seq, text in batch:
                if self.delivery.went_live(seq):  # delivered live just before this resume
                    continue
                if self.delivery.closed:
                    return  # gone
                if not self.delivery.ready() and not await self.delivery.wait_ready():
                    return  # closed as behind, or gone
                await self.send(text_data=text)
                count += 1
            if not more:
                break
            batch, more = await database_sync_to_async(replay_batch)(
                event_id=self.participant.event_id, since=seq, upto=upto, tags=self.tags
            )
        metrics.REPLAYED.value += count
        await self.send(text_data=frames.replay_done(frame_id=frame_id, seq=upto, count=count))

    def resume_read(self, since: int):
        """The credential check, the seq to replay up to, and the first batch: one trip."""
        if not self.credential_active():
            return REVOKED
        event_id = self.participant.event_id
        upto = latest_seq(event_id=event_id)
        return upto, replay_batch(event_id=event_id, since=since, upto=upto, tags=self.tags)

    # --- helpers ----------------------------------------------------------------------------

    def forget_handshake(self) -> None:
        """Drop what only the handshake needed, for the socket's life: the request's headers
        (the credential was read from them at connect; the scope is shared with every layer
        of the ASGI stack, so the list is emptied in place) and the server's copies."""
        headers = self.scope.get("headers")
        if isinstance(headers, list):
            headers.clear()
        if self.delivery is not None and self.delivery.transport is not None:
            self.delivery.transport.release_handshake()

    def hub_args(self) -> dict:
        event_id, participant_id = self.hub_key
        return {
            "event_id": event_id,
            "tags": self.tags,
            "participant_id": participant_id,
            "token_id": self.token_id,
            "scope": self.access,
        }

    async def send_text(self, text: str) -> None:
        """Send one frame: straight to the server's protocol when it takes it now (as entries go,
        realtime/transport.py), else through the ASGI `send`."""
        transport = self.delivery.transport if self.delivery is not None else None
        if transport is None or not transport.send_wire(wire_frame(text.encode())):
            await self.send(text_data=text)

    def credential_active(self) -> bool:
        """Whether this socket's credential still holds, as the role and group it was opened with
        (marshals.access; database thread). When not, `close_code` says why."""
        now = credential_scope(participant_id=self.participant.pk, token_id=self.token_id)
        return self.credential_holds(now)

    def credential_holds(self, now: tuple[str, int | None] | None) -> bool:
        """Whether the credential's scope as read `now` is the one the socket was opened with."""
        if now == self.access:
            return True
        self.close_code = frames.CLOSE_REVOKED if now is None else frames.CLOSE_RESCOPED
        return False

    async def close_revoked(self, code: int | None = None):
        """Close a socket whose credential no longer holds: 4403 when revoked, 4409 when its role
        or group changed (reconnect)."""
        # Nothing more reaches it: no frame it sends is read, and the hub stops feeding it
        # entries (and a second close order) between the close and the disconnect.
        self.participant = None
        if self.delivery is not None:
            self.delivery.close()
        await self.close_now(code if code is not None else self.close_code)

    async def close_behind(self):
        """The phone stopped reading and its backlog is full: close, so that it reconnects and
        resumes from the journal, where everything it missed is."""
        self.participant = None
        await self.close_now(frames.CLOSE_BEHIND)

    async def close_now(self, code: int):
        """Close with `code` without waiting on a socket that does not read: the close frame goes
        out if the server can take it now, and the connection is dropped after a grace anyway."""
        transport = self.delivery.transport if self.delivery is not None else None
        if transport is None:
            await self.close(code=code)
            return
        grace = 0.0
        if transport.can_send():
            await self.close(code=code)
            grace = self.CLOSE_GRACE_SECONDS
        asyncio.get_running_loop().call_later(grace, transport.abort)

    def spend(self) -> bool:
        """A token bucket per socket: RATE_LIMIT_PER_MINUTE frames, refilled continuously."""
        limit = float(settings.FIELDOPS["RATE_LIMIT_PER_MINUTE"])
        now = time.monotonic()
        self.budget = min(limit, self.budget + (now - self.budget_at) * limit / 60)
        self.budget_at = now
        if self.budget < 1:
            return False
        self.budget -= 1
        return True

    async def reply_failure(self, frame: ClientFrame, exc: Exception):
        """Answer a frame whose handling raised: its own error, `invalid` for a value the
        database cannot hold, `unavailable` for a database that cannot be reached (the client
        resends), else `internal` (it does not)."""
        error = errors.error_for(exc, field="data")
        if error.code == errors.INTERNAL:
            # The payload may hold personal data: log the kind of failure, never the frame.
            log.exception("action %s failed", frame.type)
        elif error.code == errors.UNAVAILABLE:
            log.warning("action %s failed: database unavailable", frame.type)
        await self.reply_error(frame.id, error.code, error.message, error.fields)

    async def reply_error(self, frame_id, code, message, fields=None):
        if isinstance(frame_id, uuid.UUID):
            frame_id = str(frame_id)
        await self.send(
            text_data=frames.error(frame_id=frame_id, code=code, message=message, fields=fields)
        )


def act_together(items: list[tuple[EventConsumer, ClientFrame, contextvars.Context]]) -> list:
    """The actions of several sockets in one trip to the database thread (realtime/gather.py):
    each socket's credential check, then one batch per event (fieldops/actions.py)."""
    results: list = [REVOKED] * len(items)
    by_event: dict[int, list[int]] = {}
    open_ = [i for i, (consumer, _, _) in enumerate(items) if consumer.participant is not None]
    scopes = credential_scopes([(items[i][0].participant.pk, items[i][0].token_id) for i in open_])
    for i, now in zip(open_, scopes, strict=True):
        consumer = items[i][0]
        if consumer.credential_holds(now):
            by_event.setdefault(consumer.participant.event_id, []).append(i)
    for indexes in by_event.values():
        requests = [
            Request(
                participant=items[i][0].participant,
                verb=items[i][1].type,
                data=items[i][1].data,
                client_id=items[i][1].id,
                context=items[i][2],
            )
            for i in indexes
        ]
        for i, result in zip(indexes, actions_perform_batch(requests), strict=True):
            results[i] = result
    return results
