"""Check-ins: where a marshal or medic is and how they are, and the safety rules each one settles
(overdue, off route, inside a danger zone), in the same transaction as the row it writes."""

import uuid
from dataclasses import dataclass

from django.db import connection

from fieldops import audiences
from fieldops.services import kinds
from fieldops.services.journal import journal_writer
from fieldops.services.rows import row_ready
from fieldops.services.safety import offroute, overdue, zones
from marshals.models import CheckIn, Participant, Role
from marshals.payloads import participant_payload


def checkin_audience(participant: Participant) -> list[str]:
    """Organizers, and the check-in's peers: a marshal's group's marshals, the medics for a medic."""
    if participant.role == Role.MARSHAL and participant.group_id:
        return [audiences.ORGANIZERS, audiences.march_group_marshals_tag(participant.group_id)]
    if participant.role == Role.MEDIC:
        return [audiences.ORGANIZERS, audiences.MEDICS]
    return [audiences.ORGANIZERS]


@dataclass(frozen=True)
class RulesState:
    """What the safety rules keep about a participant, as a check-in's rules first ask it."""

    lapse_open: bool = False  # overdue, not yet back
    off_route: bool = False
    zones: frozenset[int] = frozenset()  # the danger zones they are known to be inside


def checkins_prepare(*, journal, participants: list[Participant]) -> None:
    """Read the rules' state of a batch's participants in one statement (fieldops/actions.py), for
    their check-ins to take instead of asking three each. Only a participant's first check-in of
    the batch takes it: a second one asks anew, after what the first wrote. The check-in rows'
    keys are taken ahead too, so that the rows go in one statement at the end."""
    journal.ids_reserve(CheckIn, len(participants))
    ids = sorted({p.pk for p in participants})
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"SELECT 'lapse', participant_id, 0 FROM fieldops_overduelapse"  # noqa: S608 - placeholders only
        f" WHERE participant_id IN ({marks}) AND cleared_at IS NULL"
        f" UNION ALL SELECT 'off', participant_id, 0 FROM fieldops_offroute"
        f" WHERE participant_id IN ({marks})"
        f" UNION ALL SELECT 'zone', participant_id, place_id FROM fieldops_zonepresence"
        f" WHERE participant_id IN ({marks})"
    )
    found: dict[int, dict] = {pk: {"lapse": False, "off": False, "zones": set()} for pk in ids}
    with connection.cursor() as cursor:
        cursor.execute(sql, ids * 3)
        for what, pk, place in cursor.fetchall():
            if what == "zone":
                found[pk]["zones"].add(place)
            else:
                found[pk][what] = True
    journal.prepared.update(
        {
            (CHECKIN_STATE, pk): RulesState(
                lapse_open=state["lapse"], off_route=state["off"], zones=frozenset(state["zones"])
            )
            for pk, state in found.items()
        }
    )


CHECKIN_STATE = "checkin.rules"


def checkin_row(*, participant, **fields) -> tuple[CheckIn, list]:
    """A check-in's row and its parameters, stamped and sealed now, and its position measured
    against the route: a batch makes them before it takes the event's lock, which then covers
    less work (fieldops/actions.py). `fields`: the check-in's own, as `checkin_create` takes them
    (lat, lng, status, accuracy_m, note, device_time)."""
    offroute.offroute_measure(participant=participant, lat=fields["lat"], lng=fields["lng"])
    checkin = CheckIn(event_id=participant.event_id, participant=participant, **fields)
    return checkin, row_ready(checkin)


def checkin_create(
    *,
    participant,
    lat: float,
    lng: float,
    status: str = "ok",
    accuracy_m: float | None = None,
    note: str = "",
    device_time=None,
    client_id: uuid.UUID | None = None,
    row: tuple[CheckIn, list] | None = None,
):
    """Record where a marshal or medic is and how they are (`row`: `checkin_row`'s, if made)."""
    with journal_writer(event_id=participant.event_id) as journal:
        instance, params = row or checkin_row(
            participant=participant,
            lat=lat,
            lng=lng,
            status=status,
            accuracy_m=accuracy_m,
            note=note,
            device_time=device_time,
        )
        checkin = journal.insert(instance, params=params)
        entry = journal.append(
            kind=kinds.CHECKIN,
            audience=checkin_audience(participant),
            data={
                "checkin": checkin.pk,
                **participant_payload(participant),
                "lat": lat,
                "lng": lng,
                "accuracy_m": accuracy_m,
                "status": status,
                "note": note,
                "device_time": device_time,
            },
            actor=participant,
            client_id=client_id,
        )
        # The safety rules a check-in settles: overdue, off route, inside a danger zone.
        state = journal.prepared.pop((CHECKIN_STATE, participant.pk), None)
        overdue.overdue_clear(
            journal=journal,
            participant=participant,
            checkin=checkin,
            lapse_open=state and state.lapse_open,
        )
        offroute.offroute_check(
            journal=journal, participant=participant, checkin=checkin, off=state and state.off_route
        )
        zones.zone_check(
            journal=journal,
            participant=participant,
            checkin=checkin,
            known=state and set(state.zones),
        )
        return entry
