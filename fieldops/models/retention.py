"""What retention needs: each event's data key, and what is left of an event once it is purged."""

from django.db import models


class EventKey(models.Model):
    """An event's data key, stored only wrapped by the master key (fieldops/crypto.py). Deleting the
    row at purge makes every value sealed with it unreadable, wherever a copy of it lies."""

    event = models.OneToOneField(
        "fieldops.Event", on_delete=models.CASCADE, related_name="data_key"
    )
    # Random, named in every sealed value: an id is never reused for another key.
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    wrapped = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"data key {self.key_id} of event {self.event_id}"


class EventTally(models.Model):
    """What remains of an event's field activity after its retention: how many of each kind per
    hour and, for what had a position, per cell of 0.01° (about a kilometre); never who or what."""

    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="tallies")
    hour = models.DateTimeField()
    # "checkin.ok", "incident.police", "sos", "arrest", "arrest.people", "alert.info",
    # "participant.medic"
    kind = models.CharField(max_length=60)
    cell_lat = models.FloatField(null=True, blank=True)
    cell_lng = models.FloatField(null=True, blank=True)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["event", "hour", "kind"]

    def __str__(self) -> str:
        return f"{self.count} × {self.kind} at {self.hour:%Y-%m-%d %H}h"
