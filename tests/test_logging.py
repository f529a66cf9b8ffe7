"""Invite codes, tokens and client addresses never reach a log line."""

import io
import logging
import sys

import pytest

from fieldops.logfilters import RedactSecrets, redact


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
