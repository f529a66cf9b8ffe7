"""Invite codes never reach a log line."""

import logging

import pytest

from fieldops.logfilters import redact


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
