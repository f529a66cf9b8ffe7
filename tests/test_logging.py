"""Invite codes, tokens and client addresses never reach a log line."""

import contextvars
import io
import json
import logging
import re
import sys
import uuid

import pytest

from fieldops.logcontext import ContextFilter
from fieldops.logfilters import RedactSecrets, redact

from .conftest import api_client, connect_with, receive_until


def test_redact_replaces_the_code_in_join_paths():
    assert redact("Not Found: /join/dcm26031K8PaKCMTNQ/") == "Not Found: /join/<code>/"
    assert redact("GET /join/abc-_123?x=1") == "GET /join/<code>?x=1"
    assert redact("Not Found: /api/events/x/") == "Not Found: /api/events/x/"


@pytest.mark.django_db
def test_an_unusable_invite_link_is_logged_without_its_code(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/join/SecretCode12345678/")
    assert response.status_code == 404
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "/join/<code>/" in logged and "SecretCode12345678" not in logged


@pytest.fixture
def printed():
    """Everything any configured log handler prints during the test, as one text buffer."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = {
        h
        for logger in loggers
        for h in getattr(logger, "handlers", [])
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    }
    buffer = io.StringIO()
    saved = {h: h.setStream(buffer) for h in handlers}
    yield buffer
    for handler, stream in saved.items():
        handler.setStream(stream)


def test_redact_replaces_bearer_tokens():
    line = "headers: {'Authorization': 'Bearer 9yPTa794pMjpaNoim2UhMt79PSYZ7oOlm2UL4RvpDqE'}"
    assert redact(line) == "headers: {'Authorization': 'Bearer <token>'}"


def test_an_exception_is_logged_without_the_code_or_token_its_message_quotes():
    try:
        raise ValueError("no invite at /join/SecretCode12345678/ for Bearer Tok3n-Secret_0123")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert RedactSecrets().filter(record)
    printed = logging.Formatter().format(record)
    assert "ValueError" in printed
    assert "SecretCode12345678" not in printed and "Tok3n-Secret_0123" not in printed


@pytest.mark.django_db
def test_a_refused_join_form_is_logged_without_its_code_also_with_debug_on(
    client, settings, printed
):
    settings.DEBUG = True  # Django's own console handler prints only then
    client.handler.enforce_csrf_checks = True
    response = client.post("/join/SecretCode12345678/", {"callsign": "x"})
    assert response.status_code == 403
    assert "/join/<code>/" in printed.getvalue()
    assert "SecretCode12345678" not in printed.getvalue()


def test_uvicorn_logs_no_socket_or_client_address_at_info(printed):
    accepted = '%s - "WebSocket %s" [accepted]'
    logging.getLogger("uvicorn.error").info(accepted, "203.0.113.7:5123", "/ws/events/x/")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    assert "203.0.113.7" not in printed.getvalue()
    assert "Invalid HTTP request received." in printed.getvalue()


# --- the log format: one JSON object per line, with the request or socket it came from ---------

POSITION = {"lat": 40.4193712, "lng": -3.6932514}
NOTE = "Note-Marker-5K"


def lines(printed) -> list[dict]:
    """Every line the handlers printed, each one JSON object (a traceback inside its line)."""
    return [json.loads(line) for line in printed.getvalue().splitlines() if line.strip()]


def test_a_line_holds_only_the_listed_fields_whatever_a_record_carries():
    from fieldops.logformat import FIELDS, JsonFormatter

    try:
        raise ValueError("no invite at /join/SecretCode12345678/")
    except ValueError:
        record = logging.LogRecord(
            "django.request", logging.WARNING, __file__, 1, "Not Found: %s",
            ("/join/SecretCode12345678/",), sys.exc_info(),
        )  # fmt: skip
    # Django's "Not Found" record carries the request itself, whose text names the path.
    record.request = "<ASGIRequest: GET '/join/SecretCode12345678/'>"
    record.status_code = 404
    assert RedactSecrets().filter(record) and ContextFilter().filter(record)
    record.exc_text = None  # a formatter that formats the traceback again still redacts it
    line = JsonFormatter().format(record)
    assert "\n" not in line and "SecretCode12345678" not in line
    printed = json.loads(line)
    assert set(printed) <= set(FIELDS)
    assert printed["level"] == "WARNING" and printed["logger"] == "django.request"
    assert printed["message"] == "Not Found: /join/<code>/" and printed["status_code"] == 404
    assert printed["time"].endswith("Z") and "ValueError" in printed["exc_info"]


def test_development_prints_plain_text_with_the_context_after_the_message():
    from fieldops import logcontext
    from fieldops.logformat import TextFormatter

    record = logging.LogRecord(
        "fieldops.actions", logging.INFO, __file__, 1, "checkin ok", (), None
    )
    record.outcome, record.duration_ms = "ok", 3.1

    def in_a_socket():  # a context of its own, as each socket's task has
        logcontext.socket_id.set("5f0c9e2a11b3d4e6")
        ContextFilter().filter(record)

    contextvars.Context().run(in_a_socket)
    text = TextFormatter().format(record)
    assert text.endswith(
        "INFO fieldops.actions: checkin ok [socket_id=5f0c9e2a11b3d4e6 outcome=ok duration_ms=3.1]"
    )


def test_make_run_logs_plain_text_and_production_json():
    from fieldops.settings import base, local

    assert local.LOGGING["handlers"]["console"]["formatter"] == "text"
    assert base.LOG_FORMAT == "json"
    assert {"redact", "context"} <= set(base.LOGGING["handlers"]["console"]["filters"])


@pytest.mark.django_db
def test_every_request_gets_an_id_of_its_own_in_its_lines_and_its_reply(client, printed):
    # An id the client sends is not taken: it could pass its lines off as another request's.
    first = client.get("/join/SecretCode12345678/", headers={"X-Request-ID": "mine-0123456789"})
    second = client.get("/join/SecretCode12345678/")
    ids = [first["X-Request-ID"], second["X-Request-ID"]]
    assert ids[0] != ids[1] and all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    logged = [line for line in lines(printed) if line["logger"] == "django.request"]
    assert [line["request_id"] for line in logged] == ids
    assert "mine-0123456789" not in printed.getvalue()
    assert "SecretCode12345678" not in printed.getvalue()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_action_is_logged_with_its_socket_verb_outcome_and_time_only(
    cast, tokens, printed
):
    client, _ = await connect_with(cast.marshal_a, tokens["marshal_a"])
    for data, expected in [({**POSITION, "note": NOTE}, "ack"), ({"lat": 999}, "error")]:
        frame_id = str(uuid.uuid4())
        await client.send_json_to({"type": "checkin", "id": frame_id, "data": data})
        frames = await receive_until(client, lambda f, i=frame_id: f.get("id") == i)
        assert frames[-1]["type"] == expected
    await client.disconnect()

    actions = [line for line in lines(printed) if line["logger"] == "fieldops.actions"]
    assert [(a["verb"], a["outcome"], a.get("seq")) for a in actions] == [
        ("checkin", "ok", 1),
        ("checkin", "invalid", None),
    ]
    for action in actions:
        assert action["event"] == cast.event.slug and action["duration_ms"] >= 0
        assert re.fullmatch(r"[0-9a-f]{16}", action["socket_id"]) and "request_id" not in action
    assert actions[0]["socket_id"] == actions[1]["socket_id"]
    text = printed.getvalue()
    for secret in [NOTE, "40.41937", "3.69325", cast.marshal_a.callsign, tokens["marshal_a"]]:
        assert secret not in text


@pytest.mark.django_db(transaction=True)
async def test_two_sockets_log_under_two_ids(cast, tokens, printed):
    for name in ("marshal_a", "marshal_b"):
        client, _ = await connect_with(getattr(cast, name), tokens[name])
        frame_id = str(uuid.uuid4())
        await client.send_json_to({"type": "checkin", "id": frame_id, "data": POSITION})
        await receive_until(client, lambda f, i=frame_id: f.get("id") == i)
        await client.disconnect()
    actions = [line for line in lines(printed) if line["logger"] == "fieldops.actions"]
    assert len({a["socket_id"] for a in actions}) == 2


@pytest.mark.django_db
def test_a_rest_action_is_logged_under_its_request_id_without_its_body(cast, tokens, printed):
    response = api_client(tokens["marshal_a"]).post(
        f"/api/events/{cast.event.slug}/checkins",
        {**POSITION, "note": NOTE},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    (action,) = [line for line in lines(printed) if line["logger"] == "fieldops.actions"]
    assert action["request_id"] == response["X-Request-ID"]
    assert (action["verb"], action["outcome"], action["event"]) == (
        "checkin",
        "ok",
        cast.event.slug,
    )
    assert NOTE not in printed.getvalue() and "40.41937" not in printed.getvalue()
    assert tokens["marshal_a"] not in printed.getvalue()
