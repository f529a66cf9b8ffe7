"""After the march in Chromium: a legal coordinator follows a case to release and downloads the
arrests as CSV for the lawyers; an organizer opens the after-action report, sees the figures of
the hand-computed scenario (tests/aftermath.py), and prints it to PDF. Pictures go to a temporary
directory; docs/screenshots/report.png comes from `python -m tests.screenshots --report`."""

import csv
import io

import pytest

from tests.browser import *  # noqa: F403
from tests.browser import field_fixture, join_with, serving_planted

from .aftermath import FIGURES

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def drill_server():
    with serving_planted("tests.aftermath.plant_for_browser") as served:
        yield served


field = field_fixture("drill_server")


def joined_page(field, drill_server, role: str, callsign: str, **options):
    server, planted = drill_server
    page = field.context(**options).new_page()
    join_with(page, server, planted[role], callsign)
    return page


def test_a_legal_coordinator_follows_a_case_to_release_and_exports_the_arrests(
    field, drill_server, tmp_path
):
    server, _ = drill_server
    page = joined_page(field, drill_server, "legal", "Coordinator", accept_downloads=True)
    page.click("#cases-link")
    page.wait_for_selector("#cases")
    assert page.locator("#cases li[data-arrest]").count() == 3
    page.locator("#cases a.fo-case").first.click()
    page.wait_for_selector("#follow-up")
    page.fill("#station", "Comisaría Centro")
    page.fill("#lawyer", "Lda. Gil")
    page.check("#welfare_met")
    page.fill("#released_at", "2099-01-01T10:30")
    page.click("#follow-up-save")
    page.wait_for_selector(".fo-notice")
    assert page.locator("#cases li[data-arrest]").count() == 2

    with page.expect_download() as download:
        page.click("#export-arrests-personal")
    saved = tmp_path / "arrests.csv"
    download.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(rows) == 3
    [released] = [r for r in rows if r["released"] == "true"]
    assert released["station"] == "Comisaría Centro" and released["lawyer"] == "Lda. Gil"


def test_the_after_action_report_shows_the_day_and_prints_to_pdf(field, drill_server, tmp_path):
    server, planted = drill_server
    page = joined_page(field, drill_server, "organizer", "Control",
                       viewport={"width": 1000, "height": 1400})  # fmt: skip
    page.goto(f"/e/{server.event}/report/")
    page.wait_for_selector("#figures")
    for name in ("median_sos_ack", "median_resolve", "median_route_ack", "median_lapse"):
        shown = page.locator(f"[data-figure={name}]").inner_text()
        assert float(shown) == FIGURES[name], name
    assert page.locator("#report-map svg polyline[data-layer=route]").count() == 2
    assert page.locator("#report-map svg rect[data-layer=arrest]").count() == 3
    assert page.locator("#timeline li[data-kind=sos]").count() == 3
    assert page.locator("#print-report").is_visible()  # the script ran under the page's CSP

    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".fo-no-print").first.is_visible()
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
