"""The audit: every read of decrypted personal data and every admin change is recorded, by id and
field name only; the journal and the audit are read-only in the admin; organizers read their
event's audit, nobody else does."""

import json
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry

from fieldops.audit import personal_fields
from fieldops.models import Alert, ArrestRecord, AuditEntry, Event, JournalEntry, MarchGroup, Place
from tests.browser import *  # noqa: F403

from .conftest import api_client
from .factories import EventFactory, ParticipantFactory, PlaceFactory, issue_token

MARKER = "Zebra-4471 tattoo on the left arm"
NEW_MARKER = "Heron-9032 taken to the north station"
OCCURRED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def arrest_with_marker(cast) -> ArrestRecord:
    return ArrestRecord.objects.create(
        event=cast.event,
        observer=cast.legal,
        occurred_at=OCCURRED,
        lat=40.4153,
        lng=-3.6941,
        arrestee_description=MARKER,
        witnesses=MARKER,
    )


def audit_text() -> str:
    """Every audit row as text (but its time), to prove no personal value is in it."""
    rows = [{k: v for k, v in row.items() if k != "at"} for row in AuditEntry.objects.values()]
    return json.dumps(rows, default=str)


def audit_rows(**filters) -> list[tuple]:
    rows = AuditEntry.objects.filter(**filters).order_by("pk")
    return [(e.action, e.via, e.model, e.object_id, e.fields, e.bulk_action) for e in rows]


def arrest_read(record, *, via: str) -> tuple:
    """The audit row of a read of the arrest record's personal fields, as `audit_rows` gives it."""
    fields = list(personal_fields(ArrestRecord))
    return ("read", via, "fieldops.arrestrecord", str(record.pk), fields, "")


