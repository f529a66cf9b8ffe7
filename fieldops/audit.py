"""The audit: who read decrypted personal data, and who changed what in the admin, and when.

An entry names the person (participant or admin user id), the record (model and id), the action
and the names of the fields read or changed, never a value or free text (docs/deployment.md,
"Audit"). Written by hand: django-simple-history, django-auditlog and django-pghistory keep the
values of each version, which would copy the personal data being watched into the audit.
"""

import functools
from collections.abc import Iterable

from django.contrib.admin.actions import delete_selected
from django.db import models, transaction

from fieldops.crypto import EncryptedTextField
from fieldops.models import AuditEntry, Event
from marshals.models import Participant

MAX_ID = 2**63 - 1  # the largest id a database column holds
# Set on the request by the admin for the hooks that run later in the same request.
_CHANGED_FIELDS = "_fieldops_audit_changed_fields"
_BULK_ACTION = "_fieldops_audit_bulk_action"


def personal_fields(model: type[models.Model]) -> tuple[str, ...]:
    """The fields of a model stored encrypted: whoever is shown them reads decrypted personal data."""
    fields = model._meta.concrete_fields
    return tuple(f.name for f in fields if isinstance(f, EncryptedTextField))


def _event_id(obj: models.Model) -> int | None:
    """The event a record belongs to, directly or through the record it hangs from."""
    if isinstance(obj, Event):
        return obj.pk
    if hasattr(obj, "event_id"):
        return obj.event_id
    for field in obj._meta.concrete_fields:
        parent = field.related_model if field.many_to_one else None
        if parent is not None and hasattr(parent, "event_id"):
            parent_pk = getattr(obj, field.attname)
            if parent_pk is not None:
                rows = parent._base_manager.filter(pk=parent_pk)
                return rows.values_list("event_id", flat=True).first()
    return None


def audit_record(
    *,
    action: str,
    via: str,
    objects: Iterable[models.Model],
    fields: Iterable[str] = (),
    participant: Participant | None = None,
    user=None,
    bulk_action: str = "",
) -> list[AuditEntry]:
    """Record one audit entry per record: who did `action` to it, through `via`, on which fields."""
    user_id = user.pk if user is not None and user.is_authenticated else None
    entries = [
        AuditEntry(
            event_id=_event_id(obj),
            participant=participant,
            user_id=user_id,
            action=action,
            via=via,
            model=obj._meta.label_lower,
            object_id=str(obj.pk),
            fields=list(fields),
            bulk_action=bulk_action,
        )
        for obj in objects
    ]
    return AuditEntry.objects.bulk_create(entries)


def audit_read(*, record: models.Model, via: str, participant=None, user=None) -> None:
    """Record that `record`'s personal fields were decrypted and shown; call before showing them."""
    audit_record(
        action=AuditEntry.Action.READ,
        via=via,
        objects=[record],
        fields=personal_fields(type(record)),
        participant=participant,
        user=user,
    )


def audit_list(*, event_id: int, before: int | None = None, limit: int = 100) -> list[dict]:
    """An event's audit, newest first; `before` pages back from an entry's id."""
    query = AuditEntry.objects.filter(event_id=event_id).order_by("-pk")
    if before is not None:
        query = query.filter(pk__lt=before)
    entries = list(query[:limit])
    ids = {e.participant_id for e in entries if e.participant_id}
    callsigns = dict(
        Participant.objects.filter(pk__in=ids, event_id=event_id).values_list("pk", "callsign")
    )
    return [
        {
            "id": e.pk,
            "at": e.at.isoformat(),
            "action": e.action,
            "via": e.via,
            "model": e.model,
            "object_id": e.object_id,
            "fields": e.fields,
            "bulk_action": e.bulk_action,
            "participant": e.participant_id,
            "callsign": callsigns.get(e.participant_id),
            "user": e.user_id,
        }
        for e in entries
    ]


class AuditedAdmin:
    """ModelAdmin mixin (put it first in the bases): every add, change, delete and bulk action,
    inline records included, and every page that shows encrypted fields decrypted (a record's
    page, a list with such a column) goes to the audit. Django's own admin history is not
    written: it keeps each object's text for ever."""

    def _audit(self, request, action, objects, fields=(), bulk_action=""):
        audit_record(
            action=action,
            via=AuditEntry.Via.ADMIN,
            objects=objects,
            fields=fields,
            user=request.user,
            bulk_action=bulk_action,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and personal_fields(self.model):
            audit_read(record=obj, via=AuditEntry.Via.ADMIN, user=request.user)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        columns = personal_fields(self.model)
        shown = [name for name in self.get_list_display(request) if name in columns]
        listing = getattr(response, "context_data", None) or {}
        if shown and "cl" in listing:
            rows = list(listing["cl"].result_list)  # the page's rows, kept for the rendering
            self._audit(request, AuditEntry.Action.READ, rows, shown)
        return response

    def construct_change_message(self, request, form, formsets, add=False):
        # Django calls this just before log_addition/log_change, and only here is the form at hand.
        setattr(request, _CHANGED_FIELDS, list(getattr(form, "changed_data", [])))
        return super().construct_change_message(request, form, formsets, add)

    def log_addition(self, request, obj, message):
        self._audit(request, AuditEntry.Action.ADD, [obj], getattr(request, _CHANGED_FIELDS, []))

    def log_change(self, request, obj, message):
        self._audit(request, AuditEntry.Action.CHANGE, [obj], getattr(request, _CHANGED_FIELDS, []))

    def log_deletions(self, request, queryset):
        bulk_action = getattr(request, _BULK_ACTION, "")
        self._audit(request, AuditEntry.Action.DELETE, list(queryset), bulk_action=bulk_action)

    def save_formset(self, request, form, formset, change):
        # Deleted inline records lose their id when deleted: record them first.
        gone = [f.instance for f in formset.deleted_forms if f.instance.pk is not None]
        self._audit(request, AuditEntry.Action.DELETE, gone)
        super().save_formset(request, form, formset, change)
        for f in formset.extra_forms:
            if f.instance.pk is not None and f not in formset.deleted_forms and f.has_changed():
                self._audit(request, AuditEntry.Action.ADD, [f.instance], f.changed_data)
        for obj, changed in formset.changed_objects:
            self._audit(request, AuditEntry.Action.CHANGE, [obj], changed)

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {
            name: (self._audited_action(func, name), name, description)
            for name, (func, _, description) in actions.items()
        }

    def _audited_action(self, func, name):
        @functools.wraps(func)
        def run(modeladmin, request, queryset):
            setattr(request, _BULK_ACTION, name)
            # Unlike the change and delete pages, Django runs actions outside a transaction.
            with transaction.atomic():
                if func is delete_selected:
                    # Its deletions are recorded by log_deletions, once confirmed.
                    return func(modeladmin, request, queryset)
                selected = list(queryset)
                response = func(modeladmin, request, queryset)
                self._audit(request, AuditEntry.Action.BULK, selected, bulk_action=name)
            return response

        return run


class ReadOnlyAdmin(AuditedAdmin):
    """ModelAdmin mixin for records that are history: they can be viewed, never added, changed or
    deleted in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
