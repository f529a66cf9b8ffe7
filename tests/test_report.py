"""The after-action report: its figures against a scenario worked out by hand (tests/aftermath.py),
who may open it, what it says of retention, and what remains of it after the purge."""

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from fieldops.debrief import report_build
from fieldops.models import Event
from fieldops.services.retention import event_purge

from .aftermath import FIGURES, plant_scenario
from .test_field_pages import joined


@pytest.fixture
def planted(cast) -> dict:
    return plant_scenario(cast.event.slug)


def test_the_figures_match_the_hand_computed_scenario(cast, planted):
    report = report_build(event=Event.objects.get(pk=cast.event.pk))

    assert report.median_sos_ack == FIGURES["median_sos_ack"]
    assert report.median_resolve == FIGURES["median_resolve"]
    assert report.median_route_ack == FIGURES["median_route_ack"]
    assert report.median_lapse == FIGURES["median_lapse"]
    assert sorted(report.sos_ack_minutes) == [2.0, 4.0, 9.0]
    assert sorted(report.resolve_minutes) == [20.0, 30.0]
    [k1] = [r for r in report.regularity if r.callsign == "K1"]
    want = FIGURES["regularity_k1"]
    assert (k1.checkins, k1.median_interval, k1.longest_interval, k1.within_interval) == (
        want["checkins"], want["median"], want["longest"], want["within"])  # fmt: skip
    v1, v2 = report.routes
    assert [m for _, m in v1.delays] == [3.0, 7.0] and [m for _, m in v2.delays] == [1.0]
    assert "K2" in v2.pending
    assert [list(h) for h in report.arrests_per_hour] == planted["arrests_per_hour"]
    assert [list(c) for c in report.arrests_per_place] == FIGURES["arrests_per_place"]
    assert report.counts["arrests"] == 3 and report.counts["arrested"] == 6


FIGURE = re.compile(r'<dd data-figure="(\w+)">([^<]*)</dd>')
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def test_the_report_page_shows_the_figures_the_timeline_and_when_the_data_is_purged(cast, planted):
    browser, _ = joined(cast, "organizer")
    page = browser.get(f"/e/{cast.event.slug}/report/")
    assert page.status_code == 200
    # The CSRF token is random letters and digits: a callsign such as K1 may turn up inside it.
    text = CSRF_TOKEN.sub("", page.content.decode())
    shown = dict(FIGURE.findall(text))
    for name in ("median_sos_ack", "median_resolve", "median_route_ack", "median_lapse"):
        assert float(shown[name]) == FIGURES[name], name
    assert shown["arrests"] == "3 (6)"
    assert "will be erased on" in text
    assert text.count('data-kind="sos"') == 3 and text.count('data-kind="arrest"') == 3
    assert text.count('data-layer="route"') == 2 and text.count('data-layer="arrest"') == 3
    assert 'style="' not in text.split("<main", 1)[1]  # the CSP allows no inline style


@pytest.mark.parametrize("role", ["legal", "marshal", "medic", "marcher"])
def test_only_organizers_open_the_report(cast, planted, role):
    browser, _ = joined(cast, role, cast.group_a.pk if role in ("marshal", "marcher") else None)
    assert browser.get(f"/e/{cast.event.slug}/report/").status_code == 403


def test_what_people_wrote_is_escaped_in_the_report(cast, planted):
    from fieldops.services.alerts import alert_send

    alert_send(participant=cast.organizer, text='<img src=x onerror="alert(1)">', audience="public")
    browser, _ = joined(cast, "organizer")
    text = browser.get(f"/e/{cast.event.slug}/report/").content.decode()
    assert "<img src=x" not in text and "&lt;img src=x" in text


def test_after_the_purge_the_report_shows_only_counts_and_coarse_times(cast, planted):
    event_purge(event=cast.event)
    staff = User.objects.create_user("ops", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_event"))
    browser = Client()
    browser.force_login(staff)

    page = browser.get(f"/e/{cast.event.slug}/report/")
    assert page.status_code == 200
    # The CSRF token is random letters and digits: a callsign such as K1 may turn up inside it.
    text = CSRF_TOKEN.sub("", page.content.decode())
    shown = dict(FIGURE.findall(text))
    assert shown["arrests"] == "3 (6)" and shown["sos"] == "3" and shown["incidents"] == "3"
    assert "median_sos_ack" not in shown  # response times named people: erased
    assert "was erased on" in text
    for gone in ("K1", "K2", "Owl-AAR", "Medic-AAR", "UIP", "Control-AAR"):
        assert gone not in text, gone
    assert "40.43" in text  # arrests per cell of 0.01°, what the purge keeps


def test_a_staff_user_without_the_permission_is_refused(cast, planted):
    browser = Client()
    browser.force_login(User.objects.create_user("nobody", password="x", is_staff=True))
    assert browser.get(f"/e/{cast.event.slug}/report/").status_code == 403
