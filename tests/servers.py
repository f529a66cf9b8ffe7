"""Real processes for the cross-process tests, from the kit's launcher (fieldops/kit/): redis-server,
a throwaway PostgreSQL, workers started through deploy/worker.

Each helper is a context manager that binds to 127.0.0.1 on a free port and stops what it started on
the way out, failure or not. Output goes to log files in a temporary directory, and a startup failure
raises with the tail of the log so the reason is in the test report.
"""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from fieldops.kit.launcher import Running, launch, manage, project_env, worker_proc
from fieldops.kit.processes import (
    ROOT,
    START_TIMEOUT,
    Proc,
    free_port,
    healthy,
    postgres_server,
    redis_server,
    stop,
)

__all__ = [
    "ROOT",
    "START_TIMEOUT",
    "FaultStack",
    "Proc",
    "Stack",
    "asgi_workers",
    "fault_stack",
    "fieldops_stack",
    "free_port",
    "manage",
    "postgres_server",
    "project_env",
    "redis_and_database",
    "redis_server",
]

# A launched Fieldops; its Redis and workers are `Proc`s a test can kill, pause and start again.
Stack = FaultStack = Running
_healthy, _stop = healthy, stop


@contextmanager
def asgi_workers(servers: list[str], *, env: dict, tmp: Path) -> Iterator[list[int]]:
    """One worker per entry of `servers` ("daphne" or "uvicorn") serving fieldops.asgi; yields
    their ports once each answers /healthz."""
    workers = [worker_proc(server, index=i, env=env, tmp=tmp) for i, server in enumerate(servers)]
    try:
        for worker in workers:
            worker.spawn()
        for worker in workers:
            worker.wait_ready()
        yield [worker.port for worker in workers]
    finally:
        for worker in workers:
            worker.stop()


def redis_and_database(stack: ExitStack, tmp: Path, *, postgres: bool) -> tuple[str, str]:
    """A private redis-server and a database (a SQLite file, or a PostgreSQL cluster) in `tmp`,
    stopped with `stack`; their URLs."""
    redis_url = stack.enter_context(redis_server(tmp))
    if postgres:
        return redis_url, stack.enter_context(postgres_server(tmp))
    return redis_url, f"sqlite:///{tmp / 'fieldops.sqlite3'}"


@contextmanager
def fieldops_stack(
    *, servers: tuple[str, ...] = ("daphne", "daphne"), postgres: bool = False, env=None
) -> Iterator[Running]:
    """Redis, a database (SQLite file or PostgreSQL), migrate + demo, then a worker per server."""
    with launch(servers=servers, postgres=postgres, env=env, prefix="fieldops-test-") as running:
        yield running


@contextmanager
def fault_stack(*, servers: tuple[str, ...], postgres: bool, env_extra=None) -> Iterator[Running]:
    """As `fieldops_stack`, with extra environment for the workers."""
    with launch(
        servers=servers, postgres=postgres, env=env_extra, prefix="fieldops-faults-"
    ) as running:
        yield running
