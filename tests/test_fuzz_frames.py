"""Every socket frame type fuzzed from its own schema (the pydantic models behind the wire
contract, turned into data by schemathesis and hypothesis), plus frames that fit no schema at all,
against a real worker on SQLite and on PostgreSQL. The socket is never dropped, no reply says the
server failed (`internal`, `unavailable`), and the worker logs no traceback.

Per frame type: the simplest valid `data` with each field set in turn to each edge value of its
type (tests/fuzzing.py), then EXAMPLES drawn by hypothesis, half of them with an edge value planted;
all on one socket, which must stay open throughout. A few hundred frames per database,
derandomized so that every run sends the same ones, with a deadline that only a hung reply would
miss.
"""

import json
import uuid

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from websockets.sync.client import connect

from fieldops.actions import ACTIONS
from fieldops.schemas import PingIn, ResumeIn

from .fuzzing import fuzz_settings, plant_edge, smallest, sweep, worker_log, worker_tracebacks
from .servers import fieldops_stack

pytestmark = pytest.mark.multiworker

EXAMPLES = 15
REPLY_SECONDS = 30
FRAMES = {verb: action.schema for verb, action in ACTIONS.items()} | {
    "resume": ResumeIn,
    "ping": PingIn,
}
SERVER_FAILURES = {"internal", "unavailable"}
ERROR_KEYS = {"type", "id", "code", "message", "fields"}


def frame_schemas():
    """The frames' `data` schemas as request bodies of an OpenAPI document, one per type, so
    that schemathesis generates data that fits them (positive) and data that does not."""
    components, paths = {}, {}
    for verb, model in FRAMES.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        body = {"required": True, "content": {"application/json": {"schema": schema}}}
        paths[f"/{verb}"] = {
            "post": {"requestBody": body, "responses": {"200": {"description": "ack"}}}
        }
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Fieldops frames", "version": "1"},
        "paths": paths,
        "components": {"schemas": components},
    }
    return schemathesis.openapi.from_dict(document)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
# Frames that fit no schema: any JSON, or the frame's keys holding anything.
junk_frames = (
    json_values
    | st.fixed_dictionaries(
        {"type": st.sampled_from(sorted(FRAMES)) | st.text(max_size=12)},
        optional={"id": st.uuids().map(str) | json_values, "data": json_values},
    )
).map(json.dumps)


def frame_text(verb: str, data) -> str:
    head = f'{{"type": "{verb}", "id": "{uuid.uuid4()}", "data": '
    if isinstance(data, bytes):  # a body that is not JSON at all goes in as it is
        return head + data.decode("utf-8", "replace") + "}"
    return head + json.dumps(data) + "}"


def data_of(verb: str, *modes: GenerationMode):
    """`data` for frames of type `verb` that fits its schema (positive), or does not."""
    operation = frame_schemas()[f"/{verb}"]["POST"]
    cases = st.one_of(*(operation.as_strategy(mode) for mode in modes))
    return cases.map(lambda case: case.body)


def edge_frames(verb: str) -> list[str]:
    """The simplest valid `data` of the type, with each field set to each edge value in turn."""
    base = smallest(data_of(verb, GenerationMode.POSITIVE))
    properties = FRAMES[verb].model_json_schema().get("properties", {})
    return [frame_text(verb, data) for data in sweep(base, properties)]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request):
    with fieldops_stack(servers=("daphne",), postgres=request.param == "postgresql") as running:
        yield running


@pytest.fixture(scope="module")
def organizer_token(stack) -> str:
    return stack.join("organizer", "fuzz")["token"]


def exchange(ws, text: str) -> list[dict]:
    """Send one frame, then a ping; everything the server sent up to the pong."""
    marker = str(uuid.uuid4())
    ws.send(text)
    ws.send(json.dumps({"type": "ping", "id": marker}))
    received = []
    while True:
        reply = json.loads(ws.recv(timeout=REPLY_SECONDS))  # raises if the socket was dropped
        if reply == {"type": "pong", "id": marker}:
            return received
        received.append(reply)


def assert_no_server_failure(sent: str, received: list[dict]) -> None:
    for reply in received:
        if reply.get("type") == "error":
            assert set(reply) == ERROR_KEYS, (sent[:500], reply)
            assert reply["code"] not in SERVER_FAILURES, (sent[:500], reply)


@pytest.mark.parametrize("verb", [*FRAMES, "junk"])
def test_fuzzed_frames_never_drop_the_socket_nor_fail_on_the_server(stack, organizer_token, verb):
    logged = len(worker_log(stack))
    strategy = junk_frames if verb == "junk" else data_of(verb, *GenerationMode)
    edges = [] if verb == "junk" else edge_frames(verb)
    headers = {"Authorization": f"Bearer {organizer_token}"}
    with connect(stack.ws_url(0), additional_headers=headers, max_size=None) as ws:
        assert json.loads(ws.recv(timeout=REPLY_SECONDS))["type"] == "hello"
        for text in edges:
            assert_no_server_failure(text, exchange(ws, text))

        @fuzz_settings(EXAMPLES)
        @given(generated=strategy, draw=st.data())
        def fuzz(generated, draw):
            if verb == "junk":
                text = generated
            else:
                if isinstance(generated, dict):
                    plant_edge(draw, generated, list(FRAMES[verb].model_fields))
                text = frame_text(verb, generated)
            assert_no_server_failure(text, exchange(ws, text))

        fuzz()
    assert not worker_tracebacks(stack, after=logged)
