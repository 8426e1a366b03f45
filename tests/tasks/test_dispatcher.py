"""The dispatcher on PostgreSQL: due deliveries are enqueued once, even with several dispatchers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from models.accounts import SocialAccount
from models.lifecycle import DeliveryState, PostState
from models.members import Member
from models.posts import Delivery, Post
from tasks.dispatcher import CHUNK, Dispatcher
from tests.auxil.chat import FrozenClock


async def make_deliveries(count: int, due: datetime, state: DeliveryState = DeliveryState.SCHEDULED) -> list[int]:
    author = await Member.create(name=f"a{uuid.uuid4().hex[:6]}", display_name="a")
    account = await SocialAccount.create(platform="dryrun", handle=f"acc{uuid.uuid4().hex[:6]}")
    posts = await Post.bulk_create(
        [Post(author=author, text=f"p{i}", state=PostState.SCHEDULED.value) for i in range(count)]
    )
    posts = await Post.filter(author=author).order_by("id")
    await Delivery.bulk_create(
        [
            Delivery(post=p, account=account, state=state.value, due_at=due, idempotency_key=uuid.uuid4().hex)
            for p in posts
        ]
    )
    return [d for d in await Delivery.filter(account=account).order_by("id").values_list("id", flat=True)]  # type: ignore[misc]


async def test_only_due_deliveries_are_enqueued(pg_db: str) -> None:
    clock = FrozenClock()
    due = await make_deliveries(3, clock.now() - timedelta(seconds=1))
    later = await make_deliveries(2, clock.now() + timedelta(minutes=5))
    sent: list[int] = []

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        sent.extend(delivery_id for delivery_id, _ in chunk)

    dispatcher = Dispatcher(enqueue, clock=clock, lead=0)
    assert await dispatcher.tick() == 3
    assert sorted(sent) == due
    assert await dispatcher.tick() == 0
    assert await dispatcher.next_due() == clock.now() + timedelta(minutes=5)
    clock.advance(minutes=5)
    assert await dispatcher.tick() == 2
    assert sorted(sent) == sorted(due + later)
    states = set(await Delivery.all().values_list("state", flat=True))
    assert states == {DeliveryState.QUEUED.value}


async def test_concurrent_dispatchers_enqueue_each_delivery_once(pg_db: str) -> None:
    clock = FrozenClock()
    ids = await make_deliveries(600, clock.now() - timedelta(seconds=1))
    sent: list[int] = []

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        await asyncio.sleep(0)  # let the other dispatchers interleave
        sent.extend(delivery_id for delivery_id, _ in chunk)

    dispatchers = [Dispatcher(enqueue, clock=clock, batch=50, lead=0) for _ in range(4)]
    counts = await asyncio.gather(*(d.tick() for d in dispatchers))
    assert sum(counts) == 600
    assert sorted(sent) == ids  # every one, none twice
    assert sum(1 for c in counts if c > 0) >= 2  # they really shared the work


async def test_lost_queue_message_is_sent_again(pg_db: str) -> None:
    clock = FrozenClock()
    [delivery_id] = await make_deliveries(1, clock.now() - timedelta(seconds=1))
    sent: list[int] = []
    fail = True

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        if fail:
            raise ConnectionError("queue down")
        sent.extend(delivery_id for delivery_id, _ in chunk)

    dispatcher = Dispatcher(enqueue, clock=clock, requeue_after=30, lead=0)
    await dispatcher.tick()
    assert sent == []
    assert (await Delivery.get(id=delivery_id)).state == DeliveryState.QUEUED
    fail = False
    clock.advance(seconds=29)
    await dispatcher.tick()
    assert sent == []  # not yet stale
    clock.advance(seconds=2)
    dispatcher._next_housekeeping = 0.0  # don't wait for the wall-clock throttle in a test
    await dispatcher.tick()
    assert sent == [delivery_id]


async def test_run_wakes_up_for_a_post_due_soon(pg_db: str) -> None:
    """With nothing due, the loop sleeps until the next due time (not a fixed poll)."""
    sent: list[tuple[int, datetime]] = []

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        sent.extend((delivery_id, datetime.now(UTC)) for delivery_id, _ in chunk)

    due = datetime.now(UTC) + timedelta(milliseconds=300)
    [delivery_id] = await make_deliveries(1, due)
    stop = asyncio.Event()
    dispatcher = Dispatcher(enqueue, max_sleep=5.0, lead=0)
    runner = asyncio.create_task(dispatcher.run(stop))
    for _ in range(100):
        if sent:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await runner
    assert [d for d, _ in sent] == [delivery_id]
    lateness = (sent[0][1] - due).total_seconds()
    assert 0 <= lateness < 0.25, lateness


async def test_a_burst_goes_out_as_messages_of_several_deliveries_in_due_order(pg_db: str) -> None:
    clock = FrozenClock()
    first = await make_deliveries(40, clock.now() - timedelta(seconds=2))
    second = await make_deliveries(30, clock.now() - timedelta(seconds=1))
    messages: list[list[tuple[int, datetime]]] = []

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        messages.append(chunk)

    assert await Dispatcher(enqueue, clock=clock, lead=0).tick() == 70
    assert all(1 <= len(m) <= CHUNK for m in messages) and len(messages) == -(-70 // CHUNK)
    sent = [item for m in messages for item in m]
    assert sorted(d for d, _ in sent) == sorted(first + second)  # each once
    assert [due for _, due in sent] == sorted(due for _, due in sent)  # the earlier ones travel first
    assert all(due == clock.now() - timedelta(seconds=2) for d, due in sent if d in first)
