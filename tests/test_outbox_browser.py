"""The pages' outbox when the server keeps refusing: a few resends with growing pauses, then the
action is shown as failed and never sent again (a real page in Chromium, the clock faked so that
minutes of backoff pass at once).
"""

import json
import re

import pytest

from tests.browser import *  # noqa: F403
from tests.browser import join_with, wait_live

pytestmark = pytest.mark.browser

MAX_TRIES = 6  # client.js: Client.prototype.retryLater
UNAVAILABLE = "Not saved: the database is unavailable right now."


def refusing_server(context, code: str) -> list[str]:
    """Pass the page's socket through to the real server, except actions: each is answered with
    an `error` of `code` and never reaches it. Returns the ids of the actions the page sent."""
    sent: list[str] = []

    def on_socket(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message)
            if frame.get("type") in ("ping", "resume"):
                server.send(message)
                return
            sent.append(frame["id"])
            refusal = {"type": "error", "id": frame["id"], "code": code}
            ws.send(json.dumps({**refusal, "message": UNAVAILABLE, "fields": []}))

        ws.on_message(from_page)

    context.route_web_socket(re.compile(r".*/ws/events/.*"), on_socket)
    return sent


def pass_time(page, seconds: int) -> None:
    """Fake minutes pass in small steps, so that the heartbeat's pong (real) keeps up."""
    for _ in range(seconds // 2):
        page.clock.fast_forward(2000)
        page.wait_for_timeout(20)  # pacing for the real socket, not an assertion


@pytest.mark.parametrize("code", ["unavailable", "rate_limited"])
def test_an_action_the_server_keeps_refusing_is_resent_a_few_times_then_shown_as_failed(
    field, code
):
    context = field.context()
    context.clock.install()
    sent = refusing_server(context, code)
    page = context.new_page()
    join_with(page, field.server, field.server.invites["marshal"], "Curlew")

    action = page.evaluate(
        "() => FO.client.send('checkin', {lat: 40.4169, lng: -3.7035, status: 'ok'})"
    )
    for _ in range(60):  # the backoff doubles from about 3 s to a minute: 3 fake minutes suffice
        if page.evaluate("() => FO.client.pending()") == 0:
            break
        pass_time(page, 4)
    pass_time(page, 180)  # and nothing more goes out afterwards

    assert sent == [action] * MAX_TRIES
    assert page.evaluate("() => FO.client.pending()") == 0
    assert page.evaluate("() => localStorage.getItem(FO.client.key + ':outbox')") is None
    failed = page.locator(".fo-toast-danger", has_text=UNAVAILABLE)
    assert failed.count() == 1
    assert failed.is_visible()  # a refusal stays on screen until tapped


def test_an_action_refused_as_internal_is_sent_once_and_shown_as_failed(field):
    context = field.context()
    context.clock.install()
    sent = refusing_server(context, "internal")
    page = context.new_page()
    page.goto(f"/join/{field.server.invites['marshal']}/")
    page.click("#join")
    page.wait_for_url(f"**/e/{field.server.event}/")
    wait_live(page)

    action = page.evaluate("() => FO.client.send('sos', {lat: 40.4169, lng: -3.7035})")
    page.locator(".fo-toast-danger", has_text=UNAVAILABLE).wait_for()
    pass_time(page, 180)

    assert sent == [action]
    assert page.evaluate("() => FO.client.pending()") == 0
