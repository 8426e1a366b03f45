"""Telling the chat what happened, without holding up publishing.

A worker's publish task records the outcome and hands the report to a :class:`ReportRelay`, which tells the
conversation in the background and marks the deliveries reported in groups (one statement for the reports
that finish together). A slow chat (Slack lets a bot post about one message per second per channel) then
delays only its own reports, never the next publishes. If the worker dies before a report is told, the
delivery stays unreported and the dispatcher's straggler pass tells it
(``handlers.publishing.delivery.report_stragglers``). After its report, a settled post's approval card is
shown again with the outcome per target; the reports told together have their cards looked up together
(``handlers.publishing.delivery.refresh_cards``), so a post costs one card update, and a post without a card
(a burst scheduled by a script) a share of one query.

:class:`TellNow` tells inline, for the in-process queue and tests that read the chat right after a publish.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import structlog

from handlers.messages import Conversation, Reply
from handlers.ports import Clock, Notifier
from handlers.publishing import delivery
from tasks.batching import Coalescer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Report:
    claimed: delivery.Claimed
    reply: Reply


class Reports(Protocol):
    async def submit(self, report: Report) -> None:
        """Take ``report`` to tell; may return before it is told."""

    async def drain(self, within: float | None = None) -> None:
        """Wait until everything submitted has been told (or given up on)."""


class TellNow:
    def __init__(self, notifier: Notifier | None, clock: Clock) -> None:
        self._notifier = notifier
        self._clock = clock

    async def submit(self, report: Report) -> None:
        claimed = report.claimed
        await delivery.tell(self._notifier, claimed, report.reply, [claimed.delivery_id], now=self._clock.now())

    async def drain(self, within: float | None = None) -> None:
        return None


class ReportRelay:
    """Tells up to ``concurrency`` reports at once in the background; ``submit`` waits only when
    ``backlog`` reports are already waiting (back-pressure, so memory stays bounded).

    A report may wait long for its turn (a channel with a hundred posts takes a hundred seconds at Slack's
    pace). Every ``heartbeat`` seconds the relay touches the deliveries it still has to tell, so the
    straggler pass, which tells outcomes left untold for ``HERALD_REQUEUE_AFTER``, leaves them to this
    live worker; if the worker dies, the touches stop and the straggler pass takes over.
    """

    def __init__(
        self,
        notifier: Notifier | None,
        clock: Clock,
        *,
        concurrency: int = 256,
        backlog: int = 5000,
        heartbeat: float = 10.0,
    ) -> None:
        self._notifier = notifier
        self._clock = clock
        self._sending = asyncio.Semaphore(concurrency)
        self._room = asyncio.Semaphore(backlog)
        self._tasks: set[asyncio.Task[None]] = set()
        self._marks: Coalescer[int, None] = Coalescer(self._mark, max_batch=500)
        self._in_database: Coalescer[Report, None] = Coalescer(self._tell_in_database, max_batch=200)
        self._cards: Coalescer[int, None] = Coalescer(self._refresh_cards, max_batch=200)
        self._elsewhere: Coalescer[int, list[Conversation]] = Coalescer(self._shown_elsewhere, max_batch=200)
        self._heartbeat = heartbeat
        self._untold: set[int] = set()
        self._beating: asyncio.Task[None] | None = None

    async def submit(self, report: Report) -> None:
        await self._room.acquire()
        self._untold.add(report.claimed.delivery_id)
        if self._beating is None:
            self._beating = asyncio.create_task(self._beat())
        task = asyncio.create_task(self._tell(report))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _beat(self) -> None:
        while self._untold:
            await asyncio.sleep(self._heartbeat)
            try:
                await delivery.still_telling(sorted(self._untold), now=self._clock.now())
            except Exception:  # the next beat tries again; the straggler pass is the fallback
                log.exception("reports.heartbeat_failed", count=len(self._untold))
        self._beating = None

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.release()

    async def _tell(self, report: Report) -> None:
        try:
            told = await self._tell_once(report)
        finally:  # told and marked, or failed: either way no longer this worker's to keep fresh
            self._untold.discard(report.claimed.delivery_id)
        if told is None:
            return
        await self._tell_elsewhere(report)
        if told:  # the card after the report (this never raises)
            await self._cards(report.claimed.post_id)

    async def _tell_elsewhere(self, report: Report) -> None:
        """The report in the other chats showing the post's card (a member linked in two chats)."""
        if self._notifier is None:
            return
        try:
            shown = await self._elsewhere(report.claimed.post_id)
        except Exception:
            log.exception("notify.failed", post_id=report.claimed.post_id)
            return
        async with self._sending:
            await delivery.tell_elsewhere(self._notifier, report.claimed, report.reply, shown)

    async def _tell_once(self, report: Report) -> bool | None:
        """Tell and mark ``report``: None when it wasn't told (left to the straggler pass), else whether its
        post's card is still to be shown again (told directly; through the outbox the card went with it)."""
        claimed, notifier = report.claimed, self._notifier
        async with self._sending:
            if notifier is None:
                return None
            if claimed.origin is None or delivery.writes_to_database(notifier, claimed.origin):
                # nothing to send, or the outbox: written with their marks and cards, in one transaction for many
                try:
                    await self._in_database(report)
                except Exception:  # left unreported: the straggler pass tries again later
                    log.exception("notify.failed", post_id=claimed.post_id, delivery_id=claimed.delivery_id)
                    return None
                return False
            try:
                await notifier.notify(claimed.origin, report.reply)
            except Exception:  # left unreported: the straggler pass tries again later
                log.exception("notify.failed", post_id=claimed.post_id, delivery_id=claimed.delivery_id)
                return None
        try:
            await self._marks(claimed.delivery_id)
        except Exception:  # told but not marked: the straggler pass may tell it once more
            log.exception("report.mark_failed", post_id=claimed.post_id, delivery_id=claimed.delivery_id)
        return True

    async def _tell_in_database(self, reports: list[Report]) -> list[None]:
        assert self._notifier is not None
        told = [(report.claimed, report.reply) for report in reports]
        await delivery.tell_in_database(self._notifier, told, now=self._clock.now())
        return [None] * len(reports)

    async def _refresh_cards(self, post_ids: list[int]) -> list[None]:
        await delivery.refresh_cards(self._notifier, list(dict.fromkeys(post_ids)))
        return [None] * len(post_ids)

    async def _shown_elsewhere(self, post_ids: list[int]) -> list[list[Conversation]]:
        return await delivery.shown_elsewhere(post_ids)

    async def _mark(self, delivery_ids: list[int]) -> list[None]:
        await delivery.mark_reported(delivery_ids, now=self._clock.now())
        return [None] * len(delivery_ids)

    async def drain(self, within: float | None = None) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=within)
            if pending:
                log.warning("reports.undrained", count=len(pending))
