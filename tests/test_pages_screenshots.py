"""Each field page at phone size, saved to docs/screenshots/ for the README."""

from pathlib import Path

import pytest

from tests.browser import *  # noqa: F403

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
MADRID = {"latitude": 40.4172, "longitude": -3.7040}


@pytest.mark.parametrize("role", ["command", "marshal", "legal", "marcher"])
def test_each_page_renders_live_at_phone_width(field, organizer_state, role):
    if role == "command":
        _, page = field.open_as(organizer_state)
    else:
        _, page = field.join(
            role,
            "" if role == "marcher" else f"{role.title()}-1",
            permissions=["geolocation"],
            geolocation=MADRID,
        )
    page.wait_for_timeout(500)  # let the map settle before the picture
    # Nothing wider than the phone: no sideways scrolling at 360 px.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{role}.png"))
    assert (SHOTS / f"{role}.png").stat().st_size > 5000
