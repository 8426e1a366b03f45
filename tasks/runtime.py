"""What a worker process holds while it runs: publishers, the notifier, the clock, retry rules."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from dataclasses import dataclass, field

from handlers.messages import Reply
from handlers.ports import Clock, Notifier, NullScheduler, Scheduler, SystemClock
from handlers.publishing import delivery
from handlers.publishing.delivery import Claimed, Outcome
from handlers.settings import DEFAULTS
from tasks.batching import Coalescer
from tasks.limits import LocalGate, RateGate
from tasks.platforms import Publishers
from tasks.platforms.media import Media
from tasks.reports import Reports, TellNow

#: Most deliveries one claim or record statement takes.
BATCH = 200
#: Deliveries a worker may hold claimed, per platform call it may make at once.
CLAIMABLE = 4


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the platform's Retry-After when it gives one."""

    max_attempts: int = 5
    base_seconds: float = 2.0
    cap_seconds: float = 900.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = random.uniform(0, min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1)))
        return max(backoff, retry_after or 0.0)


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Runtime:
    """``reports`` tells inline unless given (a worker process passes a :class:`~tasks.reports.ReportRelay`);
    ``claims`` and ``records`` group the claims and publish records of concurrent tasks into one statement;
    ``slots`` and ``claimable`` bound the platform calls and the claimed deliveries (:meth:`limit`); ``media``
    reads posts' media from the store, ``media.for_platform(rules)`` prepared for one platform (None: posts
    with media can't be published)."""

    publishers: Publishers
    notifier: Notifier
    clock: Clock = field(default_factory=SystemClock)
    scheduler: Scheduler = field(default_factory=NullScheduler)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    worker_id: str = field(default_factory=worker_name)
    reports: Reports | None = None
    gate: RateGate | None = None  # None: this process only, on the runtime's clock
    concurrency: int = DEFAULTS.worker_concurrency
    media: Media | None = None
    slots: asyncio.Semaphore = field(init=False)
    claimable: asyncio.Semaphore = field(init=False)
    claims: Coalescer[int, Claimed | None] = field(init=False)
    records: Coalescer[Outcome, Reply | None] = field(init=False)

    def __post_init__(self) -> None:
        if self.gate is None:
            self.gate = LocalGate(lambda: self.clock.now().timestamp())
        if self.reports is None:
            self.reports = TellNow(self.notifier, self.clock)
        self.limit(self.concurrency)
        self.claims = Coalescer(self._claim, max_batch=BATCH)
        self.records = Coalescer(self._record, max_batch=BATCH)

    def limit(self, concurrency: int) -> None:
        """At most ``concurrency`` platform calls at once, and ``CLAIMABLE`` times that many deliveries
        claimed and not finished (the claims of a burst still go to the database in large batches)."""
        self.concurrency = concurrency
        self.slots = asyncio.Semaphore(concurrency)
        self.claimable = asyncio.Semaphore(concurrency * CLAIMABLE)

    async def _claim(self, delivery_ids: list[int]) -> list[Claimed | None]:
        return await delivery.claim_many(delivery_ids, worker=self.worker_id, now=self.clock.now())

    async def _record(self, outcomes: list[Outcome]) -> list[Reply | None]:
        return await delivery.published(outcomes, now=self.clock.now())
