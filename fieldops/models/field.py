"""What happens on the day: incidents, arrests, alerts."""

from django.db import models

from fieldops.crypto import EncryptedFloatField, EncryptedTextField


class Incident(models.Model):
    class Kind(models.TextChoices):
        MEDICAL = "medical", "Medical"
        POLICE = "police", "Police action"
        CROWD = "crowd", "Crowd pressure"
        HOSTILE = "hostile", "Hostile group"
        HAZARD = "hazard", "Hazard"
        LOST = "lost", "Lost person"
        OTHER = "other", "Other"
        SOS = "sos", "SOS"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        REPORTED = "reported", "Reported"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="incidents")
    reporter = models.ForeignKey(
        "marshals.Participant", on_delete=models.SET_NULL, null=True, related_name="incidents"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.REPORTED)
    # Where and what: sealed with the event's data key (fieldops/crypto.py).
    lat = EncryptedFloatField()
    lng = EncryptedFloatField()
    description = EncryptedTextField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_severity_display()}, {self.status})"


class IncidentChange(models.Model):
    """The history of an incident's status, one row per change."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="changes")
    by = models.ForeignKey("marshals.Participant", on_delete=models.SET_NULL, null=True)
    status = models.CharField(max_length=15, choices=Incident.Status.choices)
    note = EncryptedTextField(max_length=500, blank=True, event_path="incident.event_id")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.incident_id} → {self.status}"


class ArrestRecord(models.Model):
    """A legal observer's record. Everything that could identify a person, and where it happened,
    is encrypted at rest with the event's data key; the record is erased when the event's retention
    ends (fieldops/services/retention.py). The journal carries only a summary."""

    class DispersalOrder(models.TextChoices):
        UNKNOWN = "unknown", "Unknown"
        NONE = "none", "None given"
        AUDIBLE = "audible", "Given, audible"
        INAUDIBLE = "inaudible", "Given, not audible"

    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="arrests")
    observer = models.ForeignKey(
        "marshals.Participant", on_delete=models.SET_NULL, null=True, related_name="arrests"
    )
    occurred_at = models.DateTimeField()
    lat = EncryptedFloatField()
    lng = EncryptedFloatField()
    people_count = models.PositiveSmallIntegerField(default=1)
    agency = EncryptedTextField(max_length=120, blank=True)
    dispersal_order = models.CharField(
        max_length=10, choices=DispersalOrder.choices, default=DispersalOrder.UNKNOWN
    )
    force_used = models.BooleanField(default=False)
    medical_needs = models.BooleanField(default=False)
    # Personal or identifying text: encrypted.
    arrestee_description = EncryptedTextField(blank=True)
    officers = EncryptedTextField(blank=True)
    dispersal_details = EncryptedTextField(blank=True)
    force_details = EncryptedTextField(blank=True)
    stated_reason = EncryptedTextField(blank=True)
    vehicle = EncryptedTextField(blank=True)
    taken_to = EncryptedTextField(blank=True)
    welfare_notes = EncryptedTextField(blank=True)
    witnesses = EncryptedTextField(blank=True)
    notes = EncryptedTextField(blank=True)
    # Jail support: the follow-up legal observers and organizers keep until release
    # (services/arrests.py arrest_update). Free text and the court date are personal: encrypted.
    station = EncryptedTextField(blank=True)
    charges = EncryptedTextField(blank=True)
    bail = EncryptedTextField(blank=True)
    court_date = EncryptedTextField(blank=True)  # ISO date, sealed like the rest
    lawyer = EncryptedTextField(blank=True)
    follow_up_notes = EncryptedTextField(blank=True)
    welfare_met = models.BooleanField(default=False)
    contact_made = models.BooleanField(default=False)
    contact_consent = models.BooleanField(default=False)
    # In clear so open cases are one query; a time alone names nobody.
    released_at = models.DateTimeField(null=True, blank=True)
    followed_up_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    # The follow-up's sealed fields: personal data like the record's own free text.
    SEALED_FOLLOW_UP = ("station", "charges", "bail", "court_date", "lawyer", "follow_up_notes")
    PERSONAL_FIELDS = (
        "arrestee_description",
        "officers",
        "dispersal_details",
        "force_details",
        "stated_reason",
        "vehicle",
        "taken_to",
        "welfare_notes",
        "witnesses",
        "notes",
        *SEALED_FOLLOW_UP,
    )
    FOLLOW_UP_FIELDS = (
        *SEALED_FOLLOW_UP,
        "welfare_met",
        "contact_made",
        "contact_consent",
        "released_at",
    )

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"Arrest of {self.people_count} at {self.occurred_at:%H:%M}"


class Alert(models.Model):
    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        DANGER = "danger", "Danger"

    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="alerts")
    sender = models.ForeignKey("marshals.Participant", on_delete=models.SET_NULL, null=True)
    # One of: "public", a role ("marshal", "legal", "medic", "organizer"), or "group:<id>".
    audience = models.CharField(max_length=40, default="public")
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    # Alerts to a group or a role may be about someone: sealed like every other free text.
    text = EncryptedTextField(max_length=500)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"[{self.level}] {self.text[:40]}"
