"""The state behind the field-safety rules: overdue lapses, off-route and in-zone marshals, active
SOS and who was told, zone activations, route-acknowledgement reminders.

Where a rule must fire once even with several workers running, a unique constraint makes it a
database fact: the worker whose insert succeeds writes the journal entry, the others roll back.
"""

from django.db import models

from fieldops.crypto import EncryptedFloatField


class OverdueLapse(models.Model):
    """One stretch of silence of one participant, from their last sign of life until they check in."""

    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(
        "marshals.Participant", on_delete=models.CASCADE, related_name="overdue_lapses"
    )
    # The last check-in (or joining, or the event's start): with the participant, names the lapse.
    silent_since = models.DateTimeField()
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "silent_since"], name="one_overdue_alert_per_lapse"
            ),
            models.UniqueConstraint(
                fields=["participant"],
                condition=models.Q(cleared_at__isnull=True),
                name="one_open_overdue_lapse",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} silent since {self.silent_since:%H:%M:%S}"


class OffRoute(models.Model):
    """A marshal currently farther from their route than allowed (one row while it lasts)."""

    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="+")
    participant = models.OneToOneField(
        "marshals.Participant", on_delete=models.CASCADE, related_name="off_route"
    )
    route = models.ForeignKey("fieldops.Route", on_delete=models.CASCADE, related_name="+")
    distance_m = models.FloatField()
    since = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.participant_id} {self.distance_m:.0f} m off route"


class ZonePresence(models.Model):
    """A participant last seen inside an active danger zone (so entering warns once)."""

    participant = models.ForeignKey(
        "marshals.Participant", on_delete=models.CASCADE, related_name="+"
    )
    place = models.ForeignKey("fieldops.Place", on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "place"], name="one_presence_per_zone")
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} in zone {self.place_id}"


class ZoneActivation(models.Model):
    """The history of a danger zone being switched on and off by organizers."""

    place = models.ForeignKey(
        "fieldops.Place", on_delete=models.CASCADE, related_name="activations"
    )
    active = models.BooleanField()
    by = models.ForeignKey(
        "marshals.Participant", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"zone {self.place_id} {'on' if self.active else 'off'}"


class ActiveSos(models.Model):
    """At most one active SOS per sender: a re-sent SOS updates it instead of adding another."""

    participant = models.OneToOneField(
        "marshals.Participant", on_delete=models.CASCADE, related_name="active_sos"
    )
    incident = models.OneToOneField("fieldops.Incident", on_delete=models.CASCADE, related_name="+")
    raised_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"SOS {self.incident_id} by {self.participant_id}"


class SosRecipient(models.Model):
    """Someone told about an SOS personally, with distance and bearing from their last position."""

    incident = models.ForeignKey(
        "fieldops.Incident", on_delete=models.CASCADE, related_name="sos_recipients"
    )
    participant = models.ForeignKey(
        "marshals.Participant", on_delete=models.CASCADE, related_name="+"
    )
    distance_m = models.FloatField()
    bearing_deg = models.FloatField()
    at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "participant"], name="one_sos_recipient_row"
            )
        ]

    def __str__(self) -> str:
        return f"SOS {self.incident_id} → {self.participant_id}"


class RouteAckReminder(models.Model):
    """A reminder sent to a marshal who had not acknowledged a route version; at most one each."""

    route = models.ForeignKey("fieldops.Route", on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(
        "marshals.Participant", on_delete=models.CASCADE, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["route", "participant"], name="one_route_ack_reminder")
        ]

    def __str__(self) -> str:
        return f"reminded {self.participant_id} of route {self.route_id}"


class Alarm(models.Model):
    """Something that needs a person: an SOS, an overdue or off-route marshal, someone inside a
    danger zone, a high or critical incident. Open until resolved by a person or until its cause
    ends by itself; claimed by whoever is on it; escalated step by step while nobody claims it.

    One open alarm per cause (`key`) is a database fact, and each escalation step is taken by a
    conditional update (`step` = the step before), so any number of watches take it once.
    """

    class Subject(models.TextChoices):
        SOS = "sos"
        OVERDUE = "overdue"
        OFF_ROUTE = "off_route"
        IN_ZONE = "in_zone"
        INCIDENT = "incident"

    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=16, choices=Subject.choices)
    # The cause: "sos.<incident>", "overdue.<participant>", "in_zone.<participant>.<place>", ...
    key = models.CharField(max_length=64)
    # Whom it is about (the SOS's sender, the silent or strayed marshal), if anyone.
    participant = models.ForeignKey(
        "marshals.Participant", on_delete=models.CASCADE, null=True, related_name="+"
    )
    incident = models.ForeignKey(
        "fieldops.Incident", on_delete=models.CASCADE, null=True, related_name="+"
    )
    # Sealed with the event's data key, as every position is (fieldops/crypto.py).
    lat = EncryptedFloatField(null=True, blank=True)
    lng = EncryptedFloatField(null=True, blank=True)
    # Who is told, in audiences.audience_text form; widened as it escalates.
    audience = models.TextField()
    opened_at = models.DateTimeField()
    step = models.PositiveSmallIntegerField(default=0)
    stepped_at = models.DateTimeField(null=True)
    claimed_by = models.ForeignKey(
        "marshals.Participant", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True)
    closed_at = models.DateTimeField(null=True)
    closed_by = models.ForeignKey(
        "marshals.Participant", on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "key"],
                condition=models.Q(closed_at__isnull=True),
                name="one_open_alarm_per_cause",
            )
        ]

    def __str__(self) -> str:
        return f"alarm {self.key} step {self.step}"


class Presence(models.Model):
    """What one worker knows of one participant's phone: how many sockets it has open there and
    when it was last heard. Each worker writes its own rows in one batch every
    PRESENCE_FLUSH_SECONDS (fieldops/services/presence.py), never per frame; a row not written
    for a while is a worker gone, and its sockets with it."""

    participant = models.ForeignKey(
        "marshals.Participant", on_delete=models.CASCADE, related_name="+"
    )
    worker = models.CharField(max_length=64)
    sockets = models.PositiveIntegerField()
    last_heard = models.DateTimeField()
    written_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "worker"], name="one_presence_per_worker"
            )
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} on {self.worker}: {self.sockets}"
