"""The state behind the field-safety rules: overdue lapses, off-route and in-zone marshals, active
SOS and who was told, zone activations, route-acknowledgement reminders.

Where a rule must fire once even with several workers running, a unique constraint makes it a
database fact: the worker whose insert succeeds writes the journal entry, the others roll back.
"""

from django.db import models


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
