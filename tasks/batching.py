"""Group commit: many concurrent callers, one database statement.

A worker publishes dozens of deliveries at once; each needs a claim before its platform call and a record
after it. Run one statement per delivery and a burst costs thousands of round trips; a :class:`Coalescer`
lets each caller await its own result while the calls that arrive together (in the same turn of the event
loop, or while an earlier statement is running) go to the database as one batch::

    claims = Coalescer(lambda ids: delivery.claim_many(ids, ...), max_batch=200)
    claimed = await claims(delivery_id)     # one of the batch's results

At most ``max_inflight`` batches run at once; items that come in meanwhile wait and form the next batch, so
batches grow with the load and an idle worker still runs each call at once. A failed batch fails every
caller in it with the same exception (each caller decides whether to try again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
Flush = Callable[[list[T]], Awaitable[Sequence[R]]]


class Coalescer(Generic[T, R]):
    def __init__(self, flush: Flush[T, R], *, max_batch: int = 200, max_inflight: int = 2) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._max_inflight = max_inflight
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._inflight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # statements run, for tests and logs

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        # next loop turn: everyone woken in this turn joins the batch
        if not self._scheduled and self._pending and self._inflight < self._max_inflight:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        while self._pending and self._inflight < self._max_inflight:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            batch = [(item, future) for item, future in batch if not future.cancelled()]
            if batch:
                self._inflight += 1
                task = asyncio.ensure_future(self._run(batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self.batches += 1
            self._inflight -= 1
            self._schedule()
