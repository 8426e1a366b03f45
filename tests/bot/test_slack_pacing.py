"""Slack's pace (~1 message/s per channel) kept by all processes together, in Redis, and the messages about
one post in causal order: the answer to a decision before the report of the publish it let happen.

Each "process" here is its own :class:`RedisPacer` (its own client, its own in-process fallback) on the
real Redis at 127.0.0.1:6379 or the suite's Redis Cluster, under a key prefix of its own test.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import structlog
from redis.asyncio import Redis

from bot.slack.notifier import SlackNotifier, web_client
from bot.slack.pacing import RedisPacer, redis_client
from handlers.messages import Conversation, Reply
from handlers.settings import Settings
from models.lifecycle import PostState
from models.posts import Post
from tests.auxil.processes import free_port
from tests.bot.harness import APPROVALS, GENERAL, harness
from tests.bot.test_slack_reports import PUBLISHED, card_in, drafted, thread
from tests.fakes.slack import FakeSlack
from tests.infra.redis_cluster import RedisClusterProcess

REDIS = Settings(REDIS_HOST="127.0.0.1", REDIS_PORT=6379)  # type: ignore[call-arg]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are removed afterwards."""
    name = f"test:pace:{uuid.uuid4().hex[:10]}:"
    yield name
    client = Redis(host="127.0.0.1", port=6379)
    try:
        keys = [key async for key in client.scan_iter(match=name + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def shared_pacers(settings: Settings, prefix: str, interval: float, count: int = 2) -> list[RedisPacer]:
    return [RedisPacer(lambda: redis_client(settings), interval=interval, prefix=prefix) for _ in range(count)]


async def post_times(pacers: list[RedisPacer], channel: str, rounds: int) -> list[float]:
    """Each pacer in turn takes a slot in ``channel`` ``rounds`` times; when each message could go out."""
    times: list[float] = []

    async def post(pacer: RedisPacer) -> None:
        await pacer.wait(channel)
        times.append(time.monotonic())

    try:
        await asyncio.gather(*(post(pacer) for _ in range(rounds) for pacer in pacers))
    finally:
        for pacer in pacers:
            await pacer.aclose()
    return sorted(times)


async def test_processes_sharing_redis_keep_one_pace_per_channel(prefix: str) -> None:
    times = await post_times(shared_pacers(REDIS, prefix, 0.2), "C1", rounds=3)

    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 6 and min(gaps) >= 0.18  # six messages from two processes, still 0.2 s apart
    assert times[-1] - times[0] >= 0.95


async def test_processes_sharing_the_cluster_keep_one_pace_per_channel(
    prefix: str, cluster: RedisClusterProcess
) -> None:
    settings = Settings(**cluster.env())  # type: ignore[arg-type]
    times = await post_times(shared_pacers(settings, prefix, 0.2), "C1", rounds=2)

    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 4 and min(gaps) >= 0.18


async def test_a_slot_booked_earlier_goes_first_even_when_its_sender_is_late(prefix: str) -> None:
    first, second = shared_pacers(REDIS, prefix, 0.1)
    try:
        early = await first.book("C1")  # booked, then its sender works a while before posting
        later = await second.book("C1")
        taking = asyncio.create_task(second.take(later))
        await asyncio.sleep(0.5)
        waited = not taking.done()
        await first.take(early)
        took_early = time.monotonic()
        await asyncio.wait_for(taking, 2)
        gap = time.monotonic() - took_early
    finally:
        await first.aclose()
        await second.aclose()

    assert waited and gap >= 0.09  # after it, and a full interval after it


async def evals_run() -> int:
    client = Redis(host="127.0.0.1", port=6379)
    try:
        return int((await client.info("commandstats")).get("cmdstat_eval", {}).get("calls", 0))
    finally:
        await client.aclose()


async def test_messages_to_free_channels_cost_one_round_trip_together_and_a_booked_slot_still_holds_them(
    prefix: str,
) -> None:
    web, worker = shared_pacers(REDIS, prefix, 0.2)
    try:
        await worker.wait("C1")  # connects (the first call of a client)
        await asyncio.sleep(0.25)
        before = await evals_run()
        await worker.wait("C1")  # free again: booked and taken at once
        one = await evals_run() - before
        before = await evals_run()
        await asyncio.gather(*(worker.wait(f"C{n}") for n in range(2, 42)))  # a burst of reports
        burst = await evals_run() - before
        booked = await web.book("C1")  # the answer to a click, booked before its commit
        reporting = asyncio.create_task(worker.wait("C1"))  # the report of what the click caused
        await asyncio.sleep(0.5)
        held = not reporting.done()
        await web.take(booked)
        answered = time.monotonic()
        await asyncio.wait_for(reporting, 2)
        after = time.monotonic() - answered
    finally:
        await web.aclose()
        await worker.aclose()

    assert one == 1  # one EVAL: booked and taken together
    assert burst <= 2  # forty free channels asked together: one or two calls for them all
    assert held and after >= 0.18  # the report waited for the booked answer, then a full interval


async def test_a_released_slot_leaves_no_gap(prefix: str) -> None:
    first, second = shared_pacers(REDIS, prefix, 10.0)
    try:
        unused = await first.book("C1")
        kept = await second.book("C1")  # estimated ten seconds after the first
        await first.release(unused)
        after = await second.book("C1")  # estimated after the slot still held, not after the released one
        await second.release(kept)
        await second.release(after)
        alone = await first.book("C1")  # nothing held any more: now
    finally:
        await first.aclose()
        await second.aclose()

    now = time.monotonic()
    assert 9 < kept.due - now <= 10 and 9 < after.due - kept.due < 11 and alone.due - now < 1


async def test_without_redis_the_pace_is_kept_in_the_process_and_said_once() -> None:
    down = Settings(REDIS_HOST="127.0.0.1", REDIS_PORT=free_port())  # type: ignore[call-arg]
    (pacer,) = shared_pacers(down, "unused:", 0.1, count=1)
    with structlog.testing.capture_logs() as logs:
        began = time.monotonic()
        for _ in range(3):
            await pacer.wait("C1")
        took = time.monotonic() - began
    await pacer.aclose()

    assert 0.18 <= took < 1.5
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["slack.pacing_in_process"]


@pytest.mark.usefixtures("pg_db")
async def test_the_answer_to_a_decision_comes_before_the_report_of_what_it_caused(fake: FakeSlack, prefix: str) -> None:
    """bob approves; the moment the decision is committed a worker (another process: its own notifier and
    pacer on the same Redis) publishes and reports. The web process's messages wait for their threads' next
    slots (the cards were posted just before), yet they were booked before the commit: they come first."""
    web_pacer, worker_pacer = shared_pacers(REDIS, prefix, 1.0)
    worker = SlackNotifier(web_client(fake.bot_token, fake.base_url), pacer=worker_pacer)

    async def publish_when_approved(origin: Conversation) -> None:
        while True:  # a worker picks the delivery up as soon as the decision is committed
            if (await Post.get(id=1)).state == PostState.SCHEDULED:
                break
            await asyncio.sleep(0.002)
        await worker.notify(origin, Reply(text=PUBLISHED.text, post_id=1, kind="report"))

    async with harness(fake, pacer=web_pacer) as h:
        origin = await drafted(h)
        card = card_in(h, APPROVALS)
        publishing = asyncio.create_task(publish_when_approved(origin))
        await h.click(card, "Approve", as_="bob")
        await asyncio.wait_for(publishing, 10)
        await h.settle()
        await worker.aclose()

    # where bob clicked (the answer to his click) and where alice drafted (the core's notice to her)
    for channel in (APPROVALS, GENERAL):
        decision, report = thread(fake, card_in(h, channel))
        assert "approved by <@U0BOB00001>" in decision and report == PUBLISHED.text, channel
