"""Every REST operation fuzzed from the API's own OpenAPI schema (`/api/openapi.json`) with
schemathesis and hypothesis, against a real worker on SQLite and on PostgreSQL: valid and invalid
bodies, parameters and headers, and made-up event slugs. No answer is a 5xx, every refusal has the
one JSON shape, and the worker logs no traceback.

Per operation: the simplest valid request with each field, query and path parameter set in turn
to each edge value of its type (tests/fuzzing.py), then EXAMPLES drawn by hypothesis, half of them
with an edge value planted. A few hundred requests per database, derandomized so that every run
sends the same ones, with a deadline that only a hung request would miss.
"""

import urllib.request

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from .fuzzing import fuzz_settings, plant_edge, smallest, sweep, worker_log, worker_tracebacks
from .servers import fieldops_stack

pytestmark = pytest.mark.multiworker

EXAMPLES = 10


def _operations() -> list[tuple[str, str]]:
    from fieldops.api import api

    paths = api.get_openapi_schema(path_prefix="/api/")["paths"]
    return [(method.upper(), path) for path, operations in paths.items() for method in operations]


OPERATIONS = _operations()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request):
    with fieldops_stack(servers=("daphne",), postgres=request.param == "postgresql") as running:
        yield running


@pytest.fixture(scope="module")
def api(stack):
    """The schema as the worker serves it, and a way to get a fresh organizer token."""
    organizer = stack.join("organizer", "fuzz")["token"]
    invite = stack.http(
        0,
        "POST",
        f"/api/events/{stack.slug}/invites",
        token=organizer,
        body={"role": "organizer", "max_uses": 1000, "label": "fuzz"},
    )
    base_url = f"http://127.0.0.1:{stack.ports[0]}"
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")

    def organizer_token() -> str:
        body = {"code": invite["code"], "callsign": "fuzz"}
        return stack.http(0, "POST", "/api/join", body=body)["token"]

    return schema, base_url, organizer_token


def body_properties(operation) -> dict:
    """The fields of the operation's JSON body and their schemas, if it takes one."""
    for body in operation.body:  # django-ninja inlines the body's schema
        return body.definition.get("schema", {}).get("properties", {})
    return {}


def parameters(group) -> dict:
    """Query or path parameters and their schemas; the slug is the event's, swept elsewhere."""
    return {p.name: p.definition.get("schema", {}) for p in group if p.name != "slug"}


def assert_answer_in_contract(response) -> None:
    described = f"{response.request.method} {response.request.url}: {response.status_code}"
    assert response.status_code < 500, f"{described} {response.text[:500]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith("application/json"), (described, response.text[:500])
        body = response.json()
        assert set(body) == {"code", "message", "fields"}, (described, body)
        assert isinstance(body["code"], str) and body["message"], (described, body)
        for field in body["fields"]:
            assert set(field) == {"field", "message"}, (described, body)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzzed_requests_never_get_a_server_error_and_every_refusal_has_the_one_shape(
    stack, api, method, path
):
    schema, base_url, organizer_token = api
    logged = len(worker_log(stack))
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {organizer_token()}"}
    slug = {"slug": stack.slug} if "{slug}" in path else {}
    body_fields, query, ids = (
        body_properties(operation),
        parameters(operation.query),
        parameters(operation.path_parameters),
    )
    valid = operation.as_strategy(GenerationMode.POSITIVE, path_parameters=slug, headers=headers)
    cases = st.one_of(
        valid,
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=slug, headers=headers),
        operation.as_strategy(GenerationMode.POSITIVE, headers=headers),  # any slug at all
    )

    base = smallest(valid)
    variants = [("query", q) for q in sweep(base.query or {}, query, utf8_only=True)]
    variants += [("path_parameters", p) for p in sweep(base.path_parameters, ids, utf8_only=True)]
    if isinstance(base.body, dict):
        variants += [("body", b) for b in sweep(base.body, body_fields, utf8_only=True)]
    for part, value in variants:
        case = base.derive(keep_auth=True)
        setattr(case, part, value)
        assert_answer_in_contract(case.call(base_url=base_url, timeout=60))

    @fuzz_settings(EXAMPLES)
    @given(case=cases, draw=st.data())
    def fuzz(case, draw):
        if isinstance(case.body, dict):
            plant_edge(draw, case.body, [*case.body, *body_fields], utf8_only=True)
        if case.query:
            plant_edge(draw, case.query, list(case.query), utf8_only=True)
        if case.path_parameters:
            plant_edge(draw, case.path_parameters, list(ids), utf8_only=True)
        assert_answer_in_contract(case.call(base_url=base_url, timeout=60))

    fuzz()
    assert not worker_tracebacks(stack, after=logged)


def test_the_fuzzed_worker_logged_no_traceback(stack, api):
    assert worker_tracebacks(stack) == []


def test_rest_requests_leave_no_database_connection_behind(stack, api):
    """Each request ran in a context of its own, and its persistent connection stayed open until
    the garbage collector came: a burst used up PostgreSQL's 100 connections, and then every
    request failed with `unavailable`."""
    if not stack.database_url.startswith("postgres"):
        pytest.skip("a connection to SQLite is a file handle, not a server's slot")
    import psycopg

    token = api[2]()
    for _ in range(150):
        stack.http(0, "GET", f"/api/events/{stack.slug}", token=token)
    # Pages too: the join page reads the invite from the database.
    code = stack.seed["invites"]["marcher"]["code"]
    for _ in range(60):
        with urllib.request.urlopen(f"http://127.0.0.1:{stack.ports[0]}/join/{code}/") as page:
            assert page.status == 200

    with psycopg.connect(stack.database_url) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert count < 10
