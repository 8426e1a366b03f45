"""The dispatcher: hands deliveries to the queue as they come due, and keeps the schedule honest.

PostgreSQL is the source of truth. Each tick, in transactions that lock their rows with
``FOR UPDATE SKIP LOCKED`` (so several dispatchers can run at once, and each row is handled by one):

* deliveries due within the next ``lead`` move ``scheduled → queued`` and are enqueued with their
  due time; the worker claims them at once and waits for the exact due time before calling the
  platform, so queue and database latency don't make posts late. Those due within a fifth of the lead
  after them (:data:`COALESCE`) go along, so at a steady rate the dispatcher wakes at most ten times a
  second (at the default lead of 0.5 s) instead of once per due time;
* deliveries that came due more than ``grace`` ago (Herald was down) become ``missed`` instead, and
  the author is asked what to do;
* deliveries left ``queued`` longer than ``requeue_after`` (a lost queue message) are enqueued again,
  and deliveries stuck in ``publishing`` longer than ``stuck_after`` (a worker died mid-publish) are
  handed to the reconciler, which retries them where the platform takes an idempotency key and
  otherwise asks a human;
* due timers (approval expiry, reminders, recurrences) fire once.

Between ticks it sleeps until the earliest thing due (one indexed lookup per table, however many
future posts are stored), at most ``max_sleep``, or until :meth:`scheduled` says something sooner
came in. What that look found also spares a tick the statements with nothing to do: timers are looked
for only once one is due, missed deliveries only once one is older than ``grace``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from tortoise.transactions import in_transaction

from handlers.ports import Clock, Notifier, SystemClock
from handlers.publishing import delivery as deliveries
from handlers.settings import DEFAULTS
from models.lifecycle import DeliveryState, Move, move_deliveries
from models.posts import Delivery
from models.timers import Timer

log = structlog.get_logger(__name__)
#: Puts one queue message on the queue for these deliveries (id, due time).
Enqueue = Callable[[list[tuple[int, datetime]]], Awaitable[None]]
OnTimer = Callable[[Timer], Awaitable[None]]
IsIdempotent = Callable[[str], bool]
SEND_CONCURRENCY = 64
#: Most deliveries one queue message carries. A burst of 10,000 is 400 messages, not 10,000: the per-message
#: work (queue round trips, the worker's intake) is shared, and a worker claims a message's deliveries at once.
CHUNK = 25
#: When the dispatcher wakes for the deliveries due within ``lead``, it also takes those due up to this share
#: of ``lead`` later: they are enqueued a little earlier and wait at the worker, which publishes each at its
#: exact due time. At 40 posts a second, each due at its own instant, the dispatcher woke about 45 times a
#: second and spent a sixth of a core on it (a tick is a handful of statements, ~5 ms of CPU); it now wakes
#: about 8 times and uses 4% (bench/steady.py).
COALESCE = 0.2


class Dispatcher:
    def __init__(
        self,
        enqueue: Enqueue,
        *,
        clock: Clock | None = None,
        batch: int = 500,
        max_sleep: float = DEFAULTS.dispatch_interval,
        lead: float = DEFAULTS.dispatch_lead_seconds,
        grace: float = DEFAULTS.missed_grace_seconds,
        requeue_after: float = DEFAULTS.requeue_after_seconds,
        stuck_after: float = DEFAULTS.stuck_after_seconds,
        on_timer: OnTimer | None = None,
        notifier: Notifier | None = None,
        idempotent: IsIdempotent | None = None,
    ) -> None:
        self._enqueue = enqueue
        self._clock = clock or SystemClock()
        self._batch = batch
        self._max_sleep = max_sleep
        self._lead = timedelta(seconds=lead)
        self._horizon = self._lead * (1 + COALESCE)
        self._grace = timedelta(seconds=grace)
        self._requeue_after = timedelta(seconds=requeue_after)
        self._stuck_after = timedelta(seconds=stuck_after)
        self._on_timer = on_timer
        self._notifier = notifier
        self._idempotent = idempotent or (lambda platform: False)
        self._wake = asyncio.Event()
        self._next_housekeeping = 0.0
        # what the last look (next_due) found due first, if it looked since anything was scheduled here
        self._looked = False
        self._first_delivery: datetime | None = None
        self._first_timer: datetime | None = None

    async def scheduled(self, due_at: datetime) -> None:
        """:class:`handlers.ports.Scheduler`: something became due at ``due_at``; look again now."""
        self._looked = False
        self._wake.set()

    async def tick(self) -> int:
        """Do everything that is due now; returns how many deliveries and timers were handled."""
        now = self._clock.now()
        total = 0
        if not self._looked or (self._first_delivery is not None and self._first_delivery < now - self._grace):
            total += await self._mark_missed(now)
        while True:
            due = await self._take_due(now)
            # a batch goes out concurrently (a burst is not thousands of round trips in a row), at most
            # SEND_CONCURRENCY at a time: redis-py fails fast past its per-node connection limit
            await self._send_all(due)
            total += len(due)
            if len(due) < self._batch:
                break
        if self._on_timer is not None and (
            not self._looked or (self._first_timer is not None and self._first_timer <= now)
        ):
            total += await self._fire_timers(now)
        if time.monotonic() >= self._next_housekeeping:
            self._next_housekeeping = time.monotonic() + min(self._requeue_after, self._stuck_after).total_seconds() / 3
            total += await self._requeue_stale(now)
            total += await self._reconcile_stuck(now)
            total += await deliveries.report_stragglers(
                notifier=self._notifier, now=now, older_than=self._requeue_after, batch=self._batch
            )
        return total

    async def _take_due(self, now: datetime) -> list[tuple[int, datetime]]:
        async with in_transaction():
            # NB: tortoise drops FOR UPDATE from values_list() queries; only() keeps it. Deliveries older than
            # the grace are _mark_missed's, even when it hasn't run yet.
            rows = await (
                Delivery.filter(
                    state=DeliveryState.SCHEDULED.value,
                    due_at__gte=now - self._grace,
                    due_at__lte=now + self._horizon,
                )
                .order_by("due_at")
                .limit(self._batch)
                .select_for_update(skip_locked=True)
                .only("id", "due_at")
            )
            if rows:
                await move_deliveries(Move.ENQUEUE, {"id__in": [r.id for r in rows]}, queued_at=now)
        return [(row.id, row.due_at or now) for row in rows]

    async def _mark_missed(self, now: datetime) -> int:
        async with in_transaction():
            rows = await (
                Delivery.filter(state=DeliveryState.SCHEDULED.value, due_at__lt=now - self._grace)
                .limit(self._batch)
                .select_for_update(skip_locked=True)
                .only("id")
            )
            ids = [row.id for row in rows]
            if ids:
                await move_deliveries(Move.MISS, {"id__in": ids})
        if ids:
            log.warning("dispatch.missed", count=len(ids), grace_s=self._grace.total_seconds())
            await deliveries.missed(ids, notifier=self._notifier, grace=self._grace)
        return len(ids)

    async def _send_all(self, due: list[tuple[int, datetime]]) -> None:
        """Enqueue ``due`` (in due order) as messages of up to ``CHUNK`` deliveries, concurrently."""
        gate = asyncio.Semaphore(SEND_CONCURRENCY)

        async def send(chunk: list[tuple[int, datetime]]) -> None:
            async with gate:
                await self._send(chunk)

        await asyncio.gather(*(send(due[i : i + CHUNK]) for i in range(0, len(due), CHUNK)))

    async def _send(self, chunk: list[tuple[int, datetime]]) -> None:
        try:
            await self._enqueue(chunk)
        except Exception:
            # The rows stay queued; _requeue_stale sends them again once the queue is back.
            log.exception("dispatch.enqueue_failed", delivery_ids=[delivery_id for delivery_id, _ in chunk])

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

    async def _requeue_stale(self, now: datetime) -> int:
        cutoff = now - self._requeue_after
        async with in_transaction():
            rows = await (
                Delivery.filter(state=DeliveryState.QUEUED.value, queued_at__lt=cutoff)
                .limit(self._batch)
                .select_for_update(skip_locked=True)
                .only("id", "due_at")
            )
            late = [r.id for r in rows if r.due_at is not None and r.due_at < now - self._grace]
            rows = [r for r in rows if r.id not in late]
            if late:  # queued before an outage that outlasted the grace window
                await move_deliveries(Move.MISS, {"id__in": late})
            if rows:
                await Delivery.filter(id__in=[r.id for r in rows]).update(queued_at=now)
        if late:
            await deliveries.missed(late, notifier=self._notifier, grace=self._grace)
        for row in rows:
            log.warning("dispatch.requeued", delivery_id=row.id)
        await self._send_all([(row.id, row.due_at or now) for row in rows])
        return len(rows)

    async def _reconcile_stuck(self, now: datetime) -> int:
        """Deliveries a worker claimed and never finished (it died): retry safely or ask a human."""
        cutoff = now - self._stuck_after
        async with in_transaction():
            rows = await (
                Delivery.filter(state=DeliveryState.PUBLISHING.value, claimed_at__lt=cutoff)
                .limit(self._batch)
                .select_for_update(skip_locked=True)
                .prefetch_related("account")
            )
            retry = [r for r in rows if self._idempotent(r.account.platform)]
            if retry:
                await move_deliveries(Move.REQUEUE, {"id__in": [r.id for r in retry]}, queued_at=now)
        for row in retry:
            log.warning("reconcile.retry", delivery_id=row.id, post_id=row.post_id)  # type: ignore[attr-defined]
        await self._send_all([(row.id, now) for row in retry])
        for row in rows:
            if row not in retry:
                log.warning("reconcile.unknown", delivery_id=row.id, post_id=row.post_id)  # type: ignore[attr-defined]
                await deliveries.abandoned(row.id, notifier=self._notifier, now=now)
        return len(rows)

    async def next_due(self) -> datetime | None:
        """When the dispatcher must look next: ``lead`` before the earliest delivery is due, or when the earliest
        timer is; one indexed lookup each."""
        delivery = await (
            Delivery.filter(state=DeliveryState.SCHEDULED.value, due_at__isnull=False)
            .order_by("due_at")
            .first()
            .values_list("due_at", flat=True)
        )
        self._first_delivery = delivery  # type: ignore[assignment]
        times: list[datetime] = [delivery - self._lead] if delivery is not None else []  # type: ignore[operator,list-item]
        if self._on_timer is not None:
            timer = (
                await Timer.filter(fired_at__isnull=True).order_by("run_at").first().values_list("run_at", flat=True)
            )
            self._first_timer = timer  # type: ignore[assignment]
            if timer is not None:
                times.append(timer)  # type: ignore[arg-type]
        self._looked = True
        return min(times) if times else None

    async def run(self, stop: asyncio.Event) -> None:
        log.info("dispatcher.started", lead_ms=self._lead.total_seconds() * 1000)
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
