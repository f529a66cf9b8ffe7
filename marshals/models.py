"""People in the field: participants, invites, device tokens, check-ins, route acknowledgements,
Web Push subscriptions."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from fieldops.crypto import EncryptedFloatField, EncryptedTextField

from .roles import Role


class Participant(models.Model):
    """Someone taking part, known by callsign and role; no real name is needed."""

    event = models.ForeignKey(
        "fieldops.Event", on_delete=models.CASCADE, related_name="participants"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    callsign = models.CharField(max_length=40)
    group = models.ForeignKey(
        "fieldops.MarchGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="participants",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    invite = models.ForeignKey(
        "Invite", on_delete=models.SET_NULL, null=True, blank=True, related_name="participants"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "role", "callsign"]

    def __str__(self) -> str:
        return f"{self.callsign} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Invite(models.Model):
    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="invites")
    role = models.CharField(max_length=10, choices=Role.choices)
    group = models.ForeignKey(
        "fieldops.MarchGroup", on_delete=models.SET_NULL, null=True, blank=True
    )
    # Stored hashed like a token: the code itself is shown once, when the invite is made.
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    uses = models.PositiveIntegerField(default=0, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        Participant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_role_display()} invite ({self.label or self.pk})"

    def usable(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None or self.expires_at <= now:
            return False
        return self.max_uses is None or self.uses < self.max_uses


class DeviceToken(models.Model):
    """A bearer token for one device. Only the SHA-256 of the random token is stored."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Token for {self.participant} ({self.label or self.pk})"


class CheckInQuerySet(models.QuerySet):
    def latest_each(self) -> list["CheckIn"]:
        """The latest check-in of each participant among these check-ins, in one query."""
        latest = self.values("participant_id").annotate(last=models.Max("pk")).values("last")
        return list(CheckIn.objects.filter(pk__in=latest).select_related("participant"))


class CheckIn(models.Model):
    class Status(models.TextChoices):
        OK = "ok", "OK"
        NEED_HELP = "need_help", "Need help"
        BLOCKED = "blocked", "Blocked"

    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="checkins")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="checkins")
    # Where someone was, and what they said: sealed with the event's data key (fieldops/crypto.py).
    lat = EncryptedFloatField()
    lng = EncryptedFloatField()
    accuracy_m = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OK)
    note = EncryptedTextField(max_length=280, blank=True)
    device_time = models.DateTimeField(null=True, blank=True)
    server_time = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = CheckInQuerySet.as_manager()

    class Meta:
        ordering = ["-server_time"]

    def __str__(self) -> str:
        return f"{self.participant} {self.status} at {self.server_time:%H:%M:%S}"


class RouteAck(models.Model):
    route = models.ForeignKey("fieldops.Route", on_delete=models.CASCADE, related_name="acks")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["route", "participant"], name="unique_route_ack")
        ]

    def __str__(self) -> str:
        return f"{self.participant} understood {self.route}"


class PushSubscription(models.Model):
    """A browser's Web Push subscription for one participant (the JSON of the browser's
    PushSubscription). Its endpoint is a capability URL that names the browser at its push
    service, and its keys open what is sent to it: all three are personal data, sealed with the
    event's data key and erased with the event (fieldops/services/retention.py)."""

    event = models.ForeignKey("fieldops.Event", on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = EncryptedTextField()
    p256dh = EncryptedTextField()
    auth = EncryptedTextField()
    # A keyed hash of the endpoint (salted_hmac), to find a subscription without decrypting any.
    endpoint_hash = models.CharField(max_length=64, editable=False)
    # The language the page was in when it subscribed: the notification's text is in it.
    language = models.CharField(max_length=12, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "endpoint_hash"], name="unique_push_subscription"
            )
        ]
        indexes = [models.Index(fields=["event", "endpoint_hash"], name="push_sub_endpoint")]

    def __str__(self) -> str:
        return f"Web Push subscription {self.pk} of {self.participant_id}"
