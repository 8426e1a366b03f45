"""The dispatcher on PostgreSQL: due deliveries are enqueued once, even with several dispatchers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from models.accounts import SocialAccount
from models.lifecycle import DeliveryState, PostState
from models.members import Member
from models.posts import Delivery, Post
from models.timers import Timer
from tasks.dispatcher import CHUNK, COALESCE, Dispatcher
from tests.auxil.chat import FrozenClock


async def make_deliveries(
    count: int, due: datetime, state: DeliveryState = DeliveryState.SCHEDULED, *, every: timedelta = timedelta(0)
) -> list[int]:
    """``count`` deliveries, the first due at ``due`` and each next one ``every`` later."""
    author = await Member.create(name=f"a{uuid.uuid4().hex[:6]}", display_name="a")
    account = await SocialAccount.create(platform="dryrun", handle=f"acc{uuid.uuid4().hex[:6]}")
    posts = await Post.bulk_create(
        [Post(author=author, text=f"p{i}", state=PostState.SCHEDULED.value) for i in range(count)]
    )
    posts = await Post.filter(author=author).order_by("id")
    await Delivery.bulk_create(
        [
            Delivery(
                post=p, account=account, state=state.value, due_at=due + i * every, idempotency_key=uuid.uuid4().hex
            )
            for i, p in enumerate(posts)
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


async def test_a_wake_up_also_takes_what_comes_due_just_after_with_each_due_time(pg_db: str) -> None:
    clock = FrozenClock()
    lead = timedelta(seconds=0.5)
    step = lead * COALESCE / 4
    ids = await make_deliveries(6, clock.now() + lead, every=step)  # due at lead, lead + ⅕ lead / 4, …
    messages: list[list[tuple[int, datetime]]] = []

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        messages.append(chunk)

    dispatcher = Dispatcher(enqueue, clock=clock, lead=lead.total_seconds())
    assert await dispatcher.tick() == 5  # the one due in `lead` and those within a fifth of it after
    assert messages == [[(d, clock.now() + lead + i * step) for i, d in enumerate(ids[:5])]]  # each its own time
    assert await dispatcher.next_due() == clock.now() + 5 * step  # the sixth, `lead` before it is due


async def test_at_a_steady_rate_the_dispatcher_wakes_for_several_due_times_at_once(pg_db: str) -> None:
    # 40 posts a second, each due at its own instant: it woke up (a handful of statements) for every one
    lead = 0.5
    start = datetime.now(UTC) + timedelta(seconds=lead + 0.2)
    ids = await make_deliveries(40, start, every=timedelta(milliseconds=25))
    dues = dict(zip(ids, (start + i * timedelta(milliseconds=25) for i in range(40)), strict=True))
    sent: list[tuple[int, datetime, datetime]] = []

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        at = datetime.now(UTC)
        sent.extend((delivery_id, due, at) for delivery_id, due in chunk)

    stop = asyncio.Event()
    dispatcher = Dispatcher(enqueue, max_sleep=5.0, lead=lead)
    runner = asyncio.create_task(dispatcher.run(stop))
    for _ in range(300):
        if len(sent) == len(ids):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await runner
    assert sorted(d for d, _, _ in sent) == ids  # each once
    assert all(due == dues[d] for d, due, _ in sent)  # with its own due time: the worker publishes it then
    assert all(at < due for _, due, at in sent)  # handed over before it is due
    wakeups = len({at for _, _, at in sent})
    assert wakeups <= 1 / (lead * COALESCE) + 2, f"{wakeups} wake-ups for a second of due times"


async def test_a_delivery_long_overdue_stored_between_looks_is_missed_not_queued(pg_db: str) -> None:
    # a tick runs the missed-delivery statement only when the last look saw one (or hasn't looked)
    clock = FrozenClock()
    sent: list[int] = []

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        sent.extend(delivery_id for delivery_id, _ in chunk)

    dispatcher = Dispatcher(enqueue, clock=clock, lead=0.5, grace=60)
    await dispatcher.tick()
    assert await dispatcher.next_due() is None
    [overdue] = await make_deliveries(1, clock.now() - timedelta(minutes=5))
    await dispatcher.tick()  # it may not be marked yet, but it must not go to the queue
    assert sent == []
    assert await dispatcher.next_due() is not None  # the next look sees it …
    await dispatcher.tick()  # … and the tick after it marks it
    assert sent == [] and (await Delivery.get(id=overdue)).state == DeliveryState.MISSED


async def test_a_timer_stored_by_another_process_fires_after_the_next_look(pg_db: str) -> None:
    fired: list[int] = []

    async def on_timer(timer: Timer) -> None:
        fired.append(timer.id)

    async def enqueue(chunk: list[tuple[int, datetime]]) -> None:
        return None

    stop = asyncio.Event()
    dispatcher = Dispatcher(enqueue, max_sleep=0.2, lead=0.5, on_timer=on_timer)
    runner = asyncio.create_task(dispatcher.run(stop))
    await asyncio.sleep(0.3)  # it has looked: no timer
    timer = await Timer.create(kind="test", post_id=1, version=1, run_at=datetime.now(UTC) + timedelta(seconds=0.3))
    for _ in range(200):
        if fired:
            break
        await asyncio.sleep(0.01)
    fired_at = datetime.now(UTC)
    stop.set()
    await runner
    assert fired == [timer.id]
    assert fired_at - timer.run_at < timedelta(seconds=0.25), fired_at - timer.run_at
