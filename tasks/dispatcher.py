"""The dispatcher: hands deliveries to the queue when they come due.

PostgreSQL is the source of truth. A delivery moves ``scheduled → queued`` in a transaction that
locks its row (``FOR UPDATE SKIP LOCKED``), so several dispatchers can run at once and each due
delivery is enqueued by one of them. The loop sleeps until the earliest due time (one indexed
query, whatever the number of future posts), or until :meth:`scheduled` says something sooner came
in. Deliveries left ``queued`` for longer than ``requeue_after`` (a lost queue message) are
enqueued again; the worker's claim makes the duplicate harmless.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from tortoise.transactions import in_transaction

from handlers.ports import Clock, SystemClock
from models.lifecycle import DeliveryState
from models.posts import Delivery
from models.timers import Timer

log = structlog.get_logger(__name__)
Enqueue = Callable[[int], Awaitable[None]]
OnTimer = Callable[[Timer], Awaitable[None]]


class Dispatcher:
    def __init__(
        self,
        enqueue: Enqueue,
        *,
        clock: Clock | None = None,
        batch: int = 500,
        max_sleep: float = 0.5,
        requeue_after: float = 30.0,
        on_timer: OnTimer | None = None,
    ) -> None:
        self._enqueue = enqueue
        self._clock = clock or SystemClock()
        self._batch = batch
        self._max_sleep = max_sleep
        self._requeue_after = timedelta(seconds=requeue_after)
        self._on_timer = on_timer
        self._wake = asyncio.Event()
        self._next_requeue_check = 0.0

    async def scheduled(self, due_at: datetime) -> None:
        """:class:`handlers.ports.Scheduler`: something became due at ``due_at``; look again now."""
        self._wake.set()

    async def tick(self) -> int:
        """Enqueue every delivery due now; returns how many were enqueued."""
        total = 0
        while True:
            ids = await self._take_due(self._clock.now())
            for delivery_id in ids:
                await self._send(delivery_id)
            total += len(ids)
            if len(ids) < self._batch:
                break
        if self._on_timer is not None:
            total += await self._fire_timers(self._clock.now())
        if time.monotonic() >= self._next_requeue_check:
            self._next_requeue_check = time.monotonic() + self._requeue_after.total_seconds() / 3
            total += await self._requeue_stale()
        return total

    async def _take_due(self, now: datetime) -> list[int]:
        async with in_transaction():
            # NB: tortoise drops FOR UPDATE from values_list() queries; only() keeps it.
            rows = await (
                Delivery.filter(state=DeliveryState.SCHEDULED.value, due_at__lte=now)
                .order_by("due_at")
                .limit(self._batch)
                .select_for_update(skip_locked=True)
                .only("id")
            )
            ids = [row.id for row in rows]
            if ids:
                await Delivery.filter(id__in=ids).update(state=DeliveryState.QUEUED.value, queued_at=now)
        return ids

    async def _fire_timers(self, now: datetime) -> int:
        """Fire every due timer once (claimed like deliveries); a failing timer is logged, not retried."""
        assert self._on_timer is not None
        async with in_transaction():
            due = await (
                Timer.filter(fired_at__isnull=True, run_at__lte=now)
                .order_by("run_at")
                .limit(self._batch)
                .select_for_update(skip_locked=True)
            )
            if due:
                await Timer.filter(id__in=[t.id for t in due]).update(fired_at=now)
        for timer in due:
            try:
                await self._on_timer(timer)
            except Exception:
                log.exception("timer.failed", timer_id=timer.id, kind=timer.kind, post_id=timer.post_id)
        return len(due)

    async def _send(self, delivery_id: int) -> None:
        try:
            await self._enqueue(delivery_id)
        except Exception:
            # The row stays queued; _requeue_stale sends it again once the queue is back.
            log.exception("dispatch.enqueue_failed", delivery_id=delivery_id)
        else:
            log.debug("dispatch.enqueued", delivery_id=delivery_id)

    async def _requeue_stale(self) -> int:
        now = self._clock.now()
        cutoff = now - self._requeue_after
        async with in_transaction():
            rows = await (
                Delivery.filter(state=DeliveryState.QUEUED.value, queued_at__lt=cutoff)
                .limit(self._batch)
                .select_for_update(skip_locked=True)
                .only("id")
            )
            ids = [row.id for row in rows]
            if ids:
                await Delivery.filter(id__in=ids).update(queued_at=now)
        for delivery_id in ids:
            log.warning("dispatch.requeued", delivery_id=delivery_id)
            await self._send(delivery_id)
        return len(ids)

    async def next_due(self) -> datetime | None:
        """The earliest time anything (a delivery, a timer) comes due; one indexed lookup each."""
        delivery = await (
            Delivery.filter(state=DeliveryState.SCHEDULED.value, due_at__isnull=False)
            .order_by("due_at")
            .first()
            .values_list("due_at", flat=True)
        )
        times: list[datetime] = [delivery] if delivery is not None else []  # type: ignore[list-item]
        if self._on_timer is not None:
            timer = (
                await Timer.filter(fired_at__isnull=True).order_by("run_at").first().values_list("run_at", flat=True)
            )
            if timer is not None:
                times.append(timer)  # type: ignore[arg-type]
        return min(times) if times else None

    async def run(self, stop: asyncio.Event) -> None:
        log.info("dispatcher.started")
        while not stop.is_set():
            try:
                await self.tick()
                sleep = self._max_sleep
                upcoming = await self.next_due()
                if upcoming is not None:
                    sleep = min(sleep, max(0.0, (upcoming - self._clock.now()).total_seconds()))
            except Exception:
                log.exception("dispatcher.tick_failed")
                sleep = self._max_sleep
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            _, pending = await asyncio.wait(waiters, timeout=sleep, return_when=asyncio.FIRST_COMPLETED)
            for waiter in pending:
                waiter.cancel()
        log.info("dispatcher.stopped")
