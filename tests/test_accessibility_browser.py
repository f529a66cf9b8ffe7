"""Every page, on a touch phone in a real Chromium: axe-core finds nothing serious, the content sits
in landmarks, and every control is a 44x44 CSS px target.
"""

import pytest

from tests.axe import axe_violations, describe
from tests.browser import *  # noqa: F403
from tests.browser import TOUCH, wait_live

pytestmark = pytest.mark.browser

FIELD_PAGES = ["command", "marshal", "medic", "legal", "marcher"]
# axe rates these "moderate", but content outside any landmark is lost to screen-reader navigation.
LANDMARK_RULES = ("landmark-one-main", "region")
MIN_TARGET = 44

# Every visible control's box, with a checkbox or radio measured by its label (the label is what a
# thumb taps) and links inside running text left out (WCAG 2.5.8's inline exception).
SMALL_TARGETS = """(min) => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  const selector = "button, a[href], input, select, textarea, summary, .leaflet-control a";
  const small = [];
  document.querySelectorAll(selector).forEach((el) => {
    if (el.type === "hidden") return;
    let target = el;
    if (el.type === "checkbox" || el.type === "radio") {
      target = el.closest("label") || (el.id && document.querySelector('label[for="' + el.id + '"]')) || el;
    }
    if (!target.getClientRects().length || getComputedStyle(target).visibility === "hidden") return;
    if (el.tagName === "A" && getComputedStyle(el).display === "inline" && el.parentElement &&
        el.parentElement.textContent.trim() !== el.textContent.trim()) return;
    const box = target.getBoundingClientRect();
    if (box.width + 0.01 < min || box.height + 0.01 < min) {
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "");
      small.push(name + " '" + (el.textContent || el.value || "").trim().slice(0, 30) + "' " +
        Math.round(box.width) + "x" + Math.round(box.height));
    }
  });
  return small;
}"""


def open_page(field, organizer_state, name: str):
    """The named page as its user sees it on a touch phone, ready to inspect."""
    server = field.server
    if name == "command":
        return field.open_as(organizer_state, **TOUCH)[1]
    if name in ("marshal", "medic", "legal"):
        return field.join(name, f"{name.title()}-a11y", **TOUCH)[1]
    if name == "marcher":
        return field.join("marcher", **TOUCH)[1]
    page = field.context(**TOUCH).new_page()
    if name == "join":
        page.goto(f"/join/{server.invites['marshal']}/")
    elif name == "not_joined":
        page.goto(f"/e/{server.event}/")
    elif name == "invite":
        page = field.open_as(organizer_state, **TOUCH)[1]
        page.evaluate(
            "() => document.querySelectorAll('details').forEach((d) => { d.open = true; })"
        )
        page.select_option("#invite-role", "medic")
        page.locator("#invite-create").tap()
        page.wait_for_selector("#invite-url")
    elif name == "api_docs":
        page.goto("/api/docs")
        page.wait_for_selector(".opblock")
    return page


@pytest.mark.parametrize("name", [*FIELD_PAGES, "join", "not_joined", "invite", "api_docs"])
def test_axe_finds_no_serious_violation_and_all_content_is_in_landmarks(
    field, organizer_state, name
):
    page = open_page(field, organizer_state, name)
    page.wait_for_timeout(300)  # let the map and the replay settle before the audit
    found = axe_violations(page, impacts=("minor", "moderate", "serious", "critical"))
    blocking = [
        v for v in found if v["impact"] in ("serious", "critical") or v["id"] in LANDMARK_RULES
    ]
    assert not blocking, f"axe on the {name} page:\n{describe(blocking)}"


@pytest.mark.parametrize("name", [*FIELD_PAGES, "join"])
def test_every_control_is_at_least_44_px_square(field, organizer_state, name):
    page = open_page(field, organizer_state, name)
    if name != "join":
        wait_live(page)
    small = page.evaluate(SMALL_TARGETS, MIN_TARGET)
    assert not small, f"Under {MIN_TARGET}x{MIN_TARGET} px on the {name} page:\n" + "\n".join(small)
