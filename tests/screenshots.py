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

# On the demo route, by Cibeles.
NEAR_ROUTE = {"latitude": 40.4193, "longitude": -3.6932}
SETTLE_MS = 800  # the map's tiles-free layers and the replayed feed, before the picture
HIGH_INCIDENT = {"lat": 40.4180, "lng": -3.6930, "kind": "crowd", "severity": "high"}
# The page's own REST helper, loaded beside its scripts: what the page would send.
REPORT = """async (data) => {
  const src = document.querySelector("script[type=module][src*='fieldops/']").src;
  const { api } = await import(src.replace(/[^/]+\\.js$/, "util.js"));
  return new Promise((resolve) => api("/incidents", {
    body: data, done: (r) => resolve(r.seq), refused: resolve, offline: () => resolve(null),
  }));
}"""
KEPT = """async (slug) => {
  const p = "fieldops:" + slug + ":", names = await caches.keys();
  if (!names.includes(p + "page") || !names.includes(p + "files")) return false;
  return !!(await (await caches.open(p + "page")).match("/e/" + slug + "/", {ignoreVary: true}));
}"""


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


def _kept(page, slug: str) -> None:
    """Wait until the service worker keeps the page and its files."""
    for _ in range(60):
        if page.evaluate(KEPT, slug):
            return
        page.wait_for_timeout(250)
    raise RuntimeError("the service worker never kept the page")


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
            pages = {}
            for role, callsign in [
                ("marshal", "Kestrel"),
                ("medic", "Medic-2"),
                ("legal", "Owl"),
                ("marcher", ""),
            ]:
                page = pages[role] = _join(browser, server, role, callsign)
                if role in ("marshal", "medic"):
                    _check_in(page)
                written.append(_shoot(page, out, role))
            spanish = _join(browser, server, "marshal", "Garza", locale="es-ES")
            written.append(_shoot(spanish, out, "marshal-es"))
            # A high incident needs someone: the command page lists the alarm to claim.
            pages["medic"].evaluate(REPORT, HIGH_INCIDENT)
            command = _join(browser, server, "organizer", "Control")
            command.locator("#alarms li[data-alarm]").first.wait_for()
            written.append(_shoot(command, out, "command"))
            # The server gone, the marshal's page reopens from what the phone kept.
            _kept(pages["marshal"], server.event)
            server.running.workers[0].stop()
            offline = pages["marshal"].context.new_page()
            offline.goto(f"/e/{server.event}/")
            offline.wait_for_selector("#fo-state[data-state=offline][data-cached-at]")
            written.append(_shoot(offline, out, "marshal-offline"))
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
