"""Alarms: every alert that needs a person has an owner, and nothing unanswered goes quiet.

An SOS, an overdue participant, a marshal off route, someone inside a danger zone and a high or
critical incident each open an alarm (`alarm.opened`) beside the entry that raised it, told to the
same people. Whoever it reaches among organizers, marshals and medics (never the person it is
about) may claim it (`alarm.claimed`: "I'm on it"); an organizer or its claimant resolves it
(`alarm.resolved`), and it clears by itself when its cause ends.

While nobody claims it, every `Event.alarm_escalate_minutes` it escalates one step
(`alarm.escalated`, pushed): 1. told again to the same people; 2. widened to the
SOS_NEAREST_MARSHALS nearest marshals and as many medics, whatever the distance (to every marshal
when it has no position); 3. widened to every marshal and medic. After the third step it stays as it
is until someone claims it.

Each step is taken once whatever the number of watches: a conditional update moves `step` from the
one it read, inside the journal's transaction, and only the watch whose update changed the row
writes the entry.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from fieldops import audiences, errors, visibility
from fieldops.models import Alarm, Event, Incident
from fieldops.services.journal import journal_writer
from marshals.models import Participant, Role

from .. import kinds
from .geo import LatLng, distance_m
from .sos import latest_positions

CLAIMANTS = frozenset({Role.ORGANIZER, Role.MARSHAL, Role.MEDIC})
LAST_STEP = 3
WIDENED = {1: "repeat", 2: "nearest", 3: "all"}

MSG_NO_SUCH_ALARM = "No such open alarm at this event."
MSG_CLAIMED = "{callsign} is already on it."
MSG_NOT_YOURS = "Only an organizer or whoever claimed the alarm may resolve it."


def person_audience(participant: Participant) -> list[str]:
    """Who hears about a person in trouble: organizers, the person themself, and their teammates
    (the marshals of their march group; for a medic, the medics)."""
    tags = [audiences.ORGANIZERS, audiences.participant_tag(participant.pk)]
    if participant.role == Role.MARSHAL and participant.group_id:
        tags.append(audiences.march_group_marshals_tag(participant.group_id))
    elif participant.role == Role.MEDIC:
        tags.append(audiences.MEDICS)
    return tags


def alarm_payload(alarm: Alarm, *, text: str | None = None) -> dict:
    person = alarm.participant
    return {
        "alarm": alarm.pk,
        "subject": alarm.subject,
        "participant": alarm.participant_id,
        "callsign": person.callsign if person else None,
        "group": person.group_id if person else None,
        "incident": alarm.incident_id,
        "lat": alarm.lat,
        "lng": alarm.lng,
        "opened_at": alarm.opened_at,
        "step": alarm.step,
        "claimed_by": alarm.claimed_by.callsign if alarm.claimed_by else None,
        "level": "danger",
        "text": text or alarm_text(alarm),
    }


def alarm_text(alarm: Alarm) -> str:
    who = alarm.participant.callsign if alarm.participant else ""
    if alarm.subject == Alarm.Subject.SOS:
        return f"SOS from {who}"
    if alarm.subject == Alarm.Subject.OVERDUE:
        return f"{who} has not checked in"
    if alarm.subject == Alarm.Subject.OFF_ROUTE:
        return f"{who} is off the route"
    if alarm.subject == Alarm.Subject.IN_ZONE:
        return f"{who} is inside a danger zone"
    return f"Incident #{alarm.incident_id} needs someone"


def alarm_open(
    *,
    journal,
    subject: str,
    key: str,
    audience: list[str],
    participant: Participant | None = None,
    incident: Incident | None = None,
    lat: float | None = None,
    lng: float | None = None,
    actor: Participant | None = None,
):
    """Inside the transaction of the entry that raised it: open an alarm for this cause, unless
    one is open already (then only its place is brought up to date)."""
    found = Alarm.objects.filter(event_id=journal.event_id, key=key, closed_at__isnull=True).first()
    if found is not None:  # the same cause again (an SOS sent again): follow it, tell nobody new
        found.audience = audiences.audience_text(found.audience.split() + audience)
        if lat is not None:
            found.lat, found.lng = lat, lng
        found.save(update_fields=["audience", "lat", "lng"])
        return None
    alarm = Alarm.objects.create(
        event_id=journal.event_id,
        subject=subject,
        key=key,
        participant=participant,
        incident=incident,
        lat=lat,
        lng=lng,
        audience=audiences.audience_text(audience),
        opened_at=timezone.now(),
    )
    return journal.append(
        kind=kinds.ALARM_OPENED,
        audience=alarm.audience.split(),
        data=alarm_payload(alarm),
        actor=actor,
    )


def alarm_open_at(*, journal, subject: str, key: str, participant: Participant, checkin):
    """`alarm_open` for a person whose check-in put them in trouble (off route, in a zone): told
    to them and their teammates, at that check-in's place."""
    return alarm_open(
        journal=journal,
        subject=subject,
        key=key,
        audience=person_audience(participant),
        participant=participant,
        lat=checkin.lat,
        lng=checkin.lng,
        actor=participant,
    )


