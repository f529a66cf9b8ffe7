"""The watch with several runners: threads and real processes sweeping at once never double an
alert, and the watch embedded in the ASGI worker delivers its alerts live."""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from fieldops.asgi import application
from fieldops.models import JournalEntry, Route
from fieldops.watch import watch_sweep

from .conftest import connect_as
from .test_safety_overdue import silent_marshal

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db(transaction=True)
def test_two_runners_sweeping_at_once_raise_each_alert_once(cast):
    for n in range(3):
        silent_marshal(cast, minutes=60, callsign=f"quiet-{n}")
    Route.objects.filter(pk=cast.route.pk).update(published_at=timezone.now() - timedelta(hours=1))
    start = threading.Barrier(2)
    errors, swept = [], []

    def runner():
        # Like two watch loops: three sweeps each. A sweep that meets the other's write lock
        # fails and is retried on the next tick, as watch_loop does (in-memory SQLite in tests
        # reports a busy table at once instead of waiting).
        try:
            start.wait(timeout=10)
            done, deadline = 0, time.monotonic() + 30
            while done < 3 and time.monotonic() < deadline:
                try:
                    watch_sweep(event_id=cast.event.pk)
                    done += 1
                    swept.append(1)
                except OperationalError:
                    time.sleep(0.01)
        except Exception as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == [] and len(swept) == 6
    overdue = JournalEntry.objects.filter(event=cast.event, kind="marshal.overdue")
    # Three silent marshals and the cast's two marshals and medic? Only those silent too long.
    silent = [orjson.loads(e.frame)["data"]["callsign"] for e in overdue]
    assert sorted(silent) == ["quiet-0", "quiet-1", "quiet-2"]
    reminders = JournalEntry.objects.filter(event=cast.event, kind="route.ack_reminder")
    reminded = sorted(orjson.loads(e.frame)["data"]["callsign"] for e in reminders)
    # Each marshal who joined long enough ago and has not acknowledged the hour-old route, once;
    # the cast's marshals joined a moment ago and still have time.
    assert reminded == ["quiet-0", "quiet-1", "quiet-2"]


SEED = """
from datetime import timedelta
from django.utils import timezone
from fieldops.models import Event, MarchGroup
from marshals.models import Participant
now = timezone.now()
event = Event.objects.create(slug="proc", name="p", starts_at=now - timedelta(hours=1),
                             ends_at=now + timedelta(hours=1), checkin_interval_minutes=5)
group = MarchGroup.objects.create(event=event, name="A")
for n in range(5):
    p = Participant.objects.create(event=event, role="marshal", group=group, callsign=f"q{n}")
Participant.objects.filter(event=event).update(created_at=now - timedelta(minutes=30))
"""

COUNT = """
from fieldops.models import JournalEntry
print(JournalEntry.objects.filter(event__slug="proc", kind="marshal.overdue").count())
"""


def test_two_watch_processes_at_once_raise_each_alert_once(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fieldops.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'watch.sqlite3'}",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args):
        return subprocess.run(
            manage + list(args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    assert run("migrate", "-v0").returncode == 0
    seeded = run("shell", "-c", SEED)
    assert seeded.returncode == 0, seeded.stderr
    workers = [
        subprocess.Popen(
            manage + ["watch", "--once"], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        outputs = [w.communicate(timeout=120)[0] for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    assert [w.returncode for w in workers] == [0, 0]
    # Between them the two processes wrote five alerts; neither wrote one the other had.
    assert sum(out.count("marshal.overdue") for out in outputs) == 5
    counted = run("shell", "-c", COUNT)
    assert counted.stdout.strip().splitlines()[-1] == "5", counted.stderr


@pytest.mark.django_db(transaction=True)
async def test_the_embedded_watch_delivers_overdue_live_without_any_other_process(cast):
    quiet = await database_sync_to_async(silent_marshal)(cast, minutes=60)
    organizer, _ = await connect_as(cast.organizer)
    fast = {**settings.FIELDOPS, "WATCH_EMBEDDED": True, "WATCH_INTERVAL_SECONDS": 1}
    with override_settings(FIELDOPS=fast):
        # What a worker's first connection does (daphne sends no lifespan event).
        application.start()
        try:
            assert application.task is not None
            frame = await organizer.receive_json_from(timeout=15)
            while frame["type"] != "marshal.overdue":
                frame = await organizer.receive_json_from(timeout=15)
            assert frame["data"]["participant"] == quiet.pk
        finally:
            await application.stop()
            await organizer.disconnect()
