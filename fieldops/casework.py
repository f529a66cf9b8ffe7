"""Jail support pages: the open cases of an event and one case's follow-up, for legal observers and
organizers (docs/pages.md, "Jail support").

Server-rendered forms, no script: the follow-up is written through the same action as the socket
and REST (`arrest.update`), and a form carries its own action id so a double tap saves once.
"""

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from fieldops import errors, visibility
from fieldops.actions import action_perform
from fieldops.audit import audit_read
from fieldops.models import ArrestRecord, AuditEntry
from marshals.models import Participant
from marshals.sessions import session_participant

TEXTS = ("station", "charges", "bail", "lawyer", "follow_up_notes")
FLAGS = ("welfare_met", "contact_made", "contact_consent")
OPEN_LIMIT = 500  # cases listed on one page; a march rarely has more


def _reader(request: HttpRequest, slug: str) -> Participant | None:
    participant = session_participant(request.session, event_slug=slug)
    if participant is None or not visibility.may_read(participant, "arrests"):
        return None
    return participant


def cases(request: HttpRequest, slug: str) -> HttpResponse:
    """The event's arrests not yet released, oldest first (`?all=1`: the released too)."""
    participant = _reader(request, slug)
    if participant is None:
        return render(request, "not_joined.html", status=403)
    show_all = request.GET.get("all") == "1"
    records = ArrestRecord.objects.filter(event_id=participant.event_id, purged_at__isnull=True)
    open_count = records.filter(released_at__isnull=True).count()
    if not show_all:
        records = records.filter(released_at__isnull=True)
    records = records.select_related("observer").order_by("occurred_at")[:OPEN_LIMIT]
    return render(
        request,
        "pages/cases.html",
        {
            "participant": participant,
            "event": participant.event,
            "records": records,
            "open_count": open_count,
            "show_all": show_all,
            "updated": request.GET.get("updated", ""),
        },
    )


def _form_data(post, *, time_zone: str) -> dict:
    """The follow-up form as the action's data: empty date and time fields leave them as they
    were; ticked boxes are sent as true and unticked ones as false. The release time is typed in
    the event's own time zone (a datetime-local field has none)."""
    data = {name: post.get(name, "") for name in TEXTS}
    data |= {name: post.get(name) == "on" for name in FLAGS}
    if post.get("court_date"):
        data["court_date"] = post["court_date"]
    if post.get("released_at"):
        try:
            local = datetime.fromisoformat(post["released_at"])
        except ValueError:
            data["released_at"] = post["released_at"]  # the schema names it as invalid
        else:
            if local.tzinfo is None:
                local = local.replace(tzinfo=ZoneInfo(time_zone))
            data["released_at"] = local.isoformat()
    return data


def _form_initial(record: ArrestRecord, *, time_zone: str) -> dict:
    form = {name: getattr(record, name) for name in (*TEXTS, *FLAGS, "court_date")}
    released = record.released_at
    form["released_at"] = (
        released.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%dT%H:%M") if released else ""
    )
    return form


def _client_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@require_http_methods(["GET", "POST"])
def case(request: HttpRequest, slug: str, arrest_id: int) -> HttpResponse:
    """One case, decrypted (the reading is audited), with its follow-up form."""
    participant = _reader(request, slug)
    if participant is None:
        return render(request, "not_joined.html", status=403)
    record = ArrestRecord.objects.filter(
        pk=arrest_id, event_id=participant.event_id, purged_at__isnull=True
    ).first()
    if record is None:
        return render(request, "pages/case_missing.html", {"slug": slug}, status=404)
    time_zone = participant.event.time_zone
    error, fields = "", []
    form = _form_initial(record, time_zone=time_zone)
    if request.method == "POST":
        try:
            action_perform(
                participant=participant,
                verb="arrest.update",
                data={"arrest": record.pk, **_form_data(request.POST, time_zone=time_zone)},
                client_id=_client_id(request.POST.get("action_id", "")),
                prefix="",
            )
        except errors.ActionError as exc:
            error, fields = exc.message, [f["field"] for f in exc.fields]
            # Show what was typed, so nothing has to be typed again.
            form |= {name: request.POST.get(name, "") for name in (*TEXTS, "court_date")}
            form |= {name: request.POST.get(name) == "on" for name in FLAGS}
            form["released_at"] = request.POST.get("released_at", "")
        else:
            url = reverse("cases", kwargs={"slug": slug})
            return redirect(f"{url}?updated={record.pk}")
    audit_read(record=record, via=AuditEntry.Via.PAGE, participant=participant)
    return render(
        request,
        "pages/case.html",
        {
            "participant": participant,
            "event": participant.event,
            "record": record,
            "form": form,
            "error": error,
            "error_fields": fields,
            "action_id": uuid.uuid4(),
        },
        status=400 if error else 200,
    )
