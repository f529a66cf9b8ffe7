"""What the fuzz tests share. Random examples rarely draw a NUL, 2^63 or the last second of year
9999, so besides hypothesis' own examples every field the schema knows is also sent each edge value
of its type, once, in an otherwise valid payload (the sweep), and random examples get one planted
half of the time."""

from collections.abc import Iterator
from datetime import timedelta

from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st

# Each once broke something: NUL in PostgreSQL text, a time that overflows when converted to UTC,
# an integer past the 64-bit columns; and the usual suspects for parsers and renderers.
TEXT_EDGES = ["\u0000", "note\u0000", "\u001b[2J", "\u0085", "\u202eevil", "\ud800", "a\tb\nc", ""]
TIME_EDGES = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-11-22T10:02:11"]
INTEGER_EDGES = [2**63, 2**63 - 1, -(2**63) - 1, 2**64, 0, -1]
NUMBER_EDGES = [1e308, -1e308, -0.0, 2**63]
OTHER_EDGES = [None, True, [], {}, "x" * 5000]
EDGE_VALUES = TEXT_EDGES + TIME_EDGES + INTEGER_EDGES + NUMBER_EDGES + OTHER_EDGES
# A lone surrogate has no UTF-8 form: an HTTP client cannot send it in a URL or a body it encodes
# (a socket frame carries it escaped, as JSON allows).
NOT_UTF8 = {"\ud800"}
QUIET = settings(derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def edges_for(schema: dict) -> list:
    """The edge values worth sending to a field of this JSON schema."""
    for option in schema.get("anyOf", []):  # optional fields: `X or null`
        if option.get("type") != "null":
            return edges_for(option)
    kind = schema.get("type")
    if kind == "string":
        return TIME_EDGES if schema.get("format") == "date-time" else TEXT_EDGES
    if kind == "integer":
        return INTEGER_EDGES
    if kind == "number":
        return NUMBER_EDGES
    return OTHER_EDGES


def sweep(base: dict, properties: dict, *, utf8_only: bool = False) -> Iterator[dict]:
    """`base` with one field at a time set to each edge value of its type."""
    for name, schema in properties.items():
        for value in edges_for(schema):
            if _sendable(value, utf8_only=utf8_only):
                yield {**base, name: value}


def smallest(strategy):
    """The simplest value `strategy` draws: a deterministic valid payload to sweep from."""
    return find(strategy, lambda _: True, settings=QUIET)


def plant_edge(data, mapping: dict, keys: list[str], *, utf8_only: bool = False) -> None:
    """Half the time, set one of `keys` in `mapping` to an edge value (in place)."""
    if not keys or not data.draw(st.booleans(), label="plant an edge value"):
        return
    key = data.draw(st.sampled_from(sorted(keys)), label="field")
    values = [value for value in EDGE_VALUES if _sendable(value, utf8_only=utf8_only)]
    mapping[key] = data.draw(st.sampled_from(values), label="edge value")


def _sendable(value, *, utf8_only: bool) -> bool:
    return not (utf8_only and isinstance(value, str) and value in NOT_UTF8)


def worker_log(stack) -> str:
    """Everything the stack's workers logged so far."""
    logs = sorted(stack.tmp.glob("daphne-*.log"))
    assert logs, "no worker log found"
    return "".join(log.read_text(errors="replace") for log in logs)


def worker_tracebacks(stack, *, after: int = 0) -> list[str]:
    """The tracebacks the workers logged past the first `after` characters (each cut short)."""
    text = worker_log(stack)[after:]
    return [chunk[:2000] for chunk in text.split("Traceback (most recent call last)")[1:]]


def fuzz_settings(examples: int):
    """Hypothesis settings for a fuzz run against a real server: derandomized and bounded; the
    deadline only detects a hang, it is no speed requirement."""
    return settings(
        max_examples=examples,
        deadline=timedelta(seconds=20),
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
