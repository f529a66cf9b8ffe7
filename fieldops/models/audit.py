"""The audit: who read decrypted personal data or changed something in the admin, and when.

It names people, records and fields by id and name only, never a value or free text, so it holds
no personal data and may outlive the event's retention.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


def _reference(to: str) -> models.ForeignKey:
    # A plain id without a database constraint: deleting the person or record (an admin deletion,
    # the retention purge) must neither cascade into the audit nor be blocked by it.
    return models.ForeignKey(
        to,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        READ = "read", "Read personal data"
        ADD = "add", "Added"
        CHANGE = "change", "Changed"
        DELETE = "delete", "Deleted"
        BULK = "bulk", "Bulk action"

    class Via(models.TextChoices):
        API = "api", "REST API"
        ADMIN = "admin", "Admin"
        PAGE = "page", "Field page"
        EXPORT = "export", "Export"

    at = models.DateTimeField(default=timezone.now)
    event = _reference("fieldops.Event")
    participant = _reference("marshals.Participant")
    user = _reference(settings.AUTH_USER_MODEL)
    action = models.CharField(max_length=10, choices=Action.choices)
    via = models.CharField(max_length=10, choices=Via.choices)
    # The model's label ("fieldops.arrestrecord") and the record's primary key.
    model = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, blank=True)
    # Names of the fields read or changed; never their values.
    fields = models.JSONField(default=list, blank=True)
    # The admin action run on a selection ("delete_selected"), empty otherwise.
    bulk_action = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.model}#{self.object_id}"
