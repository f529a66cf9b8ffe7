"""Work that queues while the database thread is busy goes to it together, in one trip.

A worker has one database thread (channels' `database_sync_to_async`): while it carries out one
socket's action, every other socket's waits. A `Gather` hands what waited to the thread as one list,
so the work may share what each item would otherwise pay alone (for check-ins: the event's lock, a
transaction, its commit and the publish). An item that finds the thread idle goes at once: nothing
waits for a batch to fill.
"""

import asyncio
from collections.abc import Callable
from weakref import WeakKeyDictionary

from channels.db import database_sync_to_async

MOST = 64  # items per trip: one trip holds the thread, and everything behind it, this long


class Gather:
    def __init__(self, run: Callable[[list], list], *, most: int = MOST):
        # run(items) -> one result per item, in order; a result that is an exception is raised
        # to that item's caller alone.
        self.run = run
        self.most = most
        self.waiting: list[tuple[object, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def submit(self, item):
        """Carry out `item` with whatever else is waiting; its result, or its exception."""
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self):
        try:
            while self.waiting:
                taken, self.waiting = self.waiting[: self.most], self.waiting[self.most :]
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


def gather_for(run: Callable[[list], list]) -> Gather:
    """The running event loop's Gather for `run` (tests run one loop after another)."""
    per_loop = _gathers.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get(run)
    if found is None:
        found = per_loop[run] = Gather(run)
    return found
