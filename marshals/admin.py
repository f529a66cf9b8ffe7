"""The admin of people in the field. Revocations and role or group changes made here go through the
same services as over REST and on the command page (marshals/services.py), so open sockets close or
reconnect on every worker at once; revocation dates are never edited by hand."""

from django import forms
from django.contrib import admin, messages

from fieldops import errors
from fieldops.audit import AuditedAdmin

from . import services
from .models import CheckIn, DeviceToken, Invite, Participant, RouteAck

REVOKE_FIELDS = ("revoke", "revoke_invite")
SCOPE_FIELDS = ("role", "group")


def acting(request, event) -> Participant:
    """The organizer participant that the admin's staff user acts as at this event."""
    return services.participant_for_staff(event=event, user=request.user)


class DeletedOneByOne:
    """Deleting a selection deletes each record through `delete_model`, and so through its service:
    a bulk delete closes sockets just as deleting one record does."""

    deleted_with = "event"  # what `delete_model` reads of each record, fetched in the same query

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related(self.deleted_with):
            self.delete_model(request, obj)


class ParticipantForm(forms.ModelForm):
    revoke = forms.BooleanField(
        required=False, help_text="Revoke now: every device of theirs is disconnected at once."
    )
    revoke_invite = forms.BooleanField(
        required=False,
        label="Also revoke their invite",
        help_text="Nobody joins again with the invite they used (a seized phone included).",
    )

    class Meta:
        model = Participant
        fields = ["event", "role", "callsign", "group", "user", "invite"]

    def clean(self):
        cleaned = super().clean()
        group, event = cleaned.get("group"), cleaned.get("event")
        event_id = event.pk if event is not None else self.instance.event_id
        if group is not None and group.event_id != event_id:
            self.add_error("group", errors.MSG_NO_SUCH_GROUP)
        return cleaned


@admin.register(Participant)
class ParticipantAdmin(DeletedOneByOne, AuditedAdmin, admin.ModelAdmin):
    form = ParticipantForm
    list_display = ["callsign", "role", "group", "event", "revoked_at"]
    list_filter = ["event", "role", "group"]
    search_fields = ["callsign"]
    actions = ["revoke_participants", "revoke_participants_and_invites"]

    def get_readonly_fields(self, request, obj=None):
        fields = ["revoked_at", "created_at"]
        return fields + ["event", "invite"] if obj is not None else fields

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is None or obj.revoked_at is not None:
            fields = [f for f in fields if f not in REVOKE_FIELDS]
        return fields

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        other = [f for f in form.changed_data if f not in (*SCOPE_FIELDS, *REVOKE_FIELDS)]
        if other:
            obj.save(update_fields=other)
        actor = acting(request, obj.event)
        if set(SCOPE_FIELDS) & set(form.changed_data):
            services.participant_change(
                participant=actor, target=obj.pk, role=obj.role, group=obj.group_id
            )
        if form.cleaned_data.get("revoke"):
            services.participant_revoke(
                participant=actor,
                target=obj.pk,
                revoke_invite=bool(form.cleaned_data.get("revoke_invite")),
            )

    def delete_model(self, request, obj):
        services.participant_delete(participant=acting(request, obj.event), target=obj.pk)

    @admin.action(description="Revoke the selected participants (their devices disconnect)")
    def revoke_participants(self, request, queryset, revoke_invite=False):
        for participant in queryset.select_related("event"):
            services.participant_revoke(
                participant=acting(request, participant.event),
                target=participant.pk,
                revoke_invite=revoke_invite,
            )
        self.message_user(request, f"{queryset.count()} revoked.", messages.SUCCESS)

    @admin.action(description="Revoke the selected participants and the invites they used")
    def revoke_participants_and_invites(self, request, queryset):
        self.revoke_participants(request, queryset, revoke_invite=True)


@admin.register(Invite)
class InviteAdmin(DeletedOneByOne, AuditedAdmin, admin.ModelAdmin):
    list_display = ["__str__", "event", "role", "group", "uses", "max_uses", "expires_at"]
    list_display += ["revoked_at"]
    list_filter = ["event", "role"]
    readonly_fields = ["uses", "revoked_at"]
    actions = ["revoke_invites"]

    def has_add_permission(self, request):
        # Its code is shown once, when it is made: on the command page or over REST.
        return False

    def delete_model(self, request, obj):
        services.invite_revoke(participant=acting(request, obj.event), invite=obj.pk)
        super().delete_model(request, obj)

    @admin.action(description="Revoke the selected invites (who joined with them stays)")
    def revoke_invites(self, request, queryset):
        for invite in queryset.select_related("event"):
            services.invite_revoke(participant=acting(request, invite.event), invite=invite.pk)
        self.message_user(request, f"{queryset.count()} revoked.", messages.SUCCESS)


@admin.register(DeviceToken)
class DeviceTokenAdmin(DeletedOneByOne, AuditedAdmin, admin.ModelAdmin):
    deleted_with = "participant__event"
    list_display = ["participant", "label", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["participant", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_devices"]

    def has_add_permission(self, request):
        # A token is made when a device joins, and shown to that device only.
        return False

    def delete_model(self, request, obj):
        self._revoke(request, [obj])
        super().delete_model(request, obj)

    @admin.action(description="Revoke the selected devices (they disconnect at once)")
    def revoke_devices(self, request, queryset):
        self._revoke(request, queryset.select_related("participant__event"))
        self.message_user(request, f"{queryset.count()} revoked.", messages.SUCCESS)

    def _revoke(self, request, tokens) -> None:
        for token in tokens:
            event = token.participant.event
            services.token_revoke(participant=acting(request, event), device=token.pk)


@admin.register(CheckIn)
class CheckInAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["participant", "status", "lat", "lng", "server_time"]
    list_filter = ["event", "status"]


@admin.register(RouteAck)
class RouteAckAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["participant", "route", "at"]
