"""Telegram's flood limits (1 message/s per chat, 20/min per group, 30/s per bot, and a 429's retry_after)
kept by all processes together, in Redis.

Each "process" here is its own :class:`RedisChatPacer` (its own client, its own in-process fallback) on the
real Redis at 127.0.0.1:6379 or the suite's Redis Cluster, under a key prefix of its own test. The budgets
are scaled down where waiting them out at Telegram's size would take minutes; Telegram's own are checked
on a clock of the test's (in the process) and, where they take a second, in Redis.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta

import pytest
import structlog
from redis.asyncio import Redis
from telegram import Bot
from telegram.error import RetryAfter

from bot.pacing import HOLD, POLL, Slot
from bot.telegram.pacing import (
    TELEGRAM,
    Budgets,
    ChatPacer,
    RedisChatPacer,
    for_settings,
    redis_client,
    retry_after,
    shared,
)
from handlers.settings import Settings
from tests.auxil.processes import free_port
from tests.fakes.telegram import BOT_TOKEN, FakeTelegram
from tests.infra.redis_cluster import RedisClusterProcess

REDIS = Settings(REDIS_HOST="127.0.0.1", REDIS_PORT=6379)  # type: ignore[call-arg]
SLACK_TIME = 0.03  # seconds between Redis's clock counting a message and the test seeing it go


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are removed afterwards."""
    name = f"test:tgpace:{uuid.uuid4().hex[:10]}:"
    yield name
    client = Redis(host="127.0.0.1", port=6379)
    try:
        keys = [key async for key in client.scan_iter(match=name + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def processes(settings: Settings, prefix: str, budgets: Budgets, count: int = 3) -> list[RedisChatPacer]:
    """``count`` processes' pacers. A slow answer (a loaded test machine) must not look like Redis being
    down: that would pace in each process alone (see the last tests for that), not what is tested here."""
    return [
        RedisChatPacer(lambda: redis_client(settings, timeout=5.0), budgets=budgets, prefix=prefix, timeout=5.0)
        for _ in range(count)
    ]


async def sent_at(pacers: list[RedisChatPacer], messages: list[tuple[int, bool]]) -> list[float]:
    """The messages (chat, is_group) sent at once, in turn from each pacer; when each could go, in order.

    The times are when the test saw each go: as late as Redis's count of it (``SLACK_TIME``) or later."""
    times: list[float] = []

    async def send(pacer: RedisChatPacer, chat: int, group: bool) -> None:
        await pacer.wait(chat, group)
        times.append(time.monotonic())

    try:
        for pacer in pacers:  # connected first: a client's first answer (a cluster's slot map) comes late
            await pacer.redis.eval("return 1", [f"{pacer.prefix}{{pace}}::hello"])
        await asyncio.gather(
            *(send(pacer, chat, group) for (chat, group), pacer in zip(messages, itertools.cycle(pacers)))
        )
    finally:
        for pacer in pacers:
            await pacer.aclose()
    return sorted(times)


def most_in_any_window(times: list[float], window: float) -> int:
    """The most messages seen within any ``window`` seconds (less the slack of observing them)."""
    return max(sum(1 for t in times[i:] if t - start < window - SLACK_TIME) for i, start in enumerate(times))


# -- Telegram's own budgets, on a clock of the test's ---------------------------------------------------------


def test_the_budgets_are_telegrams_flood_limits() -> None:
    assert (TELEGRAM.chat_interval, TELEGRAM.group_count, TELEGRAM.group_window) == (1.0, 20, 60.0)
    assert (TELEGRAM.bot_count, TELEGRAM.bot_window) == (30, 1.0)
    assert ChatPacer().budgets == RedisChatPacer(lambda: redis_client(REDIS)).budgets == TELEGRAM
    assert shared().budgets == TELEGRAM and for_settings(REDIS).budgets == TELEGRAM
    assert for_settings(REDIS) is for_settings(REDIS)  # one per process and Redis
    assert isinstance(for_settings(Settings()), ChatPacer)  # type: ignore[call-arg]  # no Redis: in the process


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_message_a_second_in_a_chat() -> None:
    clock = Clock()
    pacer = ChatPacer(clock=clock)

    assert [pacer.reserve(1), pacer.reserve(1), pacer.reserve(2), pacer.reserve(1)] == [0.0, 1.0, 0.0, 2.0]
    assert pacer.claim(3) == 0.0 and pacer.claim(3) == 1.0  # without a slot: since its last message


def test_twenty_messages_a_minute_in_a_group_and_no_window_for_a_private_chat() -> None:
    clock = Clock()
    pacer = ChatPacer(clock=clock)

    waits = []
    for _ in range(21):
        waits.append(pacer.claim(-100, group=True))
        clock.now += 1.0
    twenty_first = pacer.claim(-100, group=True)  # at 21 s: the first leaves the window at 60 s
    private = [pacer.claim(7)]
    clock.now += 1.0
    private.append(pacer.claim(7))
    clock.now = 1000.0 + 60.0
    after_a_minute = pacer.claim(-100, group=True)

    assert waits[:20] == [0.0] * 20 and waits[20] == pytest.approx(40.0)  # the 21st in 20 s waits 40 s more
    assert twenty_first == pytest.approx(39.0)
    assert private == [0.0, 0.0]  # not a group: one a second is all
    assert after_a_minute == 0.0


def test_thirty_messages_a_second_overall() -> None:
    clock = Clock()
    pacer = ChatPacer(clock=clock)

    first = [pacer.claim(chat) for chat in range(30)]
    thirty_first = pacer.claim(30)
    clock.now += 0.5
    half_a_second_later = pacer.claim(31)
    clock.now += 0.5
    a_second_later = pacer.claim(31)

    assert first == [0.0] * 30
    assert thirty_first == pytest.approx(1.0) and half_a_second_later == pytest.approx(0.5)
    assert a_second_later == 0.0


def test_retry_after_holds_the_chat_or_the_bot_and_slots_booked_before_it() -> None:
    clock = Clock()
    pacer = ChatPacer(clock=clock)

    booked = pacer.reserve(1)
    pacer.block(1, 5)
    chat_held = pacer.claim(1, slot_id="1"), pacer.claim(2)
    pacer.block(None, timedelta(seconds=3))
    bot_held = pacer.claim(3), pacer.reserve(4)
    clock.now += 5.0

    assert booked == 0.0 and chat_held == pytest.approx((5.0, 0.0))
    assert bot_held == pytest.approx((3.0, 3.0))
    assert pacer.claim(1, slot_id="1") == 0.0


def test_a_slot_held_up_by_a_penalty_keeps_its_place_longer_than_hold() -> None:
    """Its sender was told to wait 30 s: it isn't dead at HOLD s, and the slot booked after it waits."""
    clock = Clock()
    pacer = ChatPacer(clock=clock)
    first, second = pacer._reserve(-100, True)[1], pacer._reserve(-100, True)[1]

    pacer.block(-100, 30)
    told = pacer.claim(-100, True, first)
    looks = []
    while clock.now < 1000.0 + 30.0 + HOLD / 2:  # the second's sender looks every POLL s meanwhile
        looks.append(pacer.claim(-100, True, second))
        clock.now += POLL
    first_goes = pacer.claim(-100, True, first)
    second_after = pacer.claim(-100, True, second)

    assert told == pytest.approx(30.0) and set(looks) == {POLL}
    assert first_goes == 0.0 and second_after == pytest.approx(1.0)


# -- in Redis, several processes ------------------------------------------------------------------------------


async def test_processes_sharing_redis_keep_one_pace_per_chat(prefix: str) -> None:
    pacers = processes(REDIS, prefix, Budgets(chat_interval=0.2, bot_count=30, bot_window=1.0))
    times = await sent_at(pacers, [(1, False)] * 6)

    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 6 and min(gaps) >= 0.2 - SLACK_TIME  # six messages from three processes
    assert times[-1] - times[0] >= 1.0 - SLACK_TIME


async def test_a_group_never_gets_more_than_its_count_in_any_window(prefix: str) -> None:
    budgets = Budgets(chat_interval=0.01, group_count=5, group_window=0.6, bot_count=30, bot_window=1.0)
    group = await sent_at(processes(REDIS, prefix, budgets), [(-100, True)] * 12)

    assert len(group) == 12 and most_in_any_window(group, 0.6) == 5
    assert group[-1] - group[0] >= 2 * 0.6 - SLACK_TIME  # twelve messages: three windows


async def test_the_bot_never_sends_more_than_its_count_in_any_window_across_processes(prefix: str) -> None:
    budgets = Budgets(chat_interval=0.5, bot_count=10, bot_window=0.4)
    times = await sent_at(processes(REDIS, prefix, budgets), [(chat, False) for chat in range(35)])

    assert len(times) == 35
    assert most_in_any_window(times, 0.4) == 10
    assert times[-1] - times[0] >= 3 * 0.4 - SLACK_TIME  # 35 messages to free chats: four windows


async def test_telegrams_own_budgets_in_redis(prefix: str) -> None:
    """At Telegram's size: 31 messages to 31 chats from two processes (the 31st waits for the second after
    the first), and two to one chat a second apart."""
    web, worker = processes(REDIS, prefix, TELEGRAM, count=2)
    try:
        began = time.monotonic()
        times = await sent_at([web, worker], [(chat, False) for chat in range(31)])
        web, worker = processes(REDIS, prefix, TELEGRAM, count=2)
        one_chat = await sent_at([web, worker], [(1_000, False), (1_000, False)])
    finally:
        await web.aclose()
        await worker.aclose()

    assert times[29] - began < 0.5 and times[30] - times[0] >= 1.0 - SLACK_TIME
    assert one_chat[1] - one_chat[0] >= 1.0 - SLACK_TIME


async def test_retry_after_is_honoured_by_every_process(prefix: str) -> None:
    flooded, other = processes(REDIS, prefix, Budgets(chat_interval=0.05, bot_count=30, bot_window=1.0), count=2)

    async def took(send: Awaitable[None]) -> float:
        began = time.monotonic()
        await send
        return time.monotonic() - began

    try:
        booked = await other.book(1)  # booked before the 429: held too
        await flooded.penalize(1, 0.5)  # Telegram said retry_after to the first process
        held, free = await asyncio.gather(took(other.take(booked)), took(other.wait(2)))
        await flooded.penalize(None, timedelta(milliseconds=400))  # a flood of the whole bot
        bot_held = await took(other.wait(3))
        began = time.monotonic()
        async with other.slot(1):  # both penalties are over
            after = time.monotonic() - began
    finally:
        await flooded.aclose()
        await other.aclose()

    assert held >= 0.5 - SLACK_TIME and free < 0.2
    assert bot_held >= 0.4 - SLACK_TIME
    assert after < 0.2


async def test_a_slot_booked_earlier_goes_first_even_when_a_penalty_holds_both(prefix: str) -> None:
    first, second = processes(REDIS, prefix, Budgets(chat_interval=0.1, group_count=20, group_window=60.0), 2)
    order: list[str] = []

    async def send(name: str, pacer: RedisChatPacer, slot: Slot, after: float) -> None:
        await asyncio.sleep(after)
        await pacer.take(slot)
        order.append(name)

    try:
        early = await first.book(-100, True)
        late = await second.book(-100, True)
        await second.penalize(-100, 0.4)  # both wait for it; the early one's sender comes late, at 0.6 s
        await asyncio.gather(send("late", second, late, 0.0), send("early", first, early, 0.6))
    finally:
        await first.aclose()
        await second.aclose()

    assert order == ["early", "late"]


async def test_a_released_slot_leaves_no_gap(prefix: str) -> None:
    first, second = processes(REDIS, prefix, Budgets(chat_interval=10.0), count=2)
    try:
        unused = await first.book(1)
        kept = await second.book(1)  # estimated ten seconds after the first
        await first.release(unused)
        await second.release(kept)
        alone = await first.book(1)  # nothing held any more: now
    finally:
        await first.aclose()
        await second.aclose()

    now = time.monotonic()
    assert 9 < kept.due - now <= 10 and alone.due - now < 1


async def test_processes_sharing_the_cluster_keep_every_budget(prefix: str, cluster: RedisClusterProcess) -> None:
    settings = Settings(**cluster.env())  # type: ignore[arg-type]
    budgets = Budgets(chat_interval=0.1, group_count=3, group_window=0.5, bot_count=30, bot_window=1.0)
    times = await sent_at(processes(settings, prefix, budgets), [(-100, True)] * 7)
    flooded, other = processes(settings, prefix, budgets, count=2)
    try:
        await flooded.penalize(5, 0.3)
        began = time.monotonic()
        await other.wait(5)
        held = time.monotonic() - began
    finally:
        await flooded.aclose()
        await other.aclose()

    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.1 - SLACK_TIME and most_in_any_window(times, 0.5) == 3
    assert held >= 0.3 - SLACK_TIME


async def test_without_redis_the_budgets_are_kept_in_the_process_and_said_once() -> None:
    down = Settings(REDIS_HOST="127.0.0.1", REDIS_PORT=free_port())  # type: ignore[call-arg]
    budgets = Budgets(chat_interval=0.1, group_count=3, group_window=0.5, bot_count=30, bot_window=1.0)
    (pacer,) = processes(down, "unused:", budgets, count=1)
    with structlog.testing.capture_logs() as logs:
        began = time.monotonic()
        for _ in range(3):
            await pacer.wait(1)
        chat = time.monotonic() - began
        began = time.monotonic()
        for _ in range(4):
            await pacer.wait(-100, True)
        group = time.monotonic() - began
        await pacer.penalize(2, 0.3)
        began = time.monotonic()
        await pacer.wait(2)
        penalized = time.monotonic() - began
    await pacer.aclose()

    assert 0.2 - SLACK_TIME <= chat < 1.5
    assert group >= 0.5 - SLACK_TIME  # the fourth in the group waits for the first to leave the window
    assert penalized >= 0.3 - SLACK_TIME
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["telegram.pacing_in_process"]


async def test_a_slot_waiting_out_a_penalty_keeps_its_place_longer_than_hold(prefix: str) -> None:
    """The first sender was told to come back in 0.8 s (a penalty) and comes at 0.9 s: more than ``hold``
    after its slot's time, yet within ``hold`` of when it was told to look again, so it still goes first."""
    budgets = Budgets(chat_interval=0.05, group_count=20, group_window=60.0)
    first, second = (
        RedisChatPacer(lambda: redis_client(REDIS, timeout=5.0), budgets=budgets, prefix=prefix, timeout=5.0, hold=0.3)
        for _ in range(2)
    )
    order: list[str] = []

    async def look_once_then_come_late(slot: Slot) -> None:
        slot.used = True
        told = await first._claim(slot)  # one look: told to wait for the penalty
        await asyncio.sleep(told + 0.1)
        await first.take(slot)
        order.append("early")

    async def take(slot: Slot) -> None:
        await second.take(slot)
        order.append("late")

    try:
        early = await first.book(-100, True)
        late = await second.book(-100, True)
        await second.penalize(-100, 0.8)
        await asyncio.gather(look_once_then_come_late(early), take(late))
    finally:
        await first.aclose()
        await second.aclose()

    assert order == ["early", "late"]


async def test_a_429_from_the_bot_api_holds_the_chat_for_every_process(prefix: str) -> None:
    """python-telegram-bot against the fake Bot API: the first process's send is answered 429 with
    ``retry_after`` 1 inside ``pacer.slot``; the chat waits a second in the other process too, the rest
    of the bot doesn't."""
    budgets = Budgets(chat_interval=0.05, group_count=20, group_window=60.0, bot_count=30, bot_window=1.0)
    web, worker = processes(REDIS, prefix, budgets, count=2)
    with FakeTelegram() as fake:
        group = fake.add_channel("approvals", "Approvals", kind="supergroup")
        other = fake.add_channel("news", "News", kind="supergroup")
        fake.fail("sendMessage", "rate_limit", retry_after=1)
        bot = Bot(BOT_TOKEN, base_url=f"{fake.url}/bot")
        try:
            async with bot:
                with pytest.raises(RetryAfter) as flood:
                    async with web.slot(group, is_group=True):
                        await bot.send_message(group, "Approved by bob")
                failed = time.monotonic()
                async with worker.slot(other, is_group=True):
                    await bot.send_message(other, "Published")
                elsewhere = time.monotonic() - failed
                async with worker.slot(group, is_group=True):
                    await bot.send_message(group, "Published")
                again = time.monotonic() - failed
        finally:
            await web.aclose()
            await worker.aclose()

    assert retry_after(flood.value) == 1.0
    assert elsewhere < 0.5 and again >= 1.0 - SLACK_TIME
    assert [(m.chat_id, m.text) for m in fake.messages] == [(other, "Published"), (group, "Published")]
