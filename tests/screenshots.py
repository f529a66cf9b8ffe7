"""Pictures of every page on a touch phone (360x740), for the README and docs/pages.md.

    python -m tests.screenshots [--out docs/screenshots] [--report]

Starts its own demo server (tests.browser.serving: a throwaway database on 127.0.0.1), opens each
page as its role in Debian's Chromium, waits until it is live and writes <page>.png, plus the
marshal page in Spanish (marshal-es.png); then, on a server holding the hand-computed drill of
tests/aftermath.py, the after-action report (report.png) and jail support's cases (cases.png);
`--report` takes only those two. The test run never writes into docs/: only this does.
"""

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, PHONE, ROOT, serving, wait_live

# Just north of the Puerta del Sol, on the demo route.
NEAR_ROUTE = {"latitude": 40.4172, "longitude": -3.7040}
SETTLE_MS = 800  # the map's tiles-free layers and the replayed feed, before the picture


def _context(browser, server, locale="en-US"):
    return browser.new_context(
        viewport=PHONE,
        has_touch=True,
        is_mobile=True,
        locale=locale,
        base_url=server.base_url,
        permissions=["geolocation"],
        geolocation=NEAR_ROUTE,
    )


def _join(browser, server, role, callsign="", locale="en-US"):
    page = _context(browser, server, locale).new_page()
    page.goto(f"/join/{server.invites[role]}/")
    if callsign:
        page.fill("input[name=callsign]", callsign)
    page.locator("#join").tap()
    page.wait_for_url(f"**/e/{server.event}/")
    wait_live(page)
    return page


def _check_in(page):
    """A check-in, so the command map has someone on it (if the page offers one)."""
    button = page.locator("#checkin")
    if button.count():
        button.tap()
        page.wait_for_selector("#fo-state[data-pending='0']")


def _shoot(page, out: Path, name: str) -> Path:
    page.evaluate("() => window.scrollTo(0, 0)")  # a tap may have scrolled: show the page's top
    page.wait_for_timeout(SETTLE_MS)
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def take(out: Path) -> list[Path]:
    """Writes every page's picture into `out`; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with serving() as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            join = _context(browser, server).new_page()
            join.goto(f"/join/{server.invites['marshal']}/")
            written.append(_shoot(join, out, "join"))
            for role, callsign in [
                ("marshal", "Kestrel"),
                ("medic", "Medic-2"),
                ("legal", "Owl"),
                ("marcher", ""),
            ]:
                page = _join(browser, server, role, callsign)
                if role in ("marshal", "medic"):
                    _check_in(page)
                written.append(_shoot(page, out, role))
            spanish = _join(browser, server, "marshal", "Garza", locale="es-ES")
            written.append(_shoot(spanish, out, "marshal-es"))
            command = _join(browser, server, "organizer", "Control")
            written.append(_shoot(command, out, "command"))
        finally:
            browser.close()
    return written


def take_report(out: Path) -> list[Path]:
    """The after-action report of the hand-computed drill (tests/aftermath.py) at desk width, and
    the cases page of jail support on a phone; returns the files written."""
    from tests.browser import run_in_server

    out.mkdir(parents=True, exist_ok=True)
    planted = {}

    def prepare(env: dict, seeded: dict) -> None:
        planted.update(run_in_server(env, "tests.aftermath.plant_for_browser", seeded["event"]))

    with serving(prepare) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            desk = browser.new_context(viewport={"width": 1000, "height": 1400},
                                       base_url=server.base_url)  # fmt: skip
            page = desk.new_page()
            page.goto(f"/join/{planted['organizer']}/")
            page.fill("input[name=callsign]", "Control")
            page.click("#join")
            page.wait_for_url(f"**/e/{server.event}/")
            page.goto(f"/e/{server.event}/report/")
            page.wait_for_selector("#figures")
            path = out / "report.png"
            page.screenshot(path=str(path), full_page=True)
            written = [path]
            phone = _context(browser, server).new_page()
            phone.goto(f"/join/{planted['legal']}/")
            phone.fill("input[name=callsign]", "Owl")
            phone.locator("#join").tap()
            phone.wait_for_url(f"**/e/{server.event}/")
            phone.goto(f"/e/{server.event}/cases/")
            written.append(_shoot(phone, out, "cases"))
        finally:
            browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--report", action="store_true",
                        help="only the after-action report and the cases page")  # fmt: skip
    args = parser.parse_args()
    for path in take_report(args.out) if args.report else take(args.out) + take_report(args.out):
        print(path)


if __name__ == "__main__":
    main()