def alarm_clear(*, journal, key: str, by: Participant | None = None, note: str = ""):
    """Inside a transaction: close the open alarm of this cause, if any, because its cause ended
    (`by` is whoever ended it, when a person did: resolving an SOS or incident)."""
    alarm = (
        Alarm.objects.select_related("participant", "claimed_by")
        .filter(event_id=journal.event_id, key=key, closed_at__isnull=True)
        .first()
    )
    if alarm is None:
        return None
    return _close(journal=journal, alarm=alarm, by=by, outcome="cleared", note=note)


def alarm_clear_prefix(*, journal, prefix: str) -> list:
    """`alarm_clear` for every open alarm whose cause starts so ("in_zone.12." for one person's
    zones, a zone switched off: each of its alarms)."""
    found = Alarm.objects.filter(
        event_id=journal.event_id, key__startswith=prefix, closed_at__isnull=True
    ).values_list("key", flat=True)
    return [alarm_clear(journal=journal, key=key) for key in list(found)]


def _close(*, journal, alarm: Alarm, by, outcome: str, note: str, client_id=None):
    alarm.closed_at = timezone.now()
    alarm.closed_by = by
    alarm.save(update_fields=["closed_at", "closed_by"])
    return journal.append(
        kind=kinds.ALARM_RESOLVED,
        audience=alarm.audience.split(),
        data=alarm_payload(alarm)
        | {"outcome": outcome, "by": by.callsign if by else None, "note": note},
        actor=by,
        client_id=client_id,
    )


def _find(*, participant: Participant, alarm: int) -> Alarm:
    found = (
        Alarm.objects.select_for_update(of=("self",))
        .select_related("participant", "claimed_by")
        .filter(pk=alarm, event_id=participant.event_id, closed_at__isnull=True)
        .first()
    )
    # An alarm the participant is not told of is as unknown to them as one that does not exist.
    if found is None or not visibility.may_see(participant, found.audience):
        raise errors.ActionError.field("data.alarm", MSG_NO_SUCH_ALARM)
    return found


def alarm_claim(*, participant: Participant, alarm: int, client_id: uuid.UUID | None = None):
    """Say "I'm on it": told to everyone the alarm reaches; it escalates no further."""
    with journal_writer(event_id=participant.event_id) as journal:
        found = _find(participant=participant, alarm=alarm)
        if participant.role not in CLAIMANTS or found.participant_id == participant.pk:
            raise errors.ActionError(errors.FORBIDDEN, errors.MSG_FORBIDDEN_VERB)
        if found.claimed_by_id is not None:
            message = MSG_CLAIMED.format(callsign=found.claimed_by.callsign)
            raise errors.ActionError.field("data.alarm", message)
        found.claimed_by = participant
        found.claimed_at = timezone.now()
        found.save(update_fields=["claimed_by", "claimed_at"])
        return journal.append(
            kind=kinds.ALARM_CLAIMED,
            audience=found.audience.split(),
            data=alarm_payload(found),
            actor=participant,
            client_id=client_id,
        )


