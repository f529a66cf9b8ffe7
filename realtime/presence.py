"""Which participants have a socket open on this worker, and when each was last heard.

Kept in memory: a frame costs one dict write, never a database trip. What it knows is written to
the database in one batch every PRESENCE_FLUSH_SECONDS (fieldops/services/presence.py), one row per
participant and worker, so any worker's watch can tell a phone that is connected but silent from a
phone that is gone.
"""

import os
import secrets
import socket
import time
from dataclasses import dataclass

# This worker's name in the presence rows: unique per process start, so a restarted worker's rows
# are new ones and its old ones go stale.
WORKER = f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class Heard:
    sockets: int
    last_heard: float  # time.time()


class PresenceBook:
    """Participant id → sockets open here and when last heard."""

    def __init__(self) -> None:
        self.people: dict[int, Heard] = {}

    def opened(self, participant_id: int) -> None:
        heard = self.people.setdefault(participant_id, Heard(0, 0.0))
        heard.sockets += 1
        heard.last_heard = time.time()

    def heard(self, participant_id: int) -> None:
        heard = self.people.get(participant_id)
        if heard is not None:
            heard.last_heard = time.time()

    def closed(self, participant_id: int) -> None:
        heard = self.people.get(participant_id)
        if heard is not None:
            heard.sockets = max(0, heard.sockets - 1)
            heard.last_heard = time.time()

    def take(self) -> list[tuple[int, int, float]]:
        """Every participant known here as (id, sockets, last heard); those with no socket left
        are reported this once and forgotten."""
        rows = [(pid, h.sockets, h.last_heard) for pid, h in self.people.items()]
        for pid, sockets, _ in rows:
            if not sockets:
                self.people.pop(pid, None)
        return rows

    def give_back(self, rows: list[tuple[int, int, float]]) -> None:
        """Rows `take` handed out that could not be written: those it forgot (no socket left) are
        kept again for the next take, unless the participant has opened a socket since."""
        for pid, sockets, heard in rows:
            if not sockets and pid not in self.people:
                self.people[pid] = Heard(0, heard)


BOOK = PresenceBook()
