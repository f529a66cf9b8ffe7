"""GET /metrics: a worker's counts after a scenario, behind its token, with nothing personal in it."""

import asyncio
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from prometheus_client.parser import text_string_to_metric_families

from fieldops import errors
from fieldops.actions import ACTIONS
from fieldops.asgi import application
from fieldops.scrape import worker_name
from fieldops.services.kinds import KINDS
from marshals.roles import Role
from realtime import metrics

from .conftest import connect_with
from .factories import ParticipantFactory, issue_token

TOKEN = "metrics-token-Zq8pX2vL5rT9wK4m"
# Callsigns no metric name or vocabulary holds, so that finding one is a leak.
CALLSIGNS = {
    "organizer": "Kestrel-Q7",
    "marshal": "Heron-V4",
    "legal": "Lark-P9",
    "medic": "Ibis-W2",
    "marcher": "Wren-J3",
}
CHECKIN = {"lat": 40.4193712, "lng": -3.6932514, "note": "Note-Marker-8R"}


async def scrape(*, token: str | None = TOKEN, method: str = "GET", server=None) -> dict:
    headers = [(b"host", b"127.0.0.1")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    communicator = HttpCommunicator(application, method, "/metrics", headers=headers)
    if server is not None:
        communicator.scope["server"] = server
    response = await communicator.get_response(timeout=5)
    await communicator.wait()
    return response


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, ((label, value), ...) without `worker`): value}; checks every sample has a
    worker label."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            assert labels.pop("worker"), sample
            out[sample.name, tuple(sorted(labels.items()))] = sample.value
    return out


