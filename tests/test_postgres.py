"""The cross-worker scenarios as a deployment runs them: a throwaway PostgreSQL cluster, real Redis,
worker A under daphne and worker B under uvicorn (docs/deployment.md offers both)."""

import asyncio
import json
import urllib.request
import uuid

import pytest

from .servers import fieldops_stack, manage
from .test_multiworker import (
    ON_ROUTE,
    A,
    B,
    checkin_on_a_reaches_organizer_on_b,
    connect,
    drive,
    marcher_on_b_gets_route_change_from_a_and_nothing_else,
    parallel_writers_get_gapless_ordered_seqs,
    resend_to_the_other_worker_gets_the_original_ack,
)

pytestmark = pytest.mark.multiworker
METRICS_TOKEN = "scrape-" + "p" * 40


@pytest.fixture(scope="module")
def pg_stack():
    env = {"METRICS_TOKEN": METRICS_TOKEN}
    with fieldops_stack(servers=("daphne", "uvicorn"), postgres=True, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def organizer_token(pg_stack) -> str:
    return pg_stack.join("organizer", "org-pg")["token"]


def test_postgres_checkin_on_worker_a_reaches_organizer_on_worker_b(pg_stack, organizer_token):
    drive(checkin_on_a_reaches_organizer_on_b(pg_stack, organizer_token))


def test_postgres_marcher_gets_route_change_and_no_field_reports(pg_stack, organizer_token):
    drive(marcher_on_b_gets_route_change_from_a_and_nothing_else(pg_stack, organizer_token))


def test_postgres_resend_through_the_other_worker_gets_the_original_ack(pg_stack, organizer_token):
    drive(resend_to_the_other_worker_gets_the_original_ack(pg_stack, organizer_token))


def test_postgres_parallel_writers_get_gapless_seqs_seen_in_order(pg_stack, organizer_token):
    drive(parallel_writers_get_gapless_ordered_seqs(pg_stack, organizer_token))


def test_postgres_stack_really_uses_postgresql(pg_stack):
    """Guards the scenarios above against silently running on the SQLite default."""
    from .servers import manage, project_env

    env = project_env(database_url=pg_stack.database_url, redis_url=None)
    out = manage(env, "shell", "-c", "from django.db import connection; print(connection.vendor)")
    assert out.strip().splitlines()[-1] == "postgresql"


def test_postgres_stack_runs_one_worker_under_each_server(pg_stack):
    """Guards the scenarios above against silently running both workers under daphne."""
    import urllib.request

    names = []
    for port in pg_stack.ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            names.append(response.headers.get("server", "").split("/")[0].lower())
    assert names == ["daphne", "uvicorn"]


def batch_counts(stack, worker: int) -> dict[str, float]:
    request = urllib.request.Request(
        f"{stack.base_url(worker)}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    counts = {"together": 0.0, "alone": 0.0}
    for line in text.splitlines():
        if line.startswith("fieldops_action_batches_total{"):
            way = line.split('way="')[1].split('"')[0]
            counts[way] = float(line.rsplit(" ", 1)[1])
    return counts


def test_postgres_checkins_at_once_share_transactions_and_none_falls_back(pg_stack):
    """Check-ins that queue on a worker are written in one transaction on PostgreSQL too (its SQL
    differs from SQLite's), each acked once, and no batch fails over to one by one."""

    async def scenario():
        tokens = [
            pg_stack.join("marshal", f"pb{i}-{uuid.uuid4().hex[:4]}")["token"] for i in range(8)
        ]
        clients = [await connect(pg_stack, B, token) for token in tokens]
        organizer = await connect(pg_stack, A, pg_stack.join("organizer", "org-pb")["token"])
        clients.append(organizer)
        try:
            replies = await asyncio.gather(
                *(c.submit("checkin", ON_ROUTE) for c in clients[:-1] for _ in range(4))
            )
            acked = [await asyncio.wait_for(reply, 20) for reply in replies]
            assert all(a["type"] == "ack" for a in acked), acked
            assert len({a["seq"] for a in acked}) == len(acked)
            # The other worker got the batches (one message each) and kept the journal's order.
            seen = [e["seq"] for e in await organizer.collect(upto=max(a["seq"] for a in acked))]
            assert seen == sorted(set(seen)) and {a["seq"] for a in acked} <= set(seen)
        finally:
            await asyncio.gather(*(c.close() for c in clients))

    before = batch_counts(pg_stack, B)
    drive(scenario())
    after = batch_counts(pg_stack, B)
    assert after["together"] > before["together"]
    assert after["alone"] == before["alone"]


# Run inside the stack's own settings: a batch of four check-ins, with the statements it sent.
_BATCH_STATEMENTS = """
import json, uuid
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fieldops.actions import Request, actions_perform_batch
from fieldops.models import Event
from fieldops.models import JournalEntry
from marshals.models import CheckIn, Participant
event = Event.objects.get(slug=%(slug)r)
before = event.last_seq
marshals = [
    Participant.objects.create(event=event, role="marshal", callsign=f"rows-{i}-{uuid.uuid4().hex[:4]}")
    for i in range(4)
]
checkin = {"lat": %(lat)r, "lng": %(lng)r, "status": "ok"}
with CaptureQueriesContext(connection) as queries:
    results = actions_perform_batch(
        [Request(participant=m, verb="checkin", data=checkin, client_id=uuid.uuid4()) for m in marshals]
    )
rows = {
    '"marshals_checkin"': CheckIn.objects.filter(participant__in=marshals).count(),
    '"fieldops_journalentry"': JournalEntry.objects.filter(event=event, seq__gt=before).count(),
}
print(json.dumps({"sql": [q["sql"] for q in queries], "rows": rows, "acked": len({r.seq for r in results})}))
"""


def test_postgres_batch_writes_each_tables_rows_in_one_statement(pg_stack):
    """PostgreSQL's driver sends `executemany` as a statement per row: a batch's rows of one table
    go as one multi-row INSERT instead."""
    script = _BATCH_STATEMENTS % {
        "slug": pg_stack.slug,
        "lat": ON_ROUTE["lat"],
        "lng": ON_ROUTE["lng"],
    }
    out = manage(pg_stack.env, "shell", "-c", script)
    got = json.loads(out.strip().splitlines()[-1])

    assert got["acked"] == 4 and got["rows"]['"marshals_checkin"'] == 4
    assert not [sql for sql in got["sql"] if " times: " in sql.split("INSERT")[0]], got["sql"]
    for table, rows in got["rows"].items():  # the rules may have written entries of their own
        inserts = [sql for sql in got["sql"] if sql.startswith(f"INSERT INTO {table}")]
        assert len(inserts) == 1, inserts
        assert inserts[0].count("), (") == rows - 1, f"{rows} rows in one statement"
