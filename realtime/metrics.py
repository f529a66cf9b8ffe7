"""A worker's metrics, in the Prometheus text format (docs/deployment.md, "Metrics").

What moves on a hot path is a plain number in this process: a delivery adds one to an integer (no
lock, no label lookup: every delivery runs on the event loop's thread), an action or a journal
entry bumps a prometheus-client counter (a lock, a microsecond, once per action). What can be read
instead of counted is read at scrape time: the delivery counters (counters.py), the sockets of each
hub and what they still wait for. Label values come from fixed vocabularies (roles, verbs, error
codes, journal kinds, event ids), never from what a person typed.
"""

import asyncio
import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import counters, local

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

# Entries written to sockets live, one per socket (entries sent in a replay are counted apart).
DELIVERIES = counters.DELIVERIES
REPLAYED = counters.Tally()

OPEN_SOCKETS = Gauge(
    "fieldops_open_sockets",
    "Event sockets open on this worker, by the role they were opened as.",
    ["role"],
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "fieldops_ack_seconds",
    "Time from receiving an action frame to sending its ack.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
ACTIONS = Counter(
    "fieldops_actions",
    "Actions carried out on this worker, by either door, by verb and outcome (ok, repeat, or the "
    "error code answered).",
    ["verb", "outcome"],
    registry=REGISTRY,
)
BATCHES = Counter(
    "fieldops_action_batches",
    "Batches of actions (fieldops/actions.py), by the way they were carried out: together (one "
    "transaction), or alone (one failed while writing; each was carried out on its own).",
    ["way"],
    registry=REGISTRY,
)
JOURNAL_ENTRIES = Counter(
    "fieldops_journal_entries",
    "Journal entries committed by this worker, by kind.",
    ["kind"],
    registry=REGISTRY,
)

_COUNTER_HELP = {
    "publishes_failed": "Entries or revocations Redis did not take (each worker repairs them).",
    "gaps_repaired": "Times a hub read entries it had missed from the journal.",
    "entries_from_database": "Entries a hub delivered from the journal rather than from Redis.",
    "sockets_behind": "Sockets closed for not reading (4408).",
    "sockets_refused": "Sockets refused over the per-credential cap (4429).",
}


class _Worker:
    """What is read, not counted: the delivery counters and the hubs' state, at scrape time."""

    def collect(self):
        yield CounterMetricFamily(
            "fieldops_deliveries", "Journal entries written to sockets live.", DELIVERIES.value
        )
        yield CounterMetricFamily(
            "fieldops_replayed_entries", "Journal entries sent to sockets in a replay.",
            REPLAYED.value,
        )  # fmt: skip
        for name, value in counters.snapshot().items():
            yield CounterMetricFamily(f"fieldops_{name}", _COUNTER_HELP.get(name, name), value)
        head = GaugeMetricFamily(
            "fieldops_journal_head_seq",
            "The event's latest seq this worker knows of (delivered, waiting behind a gap, or "
            "seen at its last look at the journal).",
            labels=["event"],
        )
        oldest = GaugeMetricFamily(
            "fieldops_oldest_undelivered_seq",
            "The event's lowest seq not yet written to every one of its sockets on this worker "
            "(head + 1 when nothing waits).",
            labels=["event"],
        )
        hub = _hub_here()
        for event_id, (latest, lowest) in sorted((hub.pending() if hub else {}).items()):
            head.add_metric([str(event_id)], latest)
            oldest.add_metric([str(event_id)], lowest)
        yield head
        yield oldest


def _hub_here():
    """The hub of the running event loop, whose state only that loop may read."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return local.hub_of(loop)


REGISTRY.register(_Worker())


class _Labelled:
    """Every sample of `collectors`, with the worker's label added and no `_created` samples."""

    def __init__(self, collectors, worker: str) -> None:
        self.collectors = collectors
        self.worker = worker

    def collect(self):
        for collector in self.collectors:
            for family in collector.collect():
                copy = Metric(family.name, family.documentation, family.type, family.unit)
                copy.samples = [
                    sample._replace(labels={**sample.labels, "worker": self.worker})
                    for sample in family.samples
                    if not sample.name.endswith("_created")
                ]
                yield copy


def exposition(*, worker: str | None = None, extra=()) -> bytes:
    """This worker's metrics, with `extra` families (an object with `collect()` each), as text.

    Call it on the worker's event loop: the hubs' state is read there."""
    worker = worker or f"pid-{os.getpid()}"
    return generate_latest(_Labelled([REGISTRY, *extra], worker))
