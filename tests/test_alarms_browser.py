"""Alarms on the phones, in Chromium at 360x740 with touch against a real daphne: a high incident
shows on the command page and on the marshal's and the medic's pages as needing someone; the
marshal taps "I'm on it" and every page says who is on it (the medic's button goes); the organizer
marks it dealt with and it leaves every page.

The module has its own server: its alarms must not show in other modules' pictures.
"""

import pytest

from tests.browser import (
    TOUCH,
    chromium,  # noqa: F401 - the session's browser
    own_server_fixtures,
)

pytestmark = pytest.mark.browser

# The page's own REST helper, loaded beside its scripts: what the page would send.
REPORT = """async (data) => {
  const src = document.querySelector("script[type=module][src*='fieldops/']").src;
  const { api } = await import(src.replace(/[^/]+\\.js$/, "util.js"));
  return new Promise((resolve) => api("/incidents", {
    body: data, done: (r) => resolve(r.seq), refused: (m) => resolve(m), offline: () => resolve(null),
  }));
}"""


own_server, field, organizer_state = own_server_fixtures()


def test_an_alarm_is_claimed_from_a_phone_seen_everywhere_and_dealt_with(field, organizer_state):
    _, command = field.open_as(organizer_state, **TOUCH)
    _, marshal = field.join("marshal", "Thumb", **TOUCH)
    _, medic = field.join("medic", "Medic-7", **TOUCH)

    seq = medic.evaluate(
        REPORT, {"lat": 40.4193, "lng": -3.6932, "kind": "crowd", "severity": "high"}
    )
    assert isinstance(seq, int), seq
    claim = marshal.locator("#alarms li[data-alarm] button[data-action='alarm.claim']")
    claim.wait_for()
    box = claim.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # a thumb's target
    alarm = marshal.locator("#alarms li[data-alarm]").get_attribute("data-alarm")
    for page in (command, medic):
        page.locator(f"#alarms li[data-alarm='{alarm}'][data-claimed='']").wait_for()

    claim.tap()
    for page in (command, marshal, medic):
        row = page.locator(f"#alarms li[data-alarm='{alarm}'][data-claimed='Thumb']")
        row.wait_for()
        assert "Thumb is on it" in row.inner_text()
    assert medic.locator(f"#alarms li[data-alarm='{alarm}'] button").count() == 0
    # The claimant may resolve it; so may the organizer, who does.
    assert marshal.locator("button[data-action='alarm.resolve']").count() == 1

    command.locator(f"#alarms li[data-alarm='{alarm}'] button[data-action='alarm.resolve']").tap()
    for page in (command, marshal, medic):
        page.locator(f"#alarms li[data-alarm='{alarm}']").wait_for(state="detached")
        assert page.locator("#alarms").is_hidden()
