"""The overdue watch (a dead-man's switch): a marshal or medic silent for longer than the event's
check-in interval (plus a grace period) raises one `marshal.overdue`; their next check-in clears it
with `marshal.back`.

"Once per lapse" is a database fact: an OverdueLapse row is unique per (participant, silent_since)
and only one may be open per participant. Any number of sweeps may run at once, in threads or
processes; the one whose insert succeeds writes the journal entry, the others write nothing.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from fieldops.models import Event, OverdueLapse
from fieldops.services import kinds
from fieldops.services.journal import Written, journal_writer
from fieldops.services.presence import presence_of
from marshals.models import CheckIn, Participant, Role
from marshals.payloads import participant_payload

from . import alarms

# Roles whose silence is watched: the people who check in from the field.
WATCHED_ROLES = (Role.MARSHAL, Role.MEDIC)


def overdue_after(event: Event) -> timedelta:
    """How long a participant of this event may stay silent before they are overdue."""
    grace = settings.FIELDOPS["OVERDUE_GRACE_SECONDS"]
    return timedelta(minutes=event.checkin_interval_minutes, seconds=grace)


def overdue_audience(participant: Participant) -> list[str]:
    """Who hears about a silent participant: organizers, the marshals of their group (or the
    medics, for a medic), and the participant themself, so their phone can nudge them."""
    return alarms.person_audience(participant)


def _since(*, last: datetime | None, participant: Participant, event: Event) -> datetime:
    # Nobody is expected to have checked in before the event starts.
    return max(last or participant.created_at, event.starts_at)


def silent_since(*, participant: Participant, event: Event) -> datetime:
    """A participant's last sign of life: their latest check-in, else joining; at the earliest the
    event's start."""
    last = (
        CheckIn.objects.filter(participant=participant)
        .aggregate(last=Max("server_time"))
        .get("last")
    )
    return _since(last=last, participant=participant, event=event)


def overdue_candidates(*, event: Event, now: datetime) -> list[tuple[Participant, datetime]]:
    """Participants silent for too long who have no open lapse yet, with their last sign of life."""
    limit = overdue_after(event)
    open_lapses = set(
        OverdueLapse.objects.filter(event=event, cleared_at__isnull=True).values_list(
            "participant_id", flat=True
        )
    )
    participants = Participant.objects.filter(
        event=event, role__in=WATCHED_ROLES, revoked_at__isnull=True
    ).annotate(last=Max("checkins__server_time"))
    found = []
    for participant in participants:
        if participant.pk in open_lapses:
            continue
        since = _since(last=participant.last, participant=participant, event=event)
        if now - since > limit:
            found.append((participant, since))
    return found


def overdue_raise(
    *, participant: Participant, since: datetime, now: datetime | None = None
) -> Written | None:
    """Raise `marshal.overdue` for one lapse; None if this lapse was raised already, by this or
    another worker, or the participant has checked in meanwhile."""
    now = now or timezone.now()
    event = participant.event
    with journal_writer(event_id=event.pk) as journal:
        # The candidate list was read before the lock: a check-in may have landed since.
        if silent_since(participant=participant, event=event) != since:
            return None
        try:
            with transaction.atomic():
                OverdueLapse.objects.create(
                    event=event, participant=participant, silent_since=since, raised_at=now
                )
        except IntegrityError:
            return None  # another sweep raised this lapse first
        last = CheckIn.objects.filter(participant=participant).order_by("-server_time").first()
        entry = journal.append(
            kind=kinds.MARSHAL_OVERDUE,
            audience=overdue_audience(participant),
            data={
                **participant_payload(participant),
                "silent_since": since,
                "silent_minutes": round((now - since).total_seconds() / 60, 1),
                "interval_minutes": event.checkin_interval_minutes,
                "last_position": {"lat": last.lat, "lng": last.lng} if last else None,
                "phone": presence_of(participant_ids=[participant.pk], now=now)[participant.pk],
            },
        )
        alarms.alarm_open(
            journal=journal,
            subject="overdue",
            key=f"overdue.{participant.pk}",
            audience=overdue_audience(participant),
            participant=participant,
            lat=last.lat if last else None,
            lng=last.lng if last else None,
        )
        return entry


def overdue_sweep(*, now: datetime | None = None, event_id: int | None = None) -> list:
    """Raise an alert for every overdue participant of every running event (or of one event).

    Safe to run in several processes at once; returns the entries this call wrote.
    """
    now = now or timezone.now()
    written = []
    for event in Event.objects.running(now, event_id=event_id):
        for participant, since in overdue_candidates(event=event, now=now):
            participant.event = event
            entry = overdue_raise(participant=participant, since=since, now=now)
            if entry is not None:
                written.append(entry)
    return written


def overdue_clear(
    *, journal, participant: Participant, checkin: CheckIn, lapse_open: bool | None = None
) -> Written | None:
    """Inside a check-in's transaction: close the participant's open lapse with `marshal.back`.
    `lapse_open`: whether there is one, if the caller read it already."""
    if lapse_open is None:
        lapse_open = _lapse_open(participant.pk)  # the usual answer, in one statement
    if not lapse_open:
        return None
    lapse = OverdueLapse.objects.filter(participant=participant, cleared_at__isnull=True).first()
    if lapse is None:
        return None
    lapse.cleared_at = checkin.server_time
    lapse.save(update_fields=["cleared_at"])
    entry = journal.append(
        kind=kinds.MARSHAL_BACK,
        audience=overdue_audience(participant),
        data={
            **participant_payload(participant),
            "silent_since": lapse.silent_since,
            "back_at": checkin.server_time,
            "lat": checkin.lat,
            "lng": checkin.lng,
        },
        actor=participant,
    )
    alarms.alarm_clear(journal=journal, key=f"overdue.{participant.pk}")
    return entry


def _lapse_open(participant_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM fieldops_overduelapse WHERE participant_id = %s"
            " AND cleared_at IS NULL LIMIT 1",
            [participant_id],
        )
        return cursor.fetchone() is not None
