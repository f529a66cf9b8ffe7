"""A drill event run through its services, for the exports and the after-action report: check-ins,
incidents, an SOS, arrests with a follow-up, a route change acknowledged, alerts to several
audiences, a danger zone. Returns what it made, by name."""

from fieldops.models import ArrestRecord, Incident, Place, Route
from fieldops.services.alerts import alert_send
from fieldops.services.arrests import arrest_log, arrest_update
from fieldops.services.checkins import checkin_create
from fieldops.services.incidents import incident_report, incident_update, sos_raise
from fieldops.services.routes import route_publish
from fieldops.services.safety.acks import route_ack
from fieldops.services.safety.zones import zone_activate

from .factories import MADRID_ROUTE, PlaceFactory

ZONE = {
    "type": "Polygon",
    "coordinates": [[[-3.70, 40.41], [-3.69, 40.41], [-3.69, 40.42], [-3.70, 40.41]]],
}


def run_drill(cast) -> dict:
    """The drill, at the cast's event; the factory's route is replaced by a published one, so
    every route has its journal entry."""
    Route.objects.filter(event=cast.event).delete()
    route_publish(participant=cast.organizer, geometry={"type": "LineString",
                  "coordinates": MADRID_ROUTE[:4]}, note="the plan")  # fmt: skip
    for who, lat in ((cast.marshal_a, 40.4170), (cast.marshal_b, 40.4180), (cast.medic, 40.4190)):
        checkin_create(participant=who, lat=lat, lng=-3.7035, accuracy_m=10)
        checkin_create(participant=who, lat=lat + 0.0005, lng=-3.7030, note="moving")
    crowd = incident_report(participant=cast.marshal_a, lat=40.4175, lng=-3.7031, kind="crowd",
                            severity="high", description="pressure at the corner")  # fmt: skip
    incident_report(participant=cast.legal, lat=40.4160, lng=-3.7020, kind="police",
                    severity="medium", description="kettle forming")  # fmt: skip
    sos = sos_raise(participant=cast.marshal_b, lat=40.4181, lng=-3.7033, note="fainted")
    incident_update(participant=cast.organizer, incident=crowd.data.incident, status="resolved")
    incident_update(participant=cast.organizer, incident=sos.data.incident,
                    status="acknowledged")  # fmt: skip
    arrest_log(participant=cast.legal, lat=40.4161, lng=-3.7021, people_count=2,
               agency="UIP", arrestee_description="two students, one in a red coat")  # fmt: skip
    arrest_log(participant=cast.organizer, lat=40.4150, lng=-3.7010, people_count=1)
    first = ArrestRecord.objects.filter(event=cast.event).order_by("pk").first()
    arrest_update(participant=cast.legal, arrest=first.pk, station="Comisaría Centro",
                  lawyer="Lda. Gil", welfare_met=True)  # fmt: skip
    v2 = route_publish(participant=cast.organizer, geometry={"type": "LineString",
                       "coordinates": MADRID_ROUTE[1:5]}, note="detour")  # fmt: skip
    route_ack(participant=cast.marshal_a, route=v2.data.route)
    alert_send(participant=cast.organizer, text="Keep left", audience="public")
    alert_send(participant=cast.organizer, text="Lawyers at the fountain", audience="legal")
    alert_send(participant=cast.organizer, text="North block slow down",
               audience=f"group:{cast.group_a.pk}", level="warning")  # fmt: skip
    alert_send(participant=cast.organizer, text="Medics to the corner", audience="medic")
    PlaceFactory(event=cast.event, kind="medic", name="Medic tent", public=True)
    PlaceFactory(event=cast.event, kind="info", name="Organizers' van", public=False)
    zone_activate(participant=cast.organizer, name="Police line", geometry=ZONE, public=False)
    return {
        "incidents": Incident.objects.filter(event=cast.event).count(),
        "arrests": ArrestRecord.objects.filter(event=cast.event).count(),
        "places": Place.objects.filter(event=cast.event).count(),
    }


# --- A scenario whose figures are worked out by hand ----------------------------------------------
# Minutes after T0 (the hour the event started in). SOS: raised at 10, 30, 40 and first answered
# 4, 2 and 9 minutes later: median 4. Incidents: 0 → resolved at 20, 5 → resolved at 35, 50 →
# dismissed (not counted): median (20 + 30) / 2 = 25. Route v1 at 0, acknowledged by K1 at 3 and
# K2 at 7; v2 at 60, by K1 at 61, never by K2: delays 3, 7, 1, median 3. Overdue: K2 from 20 to 35,
# the medic from 40 to 46: median (15 + 6) / 2 = 10.5. K1 checks in at 0, 10, 25, 30: intervals
# 10, 15, 5, median 10, longest 15, 2 of 3 within the 10-minute interval. Arrests: 2 people at
# 15 (cell 40.42, -3.70), 1 at 70 and 3 at 75 (cell 40.43, -3.70): hour 0 one arrest of 2 people,
# hour 1 two arrests of 4.
FIGURES = {
    "median_sos_ack": 4.0,
    "median_resolve": 25.0,
    "median_route_ack": 3.0,
    "median_lapse": 10.5,
    "sos": 3,
    "incidents": 3,
    "arrests": 3,
    "arrested": 6,
    "regularity_k1": {"checkins": 4, "median": 10.0, "longest": 15.0, "within": 0.67},
    "pending_v2": ["K2"],
    "arrests_per_place": [[40.43, -3.7, 2, 4], [40.42, -3.7, 1, 2]],
}


