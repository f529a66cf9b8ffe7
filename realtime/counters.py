"""Delivery counters of one worker, for an operator: logged when they change (docs/deployment.md).

Increments come from the event loop and from the publisher and database threads, so each takes a
lock; they happen on faults, not per delivery, so the lock is never on the hot path.
"""

import logging
import threading
import time

log = logging.getLogger("realtime.counters")

NAMES = (
    "publishes_failed",  # entries or revocations Redis did not take (they are repaired)
    "gaps_repaired",  # times a hub went to the journal for entries it missed
    "entries_from_database",  # entries a hub delivered from the journal, not from Redis
    "sockets_behind",  # sockets closed for not reading (CLOSE_BEHIND)
    "sockets_refused",  # sockets refused over the per-credential cap (CLOSE_TOO_MANY)
)


class Tally:
    """A counter that only the event loop's thread adds to: `TALLY.value += n`, nothing else (no
    lock: one is added per delivery)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


# Entries written to sockets live, one per socket (realtime/delivery.py; read by the metrics).
DELIVERIES = Tally()

_lock = threading.Lock()
_values = dict.fromkeys(NAMES, 0)
_logged: dict[str, int] = dict(_values)
_logged_at = 0.0
LOG_EVERY_SECONDS = 60.0


def add(name: str, amount: int = 1) -> None:
    with _lock:
        _values[name] += amount


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_values)


def log_if_changed(*, now: float | None = None, force: bool = False) -> None:
    """One log line with every counter, at most once a minute, and only when one moved."""
    global _logged, _logged_at
    now = time.monotonic() if now is None else now
    values = snapshot()
    if values == _logged or (not force and now - _logged_at < LOG_EVERY_SECONDS):
        return
    _logged, _logged_at = values, now
    log.warning("delivery counters: %s", " ".join(f"{k}={v}" for k, v in values.items()))
