"""Incidents and SOS: reported by people in the field, handled by organizers."""

import uuid

from fieldops import audiences, errors
from fieldops.models import ActiveSos, Incident, IncidentChange
from marshals.models import Role

from . import kinds
from .journal import journal_writer
from .safety import alarms
from .safety import sos as sos_rules

INCIDENT_AUDIENCE = [audiences.ORGANIZERS, audiences.MARSHALS, audiences.LEGAL, audiences.MEDICS]
# Incidents that need someone to claim them (an alarm, fieldops/services/safety/alarms.py).
ALARMING = {Incident.Severity.HIGH, Incident.Severity.CRITICAL}

# Which statuses may follow which; closed incidents stay closed.
TRANSITIONS = {
    Incident.Status.REPORTED: {"acknowledged", "resolved", "dismissed"},
    Incident.Status.ACKNOWLEDGED: {"resolved", "dismissed"},
}


def incident_payload(incident: Incident) -> dict:
    return {
        "incident": incident.pk,
        "kind": incident.kind,
        "severity": incident.severity,
        "status": incident.status,
        "lat": incident.lat,
        "lng": incident.lng,
        "description": incident.description,
        "reporter": incident.reporter.callsign if incident.reporter else None,
        "group": incident.reporter.group_id if incident.reporter else None,
    }


def incident_report(
    *,
    participant,
    lat: float,
    lng: float,
    kind: str,
    severity: str,
    description: str = "",
    client_id: uuid.UUID | None = None,
):
    """Record an incident and tell organizers and the field teams."""
    with journal_writer(event_id=participant.event_id) as journal:
        incident = Incident.objects.create(
            event_id=participant.event_id,
            reporter=participant,
            kind=kind,
            severity=severity,
            lat=lat,
            lng=lng,
            description=description,
        )
        IncidentChange.objects.create(incident=incident, by=participant, status=incident.status)
        entry = journal.append(
            kind=kinds.INCIDENT_REPORTED,
            audience=INCIDENT_AUDIENCE,
            data=incident_payload(incident),
            actor=participant,
            client_id=client_id,
        )
        if severity in ALARMING:
            alarms.alarm_open(
                journal=journal,
                subject="incident",
                key=f"incident.{incident.pk}",
                audience=INCIDENT_AUDIENCE,
                incident=incident,
                lat=lat,
                lng=lng,
                actor=participant,
            )
        return entry


def sos_raise(
    *, participant, lat: float, lng: float, note: str = "", client_id: uuid.UUID | None = None
):
    """Raise an SOS: an incident of kind `sos`, critical, sent to organizers, medics, the sender and
    the marshals nearby (each with their distance and bearing to it). Sent again while the sender's
    SOS is active, it updates that SOS (`sos.updated`) instead of raising a second one."""
    with journal_writer(event_id=participant.event_id) as journal:
        incident = sos_rules.sos_active_for(participant=participant)
        if incident is not None:
            incident.lat, incident.lng = lat, lng
            incident.description = note or incident.description
            incident.save(update_fields=["lat", "lng", "description", "updated_at"])
            kind = kinds.SOS_UPDATED
        else:
            incident = Incident.objects.create(
                event_id=participant.event_id,
                reporter=participant,
                kind=Incident.Kind.SOS,
                severity=Incident.Severity.CRITICAL,
                lat=lat,
                lng=lng,
                description=note,
            )
            IncidentChange.objects.create(incident=incident, by=participant, status=incident.status)
            ActiveSos.objects.create(participant=participant, incident=incident)
            kind = kinds.SOS_RAISED
        entry = journal.append(
            kind=kind,
            audience=sos_rules.sos_main_audience(sender=participant),
            data=incident_payload(incident),
            actor=participant,
            client_id=client_id,
        )
        sos_rules.sos_notify(journal=journal, incident=incident, sender=participant)
        alarms.alarm_open(
            journal=journal,
            subject="sos",
            key=f"sos.{incident.pk}",
            audience=sos_rules.sos_audience(incident=incident),
            participant=participant,
            incident=incident,
            lat=lat,
            lng=lng,
            actor=participant,
        )
        return entry


def incident_update(
    *,
    participant,
    incident: int,
    status: str,
    note: str = "",
    client_id: uuid.UUID | None = None,
):
    """Move an incident along reported → acknowledged → resolved/dismissed, keeping its history."""
    with journal_writer(event_id=participant.event_id) as journal:
        found = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("reporter")
            .filter(pk=incident, event_id=participant.event_id)
            .first()
        )
        if found is None:
            raise errors.ActionError.field("data.incident", errors.MSG_NO_SUCH_INCIDENT)
        own_sos = found.kind == Incident.Kind.SOS and found.reporter_id == participant.pk
        if participant.role != Role.ORGANIZER and not (own_sos and status == "resolved"):
            raise errors.ActionError(errors.FORBIDDEN, errors.MSG_ONLY_ORGANIZERS_UPDATE)
        if status not in TRANSITIONS.get(found.status, set()):
            message = errors.MSG_BAD_TRANSITION.format(old=found.status, new=status)
            raise errors.ActionError.field("data.status", message)
        found.status = status
        found.save(update_fields=["status", "updated_at"])
        IncidentChange.objects.create(incident=found, by=participant, status=status, note=note)
        data = incident_payload(found) | {"note": note, "by": participant.callsign}
        audience = INCIDENT_AUDIENCE
        if found.kind == Incident.Kind.SOS:
            audience = sos_rules.sos_audience(incident=found)
            if status in ("resolved", "dismissed"):
                sos_rules.sos_closed(incident=found)
        entry = journal.append(
            kind=kinds.INCIDENT_UPDATED,
            audience=audience,
            data=data,
            actor=participant,
            client_id=client_id,
        )
        if status in ("resolved", "dismissed"):
            subject = "sos" if found.kind == Incident.Kind.SOS else "incident"
            alarms.alarm_clear(journal=journal, key=f"{subject}.{found.pk}", by=participant)
        return entry
