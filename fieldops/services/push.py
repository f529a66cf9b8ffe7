"""Web Push: reaching people whose page is closed (docs/privacy.md, "Web Push").

A participant's page subscribes its browser (`push_subscribe`); organizers switch an event's push
on and off (`event_push_set`, the verb `event.push`). What is pushed is derived from the journal,
never from the request that wrote it: each event has a cursor (`PushCursor`, the last seq taken),
and `push_sweep` takes the entries after it whose kind is marked `push` in the registry
(fieldops/services/kinds.py), moves the cursor with a compare-and-set, then queues one message
per subscription that may see each entry (fieldops/visibility.py, as the socket would) for the
sending threads (fieldops/services/webpush.py). The sweep runs in the watch's push loop
(fieldops/watch.py), woken as soon as such an entry commits in this process; nothing here runs in
a socket's or a request's path, or under the event's write lock.

At most once: an entry taken by a sweep is not taken again, whatever becomes of its messages. A
push is a nudge to open the page, where the journal has everything; the lock screen only ever
shows a generic text with the level.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import orjson
from django.conf import settings
from django.core import checks
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from fieldops import audiences, errors, visibility
from fieldops.models import Event, JournalEntry, PushCursor
from marshals.models import PushSubscription

from . import journal, kinds, webpush
from .journal import journal_writer

log = logging.getLogger(__name__)

MSG_PUSH_OFF = "Push notifications are not set up on this server."
MSG_PUSH_SERVICE = "This is not the address of a push service this server sends to."
BATCH = 200  # entries one sweep takes from one event; a full batch sweeps again at once
TTL_SECONDS = 3600  # how long a push service keeps a message for a phone that is offline
TITLE = "Fieldops"
# The only text a lock screen shows: the level, and where the rest is (docs/privacy.md).
BODIES = {
    "danger": _("Urgent alert. Open Fieldops for details."),
    "warning": _("Warning. Open Fieldops for details."),
    "info": _("New information. Open Fieldops for details."),
}
URGENCY = {"danger": "high", "warning": "high", "info": "normal"}
# Kinds that warn the very participant whose action wrote them (their check-in entered a zone): pushed
# to them too. Every other entry is never pushed to its author (no push about your own SOS).
TO_AUTHOR = frozenset({kinds.MARSHAL_IN_ZONE})
SEVERITY = {"danger": 0, "warning": 1, "info": 2}


# --- Keys ------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _public_key(private_key: str) -> str | None:
    try:
        return webpush.vapid_public_key(private_key)
    except ValueError:
        return None


def push_public_key() -> str | None:
    """The server's VAPID public key, for the pages' `applicationServerKey` (base64url); None when
    push is not set up (no or no valid VAPID_PRIVATE_KEY): the pages then offer no notifications."""
    key = settings.VAPID_PRIVATE_KEY
    return _public_key(key) if key else None


def push_subject() -> str:
    """Who runs this server, as the push services are told (VAPID's `sub`)."""
    return settings.VAPID_SUBJECT or settings.PUBLIC_URL


def endpoint_hash(endpoint: str) -> str:
    """A keyed hash of a push endpoint: how a subscription is found without decrypting any."""
    return salted_hmac("fieldops.push.endpoint", endpoint, algorithm="sha256").hexdigest()


# --- Subscriptions ---------------------------------------------------------------------------------


def push_subscribe(
    *, participant, endpoint: str, p256dh: str, auth: str, language: str = ""
) -> PushSubscription:
    """Keep a browser's push subscription for this participant (again: its keys are replaced).

    The endpoint must belong to a push service of PUSH_SERVICE_HOSTS, so a subscription cannot
    make the server send requests anywhere else. A browser belongs to whoever subscribed with it
    last at this event: another participant's subscription with the same endpoint is removed.
    """
    if push_public_key() is None:
        raise errors.ActionError.field("endpoint", MSG_PUSH_OFF)
    if webpush.service_of(endpoint, settings.PUSH_SERVICE_HOSTS) is None:
        raise errors.ActionError.field("endpoint", MSG_PUSH_SERVICE)
    digest = endpoint_hash(endpoint)
    event_id = participant.event_id
    with transaction.atomic():
        _cursor_ensure(event_id=event_id)
        PushSubscription.objects.filter(event_id=event_id, endpoint_hash=digest).exclude(
            participant=participant
        ).delete()
        subscription, _ = PushSubscription.objects.update_or_create(
            participant=participant,
            endpoint_hash=digest,
            defaults={
                "event_id": event_id,
                "endpoint": endpoint,
                "p256dh": p256dh,
                "auth": auth,
                "language": language[:12],
            },
        )
    return subscription


def _cursor_ensure(*, event_id: int) -> None:
    """The event's push cursor, created at its latest seq: what happened before anyone subscribed
    is never pushed."""
    if not PushCursor.objects.filter(event_id=event_id).exists():
        last = Event.objects.filter(pk=event_id).values_list("last_seq", flat=True).get()
        PushCursor.objects.get_or_create(event_id=event_id, defaults={"seq": last})


def push_unsubscribe(*, participant, endpoint: str) -> int:
    """Forget this participant's subscription with this endpoint; how many were removed (0 or 1)."""
    return PushSubscription.objects.filter(
        participant=participant, endpoint_hash=endpoint_hash(endpoint)
    ).delete()[0]


def event_push_set(*, participant, enabled: bool, client_id=None):
    """Switch Web Push on or off for the participant's event (organizers). Off, nothing more is
    pushed, and entries written meanwhile are not pushed later either; subscriptions are kept."""
    with journal_writer(event_id=participant.event_id) as writer:
        Event.objects.filter(pk=participant.event_id).update(push_enabled=enabled)
        return writer.append(
            kind=kinds.EVENT_PUSH_CHANGED,
            audience=[audiences.ORGANIZERS],
            data={"enabled": enabled},
            actor=participant,
            client_id=client_id,
        )


# --- The sweep -------------------------------------------------------------------------------------


@dataclass
class PushSweep:
    """What one sweep did, in counts."""

    entries: int = 0  # entries taken from the journals
    queued: int = 0  # messages queued for the push services
    removed: int = 0  # subscriptions removed: their push service said they no longer exist
    more: bool = False  # an event had more entries than one batch: sweep again at once


_senders: dict[tuple, webpush.Sender] = {}


def push_sender() -> webpush.Sender | None:
    """This process's sender for the current settings; None when push is not set up."""
    key = settings.VAPID_PRIVATE_KEY
    if not key or push_public_key() is None:
        return None
    config = (
        key,
        push_subject(),
        settings.PUSH_TIMEOUT_SECONDS,
        settings.PUSH_THREADS_PER_SERVICE,
    )
    sender = _senders.get(config)
    if sender is None:
        for old in _senders.values():
            old.stop()
        _senders.clear()
        sender = _senders[config] = webpush.Sender(
            private_key=key,
            subject=config[1],
            timeout=config[2],
            threads=config[3],
            on_outcome=_outcome_arrived,
        )
    return sender


def _outcome_arrived(outcome: webpush.Outcome) -> None:
    if outcome.gone:  # the loop removes the subscription at once
        journal.push_wake.set()


def push_wait(*, timeout: float) -> None:
    """Wait until an entry that is pushed commits in this process (or an expired subscription
    must be removed), at most `timeout` seconds."""
    journal.push_wake.wait(timeout)
    journal.push_wake.clear()


def push_sweep(*, event_id: int | None = None, now: datetime | None = None) -> PushSweep:
    """Take every event's new pushed entries and queue their messages; remove the subscriptions
    that push services said no longer exist. Any number of sweeps may run at once, in any
    process: each entry is taken by one of them."""
    now = now or timezone.now()
    result = PushSweep()
    sender = push_sender()
    if sender is not None:
        result.removed = _outcomes_apply(sender, now=now)
    behind = PushCursor.objects.filter(seq__lt=F("event__last_seq"))
    if event_id is not None:
        behind = behind.filter(event_id=event_id)
    rows = behind.values_list("event_id", "seq", "event__last_seq", "event__push_enabled")
    for event, taken, last, enabled in rows:
        entries = []
        if enabled and sender is not None:
            entries = list(
                JournalEntry.objects.filter(
                    event_id=event, seq__gt=taken, seq__lte=last, kind__in=kinds.PUSHED
                )
                .order_by("seq")
                .values_list("seq", "kind", "audience", "frame", "actor_id", "at")[:BATCH]
            )
        upto = entries[-1][0] if len(entries) == BATCH else last
        if not _claim(event_id=event, taken=taken, upto=upto):
            continue
        result.more = result.more or upto < last
        if entries:
            result.entries += len(entries)
            result.queued += _queue(sender, event_id=event, entries=entries, now=now)
    webpush.counters_log_if_changed()
    return result


def _claim(*, event_id: int, taken: int, upto: int) -> bool:
    """Move the event's cursor from `taken` to `upto` (compare-and-set, one statement): False if
    another sweep moved it since it was read, and the entries are that sweep's to send."""
    return bool(PushCursor.objects.filter(event_id=event_id, seq=taken).update(seq=upto))


def _outcomes_apply(sender: webpush.Sender, *, now: datetime) -> int:
    outcomes = sender.take_outcomes()
    gone = {o.ref for o in outcomes if o.gone}
    ok = {o.ref for o in outcomes if o.ok} - gone
    if ok:
        PushSubscription.objects.filter(pk__in=ok).update(last_ok_at=now)
    if not gone:
        return 0
    return PushSubscription.objects.filter(pk__in=gone).delete()[0]


@dataclass
class _Reader:
    subscription: PushSubscription
    tags: frozenset[str]
    service: str


def _queue(sender: webpush.Sender, *, event_id: int, entries: list, now: datetime) -> int:
    """Queue, for each subscription, one message per level among the entries its participant may
    see (the newest of that level): several entries of one sweep make one notification."""
    readers = []
    subscriptions = PushSubscription.objects.filter(
        event_id=event_id, participant__revoked_at__isnull=True
    ).select_related("participant", "participant__event")
    for subscription in subscriptions:
        service = webpush.service_of(subscription.endpoint, settings.PUSH_SERVICE_HOSTS)
        if service is None:  # the allow-list changed since it subscribed
            continue
        tags = frozenset(visibility.participant_tags(subscription.participant))
        readers.append(_Reader(subscription, tags, service))
    if not readers:
        return 0
    oldest = now - timedelta(seconds=TTL_SECONDS)
    chosen: dict[tuple[int, str], tuple[int, str]] = {}
    for seq, kind, audience, frame, actor_id, at in entries:
        if at < oldest:  # its moment has passed: the page shows it when it opens
            continue
        data = orjson.loads(frame).get("data") or {}
        level = kinds.kind_push_level(kind=kind, data=data)
        tags = audience.split()
        for reader in readers:
            participant = reader.subscription.participant
            if reader.tags.isdisjoint(tags):
                continue
            if participant.pk == actor_id and kind not in TO_AUTHOR:
                continue
            chosen[reader.subscription.pk, level] = (seq, kind)
    by_pk = {reader.subscription.pk: reader for reader in readers}
    queued = 0
    for (pk, level), (seq, kind) in sorted(chosen.items(), key=lambda c: SEVERITY[c[0][1]]):
        reader = by_pk[pk]
        subscription = reader.subscription
        message = webpush.Message(
            ref=pk,
            endpoint=subscription.endpoint,
            p256dh=subscription.p256dh,
            auth=subscription.auth,
            payload=push_payload(subscription=subscription, seq=seq, kind=kind, level=level),
            ttl=TTL_SECONDS,
            urgency=URGENCY[level],
            topic=_topic(event_id=event_id, level=level),
        )
        queued += sender.send(message, service=reader.service)
    return queued


def push_payload(*, subscription: PushSubscription, seq: int, kind: str, level: str) -> bytes:
    """What the browser's service worker receives (encrypted for it alone): where to look and a
    text to show that says nothing but the level."""
    slug = subscription.participant.event.slug
    language = subscription.language or settings.LANGUAGE_CODE
    with translation.override(language):
        body = str(BODIES[level])
    return orjson.dumps(
        {
            "event": slug,
            "seq": seq,
            "kind": kind,
            "level": level,
            "url": settings.PUBLIC_URL + reverse("event-home", args=[slug]),
            "title": TITLE,
            "body": body,
            "tag": f"fieldops-{slug}-{level}",
            "lang": language,
        }
    )


def _topic(*, event_id: int, level: str) -> str:
    # RFC 8030 Topic: a message not yet delivered is replaced by a newer one of the same event and
    # level. The push service sees it, so it is opaque (32 characters of the base64url alphabet).
    return salted_hmac("fieldops.push.topic", f"{event_id}:{level}").hexdigest()[:32]


# --- Checks ----------------------------------------------------------------------------------------


@checks.register(checks.Tags.security, deploy=True)
def push_deploy_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A deployment without a VAPID key sends no push, and one whose subject the push services
    refuse sends none that arrive: say so."""
    if not settings.VAPID_PRIVATE_KEY:
        return [
            checks.Warning(
                "Web Push is off: VAPID_PRIVATE_KEY is not set, so no one whose page is closed "
                "is told of an SOS, an alert or a route change.",
                hint="Generate one with `manage.py vapid_key` (docs/deployment.md, Web Push).",
                id="fieldops.W110",
            )
        ]
    if not push_subject().startswith(("mailto:", "https://")):
        return [
            checks.Warning(
                "VAPID_SUBJECT (or else PUBLIC_URL) is neither a mailto: nor an https: address: "
                "push services refuse pushes signed so.",
                id="fieldops.W111",
            )
        ]
    return []


@checks.register(checks.Tags.compatibility)
def push_key_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A VAPID key that cannot be read turns push off: an error, so it is seen at once."""
    if settings.VAPID_PRIVATE_KEY and push_public_key() is None:
        return [
            checks.Error(
                "VAPID_PRIVATE_KEY is not a P-256 private key (base64url): Web Push is off.",
                hint="Generate one with `manage.py vapid_key`.",
                id="fieldops.E110",
            )
        ]
    return []
