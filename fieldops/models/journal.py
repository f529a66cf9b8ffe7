"""The journal: every fact a client learns, numbered gaplessly per event, with its audience."""

from django.db import models

from fieldops.crypto import EncryptedTextField


class JournalEntry(models.Model):
    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="journal")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=40)
    # Audience tags (see fieldops.audiences), space-separated with a space at each end so a replay
    # can filter with a portable `contains " tag "` on SQLite and PostgreSQL alike.
    audience = models.CharField(max_length=500)
    # The exact JSON text sent on the wire, serialized once at write time and sealed with the
    # event's data key (readers that use SQL open it with fieldops.crypto.frame_text). Purged
    # entries keep only {"type", "seq", "at"}, in clear.
    frame = EncryptedTextField()
    actor = models.ForeignKey(
        "marshals.Participant", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The client's frame id, so a resend is answered with the original ack and writes nothing.
    client_id = models.UUIDField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["event", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["event", "seq"], name="unique_journal_seq"),
            models.UniqueConstraint(
                fields=["actor", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="unique_client_action",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}#{self.seq} {self.kind}"

    @property
    def audience_tags(self) -> list[str]:
        return self.audience.split()


class PushCursor(models.Model):
    """How far Web Push has gone in an event's journal: entries up to `seq` have been taken by a
    push sweep (fieldops/services/push.py), which moves it forward with a compare-and-set, so
    several sweepers never take the same entry. Created at the event's latest seq when its first
    subscription arrives: history is never pushed."""

    event = models.OneToOneField(
        "fieldops.Event", on_delete=models.CASCADE, primary_key=True, related_name="push_cursor"
    )
    seq = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return f"{self.event_id} pushed up to #{self.seq}"
