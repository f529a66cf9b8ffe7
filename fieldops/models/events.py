"""The event and its geography: march groups, versioned routes, places and zones."""

import secrets
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from djgeojson.fields import GeometryField, LineStringField


def new_map_stamp() -> int:
    return secrets.randbits(62)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone: {value}")


class EventQuerySet(models.QuerySet):
    def running(self, now, *, event_id: int | None = None):
        """Events the watch looks after at `now` (of them, only `event_id` if given): started, not
        ended by an organizer, and at most WATCH_OVERRUN_HOURS past their scheduled end."""
        overrun = timedelta(hours=settings.FIELDOPS["WATCH_OVERRUN_HOURS"])
        events = self.filter(starts_at__lte=now, ends_at__gte=now - overrun, ended_at__isnull=True)
        return events if event_id is None else events.filter(pk=event_id)


class Event(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    retention_hours = models.PositiveIntegerField(
        default=72, help_text="Personal data is purged this many hours after the event ends."
    )
    checkin_interval_minutes = models.PositiveIntegerField(default=10)
    # An alarm nobody has claimed is escalated one step each time this passes
    # (fieldops/services/safety/alarms.py).
    alarm_escalate_minutes = models.PositiveIntegerField(
        default=3, help_text="Minutes an unclaimed alarm waits before each escalation step."
    )
    # Whether entries are also sent by Web Push to the phones that asked for it (organizers switch
    # it with `event.push`; fieldops/services/push.py).
    push_enabled = models.BooleanField(
        default=True, help_text="Send Web Push notifications to those who asked for them."
    )
    # The journal's last sequence number; bumped under a row lock so numbers stay gapless.
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)
    # Drawn anew at every save or delete of one of its routes or places, so that workers can keep a
    # copy of the map and know when it is stale (fieldops/services/safety/eventmap.py). Random, not
    # a counter: a rolled-back event's id may be reused, and its copy must not pass for the new one's.
    map_stamp = models.PositiveBigIntegerField(default=new_map_stamp, editable=False)
    # When an organizer ended it (`event.end`): the watch runs until then, marches overrun their
    # schedule, but never longer than WATCH_OVERRUN_HOURS past `ends_at` (EventQuerySet.running).
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When its personal data was erased (fieldops/services/retention.py); empty until then.
    purged_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:fieldops_event_change", args=[self.pk])

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The event must end after it starts."})


class MarchGroup(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default="#1f6feb")

    class Meta:
        ordering = ["event", "name"]
        constraints = [
            models.UniqueConstraint(fields=["event", "name"], name="unique_group_name_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.event.slug})"


class Route(models.Model):
    """One version of a route; the newest version for its event and group is the active one."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="routes")
    group = models.ForeignKey(
        MarchGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="routes"
    )
    version = models.PositiveIntegerField(editable=False)
    geometry = LineStringField()
    note = models.CharField(max_length=280, blank=True)
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        "marshals.Participant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["event", "group", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "group", "version"], name="unique_route_version"
            )
        ]

    def __str__(self) -> str:
        scope = self.group.name if self.group else "whole march"
        return f"Route v{self.version} ({scope})"


class Place(models.Model):
    class Kind(models.TextChoices):
        MEDIC = "medic", "Medic"
        LEGAL = "legal", "Legal support"
        WATER = "water", "Water"
        TOILETS = "toilets", "Toilets"
        EXIT = "exit", "Exit"
        ASSEMBLY = "assembly", "Assembly point"
        INFO = "info", "Information"
        DANGER = "danger", "Danger zone"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="places")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=120)
    geometry = GeometryField(help_text="A GeoJSON Point or Polygon.")
    active = models.BooleanField(default=True)
    public = models.BooleanField(default=True, help_text="Shown to marchers.")

    class Meta:
        ordering = ["event", "kind", "name"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    def clean(self) -> None:
        kind = (self.geometry or {}).get("type")
        if kind not in ("Point", "Polygon", "MultiPolygon"):
            raise ValidationError({"geometry": "A place is a Point or a Polygon."})
