"""Fixtures for the browser tests: a real uvicorn worker (the default server, as `make run` serves)
and Debian's Chromium driven by Playwright.

The worker runs in its own process on 127.0.0.1 and a free port, started by the kit's launcher
through deploy/worker, with a fresh SQLite file seeded by `manage.py demo --json`; Chromium is the
system one (no browser download). Everything started here is stopped in `finally` blocks, also when
a test fails.

Use from a test module: `from tests.browser import *  # noqa: F403`.
"""

import dataclasses
import json
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from fieldops.kit.launcher import Running, launch
from fieldops.kit.processes import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 740}
TOUCH = {"has_touch": True, "is_mobile": True}  # with PHONE: a phone driven by a thumb
LIVE_TIMEOUT_MS = 15_000  # generous liveness bound, not a timing assertion

__all__ = [
    "PHONE",
    "TOUCH",
    "FieldopsServer",
    "chromium",
    "fieldops_server",
    "field",
    "field_fixture",
    "join_with",
    "opened_field",
    "organizer_state",
    "own_server_fixtures",
    "run_in_server",
    "wait_live",
]


@dataclass
class FieldopsServer:
    base_url: str
    event: str
    invites: dict
    groups: dict
    running: Running | None = dataclasses.field(
        default=None, repr=False
    )  # its processes and environment


# As `make run` serves: local settings with DEBUG (static files from the apps), the in-memory
# channel layer, no map tiles; every browser of the session joins from 127.0.0.1.
BROWSER_ENV = {
    "DEBUG": "1",
    "MAP_TILES_URL": "",
    "MAP_TILES_ATTRIBUTION": "",
    "ALLOWED_HOSTS": "127.0.0.1",
    "FIELDOPS_RATE_LIMIT_PER_MINUTE": None,
    "SECRET_KEY": None,
    "LOG_LEVEL": None,
    "PYTHONWARNINGS": None,
}


@contextmanager
def serving(prepare=None, env=None):
    """A migrated, demo-seeded Fieldops served by one uvicorn worker (through deploy/worker, from
    the kit's launcher), without Redis; stopped when the block ends.

    `prepare(env, seeded)`, if given, runs after seeding and before the server starts, with the
    server's environment (its database included) and what `manage.py demo --json` printed.
    `env` adds to or overrides the environment the worker runs with.
    """
    # Sockets are accepted only from the public origin: the address the pages are served at.
    with launch(
        servers=("uvicorn",), redis=False, public_at_worker=True, env={**BROWSER_ENV, **(env or {})},
        prepare=prepare, prefix="fieldops-browser-",
    ) as running:  # fmt: skip
        yield FieldopsServer(
            base_url=running.base_url(0),
            event=running.slug,
            invites={role: i["code"] for role, i in running.seed["invites"].items()},
            groups=running.seed.get("groups", {}),
            running=running,
        )


def _unlimited_invites(env: dict, seeded: dict) -> None:
    """Every browser test module joins as each role again: the demo's per-role use limits (a
    handful of medics, say) would run out in one session and fail whoever joins last."""
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c",
         "from marshals.models import Invite; Invite.objects.update(max_uses=None)"],
        env=env, cwd=ROOT, check=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="session")
def fieldops_server():
    """One server for the whole browser session."""
    with serving(prepare=_unlimited_invites) as server:
        yield server


class SharedChromium:
    """The run's one Chromium, launched on first use and shut, with Playwright, by `shut`.

    Playwright's sync API keeps an event loop running in the test process while it is open, which
    trips every asyncio test and Django query that comes after it in the same process. conftest.py
    shuts it after the last browser test of each stretch: under pytest-xdist a process may run a
    browser module, then others. Stands in for the Playwright `Browser` it launches."""

    def __init__(self):
        self._playwright = None  # the open sync_playwright() context
        self._browser = None

    def browser(self):
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright()
            driver = self._playwright.__enter__()
            self._browser = driver.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        return self._browser

    def __getattr__(self, name: str):
        return getattr(self.browser(), name)

    def shut(self) -> None:
        if self._browser is None:
            return
        try:
            self._browser.close()
        finally:
            self._browser = None
            self._playwright, playwright = None, self._playwright
            playwright.__exit__(None, None, None)


