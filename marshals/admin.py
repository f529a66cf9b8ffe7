from django.contrib import admin

from .models import CheckIn, DeviceToken, Invite, Participant, RouteAck


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["callsign", "role", "group", "event", "revoked_at"]
    list_filter = ["event", "role", "group"]
    search_fields = ["callsign"]


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["__str__", "event", "role", "group", "uses", "max_uses", "expires_at"]
    list_filter = ["event", "role"]
    readonly_fields = ["uses"]


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    list_display = ["participant", "label", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["participant", "created_at", "last_used_at"]


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    list_display = ["participant", "status", "lat", "lng", "server_time"]
    list_filter = ["event", "status"]


@admin.register(RouteAck)
class RouteAckAdmin(admin.ModelAdmin):
    list_display = ["participant", "route", "at"]
