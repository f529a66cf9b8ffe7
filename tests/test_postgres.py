"""The cross-worker scenarios as a deployment runs them: a throwaway PostgreSQL cluster, real Redis,
worker A under daphne and worker B under uvicorn (docs/deployment.md offers both)."""

import pytest

from .servers import fieldops_stack
from .test_multiworker import (
    checkin_on_a_reaches_organizer_on_b,
    drive,
    marcher_on_b_gets_route_change_from_a_and_nothing_else,
    parallel_writers_get_gapless_ordered_seqs,
    resend_to_the_other_worker_gets_the_original_ack,
)

pytestmark = pytest.mark.multiworker


@pytest.fixture(scope="module")
def pg_stack():
    with fieldops_stack(servers=("daphne", "uvicorn"), postgres=True) as running:
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