SHARED_CHROMIUM = SharedChromium()


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, launched by Playwright (never downloaded); every module that
    imports this fixture gets the same one."""
    try:
        yield SHARED_CHROMIUM
    finally:
        SHARED_CHROMIUM.shut()


class Field:
    """Opens pages as participants; closes every browser context it opened."""

    def __init__(self, browser, server: FieldopsServer):
        self.browser = browser
        self.server = server
        self.contexts = []
        self.page_errors = []  # uncaught JavaScript errors on any page: each one fails the test

    def context(self, **kwargs):
        options = {"viewport": PHONE, "locale": "en-US", "base_url": self.server.base_url}
        options.update(kwargs)
        ctx = self.browser.new_context(**options)
        ctx.set_default_timeout(LIVE_TIMEOUT_MS)
        ctx.on(
            "page",
            lambda page: page.on("pageerror", lambda error: self.page_errors.append(str(error))),
        )
        self.contexts.append(ctx)
        return ctx

    def join(self, role: str, callsign: str = "", **context_kwargs):
        """A new browser that opens the role's invite link, joins, and waits until live."""
        ctx = self.context(**context_kwargs)
        page = ctx.new_page()
        join_with(
            page,
            self.server,
            self.server.invites[role],
            callsign,
            tap=bool(context_kwargs.get("has_touch")),
        )
        return ctx, page

    def open_as(self, storage_state, **context_kwargs):
        """A new browser holding an existing session (e.g. the organizer's), on the event page."""
        ctx = self.context(storage_state=storage_state, **context_kwargs)
        page = ctx.new_page()
        page.goto(f"/e/{self.server.event}/")
        wait_live(page)
        return ctx, page

    def close(self):
        for ctx in self.contexts:
            try:
                ctx.close()
            except Exception:  # noqa: BLE001, S110 - a crashed context is already gone
                pass


def wait_live(page) -> None:
    page.wait_for_selector("#fo-state[data-state=live]")


def join_with(page, server: FieldopsServer, code: str, callsign: str = "", tap=False) -> None:
    """Open the invite link `code` in `page`, join as `callsign`, and wait until the page is live."""
    page.goto(f"/join/{code}/")
    if callsign:
        page.fill("input[name=callsign]", callsign)
    if tap:
        page.locator("#join").tap()
    else:
        page.click("#join")
    page.wait_for_url(f"**/e/{server.event}/")
    wait_live(page)


@contextmanager
def opened_field(browser, server: FieldopsServer):
    """A Field on `server` for one test: closed after it, and failing it on any JavaScript error
    one of its pages raised."""
    opened = Field(browser, server)
    try:
        yield opened
    finally:
        opened.close()
    assert not opened.page_errors, f"JavaScript errors: {opened.page_errors}"


@contextmanager
def organizer_session(browser, server: FieldopsServer):
    """The storage state (session cookie) of an organizer who joined `server` once."""
    opened = Field(browser, server)
    try:
        ctx, _ = opened.join("organizer", "Control")
        yield ctx.storage_state()
    finally:
        opened.close()


def run_in_server(env: dict, function: str, *args, timeout: int = 300):
    """`function` ("tests.module.name") called with `args` in a new Python under the server's
    environment (its database), Django set up; what it returns comes back through JSON."""
    module, name = function.rsplit(".", 1)
    script = (
        f"import json, sys, django; django.setup(); from {module} import {name}; "
        f"print(json.dumps({name}(*json.loads(sys.argv[1]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"{function} failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def serving_planted(function: str, args=lambda seeded: (), timeout: int = 300):
    """A server whose demo event `function` ("tests.module.name") fills before any page opens,
    called with the event's slug and `args(seeded)` (run_in_server); yields (server, what it
    returned)."""
    planted = {}

    def prepare(env: dict, seeded: dict) -> None:
        planted.update(
            run_in_server(env, function, seeded["event"], *args(seeded), timeout=timeout)
        )

    with serving(prepare) as server:
        yield server, planted


def field_fixture(server_fixture: str):
    """A `field` fixture on a module's own server (a fixture giving a server or (server, data))."""

    @pytest.fixture
    def field(chromium, request):
        served = request.getfixturevalue(server_fixture)
        with opened_field(chromium, served[0] if isinstance(served, tuple) else served) as opened:
            yield opened

    return field


field = field_fixture("fieldops_server")


def own_server_fixtures():
    """A module's own demo server (for a module whose SOS, routes or alarms other modules must not
    see), with a `field` and one organizer's `organizer_state` on it. Assign them to the module's
    names: `own_server, field, organizer_state = own_server_fixtures()`."""

    @pytest.fixture(scope="module")
    def own_server():
        with serving() as server:
            yield server

    @pytest.fixture(scope="module")
    def organizer_state(chromium, own_server):
        with organizer_session(chromium, own_server) as state:
            yield state

    return own_server, field_fixture("own_server"), organizer_state


@pytest.fixture(scope="session")
def organizer_state(chromium, fieldops_server):
    """One organizer join per session (the demo invite has few uses); tests reuse its cookie."""
    with organizer_session(chromium, fieldops_server) as state:
        yield state
