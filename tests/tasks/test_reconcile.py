"""The reconciler and the worker's wait for the due time."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from bot.notifiers import OutboxNotifier
from handlers.ports import SystemClock
from models.accounts import SocialAccount
from models.lifecycle import DeliveryState, PostState
from models.members import Member
from models.outbox import OutboxMessage
from models.posts import Delivery, Post
from tasks.dispatcher import Dispatcher
from tasks.platforms import DryRunPublisher, Publishers
from tasks.publish import run_delivery
from tasks.runtime import Runtime
from tests.auxil.chat import FrozenClock


async def stuck_delivery(platform: str, claimed_ago: timedelta, now: datetime) -> int:
    author = await Member.create(name=f"a{uuid.uuid4().hex[:6]}", display_name="a")
    account = await SocialAccount.create(platform=platform, handle=f"acc{uuid.uuid4().hex[:6]}")
    post = await Post.create(
        author=author,
        text="hi",
        state=PostState.PUBLISHING.value,
        origin={"adapter": "shell", "channel": "t", "thread": None},
    )
    delivery = await Delivery.create(
        post=post,
        account=account,
        state=DeliveryState.PUBLISHING.value,
        due_at=now,
        idempotency_key=uuid.uuid4().hex,
        claimed_at=now - claimed_ago,
        attempts=1,
    )
    return delivery.id


async def test_stuck_on_an_idempotent_platform_is_retried(pg_db: str) -> None:
    clock = FrozenClock()
    delivery_id = await stuck_delivery("fake", timedelta(minutes=5), clock.now())
    fresh_id = await stuck_delivery("fake", timedelta(seconds=10), clock.now())  # still within its time
    sent: list[int] = []

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        sent.extend(did for did, _ in chunk)

    dispatcher = Dispatcher(
        enqueue, clock=clock, lead=0, stuck_after=120, idempotent=lambda p: p == "fake", notifier=OutboxNotifier()
    )
    await dispatcher.tick()
    assert sent == [delivery_id]
    assert (await Delivery.get(id=delivery_id)).state == DeliveryState.QUEUED
    assert (await Delivery.get(id=fresh_id)).state == DeliveryState.PUBLISHING


async def test_stuck_without_idempotency_asks_a_human(pg_db: str) -> None:
    clock = FrozenClock()
    delivery_id = await stuck_delivery("fake-nokey", timedelta(minutes=5), clock.now())
    sent: list[int] = []

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        sent.extend(did for did, _ in chunk)

    dispatcher = Dispatcher(
        enqueue, clock=clock, lead=0, stuck_after=120, idempotent=lambda p: p == "fake", notifier=OutboxNotifier()
    )
    await dispatcher.tick()
    assert sent == []
    row = await Delivery.get(id=delivery_id)
    assert row.state == DeliveryState.UNKNOWN
    [report] = await OutboxMessage.all()
    assert "may or may not have reached" in report.payload["text"]
    assert [b[0] for b in report.payload["buttons"]] == ["Verify", "Republish"]


async def test_worker_claims_early_and_publishes_at_the_due_time(pg_db: str) -> None:
    now = datetime.now(UTC)
    author = await Member.create(name="w", display_name="w")
    account = await SocialAccount.create(platform="dryrun", handle="demo")
    post = await Post.create(author=author, text="on time", state=PostState.SCHEDULED.value)
    due = now + timedelta(milliseconds=300)
    delivery = await Delivery.create(
        post=post, account=account, state=DeliveryState.QUEUED.value, due_at=due, idempotency_key="k"
    )
    publisher = DryRunPublisher()
    sent_at: list[datetime] = []
    original = publisher.publish

    async def timed(publication):  # type: ignore[no-untyped-def]
        sent_at.append(datetime.now(UTC))
        return await original(publication)

    publisher.publish = timed  # type: ignore[method-assign]
    runtime = Runtime(publishers=Publishers({}, fallback=publisher), notifier=OutboxNotifier(), clock=SystemClock())
    assert await run_delivery(runtime, delivery.id, due) == "published"
    lateness = (sent_at[0] - due).total_seconds()
    assert 0 <= lateness < 0.05, lateness
    assert (await Delivery.get(id=delivery.id)).claimed_at < due  # claimed before the wait


async def test_hot_path_claims_and_records_like_the_orm_path(pg_db: str) -> None:
    """On PostgreSQL the publish path runs as single statements; the outcome must be the same."""
    from models import hotpath
    from models.audit import AuditEntry

    assert hotpath.available()
    now = datetime.now(UTC)
    author = await Member.create(name="h", display_name="h")
    account = await SocialAccount.create(platform="dryrun", handle="demo", credentials='{"token": "t"}')
    single = await Post.create(author=author, text="one", state=PostState.SCHEDULED.value)
    cancelled = await Post.create(author=author, text="gone", state=PostState.CANCELLED.value)
    d1 = await Delivery.create(
        post=single, account=account, state=DeliveryState.QUEUED.value, due_at=now, idempotency_key="k1"
    )
    d2 = await Delivery.create(
        post=cancelled, account=account, state=DeliveryState.QUEUED.value, due_at=now, idempotency_key="k2"
    )
    runtime = Runtime(
        publishers=Publishers({}, fallback=DryRunPublisher()), notifier=OutboxNotifier(), clock=SystemClock()
    )
    assert await run_delivery(runtime, d1.id) == "published"
    assert await run_delivery(runtime, d1.id) == "skipped"  # a duplicate message does nothing
    assert await run_delivery(runtime, d2.id) == "skipped"  # the post was cancelled after queueing
    assert (await Post.get(id=single.id)).state == PostState.PUBLISHED
    assert (await Delivery.get(id=d1.id)).attempts == 1
    assert (await Delivery.get(id=d2.id)).state == DeliveryState.CANCELLED
    actions = await AuditEntry.filter(post_id=single.id).order_by("id").values_list("action", flat=True)
    assert list(actions) == ["delivery.published", "post.published"]


async def test_outcome_recorded_but_never_told_is_told_once_later(pg_db: str) -> None:
    """A worker died between recording the publish and telling the chat: the dispatcher tells it."""
    clock = FrozenClock()
    author = await Member.create(name="r", display_name="r")
    account = await SocialAccount.create(platform="dryrun", handle="demo")
    post = await Post.create(
        author=author,
        text="told?",
        state=PostState.PUBLISHED.value,
        origin={"adapter": "shell", "channel": "t", "thread": None},
    )
    delivery = await Delivery.create(
        post=post,
        account=account,
        state=DeliveryState.PUBLISHED.value,
        due_at=clock.now(),
        idempotency_key="k",
        url="https://x.invalid/1",
    )
    told_already = await Delivery.create(
        post=await Post.create(
            author=author,
            text="fine",
            state=PostState.PUBLISHED.value,
            origin={"adapter": "shell", "channel": "t", "thread": None},
        ),
        account=account,
        state=DeliveryState.PUBLISHED.value,
        due_at=clock.now(),
        idempotency_key="k2",
        url="https://x.invalid/2",
        reported_at=clock.now(),
    )

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        raise AssertionError("nothing to enqueue")

    dispatcher = Dispatcher(enqueue, clock=clock, lead=0, requeue_after=30, notifier=OutboxNotifier())
    await dispatcher.tick()
    assert await OutboxMessage.all().count() == 0  # too recent: the worker may still be telling it
    clock.advance(seconds=60)
    dispatcher._next_housekeeping = 0.0
    await dispatcher.tick()
    rows = await OutboxMessage.all()
    assert [r.payload["text"] for r in rows] == [
        f"Post {post.id} by @r published to demo (Dry run): https://x.invalid/1"
    ]
    assert (await Delivery.get(id=delivery.id)).reported_at is not None
    assert told_already.reported_at is not None
    dispatcher._next_housekeeping = 0.0
    await dispatcher.tick()
    assert await OutboxMessage.all().count() == 1  # told once


def test_the_wait_for_the_due_time_never_ends_early_on_the_workers_event_loop() -> None:
    """Workers run on uvloop, whose timers have millisecond resolution and may fire early."""
    import random

    import uvloop

    from tasks.publish import sleep_until

    async def main() -> list[float]:
        runtime = Runtime(publishers=Publishers({}, fallback=DryRunPublisher()), notifier=OutboxNotifier())
        lateness = []
        for _ in range(100):
            due = datetime.now(UTC) + timedelta(milliseconds=random.uniform(0.5, 4.0))
            await sleep_until(runtime, due)
            lateness.append((datetime.now(UTC) - due).total_seconds())
        return lateness

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        lateness = runner.run(main())
    assert min(lateness) >= 0, f"{sum(x < 0 for x in lateness)} of 100 woke early, by up to {-min(lateness):.4f} s"
    assert sorted(lateness)[98] < 0.02  # and on time