def alarm_resolve(
    *, participant: Participant, alarm: int, note: str = "", client_id: uuid.UUID | None = None
):
    """Close an alarm as dealt with: an organizer, or whoever claimed it. (An SOS or incident is
    still closed as an incident, `incident.update`, which clears its alarm too.)"""
    with journal_writer(event_id=participant.event_id) as journal:
        found = _find(participant=participant, alarm=alarm)
        if participant.role != Role.ORGANIZER and found.claimed_by_id != participant.pk:
            raise errors.ActionError(errors.FORBIDDEN, MSG_NOT_YOURS)
        return _close(
            journal=journal,
            alarm=found,
            by=participant,
            outcome="resolved",
            note=note,
            client_id=client_id,
        )


def _nearest(*, alarm: Alarm) -> list[str]:
    """The participant tags of the nearest marshals and medics to the alarm, whatever the
    distance (every marshal when it has no position)."""
    if alarm.lat is None:
        return [audiences.MARSHALS]
    where = LatLng(alarm.lat, alarm.lng)
    found = sorted(
        latest_positions(event_id=alarm.event_id, exclude=alarm.participant_id),
        key=lambda c: distance_m(LatLng(c.lat, c.lng), where),
    )
    k = settings.FIELDOPS["SOS_NEAREST_MARSHALS"]
    tags = []
    for role in (Role.MARSHAL, Role.MEDIC):
        near = [c for c in found if c.participant.role == role][:k]
        tags += [audiences.participant_tag(c.participant_id) for c in near]
    return tags


def alarm_widened(*, alarm: Alarm, step: int) -> list[str]:
    """The alarm's audience after escalation step `step`."""
    tags = alarm.audience.split()
    if step >= 2:
        tags += _nearest(alarm=alarm)
    if step >= 3:
        tags += [audiences.MARSHALS, audiences.MEDICS]
    return tags


def alarm_escalate(*, alarm: Alarm, now: datetime):
    """Take the alarm's next escalation step, unless another watch took it, someone claimed it
    or it closed since it was read."""
    step = alarm.step + 1
    with journal_writer(event_id=alarm.event_id) as journal:
        audience = audiences.audience_text(alarm_widened(alarm=alarm, step=step))
        taken = Alarm.objects.filter(
            pk=alarm.pk, step=alarm.step, claimed_at__isnull=True, closed_at__isnull=True
        ).update(step=step, stepped_at=now, audience=audience)
        if not taken:
            return None
        alarm.step, alarm.stepped_at, alarm.audience = step, now, audience
        return journal.append(
            kind=kinds.ALARM_ESCALATED,
            audience=audience.split(),
            data=alarm_payload(alarm) | {"widened": WIDENED[step]},
        )


def alarm_escalate_sweep(*, now: datetime | None = None, event_id: int | None = None) -> list:
    """Escalate every unclaimed alarm of every running event whose wait has passed; safe to run
    in several processes at once. Returns the entries this call wrote."""
    now = now or timezone.now()
    written = []
    for event in Event.objects.running(now, event_id=event_id):
        wait = timedelta(minutes=event.alarm_escalate_minutes)
        due = Alarm.objects.select_related("participant", "claimed_by").filter(
            event=event, closed_at__isnull=True, claimed_at__isnull=True, step__lt=LAST_STEP
        )
        for alarm in due:
            if now - (alarm.stepped_at or alarm.opened_at) >= wait:
                entry = alarm_escalate(alarm=alarm, now=now)
                if entry is not None:
                    written.append(entry)
    return written


def alarms_open_visible(*, participant: Participant) -> list[dict]:
    """The open alarms this participant is told of, oldest first, as `alarm.opened` data."""
    found = Alarm.objects.select_related("participant", "claimed_by").filter(
        event_id=participant.event_id, closed_at__isnull=True
    )
    return [
        kinds.kind_payload(kind=kinds.ALARM_OPENED, data=alarm_payload(a)).model_dump(mode="json")
        for a in found
        if visibility.may_see(participant, a.audience)
    ]
