"""Fixtures for the browser tests: a real daphne server and Debian's Chromium driven by Playwright.

The server runs in its own process on 127.0.0.1 and a free port, with a fresh SQLite file seeded by
`manage.py demo --json`; Chromium is the system one (no browser download). Everything started here
is stopped in `finally` blocks, also when a test fails.

Use from a test module: `from tests.browser import *  # noqa: F403`.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
    "organizer_state",
    "wait_live",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class FieldopsServer:
    base_url: str
    event: str
    invites: dict
    groups: dict


def _server_env(db_path: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            # local settings: DEBUG serves the static files from the apps, like `make run`.
            "DJANGO_SETTINGS_MODULE": "fieldops.settings.local",
            "DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{db_path}",
            "FIELDOPS_WATCH_EMBEDDED": "0",
            "MAP_TILES_URL": "",
            "MAP_TILES_ATTRIBUTION": "",
            "ALLOWED_HOSTS": "127.0.0.1",
            "REDIS_URL": "",
            # Every browser of the session joins from 127.0.0.1.
            "FIELDOPS_JOIN_RATE_PER_MINUTE": "100000",
        }
    )
    env.pop("PYTHONWARNINGS", None)
    return env


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("daphne did not become healthy")


@contextmanager
def serving(prepare=None):
    """A migrated, demo-seeded Fieldops served by daphne; stopped when the block ends.

    `prepare(env, seeded)`, if given, runs after seeding and before the server starts, with the
    server's environment (its database included) and what `manage.py demo --json` printed.
    """
    with tempfile.TemporaryDirectory(prefix="fieldops-browser-") as tmp:
        env = _server_env(str(Path(tmp) / "db.sqlite3"))
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=120)
        demo = subprocess.run(
            [*manage, "demo", "--json"],
            env=env,
            cwd=ROOT,
            check=True,
            timeout=120,
            capture_output=True,
            text=True,
        )
        seeded = json.loads(demo.stdout.strip().splitlines()[-1])
        if prepare is not None:
            prepare(env, seeded)
        port = free_port()
        # Sockets are accepted only from the public origin: the address the pages are served at.
        env["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        log = open(Path(tmp) / "daphne.log", "w")  # noqa: SIM115 - closed in finally
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            + ["fieldops.asgi:application"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(f"{base}/healthz", process)
            yield FieldopsServer(
                base_url=base,
                event=seeded["event"],
                invites={role: i["code"] for role, i in seeded["invites"].items()},
                groups=seeded.get("groups", {}),
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            log.close()


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


_launched = []  # the test run's one Chromium: Playwright's sync API runs once per thread


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium, headless, launched by Playwright (never downloaded); every module that
    imports this fixture shares the first one launched."""
    if _launched:
        yield _launched[0]
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        _launched.append(browser)
        try:
            yield browser
        finally:
            _launched.clear()
            browser.close()


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
        page.goto(f"/join/{self.server.invites[role]}/")
        if callsign:
            page.fill("input[name=callsign]", callsign)
        if context_kwargs.get("has_touch"):
            page.locator("#join").tap()
        else:
            page.click("#join")
        page.wait_for_url(f"**/e/{self.server.event}/")
        wait_live(page)
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


@pytest.fixture
def field(chromium, fieldops_server):
    opened = Field(chromium, fieldops_server)
    try:
        yield opened
    finally:
        opened.close()
    assert not opened.page_errors, f"JavaScript errors: {opened.page_errors}"


@pytest.fixture(scope="session")
def organizer_state(chromium, fieldops_server):
    """One organizer join per session (the demo invite has few uses); tests reuse its cookie."""
    opened = Field(chromium, fieldops_server)
    try:
        ctx, _ = opened.join("organizer", "Control")
        yield ctx.storage_state()
    finally:
        opened.close()