def delta(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def drain(client) -> list[dict]:
    """Every frame the socket has received until it stays quiet for a moment."""
    frames = []
    while not await client.receive_nothing(timeout=0.3):
        frames.append(await client.receive_json_from())
    return frames


async def act(client, verb: str, data: dict) -> list[dict]:
    """Send one action and return the frames up to its ack (entries may come before it)."""
    frame_id = str(uuid.uuid4())
    await client.send_json_to({"type": verb, "id": frame_id, "data": data})
    frames = []
    while True:
        frame = await client.receive_json_from(timeout=3)
        frames.append(frame)
        if frame.get("id") == frame_id:
            assert frame["type"] == "ack", frame
            return frames


@pytest.mark.django_db(transaction=True)
async def test_a_scrape_after_a_scenario_counts_what_happened_and_names_no_one(
    cast, settings, published
):
    settings.METRICS_TOKEN = TOKEN

    def people():
        made = {
            role: ParticipantFactory(event=cast.event, role=role, callsign=callsign,
                                     group=cast.group_a if role in ("marshal", "marcher") else None)
            for role, callsign in CALLSIGNS.items()
        }  # fmt: skip
        second = ParticipantFactory(
            event=cast.event, role="marshal", callsign="Crane-X5", group=cast.group_b
        )
        return made, second, {role: issue_token(p) for role, p in made.items()}, issue_token(second)

    made, second, tokens, second_token = await database_sync_to_async(people)()
    before = samples((await scrape())["body"].decode())

    clients = {role: (await connect_with(made[role], tokens[role]))[0] for role in CALLSIGNS}
    clients["marshal-b"] = (await connect_with(second, second_token))[0]
    during = samples((await scrape())["body"].decode())
    for role, count in {"organizer": 1, "marshal": 2, "legal": 1, "medic": 1, "marcher": 1}.items():
        assert delta(before, during, "fieldops_open_sockets", role=role) == count

    frames = {name: [] for name in clients}
    frames["marshal"] += await act(clients["marshal"], "checkin", CHECKIN)
    frames["organizer"] += await act(
        clients["organizer"], "alert.send", {"text": "Keep left", "audience": "public"}
    )
    frames["organizer"] += await act(
        clients["organizer"], "alert.send", {"text": "Medics only", "audience": "medic"}
    )
    for name, client in clients.items():
        frames[name] += await drain(client)
    entries = {name: [f["seq"] for f in got if "at" in f] for name, got in frames.items()}
    after_text = (await scrape())["body"].decode()
    after = samples(after_text)

    # Three actions, each acknowledged, each one journal entry of its kind.
    assert delta(before, after, "fieldops_ack_seconds_count") == 3
    assert delta(before, after, "fieldops_actions_total", verb="checkin", outcome="ok") == 1
    assert delta(before, after, "fieldops_actions_total", verb="alert.send", outcome="ok") == 2
    kinds = [p["frame"].split('"type":"')[1].split('"')[0] for p in published]
    assert len(kinds) == 3
    for kind in set(kinds):
        assert delta(before, after, "fieldops_journal_entries_total", kind=kind) == kinds.count(
            kind
        )
    # Every entry a socket received was one delivery, and nothing else was.
    delivered = sum(len(seqs) for seqs in entries.values())
    assert entries["marcher"] == [2] and entries["medic"] == [2, 3] and entries["organizer"]
    assert delta(before, after, "fieldops_deliveries_total") == delivered
    assert delta(before, after, "fieldops_gaps_repaired_total") == 0
    assert delta(before, after, "fieldops_publishes_failed_total") == 0
    # Nothing waits: the oldest undelivered seq is one past the event's head.
    event = (("event", str(cast.event.pk)),)
    assert after["fieldops_journal_head_seq", event] == 3
    assert after["fieldops_oldest_undelivered_seq", event] == 4
    assert after["fieldops_up", (("target", "database"),)] == 1
    assert ("fieldops_up", (("target", "redis"),)) not in after  # the in-process layer

    # No label value is anything but a vocabulary word, an event id or a worker's name.
    allowed = {
        "role": set(Role.values),
        "verb": {*ACTIONS, "other"},
        "outcome": {"ok", "repeat", *(v for k, v in vars(errors).items() if k.isupper()
                                      and not k.startswith("MSG_"))},
        "kind": set(KINDS),
        "event": {str(cast.event.pk)},
        "target": {"database", "redis"},
        "way": {"together", "alone"},
    }  # fmt: skip
    for (name, labels), _ in after.items():
        for label, value in labels:
            if label in allowed:
                assert value in allowed[label], (name, label, value)
            else:
                assert label in {"le"}, (name, label, value)  # histogram buckets
    secrets = [*CALLSIGNS.values(), "Crane-X5", *tokens.values(), second_token, "Note-Marker-8R"]
    secrets += ["40.41937", "3.69325", "Keep left", "Medics only"]
    assert not [s for s in secrets if s in after_text]

    for client in clients.values():
        await client.disconnect()
    closed = samples((await scrape())["body"].decode())
    for role in CALLSIGNS:
        assert delta(before, closed, "fieldops_open_sockets", role=role) == 0


@pytest.mark.django_db(transaction=True)
async def test_the_endpoint_refuses_a_scrape_without_the_token(settings):
    settings.METRICS_TOKEN = TOKEN
    assert (await scrape(token=None))["status"] == 401
    assert (await scrape(token="wrong-" + TOKEN))["status"] == 401
    assert (await scrape(token=TOKEN[:-1]))["status"] == 401
    assert (await scrape(method="POST"))["status"] == 405
    refused = await scrape(token=None)
    assert b"fieldops_" not in refused["body"]
    ok = await scrape()
    assert ok["status"] == 200
    assert dict(ok["headers"])[b"content-type"].startswith(b"text/plain; version=0.0.4")


@pytest.mark.django_db(transaction=True)
async def test_without_a_configured_token_there_is_no_endpoint(settings):
    settings.METRICS_TOKEN = ""
    for token in (None, "", TOKEN):
        reply = await scrape(token=token)
        assert reply["status"] == 404
        assert b"fieldops_" not in reply["body"]


@pytest.mark.django_db(transaction=True)
async def test_each_worker_labels_its_samples_with_the_port_it_listens_on(settings):
    settings.METRICS_TOKEN = TOKEN
    text = (await scrape(server=("127.0.0.1", 8003)))["body"].decode()
    workers = {
        sample.labels["worker"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert workers == {"8003"}
    assert worker_name({"server": ("/run/fieldops.sock", None)}) is None
    assert metrics.exposition().count(b'worker="pid-') > 0


@pytest.mark.django_db(transaction=True)
async def test_a_database_that_does_not_answer_in_time_is_reported_down(settings, monkeypatch):
    from fieldops import scrape as scrape_module

    settings.METRICS_TOKEN = TOKEN
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    probes = []

    def hangs() -> bool:
        probes.append(1)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        return True

    monkeypatch.setattr(scrape_module, "database_answers", hangs)
    monkeypatch.setattr(scrape_module, "PROBE_SECONDS", 0.2)
    for _ in range(2):  # the second finds the first still hanging and does not start another
        got = samples((await scrape())["body"].decode())
        assert got["fieldops_up", (("target", "database"),)] == 0
    assert len(probes) == 1
    release.set()
    await asyncio.sleep(0.1)
    monkeypatch.undo()
    settings.METRICS_TOKEN = TOKEN
    got = samples((await scrape())["body"].decode())
    assert got["fieldops_up", (("target", "database"),)] == 1


def test_a_slow_socket_holds_the_oldest_undelivered_seq_back():
    from realtime.hub import Entry, Feed, Hub

    class Sink:
        def __init__(self, backlog):
            self.backlog = backlog

    hub = Hub(layer=None)
    feed = Feed(7)
    feed.delivered, feed.seen_latest = 40, 42
    feed.add(Sink([Entry(31, ("public",), "{}"), Entry(32, ("public",), "{}")]), ["public"], 1, 1)
    feed.add(Sink(None), ["public"], 2, 2)
    hub.feeds[7] = feed
    assert hub.pending() == {7: (42, 31)}
    feed.by_participant[1].pop().backlog = None
    assert hub.pending() == {7: (42, 41)}
    feed.delivered = 42
    assert hub.pending() == {7: (42, 43)}


@pytest.mark.django_db(transaction=True)
async def test_scrapes_at_the_same_moment_share_one_probe(settings, monkeypatch):
    from fieldops import scrape as scrape_module

    settings.METRICS_TOKEN = TOKEN
    probes = []

    def answers_slowly() -> bool:
        probes.append(1)
        time.sleep(0.1)
        return True

    monkeypatch.setattr(scrape_module, "database_answers", answers_slowly)
    replies = await asyncio.gather(scrape(), scrape())
    for reply in replies:
        assert samples(reply["body"].decode())["fieldops_up", (("target", "database"),)] == 1
    assert len(probes) == 1