def plant_scenario(slug: str) -> dict:
    """Plays the hand-computed scenario at the event `slug` through its services, then sets each
    record's time to the minute above. Returns FIGURES with the hours as the report labels them."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from fieldops.models import Event, IncidentChange, OverdueLapse
    from marshals.models import CheckIn, RouteAck

    from .factories import ParticipantFactory

    event = Event.objects.get(slug=slug)
    Event.objects.filter(pk=event.pk).update(checkin_interval_minutes=10)
    t0 = event.starts_at.replace(minute=0, second=0, microsecond=0)

    def at(minute: float):
        return t0 + timedelta(minutes=minute)

    organizer = ParticipantFactory(event=event, role="organizer", callsign="Control-AAR")
    k1 = ParticipantFactory(event=event, role="marshal", callsign="K1")
    k2 = ParticipantFactory(event=event, role="marshal", callsign="K2")
    medic = ParticipantFactory(event=event, role="medic", callsign="Medic-AAR")
    legal = ParticipantFactory(event=event, role="legal", callsign="Owl-AAR")
    Route.objects.filter(event=event).delete()
    line = MADRID_ROUTE[:6]
    v1 = route_publish(participant=organizer, geometry={"type": "LineString",
                       "coordinates": line}).data.route  # fmt: skip
    route_ack(participant=k1, route=v1)
    route_ack(participant=k2, route=v1)
    v2 = route_publish(participant=organizer, geometry={"type": "LineString",
                       "coordinates": MADRID_ROUTE[2:9]}, note="detour").data.route  # fmt: skip
    route_ack(participant=k1, route=v2)
    Route.objects.filter(pk=v1).update(published_at=at(0))
    Route.objects.filter(pk=v2).update(published_at=at(60))
    for route, who, minute in ((v1, k1, 3), (v1, k2, 7), (v2, k1, 61)):
        RouteAck.objects.filter(route_id=route, participant=who).update(at=at(minute))

    lng, lat = line[2]
    for start, answer, status, who in ((10, 14, "acknowledged", k1), (30, 32, "resolved", k2),
                                       (40, 49, "acknowledged", medic)):  # fmt: skip
        pk = sos_raise(participant=who, lat=lat, lng=lng, note="help").data.incident
        incident_update(participant=organizer, incident=pk, status=status)
        Incident.objects.filter(pk=pk).update(created_at=at(start))
        IncidentChange.objects.filter(incident_id=pk).update(at=at(answer))
    for start, steps, kind in ((0, [(20, "resolved")], "crowd"),
                               (5, [(6, "acknowledged"), (35, "resolved")], "police"),
                               (50, [(55, "dismissed")], "hazard")):  # fmt: skip
        pk = incident_report(participant=k1, lat=lat + 0.001, lng=lng, kind=kind,
                             severity="medium").data.incident  # fmt: skip
        Incident.objects.filter(pk=pk).update(created_at=at(start))
        for minute, status in steps:
            incident_update(participant=organizer, incident=pk, status=status)
            IncidentChange.objects.filter(incident_id=pk, status=status).update(at=at(minute))

    for who, raised, cleared in ((k2, 20, 35), (medic, 40, 46)):
        OverdueLapse.objects.create(event=event, participant=who, silent_since=at(raised - 10),
                                    raised_at=at(raised), cleared_at=at(cleared))  # fmt: skip
    for minute in (0, 10, 25, 30):
        checkin_create(participant=k1, lat=lat, lng=lng)
        CheckIn.objects.filter(pk=CheckIn.objects.latest("pk").pk).update(server_time=at(minute))

    for minute, people, where in ((15, 2, 40.4161), (70, 1, 40.4262), (75, 3, 40.4262)):
        arrest_log(participant=legal, lat=where, lng=-3.7021, people_count=people,
                   occurred_at=at(minute), agency="UIP")  # fmt: skip
    tz = ZoneInfo(event.time_zone)
    hours = [at(m).astimezone(tz).strftime("%H:00") for m in (0, 60)]
    return FIGURES | {"arrests_per_hour": [[hours[0], 1, 2], [hours[1], 2, 4]],
                      "t0": t0.isoformat()}  # fmt: skip


def plant_for_browser(slug: str) -> dict:
    """plant_scenario, plus invite codes for an organizer and a legal coordinator to join with."""
    from fieldops.models import Event
    from marshals.services import invite_create

    event = Event.objects.get(slug=slug)
    figures = plant_scenario(slug)
    return figures | {
        role: invite_create(event=event, role=role, max_uses=20).code
        for role in ("organizer", "legal")
    }
