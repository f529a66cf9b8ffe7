"""The admin covers the whole field model; routes and places get django-leaflet map widgets."""

from django.contrib import admin
from leaflet.admin import LeafletAdminWidget, LeafletGeoAdmin

from .audit import AuditedAdmin, ReadOnlyAdmin
from .models import (
    Alert,
    ArrestRecord,
    AuditEntry,
    Event,
    Incident,
    IncidentChange,
    JournalEntry,
    MarchGroup,
    Place,
    Route,
)


class MarchGroupInline(admin.TabularInline):
    model = MarchGroup
    extra = 0


@admin.register(Event)
class EventAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "slug", "starts_at", "ends_at", "time_zone", "last_seq"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["last_seq", "created_at"]
    inlines = [MarchGroupInline]


@admin.register(MarchGroup)
class MarchGroupAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["name", "event", "color"]
    list_filter = ["event"]


@admin.register(Route)
class RouteAdmin(AuditedAdmin, LeafletGeoAdmin):
    list_display = ["__str__", "event", "group", "version", "published_at"]
    list_filter = ["event"]
    readonly_fields = ["version", "published_at", "published_by"]

    @property
    def media(self):
        # The change page has no editable field to pull in Leaflet, but shows the route on a map.
        return super().media + LeafletAdminWidget().media

    def has_change_permission(self, request, obj=None):
        # A route version is history: publish a new version instead of editing an old one.
        return obj is None and super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + ["route_map"] if obj is not None else fields

    @admin.display(description="Map")
    def route_map(self, obj):
        """The stored version drawn on a map that cannot be edited."""
        field = self.formfield_for_dbfield(Route._meta.get_field("geometry"), request=None)
        field.widget.modifiable = False
        return field.widget.render("route_map", field.prepare_value(obj.geometry))

    def save_model(self, request, obj, form, change):
        # Through the service, like a route drawn on the command page: a new version, a journal
        # entry, and every open page redrawn live.
        from fieldops.services.routes import route_publish
        from marshals.services import participant_for_staff

        organizer = participant_for_staff(event=obj.event, user=request.user)
        entry = route_publish(
            participant=organizer, geometry=obj.geometry, group=obj.group_id, note=obj.note
        )
        saved = Route.objects.get(pk=entry.data.route)
        obj.pk, obj.version, obj.published_at = saved.pk, saved.version, saved.published_at


@admin.register(Place)
class PlaceAdmin(AuditedAdmin, LeafletGeoAdmin):
    list_display = ["name", "kind", "event", "active", "public"]
    list_filter = ["event", "kind", "active"]


class IncidentChangeInline(admin.TabularInline):
    model = IncidentChange
    extra = 0
    readonly_fields = ["by", "status", "note", "at"]


@admin.register(Incident)
class IncidentAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["kind", "severity", "status", "event", "reporter", "created_at"]
    list_filter = ["event", "status", "severity", "kind"]
    inlines = [IncidentChangeInline]


@admin.register(ArrestRecord)
class ArrestRecordAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["occurred_at", "people_count", "agency", "event", "observer", "purged_at"]
    list_filter = ["event"]


@admin.register(Alert)
class AlertAdmin(AuditedAdmin, admin.ModelAdmin):
    list_display = ["text", "level", "audience", "event", "created_at"]
    list_filter = ["event", "level"]


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["seq", "kind", "event", "audience", "at"]
    list_filter = ["event", "kind"]
    readonly_fields = [f.name for f in JournalEntry._meta.fields]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    # Ids, not related objects: the person, record or event may be gone, the entry stays.
    fields = ["at", "action", "via", "model", "object_id", "fields", "bulk_action"]
    fields += ["who", "event_ref"]
    readonly_fields = fields
    list_display = ["at", "action", "via", "model", "object_id", "who", "event_ref"]
    list_filter = ["action", "via", "model"]

    @admin.display(description="Who")
    def who(self, obj):
        if obj.participant_id is not None:
            return f"participant {obj.participant_id}"
        return f"admin user {obj.user_id}" if obj.user_id is not None else "-"

    @admin.display(description="Event")
    def event_ref(self, obj):
        return obj.event_id


def _audit_auth_admin() -> None:
    """Admin changes to accounts are audited like everything else."""
    from django.contrib.auth import admin as auth_admin
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    for model, base in [(get_user_model(), auth_admin.UserAdmin), (Group, auth_admin.GroupAdmin)]:
        if admin.site.is_registered(model):
            admin.site.unregister(model)
        admin.site.register(model, type(base.__name__, (AuditedAdmin, base), {}))


_audit_auth_admin()
