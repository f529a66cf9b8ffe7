"""How long a batch of check-ins holds its event's write lock, and how many check-ins two writers of
one event get through that lock, on SQLite and on PostgreSQL.

    python -m bench.lock                     # both databases, batches of 20, two writers for 8 s
    python -m bench.lock --database postgres --seconds 4

Every writer of an event waits for that lock (another worker's batch, an SOS, a route), so the
time a batch holds it bounds what one event takes however many workers there are. Each database
runs in a child process of its own in a temporary directory: a SQLite file, or a throwaway
PostgreSQL cluster on 127.0.0.1 that is stopped at the end. The demo event and its route, marshals
without a group, positions on the route: the safety rules run and stay quiet.
"""

import argparse
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

from fieldops.kit.processes import ROOT, postgres_server


def _setup(url: str) -> None:
    os.environ.update(DJANGO_SETTINGS_MODULE="fieldops.settings.local", DATABASE_URL=url, DEBUG="0")
    os.environ.pop("REDIS_URL", None)
    import logging

    import django

    django.setup()
    logging.disable(logging.CRITICAL)  # a line per check-in is not what is measured here


def _requests(participants, coords, count: int) -> list:
    from fieldops.actions import Request

    points = random.choices(coords, k=count)
    return [
        Request(
            participant=p,
            verb="checkin",
            data={"lat": lat + 1e-5, "lng": lng, "status": "ok"},
            client_id=uuid.uuid4(),
        )
        for p, (lng, lat) in zip(random.sample(participants, count), points, strict=True)
    ]


def _batch(participants, coords, count: int) -> None:
    from fieldops.actions import actions_perform_batch

    results = actions_perform_batch(_requests(participants, coords, count))
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise RuntimeError(f"a check-in failed: {failed[0]!r}")


def _writer(url: str, ids: list[int], coords, seconds: float, size: int, out) -> None:
    _setup(url)
    from marshals.models import Participant

    participants = list(Participant.objects.filter(pk__in=ids))
    done, cpu, end = 0, time.process_time(), time.perf_counter() + seconds
    while time.perf_counter() < end:
        _batch(participants, coords, size)
        done += size
    out.put((done, time.process_time() - cpu))


def measure(url: str, *, size: int, batches: int, seconds: float) -> dict:
    """In this process (the child of `main`): the lock held per check-in, then two writers."""
    _setup(url)
    from django.core.management import call_command
    from django.db import connections

    from fieldops.demo import demo_create
    from fieldops.models import Event, Route
    from fieldops.services import journal
    from marshals.models import Participant, Role

    call_command("migrate", verbosity=0)
    demo_create()
    event = Event.objects.order_by("-pk").first()
    coords = Route.objects.filter(event=event).first().geometry["coordinates"]
    participants = [
        Participant.objects.create(event=event, role=Role.MARSHAL, callsign=f"lock-{i}")
        for i in range(2 * size)
    ]

    held: list[float] = []
    real = journal.event_lock

    @contextmanager
    def timed(event_id):
        with real(event_id):
            start = time.perf_counter()
            try:
                yield
            finally:
                held.append(time.perf_counter() - start)

    journal.event_lock = timed
    try:
        for _ in range(10):  # the map, the key and the statements cached, as in a running worker
            _batch(participants[:size], coords, size)
        held.clear()
        for _ in range(batches):
            _batch(participants[:size], coords, size)
    finally:
        journal.event_lock = real

    connections.close_all()  # each writer opens its own
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    halves = [[p.pk for p in participants[:size]], [p.pk for p in participants[size:]]]
    writers = [
        ctx.Process(target=_writer, args=(url, ids, coords, seconds, size, out)) for ids in halves
    ]
    try:
        for writer in writers:
            writer.start()
        results = [out.get(timeout=seconds + 120) for _ in writers]
    finally:  # a writer that failed or hangs is not left behind
        for writer in (w for w in writers if w.pid is not None):
            writer.join(timeout=30)
            if writer.is_alive():
                writer.terminate()
    total = sum(done for done, _ in results)
    return {
        "lock_ms_per_checkin": round(1e3 * statistics.median(held) / size, 3),
        "two_writers_per_s": round(total / seconds),
        "writer_cpu_us_per_checkin": round(1e6 * sum(cpu for _, cpu in results) / total),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.lock", description=__doc__.split("\n\n")[0])
    p.add_argument("--database", default="sqlite,postgres", help="default sqlite,postgres")
    p.add_argument("--size", type=int, default=20, help="check-ins per batch")
    p.add_argument("--batches", type=int, default=50, help="batches timed under the lock")
    p.add_argument("--seconds", type=float, default=8.0, help="how long the two writers run")
    p.add_argument("--run", help=argparse.SUPPRESS)  # the child: measure on this database URL
    opts = p.parse_args(argv)
    if opts.run:
        figures = measure(opts.run, size=opts.size, batches=opts.batches, seconds=opts.seconds)
        print(json.dumps(figures), flush=True)
        return
    print(f"batches of {opts.size}; two writers of one event for {opts.seconds:g} s each")
    print(f"{'database':<10} {'lock held / check-in':>22} {'two writers':>16} {'writer CPU':>18}")
    for database in opts.database.split(","):
        tmp = Path(tempfile.mkdtemp(prefix="fieldops-bench-lock-"))
        try:
            with ExitStack() as stack:
                if database == "postgres":
                    url = stack.enter_context(postgres_server(tmp))
                else:
                    url = f"sqlite:///{tmp / 'lock.sqlite3'}"
                child = [sys.executable, "-m", "bench.lock", "--run", url,
                         "--size", str(opts.size), "--batches", str(opts.batches),
                         "--seconds", str(opts.seconds)]  # fmt: skip
                done = subprocess.run(child, cwd=ROOT, capture_output=True, text=True, timeout=600)
                if done.returncode != 0:
                    raise SystemExit(f"{database}: {done.stderr[-2000:]}")
                f = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(
            f"{database:<10} {f['lock_ms_per_checkin']:>19.3f} ms"
            f" {f['two_writers_per_s']:>10,} /s {f['writer_cpu_us_per_checkin']:>12} µs/check-in"
        )


if __name__ == "__main__":
    main()