class _FormValues(HTMLParser):
    """What a browser would submit from an admin change form, as a dict."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name", "")
        if "__prefix__" in name:
            return
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.values[name] = a.get("value") or ("on" if a.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += (
                data.lstrip("\n") if not self.values[self._textarea] else data
            )


def form_values(admin_client, url: str) -> dict:
    response = admin_client.get(url)
    assert response.status_code == 200
    parser = _FormValues()
    parser.feed(response.content.decode())
    parser.values.pop("csrfmiddlewaretoken", None)
    return parser.values


# --- reads of decrypted personal data ------------------------------------------------------------


def test_reading_an_arrest_over_rest_is_audited_without_its_content(cast, tokens):
    record = arrest_with_marker(cast)
    before = datetime.now(UTC)

    response = api_client(tokens["legal"]).get(f"/api/events/{cast.event.slug}/arrests/{record.pk}")

    assert response.status_code == 200 and response.json()["arrestee_description"] == MARKER
    entry = AuditEntry.objects.get()
    assert entry.event_id == cast.event.pk
    assert (entry.participant_id, entry.user_id) == (cast.legal.pk, None)
    assert audit_rows() == [arrest_read(record, via="api")]
    assert entry.at >= before
    assert MARKER not in audit_text()


def test_a_refused_arrest_read_records_nothing(cast, tokens):
    record = arrest_with_marker(cast)
    response = api_client(tokens["marshal_a"]).get(
        f"/api/events/{cast.event.slug}/arrests/{record.pk}"
    )
    assert response.status_code == 403
    assert not AuditEntry.objects.exists()


def test_opening_an_arrest_in_the_admin_is_audited(cast, admin_client, admin_user):
    record = arrest_with_marker(cast)

    response = admin_client.get(f"/admin/fieldops/arrestrecord/{record.pk}/change/")

    assert response.status_code == 200 and MARKER in response.content.decode()
    entry = AuditEntry.objects.get()
    assert (entry.event_id, entry.participant_id, entry.user_id) == (
        cast.event.pk,
        None,
        admin_user.pk,
    )
    assert audit_rows() == [arrest_read(record, via="admin")]
    assert MARKER not in audit_text()


def test_an_admin_list_showing_encrypted_columns_is_audited_per_row(cast, admin_client):
    from marshals.admin import CheckInAdmin
    from marshals.models import CheckIn

    shown = [name for name in CheckInAdmin.list_display if name in personal_fields(CheckIn)]
    assert shown  # positions are stored encrypted and the list shows them
    checkins = [
        CheckIn.objects.create(
            event=cast.event, participant=cast.marshal_a, lat=40.4187, lng=-3.6931
        )
        for _ in range(2)
    ]

    response = admin_client.get("/admin/marshals/checkin/")

    assert response.status_code == 200
    assert sorted(audit_rows()) == [
        ("read", "admin", "marshals.checkin", str(c.pk), shown, "") for c in checkins
    ]
    assert "40.4187" not in audit_text() and "3.6931" not in audit_text()


def test_an_admin_list_without_encrypted_columns_records_nothing(cast, admin_client):
    arrest_with_marker(cast)
    assert admin_client.get("/admin/fieldops/event/").status_code == 200
    assert not AuditEntry.objects.exists()


# --- admin changes ---------------------------------------------------------------------------------


def test_an_admin_change_records_the_changed_field_names_but_not_their_values(
    cast, admin_client, admin_user
):
    record = arrest_with_marker(cast)
    url = f"/admin/fieldops/arrestrecord/{record.pk}/change/"
    data = form_values(admin_client, url) | {"notes": NEW_MARKER}
    AuditEntry.objects.all().delete()  # the read of the form above

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    record.refresh_from_db()
    assert record.notes == NEW_MARKER
    assert audit_rows() == [
        ("change", "admin", "fieldops.arrestrecord", str(record.pk), ["notes"], "")
    ]
    assert AuditEntry.objects.get().user_id == admin_user.pk
    assert MARKER not in audit_text() and NEW_MARKER not in audit_text()


def test_an_admin_addition_is_audited_with_the_new_record_and_its_fields(cast, admin_client):
    response = admin_client.post(
        "/admin/fieldops/marchgroup/add/",
        {"event": cast.event.pk, "name": "Secret West block", "color": "#112233"},
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    group = MarchGroup.objects.get(name="Secret West block")
    assert audit_rows() == [
        ("add", "admin", "fieldops.marchgroup", str(group.pk), ["event", "name", "color"], "")
    ]
    assert AuditEntry.objects.get().event_id == cast.event.pk
    assert "Secret West block" not in audit_text()


def test_inline_additions_and_deletions_are_audited_one_record_each(cast, admin_client):
    url = f"/admin/fieldops/event/{cast.event.pk}/change/"
    data = form_values(admin_client, url)
    n = int(data["groups-TOTAL_FORMS"])
    assert data[f"groups-{n - 1}-id"]  # the existing groups are the first forms
    removed = int(data["groups-0-id"])
    data |= {
        "groups-TOTAL_FORMS": str(n + 1),
        "groups-0-DELETE": "on",
        f"groups-{n}-id": "",
        f"groups-{n}-event": str(cast.event.pk),
        f"groups-{n}-name": "Secret East block",
        f"groups-{n}-color": "#445566",
    }

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    added = MarchGroup.objects.get(name="Secret East block")
    assert not MarchGroup.objects.filter(pk=removed).exists()
    assert audit_rows() == [
        ("delete", "admin", "fieldops.marchgroup", str(removed), [], ""),
        ("add", "admin", "fieldops.marchgroup", str(added.pk), ["name", "color"], ""),
        ("change", "admin", "fieldops.event", str(cast.event.pk), [], ""),
    ]
    assert set(AuditEntry.objects.values_list("event_id", flat=True)) == {cast.event.pk}
    assert "Secret East block" not in audit_text()


def test_an_admin_deletion_is_audited(cast, admin_client):
    alert = Alert.objects.create(event=cast.event, text="Meet at the secret place")

    response = admin_client.post(f"/admin/fieldops/alert/{alert.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Alert.objects.filter(pk=alert.pk).exists()
    assert audit_rows() == [("delete", "admin", "fieldops.alert", str(alert.pk), [], "")]
    assert AuditEntry.objects.get().event_id == cast.event.pk
    assert "secret place" not in audit_text()


def test_a_bulk_deletion_is_audited_once_confirmed_one_entry_per_record(cast, admin_client):
    alerts = [Alert.objects.create(event=cast.event, text=f"Alert {i}") for i in range(2)]
    selection = {"action": "delete_selected", "_selected_action": [a.pk for a in alerts]}

    confirm = admin_client.post("/admin/fieldops/alert/", selection)
    assert confirm.status_code == 200 and not AuditEntry.objects.exists()
    response = admin_client.post("/admin/fieldops/alert/", selection | {"post": "yes"})

    assert response.status_code == 302 and not Alert.objects.exists()
    assert sorted(audit_rows()) == [
        ("delete", "admin", "fieldops.alert", str(a.pk), [], "delete_selected") for a in alerts
    ]


def test_a_custom_bulk_action_is_audited_per_record(cast, rf, admin_user):
    from fieldops.audit import AuditedAdmin

    places = [PlaceFactory(event=cast.event) for _ in range(2)]

    @admin.action(description="Hide")
    def hide(modeladmin, request, queryset):
        queryset.update(public=False)

    class HidingPlaceAdmin(AuditedAdmin, admin.ModelAdmin):
        actions = [hide]

    modeladmin = HidingPlaceAdmin(Place, admin.AdminSite(name="audit-test"))
    request = rf.post("/", {"action": "hide", "index": 0, "_selected_action": [places[0].pk]})
    request.user = admin_user

    modeladmin.response_action(request, Place.objects.all())

    assert list(Place.objects.filter(public=False)) == [places[0]]
    assert audit_rows() == [("bulk", "admin", "fieldops.place", str(places[0].pk), [], "hide")]
    assert AuditEntry.objects.get().user_id == admin_user.pk


def test_every_model_in_the_admin_is_audited():
    from fieldops.audit import AuditedAdmin

    unaudited = [
        model._meta.label
        for model, modeladmin in admin.site._registry.items()
        if not isinstance(modeladmin, AuditedAdmin)
    ]
    assert unaudited == []


def test_the_admin_keeps_no_object_text_in_its_own_history(cast, admin_client):
    alert = Alert.objects.create(event=cast.event, text="Meet at the secret place")
    admin_client.post(f"/admin/fieldops/alert/{alert.pk}/delete/", {"post": "yes"})
    # Django's own history stores each object's text (str) for ever; the audit replaces it.
    assert not LogEntry.objects.exists()
    assert AuditEntry.objects.count() == 1


# --- read-only journal and audit -------------------------------------------------------------------


@pytest.mark.parametrize("model", [JournalEntry, AuditEntry], ids=["journal", "audit"])
def test_the_journal_and_the_audit_are_read_only_in_the_admin(cast, tokens, admin_client, model):
    api_client(tokens["organizer"]).post(
        f"/api/events/{cast.event.slug}/alerts",
        {"text": "Keep left"},
        content_type="application/json",
    )
    AuditEntry.objects.create(event=cast.event, action="read", via="api", model="fieldops.alert")
    row = model.objects.first()
    base = f"/admin/fieldops/{model._meta.model_name}/"
    count = model.objects.count()

    assert admin_client.get(base).status_code == 200
    assert admin_client.get(f"{base}{row.pk}/change/").status_code == 200
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{row.pk}/change/", {}).status_code == 403
    assert admin_client.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    admin_client.post(base, bulk)
    assert model.objects.count() == count


# --- organizers read their event's audit ----------------------------------------------------------


def test_organizers_read_their_events_audit_newest_first(cast, tokens, admin_client, admin_user):
    record = arrest_with_marker(cast)
    api_client(tokens["legal"]).get(f"/api/events/{cast.event.slug}/arrests/{record.pk}")
    admin_client.get(f"/admin/fieldops/arrestrecord/{record.pk}/change/")
    elsewhere = EventFactory()
    AuditEntry.objects.create(event=elsewhere, action="read", via="api", model="fieldops.alert")

    response = api_client(tokens["organizer"]).get(f"/api/events/{cast.event.slug}/audit")

    assert response.status_code == 200
    entries = response.json()["entries"]
    assert [(e["action"], e["via"], e["model"], e["object_id"]) for e in entries] == [
        ("read", "admin", "fieldops.arrestrecord", str(record.pk)),
        ("read", "api", "fieldops.arrestrecord", str(record.pk)),
    ]
    admin_read, rest_read = entries
    assert (admin_read["user"], admin_read["participant"]) == (admin_user.pk, None)
    assert (rest_read["participant"], rest_read["callsign"]) == (cast.legal.pk, "legal")
    assert rest_read["fields"] == list(personal_fields(ArrestRecord))
    assert MARKER not in response.content.decode()


def test_organizers_page_back_through_the_audit(cast, tokens):
    for _ in range(5):
        AuditEntry.objects.create(event=cast.event, action="read", via="api", model="x.y")
    client = api_client(tokens["organizer"])
    url = f"/api/events/{cast.event.slug}/audit"

    first = client.get(url, {"limit": 3}).json()["entries"]
    rest = client.get(url, {"limit": 3, "before": first[-1]["id"]}).json()["entries"]

    ids = [e["id"] for e in first + rest]
    assert ids == sorted(AuditEntry.objects.values_list("pk", flat=True), reverse=True)


@pytest.mark.parametrize("role", ["marshal_a", "legal", "medic", "marcher"])
def test_other_roles_cannot_read_the_audit(cast, tokens, role):
    response = api_client(tokens[role]).get(f"/api/events/{cast.event.slug}/audit")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_an_organizer_of_another_event_cannot_read_this_audit(cast):
    other = ParticipantFactory(event=EventFactory(), role="organizer")
    response = api_client(issue_token(other)).get(f"/api/events/{cast.event.slug}/audit")
    assert response.status_code == 403


def test_the_audit_needs_authentication(cast):
    response = api_client().get(f"/api/events/{cast.event.slug}/audit")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("params", "name"),
    [({"before": 2**63}, "before"), ({"before": 0}, "before"), ({"limit": 0}, "limit")],
    ids=["before-too-big", "before-zero", "limit-zero"],
)
def test_bad_audit_paging_is_refused_naming_the_field(cast, tokens, params, name):
    response = api_client(tokens["organizer"]).get(f"/api/events/{cast.event.slug}/audit", params)
    assert response.status_code in (400, 422)
    # The field's name, with or without where it was ("query.before").
    assert name in [f["field"].rsplit(".", 1)[-1] for f in response.json()["fields"]]


def test_deleting_an_event_keeps_its_audit(cast, admin_client):
    event_pk = cast.event.pk
    response = admin_client.post(f"/admin/fieldops/event/{event_pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Event.objects.filter(pk=event_pk).exists()
    assert audit_rows(event_id=event_pk) == [
        ("delete", "admin", "fieldops.event", str(event_pk), [], "")
    ]


# --- the command page ------------------------------------------------------------------------------

MADRID = {"latitude": 40.4169, "longitude": -3.7035}


@pytest.mark.browser
def test_the_command_page_shows_who_read_an_arrest_without_its_details(field, organizer_state):
    _, command = field.open_as(organizer_state)
    _, legal = field.join("legal", "Egret", permissions=["geolocation"], geolocation=MADRID)
    legal.wait_for_selector("#position:has-text('GPS')")
    legal.click("#arrest-form details summary")
    legal.fill("#arrestee_description", MARKER)
    legal.click("#arrest-send")
    command.wait_for_selector("#feed li[data-kind='arrest.logged']:has-text('Egret')")
    arrest = command.evaluate("() => Math.max(...Object.keys(window.FO.map.arrests).map(Number))")
    read = command.evaluate(
        "(id) => fetch(window.Fieldops.config().api + '/arrests/' + id).then((r) => r.json())",
        arrest,
    )
    assert read["arrestee_description"] == MARKER

    command.click("#audit-panel summary")
    command.click("#audit-load")

    item = command.locator(
        f"#audit li[data-action=read]:has-text('fieldops.arrestrecord #{arrest}')"
    )
    item.first.wait_for()
    assert "arrestee_description" in item.first.inner_text()
    assert MARKER not in command.inner_text("#audit")
