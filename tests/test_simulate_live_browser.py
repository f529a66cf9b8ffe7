"""`manage.py simulate_march`, run as the README shows (in its own process, no `--server`), is seen
live on a command page that is already open: every worker looks at the journal and delivers what
another process wrote, the in-memory layer of `make run` included."""

import subprocess
import sys

import pytest

from tests.browser import *  # noqa: F403
from tests.browser import ROOT, Field, serving, wait_live

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def drill_server():
    captured = {}
    with serving(prepare=lambda env, seeded: captured.update(env)) as server:
        yield server, captured


def test_a_drill_run_in_its_own_process_shows_live_on_an_open_command_page(chromium, drill_server):
    server, env = drill_server
    opened = Field(chromium, server)
    try:
        _, page = opened.join("organizer", "Control")
        drill = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "simulate_march"]
            + ["--duration", "6", "--tick", "0.5", "--marshals", "4"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert drill.returncode == 0, drill.stderr
        # The drill's marshals are on the organizer's map without a reload.
        page.wait_for_function(
            """() => Object.values(window.FO.map.positions)
                  .filter((m) => (m.fieldops.callsign || "").startsWith("sim-")).length >= 4"""
        )
        wait_live(page)
    finally:
        opened.close()
    assert not opened.page_errors, opened.page_errors
