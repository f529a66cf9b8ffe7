"""Work that queues while the database thread is busy goes to it together, in one trip.

A worker has one database thread (channels' `database_sync_to_async`): while it carries out one
socket's action, every other socket's waits. A `Gather` hands what waited to the thread as one list,
so the work may share what each item would otherwise pay alone (for check-ins: the event's lock, a
transaction, its commit and the publish). Each trip waits until its oldest item has waited `linger`
seconds, for others to join it (a group commit, as databases do it): no item waits longer for
company than that, and under load the items that queued behind a trip go at once.
"""

import asyncio
from collections.abc import Callable
from weakref import WeakKeyDictionary

from channels.db import database_sync_to_async

MOST = 64  # items per trip: one trip holds the thread, and everything behind it, this long


class Gather:
    def __init__(self, run: Callable[[list], list], *, most: int = MOST, linger: float = 0.0):
        # run(items) -> one result per item, in order; a result that is an exception is raised
        # to that item's caller alone.
        self.run = run
        self.most = most
        self.linger = linger
        self.waiting: list[tuple[object, asyncio.Future]] = []
        self.oldest = 0.0  # when the first item now waiting arrived (the loop's clock)
        self.task: asyncio.Task | None = None

    async def submit(self, item):
        """Carry out `item` with whatever else is waiting; its result, or its exception."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self.waiting:
            self.oldest = loop.time()
        self.waiting.append((item, future))
        if self.task is None:
            self.task = loop.create_task(self._drain())
        return await future

    async def _drain(self):
        try:
            loop = asyncio.get_running_loop()
            while self.waiting:
                wait = self.oldest + self.linger - loop.time()
                if wait > 0 and len(self.waiting) < self.most:
                    await asyncio.sleep(wait)
                taken, self.waiting = self.waiting[: self.most], self.waiting[self.most :]
                self.oldest = 0.0  # those left over waited already: the next trip goes at once
                try:
                    results = await database_sync_to_async(self.run)([item for item, _ in taken])
                except Exception as exc:  # the whole trip failed: each caller hears why
                    results = [exc] * len(taken)
                for (_, future), result in zip(taken, results, strict=True):
                    if future.done():  # its caller went away; the work was done all the same
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.task = None


_gathers: WeakKeyDictionary = WeakKeyDictionary()  # event loop: {run: its Gather}


def gather_for(run: Callable[[list], list], *, linger: float = 0.0) -> Gather:
    """The running event loop's Gather for `run` (tests run one loop after another)."""
    per_loop = _gathers.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get(run)
    if found is None:
        found = per_loop[run] = Gather(run, linger=linger)
    found.linger = linger
    return found
