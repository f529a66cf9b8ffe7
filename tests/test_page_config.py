"""What the server puts in a page's config for its scripts: labels instead of raw values, the table
of journal kinds, texts with counts in their plural forms, the outbox key, and where the page's
replay starts."""

import base64

import pytest
from django.test import override_settings
from django.utils import translation

from fieldops import page_strings, pages
from fieldops.models import Incident
from fieldops.services import kinds
from fieldops.services.alerts import alert_send
from fieldops.services.checkins import checkin_create

from .factories import ParticipantFactory
from .test_field_pages import joined, page_config


def test_labels_name_every_enum_value_and_entry_type_in_the_page_language():
    with translation.override("es"):
        labels = page_strings.client_labels()
    # Translated (whatever the wording), not the models' English labels.
    assert labels["role"]["marshal"] not in ("marshal", "Marshal")
    assert labels["kind"]["crowd"] not in ("crowd", "Crowd pressure")
    assert labels["severity"]["high"] not in ("high", "High")
    assert set(labels["status"]) == {c for c, _ in Incident.Status.choices}
    assert set(labels["checkin"]) == {"ok", "need_help", "blocked"}
    assert set(labels["direction"]) == {"N", "NE", "E", "SE", "S", "SW", "W", "NW"}
    assert set(labels) >= {"role", "kind", "severity", "status", "checkin", "place"}


@pytest.mark.django_db
def test_the_page_config_names_every_journal_kind_with_a_translated_label_and_a_level(cast):
    # append() writes no kind the registry lacks, so the registry is every kind there is.
    assert set(page_strings.KIND_TABLE) == set(kinds.KINDS)
    english = page_config(joined(cast, "marshal")[0], cast)["kinds"]
    browser, _ = joined(cast, "legal")
    browser.cookies["django_language"] = "es"
    with translation.override("en"):  # the request activates Spanish for this thread
        spanish = page_config(browser, cast)["kinds"]

    assert set(english) == set(spanish) == set(kinds.KINDS)
    for name in kinds.KINDS:
        assert english[name]["level"] in ("info", "warning", "danger"), name
        assert english[name]["level"] == spanish[name]["level"], name
        assert english[name]["label"] not in ("", name), name
        assert spanish[name]["label"] != english[name]["label"], name
    assert english["sos.raised"]["level"] == "danger"
    assert english["marshal.overdue"]["level"] == "warning"


def test_texts_with_a_count_come_in_one_and_other_forms():
    strings = page_strings.client_strings()
    for key in ("waiting", "ago_min", "ago_h", "people_n", "overdue", "line_arrest"):
        assert set(strings[key]) == {"one", "other"}, key
        assert "%(n)s" in strings[key]["one"] and "%(n)s" in strings[key]["other"], key
    assert strings["people_n"] == {"one": "%(n)s person", "other": "%(n)s people"}


@pytest.mark.django_db
def test_the_outbox_key_is_per_participant_and_changes_with_the_secret_key(cast):
    key = pages.outbox_key(cast.legal)
    assert len(base64.urlsafe_b64decode(key + "=")) == 32  # AES-256
    assert key == pages.outbox_key(cast.legal)
    assert key != pages.outbox_key(cast.marshal_a)
    with override_settings(SECRET_KEY="another-secret-key-for-this-test-only-0123456789"):
        assert key != pages.outbox_key(cast.legal)


@pytest.mark.django_db
def test_a_page_replays_the_last_entries_its_participant_may_see_however_many_others_follow(
    cast, monkeypatch
):
    monkeypatch.setattr(pages, "FEED_BACKLOG", 3)
    public = [alert_send(participant=cast.organizer, text="Keep left").seq for _ in range(4)]
    for _ in range(10):  # check-ins a marcher never sees
        last = checkin_create(participant=cast.organizer, lat=40.4193, lng=-3.6932).seq
    # The marcher's replay starts just before their third-last public entry...
    assert pages.feed_since(cast.marcher, last) == public[1] - 1
    # ...an organizer's, before the last three of everything.
    assert pages.feed_since(cast.organizer, last) == last - 3
    # With fewer visible entries than the backlog, from the start.
    other = ParticipantFactory(event=cast.event, role="legal", callsign="l2")
    monkeypatch.setattr(pages, "FEED_BACKLOG", 50)
    assert pages.feed_since(other, last) == 0
