"""REST refusals: one JSON shape for every status, bounds on every value, and rate limits per
token and, on /api/join, per client address."""

import dataclasses

import pytest
from django.db import DataError, OperationalError
from django.test import Client

from fieldops.actions import ACTIONS
from marshals.services import invite_create

from .conftest import api_client, footprint


def post(client: Client, url: str, body, **kwargs):
    return client.post(url, body, content_type="application/json", **kwargs)


def assert_refusal(response, status: int, code: str, fields: list[str] | None = None) -> dict:
    """The one shape: JSON `{"code", "message", "fields": [{"field", "message"}]}`."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code and body["message"]
    assert all(set(f) == {"field", "message"} and f["message"] for f in body["fields"])
    if fields is not None:
        assert [f["field"] for f in body["fields"]] == fields
    return body


def _failing(monkeypatch, verb: str, raised: Exception) -> None:
    def broken(**kwargs):
        raise raised

    monkeypatch.setitem(ACTIONS, verb, dataclasses.replace(ACTIONS[verb], service=broken))


# --- one shape ----------------------------------------------------------------------------------


def test_no_credential_is_a_401_in_the_common_shape(cast):
    assert_refusal(Client().get(f"/api/events/{cast.event.slug}"), 401, "unauthenticated")


def test_a_bad_bearer_token_is_a_401_not_a_csrf_failure(cast):
    client = Client(enforce_csrf_checks=True, headers={"Authorization": "Bearer not-a-token"})

    response = post(client, f"/api/events/{cast.event.slug}/checkins", {"lat": 40.4, "lng": -3.7})

    assert_refusal(response, 401, "unauthenticated")


def test_a_browser_write_without_its_csrf_token_is_a_403_in_the_common_shape(cast):
    browser = Client(enforce_csrf_checks=True)
    issued = invite_create(event=cast.event, role="marshal", group=cast.group_a.pk)
    browser.get(f"/join/{issued.code}/")
    csrf = browser.cookies["csrftoken"].value
    browser.post(f"/join/{issued.code}/", {"callsign": "Heron", "csrfmiddlewaretoken": csrf})

    response = post(browser, f"/api/events/{cast.event.slug}/sos", {"lat": 40.4, "lng": -3.7})

    body = assert_refusal(response, 403, "forbidden")
    assert "CSRF" in body["message"]


def test_a_forbidden_role_is_a_403_in_the_common_shape(cast, tokens):
    response = api_client(tokens["marshal_a"]).get(f"/api/events/{cast.event.slug}/participants")
    assert_refusal(response, 403, "forbidden")


@pytest.mark.parametrize(
    "path", ["/api/nothing-here", "/api/events/x/y/z", "/api/"], ids=["unknown", "deep", "root"]
)
def test_an_unknown_api_address_is_a_json_404(cast, tokens, path):
    assert_refusal(api_client(tokens["organizer"]).get(path), 404, "not_found")


def test_an_unknown_arrest_record_is_a_404_in_the_common_shape(cast, tokens):
    response = api_client(tokens["organizer"]).get(f"/api/events/{cast.event.slug}/arrests/999")
    assert_refusal(response, 404, "not_found")


def test_a_method_an_address_does_not_take_is_a_405_in_the_common_shape(cast):
    response = Client().delete("/api/join")
    assert_refusal(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_a_body_over_the_size_limit_is_a_413_in_the_common_shape(cast, tokens, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"lat": 40.4, "lng": -3.7, "note": "x" * 20_000}

    response = post(api_client(tokens["medic"]), f"/api/events/{cast.event.slug}/sos", body)

    assert_refusal(response, 413, "too_large")


@pytest.mark.parametrize(
    ("raised", "status", "code", "fields"),
    [
        (RuntimeError("a bug"), 500, "internal", []),
        (OperationalError("database is locked"), 503, "unavailable", []),
        (DataError("integer out of range"), 400, "invalid", ["body"]),
        (OverflowError("date value out of range"), 400, "invalid", ["body"]),
    ],
    ids=["bug-is-500", "database-down-is-503", "data-error-is-400", "overflow-is-400"],
)
def test_an_unexpected_failure_is_answered_in_the_common_shape(
    cast, tokens, monkeypatch, raised, status, code, fields
):
    _failing(monkeypatch, "sos", raised)
    client = api_client(tokens["medic"], raise_request_exception=False)

    response = post(client, f"/api/events/{cast.event.slug}/sos", {"lat": 40.4, "lng": -3.7})

    assert_refusal(response, status, code, fields)


def test_the_openapi_schema_documents_the_refusal_shape_for_every_operation(client):
    schema = client.get("/api/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("401", "403", "429", "500"):
                if path == "/api/join" and status in ("401", "403"):
                    continue
                assert status in operation["responses"], (method, path, status)


# --- bounds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name", "body", "field"),
    [
        ("sos", "medic", {"lat": 40.4, "lng": -3.7, "note": "help\u0000"}, "note"),
        ("checkins", "medic", {"lat": 40.4, "lng": -3.7, "note": "\u0007"}, "note"),
        (
            "checkins",
            "medic",
            {"lat": 40.4, "lng": -3.7, "device_time": "9999-12-31T23:59:59-23:59"},
            "device_time",
        ),
        (
            "arrests",
            "legal",
            {"lat": 40.4, "lng": -3.7, "occurred_at": "0001-01-01T00:00:00+23:59"},
            "occurred_at",
        ),
        ("arrests", "legal", {"lat": 40.4, "lng": -3.7, "vehicle": "van\u0000"}, "vehicle"),
        ("incident-updates", "organizer", {"incident": 2**63, "status": "resolved"}, "incident"),
        ("route-acks", "marshal_a", {"route": 2**63}, "route"),
        ("invites", "organizer", {"role": "marshal", "label": "a\u0000"}, "label"),
        ("invites", "organizer", {"role": "marshal", "group": 2**63}, "group"),
        ("revocations", "organizer", {"participant": 2**63}, "participant"),
        ("zones/deactivate", "organizer", {"place": 2**63}, "place"),
        ("nearest", "medic", {"kind": "water", "position": "40.4\u0000, -3.7"}, "position"),
    ],
    ids=[
        "nul-in-sos-note",
        "bell-in-note",
        "device-time-past-the-calendar",
        "occurred-at-before-the-calendar",
        "nul-in-vehicle",
        "incident-id-past-64-bits",
        "route-id-past-64-bits",
        "nul-in-invite-label",
        "group-id-past-64-bits",
        "participant-id-past-64-bits",
        "place-id-past-64-bits",
        "nul-in-position-text",
    ],
)
def test_a_value_out_of_bounds_is_a_400_naming_the_field_and_writes_nothing(
    cast, tokens, path, name, body, field
):
    before = footprint(cast.event)

    response = post(api_client(tokens[name]), f"/api/events/{cast.event.slug}/{path}", body)

    assert_refusal(response, 400, "invalid", [field])
    assert footprint(cast.event) == before


@pytest.mark.parametrize(
    ("query", "field"),
    [({"since": 2**63}, "since"), ({"since": -1}, "since"), ({"limit": 2**64}, "limit")],
    ids=["since-past-64-bits", "since-negative", "limit-past-64-bits"],
)
def test_the_journal_refuses_a_since_or_limit_out_of_bounds_naming_it(cast, tokens, query, field):
    response = api_client(tokens["organizer"]).get(f"/api/events/{cast.event.slug}/journal", query)
    assert_refusal(response, 400, "invalid", [field])


def test_an_arrest_id_past_64_bits_is_a_400_naming_it(cast, tokens):
    response = api_client(tokens["organizer"]).get(f"/api/events/{cast.event.slug}/arrests/{2**63}")
    assert_refusal(response, 400, "invalid", ["arrest_id"])


def test_an_event_slug_with_a_nul_never_reaches_the_database(cast, tokens):
    response = api_client(tokens["organizer"]).get("/api/events/demo%00march/journal")
    assert_refusal(response, 403, "forbidden")


def test_a_join_with_a_control_character_in_the_callsign_names_it_and_joins_nobody(cast):
    issued = invite_create(event=cast.event, role="marshal", group=cast.group_a.pk)
    before = footprint(cast.event)

    response = post(Client(), "/api/join", {"code": issued.code, "callsign": "Kes\u0000trel"})

    assert_refusal(response, 400, "invalid", ["callsign"])
    assert footprint(cast.event) == before


# --- rate limits ------------------------------------------------------------------------------


@pytest.fixture
def limits(settings):
    """Small budgets, so a test spends them in a few requests."""
    settings.FIELDOPS_REST_LIMITS = {
        **settings.FIELDOPS_REST_LIMITS,
        "PER_CREDENTIAL_PER_MINUTE": 5,
        "JOIN_PER_ADDRESS_PER_MINUTE": 3,
    }
    return settings.FIELDOPS_REST_LIMITS


def test_a_burst_of_checkins_past_the_token_budget_is_refused_with_429(cast, tokens, limits):
    url = f"/api/events/{cast.event.slug}/checkins"
    medic = api_client(tokens["medic"])
    accepted = [post(medic, url, {"lat": 40.4, "lng": -3.7}).status_code for _ in range(5)]
    before = footprint(cast.event)

    refused = post(medic, url, {"lat": 40.4, "lng": -3.7})

    assert accepted == [200] * 5
    assert_refusal(refused, 429, "rate_limited")
    assert int(refused["Retry-After"]) >= 1
    assert footprint(cast.event) == before
    # The budget is the token's: another device is not held back.
    assert post(api_client(tokens["organizer"]), url, {"lat": 40.4, "lng": -3.7}).status_code == 200


def test_reads_count_against_the_token_budget_too(cast, tokens, limits):
    organizer = api_client(tokens["organizer"])
    statuses = [organizer.get(f"/api/events/{cast.event.slug}").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]


def test_join_guesses_past_the_address_budget_are_refused_even_with_a_good_code(cast, limits):
    issued = invite_create(event=cast.event, role="marshal", group=cast.group_a.pk)
    guesser = Client(REMOTE_ADDR="203.0.113.7")
    guesses = [post(guesser, "/api/join", {"code": f"guess-{i:04d}"}) for i in range(3)]
    before = footprint(cast.event)

    refused = post(guesser, "/api/join", {"code": issued.code})

    assert [g.status_code for g in guesses] == [400] * 3
    assert_refusal(refused, 429, "rate_limited")
    assert footprint(cast.event) == before
    other = Client(REMOTE_ADDR="203.0.113.8")
    assert post(other, "/api/join", {"code": issued.code}).status_code == 200


def test_behind_the_proxy_each_client_address_has_its_own_join_budget(cast, limits):
    """The address counted is the last one the trusted proxy appended to X-Forwarded-For; what
    a client writes in front of it does not buy it a fresh budget."""
    proxy = Client(REMOTE_ADDR="127.0.0.1")

    def join(forwarded: str) -> int:
        body = {"code": "never-issued-code"}
        return post(proxy, "/api/join", body, HTTP_X_FORWARDED_FOR=forwarded).status_code

    spoofing = [join(f"198.51.100.{i}, 203.0.113.7") for i in range(4)]
    another_client = join("203.0.113.9")

    assert spoofing == [400, 400, 400, 429]
    assert another_client == 400


def test_an_untrusted_peer_cannot_choose_its_address_with_x_forwarded_for(cast, limits):
    direct = Client(REMOTE_ADDR="203.0.113.20")
    statuses = [
        post(
            direct,
            "/api/join",
            {"code": "never-issued-code"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        ).status_code
        for i in range(4)
    ]
    assert statuses == [400, 400, 400, 429]
