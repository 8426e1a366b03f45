"""Publishing one delivery: claim it, call its platform's publisher, record and report the outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import structlog
from taskiq import AsyncBroker, Context, TaskiqDepends
from tortoise.exceptions import DBConnectionError, OperationalError, TransactionManagementError

from handlers.messages import Reply
from handlers.publishing import delivery, holds
from handlers.text.platforms import PLATFORMS
from models.accounts import AccountStatus
from models.progress import StoredProgress
from tasks import tokens
from tasks.platforms.base import ABSENT, Client, Credentials, Publication, Published, Verdict
from tasks.platforms.errors import AuthExpired, OutcomeUnknown, Permanent, PlatformError, RateLimited, Transient
from tasks.platforms.http import LIMITS
from tasks.reports import Report
from tasks.runtime import Runtime

log = structlog.get_logger(__name__)
TASK_NAME = "herald.publish_deliveries"
SINGLE_TASK_NAME = "herald.publish_delivery"  # one delivery per message: still read, for messages queued by
# a dispatcher from before messages carried several (a rolling upgrade)


T = TypeVar("T")
# What a dropped or restarted database connection looks like from tortoise/asyncpg.
DB_TRANSIENT = (
    asyncpg.exceptions.InternalClientError,  # "cannot switch to state …" on a connection killed mid-query
    TransactionManagementError,
    OperationalError,
    DBConnectionError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
)
DB_ATTEMPTS = 12
#: A token this close to its expiry is refreshed before the call rather than after a refusal.
REFRESH_AHEAD = timedelta(minutes=5)
#: A post put back by at least this many seconds (a platform's limit) is announced with its new time.
POSTPONE_TOLD = 60.0


def platform_label(name: str) -> str:
    info = PLATFORMS.get(name)
    return info.label if info else name


async def with_db_retry(what: str, op: Callable[[], Awaitable[T]], *, delivery_id: int) -> T:
    """Run a database step again when its connection was lost (every step here is a conditional,
    idempotent update, so running it twice is harmless)."""
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            return await op()
        except DB_TRANSIENT as exc:
            if attempt == DB_ATTEMPTS:
                raise
            delay = min(2.0, 0.05 * 2**attempt)
            log.warning("db.retry", step=what, attempt=attempt, delivery_id=delivery_id, error=type(exc).__name__)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def run_delivery(rt: Runtime, delivery_id: int, due_at: datetime | None = None) -> str:
    """Publish delivery ``delivery_id`` at most once, not before ``due_at``; returns what happened.

    The claim happens first (so a duplicate message is a no-op and the database work is out of the
    way), then the worker waits for the exact due time, then calls the platform. At most
    ``rt.claimable`` deliveries are claimed and unfinished in a worker at once, so one that dies leaves at
    most that many whose fate the reconciler must judge (the rest are still queued, redone from the queue);
    at most ``rt.concurrency`` platform calls run at once.
    """
    async with rt.claimable:
        return await _run_delivery(rt, delivery_id, due_at)


async def sleep_until(rt: Runtime, due_at: datetime) -> None:
    """Return at ``due_at`` by the runtime's clock, never before: the event loop's timers may fire up to a
    millisecond early (uvloop's have millisecond resolution), so check and sleep the rest again."""
    wait = (due_at - rt.clock.now()).total_seconds()
    while wait > 0:
        await asyncio.sleep(wait)
        wait = (due_at - rt.clock.now()).total_seconds()


async def _run_delivery(rt: Runtime, delivery_id: int, due_at: datetime | None) -> str:
    claimed = await with_db_retry("claim", lambda: rt.claims(delivery_id), delivery_id=delivery_id)
    if claimed is None:
        log.info("delivery.skipped", delivery_id=delivery_id, reason="not queued (done, taken or cancelled)")
        return "skipped"
    if due_at is not None:
        await sleep_until(rt, due_at)
    client = rt.publishers.for_platform(claimed.platform)
    if client is None:
        return await _failed(rt, claimed, f"Herald can't publish to {claimed.platform} yet.")
    label = platform_label(claimed.platform)
    if claimed.account_status == AccountStatus.RECONNECT:
        return await _hold(rt, claimed, f"{label} refused this account and it hasn't been reconnected yet.")
    assert rt.gate is not None
    wait = await rt.gate.wait(claimed.platform, claimed.account_id)
    if wait:
        return await _postpone(rt, claimed, wait, f"{label} asked Herald to wait before posting to it again.")
    publication = Publication(
        post_id=claimed.post_id,
        delivery_id=claimed.delivery_id,
        handle=claimed.handle,
        text=claimed.text,
        media=claimed.media,
        credentials=Credentials.from_json(claimed.credentials),
        idempotency_key=claimed.idempotency_key,
        progress=StoredProgress(claimed.delivery_id),
        media_source=rt.media.for_platform(PLATFORMS[claimed.platform]) if claimed.media and rt.media else None,
        account_id=claimed.account_id,
    )
    spent: list[float] = []
    LIMITS.set(spent)  # this delivery's own task: what the platform's headers say about the account's window
    try:
        async with rt.slots:
            result = await _publish(rt, client, claimed, publication)
    except RateLimited as exc:
        if exc.retry_after:
            await rt.gate.block(claimed.platform, None if exc.app_wide else claimed.account_id, exc.retry_after)
            return await _postpone(rt, claimed, exc.retry_after, str(exc))
        return await _transient(rt, claimed, str(exc), None)
    except Transient as exc:
        return await _transient(rt, claimed, str(exc), exc.retry_after)
    except AuthExpired as exc:
        return await _hold(rt, claimed, str(exc))
    except Permanent as exc:
        return await _failed(rt, claimed, str(exc))
    except OutcomeUnknown as exc:
        if client.idempotent:
            return await _transient(rt, claimed, str(exc), None)
        found = await _verify(client, publication)
        if found is None:
            return await _failed(rt, claimed, str(exc), unknown=True)
        if found == ABSENT:  # the platform shows it didn't happen: the next attempt verifies again first
            return await _transient(rt, claimed, str(exc), None)
        result = found
    except Exception:
        # A bug in a client: we can't tell whether the request went out.
        log.exception("publisher.crashed", post_id=claimed.post_id, delivery_id=delivery_id)
        reason = "Herald hit an unexpected error while publishing."
        if client.idempotent:
            return await _transient(rt, claimed, reason, None)
        return await _failed(rt, claimed, reason, unknown=True)
    if spent:  # the call used up the account's window: the next post waits for its reset, not for a refusal
        await rt.gate.block(claimed.platform, claimed.account_id, max(spent))
    outcome = delivery.Outcome(claimed, external_id=result.external_id, url=result.url)
    reply = await with_db_retry("record", lambda: rt.records(outcome), delivery_id=delivery_id)
    if reply is None:
        return "stale"
    await _report(rt, claimed, reply)
    return "published"


async def _publish(rt: Runtime, client: Client, claimed: delivery.Claimed, publication: Publication) -> Published:
    """The platform call, with the account's token refreshed first when it is about to expire, and once more
    (then the call again) when the platform refuses it. Raises the platform's errors; ``AuthExpired`` means the
    token was refused and couldn't be refreshed: someone must reconnect the account."""
    credentials = publication.credentials
    expiring = credentials.expires_at is not None and credentials.expires_within(REFRESH_AHEAD, rt.clock.now())
    if expiring and client.renewable(credentials):
        publication = replace(publication, credentials=await tokens.refresh(client, claimed.account_id, credentials))
    wait = await client.wait_before(publication)
    if wait:
        raise RateLimited(f"{platform_label(claimed.platform)}'s publishing limit for this account is used up.", wait)
    try:
        return await client.publish(publication)
    except AuthExpired:
        fresh = await tokens.refresh(client, claimed.account_id, publication.credentials)
        log.info("token.refreshed_after_refusal", post_id=claimed.post_id, account=claimed.handle)
        return await client.publish(replace(publication, credentials=fresh))


async def _verify(client: Client, publication: Publication) -> Verdict:
    """Look at the platform after an unknown outcome; None (a human decides) when even that fails."""
    try:
        verdict = await client.verify(publication)
    except PlatformError as exc:
        log.info("delivery.verify_failed", post_id=publication.post_id, error=str(exc))
        return None
    log.info("delivery.verified", post_id=publication.post_id, found=isinstance(verdict, Published), verdict=verdict)
    return verdict


async def _hold(rt: Runtime, claimed: delivery.Claimed, reason: str) -> str:
    held = await with_db_retry(
        "hold", lambda: holds.park(claimed, reason=reason, notifier=rt.notifier), delivery_id=claimed.delivery_id
    )
    return "held" if held else "stale"


async def _postpone(rt: Runtime, claimed: delivery.Claimed, seconds: float, reason: str) -> str:
    """The platform said when it will take the post: put it back for then without counting an attempt, and tell
    the author when it goes if that is more than a minute away."""
    at = rt.clock.now() + timedelta(seconds=seconds)
    await delivery.retry_later(claimed, reason=reason, at=at, counts=False)
    await rt.scheduler.scheduled(at)
    if seconds >= POSTPONE_TOLD and claimed.origin is not None:
        when = at.strftime("%a %d %b %H:%M UTC")
        reply = Reply(
            text=f"{claimed.subject} goes to {claimed.handle} at {when} instead: {reason}",
            post_id=claimed.post_id,
            kind="report",
            mentions=claimed.mentions,
        )
        try:
            await rt.notifier.notify(claimed.origin, reply)
        except Exception:
            log.exception("notice.failed", post_id=claimed.post_id)
        await delivery.tell_other_chats(rt.notifier, claimed, reply)
    return "postponed"


async def _failed(rt: Runtime, claimed: delivery.Claimed, reason: str, *, unknown: bool = False) -> str:
    reply = await with_db_retry(
        "record", lambda: delivery.failed(claimed, reason=reason, unknown=unknown), delivery_id=claimed.delivery_id
    )
    if reply is None:
        return "stale"
    await _report(rt, claimed, reply)
    return "unknown" if unknown else "failed"


async def _report(rt: Runtime, claimed: delivery.Claimed, reply: Reply) -> None:
    assert rt.reports is not None
    await rt.reports.submit(Report(claimed, reply))


async def _transient(rt: Runtime, claimed: delivery.Claimed, reason: str, retry_after: float | None) -> str:
    if claimed.attempt >= rt.retry.max_attempts:
        return await _failed(rt, claimed, f"{reason} (gave up after {claimed.attempt} attempts)")
    at = rt.clock.now() + timedelta(seconds=rt.retry.delay(claimed.attempt, retry_after))
    await delivery.retry_later(claimed, reason=reason, at=at)
    await rt.scheduler.scheduled(at)
    return "retry"


async def run_deliveries(rt: Runtime, items: list[tuple[int, datetime | None]]) -> list[str]:
    """Publish one queue message's deliveries concurrently, each at its own due time; what happened to each.

    A delivery that crashed (the database gone for longer than the retries) is logged and left as it is,
    without holding up the others: still queued (the dispatcher enqueues it again after
    ``HERALD_REQUEUE_AFTER``) or publishing (the reconciler's, after twice the task timeout).
    """

    async def one(delivery_id: int, due_at: datetime | None) -> str:
        try:
            return await run_delivery(rt, delivery_id, due_at)
        except Exception:
            log.exception("delivery.crashed", delivery_id=delivery_id)
            return "error"

    return list(await asyncio.gather(*(one(delivery_id, due) for delivery_id, due in items)))


def register(broker: AsyncBroker) -> Any:
    """Register the publish tasks on ``broker``; the worker puts a :class:`Runtime` in ``broker.state``.
    Returns the one the dispatcher sends (a message of several deliveries)."""

    async def publish_deliveries(
        items: list[tuple[int, str | None]], context: Context = TaskiqDepends()
    ) -> dict[str, int]:
        runtime: Runtime = context.state.runtime
        outcomes = await run_deliveries(
            runtime, [(int(d), datetime.fromisoformat(due) if due else None) for d, due in items]
        )
        counts = {outcome: outcomes.count(outcome) for outcome in set(outcomes)}
        log.info("task.done", task=TASK_NAME, deliveries=len(items), outcomes=counts)
        return counts

    async def publish_delivery(delivery_id: int, due_at: str | None = None, context: Context = TaskiqDepends()) -> str:
        runtime: Runtime = context.state.runtime
        due = datetime.fromisoformat(due_at) if due_at else None
        outcome = await run_delivery(runtime, delivery_id, due)
        log.info("task.done", task=SINGLE_TASK_NAME, delivery_id=delivery_id, outcome=outcome)
        return outcome

    broker.register_task(publish_delivery, task_name=SINGLE_TASK_NAME)
    return broker.register_task(publish_deliveries, task_name=TASK_NAME)
