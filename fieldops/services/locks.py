"""A per-event write lock held from the journal write until its publish.

Holding it across commit *and* publish makes the channel layer carry an event's entries in sequence
order even when several workers write at once, so a client never sees seq 12 before 11 live.
PostgreSQL uses an advisory lock; SQLite (which several local workers may share) a file lock next to
the database; anything else a lock within the process.
"""

import fcntl
import threading
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

_local_locks: defaultdict[int, threading.RLock] = defaultdict(threading.RLock)
_held = threading.local()
_ADVISORY_NAMESPACE = 0x46_4F  # keeps our advisory keys apart from anyone else's


@contextmanager
def event_lock(event_id: int):
    held = getattr(_held, "events", None)
    if held is None:
        held = _held.events = set()
    if event_id in held:  # a nested write in the same thread already holds it
        yield
        return
    with _local_locks[event_id], _holding(held, event_id):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_ADVISORY_NAMESPACE, event_id])
            try:
                yield
            finally:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, event_id]
                    )
        elif connection.vendor == "sqlite" and (path := _sqlite_path()):
            handle = _lock_file(path)
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        else:
            yield


_files = threading.local()


def _lock_file(path: str):
    """This thread's open handle on the database's lock file. Each thread has its own: a flock
    belongs to an open file, so threads sharing one would not exclude each other."""
    handles = getattr(_files, "handles", None)
    if handles is None:
        handles = _files.handles = {}
    handle = handles.get(path)
    if handle is None:
        handle = handles[path] = open(path + ".journal-lock", "a")  # noqa: SIM115 - kept open
    return handle


_sqlite_dirs: set[str] = set()  # database directories seen to exist (asked at every write)


def _sqlite_path() -> str | None:
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    if name in _sqlite_dirs:
        return name
    if Path(name).parent.exists():
        _sqlite_dirs.add(name)
        return name
    return None


@contextmanager
def _holding(held: set, event_id: int):
    held.add(event_id)
    try:
        yield
    finally:
        held.discard(event_id)
